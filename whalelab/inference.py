"""A model's clip scores over a data set, batch by batch.

Shared by validation during training and by evaluation, so that both score clips the
same way (same batching, same autocast).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from whalelab.runtime import autocast, progress_bar


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: Dataset, *, device: torch.device,
                    batch_size: int = 32, amp: bool = False, progress: bool | None = None,
                    desc: str = "predict") -> tuple[np.ndarray, np.ndarray]:
    """Clipwise probabilities ``(clips, classes)`` and targets ``(clips, classes)`` of a dataset.

    ``dataset`` yields ``(waveform (samples,), target (classes,))``; the model's
    ``clipwise_output`` is the clip score.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        pin_memory=device.type == "cuda")
    probabilities, targets = [], []
    for waveforms, target in progress_bar(loader, progress=progress, desc=desc, leave=False):
        with autocast(device, amp):
            output = model(waveforms.to(device, non_blocking=True))
        probabilities.append(output["clipwise_output"].float().cpu().numpy())
        targets.append(target.numpy())
    return np.concatenate(probabilities), np.concatenate(targets)
