"""The training loop: AdamW with warm-up and cosine decay, selection on validation,
early stopping, atomic checkpoints every epoch, and exact resumption.

:func:`train` is a sequence of named steps: open the run folder (:func:`_open_run`),
read the clips (:func:`_datasets`), build the model and optimiser
(:func:`_build_training`), then per epoch train (:func:`_train_epoch`), validate
(:func:`_validate`) and checkpoint (:func:`_checkpoint_epoch`); last, thresholds are
chosen on validation (:func:`_write_thresholds`).

Every epoch reseeds the random streams from ``(seed, epoch)``, so a run resumed from
``last.pt`` after an interruption ends with the same weights and metrics as one that
was never interrupted.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from whalelab.advise import advise
from whalelab.atomic import atomic_write, write_json
from whalelab.bands import Band, class_bands, dataset_bands, estimate_bands
from whalelab.checkpoint import (load_checkpoint, load_model, model_file_state,
                                 read_classes, save_checkpoint, write_classes)
from whalelab.clip_metrics import choose_thresholds
from whalelab.config import (DataConfig, FeatureConfig, RunConfig, TrainConfig,
                             profile_values)
from whalelab.data import (BACKGROUND, ClipCache, ClipDataset, ClipIndex, balanced_sampler,
                           class_weights, read_data, rotate_validation)
from whalelab.errors import CheckpointError, ConfigError, DataError
from whalelab.inference import predict_dataset
from whalelab.losses import TrainingLoss
from whalelab.model import WhaleEnsemble, build_model, count_parameters
from whalelab.profiles import resolve_profile
from whalelab.runtime import autocast, progress_bar, resolve_device


#: the fewest train and val clips of each class that training accepts: a class needs
#: clips to learn from and at least one to be validated on (see :func:`check_trainable`)
MIN_TRAIN_CLIPS = 2
MIN_VAL_CLIPS = 1


#: training steps between updates of the progress bar's running loss (each update reads
#: the loss back from the device, which waits for its queued work)
POSTFIX_STEPS = 10
#: how far apart the seeds of an ensemble's members are (member 0 keeps the run's seed)
MEMBER_SEED_STRIDE = 10_007


@dataclasses.dataclass
class TrainResult:
    """What a finished (or early-stopped) training run leaves behind.

    For an ensemble (``members`` > 1 in the model configuration): ``history`` holds every
    member's epochs with a ``member`` column, ``best_epoch`` is None (each member has
    its own, in ``members``), ``best_score`` is the ensemble's validation score, and
    ``stopped_early`` says whether any member stopped early.
    """

    run_dir: Path
    history: pd.DataFrame
    best_epoch: int | None
    best_score: float
    stopped_early: bool
    members: tuple["TrainResult", ...] = ()
    keep: str = "best"  # TrainConfig.keep: the best epoch on validation, or the last

    @property
    def best_epochs(self) -> int | dict[int, int] | None:
        """The epoch kept as ``best.pt``; for an ensemble ``{member: its best epoch}``."""
        if self.members:
            return {member: result.best_epoch for member, result in enumerate(self.members)}
        return self.best_epoch

    def summary(self, metric: str) -> str:
        """One line on the kept weights, e.g. ``best epoch 12 (macro_ap 0.9312)``, ``last
        epoch 40 (...)`` or ``ensemble of 3 (best epochs 12, 9, 17), validation ...``."""
        score = f"{metric} {self.best_score:.4f}"
        if self.members:
            epochs = ", ".join(str(result.best_epoch) for result in self.members)
            return (f"ensemble of {len(self.members)} ({self.members[0].keep} epochs "
                    f"{epochs}), validation {score}")
        return f"{self.keep} epoch {self.best_epoch} ({score})" + \
            (", stopped early" if self.stopped_early else "")


@dataclasses.dataclass
class _Progress:
    """Where training stands: what ``last.pt`` records besides the weights."""

    history: list[dict] = dataclasses.field(default_factory=list)
    next_epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    waited: int = 0
    stopped_early: bool = False


@dataclasses.dataclass
class _Training:
    """The model and everything that updates it."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    averaged: torch.optim.swa_utils.AveragedModel | None
    loss_function: TrainingLoss
    drop_last: bool
    #: what the training steps call: ``model``, or ``torch.compile(model)`` (same weights)
    runner: torch.nn.Module

    @property
    def evaluated(self) -> torch.nn.Module:
        """The weights that are validated and kept as ``best.pt`` (the EMA when on)."""
        return self.averaged.module if self.averaged is not None else self.model


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


