"""Ensembles: several networks trained as runs of their own, averaged into one model.

Each member is one network trained by :func:`whalelab.training.loop.train_network` in
``RUN/members/<k>`` with its own seed (:func:`member_config`) and the run's splits or,
rotated, its own validation fold; ``RUN/best.pt`` then holds their
:class:`~whalelab.model.WhaleEnsemble`.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write
from whalelab.checkpoint import (load_model, model_file_state, read_classes, save_checkpoint,
                                 write_classes)
from whalelab.config import RunConfig
from whalelab.data import ClipCache, ClipIndex
from whalelab.errors import CheckpointError
from whalelab.losses import TrainingLoss
from whalelab.model import WhaleEnsemble
from whalelab.runtime import resolve_device
from whalelab.training.distributed import main_first, workers
from whalelab.training.loop import TrainResult, train_network
from whalelab.training.plan import prepare_splits, run_bands
from whalelab.training.thresholds import write_thresholds
from whalelab.training.validation import (member_splits, selection_score, validation_figures,
                                          validation_folds, validation_predictions)

#: how far apart the seeds of an ensemble's members are (member 0 keeps the run's seed)
MEMBER_SEED_STRIDE = 10_007


def member_config(config: RunConfig, member: int) -> RunConfig:
    """Member ``member`` of an ensemble run: one network with its own seed (member 0
    keeps the run's seed, member ``k`` adds ``k *`` :data:`MEMBER_SEED_STRIDE`); a
    retrained ensemble's member starts from its own member's weights (``init``).

    Examples
    --------
    >>> config = RunConfig.from_profile("smoke", data="d", classes=["a"], members=3, seed=4)
    >>> second = member_config(config, 1)
    >>> second.model.members, second.train.seed, second.data == config.data
    (1, 10011, True)
    """
    init = config.train.init and {**config.train.init, "member": member}
    return dataclasses.replace(
        config, model=dataclasses.replace(config.model, members=1),
        train=dataclasses.replace(config.train, init=init,
                                  seed=config.train.seed + MEMBER_SEED_STRIDE * member))


def train_ensemble(config: RunConfig, run_dir: str | Path, *, index: ClipIndex | None = None,
                   resume: bool = False, progress: bool | None = None) -> TrainResult:
    """Train each member as a run of its own in ``run_dir/members/<k>`` (its own seed,
    :func:`member_config`; the run's splits or, rotated, its own validation fold,
    :func:`member_splits`), one after another, each resumable; then ``best.pt`` holds
    their :class:`~whalelab.model.WhaleEnsemble`, with thresholds chosen on validation
    (:func:`validation_folds`; put together once: resuming a finished ensemble leaves
    ``best.pt`` as it is), and ``history.csv`` every member's epochs."""
    run_dir, place = Path(run_dir), workers()
    members_dir = run_dir / "members"
    if (members_dir.exists() or (run_dir / "last.pt").exists()) and not resume:
        raise CheckpointError(f"{run_dir} already holds a run; pass --resume to continue it "
                              f"or choose another output folder")
    place.barrier()  # every process has looked before rank 0 writes
    run_dir.mkdir(parents=True, exist_ok=True)
    with main_first(place):  # rank 0 writes splits.csv; the others read it
        index = prepare_splits(config, run_dir, index)
    if place.main:
        config.save(run_dir / "config.json")
    count = config.model.members
    results, bands_of = [], {}  # the bands of each training split, estimated once
    for member in range(count):
        tqdm.write(f"member {member + 1}/{count} of the ensemble")
        member_index = member_splits(config, index, member)
        train_clips = tuple(member_index.subset("train").clips)
        finished = (members_dir / str(member) / "thresholds.json").exists()  # written last
        if train_clips not in bands_of and not finished:
            bands_of[train_clips] = run_bands(config, member_index, progress)
        with warnings.catch_warnings():
            if member > 0:  # the same clips: the first member's warnings again
                warnings.simplefilter("ignore")
            results.append(train_network(member_config(config, member),
                                         members_dir / str(member), index=member_index,
                                         resume=resume, progress=progress,
                                         bands=bands_of.get(train_clips)))
    history = pd.concat([result.history.assign(member=member)
                         for member, result in enumerate(results)], ignore_index=True)
    device, folds = resolve_device(config.train.device), validation_folds(config, index)
    cache = ClipCache()  # the val clips decoded once, for the thresholds and the figures
    if place.main:
        atomic_write(run_dir / "history.csv",
                     lambda temporary: history.to_csv(temporary, index=False))
    if place.main and not (run_dir / "thresholds.json").exists():  # written last: put together
        _, bands = read_classes(members_dir / "0",
                                sample_rate=config.features.sample_rate)
        write_classes(run_dir, config.classes, bands)
        ensemble = WhaleEnsemble([load_model(members_dir / str(member)).model
                                  for member in range(count)])
        save_checkpoint(run_dir / "best.pt", model_file_state(ensemble, config, bands=bands,
                                                              thresholds=None, epoch=-1))
        write_thresholds(run_dir, config, bands, folds, device, progress, cache=cache)
    place.barrier()  # the ensemble is put together before any process reads it
    predicted = validation_predictions(load_model(run_dir, device=device).model, folds,
                                       config, device, progress, cache=cache)
    figures = validation_figures(predicted,
                                 TrainingLoss(frame_weight=config.train.frame_loss_weight))
    score = selection_score(config.train.select_metric, figures["val_macro_ap"],
                            figures["val_macro_f1"], figures["val_loss"])
    return TrainResult(run_dir=run_dir, history=history, best_epoch=None, best_score=score,
                       stopped_early=any(result.stopped_early for result in results),
                       members=tuple(results), keep=config.train.keep)
