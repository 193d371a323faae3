"""Small side-by-side trainings that show what one design choice does.

:func:`attention_comparison` trains the same small model twice on a run's own training
clips, once with each attention mode (``clamp``, PANNs', and ``tanh``, whalelab's
before 0.2), so that notebook 03 can show both attentions on the same clip. The models
use the tiny backbone and a few epochs: a comparison of the mechanism, not a second full
training. They are cached as run folders under the run (``RUN/ablation/<mode>/``), so
the comparison is trained once and reused. :func:`comparison_table` sums each one up in
a row: its training, and where it looks over held-out clips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from whalelab.checkpoint import TrainedModel, load_model
from whalelab.config import ATTENTION_MODES, RunConfig
from whalelab.data import ClipIndex
from whalelab.metrics.localisation import localisation_table
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


def comparison_table(run_dir: str | Path,
                     metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The attention comparison in one table: a row per mode, its training and its scores.

    Training, from ``RUN/ablation/<mode>/history.csv``: ``epochs`` trained, the epoch of
    the best validation mAP (``best_epoch``) and that mAP (``val_macro_ap``), and
    ``train_s``, the seconds all epochs took (validation included). Scores, from
    ``metrics[mode]``, the metrics of that mode's run on held-out clips
    (:func:`whalelab.evaluate.score_split`'s ``metrics``): ``macro_ap`` of the clipwise
    output and, where the clips know their calls' spans, the mean row of
    :func:`whalelab.metrics.localisation.localisation_table` (``frame_auc``,
    ``frame_ap``, ``attention_on_call``, ``flat_share``, ``onset_median_s``,
    ``offset_median_s`` and the ``pairs`` they are means over).

    Parameters
    ----------
    run_dir : path
        The run whose comparison :func:`attention_comparison` trained.
    metrics : mapping of str to dict
        Each mode's metrics on the same held-out clips, e.g. ``{"clamp": ..., "tanh": ...}``.

    Returns
    -------
    pandas.DataFrame
        One row per mode of ``metrics``, in its order.
    """
    rows = {}
    for mode, figures in metrics.items():
        history = pd.read_csv(Path(run_dir) / "ablation" / mode / "history.csv")
        best = history.loc[history["val_macro_ap"].idxmax()]
        rows[mode] = {"epochs": len(history), "best_epoch": int(best["epoch"]),
                      "val_macro_ap": best["val_macro_ap"],
                      "train_s": history["seconds"].sum(), "macro_ap": figures["macro_ap"]}
        if "localisation" in figures:
            mean = localisation_table(figures["localisation"]).loc["mean"]
            rows[mode].update({**mean, "pairs": int(mean["pairs"])})
    return pd.DataFrame.from_dict(rows, orient="index")
