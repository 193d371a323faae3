"""Windows of long recordings through a model, stitched into traces on the recording's frames.

A recording of any length is read block by block (:func:`whalelab.audio.stream_audio`),
cut into windows of the run's clip length that overlap (by half by default) by
:class:`whalelab.audio.Windows`, the one window cutter, and the windows go through the
model in batches. Each window's frames land on the recording's frame grid (frame ``f``
at ``f * hop_length`` samples; window hops are rounded to whole frames so that windows
sit exactly on that grid) and the overlapping estimates of a frame are averaged. Each
window contributes a whole number of hops of frames (312 of its 313 at the default
50 % overlap), so that every frame is averaged over the same number of windows and
window edges leave no seams.

- A file shorter than one window is tiled: repeated end to end into one window, one
  copy centred (on a whole frame), as training serves short clips; only the frames of
  that copy are stitched, so the recording's trace covers the file alone and no event
  lies in the repeats. Digital silence around it would be a picture training never
  shows, would drag the per-clip level normalisation down, and the gap finder never
  sees it.
- The tail of a longer file that the regular windows miss gets one more window that
  ends at the file's end (rounded up to a whole frame, so padded by less than a frame).
- Memory: the audio held is at most one read block (``BLOCK_SECONDS``) plus one
  window; the traces kept are ``(frames, width)`` float32, about 1.5 MB per recorded
  hour and 6 columns at 62.5 frames/s.

Gaps: a dropout (a run of zeros, ``silence``) or a stuck signal (a flat line, ``flat``)
at least ``MIN_GAP_S`` long holds no call, yet a model scores it like anything else
(digital silence looks like a quiet blue whale band): a run of silent samples, as
:mod:`whalelab.silence` defines them for prediction too. Such runs are found in the
samples the windows are cut from (the file at the run's rate), block by block as they
stream, so a gap may span blocks (:attr:`StitchedRecording.silence`).

Many recordings share batches (:func:`score_recordings`): with ``workers``, threads
read the next recordings while the current one is scored.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from whalelab.audio import BLOCK_SECONDS, AudioRule, Window, Windows, audio_info, stream_audio
from whalelab.config import RunConfig
from whalelab.errors import AudioError, ConfigError
from whalelab.runtime import autocast
from whalelab.silence import MIN_GAP_S, Silence



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


#: ``(batch, samples)`` waveforms to ``(batch, frames, width)`` scores of each frame
Score = Callable[[torch.Tensor], torch.Tensor]


class StitchedRecording:
    """One file's windows on their way through the model, and its stitched scores.

    Iterating :attr:`windows` reads the file block by block (decoding and resampling in
    whichever thread iterates) and yields :class:`whalelab.audio.Window` s;
    :meth:`add` puts a scored window's kept frames on the file's frame grid; once every
    window is in, :meth:`traces` is the average, ``(frames, width)``. The gaps are found
    as the blocks stream (:attr:`silence`).

    The file is checked as prediction checks it, by the one rule of what audio a run
    reads (:meth:`whalelab.audio.AudioRule.for_scoring`, with the run's ``low_rate``):
    :attr:`note` says how it is read only in part (a rate below ``fmax``, channels
    mixed), also as a warning naming it.

    Raises
    ------
    AudioError
        When the file's header cannot be read, or the rule refuses the file (too short
        for one STFT window, a rate at or below ``fmin``, below ``fmax`` with
        ``low_rate="refuse"``, a channel it lacks); later decoding errors come from
        iterating :attr:`windows`.
    """

    def __init__(self, path: Path, config: RunConfig, *, hop: int, channel: int | None,
                 width: int) -> None:
        features = config.features
        self.path, self.step, self.clip = path, features.hop_length, features.clip_samples
        info = audio_info(path)
        self.note = AudioRule.for_scoring(config, channel=channel).check(info)
        expected = math.ceil(info.frames * features.sample_rate / info.sample_rate)
        self.total = np.zeros((1 + expected // self.step + features.n_frames, width),
                              dtype=np.float32)  # (frames, width) running sum
        self.count = np.zeros(len(self.total), dtype=np.float32)  # (frames,) windows per frame
        self.silence = Silence(min_gap=round(MIN_GAP_S * features.sample_rate))
        blocks = stream_audio(path, features.sample_rate, block_seconds=BLOCK_SECONDS,
                              channel=channel)
        self.windows = Windows(self.silence.watch(blocks),
                               clip=self.clip, hop=hop * self.step, step=self.step,
                               keep=min(features.n_frames, hop * (features.n_frames // hop)))
        self.sample_rate, self.amp = features.sample_rate, config.train.amp
        self.covered = 0  # samples up to the end of the last window added
        self.cut = False  # every window has been cut (the file is read to its end)
        self.waiting = 0  # windows cut but not yet added

    def add(self, start: int, keep: slice, frames: np.ndarray) -> float:
        """Stitch one window's kept ``(frames, width)`` scores in; the seconds of audio
        newly covered (for progress)."""
        frames, first = frames[keep], start // self.step + keep.start
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

    def __init__(self, recording: StitchedRecording, pool: ThreadPoolExecutor,
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

    def _read(self, recording: StitchedRecording) -> None:
        try:
            for window in recording.windows:
                if not self._offer(window):
                    return
            self._offer(_END)
        except Exception as error:  # raised again where the windows are wanted
            self._offer(error)

    def __iter__(self) -> Iterator[Window]:
        return self

    def __next__(self) -> Window:
        item = self.ready.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.stop.set()


def score_recordings(score: Score, paths: Sequence[Path], *, config: RunConfig, hop: int,
                     width: int, channel: int | None, batch_size: int, device: torch.device,
                     workers: int = 0, advance: Callable[[float], None] = lambda seconds: None
                     ) -> Iterator[tuple[Path, StitchedRecording | AudioError]]:
    """Score the windows of many recordings in shared batches; yield each recording as
    soon as its last window is stitched in (or the AudioError that stopped it).

    ``score`` maps ``(batch, clip_samples)`` windows to ``(batch, frames, width)``; the
    windows start every ``hop`` frames (:func:`hop_frames`) and are read from
    ``channel`` (None mixes the channels) at the run's rate; ``advance`` is called with
    the seconds of audio each batch newly covers.

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
    upcoming = iter(paths)
    batch: list[tuple[StitchedRecording, int, np.ndarray, slice]] = []

    def flush() -> None:
        waveform = torch.from_numpy(np.stack([window for _, _, window, _ in batch]))
        with torch.inference_mode(), autocast(device, batch[0][0].amp):
            scored = score(waveform.to(device)).float().cpu().numpy()  # (batch, frames, width)
        advance(sum(recording.add(start, keep, frames) for (recording, start, _, keep), frames
                    in zip(batch, scored, strict=True)))
        batch.clear()

    with ThreadPoolExecutor(workers) if workers else contextlib.nullcontext() as pool, \
            contextlib.ExitStack() as readers:  # stops every reader however this ends
        opened: list[tuple[Path, StitchedRecording, Iterator]] = []  # in order, being read
        finished: list[tuple[Path, StitchedRecording]] = []  # read to the end, in flight
        while True:
            while len(opened) < workers + 1 and (path := next(upcoming, None)) is not None:
                try:
                    recording = StitchedRecording(path, config, hop=hop, channel=channel,
                                                  width=width)
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


def default_workers(device: torch.device) -> int:
    """Reading threads for detection over many files: 2 on a GPU (which is otherwise kept
    waiting by decoding and resampling), 0 on the CPU (whose cores run the model)."""
    return 2 if device.type == "cuda" else 0




def stitch(score: Score, config: RunConfig, path: Path, *, hop: int, width: int,
           batch_size: int, channel: int | None, device: torch.device,
           advance: Callable[[float], None] = lambda seconds: None) -> StitchedRecording:
    """``score`` of one file's windows stitched (:func:`score_recordings` with that file
    alone): the finished :class:`StitchedRecording`, its gaps found.

    Raises
    ------
    AudioError
        The file is missing, unreadable or corrupt, or ``channel`` is out of range.
    """
    [(_, result)] = score_recordings(score, [path], config=config, hop=hop, width=width,
                                     channel=channel, batch_size=batch_size, device=device,
                                     advance=advance)
    if isinstance(result, AudioError):
        raise result
    return result
