"""An output folder of detections: one Raven table per recording, ``events.csv``, ``gaps.csv``.

:func:`detect_files` detects every audio file of its inputs into one folder, as
:func:`whalelab.detection.detect_recording` detects one file (the windows of
consecutive files share batches, which changes no file's events).

An output folder says what made it: ``OUT/detection.json`` holds the model file and its
SHA-256, the detection settings and whalelab's version. A rerun with the same model and
settings resumes; with others it is refused unless ``overwrite``. A lock file
(``OUT/.whalelab-detect.lock``, holding the process id) keeps two runs from writing
into one folder at once; a lock whose process has ended is taken over with a warning.

Bad files: an audio file that cannot be read raises :class:`whalelab.errors.AudioError`
naming it; with ``on_error="skip"`` it is reported as a warning and skipped instead,
and the number of skipped files is reported at the end (a later run tries them again).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

import whalelab
from whalelab.atomic import atomic_write, write_json
from whalelab.audio import audio_info, is_audio_file
from whalelab.checkpoint import TrainedModel, checkpoint_sha256, load_model
from whalelab.config import DetectConfig
from whalelab.detection.recording import recording_events
from whalelab.detection.streaming import MIN_GAP_S, default_workers, hop_frames, score_recordings
from whalelab.detection.traces import detection_score, gapped_traces
from whalelab.errors import AudioError, ConfigError, DataError, OnError, WhaleLabError
from whalelab.export import check_engine, onnx_model
from whalelab.raven import read_raven, write_raven
from whalelab.runtime import progress_bar, resolve_device

TABLE_SUFFIX = ".selections.txt"
#: columns of ``events.csv``
COMBINED_COLUMNS = ["file", "begin_s", "end_s", "low_hz", "high_hz", "label", "score",
                    "begin_file"]
#: columns of ``gaps.csv``; each recording's own gaps are in ``OUT/<stem>.gaps.csv``
GAP_COLUMNS = ["file", "begin_s", "end_s", "kind"]
GAPS_SUFFIX = ".gaps.csv"
#: what an output folder was made with, and the lock held while detecting into it
RECORD_NAME, LOCK_NAME = "detection.json", ".whalelab-detect.lock"
#: what a setting recorded in ``detection.json`` was before whalelab recorded it
RECORD_DEFAULTS = {"engine": "torch"}


def _jobs(inputs: Sequence[str | Path], out: Path) -> list[tuple[Path, Path]]:
    """``(audio, table)`` for every input file and every audio file under an input folder.

    Files inside a folder keep their relative subfolder under ``out``.
    """
    jobs: dict[Path, Path] = {}  # table -> audio
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(path for path in item.rglob("*") if is_audio_file(path)
                           and not path.name.startswith("."))
            if not found:
                raise DataError(f"{item}: the folder holds no audio files")
            pairs = [(path, out / path.relative_to(item).parent / (path.stem + TABLE_SUFFIX))
                     for path in found]
        elif item.is_file():
            pairs = [(item, out / (item.stem + TABLE_SUFFIX))]
        else:
            raise AudioError(f"{item}: no such audio file or folder")
        for audio, table in pairs:
            other = jobs.setdefault(table, audio)
            if other.resolve() != audio.resolve():
                raise DataError(f"{audio} and {other} would both write {table}; "
                                f"rename one or detect them into different --out folders")
    return [(audio, table) for table, audio in jobs.items()]


def _pending(jobs: list[tuple[Path, Path]], failures: OnError) -> dict[Path, tuple[Path, float]]:
    """``{audio: (table, seconds)}`` of the jobs whose table is not written yet."""
    pending = {}
    for audio, table in jobs:
        if table.is_file():
            continue
        try:
            pending[audio] = (table, audio_info(audio).duration)
        except AudioError as error:
            failures.fail(error)
    return pending


def _gaps_file(table: Path) -> Path:
    """Where the gaps of the recording whose Raven table is ``table`` are kept."""
    return table.with_name(table.name[:-len(TABLE_SUFFIX)] + GAPS_SUFFIX)


def _write_combined(tables: list[pd.DataFrame], path: Path, columns: list[str]) -> pd.DataFrame:
    """``tables`` as one table of ``columns``, written atomically to ``path`` as CSV."""
    tables = [table for table in tables if len(table)]
    combined = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    atomic_write(path, lambda temporary: combined.to_csv(temporary, index=False))
    return combined


def _combined_events(jobs: list[tuple[Path, Path]], out: Path) -> pd.DataFrame:
    """Every written table's events with a ``file`` column, saved as ``OUT/events.csv``;
    the gaps of the same recordings go to ``OUT/gaps.csv``."""
    finished = [(audio, table) for audio, table in jobs if table.is_file()]
    _write_combined([pd.read_csv(_gaps_file(table)).assign(file=str(audio))[GAP_COLUMNS]
                     for audio, table in finished if _gaps_file(table).is_file()],
                    out / "gaps.csv", GAP_COLUMNS)
    return _write_combined([read_raven(table).assign(file=str(audio))
                            .reindex(columns=COMBINED_COLUMNS) for audio, table in finished],
                           out / "events.csv", COMBINED_COLUMNS)


def gap_summary(out: str | Path) -> str:
    """One line on the gaps listed in ``OUT/gaps.csv`` (written by :func:`detect_files`)."""
    path = Path(out) / "gaps.csv"
    gaps = pd.read_csv(path)
    return (f"{len(gaps)} gap(s), {(gaps.end_s - gaps.begin_s).sum():.1f} s of silence or flat "
            f"signal in {gaps.file.nunique()} file(s); see {path}")


def _process_alive(pid: int) -> bool:
    """Whether a process ``pid`` is running (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``OUT/.whalelab-detect.lock`` (holding this process's id) while the block runs.

    A lock held by a running process is a :class:`WhaleLabError`; one whose process has
    ended is taken over with a warning.
    """
    out.mkdir(parents=True, exist_ok=True)
    lock = out / LOCK_NAME
    for attempt in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip())
            except (OSError, ValueError):
                pid = 0
            if attempt or _process_alive(pid):
                raise WhaleLabError(
                    f"{out}: another detection (process {pid}) is writing into this folder; "
                    f"wait for it to end or detect into another folder (if no such run is "
                    f"going, remove {lock})") from None
            warnings.warn(f"{lock}: process {pid} that held it has ended; taking the lock over",
                          stacklevel=4)
            lock.unlink(missing_ok=True)
    try:
        os.write(handle, str(os.getpid()).encode())
        os.close(handle)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _claim(out: Path, record: dict[str, Any], jobs: list[tuple[Path, Path]], *,
           overwrite: bool) -> None:
    """Make ``out`` a folder of detections made as ``record`` says, then write ``record``.

    A folder whose ``detection.json`` names another model checksum or other settings,
    or that holds detection outputs without one, is refused unless ``overwrite``, which
    removes every Raven table, gaps file, ``events.csv``, ``gaps.csv`` and
    ``detection.json`` under it first.
    """
    path = out / RECORD_NAME
    outputs = [out / "events.csv", out / "gaps.csv", *(table for _, table in jobs)]
    if overwrite:
        removed = [*out.rglob(f"*{TABLE_SUFFIX}"), *out.rglob(f"*{GAPS_SUFFIX}"), *outputs[:2],
                   path]
        for old in removed:
            old.unlink(missing_ok=True)
    elif path.is_file():
        try:
            earlier = json.loads(path.read_text())
            differences = [f"model checksum {earlier['model_sha256']} -> {record['model_sha256']}"
                           ] if earlier["model_sha256"] != record["model_sha256"] else []
            differences += [f"{name} {earlier['settings'].get(name)!r} -> {value!r}"
                            for name, value in record["settings"].items()
                            if earlier["settings"].get(name, RECORD_DEFAULTS.get(name, "unset"))
                            != value]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            differences = [f"{path} is unreadable ({type(error).__name__}: {error})"]
        if differences:
            raise ConfigError(f"{out}: holds detections made with another model or other "
                              f"settings ({'; '.join(differences)}); detect into another "
                              f"folder, or replace them with --overwrite (overwrite=True)")
    elif any(output.is_file() for output in outputs):
        raise ConfigError(f"{out}: holds detections without a {RECORD_NAME} saying what made "
                          f"them; detect into another folder, or replace them with --overwrite "
                          f"(overwrite=True, which deletes every *{TABLE_SUFFIX} under it)")
    write_json(path, record)


def detect_files(model: str | Path | TrainedModel, inputs: Sequence[str | Path],
                 out: str | Path, *, settings: DetectConfig | None = None,
                 batch_size: int = 32, device: str = "auto", engine: str = "torch",
                 workers: int | None = None, channel: int | None = None,
                 on_error: str = "raise", overwrite: bool = False,
                 progress: bool | None = None) -> pd.DataFrame:
    """Detect calls in recordings; one Raven table per file and a combined ``events.csv``.

    Parameters
    ----------
    model : path or TrainedModel
        A trained run folder, a model file (``RUN/best.pt``), or such a model already
        loaded (:func:`whalelab.checkpoint.load_model`).
    inputs : sequence of paths
        Audio files and folders (searched recursively for audio files).
    out : path
        Output folder: ``OUT/<stem>.selections.txt`` per file (a folder input's
        subfolders are kept), ``OUT/events.csv`` with a ``file`` column, ``OUT/gaps.csv``
        (``file, begin_s, end_s, kind``: each recording's runs of silence or flat signal,
        which hold no event; also ``OUT/<stem>.gaps.csv`` per recording with gaps) and
        ``OUT/detection.json`` (the model file and its SHA-256, the settings, whalelab's
        version). A file whose table already exists is skipped, so an interrupted run
        resumes where it stopped; a folder made with another model or other settings is
        refused. ``OUT/.whalelab-detect.lock`` is held while detecting.
    settings : DetectConfig or None
        Detection settings; None: the run's own (``config.json``'s ``detect``).
    batch_size, channel
        As in :func:`whalelab.detection.detect_recording`.
    device : str
        ``auto``, ``cpu`` or ``cuda``: where a model given as a path is loaded.
    workers : int or None
        Threads that read (decode, resample, cut into windows) the next recordings while
        the current one is scored; windows of consecutive recordings share batches, so
        the model never waits on one file's tail, and each file's events are those of
        detecting it alone. None: :func:`whalelab.detection.streaming.default_workers`.
        Memory grows by one read block and two batches of windows per worker.
    engine : {"torch", "onnx"}
        Run the model on PyTorch, or its ONNX export on ONNX Runtime (CPU only; exported
        first where missing or stale: :func:`whalelab.export.onnx_model`). The settings
        recorded in ``detection.json`` include it.
    on_error : {"raise", "skip"}
        What an unreadable audio file does: stop with an :class:`AudioError` naming it,
        or warn, skip it and report how many were skipped.
    overwrite : bool
        Delete the detections already in ``out`` (every Raven table and gaps file under
        it, ``events.csv``, ``gaps.csv``, ``detection.json``) and start again.
    progress : bool or None
        Progress bar in audio hours with the speed as a multiple of real time.

    Returns
    -------
    pandas.DataFrame
        Every event of every finished file: ``file, begin_s, end_s, low_hz, high_hz,
        label, score, begin_file`` (the contents of ``events.csv``).

    Raises
    ------
    ConfigError
        ``out`` holds detections made with another model or other settings.
    WhaleLabError
        Another running detection holds ``out``'s lock.
    """
    failures = OnError(on_error)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if not inputs:
        raise DataError("no audio files or folders given to detect in")
    out = Path(out)
    jobs = _jobs(inputs, out)
    check_engine(engine, model.device if isinstance(model, TrainedModel)
                 else resolve_device(device))
    trained = model if isinstance(model, TrainedModel) else load_model(model, device=device)
    if engine == "onnx":
        trained = dataclasses.replace(trained, model=onnx_model(trained))
    settings = trained.config.detect if settings is None else settings
    hop = hop_frames(trained.config, settings.hop_s)  # bad settings fail before any file is read
    record = {"model": str(Path(trained.source).resolve()),
              "model_sha256": checkpoint_sha256(trained.source),
              "settings": {**dataclasses.asdict(settings),
                           "window_hop_s": hop / trained.config.features.frames_per_second,
                           "batch_size": batch_size, "channel": channel, "min_gap_s": MIN_GAP_S,
                           "engine": engine},
              "whalelab_version": whalelab.__version__}
    with _locked(out):
        _claim(out, record, jobs, overwrite=overwrite)
        _detect_pending(trained, _pending(jobs, failures), failures, settings=settings,
                        batch_size=batch_size, channel=channel,
                        workers=default_workers(trained.device) if workers is None else workers,
                        progress=progress)
        failures.summary(total=len(jobs))
        return _combined_events(jobs, out)


def _speed_bar(total_hours: float, progress: bool | None) -> tqdm:
    return progress_bar(total=total_hours, progress=progress, desc="detect", unit="h",
                        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} h audio [{elapsed}<"
                                   "{remaining}{postfix}]")


def _detect_pending(trained: TrainedModel, pending: dict[Path, tuple[Path, float]],
                    failures: OnError, *, settings: DetectConfig, batch_size: int,
                    channel: int | None, workers: int, progress: bool | None) -> None:
    """Detect the pending recordings, their windows sharing batches
    (:func:`whalelab.detection.streaming.score_recordings`, ``workers`` reading ahead);
    as each is finished, find its events as :func:`whalelab.detection.detect_recording`
    does, and write its gaps file (when it has gaps), then its table."""
    config = trained.config
    began, seconds = time.perf_counter(), 0.0
    with _speed_bar(sum(duration for _, duration in pending.values()) / 3600, progress) as bar:
        def advance(done: float) -> None:
            nonlocal seconds
            seconds += done
            bar.update(done / 3600)
            bar.set_postfix_str(f"{seconds / max(time.perf_counter() - began, 1e-9):.0f}x "
                                f"real time", refresh=False)

        scored = score_recordings(
            detection_score(trained.model, config, trained.bands, gate=settings.gate),
            list(pending), config=config, hop=hop_frames(config, settings.hop_s),
            width=2 * len(config.classes), channel=channel, batch_size=batch_size,
            device=trained.device, workers=workers, advance=advance)
        for audio, recording in scored:
            if isinstance(recording, AudioError):
                failures.fail(recording)
                continue
            traces = gapped_traces(recording, config)
            events = recording_events(traces, config, bands=trained.bands, settings=settings)
            table = pending[audio][0]
            if len(traces.gaps):
                atomic_write(_gaps_file(table),
                             lambda temporary: traces.gaps.to_csv(temporary, index=False))
            else:
                _gaps_file(table).unlink(missing_ok=True)
            write_raven(events.assign(begin_file=audio.name), table)
