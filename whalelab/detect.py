"""Detection in long recordings: streamed framewise inference, stitching, Raven tables.

A recording of any length is read block by block (:func:`whalelab.audio.stream_audio`),
cut into windows of the run's clip length that overlap (by half by default), and the
windows go through the model in batches. Each window's ``framewise_output`` lands on
the recording's frame grid (frame ``f`` at ``f * hop_length`` samples; window hops are
rounded to whole frames so that windows sit exactly on that grid) and the overlapping
estimates of a frame are averaged. Each window contributes a whole number of hops of
frames (312 of its 313 at the default 50 % overlap), so that every frame is averaged
over the same number of windows and window edges leave no seams.

Detection (:func:`detect_recording`, used by :func:`detect_files` and
:func:`evaluate_recordings` alike) stitches two traces per class
instead of the bare framewise output: the framewise probability times the window's
clipwise probability, which events are found on, and the band contrast of
:mod:`whalelab.band_contrast`, which trims each event to where the call's energy is.
:func:`whalelab.events.find_events` turns them into events, which are written as one
Raven selection table per recording.

- A file shorter than one window is zero-padded at its end to one window.
- The tail of a longer file that the regular windows miss gets one more window that
  ends at the file's end (rounded up to a whole frame, so padded by less than a frame).
- Memory: the audio held is at most one read block (``BLOCK_SECONDS``) plus one
  window; the probabilities kept are ``(frames, classes)`` float32, about 1.5 MB per
  recorded hour with 6 classes at 62.5 frames/s.

Bad files: an audio file that cannot be read raises :class:`whalelab.errors.AudioError`
naming it; with ``on_error="skip"`` it is reported as a warning and skipped instead,
and the number of skipped files is reported at the end (a later run tries them again).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write, write_json
from whalelab.audio import audio_info, is_audio_file, stream_audio
from whalelab.band_contrast import BandContrast
from whalelab.baselines import event_baseline
from whalelab.checkpoint import TrainedModel, load_model, save_detection_settings
from whalelab.config import DetectConfig, RunConfig
from whalelab.data import raven_pairs
from whalelab.errors import AudioError, ConfigError, DataError
from whalelab.event_scoring import score_events, threshold_sweep
from whalelab.events import find_events, find_file_events
from whalelab.raven import read_raven, write_raven
from whalelab.runtime import autocast, progress_bar

#: seconds of audio read from disk at a time
BLOCK_SECONDS = 60.0
TABLE_SUFFIX = ".selections.txt"
#: detection thresholds tried on validation recordings
THRESHOLDS = tuple(np.round(np.arange(0.1, 0.95, 0.05), 2))
#: columns of ``events.csv``
COMBINED_COLUMNS = ["file", "begin_s", "end_s", "low_hz", "high_hz", "label", "score",
                    "begin_file"]


class _Windows:
    """Overlapping windows cut from streamed blocks: ``(start_sample, (clip,) float32, keep)``.

    A regular window contributes its first ``keep`` frames, a whole number of hops, so
    that every frame inside the recording is covered by the same number of windows
    (twice at 50 % overlap); a final window that ends at the signal's end (``keep`` None)
    contributes all its frames. After iteration, ``samples`` is the signal's length.
    """

    def __init__(self, blocks: Iterable[np.ndarray], *, clip: int, hop: int, step: int,
                 keep: int) -> None:
        self.blocks, self.clip, self.hop, self.step, self.keep = blocks, clip, hop, step, keep
        self.samples = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, int | None]]:
        clip, hop, step = self.clip, self.hop, self.step
        buffer, offset, start = np.zeros(0, dtype=np.float32), 0, 0  # buffer[0] is sample offset
        for block in self.blocks:
            buffer = np.concatenate([buffer, block])
            self.samples += len(block)
            while start + clip <= self.samples:
                yield start, buffer[start - offset:start - offset + clip], self.keep
                start += hop
            # keep what the next window needs, and the last clip for a final tail window
            keep_from = max(offset, min(start, self.samples - clip))
            buffer, offset = buffer[keep_from - offset:], keep_from
        last_covered = (start - hop) // step + self.keep - 1 if start else -1
        if last_covered < self.samples // step:  # frames the regular windows missed
            tail = max(0, math.ceil((self.samples - clip) / step) * step)
            window = buffer[tail - offset:tail - offset + clip]
            yield tail, np.pad(window, (0, clip - len(window))), None


def hop_frames(config: RunConfig, hop_s: float | None = None) -> int:
    """The window hop in frames: ``hop_s`` (default half a clip) rounded to whole frames.

    Examples
    --------
    >>> config = RunConfig.from_profile("smoke", data="", classes=["a"])
    >>> hop_frames(config), hop_frames(config, 1.0)
    (156, 62)
    """
    features = config.features
    hop_s = features.clip_seconds / 2 if hop_s is None else hop_s
    if not 0 < hop_s <= features.clip_seconds:
        raise ConfigError(f"hop_s must be in (0, clip_seconds={features.clip_seconds}], "
                          f"not {hop_s}")
    return max(1, round(hop_s * features.frames_per_second))


Score = Callable[[torch.Tensor], torch.Tensor]


def _framewise(model: torch.nn.Module) -> Score:
    """``(batch, samples)`` -> the model's ``framewise_output`` ``(batch, frames, classes)``."""
    return lambda waveform: model(waveform)["framewise_output"]


