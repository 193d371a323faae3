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

    Parameters
    ----------
    config : RunConfig
        Data, features, model and training settings; saved as ``config.json``.
    run_dir : path
        The run folder. A folder that already holds a run needs ``resume=True``.
    index : ClipIndex or None
        The clips with their splits; None reads ``splits.csv`` of a resumed run.
    progress : bool or None
        tqdm bars; None shows them only on a terminal or in a notebook.
    """
    chosen = train_ensemble if config.model.members > 1 else train_network
    return chosen(config, run_dir, index=index, resume=resume, progress=progress)
