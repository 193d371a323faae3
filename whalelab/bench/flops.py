"""FLOPs per clip (counted by :class:`torch.utils.flop_counter.FlopCounterMode`) of the
DenseNet121 backbone on a ``(1, 3, time, mel)`` image and of the whole model on a
``(1, samples)`` waveform, the FLOP/s the measured speeds mean, and a large matmul's FLOP/s
as the practical ceiling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from whalelab.bench.timing import _synchronizer, median_seconds
from whalelab.config import RunConfig
from whalelab.model import build_network


def count_flops(function: Callable[[], object]) -> int:
    """FLOPs (multiply and add counted apart) of the matrix products and convolutions inside.

    Examples
    --------
    >>> count_flops(lambda: torch.ones(4, 8) @ torch.ones(8, 2))
    128
    """
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops()


def matmul_flops_per_s(device: torch.device, *, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large float32 matrix product: the practical ceiling on this device."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    seconds = median_seconds({"mm": lambda: a @ b}, repeats=repeats,
                             synchronize=_synchronizer(device))["mm"]
    return 2 * size ** 3 / seconds


def bench_flops(config: RunConfig, *, device: torch.device, inference_clips_per_s: float,
                training_clips_per_s: float) -> dict[str, Any]:
    """FLOPs per clip of the backbone and the whole model (forward, training step), and the
    FLOP/s that the measured clips/s mean, also as a share of a large matmul's."""
    model = build_network(config).eval()
    features = config.features
    waveform = torch.zeros(1, features.clip_samples)  # (1, samples)
    image = torch.zeros(1, 3, features.n_frames, features.n_mels)  # (1, 3, time, mel)
    with torch.no_grad():
        forward = count_flops(lambda: model(waveform))
        backbone = count_flops(lambda: model.encoder(image))
    model.train()

    def step() -> None:
        model(torch.zeros(2, features.clip_samples))["clipwise_output"].sum().backward()

    training = count_flops(step) / 2  # two clips: BatchNorm needs more than one in training
    peak = matmul_flops_per_s(device)
    return {"input": [1, 3, features.n_frames, features.n_mels],
            "densenet121_per_clip": backbone, "model_forward_per_clip": forward,
            "train_step_per_clip": training, "matmul_peak_flops_per_s": peak,
            "inference_flops_per_s": forward * inference_clips_per_s,
            "training_flops_per_s": training * training_clips_per_s,
            "inference_fraction_of_matmul": forward * inference_clips_per_s / peak,
            "training_fraction_of_matmul": training * training_clips_per_s / peak}