def _detection_score(model: torch.nn.Module, config: RunConfig,
                     bands: Mapping[str, tuple[float, float]], *, gate: bool = True) -> Score:
    """``(batch, samples)`` -> ``(batch, frames, 2 * classes)``: detection scores, then contrast.

    With ``gate`` (the default), the detection score of a frame is its framewise
    probability times the window's clipwise probability: a model trained on clip labels
    alone keeps its cla scores high for a second or so around a call and even in windows
    without one, while the clipwise output says whether the window holds the class at
    all. Without it, the score is the bare framewise output. The contrast is
    :class:`whalelab.band_contrast.BandContrast` of ``bands``, on the model's device.
    """
    contrast = BandContrast(config.features, bands, config.classes).to(
        next(model.parameters()).device)

    def score(waveform: torch.Tensor) -> torch.Tensor:
        output = model(waveform)
        gated = output["framewise_output"] * output["clipwise_output"][:, None, :] if gate \
            else output["framewise_output"]
        with torch.autocast(waveform.device.type, enabled=False):  # dB in float32
            band_contrast = contrast(waveform.float())  # (batch, frames, classes)
        return torch.cat([gated.float(), band_contrast], dim=2)
    return score


def _stitched(score: Score, config: RunConfig, path: Path, *, hop: int, batch_size: int,
              channel: int | None, advance: Callable[[float], None], device: torch.device,
              width: int) -> np.ndarray:
    """``score`` of one file stitched over its windows: ``(frames, width)``.

    ``advance(seconds)`` is called after each batch with the audio it covered.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    features = config.features
    step, clip = features.hop_length, features.clip_samples
    info = audio_info(path)
    expected = math.ceil(info.frames * features.sample_rate / info.sample_rate)
    total = np.zeros((1 + expected // step + features.n_frames, width),
                     dtype=np.float32)  # (frames, width) running sum
    count = np.zeros(len(total), dtype=np.float32)  # (frames,) windows that saw each frame
    windows = _Windows(stream_audio(path, features.sample_rate, block_seconds=BLOCK_SECONDS,
                                    channel=channel), clip=clip, hop=hop * step, step=step,
                       keep=min(features.n_frames, hop * (features.n_frames // hop)))
    done = 0

    def flush(batch: list[tuple[int, np.ndarray, int | None]]) -> None:
        nonlocal total, count, done
        waveform = torch.from_numpy(np.stack([window for _, window, _ in batch]))
        with torch.inference_mode(), autocast(device, True):
            framewise = score(waveform.to(device))  # (batch, frames, width)
        for (start, _, keep), frames in zip(batch, framewise.float().cpu().numpy(), strict=True):
            frames, first = frames[:keep], start // step  # (frames, classes)
            if first + len(frames) > len(total):  # the header undercounted: grow
                grow = first + len(frames) - len(total)
                total = np.pad(total, ((0, grow), (0, 0)))
                count = np.pad(count, (0, grow))
            total[first:first + len(frames)] += frames
            count[first:first + len(frames)] += 1
        covered = min(batch[-1][0] + clip, windows.samples)
        advance((covered - done) / features.sample_rate)
        done = covered

    batch: list[tuple[int, np.ndarray, int | None]] = []
    for window in windows:
        batch.append(window)
        if len(batch) == batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    frames = 1 + windows.samples // step
    total, count = total[:frames], count[:frames]
    total /= count[:, None]
    return total


def framewise_probabilities(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                            hop_s: float | None = None, batch_size: int = 32,
                            channel: int | None = None,
                            progress: bool | None = None) -> np.ndarray:
    """Stitched framewise class probabilities of a whole recording, read as a stream.

    Parameters
    ----------
    model : torch.nn.Module
        A model in eval mode whose output dict holds ``framewise_output``
        ``(batch, frames, classes)`` for ``(batch, clip_samples)`` waveforms (a
        :class:`whalelab.model.WhaleSED`); it runs on the device its parameters are on,
        with bf16 autocast on CUDA.
    config : RunConfig
        The run's configuration (sample rate, clip length, frame rate, classes).
    path : path
        An audio file of any length, format, sample rate and channel count.
    hop_s : float or None
        Seconds between window starts, rounded to whole frames; None is half a clip
        (50 % overlap).
    batch_size : int
        Windows per forward pass.
    channel : int or None
        Use this channel (0-based) of a multi-channel file; None mixes them.
    progress : bool or None
        Show a progress bar in audio seconds (None: only on a terminal).

    Returns
    -------
    numpy.ndarray
        float32 ``(frames, classes)`` at ``config.features.frames_per_second``, with
        ``frames = 1 + samples // hop_length`` (frame ``f`` at ``f / fps`` seconds).

    Raises
    ------
    AudioError
        The file is missing, unreadable or corrupt, or ``channel`` is out of range.
    """
    return _with_progress(_framewise(model), config, path, hop_s=hop_s, batch_size=batch_size,
                          channel=channel, progress=progress,
                          device=next(model.parameters()).device, width=len(config.classes))


def detection_traces(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                     bands: Mapping[str, tuple[float, float]], gate: bool = True,
                     hop_s: float | None = None,
                     batch_size: int = 32, channel: int | None = None,
                     progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What detection thresholds and trims: scores and band contrast of a whole recording.

    Like :func:`framewise_probabilities` (same windows, stitching and arguments), but
    each window's framewise probabilities are multiplied by its clipwise probability,
    and the band contrast of :class:`whalelab.band_contrast.BandContrast` is stitched
    alongside. The model must also return ``clipwise_output`` ``(batch, classes)``.

    Parameters
    ----------
    bands : mapping
        ``{class: (low_hz, high_hz)}``, the run's class bands (``classes.json``).
    gate : bool
        Multiply by each window's clipwise probability (False: the bare framewise output).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Detection scores in [0, 1] and contrast in dB, each float32 ``(frames, classes)``.
    """
    traces = _with_progress(_detection_score(model, config, bands, gate=gate), config, path,
                            hop_s=hop_s,
                            batch_size=batch_size, channel=channel, progress=progress,
                            device=next(model.parameters()).device,
                            width=2 * len(config.classes))
    scores, contrast = np.split(traces, 2, axis=1)  # (frames, classes) each
    return scores, contrast


