"""``whalelab embed``: the windows of many files embedded into one store, resumably.

Inputs are audio files or folders (searched recursively). A file already in the store
as it is now (same resolved path, size and modification time) is skipped, so a stopped
run resumes; a file whose content was embedded before with the same settings comes from
the cache (:class:`~whalelab.embeddings.cache.EmbeddingCache`). A file that cannot be
used (missing, corrupt, empty, NaN, too short, a channel it lacks) raises one
:class:`~whalelab.errors.AudioError` naming it, or with ``on_error="skip"`` is warned of
and left out (:class:`whalelab.errors.OnError`). A progress bar counts hours of audio and
the speed as a multiple of real time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from whalelab.audio import AudioSource, audio_info, audio_source, input_audio_files, recording_record
from whalelab.embeddings.base import BATCH_SIZE, Embedder, FileEmbeddings
from whalelab.embeddings.cache import EmbeddingCache
from whalelab.embeddings.store import EmbeddingStore
from whalelab.errors import AudioError, ConfigError, OnError
from whalelab.runtime import RealTime, audio_bar


def input_files(inputs: Sequence[str | Path]) -> list[AudioSource]:
    """Every file given and every audio file under a folder given, each once, in order;
    fsspec URLs (files or folders) as :class:`whalelab.audio.RemoteFile`."""
    files: dict[AudioSource, AudioSource] = {}
    for item in map(audio_source, inputs):
        for path, _ in input_audio_files(item):
            files.setdefault(path.resolve(), path)
    return list(files.values())


def _embedded(embedder: Embedder, paths: list[Path], cache: EmbeddingCache, *,
              channel: int | None, batch_size: int,
              cluster: None) -> Iterator[tuple[Path, FileEmbeddings | AudioError]]:
    """Each file's embeddings, or the error that stopped them, in this process."""
    for path in paths:
        try:
            yield path, cache.embed_file(embedder, path, channel=channel,
                                         batch_size=batch_size)
        except AudioError as error:
            yield path, error


@functools.cache
def _worker_embedder(recipe: tuple) -> Embedder:
    from whalelab.embeddings.loading import load_embedder  # imports the models it needs

    model, speed, hop_s, device, threads = recipe
    return load_embedder(model, speed=speed, hop_s=hop_s, device=device, threads=threads)


def _embed_task(recipe: tuple, path: Path, cache_folder: Path, channel: int | None,
                batch_size: int) -> FileEmbeddings | str:
    """On a worker: one file's embeddings, or the one line of the error that stopped them."""
    try:
        return EmbeddingCache(cache_folder).embed_file(_worker_embedder(recipe), path,
                                                       channel=channel, batch_size=batch_size)
    except AudioError as error:
        return str(error)


def _embedded_on_cluster(embedder: Embedder, paths: list[Path], cache: EmbeddingCache, *,
                         channel: int | None, batch_size: int,
                         cluster: str) -> Iterator[tuple[Path, FileEmbeddings | AudioError]]:
    """Each file's embeddings, or the error that stopped them, from a Dask cluster's
    workers, as they finish."""
    if embedder.recipe is None:
        raise ConfigError("embedding on a cluster needs an embedder made by "
                          "whalelab.embeddings.load_embedder (its workers make it again)")
    from whalelab.cluster import results_on_cluster

    arguments = {path: (embedder.recipe, path, cache.folder, channel, batch_size)
                 for path in paths}
    for path, result in results_on_cluster(cluster, _embed_task, arguments, doing="embedding"):
        yield path, AudioError(result) if isinstance(result, str) else result


def store_meta(embedder: Embedder, *, channel: int | None) -> dict[str, Any]:
    """What a store of ``embedder``'s windows records (:meth:`EmbeddingStore.create`)."""
    return {"settings": {**embedder.settings(), "channel": channel}, "dim": embedder.dim,
            "classes": list(embedder.classes), "licence": embedder.licence}


def embed_files(embedder: Embedder, inputs: Sequence[str | Path], out: str | Path, *,
                channel: int | None = None, on_error: str = "raise",
                cache: EmbeddingCache | None = None, batch_size: int = BATCH_SIZE,
                force: bool = False, cluster: str | None = None,
                progress: bool | None = None) -> EmbeddingStore:
    """Embed every window of every input file into the store ``out``.

    Parameters
    ----------
    embedder : Embedder
        The model (:func:`whalelab.embeddings.load_embedder`).
    inputs : sequence of paths or URLs
        Audio files, or folders searched recursively; local, or fsspec URLs read in
        ranges (:mod:`whalelab.audio.remote`).
    out : path
        The store's folder (made where missing; one made with other settings is refused).
    channel : int or None
        The channel read from every file (0-based); None mixes them.
    on_error : {"raise", "skip"}
        What a file that cannot be used does.
    cache : EmbeddingCache or None
        Where files' embeddings are kept and found; None: the default folder.
    force : bool
        Write the store into a folder that holds other files.
    cluster : str or None
        Embed on a Dask cluster, a task a file (:func:`whalelab.cluster.connect`: ``local``,
        ``local:N`` or a scheduler's address): each worker makes the embedder again from
        its ``recipe`` (so it must come from :func:`whalelab.embeddings.load_embedder`),
        embeds through the cache and sends the file's windows back; this process alone
        writes the store, in the order files finish (each file's windows as in one
        process). None: here.

    Returns
    -------
    EmbeddingStore
        The store, finished.
    """
    failures = OnError(on_error)
    cache = EmbeddingCache() if cache is None else cache
    files = input_files(inputs)
    store = EmbeddingStore.create(out, meta=store_meta(embedder, channel=channel), force=force)
    pending = {}
    for path in files:
        try:
            info = audio_info(path)
        except AudioError as error:
            failures.fail(error)
            continue
        source = recording_record(path)
        if not store.known(source):
            pending[path] = (source, info.duration)
    found = _embedded if cluster is None else _embedded_on_cluster
    try:
        with audio_bar(sum(duration for _, duration in pending.values()), progress=progress,
                       desc="embed") as bar:
            advance = RealTime(bar)
            for path, embedded in found(embedder, list(pending), cache, channel=channel,
                                        batch_size=batch_size, cluster=cluster):
                source, duration = pending[path]
                if isinstance(embedded, AudioError):
                    failures.fail(embedded)
                    continue
                store.add(source, embedded, duration_s=duration)
                advance(duration)
    finally:
        store.finish()
    failures.summary(total=len(files))
    return store
