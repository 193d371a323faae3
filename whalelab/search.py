"""More like this: the windows of an embedding store ranked by their likeness to a query.

The store is the folder ``whalelab embed`` writes (:class:`~whalelab.embeddings.EmbeddingStore`);
the query is a clip, a time span of a recording or a detection (a span too: a row of
``detect``'s ``events.csv``), embedded by the store's own embedder (:func:`store_embedder`)
into one vector, the mean of its windows. Likeness is the cosine similarity.

The search is exact: every vector of the store is compared, in chunks of
:data:`CHUNK_ROWS` rows read from the memory-mapped matrix, so memory stays flat whatever
the store's size. One chunk is one matrix product, for all the queries at once: on this
project's two (busy) CPU cores 200 000 BirdNET windows (800 MB of float32, in the page
cache) took 1.6-2.0 s for one query and 2.4 s for ten, so a million take about ten
seconds a pass, more when read from disk. Above about :data:`EXACT_LIMIT` windows an
approximate index (as perch-hoplite's USearch) pays; whalelab does not build one yet, and
says so.

Shapes: a query vector is ``(dim,)``, several are ``(queries, dim)``; the store's matrix is
``(windows, dim)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from whalelab.audio import load_audio
from whalelab.embeddings import PRETRAINED, Embedder, EmbeddingStore, load_embedder
from whalelab.errors import ConfigError
from whalelab.runtime import progress_bar

#: rows of the store's matrix compared at once (64 MiB of BirdNET's 1024 float32)
CHUNK_ROWS = 16_384
#: above this many windows an exact search reads gigabytes a query: an approximate index pays
EXACT_LIMIT = 1_000_000


def store_embedder(store: EmbeddingStore, model: str | Path | None = None, *,
                   device: str = "auto") -> Embedder:
    """The embedder that made ``store``, to embed queries as its windows were.

    A pretrained embedder (``birdnet``) is rebuilt from the store's settings (speed, hop);
    a trained run's store needs ``model`` (the run folder or model file), whose weights
    must be the ones recorded.

    Raises
    ------
    ConfigError
        A run's store without ``model``, or a ``model`` that did not make the store.
    """
    settings = store.meta["settings"]
    if model is None and settings["name"] in PRETRAINED:
        model = settings["name"]
    if model is None:
        raise ConfigError(f"{store.folder}: its windows were embedded by a trained run "
                          f"({settings['name']}); pass that run (--model RUN) to embed "
                          f"the query")
    speed = settings["speed"] if str(model) in PRETRAINED else 1.0
    embedder = load_embedder(model, speed=speed, hop_s=settings["hop_s"], device=device)
    if embedder.model_sha256 != settings["model_sha256"]:
        raise ConfigError(f"{model}: not the model that embedded {store.folder} (its weights "
                          f"differ from those recorded there)")
    return embedder


def embed_span(embedder: Embedder, path: str | Path, *, start_s: float = 0.0,
               end_s: float | None = None) -> np.ndarray:
    """The query vector ``(dim,)`` of ``path`` from ``start_s`` to ``end_s`` (None: its
    end): the mean of the embedder's windows over the span (a span shorter than a window
    is tiled into one, as a clip is).

    Raises
    ------
    AudioError
        The file cannot be read, or the span is empty, reversed or past its end, naming it.
    """
    audio = load_audio(path, embedder.read_rate, offset=start_s,
                       duration=None if end_s is None else end_s - start_s)
    return embedder.embed_waveforms(audio[None], sample_rate=embedder.read_rate)[0]


def event_vectors(embedder: Embedder, events: pd.DataFrame, *,
                  progress: bool | None = None) -> np.ndarray:
    """Each event's span (``file, begin_s, end_s`` a row, as a review's table) embedded by
    :func:`embed_span`: ``(events, dim)`` in the table's order."""
    rows = list(events.itertuples(index=False))
    return np.stack([embed_span(embedder, row.file, start_s=float(row.begin_s),
                                end_s=float(row.end_s))
                     for row in progress_bar(rows, progress=progress, desc="embed events",
                                             unit="event")]) \
        if rows else np.zeros((0, embedder.dim), dtype=np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero): float32 ``(n, dim)``."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def nearest(store: EmbeddingStore, queries: np.ndarray, *, k: int = 10,
            exclude_files: Sequence[str] = (), progress: bool | None = None) -> pd.DataFrame:
    """The ``k`` windows of ``store`` most like each query, by cosine similarity.

    Parameters
    ----------
    queries : numpy.ndarray
        ``(dim,)`` or ``(queries, dim)``, as the store's vectors.
    exclude_files : sequence of str
        Files (as the store names them) whose windows are left out, such as the query's own.
    progress : bool or None
        A bar over the store's chunks (shown on stores of more than one chunk).

    Returns
    -------
    pandas.DataFrame
        One row per query and neighbour, best first: ``query`` (its row in ``queries``),
        ``rank`` (1 = most alike), ``similarity``, then the window's ``id, file, start_s,
        end_s`` (and a run's scores).

    Raises
    ------
    ConfigError
        ``k`` below 1, or queries whose length is not the store's dimension.
    """
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    vectors, windows = store.vectors(), store.windows()
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    if queries.ndim != 2 or queries.shape[1] != vectors.shape[1]:
        raise ConfigError(f"{store.folder}: queries of {queries.shape[-1]} numbers against "
                          f"vectors of {vectors.shape[1]} (another embedder's?)")
    if len(vectors) > EXACT_LIMIT:
        warnings.warn(f"{store.folder}: {len(vectors)} windows searched exactly, every "
                      f"vector read for each query; no approximate index is built yet",
                      stacklevel=2)
    # a vector row is searched where a window of the store holds it (a file embedded again
    # after it changed leaves its old rows unused) and the window's file is not left out
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[windows.loc[~windows["file"].isin(list(exclude_files)), "id"].to_numpy()] = True
    windows = windows.set_index("id", drop=False)
    unit = _unit(queries)
    best_scores = np.full((len(unit), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(unit), 0), dtype=np.int64)
    chunks = range(0, len(vectors), CHUNK_ROWS)
    for first in progress_bar(chunks, progress=progress if len(chunks) > 1 else False,
                              desc="search", unit="chunk"):
        block = _unit(vectors[first:first + CHUNK_ROWS])  # (rows, dim)
        scores = unit @ block.T  # (queries, rows)
        scores[:, ~allowed[first:first + CHUNK_ROWS]] = -np.inf
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_rows = np.concatenate(
            [best_rows, np.broadcast_to(np.arange(first, first + len(block)), scores.shape)],
            axis=1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_rows = np.take_along_axis(merged_rows, keep, axis=1)
    found = np.isfinite(best_scores)
    query, rank = np.nonzero(found)
    table = windows.loc[best_rows[found]].reset_index(drop=True)
    table.insert(0, "similarity", best_scores[found].astype(float))
    table.insert(0, "rank", rank + 1)
    table.insert(0, "query", query)
    return table


def precision_at_k(neighbours: pd.DataFrame, query_labels: Sequence[str],
                   label_of_file: dict[str, str]) -> float:
    """The share of each query's neighbours whose file carries the query's label, averaged
    over the queries (precision@k, k the neighbours found per query).

    Examples
    --------
    >>> found = pd.DataFrame({"query": [0, 0, 1, 1], "file": ["a", "b", "a", "b"]})
    >>> precision_at_k(found, ["fin", "blue"], {"a": "fin", "b": "fin"})
    0.5
    """
    hits = [label_of_file[file] == query_labels[query]
            for query, file in zip(neighbours["query"], neighbours["file"], strict=True)]
    return float(pd.Series(hits).groupby(neighbours["query"].to_numpy()).mean().mean())

