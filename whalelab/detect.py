"""Detection in long recordings: streamed framewise inference, stitching, Raven tables.

A recording of any length is read block by block (:func:`whalelab.audio.stream_audio`),
cut into windows of the run's clip length that overlap (by half by default), and the
windows go through the model in batches. Each window's ``framewise_output`` lands on
the recording's frame grid (frame ``f`` at ``f * hop_length`` samples; window hops are
rounded to whole frames so that windows sit exactly on that grid) and the overlapping
estimates of a frame are averaged. Each window contributes a whole number of hops of
frames (312 of its 313 at the default 50 % overlap), so that every frame is averaged
over the same number of windows and window edges leave no seams.

Detection (:func:`detect_recording`, used by :func:`detect_files` and by
:func:`whalelab.detection_evaluation.evaluate_recordings` alike) stitches two traces per class
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

Gaps: a dropout (a run of exact zeros, ``silence``) or a stuck signal (a run of one
repeated value, ``flat``) at least ``MIN_GAP_S`` long holds no call, yet a model scores
it like anything else (digital silence looks like a quiet blue whale band). Such runs
are found in the samples the windows are cut from (the file at the run's rate), block
by block as they stream, so a gap may span blocks. The detection scores of the frames
inside a gap are set to zero before events are found, and the events are then cut at
the gap edges (:func:`detect_recording_with_gaps`): no event lies inside a gap.

An output folder says what made it: ``OUT/detection.json`` holds the model file and its
SHA-256, the detection settings and whalelab's version. A rerun with the same model and
settings resumes; with others it is refused unless ``overwrite``. A lock file
(``OUT/.whalelab-detect.lock``, holding the process id) keeps two runs from writing
into one folder at once; a lock whose process has ended is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import whalelab
from whalelab.atomic import atomic_write, write_json
from whalelab.audio import audio_info, is_audio_file, stream_audio
from whalelab.band_contrast import BandContrast
from whalelab.checkpoint import TrainedModel, checkpoint_sha256, load_model
from whalelab.config import DetectConfig, RunConfig
from whalelab.errors import AudioError, ConfigError, DataError, WhaleLabError, check_on_error
from whalelab.events import find_events
from whalelab.export import check_engine, onnx_model
from whalelab.raven import read_raven, write_raven
from whalelab.runtime import autocast, progress_bar, resolve_device

#: seconds of audio read from disk at a time
BLOCK_SECONDS = 60.0
TABLE_SUFFIX = ".selections.txt"
#: columns of ``events.csv``
COMBINED_COLUMNS = ["file", "begin_s", "end_s", "low_hz", "high_hz", "label", "score",
                    "begin_file"]
#: seconds of exact zeros (``silence``) or of one repeated value (``flat``) that make a gap
MIN_GAP_S = 0.5
#: columns of ``gaps.csv``; each recording's own gaps are in ``OUT/<stem>.gaps.csv``
GAP_COLUMNS = ["file", "begin_s", "end_s", "kind"]
GAPS_SUFFIX = ".gaps.csv"
#: what an output folder was made with, and the lock held while detecting into it
RECORD_NAME, LOCK_NAME = "detection.json", ".whalelab-detect.lock"
#: what a setting recorded in ``detection.json`` was before whalelab recorded it
RECORD_DEFAULTS = {"engine": "torch"}


class _Gaps:
    """Runs of one repeated sample value, at least ``min_samples`` long, in streamed blocks.

    Pass the blocks through :meth:`watch`; once they are all seen, ``found`` holds
    ``(begin, end, kind)`` sample spans (``end`` exclusive), ``kind`` being ``silence``
    for zeros and ``flat`` for another value. A run may span any number of blocks.

    Examples
    --------
    >>> gaps = _Gaps(3)
    >>> blocks = [np.array([1, 0, 0], "f4"), np.array([0, 0, 2, 5, 5], "f4"), np.array([5], "f4")]
    >>> sum(len(block) for block in gaps.watch(blocks)), gaps.found
    (9, [(1, 5, 'silence'), (6, 9, 'flat')])
    """

    def __init__(self, min_samples: int) -> None:
        self.min_samples = max(1, min_samples)
        self.found: list[tuple[int, int, str]] = []
        self.samples, self.start, self.value = 0, 0, None  # seen; the open run's start, value

    def watch(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield ``blocks`` unchanged, finding the gaps in them on the way."""
        for block in blocks:
            self._add(block)
            yield block
        self._close(self.start, self.samples, self.value)

    def _close(self, begin: int, end: int, value: float | None) -> None:
        if end - begin >= self.min_samples:
            self.found.append((begin, end, "silence" if value == 0 else "flat"))

    def _add(self, block: np.ndarray) -> None:
        if not len(block):
            return
        before = block[:1] if self.value is None else np.asarray([self.value], block.dtype)
        # (runs,) the samples that start a new run, as positions in the whole signal
        starts = self.samples + np.flatnonzero(block != np.concatenate([before, block[:-1]]))
        bounds = np.concatenate([[self.start], starts])
        for k in np.flatnonzero(np.diff(bounds) >= self.min_samples):
            begin = int(bounds[k])
            value = self.value if begin < self.samples else block[begin - self.samples]
            self._close(begin, int(bounds[k + 1]), value)
        self.start, self.value = int(bounds[-1]), block[-1]
        self.samples += len(block)


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


