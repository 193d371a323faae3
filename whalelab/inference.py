"""A model's outputs over a data set, batch by batch.

Shared by validation during training and by evaluation, so that both score clips the
same way (same batching, and the run's inference precision,
:func:`whalelab.runtime.autocast`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from whalelab.runtime import autocast, progress_bar

#: the truth a :class:`whalelab.data.ClipItem` carries, by the name it is returned under
TRUTH = {"target": "targets", "frame_target": "frame_targets", "strong": "strong"}


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: Dataset, *, device: torch.device,
                    batch_size: int = 32, amp: bool = False, progress: bool | None = None,
                    desc: str = "predict", outputs: Sequence[str] = ("clipwise_output",)
                    ) -> dict[str, np.ndarray]:
    """The model's ``outputs`` for every clip of ``dataset``, and the dataset's truth.

    ``dataset`` serves :class:`whalelab.data.ClipItem`; ``amp`` is the run's
    ``config.train.amp`` (bf16 on CUDA when it trained so).

    Returns
    -------
    dict of numpy.ndarray
        Each name of ``outputs`` stacked over clips (e.g. ``clipwise_output (clips,
        classes)``, ``framewise_output (clips, frames, classes)``) in float32, and
        ``targets (clips, classes)``; ``frame_targets (clips, frames, classes)`` and
        ``strong (clips,)`` too when the dataset serves frame targets.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        pin_memory=device.type == "cuda")
    collected: dict[str, list[np.ndarray]] = {}
    for batch in progress_bar(loader, progress=progress, desc=desc, leave=False):
        with autocast(device, amp):
            output = model(batch.waveform.to(device, non_blocking=True))
        for name in outputs:
            collected.setdefault(name, []).append(output[name].float().cpu().numpy())
        framed = batch.frame_target.shape[1] > 0  # a dataset with frame targets
        for field, name in TRUTH.items():
            if field == "target" or framed:
                collected.setdefault(name, []).append(getattr(batch, field).numpy())
    return {name: np.concatenate(values) for name, values in collected.items()}
