"""The only module that opens audio files, and the one place that cuts audio into clips.

Everything whalelab reads arrives as float32 mono (or one chosen channel) at the
configured sample rate, whatever the file holds: WAV, FLAC, AIFF or OGG; 8, 16,
24-bit or float; any sample rate; mono or multi-channel. Problems with a file raise
:class:`whalelab.errors.AudioError` naming the file.

A signal becomes clips of a fixed length in one of two ways, each with one rule for
audio that is too short:

- :func:`tile`: one clip from a waveform, cropped when it is longer, repeated end to end
  when it is shorter (training's and evaluation's clips);
- :class:`Windows`: overlapping windows of a signal read as a stream of blocks
  (prediction, detection, the band-energy baseline). A signal shorter than a window is
  tiled into one window, one copy centred; a tail that the regular windows miss gets
  one final window ending at the signal's end.

Short audio is never padded with digital silence: a clip of noise followed by zeros
has a log-mel picture (a hard edge, then the floor at ``top_db`` below its peak) that
no recording has, that drags a per-clip level normalisation down, and that a model
reads as a call. Repeating keeps each band's level and spread; reflecting would too,
but it plays calls backwards (an upsweep becomes a downsweep).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile
import soxr

from whalelab.atomic import atomic_write
from whalelab.errors import AudioError

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg")
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF", ".ogg": "OGG"}
#: seconds of audio :func:`stream_audio` reads from disk at a time
BLOCK_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding the samples."""

    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def is_audio_file(path: Path) -> bool:
    """True when the suffix is one whalelab reads."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, channels and length of ``path`` from its header, without decoding.

    Raises
    ------
    AudioError
        The file is missing, unreadable, has no samples, or is shorter than its header says.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{path}: unreadable or corrupt audio ({error})") from None
    if info.frames <= 0:
        raise AudioError(f"{path}: the file holds no samples (zero length)")
    _check_not_truncated(path, info)
    return AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels),
                     frames=int(info.frames))


def _check_not_truncated(path: Path, info: soundfile._SoundFileInfo) -> None:
    """For WAV and AIFF, compare the sample chunk's size in the header with the bytes on disk.

    libsndfile silently shortens a truncated file to the frames present, so the header's
    own promise (the ``data`` or ``SSND`` chunk size) is read here.
    """
    if info.format not in ("WAV", "AIFF"):
        return
    byteorder = "big" if info.format == "AIFF" else "little"
    file_size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(12)[:4] not in (b"RIFF", b"FORM"):
            return  # RF64, Wave64...: not checked
        position = 12
        while position + 8 <= file_size:
            handle.seek(position)
            chunk = handle.read(8)
            size = int.from_bytes(chunk[4:], byteorder)
            if chunk[:4] in (b"data", b"SSND"):
                available = file_size - position - 8
                if 0 < size != 0xFFFFFFFF and size > available:
                    raise AudioError(f"{path}: truncated file: the header promises {size} "
                                     f"bytes of samples but only {available} are there")
                return
            position += 8 + size + (size & 1)


def _to_output(block: np.ndarray, path: Path, mono: bool, channel: int | None) -> np.ndarray:
    """``(frames, channels)`` -> ``(frames,)`` mixed or chosen, or ``(channels, frames)``."""
    if channel is not None:
        if not 0 <= channel < block.shape[1]:
            raise AudioError(f"{path}: channel {channel} asked for, the file has "
                             f"{block.shape[1]} channel(s)")
        return block[:, channel]
    if mono:
        return block.mean(axis=1)
    return block.T


def _check_finite(samples: np.ndarray, path: Path) -> None:
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: the audio holds NaN or infinite samples")


def load_audio(path: str | Path, sr: int, *, mono: bool = True, offset: float = 0.0,
               duration: float | None = None, channel: int | None = None) -> np.ndarray:
    """Read ``duration`` seconds from ``offset`` of ``path``, resampled to ``sr``.

    Only the frames asked for are decoded, so taking 5 s from a 2-hour file is cheap.
    Resampling uses soxr at high quality.

    Parameters
    ----------
    path : str or Path
        A WAV, FLAC, AIFF or OGG file.
    sr : int
        Sample rate of the result in Hz.
    mono : bool
        Mix all channels down (their mean). With ``mono=False`` the result is
        ``(channels, samples)``.
    offset, duration : float
        Start and length in seconds; ``duration=None`` reads to the end.
    channel : int or None
        Take this one channel (0-based) instead of mixing.

    Returns
    -------
    numpy.ndarray
        float32, ``(samples,)`` (or ``(channels, samples)`` with ``mono=False``).

    Raises
    ------
    AudioError
        Missing, unreadable, corrupt or empty file; NaN/inf samples; offset past the end.
    """
    info = audio_info(path)
    path = info.path
    if sr <= 0:
        raise AudioError(f"{path}: target sample rate must be positive, not {sr}")
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(f"{path}: offset must be >= 0 and duration > 0 "
                         f"(got offset={offset}, duration={duration})")
    start = int(round(offset * info.sample_rate))
    if start >= info.frames:
        raise AudioError(f"{path}: offset {offset:.3f} s is past the end of the file "
                         f"({info.duration:.3f} s)")
    frames = -1 if duration is None else int(round(duration * info.sample_rate))
    try:
        with soundfile.SoundFile(str(path)) as handle:
            handle.seek(start)
            block = handle.read(frames, dtype="float32", always_2d=True)  # (frames, channels)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: could not decode audio ({error})") from None
    if block.shape[0] == 0:
        raise AudioError(f"{path}: no samples could be decoded")
    samples = _to_output(block, path, mono, channel)
    _check_finite(samples, path)
    if info.sample_rate != sr:
        samples = soxr.resample(samples.T, info.sample_rate, sr, quality="HQ").T
    if samples.shape[-1] == 0:
        raise AudioError(_no_samples_left(info, sr))
    return np.ascontiguousarray(samples, dtype=np.float32)


def _no_samples_left(info: AudioInfo, sr: int) -> str:
    return (f"{info.path}: {info.frames} sample(s) at {info.sample_rate} Hz leave none at "
            f"{sr} Hz")


def stream_audio(path: str | Path, sr: int, *, block_seconds: float = BLOCK_SECONDS,
                 channel: int | None = None) -> Iterator[np.ndarray]:
    """Yield a long file as consecutive float32 mono blocks at ``sr``, never reading it whole.

    Resampling is streamed (soxr keeps its filter state across blocks), so the blocks
    join up exactly as one continuous signal; memory stays bounded by ``block_seconds``.

    Yields
    ------
    numpy.ndarray
        ``(samples,)`` float32 blocks; the last one may be shorter (or empty).

    Raises
    ------
    AudioError
        As :func:`load_audio`; also when the file is too short to leave a sample at ``sr``.
    """
    info = audio_info(path)
    path = info.path
    block_frames = max(1, int(block_seconds * info.sample_rate))
    resampler, total = None, 0
    if info.sample_rate != sr:
        resampler = soxr.ResampleStream(info.sample_rate, sr, 1, dtype="float32", quality="HQ")
    try:
        with soundfile.SoundFile(str(path)) as handle:
            while True:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
                last = block.shape[0] < block_frames
                samples = np.ascontiguousarray(_to_output(block, path, True, channel))
                _check_finite(samples, path)
                if resampler is not None:
                    samples = resampler.resample_chunk(samples, last=last)
                total += len(samples)
                if last and not total:
                    raise AudioError(_no_samples_left(info, sr))
                yield samples.astype(np.float32, copy=False)
                if last:
                    return
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: could not decode audio ({error})") from None


def write_audio(path: str | Path, samples: np.ndarray, sr: int, *, subtype: str = "PCM_16") -> None:
    """Write float samples ``(samples,)`` or ``(samples, channels)`` atomically (temp then rename).

    ``subtype`` is soundfile's: ``PCM_16``, ``PCM_24``, ``FLOAT``, ``VORBIS`` for OGG...
    """
    path = Path(path)
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise AudioError(f"{path}: cannot write {path.suffix!r}; use one of {AUDIO_SUFFIXES}")
    atomic_write(path, lambda temporary: soundfile.write(
        str(temporary), samples, sr, subtype=subtype, format=file_format))


def tile(waveform: np.ndarray, samples: int, *, offset: int) -> np.ndarray:
    """``(n,)`` -> ``(samples,)``: sample ``i`` is ``waveform[(i - offset) % n]``.

    The one way whalelab brings audio to a clip's length. A shorter waveform is
    repeated end to end, one copy starting at ``offset`` (``0 <= offset <= samples -
    n``; centred: ``(samples - n) // 2``), the others before and after it. A longer
    one with ``offset = -start`` (``0 <= start <= n - samples``) is cropped to
    ``waveform[start:start + samples]``. ``offset`` is always where the waveform's first
    sample lands in the result. The result is a new array.

    Examples
    --------
    >>> tile(np.arange(3.0), 7, offset=2)  # repeated, one copy at 2
    array([1., 2., 0., 1., 2., 0., 1.])
    >>> tile(np.arange(6.0), 3, offset=-2)  # cropped from 2
    array([2., 3., 4.])
    """
    return waveform[(np.arange(samples) - offset) % len(waveform)]


class Window(NamedTuple):
    """One window of :class:`Windows`.

    Attributes
    ----------
    start : int
        The signal's sample where the window begins; negative for a tiled short signal
        (its own copy then begins at ``-start`` in the window).
    samples : numpy.ndarray
        float32 ``(clip,)``.
    keep : slice
        The window's frames that belong to it in a stitched trace: frame ``j`` of the
        window, at its sample ``j * step``, is the signal's frame ``start // step + j``.
    """

    start: int
    samples: np.ndarray
    keep: slice


class Windows:
    """Cut a signal read as consecutive ``(n,)`` blocks into clip-length :class:`Window` s.

    The one window cutter of prediction, detection and the band-energy baseline. Only
    what the next window needs is held (at most one block plus one window), so a file
    of any length streams through in bounded memory.

    - **Regular windows** start every ``hop`` samples while they fit in the signal; each
      keeps its first ``keep`` frames (a window of ``clip`` samples holds ``1 + clip //
      step`` frames, one every ``step`` samples, at both its ends included).
    - **Tail**: when the regular windows' kept frames miss the signal's last frame (at
      sample ``samples // step * step``), one final window ends at the signal's end, its
      start rounded up to a whole ``step`` (so that it lies on the frame grid; the less
      than ``step`` samples it reaches past the end are zeros); it keeps all its frames.
      With ``step=1`` it ends exactly at the end.
    - **Short signal** (fewer than ``clip`` samples): one window of the signal repeated
      end to end (:func:`tile`), one copy centred, its start rounded down to a whole
      ``step``; :attr:`Window.start` is minus that offset, and the window keeps only
      the frames of that copy, ``1 + samples // step`` of them.

    Parameters
    ----------
    blocks : iterable of numpy.ndarray
        The signal, float32 ``(n,)`` blocks in order (:func:`stream_audio`).
    clip : int
        Window length in samples.
    hop : int
        Samples between regular windows' starts (a multiple of ``step`` for stitching).
    step : int
        The frame step (a log-mel's ``hop_length``); 1 when frames do not matter.
    keep : int or None
        Frames each regular window keeps; None: all ``1 + clip // step``.

    Attributes
    ----------
    samples : int
        The signal's length in samples read so far (all of it once iterated).

    Examples
    --------
    >>> blocks = [np.arange(6.0), np.arange(6.0, 11.0)]
    >>> [window.start for window in Windows(blocks, clip=4, hop=3)]
    [0, 3, 6, 7]
    >>> next(iter(Windows([np.array([1.0, 2.0])], clip=5, hop=2)))
    Window(start=-1, samples=array([2., 1., 2., 1., 2.]), keep=slice(1, 4, None))
    """

    def __init__(self, blocks: Iterable[np.ndarray], *, clip: int, hop: int, step: int = 1,
                 keep: int | None = None) -> None:
        self.blocks, self.clip, self.hop, self.step = blocks, clip, hop, step
        self.keep = 1 + clip // step if keep is None else keep
        self.samples = 0

    def __iter__(self) -> Iterator[Window]:
        clip, hop, step = self.clip, self.hop, self.step
        buffer, offset, start = np.zeros(0, dtype=np.float32), 0, 0  # buffer[0] is sample offset
        for block in self.blocks:
            buffer = np.concatenate([buffer, block])
            self.samples += len(block)
            while start + clip <= self.samples:
                yield Window(start, buffer[start - offset:start - offset + clip],
                             slice(0, self.keep))
                start += hop
            # keep what the next window needs, and the last clip for a final tail window
            keep_from = max(offset, min(start, self.samples - clip))
            buffer, offset = buffer[keep_from - offset:], keep_from
        if self.samples < clip:
            left = (clip - self.samples) // 2 // step * step
            yield Window(-left, tile(buffer, clip, offset=left),
                         slice(left // step, left // step + 1 + self.samples // step))
            return
        last_kept = (start - hop) // step + self.keep - 1  # the regular windows' last frame
        if last_kept < self.samples // step:
            tail = math.ceil((self.samples - clip) / step) * step
            window = buffer[tail - offset:tail - offset + clip]
            yield Window(tail, np.pad(window, (0, clip - len(window))), slice(0, None))