def _learning_rate_factor(step: int, *, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to 1, then cosine decay towards 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _score(metric: str, macro_ap: float, macro_f1: float, val_loss: float) -> float:
    """Larger is better for every selection metric."""
    return {"macro_ap": macro_ap, "macro_f1": macro_f1, "val_loss": -val_loss}[metric]


def _validation_figures(predicted: dict[str, np.ndarray],
                        loss_function: TrainingLoss) -> dict[str, float]:
    """Validation loss (the training loss on validation clips), mAP and F1 at 0.5."""
    probabilities, targets = predicted["clipwise_output"], predicted["targets"]
    with torch.no_grad():
        loss = loss_function({name: torch.from_numpy(predicted[name]) for name in
                                    ("clipwise_output", "framewise_logit") if name in predicted},
                                   *(torch.from_numpy(predicted[name]) for name in
                                     ("targets", "frame_targets", "strong") if name in predicted))
    present = targets.sum(axis=0) > 0
    ap = [skm.average_precision_score(targets[:, k], probabilities[:, k])
          for k in np.flatnonzero(present)]
    f1 = skm.f1_score(targets, probabilities >= 0.5, average=None, zero_division=0.0)
    return {"val_loss": float(loss), "val_macro_ap": float(np.mean(ap)) if ap else 0.0,
            "val_macro_f1": float(np.mean(f1[present])) if present.any() else 0.0}


def _mixup(batch: list[torch.Tensor], alpha: float) -> list[torch.Tensor]:
    """Mix each example with a shuffled partner; targets and frame targets become the
    union (multi-label), and a mix is strong only when both clips are."""
    weight = float(np.random.default_rng(int(torch.randint(0, 2**31, (1,)))).beta(alpha, alpha))
    weight = max(weight, 1 - weight)
    waveforms, *truth = batch
    partner = torch.randperm(len(waveforms))
    mixed = [weight * waveforms + (1 - weight) * waveforms[partner]]
    for position, value in enumerate(truth):
        combine = torch.minimum if position == 2 else torch.maximum  # strong: both
        mixed.append(combine(value, value[partner]))
    return mixed


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               loss_function: TrainingLoss, batch: list[torch.Tensor], *,
               device: torch.device, amp: bool) -> torch.Tensor:
    """One optimisation step: forward (bf16 autocast when ``amp`` on CUDA), the training
    loss (:class:`whalelab.losses.TrainingLoss`), backward, optimiser step. Returns the loss.

    Shapes
    ------
    ``batch``: ``waveforms (batch, samples)``, ``targets (batch, classes)``, optionally
    ``frame_targets (batch, frames, classes)`` and ``strong (batch,)``
    """
    waveforms, *truth = (value.to(device, non_blocking=True) for value in batch)
    with autocast(device, amp):
        output = model(waveforms)
    loss = loss_function(output, *truth)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def prepare_splits(config: RunConfig, run_dir: Path, index: ClipIndex | None) -> ClipIndex:
    """The run's clip index with its splits, written to ``splits.csv`` once and reused after.

    A new index is checked first (:func:`check_trainable`), so that data training cannot
    use never becomes a run's ``splits.csv``.
    """
    splits_path = run_dir / "splits.csv"
    if splits_path.is_file():
        return ClipIndex.load_csv(splits_path)
    if index is None:
        raise DataError(f"{run_dir}: no splits.csv and no data index given")
    check_trainable(index, config.data.path or run_dir)
    index.save_csv(splits_path)
    return index


