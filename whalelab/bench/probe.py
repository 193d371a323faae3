"""Training time of the probe (BirdNET's frozen embeddings, the ``birdnet`` backbone)
against the network trained from scratch, on the same few clips.

Each is a whole :func:`whalelab.training.train` into a temporary run folder, as ``whalelab
train`` runs it: clips decoded, bands estimated, the epochs (each a pass over the training
clips and a validation), thresholds chosen on validation. The probe is trained twice: with
a cold embedding cache (an empty temporary ``$WHALELAB_CACHE`` and nothing in memory, so
every clip is embedded; BirdNET is loaded at its first window if no one in this process
loaded it before), then warm (the same cache folder, memory emptied: a second ``train`` on
the same clips in a new process, which embeds nothing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whalelab.bench.timing import Sizes
from whalelab.config import RunConfig
from whalelab.data import ClipIndex
from whalelab.errors import ConfigError
from whalelab.npz_cache import CACHE_VARIABLE
from whalelab.pretrained import birdnet
from whalelab.probe import forget_memory
from whalelab.profiles import PROFILES

#: the speed factor of the probe's runs: 1 embeds the most windows per clip (a 5-s clip at
#: 8 kHz: 6 windows at a 1-s hop; at speed 8 one), so the cold figure is the dearest
SPEED = 1.0
#: seconds between the probe's windows in BirdNET's time: the probe profile's
EMBED_HOP_S = PROFILES["probe"].overrides["model"]["embed_hop_s"]


def few_clips(index: ClipIndex, *, train: int, val: int) -> ClipIndex:
    """The first clips of the train split, in the index's order, until each class
    (background counting as one) has ``train`` of them, and likewise ``val`` val clips; a
    clip of two classes counts for both. Other splits are left out.

    Examples
    --------
    >>> from whalelab.data import Clip
    >>> clips = [Clip(f"{i}.wav", labels=labels, split=split) for i, (labels, split)
    ...          in enumerate([(("fin",), "train"), (("blue", "fin"), "train"),
    ...                        (("fin",), "train"), (("blue",), "train"), ((), "train"),
    ...                        ((), "train"), ((), "train"), (("blue",), "val"),
    ...                        (("fin",), "test")])]
    >>> [clip.path for clip in few_clips(ClipIndex(clips, ["blue", "fin"]), train=2,
    ...                                  val=1).clips]
    ['0.wav', '1.wav', '3.wav', '4.wav', '5.wav', '7.wav']
    """
    wanted, taken, chosen = {"train": train, "val": val}, Counter(), []
    for clip in index.clips:
        groups = [(clip.split, name) for name in clip.labels or ("",)]  # "": background
        if any(taken[group] < wanted.get(clip.split, 0) for group in groups):
            taken.update(groups)
            chosen.append(clip)
    return ClipIndex(chosen, index.classes)


@contextlib.contextmanager
def cache_root_at(folder: str | Path) -> Iterator[Path]:
    """``$WHALELAB_CACHE`` (:func:`whalelab.npz_cache.cache_root`) set to ``folder`` while
    open, then as it was (unset where it was unset)."""
    previous = os.environ.get(CACHE_VARIABLE)
    os.environ[CACHE_VARIABLE] = str(folder)
    try:
        yield Path(folder)
    finally:
        if previous is None:
            del os.environ[CACHE_VARIABLE]
        else:
            os.environ[CACHE_VARIABLE] = previous


def _timed_training(config: RunConfig, index: ClipIndex, run_dir: Path) -> dict[str, Any]:
    """:func:`whalelab.training.train` of ``config`` on ``index`` into ``run_dir``, its
    epoch lines and warnings (few clips estimate thin bands) kept off the screen: the
    seconds in all, of each epoch (training pass and validation), and outside the epochs."""
    from whalelab.training import train

    started = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        result = train(config, run_dir, progress=False, index=index)
    total = time.perf_counter() - started
    epochs = [float(seconds) for seconds in result.history["seconds"]]
    return {"total_s": total, "epoch_s": epochs, "outside_epochs_s": total - sum(epochs)}


def bench_probe_training(config: RunConfig, index: ClipIndex, *, sizes: Sizes,
                         speed: float = SPEED) -> dict[str, Any]:
    """Seconds to train the probe (cold and warm cache) and ``config``'s own network on the
    same clips (:func:`few_clips` of ``index``: :attr:`Sizes.compare_clips` a class for
    training and a quarter of that, at least one, for validation), each for
    :attr:`Sizes.compare_epochs` epochs with ``config``'s training settings (one network,
    no ensemble). Without the optional extra: ``{"installed": False}`` and the reason.

    Parameters
    ----------
    config : RunConfig
        The bench's configuration: features, batch size, learning rate, device, and the
        network compared (``config.model.backbone``, DenseNet121 by default).
    index : ClipIndex
        The data set's clips with their splits.
    speed : float
        The probe's speed factor (:data:`SPEED`); its hop is :data:`EMBED_HOP_S`.

    Returns
    -------
    dict
        ``clips`` (train and val), ``epochs``, ``batch_size``, ``speed``, ``embed_hop_s``;
        ``probe_cold``, ``probe_warm`` and ``network`` (with its ``backbone``), each with
        ``total_s``, ``epoch_s`` (one per epoch) and ``outside_epochs_s``; and ``ratios``,
        the network's seconds over the probe's: ``total_cold``, ``total_warm`` and
        ``epoch_warm`` (mean epochs).
    """
    try:
        birdnet.BirdNet()  # the extra and LiteRT, as the embedding row checks them
    except ConfigError as error:
        return {"installed": False, "reason": str(error)}
    clips = few_clips(index, train=sizes.compare_clips, val=max(1, sizes.compare_clips // 4))
    train_settings = dataclasses.replace(config.train, epochs=sizes.compare_epochs)
    network = dataclasses.replace(config, train=train_settings, model=dataclasses.replace(
        config.model, members=1))
    probe = dataclasses.replace(network, model=dataclasses.replace(
        network.model, backbone="birdnet", pretrained=None, speed=speed,
        embed_hop_s=EMBED_HOP_S, embedder=None))
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        root = Path(folder)
        with cache_root_at(root / "cache"):
            forget_memory()
            cold = _timed_training(probe, clips, root / "probe_cold")
            forget_memory()  # a new process: only the disk cache is warm
            warm = _timed_training(probe, clips, root / "probe_warm")
            forget_memory()
        trained = _timed_training(network, clips, root / "network")

    def mean_epoch(row: dict[str, Any]) -> float:
        return sum(row["epoch_s"]) / len(row["epoch_s"])

    return {"installed": True, "clips": {split: len(clips.subset(split))
                                         for split in ("train", "val")},
            "epochs": sizes.compare_epochs, "batch_size": config.train.batch_size,
            "speed": speed, "embed_hop_s": EMBED_HOP_S,
            "probe_cold": cold, "probe_warm": warm,
            "network": {"backbone": config.model.backbone, **trained},
            "ratios": {"total_cold": trained["total_s"] / cold["total_s"],
                       "total_warm": trained["total_s"] / warm["total_s"],
                       "epoch_warm": mean_epoch(trained) / mean_epoch(warm)}}
