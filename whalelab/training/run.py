"""Training a run folder: one network, or an ensemble of them, as the configuration says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from whalelab.backbones import embedder_record
from whalelab.config import RunConfig
from whalelab.data import ClipIndex
from whalelab.errors import ConfigError
from whalelab.probe import disk_cache
from whalelab.training.ensemble import train_ensemble
from whalelab.training.loop import TrainResult, train_network


def train(config: RunConfig, run_dir: str | Path, *, index: ClipIndex | None = None,
          resume: bool = False, progress: bool | None = None) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume``, continue from ``last.pt``.

    One network (:func:`whalelab.training.loop.train_network`), or for ``members`` > 1 in
    the model configuration an ensemble of them
    (:func:`whalelab.training.ensemble.train_ensemble`).

    The parameters are :func:`~whalelab.training.loop.train_network`'s.

    A frozen embedder's backbone (``birdnet``) is recorded in ``config.json``
    (``ModelConfig.embedder``: its model file's SHA-256 and licence) and its embeddings
    kept on disk (:func:`whalelab.probe.disk_cache`), so that a second training on the
    same clips embeds nothing again.

    Raises
    ------
    ConfigError
        ``config`` is a blend's (:mod:`whalelab.training.blend`): two trained runs
        averaged, with nothing of its own to train.
    """
    if config.model.partner is not None:
        raise ConfigError(f"{run_dir} is a blend of two trained runs (whalelab blend): there "
                          f"is nothing in it to train; train its runs, then blend them again")
    if config.model.embedder is None:
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, embedder=embedder_record(config.model)))
    chosen = train_ensemble if config.model.members > 1 else train_network
    with disk_cache():
        return chosen(config, run_dir, index=index, resume=resume, progress=progress)
