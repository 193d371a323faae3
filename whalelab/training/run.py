"""Training a run folder: one network, or an ensemble of them, as the configuration says."""

from __future__ import annotations

from pathlib import Path

from whalelab.config import RunConfig
from whalelab.data import ClipIndex
from whalelab.training.ensemble import train_ensemble
from whalelab.training.loop import TrainResult, train_network


def train(config: RunConfig, run_dir: str | Path, *, index: ClipIndex | None = None,
          resume: bool = False, progress: bool | None = None) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume``, continue from ``last.pt``.

    One network (:func:`whalelab.training.loop.train_network`), or for ``members`` > 1 in
    the model configuration an ensemble of them
    (:func:`whalelab.training.ensemble.train_ensemble`).

    The parameters are :func:`~whalelab.training.loop.train_network`'s.
    """
    chosen = train_ensemble if config.model.members > 1 else train_network
    return chosen(config, run_dir, index=index, resume=resume, progress=progress)
