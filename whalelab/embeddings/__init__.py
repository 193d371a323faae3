"""Embeddings: audio windows as vectors from a pretrained or a trained model.

The modules, in the order the data flows through them:

- :mod:`~whalelab.embeddings.base`: the :class:`Embedder` interface (name, version,
  model hash, input rate, window, hop, dimension, speed factor) and the one way a file is
  read into windows (streamed, batched, refused as prediction refuses);
- :mod:`~whalelab.embeddings.birdnet`: BirdNET V2.4 (the optional extra ``birdnet``);
- :mod:`~whalelab.embeddings.run`: a trained whalelab run's pooled features and scores;
- :mod:`~whalelab.embeddings.cache`: each file's embeddings kept by content hash;
- :mod:`~whalelab.embeddings.store`: a folder of windows (SQLite) and vectors (``.npy``);
- :mod:`~whalelab.embeddings.files`: many files into a store (``whalelab embed``).
"""

from __future__ import annotations

from pathlib import Path

from whalelab.embeddings.base import BATCH_SIZE, Embedder, FileEmbeddings
from whalelab.embeddings.cache import EmbeddingCache, default_cache_dir
from whalelab.embeddings.files import embed_files
from whalelab.embeddings.store import EmbeddingStore
from whalelab.errors import ConfigError

#: the pretrained embedders, by the name ``whalelab embed`` takes
PRETRAINED = ("birdnet",)


def load_embedder(model: str | Path, *, speed: float = 1.0, hop_s: float | None = None,
                  device: str = "auto", threads: int | None = None) -> Embedder:
    """The embedder ``model`` names: ``birdnet``, or a trained run folder or model file.

    Parameters
    ----------
    model : str or path
        ``birdnet`` (the optional extra), or a run folder or ``RUN/best.pt``.
    speed : float
        The speed factor (pretrained embedders only; a run hears its own rate).
    hop_s : float or None
        Seconds between windows in the model's time; None: half a window.
    device : str
        Where a run's model runs.
    threads : int or None
        BirdNET's CPU threads.

    Raises
    ------
    ConfigError
        ``birdnet`` without the optional extra (naming the install command), or a speed
        other than 1 for a run.
    """
    if str(model) == "birdnet":
        from whalelab.embeddings.birdnet import BirdNetEmbedder

        return BirdNetEmbedder(speed=speed, hop_s=hop_s, threads=threads)
    if speed != 1:
        raise ConfigError(f"speed {speed:g}: the speed factor is for pretrained embedders "
                          f"({', '.join(PRETRAINED)}); a trained run hears audio at the rate "
                          f"it was trained on")
    from whalelab.embeddings.run import RunEmbedder

    return RunEmbedder(model, hop_s=hop_s, device=device)


__all__ = ["BATCH_SIZE", "PRETRAINED", "Embedder", "EmbeddingCache", "EmbeddingStore",
           "FileEmbeddings", "default_cache_dir", "embed_files", "load_embedder"]