def plan_run(run_dir: str | Path, *, data: str | Path, profile: str = "auto",
             device: str = "auto", resume: bool = False, on_error: str = "raise",
             **requested: Any) -> tuple[RunConfig, ClipIndex | None]:
    """The configuration and clips :func:`train` needs for ``run_dir``.

    A new run: the profile's settings with ``requested`` overrides (field names of
    :mod:`whalelab.config`; None keeps the profile's), and ``data`` read with the
    data settings among them; a profile that ``follows_data`` (``field``) takes the audio
    settings the data implies (:func:`advised_settings`) under ``requested``. Resuming a
    run folder that has a ``config.json``: the saved configuration and ``splits.csv``; a requested setting (or a named profile)
    that differs from the saved one is a :class:`ConfigError` listing each, never
    silently ignored.
    """
    saved = Path(run_dir) / "config.json"
    if resume and saved.is_file():
        config = RunConfig.load(saved)
        conflicts = config.conflicts(path=data, **requested)
        if profile != "auto" and profile != config.profile:
            conflicts.insert(0, f"profile: {config.profile!r} -> {profile!r}")
        if conflicts:
            raise ConfigError(f"{saved}: --resume continues the saved run, but these settings "
                              f"differ from it: {'; '.join(conflicts)}. Resume without them, "
                              f"or train into a new folder")
        splits = Path(run_dir) / "splits.csv"
        return config, ClipIndex.load_csv(splits) if splits.is_file() else None
    if resolve_profile(profile, device=device).follows_data:
        requested = advised_settings(data, profile=profile, device=device, on_error=on_error,
                                     requested=requested)
    name, values = profile_values(profile, data=data, device=device, **requested)
    index = read_data(DataConfig(**values["data"]), seed=TrainConfig(**values["train"]).seed,
                      window_s=FeatureConfig(**values["features"]).clip_seconds,
                      on_error=on_error)
    return RunConfig.from_profile(name, data=data, classes=index.classes, device=device,
                                  **requested), index


def advised_settings(data: str | Path, *, profile: str, device: str, on_error: str,
                     requested: dict[str, Any]) -> dict[str, Any]:
    """``requested`` over the settings :func:`whalelab.advise.advise` picks for ``data``
    (read with the run's data settings and seed); the settings taken are printed."""
    values = profile_values(profile, data=data, device=device, **requested)[1]
    advice = advise(data, settings=DataConfig(**values["data"]),
                    seed=TrainConfig(**values["train"]).seed, on_error=on_error)
    merged = advice.overrides(requested)
    tqdm.write(f"{data}: settings from the data (whalelab advise): " + ", ".join(
        f"{name} {merged[name]:g}" for name in advice.settings() if name in merged))
    return merged


def run_bands(config: RunConfig, index: ClipIndex,
              progress: bool | None = None) -> dict[str, Band]:
    """Each class's frequency band for ``classes.json``: what detection trims events to.

    What the data set states (:func:`whalelab.bands.dataset_bands`: its Raven
    annotations or a ``bands.json`` beside it), else estimated from the training split's
    clips (:func:`whalelab.bands.estimate_bands`), else the whole ``fmin``-``fmax`` range.
    """
    known = dataset_bands(config.data.path, label_column=config.data.label_column) \
        if config.data.path else {}
    if set(config.classes) - set(known):
        known = {**estimate_bands(index.subset("train"), config.features, progress=progress),
                 **known}
    return class_bands(config.classes, known, fmin=config.features.fmin,
                       fmax=config.features.fmax)


def _open_run(run_dir: Path, resume: bool) -> dict[str, Any] | None:
    """``last.pt``'s state when resuming a run that has one; a used folder needs ``resume``."""
    last_path = run_dir / "last.pt"
    if last_path.exists() and not resume:
        raise CheckpointError(f"{run_dir} already holds a run; pass --resume to continue it "
                              f"or choose another output folder")
    return load_checkpoint(last_path) if resume and last_path.exists() else None


def check_trainable(index: ClipIndex, source: str | Path) -> None:
    """Refuse data that training cannot learn or validate: fewer than two classes counting
    background in the train split, or a class with fewer than :data:`MIN_TRAIN_CLIPS`
    train clips or :data:`MIN_VAL_CLIPS` val clips.

    Raises
    ------
    DataError
        Naming ``source`` (the data set) and the classes at fault, with their counts.

    Examples
    --------
    >>> from whalelab.data import Clip
    >>> clips = [Clip(f"{i}.wav", labels=("fin",), split="train") for i in range(3)]
    >>> check_trainable(ClipIndex(clips, ["fin"]), "calls/")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    whalelab.errors.DataError: calls/: training needs at least two classes ... only fin; ...
    """
    background = any(not clip.labels for clip in index.subset("train").clips)
    seen = [*index.classes, *([BACKGROUND] if background else [])]
    if len(seen) < 2:
        raise DataError(f"{source}: training needs at least two classes counting background, "
                        f"but the train split holds only {', '.join(seen) or 'nothing'}; add "
                        f"background (call-free) clips or another class")
    train_counts, val_counts = (index.subset(split).targets().sum(axis=0)
                                for split in ("train", "val"))
    few = [f"{name} ({int(train)} train, {int(val)} val)"
           for name, train, val in zip(index.classes, train_counts, val_counts, strict=True)
           if train < MIN_TRAIN_CLIPS or val < MIN_VAL_CLIPS]
    if few:
        raise DataError(f"{source}: too few clips to train and validate {', '.join(few)}; each "
                        f"class needs at least {MIN_TRAIN_CLIPS} train clips and "
                        f"{MIN_VAL_CLIPS} val clip(s): add clips, or leave the class out")


