"""An output folder of detections: one Raven table per recording, ``events.csv``, ``gaps.csv``.

:func:`detect_files` detects every audio file of its inputs into one folder, as
:func:`whalelab.detection.detect_recording` detects one file (the windows of
consecutive files share batches, which changes no file's events).

An output folder says what made it and what whalelab wrote in it: ``OUT/detection.json``
holds the model file and its SHA-256, the detection settings, whalelab's version, and
``tables``: each Raven table whalelab wrote (its path relative to ``OUT``), with the
recording it was detected from (the path given, the resolved path, size and
modification time). A table's gaps file (``<stem>.gaps.csv`` beside it), ``events.csv``
and ``gaps.csv`` are whalelab's too. whalelab deletes or overwrites nothing else:

- a folder that holds files but no ``detection.json`` is refused unless ``force``, and
  even then no file already there is written over;
- a rerun with the same model and settings resumes (a recording that changed since its
  table was written is detected again); with others it is refused unless
  ``overwrite``, which deletes only the files ``detection.json`` lists;
- ``events.csv`` and ``gaps.csv`` are rebuilt from every table listed, those of earlier
  calls into the folder included.

A table's path is its recording's path relative to the input folder, under that folder's
own name (``detect RQ dayA dayB --out O`` writes ``O/dayA/rec.selections.txt`` and
``O/dayB/rec.selections.txt``); a file given alone writes ``O/<stem>.selections.txt``.
A table listed as detected from another recording is never reused for this one.

A lock file (``OUT/.whalelab-detect.lock``, holding the process id) keeps two runs from
writing into one folder at once; a lock whose process has ended is taken over with a
warning.

Bad files: an audio file that cannot be read (or whose name holds a tab or a line
break, which a Raven table cannot hold) raises :class:`whalelab.errors.AudioError`
naming it; with ``on_error="skip"`` it is reported as a warning and skipped instead,
and the number of skipped files is reported at the end (a later run tries them again).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import posixpath
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import whalelab
from whalelab.atomic import atomic_write, output_folder, storage_error, write_json
from whalelab.audio import (AudioSource, audio_info, audio_source, input_audio_files,
                            recording_record)
from whalelab.checkpoint import TrainedModel, checkpoint_sha256, load_model
from whalelab.config import DetectConfig
from whalelab.detection.recording import recording_events
from whalelab.detection.streaming import MIN_GAP_S, default_workers, hop_frames, score_recordings
from whalelab.detection.traces import detection_score, gapped_traces
from whalelab.errors import (AudioError, ConfigError, DataError, OnError, StorageError,
                             WhaleLabError)
from whalelab.export import check_engine, onnx_model
from whalelab.raven import read_raven, write_raven
from whalelab.runtime import RealTime, audio_bar, resolve_device

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
RECORD_DEFAULTS = {"engine": "torch", "min_scores": None}
#: characters of a file name that a Raven table (tab-separated lines) cannot hold
UNWRITABLE_NAME_CHARACTERS = "\t\n\r"

Job = tuple[AudioSource, str]  # (recording, its table's path relative to OUT, POSIX)


def _jobs(inputs: Sequence[str | Path]) -> list[Job]:
    """``(audio, table)`` for every input file and every audio file under an input folder;
    ``table`` is relative to the output folder.

    A file inside a folder keeps its path relative to the folder, under the folder's own
    name; a file given alone is named by its stem. An fsspec URL is a file, or a folder
    (a bucket prefix) searched as a local one is (:func:`whalelab.audio.input_audio_files`).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("dayA/rec.wav", "dayA/deep/rec.wav", "dayB/rec.wav"):
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...     (root / name).touch()
    >>> [table for _, table in _jobs([root / "dayA", root / "dayB/rec.wav"])]
    ['dayA/deep/rec.selections.txt', 'dayA/rec.selections.txt', 'rec.selections.txt']
    """
    jobs: dict[str, AudioSource] = {}  # table -> audio
    for item in map(audio_source, inputs):
        if isinstance(item, Path) and not (item.is_dir() or item.is_file()):
            raise AudioError(f"{item}: no such audio file or folder")
        for audio, within in input_audio_files(item):
            table = (audio.stem if within is None else posixpath.splitext(within)[0]) \
                + TABLE_SUFFIX
            other = jobs.setdefault(table, audio)
            if other.resolve() != audio.resolve():
                raise DataError(f"{audio} and {other} would both write {table}; "
                                f"rename one or detect them into different --out folders")
    return [(audio, table) for table, audio in jobs.items()]


def _pending(out: Path, jobs: list[Job], failures: OnError
             ) -> dict[AudioSource, tuple[Path, float]]:
    """``{audio: (table, seconds)}`` of the jobs whose table is not written yet."""
    pending = {}
    for audio, table in jobs:
        if (out / table).is_file():
            continue
        try:
            if set(audio.name) & set(UNWRITABLE_NAME_CHARACTERS):
                raise AudioError(f"{str(audio)!r}: a tab or line break in the file name cannot "
                                 f"be written in a Raven table; rename the file")
            pending[audio] = (out / table, audio_info(audio).duration)
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


def _read_record(out: Path) -> dict[str, Any] | None:
    """``OUT/detection.json``, or None where there is none.

    Raises
    ------
    ConfigError
        It is not a detection record whalelab can read.
    """
    path = out / RECORD_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        if not isinstance(record.get("settings"), dict) \
                or not isinstance(record.get("tables", {}), dict):
            raise ValueError("no settings or tables")
        str(record["model_sha256"])
        for table, source in record.get("tables", {}).items():
            if not (table.endswith(TABLE_SUFFIX) and not Path(table).is_absolute()
                    and ".." not in Path(table).parts and isinstance(source, dict)
                    and isinstance(source.get("file"), str)):
                raise ValueError(f"{table!r} is not a table inside the folder with its recording")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: unreadable ({type(error).__name__}: {error}); detect into "
                          f"another folder") from None
    return record


def finished_tables(out: str | Path) -> dict[str, str]:
    """``{table path relative to OUT: recording}`` of every table ``OUT/detection.json``
    lists that is written: the files ``OUT/events.csv`` holds the events of."""
    out = Path(out)
    record = _read_record(out) or {}
    return {table: source["file"] for table, source in record.get("tables", {}).items()
            if (out / table).is_file()}


def recorded_sources(out: str | Path) -> dict[str, str]:
    """``{file as events.csv names it: its resolved path}`` of the recordings
    ``OUT/detection.json`` lists (``events.csv`` keeps each file as detect was given it,
    which may be relative to where detect ran)."""
    record = _read_record(Path(out)) or {}
    return {source["file"]: source.get("resolved", source["file"])
            for source in record.get("tables", {}).values()}


def _combined_events(out: Path) -> pd.DataFrame:
    """The events of every finished table the folder's record lists, with a ``file``
    column, saved as ``OUT/events.csv``; their gaps go to ``OUT/gaps.csv``."""
    finished = [(audio, out / table) for table, audio in finished_tables(out).items()]
    _write_combined([pd.read_csv(_gaps_file(table)).assign(file=audio)[GAP_COLUMNS]
                     for audio, table in finished if _gaps_file(table).is_file()],
                    out / "gaps.csv", GAP_COLUMNS)
    return _write_combined([read_raven(table).assign(file=audio)
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
def _locked(out: Path, *, force: bool) -> Iterator[None]:
    """Hold ``OUT/.whalelab-detect.lock`` (holding this process's id) while the block runs.

    ``out`` is opened first (:func:`whalelab.atomic.output_folder`: a folder of other
    files needs ``force``). A lock held by a running process is a :class:`WhaleLabError`;
    one whose process has ended is taken over with a warning. A lock that cannot be
    written (a full disk, a read-only folder) is a :class:`StorageError` naming it.
    """
    output_folder(out, records=[RECORD_NAME], force=force)
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
        except OSError as error:
            raise storage_error(error, lock) from None
    try:
        try:
            os.write(handle, str(os.getpid()).encode())
        except OSError as error:
            raise storage_error(error, lock) from None
        finally:
            os.close(handle)
        yield
    finally:
        with contextlib.suppress(OSError):  # never hide the error that brought us here
            lock.unlink(missing_ok=True)


def _differences(earlier: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """How ``record`` (model checksum, settings) differs from the ``earlier`` one."""
    differences = [f"model checksum {earlier['model_sha256']} -> {record['model_sha256']}"
                   ] if earlier["model_sha256"] != record["model_sha256"] else []
    return differences + [f"{name} {earlier['settings'].get(name)!r} -> {value!r}"
                          for name, value in record["settings"].items()
                          if earlier["settings"].get(name, RECORD_DEFAULTS.get(name, "unset"))
                          != value]


def _claim(out: Path, record: dict[str, Any], jobs: list[Job], *, overwrite: bool) -> None:
    """Make ``out`` a folder of detections made as ``record`` says, listing ``jobs``'
    tables with their recordings; then write ``record`` (with ``tables``).

    Refused, before anything is deleted: a folder whose ``detection.json`` names another
    model checksum or other settings and lists finished tables (unless ``overwrite``,
    which deletes the files it lists); a job's table listed as detected from another
    recording; a file in the way of a job's outputs that ``detection.json`` does not
    list. A table whose recording changed since it was written is deleted, to be
    detected again.
    """
    earlier = _read_record(out)
    listed: dict[str, Any] = {} if earlier is None else dict(earlier.get("tables", {}))
    ours = {*listed, *(_gaps_file(Path(table)).as_posix() for table in listed),
            *(["events.csv", "gaps.csv"] if earlier is not None else [])}
    discarded = []  # whalelab's own files, deleted once nothing is refused
    if earlier is not None and overwrite:
        discarded, listed = sorted(ours), {}
    elif earlier is not None and (differences := _differences(earlier, record)):
        finished = [table for table in listed if (out / table).is_file()]
        if finished:
            raise ConfigError(f"{out}: holds {len(finished)} table(s) detected with another "
                              f"model or other settings ({'; '.join(differences)}); detect into "
                              f"another --out folder, or delete those tables and start again "
                              f"with --overwrite (overwrite=True)")
    tables = dict(listed)
    for audio, table in jobs:
        source, before = recording_record(audio), listed.get(table)
        if before is not None and before.get("resolved") != source["resolved"] \
                and (out / table).is_file():
            raise DataError(f"{out / table}: detected from {before['file']}, not from {audio}; "
                            f"detect {audio} into another --out folder")
        if before is not None and any(before.get(key) != source.get(key)
                                      for key in ("size", "mtime_ns", "version")):
            discarded.append(table)  # its recording changed since: detect it again
        tables[table] = source
    in_the_way = [name for name in ["events.csv", "gaps.csv", *(
        path for _, table in jobs for path in (table, _gaps_file(Path(table)).as_posix()))]
        if name not in ours and (out / name).exists()]
    if in_the_way:
        raise StorageError(f"{out / in_the_way[0]}: whalelab would write this file, but it "
                           f"is not one whalelab wrote (not listed in {out / RECORD_NAME})"
                           f"{f' and {len(in_the_way) - 1} more' if len(in_the_way) > 1 else ''}"
                           f"; detect into another folder, or move it")
    for name in discarded:
        (out / name).unlink(missing_ok=True)
    write_json(out / RECORD_NAME, {**record, "tables": tables})


def detect_files(model: str | Path | TrainedModel, inputs: Sequence[str | Path],
                 out: str | Path, *, settings: DetectConfig | None = None,
                 batch_size: int = 32, device: str = "auto", engine: str = "torch",
                 workers: int | None = None, channel: int | None = None,
                 on_error: str = "raise", overwrite: bool = False, force: bool = False,
                 cluster: str | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Detect calls in recordings; one Raven table per file and a combined ``events.csv``.

    Parameters
    ----------
    model : path or TrainedModel
        A trained run folder, a model file (``RUN/best.pt``), or such a model already
        loaded (:func:`whalelab.checkpoint.load_model`).
    inputs : sequence of paths or URLs
        Audio files and folders (searched recursively for audio files), local or fsspec
        URLs (``s3://``, ``gs://``, ``https://``: read in ranges, never downloaded whole;
        :mod:`whalelab.audio.remote`).
    out : path
        Output folder: ``OUT/<stem>.selections.txt`` per file given alone,
        ``OUT/<folder>/<subfolders>/<stem>.selections.txt`` per file of a folder given,
        ``OUT/events.csv`` with a ``file`` column, ``OUT/gaps.csv`` (``file, begin_s,
        end_s, kind``: each recording's runs of silence or flat signal, which hold no
        event; also ``<stem>.gaps.csv`` beside the table of a recording with gaps) and
        ``OUT/detection.json`` (the model file and its SHA-256, the settings, whalelab's
        version, the tables written and their recordings). A file whose table already
        exists is skipped, so an interrupted run resumes where it stopped, and a later
        call adds its files' tables to the folder's (``events.csv`` lists them all); a
        folder made with another model or other settings is refused.
        ``OUT/.whalelab-detect.lock`` is held while detecting.
    settings : DetectConfig or None
        Detection settings; None: the run's own (``config.json``'s ``detect``).
    batch_size, channel
        As in :func:`whalelab.detection.detect_recording`.
    device : str
        ``auto``, ``cpu`` or ``cuda``: where a model given as a path is loaded; on a
        cluster, where each worker loads it (``auto``: its GPU where it has one), while
        this process, which may have none, loads it on the CPU to check it.
    workers : int or None
        Threads that read (decode, resample, cut into windows) the next recordings while
        the current one is scored; windows of consecutive recordings share batches, so
        the model never waits on one file's tail, and each file's events are those of
        detecting it alone. None: :func:`whalelab.detection.streaming.default_workers`.
        Memory grows by one read block and two batches of windows per worker.
    engine : {"torch", "onnx"}
        Run the model on PyTorch, or its ONNX export on ONNX Runtime (CPU only; exported
        first where missing or stale: :func:`whalelab.export.onnx_model`). The settings
        recorded in ``detection.json`` include it (``batch_size`` and ``workers``, which
        change no event, are not recorded: a rerun with others resumes).
    on_error : {"raise", "skip"}
        What an unreadable audio file does: stop with an :class:`AudioError` naming it,
        or warn, skip it and report how many were skipped.
    overwrite : bool
        Delete the detections ``OUT/detection.json`` lists (those tables and their gaps
        files, ``events.csv``, ``gaps.csv``) and start again; no other file is touched.
    force : bool
        Write into a folder that holds files but no ``detection.json``, beside them
        (none of them is deleted or written over).
    cluster : str or None
        Detect on a Dask cluster, a task a recording (:mod:`whalelab.detection.cluster`):
        ``local`` (a worker process a CPU core), ``local:N`` (N workers) or a scheduler's
        address (``tcp://HOST:PORT``); None: in this process.
    progress : bool or None
        Progress bar in audio hours with the speed as a multiple of real time.

    Returns
    -------
    pandas.DataFrame
        Every event of every finished table of the folder: ``file, begin_s, end_s,
        low_hz, high_hz, label, score, begin_file`` (the contents of ``events.csv``).

    Raises
    ------
    ConfigError
        ``out`` holds detections made with another model or other settings.
    StorageError
        ``out`` is a file, cannot be written in, holds files whalelab did not make (and
        not ``force``), or a file in the way of an output whalelab did not write.
    WhaleLabError
        Another running detection holds ``out``'s lock.
    """
    failures = OnError(on_error)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if not inputs:
        raise DataError("no audio files or folders given to detect in")
    out = Path(out)
    jobs = _jobs(inputs)
    if isinstance(model, TrainedModel):
        check_engine(engine, model.device)
    elif cluster is not None:  # loaded here only to check it: workers load it where they run
        check_engine(engine, torch.device("cpu" if device == "auto" else device))
    else:
        check_engine(engine, resolve_device(device))
    trained = model if isinstance(model, TrainedModel) else load_model(
        model, device="cpu" if cluster is not None else device)
    if engine == "onnx":
        trained = dataclasses.replace(trained, model=onnx_model(trained))
    settings = trained.config.detect if settings is None else settings
    hop = hop_frames(trained.config, settings.hop_s)  # bad settings fail before any file is read
    record = {"model": str(Path(trained.source).resolve()),
              "model_sha256": checkpoint_sha256(trained.source),
              "settings": {**dataclasses.asdict(settings),
                           "window_hop_s": hop / trained.config.features.frames_per_second,
                           "channel": channel, "min_gap_s": MIN_GAP_S, "engine": engine},
              "whalelab_version": whalelab.__version__}
    with _locked(out, force=force):
        _claim(out, record, jobs, overwrite=overwrite)
        pending = _pending(out, jobs, failures)
        if cluster is None:
            _detect_pending(trained, pending, failures, settings=settings,
                            batch_size=batch_size, channel=channel, progress=progress,
                            workers=default_workers(trained.device) if workers is None
                            else workers)
        else:  # Dask is imported only where it is asked for
            from whalelab.detection.cluster import detect_on_cluster
            detect_on_cluster(cluster, trained, pending, failures, write=write_recording,
                              settings=settings, engine=engine, batch_size=batch_size,
                              channel=channel, progress=progress,
                              device=model.device.type if isinstance(model, TrainedModel)
                              else device)
        failures.summary(total=len(jobs))
        return _combined_events(out)


def _detect_pending(trained: TrainedModel, pending: dict[AudioSource, tuple[Path, float]],
                    failures: OnError, *, settings: DetectConfig, batch_size: int,
                    channel: int | None, workers: int, progress: bool | None) -> None:
    """Detect the pending recordings, their windows sharing batches
    (:func:`whalelab.detection.streaming.score_recordings`, ``workers`` reading ahead);
    as each is finished, find its events as :func:`whalelab.detection.detect_recording`
    does, and write its gaps file (when it has gaps), then its table."""
    config = trained.config
    with audio_bar(sum(duration for _, duration in pending.values()), progress=progress,
                   desc="detect") as bar:
        advance = RealTime(bar)
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
            write_recording(pending[audio][0], audio, events, traces.gaps)


def write_recording(table: Path, audio: AudioSource, events: pd.DataFrame,
                    gaps: pd.DataFrame) -> None:
    """One recording's outputs: its gaps file where it has gaps (else none), then its Raven
    table, each atomically; the table is written last, so its presence says the recording
    is done."""
    if len(gaps):
        atomic_write(_gaps_file(table), lambda temporary: gaps.to_csv(temporary, index=False))
    else:
        _gaps_file(table).unlink(missing_ok=True)
    write_raven(events.assign(begin_file=audio.name), table)
