"""Validation: which clips each trained network is judged on, its predictions on them,
and the figures that select its epoch.

An ensemble's members validate on the run's val split (``member_validation`` shared)
or each on a fold of its own (rotate, :func:`member_splits`); :func:`validation_folds`
says which, :func:`validation_predictions` scores them with the network that never
trained on them, and :func:`validation_figures` turns the scores into the validation
loss, mAP and F1 that :func:`selection_score` ranks epochs by.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from sklearn import metrics as skm

from whalelab.config import RunConfig
from whalelab.data import ClipCache, ClipDataset, ClipIndex, rotate_validation
from whalelab.inference import predict_dataset
from whalelab.losses import TrainingLoss
from whalelab.metrics.clips import macro_average_precision


def selection_score(metric: str, macro_ap: float, macro_f1: float, val_loss: float) -> float:
    """Larger is better for every selection metric."""
    return {"macro_ap": macro_ap, "macro_f1": macro_f1, "val_loss": -val_loss}[metric]

def validation_figures(predicted: dict[str, np.ndarray],
                        loss_function: TrainingLoss) -> dict[str, float]:
    """Validation loss (the training loss on validation clips), mAP and F1 at 0.5."""
    probabilities, targets = predicted["clipwise_output"], predicted["targets"]
    with torch.no_grad():
        loss = loss_function({name: torch.from_numpy(predicted[name]) for name in
                                    ("clipwise_output", "framewise_logit") if name in predicted},
                                   *(torch.from_numpy(predicted[name]) for name in
                                     ("targets", "frame_targets", "strong") if name in predicted))
    present = targets.sum(axis=0) > 0
    f1 = skm.f1_score(targets, probabilities >= 0.5, average=None, zero_division=0.0)
    return {"val_loss": float(loss),
            "val_macro_ap": macro_average_precision(probabilities, targets)
            if present.any() else 0.0,
            "val_macro_f1": float(np.mean(f1[present])) if present.any() else 0.0}

def member_splits(config: RunConfig, index: ClipIndex, member: int) -> ClipIndex:
    """The clips and splits member ``member`` of an ensemble trains and validates on: the
    run's own (``member_validation`` ``shared``), or validation fold ``member``
    (``rotate``: :func:`whalelab.data.rotate_validation`, shuffled by the run's seed)."""
    if config.train.member_validation == "shared":
        return index
    return dataclasses.replace(index, clips=rotate_validation(
        index.clips, fold=member, seed=config.train.seed))

def validation_folds(config: RunConfig, index: ClipIndex) -> list[ClipIndex]:
    """The clips a trained model is validated on, one set per network that predicts
    them: the run's val split, or for rotated members each member's own fold, which
    that member never trained on (the others did, so the ensemble is not asked)."""
    if config.model.members > 1 and config.train.member_validation == "rotate":
        return [member_splits(config, index, member).subset("val")
                for member in range(config.model.members)]
    return [index.subset("val")]

def validation_predictions(model: torch.nn.Module, folds: list[ClipIndex],
                            config: RunConfig, device: torch.device, progress: bool | None,
                            *, cache: ClipCache | None = None) -> dict[str, np.ndarray]:
    """:func:`~whalelab.inference.predict_dataset` of the clips of :func:`validation_folds`
    (``clipwise_output``, ``framewise_logit``, ``targets``...), every fold in one set:
    one fold by the model, or fold ``k`` by member ``k`` of the ensemble. Clips already
    in ``cache`` are not decoded again."""
    networks = model.members if len(folds) > 1 else [model]
    parts = []
    for network, fold in zip(networks, folds, strict=True):
        dataset = ClipDataset.for_run(fold, config, cache=cache)
        parts.append(predict_dataset(network, dataset, device=device,
                                     batch_size=config.train.batch_size,
                                     amp=config.train.amp, progress=progress,
                                     desc="validate",
                                     outputs=("clipwise_output", "framewise_logit")))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
