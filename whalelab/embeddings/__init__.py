"""Embeddings: audio windows as vectors from a pretrained or a trained model.

The modules, in the order the data flows through them:

- :mod:`~whalelab.embeddings.base`: the :class:`Embedder` interface (name, version,
  model hash, input rate, window, hop, dimension, speed factor) and the one way a file is
  read into windows (streamed, batched, refused as prediction refuses);
- :mod:`~whalelab.embeddings.birdnet`: BirdNET V2.4 (the optional extra ``birdnet``);
- :mod:`~whalelab.embeddings.run`: a trained whalelab run's pooled features and scores;
- :mod:`~whalelab.embeddings.loading`: :func:`load_embedder`, the embedder a name gives;
- :mod:`~whalelab.embeddings.cache`: each file's embeddings kept by content hash;
- :mod:`~whalelab.embeddings.store`: a folder of windows (SQLite) and vectors (``.npy``);
- :mod:`~whalelab.embeddings.files`: many files into a store (``whalelab embed``).
"""

from __future__ import annotations

from whalelab.embeddings.base import BATCH_SIZE, Embedder, FileEmbeddings
from whalelab.embeddings.cache import EmbeddingCache, default_cache_dir
from whalelab.embeddings.files import embed_files
from whalelab.embeddings.loading import PRETRAINED, load_embedder
from whalelab.embeddings.store import EmbeddingStore

__all__ = ["BATCH_SIZE", "PRETRAINED", "Embedder", "EmbeddingCache", "EmbeddingStore",
           "FileEmbeddings", "default_cache_dir", "embed_files", "load_embedder"]
