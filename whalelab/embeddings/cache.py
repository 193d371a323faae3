"""Embeddings kept per file, so that a file is embedded once for each embedder and settings.

A file's embeddings are stored as ``<key>.npz`` (:class:`whalelab.npz_cache.NpzCache`:
read with ``allow_pickle=False``, so a file in the cache can never run code) in the cache folder:
``$WHALELAB_CACHE/embeddings`` (default ``~/.cache/whalelab/embeddings``). The key is
the SHA-256 of the file's bytes (its content, so a copy or a renamed file is found and an
edited one is not; reading the bytes costs far less than embedding them: about a second
per GB), of the embedder's :meth:`~whalelab.embeddings.base.Embedder.settings` (name,
version, model file's SHA-256, window, hop, speed) and of the channel read. Entries are
written atomically (:mod:`whalelab.atomic`), so an interrupted run leaves none half
written; deleting the folder is always safe.

Examples
--------
>>> import tempfile
>>> cache = EmbeddingCache(tempfile.mkdtemp())
>>> key = cache.key({"file": "0" * 64, "speed": 1.0})
>>> cache.get(key) is None
True
>>> _ = cache.put(key, {"vectors": np.ones((2, 3), np.float32)})
>>> cache.get(key)["vectors"].shape
(2, 3)
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from whalelab.audio import RemoteFile, audio_info, audio_source
from whalelab.embeddings.base import Embedder, FileEmbeddings
from whalelab.npz_cache import NpzCache, cache_root

#: the environment variable naming the cache folder
FIELDS = ("starts_s", "ends_s", "vectors", "scores")


def default_cache_dir() -> Path:
    """``$WHALELAB_CACHE/embeddings`` (default ``~/.cache/whalelab/embeddings``)."""
    return cache_root() / "embeddings"


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read 1 MiB at a time."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def content_key(path: str | Path | RemoteFile) -> dict[str, Any]:
    """What a file's cache entries are kept under: a local file's SHA-256; a URL's
    address, size and version (ETag or time, where its store gives one), so that
    finding it in the cache reads none of its bytes."""
    source = audio_source(path)
    if isinstance(source, RemoteFile):
        return {"url": str(source), **source.details()}
    return {"file_sha256": file_sha256(source)}


class EmbeddingCache(NpzCache):
    """A file's (or a clip's) embeddings kept under its content and the embedder's settings.

    Parameters
    ----------
    folder : path or None
        Where the entries live; None: :func:`default_cache_dir`.

    Attributes
    ----------
    hits, misses : int
        Entries found and not found since this cache was made.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__(default_cache_dir() if folder is None else folder)

    def embed_file(self, embedder: Embedder, path: str | Path, *,
                   channel: int | None = None, **options: Any) -> FileEmbeddings:
        """``embedder.embed_file(path, channel=channel, **options)``, from the cache where
        this file's content was embedded so before.

        The file is checked as :meth:`Embedder.embed_file` checks it (an
        :class:`~whalelab.errors.AudioError` naming it) before its bytes are hashed.
        """
        note = embedder.rule(channel).check(audio_info(path), warn=False)
        key = self.key({**content_key(path), "channel": channel,
                        "embedder": embedder.settings()})
        found = self.get(key)
        if found is not None and set(FIELDS) <= set(found):
            if note:
                warnings.warn(f"{path}: {note}", stacklevel=2)
            return FileEmbeddings(**{name: found[name] for name in FIELDS})
        embedded = embedder.embed_file(path, channel=channel, **options)
        self.put(key, {name: getattr(embedded, name) for name in FIELDS})
        return embedded

    def embed_waveforms(self, embedder: Embedder, waveforms: np.ndarray, *,
                        sample_rate: float, **options: Any) -> np.ndarray:
        """``embedder.embed_waveforms(waveforms, sample_rate=sample_rate)``: ``(clips,
        samples)`` -> float32 ``(clips, dim)``, each clip kept under the SHA-256 of its
        samples, so only the clips not seen before with these settings are embedded."""
        waveforms = np.ascontiguousarray(waveforms, dtype=np.float32)
        keys = [self.key({"clip_sha256": hashlib.sha256(waveform.tobytes()).hexdigest(),
                          "sample_rate": sample_rate, "embedder": embedder.settings()})
                for waveform in waveforms]
        vectors = np.zeros((len(waveforms), embedder.dim), dtype=np.float32)
        missing = []
        for clip, key in enumerate(keys):
            found = self.get(key)
            if found is not None and "vector" in found:
                vectors[clip] = found["vector"]
            else:
                missing.append(clip)
        if missing:
            vectors[missing] = embedder.embed_waveforms(waveforms[missing],
                                                        sample_rate=sample_rate, **options)
            for clip in missing:
                self.put(keys[clip], {"vector": vectors[clip]})
        return vectors