def _datasets(config: RunConfig, index: ClipIndex,
              progress: bool | None) -> dict[str, ClipDataset]:
    """The train and val clips, decoded once into a shared cache."""
    features, cache = config.features, ClipCache()
    dataset = {split: ClipDataset(index.subset(split), sample_rate=features.sample_rate,
                                  clip_seconds=features.clip_seconds, train=split == "train",
                                  cache=cache, hop_length=features.hop_length,
                                  band=(features.fmin, features.fmax),
                                  low_rate=config.data.low_rate,
                                  equalise_db=config.train.equalise_db,
                                  band_limit=config.train.band_limit)
               for split in ("train", "val")}
    if len(dataset["train"]) == 0 or len(dataset["val"]) == 0:
        raise DataError(f"{config.data.path}: training needs clips in both the train and val "
                        f"splits")
    for split_set in dataset.values():
        split_set.preload(progress=progress)
    return dataset


def make_optimizer(model: torch.nn.Module, settings: TrainConfig,
                   device: torch.device) -> torch.optim.AdamW:
    """AdamW with the run's learning rate and weight decay; fused (one kernel for all
    parameters) on CUDA."""
    return torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                             weight_decay=settings.weight_decay,
                             fused=True if device.type == "cuda" else None)


def _build_training(config: RunConfig, train_index: ClipIndex, train_clips: int,
                    device: torch.device) -> _Training:
    """Model (seeded), AdamW, warm-up + cosine schedule, optional EMA and the loss."""
    settings = config.train
    torch.manual_seed(settings.seed)
    model = build_model(config).to(device)
    optimizer = make_optimizer(model, settings, device)
    drop_last = train_clips > settings.batch_size
    steps_per_epoch = (train_clips // settings.batch_size if drop_last
                       else math.ceil(train_clips / settings.batch_size))
    total_steps = steps_per_epoch * settings.epochs
    warmup_steps = max(1, int(settings.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _learning_rate_factor(
        step, warmup_steps=warmup_steps, total_steps=total_steps))
    averaged = None
    if settings.ema_decay is not None:
        averaged = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(settings.ema_decay),
            use_buffers=True)
    pos_weight = class_weights(train_index).to(device) if settings.class_weights else None
    loss_function = TrainingLoss(frame_weight=settings.frame_loss_weight, pos_weight=pos_weight)
    return _Training(model=model, optimizer=optimizer, scheduler=scheduler, averaged=averaged,
                     loss_function=loss_function, drop_last=drop_last,
                     runner=torch.compile(model) if settings.compile else model)


def _restore(training: _Training, state: dict[str, Any] | None, epochs: int,
             run_dir: Path) -> _Progress:
    """Load ``last.pt``'s weights and optimiser state into ``training``; where it stood."""
    if state is None:
        return _Progress()
    training.model.load_state_dict(state["model"])
    training.optimizer.load_state_dict(state["optimizer"])
    training.scheduler.load_state_dict(state["scheduler"])
    if training.averaged is not None:
        training.averaged.load_state_dict(state["averaged"])
    progress = _Progress(history=state["history"], next_epoch=state["epoch"] + 1,
                         best_score=state["best_score"], best_epoch=state["best_epoch"],
                         waited=state["waited"], stopped_early=state["stopped_early"])
    if state["finished"]:
        progress.next_epoch = epochs
    else:
        tqdm.write(f"resuming {run_dir} after epoch {progress.next_epoch}")
    return progress


