"""A Dask client from a ``--cluster`` value: the one place whalelab starts or joins a cluster.

``local`` starts a local cluster of a worker process a CPU core (one thread each), ``local:N``
one of N, and an address (``tcp://HOST:8786``) joins a running scheduler: ``dask
scheduler`` with ``dask worker`` on each node, or dask-jobqueue's SLURM and PBS clusters.
``whalelab detect`` (:mod:`whalelab.detection.cluster`) and ``whalelab embed``
(:func:`whalelab.embeddings.embed_files`) hand it a task a recording. Dask is imported only
here, and only when a cluster is asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

from tqdm.auto import tqdm

from whalelab.errors import ConfigError


def connect(cluster: str):
    """A Dask client on ``cluster``: ``local`` (a worker process a CPU core, one thread
    each), ``local:N`` (N of them) or a scheduler's address (``tcp://HOST:PORT``). A local
    cluster belongs to its client: closing the client (``with connect(...) as client``)
    stops its workers too, so a notebook that detects twice does not keep the first
    cluster's processes.

    Raises
    ------
    ConfigError
        Neither form, or a scheduler that does not answer, named.
    """
    from distributed import Client

    if cluster == "local" or cluster.startswith("local:"):
        count = cluster.partition(":")[2] or str(os.cpu_count() or 1)
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"--cluster {cluster}: local:N needs a whole number of workers")
        return Client(n_workers=int(count), threads_per_worker=1, dashboard_address=":0",
                      silence_logs=logging.ERROR)  # the client starts, and so owns, it
    if "://" not in cluster:
        raise ConfigError(f"--cluster {cluster}: give local, local:N or a scheduler's "
                          f"address such as tcp://HOST:8786")
    try:
        return Client(cluster, timeout="20s")
    except OSError as error:
        raise ConfigError(f"--cluster {cluster}: no Dask scheduler answers there "
                          f"({error})") from None


def results_on_cluster(cluster: str, task: Callable[..., Any],
                       arguments: Mapping[Hashable, tuple], *, doing: str
                       ) -> Iterator[tuple[Hashable, Any]]:
    """Run ``task(*arguments[key])`` on ``cluster`` (:func:`connect`), a Dask task a key,
    and yield each ``(key, result)`` as it finishes; says how many workers are
    ``doing`` it and where the dashboard is. The client, and a local cluster with it,
    closes when the last result is yielded (or the caller stops asking)."""
    if not arguments:
        return
    from distributed import as_completed

    with connect(cluster) as client:
        tqdm.write(f"{doing} on {len(client.scheduler_info()['workers'])} Dask worker(s); "
                   f"dashboard {client.dashboard_link}")
        futures = {client.submit(task, *values, key=f"{doing}-{key}", pure=False): key
                   for key, values in arguments.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()
