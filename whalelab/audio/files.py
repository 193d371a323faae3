"""Reading and writing audio files: float32 at the rate asked for, whatever the file holds.

The only module that opens audio files (see :mod:`whalelab.audio`). A file may be a
local path or an fsspec URL (:mod:`whalelab.audio.remote`), read in ranges.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile
import soxr

from whalelab.atomic import atomic_write
from whalelab.audio.headers import SHORTFALL_FRAMES, check_header_length, short_decode
from whalelab.audio.remote import AudioSource, RemoteFile, audio_source
from whalelab.errors import AudioError, DataError

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

    path: AudioSource
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def is_audio_file(path: Path | RemoteFile) -> bool:
    """True when the suffix is one whalelab reads."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def audio_files_under(folder: Path) -> list[Path]:
    """The audio files whalelab reads under ``folder``, searched recursively, hidden files
    aside, in sorted order; the files of a format it cannot read are counted in one
    warning (:func:`warn_of_unreadable_audio`)."""
    everything = sorted(folder.rglob("*"))
    warn_of_unreadable_audio(everything, where=folder)
    return [path for path in everything if is_audio_file(path) and not path.name.startswith(".")]


def remote_audio_files(item: RemoteFile) -> list[RemoteFile]:
    """``[item]`` for a URL that ends in an audio suffix (never listed: over HTTP that
    would fetch it) or names no folder; else the audio files under it as a folder (a
    bucket prefix), searched recursively in sorted order."""
    below = None if is_audio_file(item) else item.files_below()
    return [item] if below is None else [path for path in below if is_audio_file(path)]


def input_audio_files(item: AudioSource) -> list[tuple[AudioSource, str | None]]:
    """The audio files one input names, each with its path under the input folder's own
    name (POSIX, e.g. ``dayA/deep/rec.wav``), or None for a file given alone: a local
    folder searched as :func:`audio_files_under` does, a URL as
    :func:`remote_audio_files` does; anything else is a file given alone (whether it
    exists is for its reader to say).

    Raises
    ------
    DataError
        A folder that holds no audio files.
    """
    if isinstance(item, RemoteFile):
        found = remote_audio_files(item)
        if found == [item]:
            return [(item, None)]
        pairs = [(audio, f"{item.name}/{audio.relative_to(item)}") for audio in found]
    elif item.is_dir():
        root = Path(item.resolve().name)
        pairs = [(path, (root / path.relative_to(item)).as_posix())
                 for path in audio_files_under(item)]
    else:
        return [(item, None)]
    if not pairs:
        raise DataError(f"{item}: the folder holds no audio files")
    return pairs


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


def audio_info(path: str | Path | RemoteFile) -> AudioInfo:
    """Sample rate, channels and length of ``path`` (a file or a URL) from its header,
    without decoding.

    Raises
    ------
    AudioError
        The file is missing, a folder, unreadable, has no samples, or its header's
        length disagrees with the data (:func:`_check_header_length`).
    """
    with _opened(path) as (info, _):
        return info


def recording_record(audio: str | Path | RemoteFile) -> dict[str, Any]:
    """What an output records of the recording it was made from, to know it again and to
    see that it changed: the path or URL as given, resolved, its size, and a local
    file's modification time or a URL's version (ETag or time, where the store gives one).
    """
    audio = audio_source(audio)
    if isinstance(audio, RemoteFile):
        return {"file": str(audio), "resolved": str(audio), **audio.details()}
    stat = audio.stat()
    return {"file": str(audio), "resolved": str(audio.resolve()), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns}


@contextlib.contextmanager
def _opened(path: str | Path | RemoteFile) -> Iterator[tuple[AudioInfo, str | IO[bytes]]]:
    """The file's :class:`AudioInfo` (its header checked), and what soundfile reads it
    from: a local file's path, or a URL's remote file, open while the block runs."""
    source = audio_source(path)
    if isinstance(source, RemoteFile):
        with source.open() as handle:
            yield _header(source, handle, handle), handle
        return
    if source.is_dir():
        raise AudioError(f"{source}: a folder, not an audio file")
    if not source.is_file():
        raise AudioError(f"{source}: no such audio file")
    with open(source, "rb") as handle:
        info = _header(source, str(source), handle)
    yield info, str(source)


