"""Blends: two trained runs on the same clips averaged into one model, the weight chosen
on validation.

The DenseNet SED learns the calls' shapes from the clips; the probe hears them through
BirdNET's pretrained embeddings. They err on different clips, so their average can beat
both. :func:`blend_runs` scores both runs' models on the validation split they share,
tries the partner's share in :data:`WEIGHTS` and keeps the one with the best validation
macro AP (among ties, the one nearest an even blend), then writes a run folder whose
model is the weighted :class:`whalelab.model.WhaleEnsemble` of the two
(``ModelConfig.partner`` and ``partner_weight``), with thresholds chosen on the same
validation clips. Predict, detect, evaluate and the notebooks take it as any run;
``blend.json`` records the sources and every weight's validation figure.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from whalelab.atomic import atomic_write, write_json
from whalelab.checkpoint import (TrainedModel, load_model, model_file_state, read_classes,
                                 save_checkpoint, write_classes)
from whalelab.data import ClipCache, ClipDataset, ClipIndex
from whalelab.errors import CheckpointError, DataError
from whalelab.inference import predict_dataset
from whalelab.metrics.clips import macro_average_precision
from whalelab.model import WhaleEnsemble
from whalelab.runtime import resolve_device
from whalelab.training.plan import open_run_folder
from whalelab.training.thresholds import write_thresholds

#: the partner's shares of the blend tried on validation
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: the record of a blend in its run folder
BLEND_RECORD = "blend.json"
#: the audio settings two runs must share to be blended (the same clips, the same frames)
SHARED_FEATURES = ("sample_rate", "clip_seconds", "hop_length")


def _check_blendable(main: TrainedModel, partner: TrainedModel, main_dir: Path,
                     partner_dir: Path) -> ClipIndex:
    """The splits both runs share; a :class:`CheckpointError` naming what differs."""
    if main.config.classes != partner.config.classes:
        raise CheckpointError(f"{partner_dir}: classes {partner.config.classes} differ from "
                              f"{main_dir}'s {main.config.classes}; blend runs of one data set")
    for name in SHARED_FEATURES:
        ours, theirs = (getattr(run.config.features, name) for run in (main, partner))
        if ours != theirs:
            raise CheckpointError(f"{partner_dir}: {name} {theirs} differs from {main_dir}'s "
                                  f"{ours}; blended models must read the same clips")
    for run, folder in ((main, main_dir), (partner, partner_dir)):
        if run.config.model.partner is not None:
            raise CheckpointError(f"{folder}: already a blend; blend two trained runs")
        if run.config.model.members > 1 and run.config.train.member_validation == "rotate":
            raise CheckpointError(f"{folder}: its members validated on rotated folds, so its "
                                  f"val split is not held out from it; train it with "
                                  f"--member-validation shared to blend it")
    splits = [ClipIndex.load_csv(folder / "splits.csv") for folder in (main_dir, partner_dir)]
    if splits[0].to_frame().to_csv() != splits[1].to_frame().to_csv():
        raise CheckpointError(f"{partner_dir}: its splits.csv differs from {main_dir}'s; "
                              f"blend runs trained on the same clips and splits")
    if not splits[0].subset("val").clips:
        raise DataError(f"{main_dir}: no validation clips to choose the blend's weight on")
    return splits[0]


def choose_weight(main: np.ndarray, partner: np.ndarray,
                  targets: np.ndarray) -> tuple[float, dict[float, float]]:
    """The partner's share of :data:`WEIGHTS` whose blend ``(1 - w) main + w partner``
    has the best macro AP on ``targets`` (ties: the nearest 0.5), and every share's.

    Shapes
    ------
    main, partner, targets ``(clips, classes)``

    Examples
    --------
    >>> targets = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    >>> timid, sure = targets * 0.2 + 0.4, targets * 0.98 + 0.01
    >>> choose_weight(timid, 1 - sure, targets)[0]  # the partner is surely wrong
    0.0
    >>> choose_weight(timid, sure, targets)[0]  # both right: every share ties
    0.5
    """
    scores = {weight: macro_average_precision((1 - weight) * main + weight * partner, targets)
              for weight in WEIGHTS}
    best = max(scores.values())
    tied = [weight for weight, score in scores.items() if score >= best - 1e-9]
    return min(tied, key=lambda weight: abs(weight - 0.5)), scores


def blend_runs(main_dir: str | Path, partner_dir: str | Path, out: str | Path, *,
               device: str = "auto", progress: bool | None = None) -> dict[str, Any]:
    """Blend the models of two runs trained on the same clips into the run ``out``.

    Parameters
    ----------
    main_dir, partner_dir : path
        Trained run folders with the same classes, splits (``splits.csv``) and frame grid
        (:data:`SHARED_FEATURES`); the blend takes ``main_dir``'s configuration, bands
        and segment grid.
    out : path
        The new run folder (made; a folder holding a run or someone's files is refused).

    Returns
    -------
    dict
        What ``out/blend.json`` records: ``main``, ``partner``, ``weight`` (the
        partner's share) and ``validation_macro_ap`` of every share tried.
    """
    main_dir, partner_dir, out = Path(main_dir), Path(partner_dir), Path(out)
    torch_device = resolve_device(device)
    main, partner = (load_model(folder, device=torch_device) for folder in (main_dir,
                                                                           partner_dir))
    index = _check_blendable(main, partner, main_dir, partner_dir)
    out = open_run_folder(out)
    if (out / "config.json").exists():
        raise CheckpointError(f"{out} already holds a run; choose another output folder")
    cache = ClipCache()  # the val clips decoded once for both models and the thresholds
    predicted = [predict_dataset(run.model, ClipDataset.for_run(index.subset("val"),
                                                                run.config, cache=cache),
                                 device=torch_device, batch_size=run.config.train.batch_size,
                                 amp=run.config.train.amp, progress=progress,
                                 desc=f"validate {name}")
                 for name, run in (("main", main), ("partner", partner))]
    weight, scores = choose_weight(predicted[0]["clipwise_output"],
                                   predicted[1]["clipwise_output"], predicted[0]["targets"])
    config = dataclasses.replace(main.config, model=dataclasses.replace(
        main.config.model, partner=dataclasses.asdict(partner.config.model),
        partner_weight=weight))
    _, bands = read_classes(main_dir, sample_rate=config.features.sample_rate)
    index.save_csv(out / "splits.csv")
    config.save(out / "config.json")
    write_classes(out, config.classes, bands)
    model = WhaleEnsemble([main.model, partner.model], weights=(1.0 - weight, weight))
    save_checkpoint(out / "best.pt", model_file_state(model, config, bands=bands,
                                                      thresholds=None, epoch=-1))
    write_thresholds(out, config, bands, [index.subset("val")], torch_device, progress,
                     cache=cache)
    history = main_dir / "history.csv"
    if history.is_file():  # the curves of the network that sets the blend's grid
        atomic_write(out / "history.csv", lambda temporary: shutil.copyfile(history, temporary))
    record = {"main": str(main_dir), "partner": str(partner_dir), "weight": weight,
              "validation_macro_ap": {str(share): score for share, score in scores.items()}}
    write_json(out / BLEND_RECORD, record)
    return record
