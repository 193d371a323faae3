"""Reading and writing audio files: float32 at the rate asked for, whatever the file holds.

The only module that opens audio files (see :mod:`whalelab.audio`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from whalelab.atomic import atomic_write
from whalelab.audio.headers import SHORTFALL_FRAMES, check_header_length, short_decode
from whalelab.errors import AudioError

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".opus", ".mp3")
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF", ".ogg": "OGG",
            ".opus": "OGG", ".mp3": "MP3"}
#: audio formats libsndfile cannot decode: left out of folders, with one warning
UNREADABLE_SUFFIXES = (".m4a", ".aac", ".wma", ".mp4", ".ac3", ".amr", ".ape", ".mka")
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


def audio_files_under(folder: Path) -> list[Path]:
    """The audio files whalelab reads under ``folder``, searched recursively, hidden files
    aside, in sorted order; the files of a format it cannot read are counted in one
    warning (:func:`warn_of_unreadable_audio`)."""
    everything = sorted(folder.rglob("*"))
    warn_of_unreadable_audio(everything, where=folder)
    return [path for path in everything if is_audio_file(path) and not path.name.startswith(".")]


def warn_of_unreadable_audio(files: Iterable[Path], *, where: str | Path) -> None:
    """One warning counting the files among ``files`` of an audio format whalelab cannot
    read (:data:`UNREADABLE_SUFFIXES`, hidden files aside), which a folder search leaves
    out, naming their suffixes and ``where`` they were found.

    Examples
    --------
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_of_unreadable_audio([Path("a.m4a"), Path("b.wav"), Path("c.M4A")], where="d")
    >>> str(caught[0].message).split(";")[0]
    'd: 2 audio file(s) left out (.m4a), a format whalelab cannot read'
    """
    left_out = Counter(path.suffix.lower() for path in files
                       if path.suffix.lower() in UNREADABLE_SUFFIXES
                       and not path.name.startswith("."))
    if left_out:
        warnings.warn(f"{where}: {sum(left_out.values())} audio file(s) left out "
                      f"({', '.join(sorted(left_out))}), a format whalelab cannot read; "
                      f"convert them (e.g. ffmpeg -i x.m4a x.flac) to use them", stacklevel=3)


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, channels and length of ``path`` from its header, without decoding.

    Raises
    ------
    AudioError
        The file is missing, a folder, unreadable, has no samples, or its header's
        length disagrees with the data (:func:`_check_header_length`).
    """
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path}: a folder, not an audio file")
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{path}: unreadable or corrupt audio ({error})") from None
    check_header_length(path, info)
    if info.frames <= 0:
        raise AudioError(f"{path}: the file holds no samples (zero length)")
    return AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels),
                     frames=int(info.frames))



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
        An audio file of a format in :data:`AUDIO_SUFFIXES`.
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
        Missing, unreadable, corrupt or empty file; NaN/inf samples; offset past the end;
        fewer frames decoded than the header promises (more than :data:`SHORTFALL_FRAMES`).
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
    promised = info.frames - start if frames < 0 else min(frames, info.frames - start)
    if block.shape[0] < promised - SHORTFALL_FRAMES or block.shape[0] == 0:
        raise AudioError(short_decode(path, promised=info.frames,
                                       decoded=start + block.shape[0], rate=info.sample_rate))
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
        As :func:`load_audio` (a decoder that stops short of the header's length is
        found at the last block); also when the file is too short to leave a sample at ``sr``.
    """
    info = audio_info(path)
    path = info.path
    block_frames = max(1, int(block_seconds * info.sample_rate))
    resampler, total, decoded = None, 0, 0
    if info.sample_rate != sr:
        resampler = soxr.ResampleStream(info.sample_rate, sr, 1, dtype="float32", quality="HQ")
    try:
        with soundfile.SoundFile(str(path)) as handle:
            while True:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
                decoded += block.shape[0]
                last = block.shape[0] < block_frames
                if last and decoded < info.frames - SHORTFALL_FRAMES:
                    raise AudioError(short_decode(path, promised=info.frames, decoded=decoded,
                                                   rate=info.sample_rate))
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

    ``subtype`` is soundfile's: ``PCM_16``, ``PCM_24``, ``FLOAT``, ``VORBIS`` or ``OPUS``
    for OGG, ``MPEG_LAYER_III`` for MP3...
    """
    path = Path(path)
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise AudioError(f"{path}: cannot write {path.suffix!r}; use one of {AUDIO_SUFFIXES}")
    if not soundfile.check_format(file_format, subtype):
        raise AudioError(f"{path}: cannot write {file_format} as {subtype!r}; use one of "
                         f"{', '.join(soundfile.available_subtypes(file_format))}")
    atomic_write(path, lambda temporary: soundfile.write(
        str(temporary), samples, sr, subtype=subtype, format=file_format))