@torch.enable_grad()  # whatever the caller's grad mode (a notebook may have turned it off)
def _train_epoch(training: _Training, config: RunConfig, dataset: ClipDataset,
                 train_index: ClipIndex, epoch: int, device: torch.device,
                 progress: bool | None) -> tuple[float, int, float]:
    """One pass over the training clips: mean loss, clips seen and seconds taken."""
    settings = config.train
    torch.manual_seed(_epoch_seed(settings.seed, epoch))
    generator = torch.Generator().manual_seed(_epoch_seed(settings.seed, epoch))
    sampler = balanced_sampler(train_index, _epoch_seed(settings.seed, epoch)) \
        if settings.class_weights else None
    loader = DataLoader(dataset, batch_size=settings.batch_size, shuffle=sampler is None,
                        sampler=sampler, generator=generator, drop_last=training.drop_last,
                        num_workers=settings.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=False)
    training.model.train()
    started, seen, steps = time.perf_counter(), 0, 0
    total = torch.zeros((), dtype=torch.float64, device=device)  # summed where it is computed
    bar = progress_bar(loader, progress=progress, desc=f"epoch {epoch + 1}/{settings.epochs}",
                       leave=False)
    for batch in bar:
        if settings.mixup > 0:
            batch = _mixup(batch, settings.mixup)
        loss = train_step(training.runner, training.optimizer, training.loss_function, batch,
                          device=device, amp=settings.amp)
        training.scheduler.step()
        if training.averaged is not None:
            training.averaged.update_parameters(training.model)
        total += loss.double()
        seen, steps = seen + len(batch[0]), steps + 1
        if not bar.disable and steps % POSTFIX_STEPS == 0:  # reading the loss waits for the GPU
            bar.set_postfix(loss=f"{float(total) / steps:.4f}")
    return float(total) / max(1, steps), seen, time.perf_counter() - started


def _validate(model: torch.nn.Module, loss_function: TrainingLoss, config: RunConfig,
              dataset: ClipDataset, device: torch.device,
              progress: bool | None) -> dict[str, float]:
    """Validation loss, mAP and F1 of ``model``."""
    predicted = predict_dataset(
        model, dataset, device=device, batch_size=config.train.batch_size,
        amp=config.train.amp, progress=progress, desc="validate",
        outputs=("clipwise_output", "framewise_logit"))
    return _validation_figures(predicted, loss_function)


def _checkpoint_epoch(run_dir: Path, training: _Training, state: _Progress, *, epoch: int,
                      improved: bool, finished: bool, config: RunConfig,
                      bands: dict[str, Band]) -> None:
    """``best.pt`` when the epoch improved (every epoch when the run keeps its last
    weights), then ``history.csv`` and ``last.pt``."""
    if improved:
        save_checkpoint(run_dir / "best.pt", model_file_state(
            training.evaluated, config, bands=bands, thresholds=None, epoch=epoch))
    atomic_write(run_dir / "history.csv",
                 lambda temporary: pd.DataFrame(state.history).to_csv(temporary, index=False))
    save_checkpoint(run_dir / "last.pt", {
        "model": training.model.state_dict(), "optimizer": training.optimizer.state_dict(),
        "scheduler": training.scheduler.state_dict(),
        "averaged": training.averaged.state_dict() if training.averaged is not None else None,
        "epoch": epoch, "history": state.history, "best_score": state.best_score,
        "best_epoch": state.best_epoch, "waited": state.waited, "finished": finished,
        "stopped_early": state.stopped_early, "classes": config.classes})


def _log_epoch(row: dict[str, float], improved: bool) -> None:
    tqdm.write(f"epoch {row['epoch']:3d}  loss {row['train_loss']:.4f}  "
               f"val_loss {row['val_loss']:.4f}  val mAP {row['val_macro_ap']:.3f}  "
               f"val F1 {row['val_macro_f1']:.3f}  {row['clips_per_s']:.1f} clips/s"
               f"{'  *best' if improved else ''}")


