"""The model's own speed: the training step through the data pipeline and bare, eval-mode
inference, and the ceiling (the bare model on in-device batches) with each stage's share
of it.

Batches are what :func:`whalelab.training.train_step` takes: ``(batch, samples)`` waveforms
first, then ``(batch, classes)`` clip targets and the rest the dataset yields.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from whalelab.bench.timing import Sizes, _synchronizer, median_seconds
from whalelab.config import RunConfig
from whalelab.data import ClipDataset
from whalelab.errors import DataError
from whalelab.losses import TrainingLoss
from whalelab.model import build_model
from whalelab.runtime import autocast
from whalelab.training import make_optimizer, train_step


#: the largest batch the ceiling tries on CUDA (doubling from the profile's until memory
#: runs out or this is passed)
CEILING_MAX_BATCH = 1024


# ---------------------------------------------------------------------------- training


def _batches(dataset: ClipDataset, config: RunConfig, device: torch.device
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches as :func:`whalelab.training.train` loads them, epoch after epoch."""
    settings = config.train
    drop_last = len(dataset) > settings.batch_size
    epoch = 0
    while True:
        generator = torch.Generator().manual_seed(settings.seed + epoch)
        yield from DataLoader(dataset, batch_size=settings.batch_size, shuffle=True,
                              generator=generator, drop_last=drop_last,
                              num_workers=settings.num_workers,
                              pin_memory=device.type == "cuda", persistent_workers=False)
        epoch += 1


def _model(config: RunConfig, device: torch.device) -> torch.nn.Module:
    """The run's model on ``device``, seeded: ``(batch, samples)`` waveforms in."""
    torch.manual_seed(config.train.seed)
    return build_model(config).to(device)


def bench_training(config: RunConfig, dataset: ClipDataset, *, device: torch.device,
                   warmup: int, steps: int) -> dict[str, Any]:
    """Clips/s of the training step through the data pipeline and on an in-memory batch."""
    settings = config.train
    amp = settings.amp and device.type == "cuda"
    synchronize = _synchronizer(device)
    model = _model(config, device).train()
    optimizer = make_optimizer(model, settings, device)
    loss_function = TrainingLoss(frame_weight=settings.frame_loss_weight)
    batches = _batches(dataset, config, device)
    fixed = next(batches)
    waits: list[float] = []

    def pipeline() -> None:
        started = time.perf_counter()
        batch = next(batches)
        waits.append(time.perf_counter() - started)
        train_step(model, optimizer, loss_function, batch, device=device, amp=amp)

    def bare() -> None:
        train_step(model, optimizer, loss_function, fixed, device=device, amp=amp)

    medians = median_seconds({"pipeline": pipeline, "bare": bare}, repeats=steps,
                             warmup=warmup, synchronize=synchronize)
    batch = len(fixed[0])
    return {"batch_size": batch, "clip_seconds": config.features.clip_seconds,
            "train_clips": len(dataset), "num_workers": settings.num_workers, "amp": amp,
            "channels_last": True, "warmup_steps": warmup, "timed_steps": steps,
            "pipeline_clips_per_s": batch / medians["pipeline"],
            "bare_clips_per_s": batch / medians["bare"],
            "ratio": medians["bare"] / medians["pipeline"],
            "data_wait_s": statistics.median(waits[warmup:]),
            "step_s": medians["bare"]}


# --------------------------------------------------------------------------- inference


def bench_inference(config: RunConfig, dataset: ClipDataset, *, device: torch.device,
                    batches: int) -> dict[str, Any]:
    """Eval-mode clips/s on one batch of real clips."""
    model = _model(config, device).eval()
    count = min(config.train.batch_size, len(dataset))
    waveforms = torch.stack([dataset[i].waveform for i in range(count)]).to(device)

    def forward() -> None:
        with torch.inference_mode(), autocast(device, config.train.amp):
            model(waveforms)

    seconds = median_seconds({"forward": forward}, repeats=batches,
                             synchronize=_synchronizer(device))["forward"]
    return {"batch_size": count, "amp": config.train.amp and device.type == "cuda",
            "clips_per_s": count / seconds}


# ----------------------------------------------------------------------------- ceiling


def _ceiling_batches(config: RunConfig, device: torch.device, sizes: Sizes) -> list[int]:
    """The batch sizes the ceiling tries: :attr:`Sizes.ceiling_batches`, else on CUDA the
    profile's doubled up to :data:`CEILING_MAX_BATCH`, on the CPU the profile's alone."""
    if sizes.ceiling_batches:
        return list(sizes.ceiling_batches)
    batches = [config.train.batch_size]
    while device.type == "cuda" and batches[-1] * 2 <= CEILING_MAX_BATCH:
        batches.append(batches[-1] * 2)
    return batches


