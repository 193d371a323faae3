"""How fast the pretrained embedder runs and what memory it takes: BirdNET V2.4 windows
per second on this machine and what that means for a recording (times real time at a hop
and speed factor); the peak memory of embedding a short and a long recording, and of one
batch at several batch sizes, each in a fresh process.

Windows are 3 s of 48 kHz audio ``(batch, 144000)`` float32 in, ``(batch, 1024)`` out;
their content does not change the cost, so noise stands in for audio.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from whalelab.audio import write_audio
from whalelab.bench.features import _noise
from whalelab.bench.timing import Sizes, in_child, median_seconds, peak_rss_mb
from whalelab.embeddings import EmbeddingCache
from whalelab.errors import ConfigError
from whalelab.pretrained import birdnet

#: seconds between window starts in the model's time, as BirdNET-Analyzer's 50 % overlap
HOP_S = 1.5
#: the speed factors whose real-time figures are reported (8: infrasonic calls)
SPEEDS = (1.0, 8.0)
BATCH = 16
#: the rate of the recordings embedded for peak memory (the synthetic set's): 2 h read
#: whole would be 230 MB of float32, 1.4 GB at BirdNET's 48 kHz
MEMORY_RATE = 8000
#: windows each batch size's speed is timed over (at least one call)
BATCH_TIMED_WINDOWS = 32


def _noise_windows(batch: int) -> np.ndarray:
    """``(batch, 144000)`` float32 noise: BirdNET windows whose content costs what audio's does."""
    return (0.01 * np.random.default_rng(0).standard_normal(
        (batch, birdnet.WINDOW_SAMPLES))).astype(np.float32)


def bench_embedding(*, sizes: Sizes, repeats: int) -> dict[str, Any]:
    """BirdNET's windows per second at batch :data:`BATCH` (median of ``repeats`` after a
    warm-up), and the recording seconds embedded per second at :data:`HOP_S` for each of
    :data:`SPEEDS` (a window at speed ``s`` covers ``3 s`` of the model's time, ``3 s``
    times ``s`` of the recording). Without the optional extra: ``{"installed": False}``
    and the reason.
    """
    try:
        model = birdnet.BirdNet()
    except ConfigError as error:
        return {"installed": False, "reason": str(error)}
    batch = min(BATCH, sizes.embed_windows)
    windows = _noise_windows(batch)
    seconds = median_seconds({"embed": lambda: model(windows)}, repeats=repeats)["embed"]
    windows_per_s = batch / seconds
    return {"installed": True, "model": f"{birdnet.NAME} {birdnet.VERSION}",
            "licence": birdnet.LICENCE, "batch_size": batch, "windows_per_s": windows_per_s,
            "hop_s": HOP_S,
            "times_real_time": {str(speed): windows_per_s * HOP_S * speed for speed in SPEEDS}}


# -------------------------------------------------------------------------------- memory


def _file_child(arguments: str) -> None:
    """Child process of :func:`bench_embedding_memory`: one recording embedded as
    ``whalelab embed`` embeds it (through an empty cache), JSON on stdout."""
    from whalelab.embeddings.birdnet import BirdNetEmbedder

    options = json.loads(arguments)
    embedder = BirdNetEmbedder(hop_s=options["hop_s"])
    started = time.perf_counter()
    embedded = EmbeddingCache(options["cache"]).embed_file(embedder, options["path"],
                                                           batch_size=options["batch_size"])
    print(json.dumps({"seconds": time.perf_counter() - started, "windows": len(embedded),
                      "peak_rss_mb": peak_rss_mb()}))


def _batch_child(arguments: str) -> None:
    """Child process of :func:`bench_embedding_memory`: BirdNET on one batch, called once
    to allocate, then timed over at least :data:`BATCH_TIMED_WINDOWS` windows (median
    call), JSON on stdout."""
    batch = json.loads(arguments)["batch_size"]
    model, windows = birdnet.BirdNet(), _noise_windows(batch)
    seconds = median_seconds({"embed": lambda: model(windows)},
                             repeats=-(-BATCH_TIMED_WINDOWS // batch))["embed"]
    print(json.dumps({"batch_size": batch, "windows_per_s": batch / seconds,
                      "peak_rss_mb": peak_rss_mb()}))


def bench_embedding_memory(*, sizes: Sizes) -> dict[str, Any]:
    """Peak memory of embedding a short and a long recording with BirdNET, and of BirdNET
    on one batch of each size, each in a fresh process.

    The recordings (:attr:`Sizes.embed_memory_seconds`, ocean noise at
    :data:`MEMORY_RATE`) are embedded as ``whalelab embed birdnet`` embeds a file
    (:meth:`~whalelab.embeddings.EmbeddingCache.embed_file` into an empty cache: the
    file's bytes hashed, its blocks streamed, :attr:`Sizes.embed_windows` windows a call
    (16: ``whalelab embed``'s default), the entry written) at the hop
    :attr:`Sizes.embed_memory_hop_s` and speed 1. Each batch size of
    :attr:`Sizes.embed_batches` is timed over at least :data:`BATCH_TIMED_WINDOWS` windows
    after an untimed call. Without the optional extra: ``{"installed": False}`` and the
    reason.

    Returns
    -------
    dict
        ``hop_s``, ``batch_size``, ``sample_rate`` (of the recordings), and for each
        recording (``short_``, ``long_``) its ``recording_s``, ``windows``, ``peak_rss_mb``;
        ``growth_mb`` and ``ratio`` (the long one's peak over the short one's),
        ``long_times_real_time``; ``batches``: ``batch_size``, ``peak_rss_mb`` and
        ``windows_per_s`` of each.
    """
    try:
        birdnet.BirdNet()
    except ConfigError as error:
        return {"installed": False, "reason": str(error)}
    runs = []
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        for number, seconds in enumerate(sizes.embed_memory_seconds):
            audio = Path(folder) / f"recording_{number}.wav"
            write_audio(audio, _noise(seconds, MEMORY_RATE), MEMORY_RATE)
            runs.append(in_child("whalelab.bench.embedding:_file_child", {
                "path": str(audio), "cache": str(Path(folder) / f"cache_{number}"),
                "hop_s": sizes.embed_memory_hop_s, "batch_size": sizes.embed_windows}))
            audio.unlink()
    batches = [in_child("whalelab.bench.embedding:_batch_child", {"batch_size": batch})
               for batch in sizes.embed_batches]
    (short_s, long_s), (short, long) = sizes.embed_memory_seconds, runs
    return {"installed": True, "model": f"{birdnet.NAME} {birdnet.VERSION}",
            "hop_s": sizes.embed_memory_hop_s, "batch_size": sizes.embed_windows,
            "sample_rate": MEMORY_RATE,
            "short_recording_s": short_s, "short_windows": short["windows"],
            "short_peak_rss_mb": short["peak_rss_mb"],
            "long_recording_s": long_s, "long_windows": long["windows"],
            "long_peak_rss_mb": long["peak_rss_mb"],
            "growth_mb": long["peak_rss_mb"] - short["peak_rss_mb"],
            "ratio": long["peak_rss_mb"] / short["peak_rss_mb"],
            "long_times_real_time": long_s / long["seconds"], "batches": batches}