def train(config: RunConfig, run_dir: str | Path, *, index: ClipIndex | None = None,
          resume: bool = False, progress: bool | None = None) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume``, continue from ``last.pt``.

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
    if config.model.members > 1:
        return _train_ensemble(config, Path(run_dir), index=index, resume=resume,
                               progress=progress)
    run_dir = Path(run_dir)
    saved = _open_run(run_dir, resume)
    if saved is not None and saved["finished"] and (run_dir / "thresholds.json").exists():
        return _result(run_dir, saved["history"], saved["best_epoch"], saved["best_score"],
                       saved["stopped_early"], keep=config.train.keep)
    run_dir.mkdir(parents=True, exist_ok=True)
    index = prepare_splits(config, run_dir, index)
    config.save(run_dir / "config.json")
    bands = run_bands(config, index, progress)
    write_classes(run_dir, config.classes, bands)
    settings = config.train
    device = resolve_device(settings.device)
    dataset = _datasets(config, index, progress)
    train_index = index.subset("train")
    training = _build_training(config, train_index, len(dataset["train"]), device)
    state = _restore(training, saved, settings.epochs, run_dir)

    if state.next_epoch < settings.epochs:
        tqdm.write(f"training {count_parameters(training.model) / 1e6:.1f} M parameters on "
                   f"{device}: {len(dataset['train'])} train / {len(dataset['val'])} val clips, "
                   f"{settings.epochs} epochs")
    for epoch in range(state.next_epoch, settings.epochs):
        started = time.perf_counter()
        train_loss, seen, train_seconds = _train_epoch(training, config, dataset["train"],
                                                       train_index, epoch, device, progress)
        figures = _validate(training.evaluated, training.loss_function, config,
                            dataset["val"], device, progress)
        score = _score(settings.select_metric, figures["val_macro_ap"], figures["val_macro_f1"],
                       figures["val_loss"])
        state.history.append({"epoch": epoch + 1, "train_loss": train_loss, **figures,
                              "lr": training.optimizer.param_groups[0]["lr"],
                              "seconds": time.perf_counter() - started,
                              "clips_per_s": seen / train_seconds})
        improved = score > state.best_score
        if settings.keep == "last":  # every epoch's weights replace the kept ones
            state.best_score, state.best_epoch = score, epoch + 1
        elif improved:
            state.best_score, state.best_epoch, state.waited = score, epoch + 1, 0
        else:
            state.waited += 1
        state.stopped_early = state.waited >= settings.patience and epoch + 1 < settings.epochs
        finished = state.stopped_early or epoch + 1 == settings.epochs
        _checkpoint_epoch(run_dir, training, state, epoch=epoch,
                          improved=improved or settings.keep == "last", finished=finished,
                          config=config, bands=bands)
        _log_epoch(state.history[-1], improved and settings.keep == "best")
        if state.stopped_early:
            tqdm.write(f"early stop: no improvement for {settings.patience} epochs")
            break
    if state.next_epoch < settings.epochs or not (run_dir / "thresholds.json").exists():
        _write_thresholds(run_dir, config, bands, validation_folds(config, index), device,
                          progress, cache=dataset["val"].cache)
    return _result(run_dir, state.history, state.best_epoch, state.best_score,
                   state.stopped_early, keep=settings.keep)


def member_config(config: RunConfig, member: int) -> RunConfig:
    """Member ``member`` of an ensemble run: one network with its own seed (member 0
    keeps the run's seed, member ``k`` adds ``k *`` :data:`MEMBER_SEED_STRIDE`).

    Examples
    --------
    >>> config = RunConfig.from_profile("smoke", data="d", classes=["a"], members=3, seed=4)
    >>> second = member_config(config, 1)
    >>> second.model.members, second.train.seed, second.data == config.data
    (1, 10011, True)
    """
    return dataclasses.replace(
        config, model=dataclasses.replace(config.model, members=1),
        train=dataclasses.replace(config.train,
                                  seed=config.train.seed + MEMBER_SEED_STRIDE * member))


