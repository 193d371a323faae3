"""Lengths a file's header promises against the samples that are there.

A file is never read shorter than it says it is: a WAV or AIFF whose header promises
fewer samples than follow it (an unfinalised header) or more (a truncated file), an OGG
whose last page promises more than can be decoded, and any file whose decoder stops
short of its header's length are refused, naming both lengths
(:func:`check_header_length` when a file is opened, :func:`short_decode` when it is read).
"""

from __future__ import annotations

import math
from typing import IO, TYPE_CHECKING

import soundfile

from whalelab.errors import AudioError

if TYPE_CHECKING:
    from whalelab.audio.remote import AudioSource

#: bytes after a WAV/AIFF sample chunk that need not form chunks (an ID3v1 tag is 128)
TRAILING_BYTES = 1024
#: frames a decoder may fall short of the header's count (one MPEG frame: an MP3 whose
#: length is estimated from its size)
SHORTFALL_FRAMES = 1152


#: bytes per sample of the uncompressed subtypes, to give a WAV/AIFF chunk's length in seconds
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
                 "DOUBLE": 8, "ULAW": 1, "ALAW": 1}


def check_header_length(path: AudioSource, info: soundfile._SoundFileInfo,
                        handle: IO[bytes]) -> None:
    """Refuse a file whose header's length disagrees with the data that follows it.

    libsndfile believes the header: it silently shortens a truncated WAV/AIFF to the
    frames present, reads only the header's count from one whose header was never
    finalised (a recorder that did not close the file leaves a sample chunk of size 0,
    or of the size at its last update, with all the samples after it), and reads an OGG
    only up to its first corrupt page. So the header's own promise is read here, from
    ``handle`` (the file opened for reading bytes): the WAV ``data`` or AIFF ``SSND``
    chunk's size against the bytes on disk, and an OGG stream's last page's position
    against what libsndfile can decode.
    """
    if info.format in ("WAV", "AIFF"):
        _check_sample_chunk(path, info, handle)
    elif info.format == "OGG" and info.subtype in ("VORBIS", "OPUS"):
        _check_ogg_length(path, info, handle)


def _is_chunk_chain(handle, position: int, file_size: int, byteorder: str) -> bool:
    """Whether the bytes from ``position`` to the end (bar fewer than 8) are RIFF/IFF
    chunks: a printable four-letter id and a size that fits, one after the other."""
    while position + 8 <= file_size:
        handle.seek(position)
        header = handle.read(8)
        size = int.from_bytes(header[4:], byteorder)
        if not all(32 <= byte < 127 for byte in header[:4]) or position + 8 + size > file_size:
            return False
        position += 8 + size + (size & 1)
    return True


def _file_size(handle: IO[bytes]) -> int:
    handle.seek(0, 2)
    return handle.tell()


def _check_sample_chunk(path: AudioSource, info: soundfile._SoundFileInfo,
                        handle: IO[bytes]) -> None:
    byteorder = "big" if info.format == "AIFF" else "little"
    file_size = _file_size(handle)
    handle.seek(0)
    if handle.read(12)[:4] not in (b"RIFF", b"FORM"):
        return  # RF64, Wave64...: not checked
    position = 12
    while position + 8 <= file_size:
        handle.seek(position)
        chunk = handle.read(8)
        size = int.from_bytes(chunk[4:], byteorder)
        if chunk[:4] not in (b"data", b"SSND"):
            position += 8 + size + (size & 1)
            continue
        available = file_size - position - 8
        if size == 0xFFFFFFFF:  # a streaming placeholder: libsndfile reads to the end
            return
        if size > available:
            raise AudioError(f"{path}: truncated file: the header promises {size} "
                             f"bytes of samples but only {available} are there")
        end = position + 8 + size + (size & 1)
        if available - size > TRAILING_BYTES \
                and not _is_chunk_chain(handle, end, file_size, byteorder):
            raise AudioError(_unfinalised(path, info, said=size, there=available))
        return


def _unfinalised(path: AudioSource, info: soundfile._SoundFileInfo, *, said: int,
                 there: int) -> str:
    """The one line refusing a WAV/AIFF whose sample chunk says ``said`` bytes while
    ``there`` follow it."""
    frame_bytes = _SAMPLE_BYTES.get(info.subtype, 0) * info.channels
    skip = 8 if info.format == "AIFF" else 0  # SSND's offset and block size
    lengths = [f"{count} bytes" + (f" ({(count - skip) / frame_bytes / info.samplerate:.3g} s)"
                                   if frame_bytes and count >= skip else "")
               for count in (said, there)]
    return (f"{path}: the header says {lengths[0]} of samples but {lengths[1]} follow: the "
            f"header looks unfinalised (a recorder that did not close the file); rewrite it "
            f"from the data, e.g. sox --ignore-length IN OUT.wav or "
            f"ffmpeg -ignore_length 1 -i IN OUT.wav")


def _check_ogg_length(path: AudioSource, info: soundfile._SoundFileInfo,
                      handle: IO[bytes]) -> None:
    """An Ogg stream's last page gives its length (its granule position: samples, at
    48 kHz less the pre-skip for Opus); libsndfile stops at the first corrupt page."""
    handle.seek(0)
    head = handle.read(512)
    size = _file_size(handle)
    handle.seek(max(0, size - 65536))
    tail = handle.read()
    found = tail.rfind(b"OggS")
    while found >= 0 and (len(tail) - found < 27 or tail[found + 4] != 0):
        found = tail.rfind(b"OggS", 0, found)
    if found < 0:
        return
    granule = int.from_bytes(tail[found + 6:found + 14], "little", signed=True)
    if info.subtype == "OPUS":
        opus = head.find(b"OpusHead")
        pre_skip = int.from_bytes(head[opus + 10:opus + 12], "little") if opus >= 0 else 0
        promised = math.floor((granule - pre_skip) * info.samplerate / 48000)
    else:
        promised = granule
    if promised > info.frames + SHORTFALL_FRAMES:
        raise AudioError(short_decode(path, promised=promised, decoded=info.frames,
                                       rate=info.samplerate))


def short_decode(path: AudioSource, *, promised: int, decoded: int, rate: int) -> str:
    return (f"{path}: corrupt audio: the file promises {promised} samples "
            f"({promised / rate:.3g} s) but only {decoded} ({decoded / rate:.3g} s) "
            f"could be decoded")
