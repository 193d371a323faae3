"""The only module that opens audio files.

Everything whalelab reads arrives as float32 mono (or one chosen channel) at the
configured sample rate, whatever the file holds: WAV, FLAC, AIFF or OGG; 8, 16,
24-bit or float; any sample rate; mono or multi-channel. Problems with a file raise
:class:`whalelab.errors.AudioError` naming the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from whalelab.atomic import atomic_write
from whalelab.errors import AudioError

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg")
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF", ".ogg": "OGG"}


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
    return np.ascontiguousarray(samples, dtype=np.float32)


def stream_audio(path: str | Path, sr: int, *, block_seconds: float = 60.0,
                 channel: int | None = None) -> Iterator[np.ndarray]:
    """Yield a long file as consecutive float32 mono blocks at ``sr``, never reading it whole.

    Resampling is streamed (soxr keeps its filter state across blocks), so the blocks
    join up exactly as one continuous signal; memory stays bounded by ``block_seconds``.

    Yields
    ------
    numpy.ndarray
        ``(samples,)`` float32 blocks; the last one may be shorter (or empty).
    """
    info = audio_info(path)
    path = info.path
    block_frames = max(1, int(block_seconds * info.sample_rate))
    resampler = None
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
