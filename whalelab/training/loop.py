"""The training loop of one network: AdamW with warm-up and cosine decay, selection on
validation, early stopping, atomic checkpoints every epoch, and exact resumption.

:func:`train_network` is a sequence of named steps: open the run folder
(:func:`_open_run`), read the clips (:func:`_datasets`), build the model and optimiser
(:func:`_build_training`; a frozen backbone's clips are encoded once here, and the
epochs step only the head, :mod:`whalelab.training.encoded`), then per epoch train
(:func:`_train_epoch`), validate (:func:`_validate`) and checkpoint
(:func:`_checkpoint_epoch`); last, thresholds are chosen on validation
(:func:`whalelab.training.thresholds.write_thresholds`).

Every epoch reseeds the random streams from ``(seed, epoch)``, so a run resumed from
``last.pt`` after an interruption ends with the same weights and metrics as one that
was never interrupted. Under ``torchrun`` the same steps run in every process, each on
its share of the epoch's clips (:mod:`whalelab.training.distributed`); rank 0 writes.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, RandomSampler
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write
from whalelab.backbones import BACKBONES
from whalelab.bands import Band
from whalelab.checkpoint import (checkpoint_sha256, load_checkpoint, model_file_state,
                                 save_checkpoint, write_classes)
from whalelab.config import RunConfig, TrainConfig
from whalelab.data import (ClipCache, ClipDataset, ClipIndex, ClipItem, balanced_sampler,
                           class_weights)
from whalelab.errors import CheckpointError, DataError
from whalelab.inference import predict_dataset
from whalelab.losses import TrainingLoss
from whalelab.model import build_model, count_parameters
from whalelab.runtime import autocast, progress_bar, resolve_device
from whalelab.training.distributed import ShardSampler, Workers, main_first, workers
from whalelab.training.encoded import EncodedClips, HeadOnly
from whalelab.training.plan import open_run_folder, prepare_splits, run_bands
from whalelab.training.thresholds import write_thresholds
from whalelab.training.validation import selection_score, validation_figures, validation_folds

#: training steps between updates of the progress bar's running loss (each update reads
#: the loss back from the device, which waits for its queued work)
POSTFIX_STEPS = 10


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
    loss_function: TrainingLoss
    drop_last: bool
    #: what validation calls: ``model``, or for a frozen backbone ``HeadOnly(model)``, which
    #: takes the clips' features as :class:`EncodedClips` serves them
    evaluator: torch.nn.Module
    #: what the training steps call: ``evaluator``, wrapped in DistributedDataParallel
    #: under torchrun, or that compiled (``torch.compile``; same weights)
    runner: torch.nn.Module
    #: this process's place among the training processes
    place: Workers = Workers()

def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch

def _learning_rate_factor(step: int, *, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to 1, then cosine decay towards 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               loss_function: TrainingLoss, batch: ClipItem, *,
               device: torch.device, amp: bool) -> torch.Tensor:
    """One optimisation step: forward (bf16 autocast when ``amp`` on CUDA), the training
    loss (:class:`whalelab.losses.TrainingLoss`), backward, optimiser step. Returns the loss.

    Shapes
    ------
    ``batch``: a :class:`~whalelab.data.ClipItem` of batches, ``waveform (batch,
    samples)``, ``target (batch, classes)``, ``frame_target (batch, frames, classes)``
    and ``strong (batch,)``
    """
    batch = ClipItem(*(value.to(device, non_blocking=True) for value in batch))
    with autocast(device, amp):
        output = model(batch.waveform)
    loss = loss_function(output, batch.target, batch.frame_target, batch.strong)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()

def _open_run(run_dir: Path, resume: bool) -> dict[str, Any] | None:
    """``last.pt``'s state when resuming a run that has one; a used folder needs ``resume``,
    and a file or a folder of other files is refused (:func:`open_run_folder`)."""
    last_path = open_run_folder(run_dir) / "last.pt"
    if last_path.exists() and not resume:
        raise CheckpointError(f"{run_dir} already holds a run; pass --resume to continue it "
                              f"or choose another output folder")
    return load_checkpoint(last_path) if resume and last_path.exists() else None

def _datasets(config: RunConfig, index: ClipIndex,
              progress: bool | None) -> dict[str, ClipDataset]:
    """The train and val clips, decoded once into a shared cache. A frozen backbone's
    training clips are served as evaluation serves them (centred, never augmented): the
    same audio every epoch, whose embeddings are computed once."""
    cache = ClipCache()
    augmented = not BACKBONES[config.model.backbone].frozen
    dataset = {split: ClipDataset.for_run(index.subset(split), config,
                                          train=augmented and split == "train", cache=cache)
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
    parameters) on CUDA and on the CPU, where it steps a probe's 4.2 M parameters about
    ten times faster than one tensor at a time."""
    return torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                             weight_decay=settings.weight_decay,
                             fused=True if device.type in ("cuda", "cpu") else None)

