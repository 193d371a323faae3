"""Small side-by-side trainings that show what one design choice does.

:func:`attention_comparison` trains the same small model twice on a run's own training
clips, once with each attention mode (``clamp``, PANNs', and ``tanh``, whalelab's
before 0.2), so that notebook 03 can show both attentions on the same clip. The models
use the tiny backbone and a few epochs: a comparison of the mechanism, not a second full
training. They are cached as run folders under the run (``RUN/ablation/<mode>/``), so
the comparison is trained once and reused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from whalelab.checkpoint import TrainedModel, load_model
from whalelab.config import ATTENTION_MODES, RunConfig
from whalelab.data import ClipIndex
from whalelab.training.run import train

#: epochs of each comparison model (the tiny backbone takes seconds an epoch on a CPU)
COMPARISON_EPOCHS = 12


def attention_comparison(run_dir: str | Path, *, epochs: int = COMPARISON_EPOCHS,
                         device: str = "auto",
                         progress: bool | None = None) -> dict[str, TrainedModel]:
    """A tiny-backbone model per attention mode, trained on ``run_dir``'s own split.

    Parameters
    ----------
    run_dir : path
        A trained run folder; its ``config.json`` and ``splits.csv`` give the data,
        features and training settings, of which only the backbone (``tiny``), the
        attention mode and the number of epochs change.
    epochs : int
        Epochs of each comparison model.

    Returns
    -------
    dict
        ``{"clamp": TrainedModel, "tanh": TrainedModel}``, each in eval mode on ``device``.
    """
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir / "config.json")
    index = ClipIndex.load_csv(run_dir / "splits.csv")
    models = {}
    for mode in ATTENTION_MODES:
        variant = dataclasses.replace(
            config, model=dataclasses.replace(config.model, backbone="tiny", attention=mode,
                                              pretrained=None),
            train=dataclasses.replace(config.train, epochs=epochs, device=device,
                                      patience=epochs))
        folder = run_dir / "ablation" / mode
        train(variant, folder, index=index, resume=True, progress=progress)
        models[mode] = load_model(folder, device=device)
    return models
