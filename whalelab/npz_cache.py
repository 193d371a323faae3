"""Arrays kept under a key in a folder of ``.npz`` files: whalelab's one on-disk cache.

An entry is written with :func:`numpy.savez` through :func:`whalelab.atomic.atomic_write`
(a reader never sees half an entry) and read with ``allow_pickle=False`` (a cache folder
shared with others cannot run code); an entry that cannot be read counts as absent and
is written again. The pretrained embedder's clips (:mod:`whalelab.probe`, in
``cache_root() / "birdnet"``) and files (:mod:`whalelab.embeddings.cache`, in
``cache_root() / "embeddings"``) are kept this way.

Examples
--------
>>> import tempfile
>>> cache = NpzCache(tempfile.mkdtemp())
>>> key = NpzCache.key({"clip": "abc", "speed": 8.0})
>>> cache.get(key) is None
True
>>> _ = cache.put(key, {"vector": np.ones(3, np.float32)})
>>> cache.get(key)["vector"].tolist(), (cache.hits, cache.misses)
([1.0, 1.0, 1.0], (1, 1))
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from whalelab.atomic import atomic_write

#: the environment variable naming the folder of whalelab's caches
CACHE_VARIABLE = "WHALELAB_CACHE"


def cache_root() -> Path:
    """The folder of whalelab's caches: ``$WHALELAB_CACHE``, default ``~/.cache/whalelab``."""
    root = os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "whalelab"
    return Path(root).expanduser()


class NpzCache:
    """``.npz`` entries under ``folder``, each named by its key.

    Attributes
    ----------
    hits, misses : int
        Entries found and not found since this cache was made.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.hits = self.misses = 0

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        """The SHA-256 of ``parts`` as canonical JSON: an entry's name."""
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        """Where the entry ``key`` lives (under a folder of its first two characters)."""
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays kept under ``key``, or None (also for an entry that cannot be read,
        which is then written again)."""
        try:
            with np.load(self.path(key), allow_pickle=False) as entry:
                arrays = {name: entry[name] for name in entry.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            self.misses += 1
            return None
        self.hits += 1
        return arrays

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> Path:
        """Keep ``arrays`` under ``key``, atomically."""
        def write(temporary: Path) -> None:
            with open(temporary, "wb") as handle:
                np.savez(handle, **arrays)
        return atomic_write(self.path(key), write)
