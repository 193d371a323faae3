"""A model's outputs over a data set, batch by batch.

Shared by validation during training and by evaluation, so that both score clips the
same way (same batching, same autocast).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from whalelab.runtime import autocast, progress_bar

#: the items a dataset serves, in order (:class:`whalelab.data.ClipDataset`)
ITEMS = ("waveforms", "targets", "frame_targets", "strong")


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: Dataset, *, device: torch.device,
                    batch_size: int = 32, amp: bool = False, progress: bool | None = None,
                    desc: str = "predict", outputs: Sequence[str] = ("clipwise_output",)
                    ) -> dict[str, np.ndarray]:
    """The model's ``outputs`` for every clip of ``dataset``, and the dataset's truth.

    ``dataset`` yields ``(waveform (samples,), target (classes,))``, optionally followed
    by ``frame_target (frames, classes)`` and ``strong ()``.

    Returns
    -------
    dict of numpy.ndarray
        Each name of ``outputs`` stacked over clips (e.g. ``clipwise_output (clips,
        classes)``, ``framewise_output (clips, frames, classes)``) in float32, and
        ``targets (clips, classes)``; ``frame_targets`` and ``strong`` too when the
        dataset serves them.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        pin_memory=device.type == "cuda")
    collected: dict[str, list[np.ndarray]] = {}
    for batch in progress_bar(loader, progress=progress, desc=desc, leave=False):
        with autocast(device, amp):
            output = model(batch[0].to(device, non_blocking=True))
        for name in outputs:
            collected.setdefault(name, []).append(output[name].float().cpu().numpy())
        for name, value in zip(ITEMS[1:], batch[1:]):
            collected.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(values) for name, values in collected.items()}