def _with_progress(score: Score, config: RunConfig, path: str | Path, *, hop_s: float | None,
                   batch_size: int, channel: int | None, progress: bool | None,
                   device: torch.device, width: int) -> np.ndarray:
    """:func:`_stitched` under a progress bar in audio seconds."""
    path = Path(path)
    hop = hop_frames(config, hop_s)
    with progress_bar(total=round(audio_info(path).duration, 1), progress=progress, unit="s",
                      desc=path.name, leave=False) as bar:
        return _stitched(score, config, path, hop=hop, batch_size=batch_size, channel=channel,
                         advance=bar.update, device=device, width=width)


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


def _speed_bar(total_hours: float, progress: bool | None) -> tqdm:
    return progress_bar(total=total_hours, progress=progress, desc="detect", unit="h",
                        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} h audio [{elapsed}<"
                                   "{remaining}{postfix}]")


def detection_settings(config: RunConfig, **overrides: Any) -> DetectConfig:
    """The run's detection settings (``config.json``'s ``detect``), with ``overrides``
    (field names of :class:`whalelab.config.DetectConfig`; None keeps the run's value)."""
    try:
        return dataclasses.replace(config.detect, **{name: value for name, value
                                                     in overrides.items() if value is not None})
    except TypeError as error:
        raise ConfigError(f"unknown detection setting: {error}") from None