def _ceiling_row(config: RunConfig, *, device: torch.device, batch: int, sizes: Sizes,
                 compiled: bool, amp: bool) -> dict[str, Any]:
    """Training step and eval forward of the bare model on one in-device batch."""
    settings, features = config.train, config.features
    synchronize = _synchronizer(device)
    classes = config.model.num_classes
    model = _model(config, device).train()
    runner = torch.compile(model) if compiled else model
    optimizer = make_optimizer(model, settings, device)
    loss_function = TrainingLoss(frame_weight=settings.frame_loss_weight)
    data = [0.1 * torch.randn(batch, features.clip_samples, device=device),
            (torch.rand(batch, classes, device=device) > 0.5).float(),
            torch.zeros(batch, features.n_frames, classes, device=device),
            torch.zeros(batch, device=device)]

    def step() -> None:
        train_step(runner, optimizer, loss_function, data, device=device, amp=amp)

    def forward() -> None:
        with torch.inference_mode(), autocast(device, amp):
            runner(data[0])

    started = time.perf_counter()
    step()
    synchronize()
    first_step_s = time.perf_counter() - started
    train_s = median_seconds({"train": step}, repeats=sizes.train_steps,
                             warmup=sizes.train_warmup, synchronize=synchronize)["train"]
    runner.eval()
    started = time.perf_counter()
    forward()
    synchronize()
    first_forward_s = time.perf_counter() - started
    forward_s = median_seconds({"forward": forward}, repeats=sizes.inference_batches,
                               synchronize=synchronize)["forward"]
    return {"batch_size": batch, "train_clips_per_s": batch / train_s,
            "inference_clips_per_s": batch / forward_s,
            "first_step_s": first_step_s, "first_forward_s": first_forward_s}


def bench_ceiling(config: RunConfig, *, device: torch.device, sizes: Sizes) -> dict[str, Any]:
    """What the model alone can do, the practical ceiling every stage is measured against.

    Training steps and eval-mode forward passes on a batch already on the device, with
    ``torch.compile`` on CUDA (eager on the CPU, where compiling would cost more than the
    benchmark's steps), at each batch size of :func:`_ceiling_batches`, until CUDA runs
    out of memory; the fastest of each is the ceiling. ``first_step_s`` and
    ``first_forward_s`` include compiling.
    """
    amp, compiled = config.train.amp and device.type == "cuda", device.type == "cuda"
    rows = []
    for batch in _ceiling_batches(config, device, sizes):
        try:
            rows.append(_ceiling_row(config, device=device, batch=batch, sizes=sizes,
                                     compiled=compiled, amp=amp))
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            break
    if not rows:
        raise DataError(f"the ceiling found no batch size that fits on {device}")
    train_best = max(rows, key=lambda row: row["train_clips_per_s"])
    inference_best = max(rows, key=lambda row: row["inference_clips_per_s"])
    return {"compiled": compiled, "amp": amp, "batches": rows,
            "train_clips_per_s": train_best["train_clips_per_s"],
            "train_batch_size": train_best["batch_size"],
            "inference_clips_per_s": inference_best["inference_clips_per_s"],
            "inference_batch_size": inference_best["batch_size"]}


def ceiling_shares(results: dict[str, Any]) -> dict[str, float]:
    """Each stage's speed as a share of the ceiling (:func:`bench_ceiling`): training
    through the pipeline and bare against compiled training, inference and detection
    (windows per second, 50 % overlap) against compiled inference."""
    ceiling, training = results["ceiling"], results["training"]
    detection = results["detection"]
    windows_per_s = detection["times_real_time"] / detection["hop_s"]
    archive = results["archive"]
    archive_windows_per_s = archive["archive_times_real_time"] / detection["hop_s"]
    return {"training_pipeline": training["pipeline_clips_per_s"] / ceiling["train_clips_per_s"],
            "training_bare": training["bare_clips_per_s"] / ceiling["train_clips_per_s"],
            "inference": results["inference"]["clips_per_s"] / ceiling["inference_clips_per_s"],
            "detection": windows_per_s / ceiling["inference_clips_per_s"],
            "archive_detection": archive_windows_per_s / ceiling["inference_clips_per_s"]}
