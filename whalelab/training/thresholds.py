"""The per-class decision thresholds of a trained run, chosen on its validation clips
and written into ``thresholds.json`` and ``best.pt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from whalelab.atomic import write_json
from whalelab.bands import Band
from whalelab.checkpoint import load_checkpoint, model_file_state, save_checkpoint
from whalelab.config import RunConfig
from whalelab.data import ClipCache, ClipIndex
from whalelab.metrics.clips import choose_thresholds, closed_set
from whalelab.model import build_model
from whalelab.training.validation import validation_predictions


def write_thresholds(run_dir: Path, config: RunConfig, bands: dict[str, Band],
                     folds: list[ClipIndex], device: torch.device,
                     progress: bool | None, *, cache: ClipCache | None = None) -> None:
    """Per-class decision thresholds of the best model, chosen on the validation
    predictions of :func:`validation_predictions`, written to ``thresholds.json`` and
    into ``best.pt``, which then describes itself completely.

    Validation without call-free clips is a closed set: every clip holds a class, so the
    decision is the top class (thresholds 0); a threshold could only turn a right top
    class into "no call", which this data never holds and the model never learnt.
    """
    best = load_checkpoint(run_dir / "best.pt")
    model = build_model(config).to(device)
    model.load_state_dict(best["model"])
    chosen = np.zeros(len(config.classes))
    if not closed_set(np.concatenate([fold.targets() for fold in folds])):
        predicted = validation_predictions(model, folds, config, device, progress,
                                           cache=cache)
        chosen = choose_thresholds(predicted["clipwise_output"], predicted["targets"],
                                   classes=config.classes)
    thresholds = dict(zip(config.classes, map(float, chosen), strict=True))
    save_checkpoint(run_dir / "best.pt", model_file_state(
        model, config, bands=bands, thresholds=thresholds, epoch=best["epoch"]))
    write_json(run_dir / "thresholds.json", thresholds)
