"""The training loop: AdamW with warm-up and cosine decay, selection on validation,
early stopping, atomic checkpoints every epoch, and exact resumption.

Every epoch reseeds the random streams from ``(seed, epoch)``, so a run resumed from
``last.pt`` after an interruption ends with the same weights and metrics as one that
was never interrupted.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write, write_json
from whalelab.checkpoint import load_checkpoint, save_checkpoint, write_classes
from whalelab.config import RunConfig
from whalelab.data import (ClipCache, ClipDataset, ClipIndex, annotated_bands, balanced_sampler,
                           class_weights)
from whalelab.errors import CheckpointError, DataError
from whalelab.evaluate import autocast, choose_thresholds, predict_dataset
from whalelab.model import build_model, count_parameters
from whalelab.profiles import resolve_device
from whalelab.synth import CALL_BANDS


@dataclasses.dataclass
class TrainResult:
    """What a finished (or early-stopped) training run leaves behind."""

    run_dir: Path
    history: pd.DataFrame
    best_epoch: int
    best_score: float
    stopped_early: bool


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


def _validation_figures(probabilities: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    present = targets.sum(axis=0) > 0
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    loss = -np.mean(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    ap = [skm.average_precision_score(targets[:, k], probabilities[:, k])
          for k in np.flatnonzero(present)]
    f1 = skm.f1_score(targets, probabilities >= 0.5, average=None, zero_division=0.0)
    return {"val_loss": float(loss), "val_macro_ap": float(np.mean(ap)) if ap else 0.0,
            "val_macro_f1": float(np.mean(f1[present])) if present.any() else 0.0}


def _mixup(waveforms: torch.Tensor, targets: torch.Tensor,
           alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each example with a shuffled partner; targets become the union (multi-label)."""
    weight = float(np.random.default_rng(int(torch.randint(0, 2**31, (1,)))).beta(alpha, alpha))
    weight = max(weight, 1 - weight)
    partner = torch.randperm(len(waveforms))
    mixed = weight * waveforms + (1 - weight) * waveforms[partner]
    return mixed, torch.maximum(targets, targets[partner])


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               loss_function: torch.nn.Module, waveforms: torch.Tensor, targets: torch.Tensor,
               *, device: torch.device, amp: bool) -> torch.Tensor:
    """One optimisation step: forward (bf16 autocast when ``amp`` on CUDA), BCE on the
    clipwise logits, backward, optimiser step. Returns the loss.

    Shapes
    ------
    ``waveforms (batch, samples)``, ``targets (batch, classes)``
    """
    waveforms = waveforms.to(device, non_blocking=True)
    targets = targets.to(device, non_blocking=True)
    with autocast(device, amp):
        output = model(waveforms)
    loss = loss_function(output["clipwise_logit"].float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def prepare_splits(config: RunConfig, run_dir: Path, index: ClipIndex | None) -> ClipIndex:
    """The run's clip index with its splits, written to ``splits.csv`` once and reused after."""
    splits_path = run_dir / "splits.csv"
    if splits_path.is_file():
        return ClipIndex.load_csv(splits_path)
    if index is None:
        raise DataError(f"{run_dir}: no splits.csv and no data index given")
    index.save_csv(splits_path)
    return index


def class_bands(config: RunConfig) -> dict[str, tuple[float, float]]:
    """Each class's frequency band for ``classes.json``: what detection trims events to.

    From the training data's Raven annotations when it is a folder of them
    (:func:`whalelab.data.annotated_bands`), else the published band of a synthetic
    species, else the whole ``fmin``-``fmax`` range; always within that range.
    """
    low, high = config.features.fmin, config.features.fmax
    annotated = annotated_bands(config.data) if config.data else {}
    bands = {}
    for name in config.classes:
        band_low, band_high = annotated.get(name, CALL_BANDS.get(name, (low, high)))
        bands[name] = (min(max(band_low, low), high), max(min(band_high, high), low))
    return bands


def train(config: RunConfig, run_dir: str | Path, *, index: ClipIndex | None = None,
          resume: bool = False, progress: bool | None = None) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume``, continue from ``last.pt``.

    Parameters
    ----------
    config : RunConfig
        Features, model and training settings; saved as ``config.json``.
    run_dir : path
        The run folder. A folder that already holds a run needs ``resume=True``.
    index : ClipIndex or None
        The clips with their splits; None reads ``splits.csv`` of a resumed run.
    progress : bool or None
        tqdm bars; None shows them only on a terminal or in a notebook.
    """
    run_dir = Path(run_dir)
    last_path = run_dir / "last.pt"
    if last_path.exists() and not resume:
        raise CheckpointError(f"{run_dir} already holds a run; pass --resume to continue it "
                              f"or choose another output folder")
    state = load_checkpoint(last_path) if resume and last_path.exists() else None
    if state is not None and state["finished"] and (run_dir / "thresholds.json").exists():
        return _result(run_dir, state["history"], state["best_epoch"], state["best_score"],
                       state["stopped_early"])
    run_dir.mkdir(parents=True, exist_ok=True)
    index = prepare_splits(config, run_dir, index)
    config.save(run_dir / "config.json")
    write_classes(run_dir, config.classes, class_bands(config))
    settings, features = config.train, config.features
    device = resolve_device(settings.device)
    use_amp = settings.amp and device.type == "cuda"

    cache = ClipCache()
    dataset = {split: ClipDataset(index.subset(split), sample_rate=features.sample_rate,
                                  clip_seconds=features.clip_seconds, train=split == "train",
                                  cache=cache)
               for split in ("train", "val")}
    if len(dataset["train"]) == 0 or len(dataset["val"]) == 0:
        raise DataError(f"{config.data}: training needs clips in both the train and val splits")
    for split_set in dataset.values():
        split_set.preload(progress=progress)

    torch.manual_seed(settings.seed)
    model = build_model(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    drop_last = len(dataset["train"]) > settings.batch_size
    steps_per_epoch = (len(dataset["train"]) // settings.batch_size if drop_last
                       else math.ceil(len(dataset["train"]) / settings.batch_size))
    total_steps = steps_per_epoch * settings.epochs
    warmup_steps = max(1, int(settings.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _learning_rate_factor(
        step, warmup_steps=warmup_steps, total_steps=total_steps))
    averaged = None
    if settings.ema_decay is not None:
        averaged = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(settings.ema_decay),
            use_buffers=True)
    pos_weight = class_weights(index.subset("train")).to(device) if settings.class_weights else None
    loss_function = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    history: list[dict] = []
    start_epoch, best_score, best_epoch, waited, stopped_early = 0, -math.inf, -1, 0, False
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if averaged is not None:
            averaged.load_state_dict(state["averaged"])
        history, best_score = state["history"], state["best_score"]
        best_epoch, waited, start_epoch = state["best_epoch"], state["waited"], state["epoch"] + 1
        stopped_early = state["stopped_early"]
        if state["finished"]:
            start_epoch = settings.epochs
        else:
            tqdm.write(f"resuming {run_dir} after epoch {start_epoch}")

    evaluated = averaged.module if averaged is not None else model
    if start_epoch < settings.epochs:
        tqdm.write(f"training {count_parameters(model) / 1e6:.1f} M parameters on {device}: "
                   f"{len(dataset['train'])} train / {len(dataset['val'])} val clips, "
                   f"{settings.epochs} epochs")
    for epoch in range(start_epoch, settings.epochs):
        torch.manual_seed(_epoch_seed(settings.seed, epoch))
        generator = torch.Generator().manual_seed(_epoch_seed(settings.seed, epoch))
        sampler = balanced_sampler(index.subset("train"), _epoch_seed(settings.seed, epoch)) \
            if settings.class_weights else None
        loader = DataLoader(dataset["train"], batch_size=settings.batch_size,
                            shuffle=sampler is None, sampler=sampler, generator=generator,
                            drop_last=drop_last, num_workers=settings.num_workers,
                            pin_memory=device.type == "cuda",
                            persistent_workers=False)
        model.train()
        started, losses, seen = time.perf_counter(), [], 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{settings.epochs}", leave=False,
                   disable=not progress if progress is not None else None)
        for waveforms, targets in bar:
            if settings.mixup > 0:
                waveforms, targets = _mixup(waveforms, targets, settings.mixup)
            loss = train_step(model, optimizer, loss_function, waveforms, targets,
                              device=device, amp=use_amp)
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(model)
            losses.append(loss.item())
            seen += len(waveforms)
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        train_seconds = time.perf_counter() - started
        probabilities, val_targets = predict_dataset(
            evaluated, dataset["val"], device=device, batch_size=settings.batch_size,
            amp=use_amp, progress=progress, desc="validate")
        figures = _validation_figures(probabilities, val_targets)
        score = _score(settings.select_metric, figures["val_macro_ap"], figures["val_macro_f1"],
                       figures["val_loss"])
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **figures,
                        "lr": optimizer.param_groups[0]["lr"],
                        "seconds": time.perf_counter() - started,
                        "clips_per_s": seen / train_seconds})
        improved = score > best_score
        if improved:
            best_score, best_epoch, waited = score, epoch + 1, 0
            save_checkpoint(run_dir / "best.pt", {"model": evaluated.state_dict(),
                                                  "epoch": epoch, "classes": config.classes})
        else:
            waited += 1
        stopped_early = waited >= settings.patience and epoch + 1 < settings.epochs
        finished = stopped_early or epoch + 1 == settings.epochs
        atomic_write(run_dir / "history.csv",
                     lambda temporary: pd.DataFrame(history).to_csv(temporary, index=False))
        save_checkpoint(last_path, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "averaged": averaged.state_dict() if averaged is not None else None,
            "epoch": epoch, "history": history, "best_score": best_score,
            "best_epoch": best_epoch, "waited": waited, "finished": finished,
            "stopped_early": stopped_early, "classes": config.classes})
        row = history[-1]
        tqdm.write(f"epoch {epoch + 1:3d}  loss {row['train_loss']:.4f}  "
                   f"val_loss {row['val_loss']:.4f}  val mAP {row['val_macro_ap']:.3f}  "
                   f"val F1 {row['val_macro_f1']:.3f}  {row['clips_per_s']:.1f} clips/s"
                   f"{'  *best' if improved else ''}")
        if stopped_early:
            tqdm.write(f"early stop: no improvement for {settings.patience} epochs")
            break
    if start_epoch < settings.epochs or not (run_dir / "thresholds.json").exists():
        _write_thresholds(run_dir, config, dataset["val"], device, use_amp, progress)
    return _result(run_dir, history, best_epoch, best_score, stopped_early)


def _write_thresholds(run_dir: Path, config: RunConfig, val_set: ClipDataset,
                      device: torch.device, amp: bool, progress: bool | None) -> None:
    """Per-class decision thresholds of the best model, chosen on validation."""
    model = build_model(config).to(device)
    model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    probabilities, targets = predict_dataset(model, val_set, device=device,
                                             batch_size=config.train.batch_size, amp=amp,
                                             progress=progress, desc="thresholds")
    thresholds = choose_thresholds(probabilities, targets)
    write_json(run_dir / "thresholds.json",
               dict(zip(config.classes, map(float, thresholds), strict=True)))


def _result(run_dir: Path, history: list[dict], best_epoch: int, best_score: float,
            stopped_early: bool) -> TrainResult:
    return TrainResult(run_dir=run_dir, history=pd.DataFrame(history), best_epoch=best_epoch,
                       best_score=best_score, stopped_early=stopped_early)