def initial_weights(init: dict[str, Any], member: int | None) -> Path:
    """The weights a retrained network starts from (``TrainConfig.init``, made by
    :mod:`whalelab.retrain`): the run's ``best.pt``, or for member ``member`` of an
    ensemble its member's.

    Raises
    ------
    CheckpointError
        The run's ``best.pt`` is missing, or is no longer the one recorded (retrained or
        replaced since): the retraining would start from other weights than it says.
    """
    run = Path(init["run"])
    if not (run / "best.pt").is_file() or checkpoint_sha256(run / "best.pt") != init["sha256"]:
        raise CheckpointError(f"{run / 'best.pt'}: missing or changed since the retraining "
                              f"was planned (sha256 {init['sha256'][:16]}... recorded); "
                              f"retrain into a new folder")
    return run / "best.pt" if member is None else run / "members" / str(member) / "best.pt"

def _build_training(config: RunConfig, train_index: ClipIndex, train_clips: int,
                    device: torch.device, *, frames: int,
                    place: Workers = Workers()) -> _Training:
    """Model (seeded, or a retraining's start), AdamW, warm-up + cosine schedule and the
    loss; a frozen backbone's model is stepped from its features (:class:`HeadOnly`,
    framewise outputs ``frames`` long). ``train_clips``: the clips this process steps
    each epoch (its share, under torchrun)."""
    settings = config.train
    torch.manual_seed(settings.seed)
    model = build_model(config)
    if place.distributed and device.type == "cuda":  # batch norm over every GPU's batch
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    if settings.init is not None:  # a retraining (whalelab.retrain): the run's weights
        model.load_state_dict(load_checkpoint(
            initial_weights(settings.init, settings.init.get("member")))["model"])
    evaluator = HeadOnly(model, frames) if BACKBONES[config.model.backbone].frozen else model
    optimizer = make_optimizer(model, settings, device)
    drop_last = train_clips > settings.batch_size
    steps_per_epoch = (train_clips // settings.batch_size if drop_last
                       else math.ceil(train_clips / settings.batch_size))
    total_steps = steps_per_epoch * settings.epochs
    warmup_steps = max(1, int(settings.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _learning_rate_factor(
        step, warmup_steps=warmup_steps, total_steps=total_steps))
    pos_weight = class_weights(train_index).to(device) if settings.class_weights else None
    loss_function = TrainingLoss(frame_weight=settings.frame_loss_weight, pos_weight=pos_weight)
    runner = DistributedDataParallel(
        evaluator, device_ids=[device.index] if device.type == "cuda" else None) \
        if place.distributed else evaluator
    return _Training(model=model, optimizer=optimizer, scheduler=scheduler,
                     loss_function=loss_function, drop_last=drop_last, evaluator=evaluator,
                     runner=torch.compile(runner) if settings.compile else runner,
                     place=place)

def _restore(training: _Training, state: dict[str, Any] | None, epochs: int,
             run_dir: Path) -> _Progress:
    """Load ``last.pt``'s weights and optimiser state into ``training``; where it stood."""
    if state is None:
        return _Progress()
    training.model.load_state_dict(state["model"])
    training.optimizer.load_state_dict(state["optimizer"])
    training.scheduler.load_state_dict(state["scheduler"])
    progress = _Progress(history=state["history"], next_epoch=state["epoch"] + 1,
                         best_score=state["best_score"], best_epoch=state["best_epoch"],
                         waited=state["waited"], stopped_early=state["stopped_early"])
    if state["finished"]:
        progress.next_epoch = epochs
    else:
        tqdm.write(f"resuming {run_dir} after epoch {progress.next_epoch}")
    return progress

@torch.enable_grad()  # whatever the caller's grad mode (a notebook may have turned it off)
def _train_epoch(training: _Training, config: RunConfig, dataset: ClipDataset | EncodedClips,
                 train_index: ClipIndex, epoch: int, device: torch.device,
                 progress: bool | None) -> tuple[float, int, float]:
    """One pass over the training clips: mean loss, clips seen and seconds taken."""
    settings = config.train
    torch.manual_seed(_epoch_seed(settings.seed, epoch))
    generator = torch.Generator().manual_seed(_epoch_seed(settings.seed, epoch))
    sampler = balanced_sampler(train_index, _epoch_seed(settings.seed, epoch)) \
        if settings.class_weights else None
    if training.place.distributed:  # this process's share of the epoch's order
        sampler = ShardSampler(sampler or RandomSampler(dataset, generator=generator),
                               training.place)
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
        loss = train_step(training.runner, training.optimizer, training.loss_function, batch,
                          device=device, amp=settings.amp)
        training.scheduler.step()
        total += loss.double()
        seen, steps = seen + len(batch.waveform), steps + 1
        if not bar.disable and steps % POSTFIX_STEPS == 0:  # reading the loss waits for the GPU
            bar.set_postfix(loss=f"{float(total) / steps:.4f}")
    return float(total) / max(1, steps), seen, time.perf_counter() - started

def _validate(model: torch.nn.Module, loss_function: TrainingLoss, config: RunConfig,
              dataset: ClipDataset | EncodedClips, device: torch.device,
              progress: bool | None) -> dict[str, float]:
    """Validation loss, mAP and F1 of ``model``."""
    predicted = predict_dataset(
        model, dataset, device=device, batch_size=config.train.batch_size,
        amp=config.train.amp, progress=progress, desc="validate",
        outputs=("clipwise_output", "framewise_logit"))
    return validation_figures(predicted, loss_function)

def _checkpoint_epoch(run_dir: Path, training: _Training, state: _Progress, *, epoch: int,
                      improved: bool, finished: bool, config: RunConfig,
                      bands: dict[str, Band]) -> None:
    """``best.pt`` when the epoch improved (a run that keeps its last weights: when it
    finishes, as ``last.pt`` holds them until then), then ``history.csv`` and ``last.pt``."""
    if improved:
        save_checkpoint(run_dir / "best.pt", model_file_state(
            training.model, config, bands=bands, thresholds=None, epoch=epoch))
    atomic_write(run_dir / "history.csv",
                 lambda temporary: pd.DataFrame(state.history).to_csv(temporary, index=False))
    save_checkpoint(run_dir / "last.pt", {
        "model": training.model.state_dict(), "optimizer": training.optimizer.state_dict(),
        "scheduler": training.scheduler.state_dict(),
        "epoch": epoch, "history": state.history, "best_score": state.best_score,
        "best_epoch": state.best_epoch, "waited": state.waited, "finished": finished,
        "stopped_early": state.stopped_early, "classes": config.classes})

def _log_epoch(row: dict[str, float], improved: bool) -> None:
    tqdm.write(f"epoch {row['epoch']:3d}  loss {row['train_loss']:.4f}  "
               f"val_loss {row['val_loss']:.4f}  val mAP {row['val_macro_ap']:.3f}  "
               f"val F1 {row['val_macro_f1']:.3f}  {row['clips_per_s']:.1f} clips/s"
               f"{'  *best' if improved else ''}")

def train_network(config: RunConfig, run_dir: str | Path, *, index: ClipIndex | None = None,
                  resume: bool = False, progress: bool | None = None,
                  bands: dict[str, Band] | None = None) -> TrainResult:
    """Train the one network of ``config`` (``members`` 1) into ``run_dir``; with
    ``resume``, continue from ``last.pt``.

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
    bands : dict or None
        The classes' bands where the caller has them (:func:`run_bands` of the same
        training clips: an ensemble's members that share them); None finds them here.
    """
    run_dir, place = Path(run_dir), workers()
    saved = _open_run(run_dir, resume)
    place.barrier()  # every process has looked before rank 0 writes
    if saved is not None and saved["finished"] and (run_dir / "thresholds.json").exists():
        return _result(run_dir, saved["history"], saved["best_epoch"], saved["best_score"],
                       saved["stopped_early"], keep=config.train.keep)
    with main_first(place):  # rank 0 writes splits.csv; the others read it
        index = prepare_splits(config, run_dir, index)
    bands = run_bands(config, index, progress) if bands is None else bands
    if place.main:
        config.save(run_dir / "config.json")
        write_classes(run_dir, config.classes, bands)
    settings = config.train
    device = resolve_device(settings.device)
    if device.type == "cuda" and place.distributed:
        device = torch.device("cuda", place.local_rank)
    dataset = _datasets(config, index, progress)
    train_index = index.subset("train")
    share = len(dataset["train"]) // place.world  # the clips each process steps an epoch
    training = _build_training(config, train_index, share, device, place=place,
                               frames=1 + dataset["train"].samples // config.features.hop_length)
    state = _restore(training, saved, settings.epochs, run_dir)

    served: dict[str, ClipDataset | EncodedClips] = dataset
    if state.next_epoch < settings.epochs:
        tqdm.write(f"training {count_parameters(training.model) / 1e6:.1f} M parameters on "
                   f"{device}: {len(dataset['train'])} train / {len(dataset['val'])} val clips, "
                   f"{settings.epochs} epochs")
        if isinstance(training.evaluator, HeadOnly):
            served = {split: EncodedClips(training.model, clips, device=device,
                                          batch_size=settings.batch_size, progress=progress)
                      for split, clips in dataset.items()}
    for epoch in range(state.next_epoch, settings.epochs):
        started = time.perf_counter()
        train_loss, seen, train_seconds = _train_epoch(training, config, served["train"],
                                                       train_index, epoch, device, progress)
        figures = _validate(training.evaluator, training.loss_function, config,
                            served["val"], device, progress)
        score = selection_score(settings.select_metric, figures["val_macro_ap"],
                                figures["val_macro_f1"], figures["val_loss"])
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
        if place.main:
            _checkpoint_epoch(run_dir, training, state, epoch=epoch,
                              improved=finished if settings.keep == "last" else improved,
                              finished=finished, config=config, bands=bands)
        _log_epoch(state.history[-1], improved and settings.keep == "best")
        if state.stopped_early:
            tqdm.write(f"early stop: no improvement for {settings.patience} epochs")
            break
    if place.main and (state.next_epoch < settings.epochs
                       or not (run_dir / "thresholds.json").exists()):
        write_thresholds(run_dir, config, bands, validation_folds(config, index), device,
                          progress, cache=dataset["val"].cache)
    place.barrier()  # the run folder is whole before any process goes on
    return _result(run_dir, state.history, state.best_epoch, state.best_score,
                   state.stopped_early, keep=settings.keep)

def _result(run_dir: Path, history: list[dict], best_epoch: int, best_score: float,
            stopped_early: bool, *, keep: str) -> TrainResult:
    return TrainResult(run_dir=run_dir, history=pd.DataFrame(history), best_epoch=best_epoch,
                       best_score=best_score, stopped_early=stopped_early, keep=keep)