def _header(source: AudioSource, readable: str | IO[bytes], handle: IO[bytes]) -> AudioInfo:
    """What the header of ``readable`` (a path or an open file) says, checked against
    the data that follows it (read from ``handle``)."""
    try:
        if not isinstance(readable, str):
            readable.seek(0)
        info = soundfile.info(readable)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{source}: unreadable or corrupt audio ({error})") from None
    check_header_length(source, info, handle)
    if info.frames <= 0:
        raise AudioError(f"{source}: the file holds no samples (zero length)")
    return AudioInfo(path=source, sample_rate=int(info.samplerate), channels=int(info.channels),
                     frames=int(info.frames))


def _sound_file(readable: str | IO[bytes]) -> soundfile.SoundFile:
    """``readable`` opened by soundfile (an open file from its start)."""
    if not isinstance(readable, str):
        readable.seek(0)
    return soundfile.SoundFile(readable)


def _to_output(block: np.ndarray, path: AudioSource, mono: bool, channel: int | None) -> np.ndarray:
    """``(frames, channels)`` -> ``(frames,)`` mixed or chosen, or ``(channels, frames)``."""
    if channel is not None:
        if not 0 <= channel < block.shape[1]:
            raise AudioError(f"{path}: channel {channel} asked for, the file has "
                             f"{block.shape[1]} channel(s)")
        return block[:, channel]
    if mono:
        return block.mean(axis=1)
    return block.T


def _check_finite(samples: np.ndarray, path: AudioSource) -> None:
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: the audio holds NaN or infinite samples")


def load_audio(path: str | Path | RemoteFile, sr: int, *, mono: bool = True, offset: float = 0.0,
               duration: float | None = None, channel: int | None = None) -> np.ndarray:
    """Read ``duration`` seconds from ``offset`` of ``path``, resampled to ``sr``.

    Only the frames asked for are decoded, so taking 5 s from a 2-hour file is cheap.
    Resampling uses soxr at high quality.

    Parameters
    ----------
    path : str, Path or RemoteFile
        An audio file of a format in :data:`AUDIO_SUFFIXES`, or its fsspec URL
        (:mod:`whalelab.audio.remote`: read in ranges).
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
    if sr <= 0:
        raise AudioError(f"{path}: target sample rate must be positive, not {sr}")
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(f"{path}: offset must be >= 0 and duration > 0 "
                         f"(got offset={offset}, duration={duration})")
    with _opened(path) as (info, readable):
        path = info.path
        start = int(round(offset * info.sample_rate))
        if start >= info.frames:
            raise AudioError(f"{path}: offset {offset:.3f} s is past the end of the file "
                             f"({info.duration:.3f} s)")
        frames = -1 if duration is None else int(round(duration * info.sample_rate))
        try:
            with _sound_file(readable) as handle:
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


def stream_audio(path: str | Path | RemoteFile, sr: int, *,
                 block_seconds: float = BLOCK_SECONDS,
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
    with _opened(path) as (info, readable):
        yield from _blocks(info, readable, sr, block_seconds=block_seconds, channel=channel)


def _blocks(info: AudioInfo, readable: str | IO[bytes], sr: int, *, block_seconds: float,
            channel: int | None) -> Iterator[np.ndarray]:
    """:func:`stream_audio`'s blocks of the file ``info`` describes, read from ``readable``."""
    path = info.path
    block_frames = max(1, int(block_seconds * info.sample_rate))
    resampler, total, decoded = None, 0, 0
    if info.sample_rate != sr:
        resampler = soxr.ResampleStream(info.sample_rate, sr, 1, dtype="float32", quality="HQ")
    try:
        with _sound_file(readable) as handle:
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