def detect_recording(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                     bands: Mapping[str, tuple[float, float]], settings: DetectConfig,
                     batch_size: int = 32, channel: int | None = None,
                     advance: Callable[[float], None] = lambda seconds: None) -> pd.DataFrame:
    """The events of one recording: what ``whalelab detect`` writes and evaluation scores.

    Detection scores and band contrast are stitched over the windows
    (:func:`detection_traces`), events are found with ``settings``
    (:func:`whalelab.events.find_events`; trimmed by band contrast when
    ``settings.trim``), and no event ends after the recording does.

    Returns
    -------
    pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label, score, mean_score``.
    """
    path = Path(path)
    traces = _stitched(_detection_score(model, config, bands, gate=settings.gate), config, path,
                       hop=hop_frames(config, settings.hop_s), batch_size=batch_size,
                       channel=channel, advance=advance, device=next(model.parameters()).device,
                       width=2 * len(config.classes))
    scores, contrast = np.split(traces, 2, axis=1)  # (frames, classes) each
    events = find_events(scores, config.classes,
                         frames_per_second=config.features.frames_per_second,
                         threshold=settings.threshold, low_threshold=settings.low_threshold,
                         min_duration_s=settings.min_duration_s,
                         merge_gap_s=settings.merge_gap_s, bands=bands,
                         contrast=contrast if settings.trim else None)
    events["end_s"] = events["end_s"].clip(upper=audio_info(path).duration)  # last frame's end
    return events


class _Failures:
    """Unreadable audio files: raised, or (``on_error="skip"``) warned about and counted."""

    def __init__(self, on_error: str) -> None:
        if on_error not in ("raise", "skip"):
            raise ConfigError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.on_error, self.skipped = on_error, []

    def fail(self, audio: Path, error: AudioError) -> None:
        if self.on_error == "raise":
            raise error
        warnings.warn(f"skipped {error}", stacklevel=4)
        self.skipped.append(audio)


def _pending(jobs: list[tuple[Path, Path]], failures: _Failures) -> dict[Path, tuple[Path, float]]:
    """``{audio: (table, seconds)}`` of the jobs whose table is not written yet."""
    pending = {}
    for audio, table in jobs:
        if table.is_file():
            continue
        try:
            pending[audio] = (table, audio_info(audio).duration)
        except AudioError as error:
            failures.fail(audio, error)
    return pending


def _combined_events(jobs: list[tuple[Path, Path]], out: Path) -> pd.DataFrame:
    """Every written table's events with a ``file`` column, saved as ``OUT/events.csv``."""
    finished = [read_raven(table).assign(file=str(audio)).reindex(columns=COMBINED_COLUMNS)
                for audio, table in jobs if table.is_file()]
    finished = [events for events in finished if len(events)]
    combined = pd.concat(finished, ignore_index=True) if finished \
        else pd.DataFrame(columns=COMBINED_COLUMNS)
    atomic_write(out / "events.csv", lambda temporary: combined.to_csv(temporary, index=False))
    return combined