class _Recording:
    """One file's windows on their way through the model, and its stitched scores.

    Iterating :attr:`windows` reads the file block by block (decoding and resampling in
    whichever thread iterates) and yields ``(start_sample, (clip,) float32, keep)``;
    :meth:`add` puts a scored window's frames on the file's frame grid; once every
    window is in, :meth:`traces` is the average, ``(frames, width)``. With ``gaps``, the
    gaps are found as the blocks stream (:attr:`gaps`).

    Raises
    ------
    AudioError
        When the file's header cannot be read (later decoding errors come from
        iterating :attr:`windows`).
    """

    def __init__(self, path: Path, config: RunConfig, *, hop: int, channel: int | None,
                 width: int, gaps: bool) -> None:
        features = config.features
        self.path, self.step, self.clip = path, features.hop_length, features.clip_samples
        info = audio_info(path)
        expected = math.ceil(info.frames * features.sample_rate / info.sample_rate)
        self.total = np.zeros((1 + expected // self.step + features.n_frames, width),
                              dtype=np.float32)  # (frames, width) running sum
        self.count = np.zeros(len(self.total), dtype=np.float32)  # (frames,) windows per frame
        self.gaps = _Gaps(round(MIN_GAP_S * features.sample_rate)) if gaps else None
        blocks = stream_audio(path, features.sample_rate, block_seconds=BLOCK_SECONDS,
                              channel=channel)
        self.windows = _Windows(blocks if self.gaps is None else self.gaps.watch(blocks),
                                clip=self.clip, hop=hop * self.step, step=self.step,
                                keep=min(features.n_frames, hop * (features.n_frames // hop)))
        self.sample_rate = features.sample_rate
        self.covered = 0  # samples up to the end of the last window added
        self.cut = False  # every window has been cut (the file is read to its end)
        self.waiting = 0  # windows cut but not yet added

    def add(self, start: int, keep: int | None, frames: np.ndarray) -> float:
        """Stitch one window's ``(frames, width)`` scores in; the seconds of audio newly
        covered (for progress)."""
        frames, first = frames[:keep], start // self.step
        if first + len(frames) > len(self.total):  # the header undercounted: grow
            grow = first + len(frames) - len(self.total)
            self.total = np.pad(self.total, ((0, grow), (0, 0)))
            self.count = np.pad(self.count, (0, grow))
        self.total[first:first + len(frames)] += frames
        self.count[first:first + len(frames)] += 1
        self.waiting -= 1
        covered = min(start + self.clip, self.windows.samples)
        seconds = max(0, covered - self.covered) / self.sample_rate
        self.covered = max(self.covered, covered)
        return seconds

    @property
    def done(self) -> bool:
        """Every window cut and added."""
        return self.cut and self.waiting == 0

    def traces(self) -> np.ndarray:
        """The stitched average ``(frames, width)``, ``frames = 1 + samples // hop_length``."""
        frames = 1 + self.windows.samples // self.step
        return self.total[:frames] / self.count[:frames, None]


#: windows a background reader keeps ready, in batches (bounds each reader's memory)
READ_AHEAD_BATCHES = 2
_END = object()  # a reader's last item


class _ReadAhead:
    """``recording.windows`` read by a thread of ``pool`` into a bounded queue (at most
    :data:`READ_AHEAD_BATCHES` batches of windows ahead) from the moment it is made:
    iterate to take the windows (a reading error is raised here), :meth:`close` to stop
    the thread."""

    def __init__(self, recording: _Recording, pool: ThreadPoolExecutor,
                 batch_size: int) -> None:
        self.ready: queue.Queue = queue.Queue(maxsize=READ_AHEAD_BATCHES * batch_size)
        self.stop = threading.Event()  # set when the windows are no longer wanted
        pool.submit(self._read, recording)

    def _offer(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, recording: _Recording) -> None:
        try:
            for window in recording.windows:
                if not self._offer(window):
                    return
            self._offer(_END)
        except Exception as error:  # raised again where the windows are wanted
            self._offer(error)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, int | None]]:
        return self

    def __next__(self) -> tuple[int, np.ndarray, int | None]:
        item = self.ready.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.stop.set()


def _score_recordings(score: Score, recordings: Iterable[tuple[Path, Callable[[], _Recording]]],
                      *, batch_size: int, device: torch.device, workers: int = 0,
                      advance: Callable[[float], None] = lambda seconds: None
                      ) -> Iterator[tuple[Path, _Recording | AudioError]]:
    """Score the windows of many recordings in shared batches; yield each recording as
    soon as its last window is stitched in (or the AudioError that stopped it).

    Recordings are opened in order, ``workers + 1`` at a time; with ``workers`` > 0,
    threads read (decode, resample, cut) the next recordings while the current one's
    windows are scored, so a batch that one recording's tail leaves part-empty is filled
    from the next. Windows are scored one by one whatever batch they share, and each
    recording's windows are stitched in its own order: its traces are those of scoring
    it alone. Memory: per open recording one read block, plus the queued windows.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if workers < 0:
        raise ConfigError(f"workers must be at least 0, not {workers}")
    upcoming = iter(recordings)
    batch: list[tuple[_Recording, int, np.ndarray, int | None]] = []

    def flush() -> None:
        waveform = torch.from_numpy(np.stack([window for _, _, window, _ in batch]))
        with torch.inference_mode(), autocast(device, True):
            scored = score(waveform.to(device)).float().cpu().numpy()  # (batch, frames, width)
        advance(sum(recording.add(start, keep, frames) for (recording, start, _, keep), frames
                    in zip(batch, scored, strict=True)))
        batch.clear()

    with ThreadPoolExecutor(workers) if workers else contextlib.nullcontext() as pool, \
            contextlib.ExitStack() as readers:  # stops every reader however this ends
        opened: list[tuple[Path, _Recording, Iterator]] = []  # in order, being read
        finished: list[tuple[Path, _Recording]] = []  # read to the end, windows in flight
        while True:
            while len(opened) < workers + 1 and (job := next(upcoming, None)) is not None:
                path, open_recording = job
                try:
                    recording = open_recording()
                except AudioError as error:
                    yield path, error
                    continue
                windows = readers.enter_context(contextlib.closing(
                    iter(recording.windows) if pool is None
                    else _ReadAhead(recording, pool, batch_size)))
                opened.append((path, recording, windows))
            if not opened:
                break
            path, recording, windows = opened.pop(0)
            try:
                for start, window, keep in windows:
                    recording.waiting += 1
                    batch.append((recording, start, window, keep))
                    if len(batch) == batch_size:
                        flush()
            except AudioError as error:
                batch[:] = [item for item in batch if item[0] is not recording]
                yield path, error
                continue
            recording.cut = True
            finished.append((path, recording))
            for done in [item for item in finished if item[1].done]:
                finished.remove(done)
                yield done
        if batch:  # the last recording's tail
            flush()
        yield from finished


def _stitched(score: Score, config: RunConfig, path: Path, *, hop: int, batch_size: int,
              channel: int | None, advance: Callable[[float], None], device: torch.device,
              width: int, gaps: bool = False) -> _Recording:
    """``score`` of one file's windows stitched (:func:`_score_recordings` with that file
    alone): the finished :class:`_Recording`, its gaps found when ``gaps``."""
    [(_, result)] = _score_recordings(
        score, [(path, lambda: _Recording(path, config, hop=hop, channel=channel, width=width,
                                          gaps=gaps))],
        batch_size=batch_size, device=device, advance=advance)
    if isinstance(result, AudioError):
        raise result
    return result


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
                         advance=bar.update, device=device, width=width).traces()


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


def _gapped_traces(recording: _Recording,
                   config: RunConfig) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Detection scores and band contrast of a finished recording scored with gaps, and
    its gaps.

    Its traces are ``(frames, 2 * classes)`` (:func:`_detection_score`). The scores of
    the frames ``f`` whose span ``[f, f + 1)`` hops lies inside a gap are zero, so that a
    window that is mostly gap spreads nothing into its neighbours.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, pandas.DataFrame)
        Scores and contrast, each float32 ``(frames, classes)``, and the gaps:
        ``begin_s, end_s, kind`` (``silence`` or ``flat``), in time order.
    """
    features, found = config.features, recording.gaps.found
    scores, contrast = np.split(recording.traces(), 2, axis=1)  # (frames, classes) each
    step = features.hop_length
    for begin, end, _ in found:
        scores[-(-begin // step):end // step] = 0
    spans = np.asarray([gap[:2] for gap in found], dtype=float).reshape(-1, 2)
    spans /= features.sample_rate
    return scores, contrast, pd.DataFrame({"begin_s": spans[:, 0], "end_s": spans[:, 1],
                                           "kind": [kind for *_, kind in found]})


def recording_traces(trained: TrainedModel, path: str | Path, *, gate: bool,
                     hop_s: float | None, batch_size: int = 32
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Detection scores (zero inside gaps) and band contrast of one recording, each
    float32 ``(frames, classes)``: what :func:`detect_recording` finds events in."""
    config = trained.config
    recording = _stitched(_detection_score(trained.model, config, trained.bands, gate=gate),
                          config, Path(path), hop=hop_frames(config, hop_s),
                          batch_size=batch_size, channel=None, advance=lambda seconds: None,
                          device=trained.device, width=2 * len(config.classes), gaps=True)
    scores, contrast, _ = _gapped_traces(recording, config)
    return scores, contrast


def _cut_at_gaps(events: pd.DataFrame, gaps: pd.DataFrame, scores: np.ndarray, *,
                 classes: Sequence[str], frames_per_second: float,
                 min_duration_s: float) -> pd.DataFrame:
    """``events`` without their parts inside ``gaps`` (both ``begin_s, end_s`` tables).

    An event inside a gap is dropped; one that overlaps gaps keeps its parts outside
    them that last at least ``min_duration_s``, each scored (``score``, ``mean_score``)
    on its own frames of ``scores`` ``(frames, classes)``.

    Examples
    --------
    >>> events = find_events(np.full((100, 1), 0.8), ["a"], frames_per_second=10.0)
    >>> gaps = pd.DataFrame({"begin_s": [0.0, 3.0], "end_s": [1.0, 3.15]})
    >>> _cut_at_gaps(events, gaps, np.full((100, 1), 0.8), classes=["a"],
    ...              frames_per_second=10.0, min_duration_s=0.2)[["begin_s", "end_s"]]
       begin_s  end_s
    0     1.00    3.0
    1     3.15   10.0
    """
    spans = gaps[["begin_s", "end_s"]].to_numpy()
    rows = []
    for event in events.itertuples(index=False):
        begin, parts = event.begin_s, []
        for gap_begin, gap_end in spans[(spans[:, 1] > begin) & (spans[:, 0] < event.end_s)]:
            parts.append((begin, gap_begin))
            begin = max(begin, gap_end)
        parts = [(first, last) for first, last in [*parts, (begin, event.end_s)] if last > first]
        if parts == [(event.begin_s, event.end_s)]:
            rows.append(event)
            continue
        trace = scores[:, list(classes).index(event.label)]
        for first, last in parts:
            if last - first >= min_duration_s:
                frames = trace[int(first * frames_per_second):
                               max(int(first * frames_per_second) + 1,
                                   math.ceil(last * frames_per_second))]
                rows.append(event._replace(begin_s=first, end_s=last, score=float(frames.max()),
                                           mean_score=float(frames.mean())))
    return pd.DataFrame(rows, columns=events.columns).astype(events.dtypes.to_dict())


def _recording_events(recording: _Recording, config: RunConfig, *,
                      bands: Mapping[str, tuple[float, float]],
                      settings: DetectConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events and gaps of a finished recording scored with gaps
    (:func:`detect_recording_with_gaps`)."""
    scores, contrast, gaps = _gapped_traces(recording, config)
    frames_per_second = config.features.frames_per_second
    events = find_events(scores, config.classes, frames_per_second=frames_per_second,
                         threshold=settings.threshold, low_threshold=settings.low_threshold,
                         min_duration_s=settings.min_duration_s,
                         merge_gap_s=settings.merge_gap_s, bands=bands,
                         contrast=contrast if settings.trim else None)
    events["end_s"] = events["end_s"].clip(upper=audio_info(recording.path).duration)
    return _cut_at_gaps(events, gaps, scores, classes=config.classes,
                        frames_per_second=frames_per_second,
                        min_duration_s=settings.min_duration_s), gaps


def detect_recording_with_gaps(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                               bands: Mapping[str, tuple[float, float]], settings: DetectConfig,
                               batch_size: int = 32, channel: int | None = None,
                               advance: Callable[[float], None] = lambda seconds: None
                               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events and gaps of one recording: what ``whalelab detect`` writes and evaluation scores.

    Detection scores and band contrast are stitched over the windows
    (:func:`detection_traces`) while the gaps are found (runs of zeros or of one value
    lasting ``MIN_GAP_S`` or more); the scores inside gaps are set to zero, events are
    found with ``settings`` (:func:`whalelab.events.find_events`; trimmed by band
    contrast when ``settings.trim``), no event ends after the recording does (the last
    frame's end is cut to the file's), and the events are cut at the gap edges
    (:func:`_cut_at_gaps`): none lies inside a gap.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The events, ``begin_s, end_s, low_hz, high_hz, label, score, mean_score``, and
        the gaps, ``begin_s, end_s, kind`` (``silence`` or ``flat``).
    """
    recording = _stitched(_detection_score(model, config, bands, gate=settings.gate), config,
                          Path(path), hop=hop_frames(config, settings.hop_s),
                          batch_size=batch_size, channel=channel, advance=advance,
                          device=next(model.parameters()).device,
                          width=2 * len(config.classes), gaps=True)
    return _recording_events(recording, config, bands=bands, settings=settings)


def detect_recording(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                     bands: Mapping[str, tuple[float, float]], settings: DetectConfig,
                     batch_size: int = 32, channel: int | None = None,
                     advance: Callable[[float], None] = lambda seconds: None) -> pd.DataFrame:
    """The events of one recording, as :func:`detect_recording_with_gaps` finds them.

    Returns
    -------
    pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label, score, mean_score``.
    """
    return detect_recording_with_gaps(model, config, path, bands=bands, settings=settings,
                                      batch_size=batch_size, channel=channel,
                                      advance=advance)[0]


def default_workers(device: torch.device) -> int:
    """Reading threads for detection over many files: 2 on a GPU (which is otherwise kept
    waiting by decoding and resampling), 0 on the CPU (whose cores run the model)."""
    return 2 if device.type == "cuda" else 0


class _Failures:
    """Unreadable audio files: raised, or (``on_error="skip"``) warned about and counted."""

    def __init__(self, on_error: str) -> None:
        check_on_error(on_error)
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


def detect_files(model_source: str | Path, inputs: Sequence[str | Path], out: str | Path, *,
                 hop_s: float | None = None, threshold: float | None = None,
                 low_threshold: float | None = None, min_duration_s: float | None = None,
                 merge_gap_s: float | None = None, trim: bool | None = None,
                 gate: bool | None = None, batch_size: int = 32, device: str = "auto",
                 engine: str = "torch", workers: int | None = None,
                 channel: int | None = None, on_error: str = "raise",
                 overwrite: bool = False, progress: bool | None = None) -> pd.DataFrame:
    """Detect calls in recordings; one Raven table per file and a combined ``events.csv``.

    Parameters
    ----------
    model_source : path
        A trained run folder, or a model file (``RUN/best.pt``).
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
    hop_s, threshold, low_threshold, min_duration_s, merge_gap_s, trim, gate
        Detection settings (:class:`whalelab.config.DetectConfig`); None keeps the run's
        own (``config.json``'s ``detect``).
    batch_size, channel
        As in :func:`framewise_probabilities`.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    workers : int or None
        Threads that read (decode, resample, cut into windows) the next recordings while
        the current one is scored; windows of consecutive recordings share batches, so
        the model never waits on one file's tail, and each file's events are those of
        detecting it alone. None: :func:`default_workers`. Memory grows by one read
        block and two batches of windows per worker.
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
    failures = _Failures(on_error)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if not inputs:
        raise DataError("no audio files or folders given to detect in")
    out = Path(out)
    jobs = _jobs(inputs, out)
    check_engine(engine, resolve_device(device))
    trained = load_model(model_source, device=device)
    if engine == "onnx":
        trained = dataclasses.replace(trained, model=onnx_model(trained))
    settings = detection_settings(trained.config, hop_s=hop_s, threshold=threshold,
                                  low_threshold=low_threshold, min_duration_s=min_duration_s,
                                  merge_gap_s=merge_gap_s, trim=trim, gate=gate)
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
        if failures.skipped:
            warnings.warn(f"{len(failures.skipped)} of {len(jobs)} file(s) could not be read "
                          f"and were skipped", stacklevel=2)
        return _combined_events(jobs, out)


def _detect_pending(trained: TrainedModel, pending: dict[Path, tuple[Path, float]],
                    failures: _Failures, *, settings: DetectConfig, batch_size: int,
                    channel: int | None, workers: int, progress: bool | None) -> None:
    """Detect the pending recordings, their windows sharing batches
    (:func:`_score_recordings`, ``workers`` reading ahead); as each is finished, write
    its gaps file (when it has gaps), then its table."""
    config = trained.config
    hop = hop_frames(config, settings.hop_s)
    began, seconds = time.perf_counter(), 0.0
    with _speed_bar(sum(duration for _, duration in pending.values()) / 3600, progress) as bar:
        def advance(done: float) -> None:
            nonlocal seconds
            seconds += done
            bar.update(done / 3600)
            bar.set_postfix_str(f"{seconds / max(time.perf_counter() - began, 1e-9):.0f}x "
                                f"real time", refresh=False)

        scored = _score_recordings(
            _detection_score(trained.model, config, trained.bands, gate=settings.gate),
            [(audio, partial(_Recording, audio, config, hop=hop, channel=channel,
                             width=2 * len(config.classes), gaps=True)) for audio in pending],
            batch_size=batch_size, device=trained.device, workers=workers, advance=advance)
        for audio, recording in scored:
            if isinstance(recording, AudioError):
                failures.fail(audio, recording)
                continue
            events, gaps = _recording_events(recording, config, bands=trained.bands,
                                             settings=settings)
            table = pending[audio][0]
            if len(gaps):
                atomic_write(_gaps_file(table),
                             lambda temporary: gaps.to_csv(temporary, index=False))
            else:
                _gaps_file(table).unlink(missing_ok=True)
            write_raven(events.assign(begin_file=audio.name), table)