def _train_ensemble(config: RunConfig, run_dir: Path, *, index: ClipIndex | None,
                    resume: bool, progress: bool | None) -> TrainResult:
    """Train each member as a run of its own in ``run_dir/members/<k>`` (its own seed,
    :func:`member_config`; the run's splits or, rotated, its own validation fold,
    :func:`member_splits`), one after another, each resumable; then ``best.pt`` holds
    their :class:`~whalelab.model.WhaleEnsemble`, with thresholds chosen on validation
    (:func:`validation_folds`; put together once: resuming a finished ensemble leaves
    ``best.pt`` as it is), and ``history.csv`` every member's epochs."""
    members_dir = run_dir / "members"
    if (members_dir.exists() or (run_dir / "last.pt").exists()) and not resume:
        raise CheckpointError(f"{run_dir} already holds a run; pass --resume to continue it "
                              f"or choose another output folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    index = prepare_splits(config, run_dir, index)
    config.save(run_dir / "config.json")
    count = config.model.members
    results = []
    for member in range(count):
        tqdm.write(f"member {member + 1}/{count} of the ensemble")
        with warnings.catch_warnings():
            if member > 0:  # the same clips: the first member's warnings again
                warnings.simplefilter("ignore")
            results.append(train(member_config(config, member), members_dir / str(member),
                                 index=member_splits(config, index, member), resume=resume,
                                 progress=progress))
    history = pd.concat([result.history.assign(member=member)
                         for member, result in enumerate(results)], ignore_index=True)
    atomic_write(run_dir / "history.csv", lambda temporary: history.to_csv(temporary,
                                                                           index=False))
    device, folds = resolve_device(config.train.device), validation_folds(config, index)
    cache = ClipCache()  # the val clips decoded once, for the thresholds and the figures
    if not (run_dir / "thresholds.json").exists():  # written last when it is put together
        _, bands = read_classes(members_dir / "0")
        write_classes(run_dir, config.classes, bands)
        ensemble = WhaleEnsemble([load_model(members_dir / str(member)).model
                                  for member in range(count)])
        save_checkpoint(run_dir / "best.pt", model_file_state(ensemble, config, bands=bands,
                                                              thresholds=None, epoch=-1))
        _write_thresholds(run_dir, config, bands, folds, device, progress, cache=cache)
    predicted = _validation_predictions(load_model(run_dir, device=device).model, folds,
                                        config, device, progress, cache=cache)
    figures = _validation_figures(predicted,
                                  TrainingLoss(frame_weight=config.train.frame_loss_weight))
    score = _score(config.train.select_metric, figures["val_macro_ap"],
                   figures["val_macro_f1"], figures["val_loss"])
    return TrainResult(run_dir=run_dir, history=history, best_epoch=None, best_score=score,
                       stopped_early=any(result.stopped_early for result in results),
                       members=tuple(results), keep=config.train.keep)


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


def _validation_predictions(model: torch.nn.Module, folds: list[ClipIndex],
                            config: RunConfig, device: torch.device, progress: bool | None,
                            *, cache: ClipCache | None = None) -> dict[str, np.ndarray]:
    """:func:`~whalelab.inference.predict_dataset` of the clips of :func:`validation_folds`
    (``clipwise_output``, ``framewise_logit``, ``targets``...), every fold in one set:
    one fold by the model, or fold ``k`` by member ``k`` of the ensemble. Clips already
    in ``cache`` are not decoded again."""
    networks = model.members if len(folds) > 1 else [model]
    features, parts = config.features, []
    for network, fold in zip(networks, folds, strict=True):
        dataset = ClipDataset(fold, sample_rate=features.sample_rate,
                              clip_seconds=features.clip_seconds,
                              hop_length=features.hop_length, cache=cache)
        parts.append(predict_dataset(network, dataset, device=device,
                                     batch_size=config.train.batch_size,
                                     amp=config.train.amp, progress=progress,
                                     desc="validate",
                                     outputs=("clipwise_output", "framewise_logit")))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _write_thresholds(run_dir: Path, config: RunConfig, bands: dict[str, Band],
                      folds: list[ClipIndex], device: torch.device,
                      progress: bool | None, *, cache: ClipCache | None = None) -> None:
    """Per-class decision thresholds of the best model, chosen on the validation
    predictions of :func:`_validation_predictions`, written to ``thresholds.json`` and
    into ``best.pt``, which then describes itself completely.

    Validation without call-free clips is a closed set: every clip holds a class, so the
    decision is the top class (thresholds 0); a threshold could only turn a right top
    class into "no call", which this data never holds and the model never learnt.
    """
    best = load_checkpoint(run_dir / "best.pt")
    model = build_model(config).to(device)
    model.load_state_dict(best["model"])
    chosen = np.zeros(len(config.classes))
    if not all(clip.labels for fold in folds for clip in fold.clips):  # not a closed set
        predicted = _validation_predictions(model, folds, config, device, progress,
                                            cache=cache)
        chosen = choose_thresholds(predicted["clipwise_output"], predicted["targets"],
                                   classes=config.classes)
    thresholds = dict(zip(config.classes, map(float, chosen), strict=True))
    save_checkpoint(run_dir / "best.pt", model_file_state(
        model, config, bands=bands, thresholds=thresholds, epoch=best["epoch"]))
    write_json(run_dir / "thresholds.json", thresholds)


def _result(run_dir: Path, history: list[dict], best_epoch: int, best_score: float,
            stopped_early: bool, *, keep: str) -> TrainResult:
    return TrainResult(run_dir=run_dir, history=pd.DataFrame(history), best_epoch=best_epoch,
                       best_score=best_score, stopped_early=stopped_early, keep=keep)