def detect_files(model_source: str | Path, inputs: Sequence[str | Path], out: str | Path, *,
                 hop_s: float | None = None, threshold: float | None = None,
                 low_threshold: float | None = None, min_duration_s: float | None = None,
                 merge_gap_s: float | None = None, trim: bool | None = None,
                 gate: bool | None = None, batch_size: int = 32, device: str = "auto", channel: int | None = None,
                 on_error: str = "raise", progress: bool | None = None) -> pd.DataFrame:
    """Detect calls in recordings; one Raven table per file and a combined ``events.csv``.

    Parameters
    ----------
    model_source : path
        A trained run folder, or a model file (``RUN/best.pt``).
    inputs : sequence of paths
        Audio files and folders (searched recursively for audio files).
    out : path
        Output folder: ``OUT/<stem>.selections.txt`` per file (a folder input's
        subfolders are kept) and ``OUT/events.csv`` with a ``file`` column. A file whose
        table already exists is skipped, so an interrupted run resumes where it stopped.
    hop_s, threshold, low_threshold, min_duration_s, merge_gap_s, trim, gate
        Detection settings (:class:`whalelab.config.DetectConfig`); None keeps the run's
        own (``config.json``'s ``detect``).
    batch_size, channel
        As in :func:`framewise_probabilities`.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    on_error : {"raise", "skip"}
        What an unreadable audio file does: stop with an :class:`AudioError` naming it,
        or warn, skip it and report how many were skipped.
    progress : bool or None
        Progress bar in audio hours with the speed as a multiple of real time.

    Returns
    -------
    pandas.DataFrame
        Every event of every finished file: ``file, begin_s, end_s, low_hz, high_hz,
        label, score, begin_file`` (the contents of ``events.csv``).
    """
    failures = _Failures(on_error)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if not inputs:
        raise DataError("no audio files or folders given to detect in")
    out = Path(out)
    jobs = _jobs(inputs, out)
    trained = load_model(model_source, device=device)
    settings = detection_settings(trained.config, hop_s=hop_s, threshold=threshold,
                                  low_threshold=low_threshold, min_duration_s=min_duration_s,
                                  merge_gap_s=merge_gap_s, trim=trim, gate=gate)
    hop_frames(trained.config, settings.hop_s)  # bad settings fail before any file is read
    pending = _pending(jobs, failures)
    began, seconds = time.perf_counter(), 0.0
    with _speed_bar(sum(duration for _, duration in pending.values()) / 3600, progress) as bar:
        def advance(done: float) -> None:
            nonlocal seconds
            seconds += done
            bar.update(done / 3600)
            bar.set_postfix_str(f"{seconds / max(time.perf_counter() - began, 1e-9):.0f}x "
                                f"real time", refresh=False)

        for audio, (table, _) in pending.items():
            try:
                events = detect_recording(trained.model, trained.config, audio,
                                          bands=trained.bands, settings=settings,
                                          batch_size=batch_size, channel=channel,
                                          advance=advance)
            except AudioError as error:
                failures.fail(audio, error)
                continue
            write_raven(events.assign(begin_file=audio.name), table)
    if failures.skipped:
        warnings.warn(f"{len(failures.skipped)} of {len(jobs)} file(s) could not be read and "
                      f"were skipped", stacklevel=2)
    return _combined_events(jobs, out)


def annotated_recordings(folder: str | Path) -> list[tuple[Path, Path]]:
    """``(audio, table)`` for each audio file in ``folder`` with a Raven table beside it.

    The table of ``NAME.wav`` is ``NAME.selections.txt``, ``NAME.Table.1.selections.txt``
    (Raven's own default) or ``NAME.txt``, as :mod:`whalelab.data` pairs them for
    training. An empty list means ``folder`` is not a folder of annotated recordings.
    """
    return raven_pairs(Path(folder))


def _recording_traces(trained: TrainedModel, pairs: Sequence[tuple[Path, Path]], *, gate: bool,
                      hop_s: float | None, batch_size: int,
                      progress: bool | None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``{file: (frames, classes)}`` detection scores and band contrasts of recordings."""
    scores, contrasts = {}, {}
    for audio, _ in progress_bar(pairs, progress=progress, desc="traces", unit="file"):
        traces = _stitched(_detection_score(trained.model, trained.config, trained.bands,
                                            gate=gate), trained.config, audio,
                           hop=hop_frames(trained.config, hop_s), batch_size=batch_size,
                           channel=None, advance=lambda seconds: None, device=trained.device,
                           width=2 * len(trained.classes))
        scores[str(audio)], contrasts[str(audio)] = np.split(traces, 2, axis=1)
    return scores, contrasts


def _variants(trained: TrainedModel, pairs: Sequence[tuple[Path, Path]], *,
              order: tuple[bool, bool], batch_size: int, progress: bool | None
              ) -> Iterator[tuple[bool, bool, dict[str, np.ndarray], dict[str, np.ndarray] | None]]:
    """``(gate, trim, scores, contrasts or None)`` for each gating and trimming choice, in
    ``order``; the traces are computed once per gate."""
    for gate in order:
        scores, contrasts = _recording_traces(trained, pairs, gate=gate,
                                              hop_s=trained.config.detect.hop_s,
                                              batch_size=batch_size, progress=progress)
        for trim in order:
            yield gate, trim, scores, contrasts if trim else None


def _annotated_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """:func:`annotated_recordings` of ``folder``; none is a :class:`DataError`."""
    pairs = annotated_recordings(folder)
    if not pairs:
        raise DataError(f"{folder}: no audio files with a Raven table beside them "
                        f"(NAME.wav + NAME{TABLE_SUFFIX})")
    return pairs


def _truth(pairs: Sequence[tuple[Path, Path]], label_column: str) -> pd.DataFrame:
    """The Raven tables of ``pairs`` as one table with a ``file`` column."""
    return pd.concat([read_raven(table, label_column=label_column).assign(file=str(audio))
                      for audio, table in pairs], ignore_index=True)


def choose_detection_settings(model_source: str | Path, validation: str | Path, *,
                              thresholds: Sequence[float] = THRESHOLDS, iou: float = 0.3,
                              batch_size: int = 32, device: str = "auto",
                              progress: bool | None = None) -> tuple[DetectConfig, pd.DataFrame]:
    """The detection settings with the best overall event F1 on validation recordings.

    Every combination of ``gate`` (framewise x clipwise, or the bare framewise output),
    ``trim`` (by band contrast, or not) and ``threshold`` is scored on the recordings of
    ``validation`` (a folder of recordings with Raven tables, never the test folder);
    the other settings are the run's. Ties go to the simpler setting (no gate, no trim)
    and the higher threshold.

    Returns
    -------
    (DetectConfig, pandas.DataFrame)
        The chosen settings, and the sweep: ``gate, trim, threshold, precision, recall,
        f1, tp, fp, fn`` per combination.
    """
    pairs = _annotated_pairs(validation)
    trained = load_model(model_source, device=device)
    config, base = trained.config, trained.config.detect
    truth = _truth(pairs, config.data.label_column)
    rows = []
    for gate, trim, scores, contrasts in _variants(trained, pairs, order=(False, True),
                                                   batch_size=batch_size, progress=progress):
        sweep = threshold_sweep(scores, truth, config.classes,
                                frames_per_second=config.features.frames_per_second,
                                thresholds=thresholds, iou=iou, bands=trained.bands,
                                contrasts=contrasts, min_duration_s=base.min_duration_s,
                                merge_gap_s=base.merge_gap_s)
        rows.append(sweep.assign(gate=gate, trim=trim))
    table = pd.concat(rows, ignore_index=True)[["gate", "trim", "threshold", "precision",
                                                 "recall", "f1", "tp", "fp", "fn"]]
    best = table.sort_values(["f1", "gate", "trim", "threshold"],
                             ascending=[False, True, True, False], kind="stable").iloc[0]
    chosen = dataclasses.replace(base, gate=bool(best.gate), trim=bool(best.trim),
                                 threshold=float(best.threshold), low_threshold=None)
    return chosen, table


def compare_gating_and_trimming(model_source: str | Path, data: str | Path, *,
                                iou: float = 0.3, batch_size: int = 32, device: str = "auto",
                                progress: bool | None = None) -> pd.DataFrame:
    """Event scores on ``data`` with and without gating and trimming, the run's other
    detection settings (threshold included) kept: what each step buys.

    Returns
    -------
    pandas.DataFrame
        One row per ``(gate, trim)``: ``precision, recall, f1``, the F1 interval
        ``f1_low, f1_high`` and ``false_alarms_per_hour``.
    """
    pairs = _annotated_pairs(data)
    trained = load_model(model_source, device=device)
    config, base = trained.config, trained.config.detect
    truth = _truth(pairs, config.data.label_column)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in pairs}
    rows = []
    for gate, trim, scores, contrasts in _variants(trained, pairs, order=(True, False),
                                                   batch_size=batch_size, progress=progress):
        predicted = find_file_events(
            scores, config.classes, frames_per_second=config.features.frames_per_second,
            contrasts=contrasts, threshold=base.threshold, low_threshold=base.low_threshold,
            min_duration_s=base.min_duration_s, merge_gap_s=base.merge_gap_s,
            bands=trained.bands)
        scored = score_events(predicted, truth, config.classes, hours=hours, iou=iou,
                              seed=config.train.seed)
        rows.append({"gate": gate, "trim": trim,
                     **{name: scored["overall"][name] for name in ("precision", "recall", "f1")},
                     "f1_low": scored["intervals_95"]["f1"][0],
                     "f1_high": scored["intervals_95"]["f1"][1],
                     "false_alarms_per_hour": scored["false_alarms_per_hour"]})
    return pd.DataFrame(rows)


def evaluate_recordings(model_source: str | Path, data: str | Path, *,
                        validation: str | Path | None = None, out: str | Path | None = None,
                        iou: float = 0.3, onset_tolerance_s: float | None = None,
                        batch_size: int = 32, device: str = "auto",
                        progress: bool | None = None, **settings: Any) -> dict[str, Any]:
    """Event-level precision, recall and F1 of a run on long recordings with Raven tables.

    With ``validation`` (a folder of other recordings with tables), the detection
    settings are first chosen there (:func:`choose_detection_settings`) and saved as the
    run's own, and the band-energy baseline (:func:`whalelab.baselines.event_baseline`)
    is fitted there too; both are then scored on ``data``, which no setting has seen.
    Every recording of ``data`` is detected with :func:`detect_recording`, exactly as
    :func:`detect_files` does, and scored with :func:`whalelab.event_scoring.event_metrics`
    (events of different recordings never match), with bootstrap intervals over
    one-minute blocks. Recordings whose table is empty also give false alarms per hour.
    Truth is read with the run's label column. The result is written as JSON to ``out``
    (default ``RUN/event_metrics.json``, or beside a model file).

    Parameters
    ----------
    **settings
        Detection settings overriding the run's (see :func:`detect_files`); with
        ``validation`` they override the chosen ones.

    Returns
    -------
    dict
        :func:`whalelab.event_scoring.event_metrics`' dict plus ``intervals_95``,
        ``false_alarms_per_hour`` (None without call-free recordings), ``run``, ``data``,
        ``recordings``, ``audio_hours``, the detection ``settings``, and with
        ``validation`` the ``settings_sweep`` and ``baselines``.
    """
    pairs = _annotated_pairs(data)
    source = Path(model_source)
    extra: dict[str, Any] = {}
    if validation is not None:
        chosen, sweep = choose_detection_settings(model_source, validation, iou=iou,
                                                  batch_size=batch_size, device=device,
                                                  progress=progress)
        if source.is_dir():
            save_detection_settings(source, chosen)
        settings = {**dataclasses.asdict(chosen), **settings}
        extra["settings_sweep"] = sweep.to_dict(orient="records")
    trained = load_model(model_source, device=device)
    config = trained.config
    chosen = detection_settings(config, **settings)
    truth = _truth(pairs, config.data.label_column)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in pairs}
    predicted = pd.concat([detect_recording(trained.model, config, audio, bands=trained.bands,
                                            settings=chosen, batch_size=batch_size)
                           .assign(file=str(audio))
                           for audio, _ in progress_bar(pairs, progress=progress,
                                                        desc="evaluate", unit="file")],
                          ignore_index=True)
    metrics = score_events(predicted, truth, config.classes, hours=hours, iou=iou,
                           onset_tolerance_s=onset_tolerance_s, seed=config.train.seed)
    if validation is not None:
        extra["baselines"] = {"band_energy": event_baseline(
            _annotated_pairs(validation), pairs, features=config.features,
            classes=config.classes, bands=trained.bands, label_column=config.data.label_column,
            iou=iou, onset_tolerance_s=onset_tolerance_s, min_duration_s=chosen.min_duration_s,
            merge_gap_s=chosen.merge_gap_s, seed=config.train.seed)}
    metrics.update({"run": str(model_source), "data": str(data), "recordings": len(pairs),
                    "audio_hours": sum(hours.values()),
                    "settings": {**dataclasses.asdict(chosen),
                                 "hop_s": hop_frames(config, chosen.hop_s)
                                 / config.features.frames_per_second}, **extra})
    write_json(out or (source if source.is_dir() else source.parent) / "event_metrics.json",
               metrics)
    return metrics


