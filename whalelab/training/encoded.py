"""A frozen backbone's view of a run's clips, computed once for every epoch.

A frozen backbone (``BACKBONES[name].frozen``: BirdNET's embeddings) learns nothing, and
its training clips are served as evaluation serves them, so each clip's features are the
same in every epoch. Training and the per-epoch validation therefore encode each clip
once (:class:`EncodedClips`) and run only the model's head on those features
(:class:`HeadOnly`): the same weights as running the whole model on the waveforms at
every step (nothing random happens before the head), without reading every clip's
embeddings back from the caches (and hashing its samples to find them) every epoch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from whalelab.data import ClipDataset, ClipItem
from whalelab.model import WhaleSED
from whalelab.runtime import progress_bar


class EncodedClips(Dataset):
    """The clips of ``clips`` as ``model``'s frozen backbone encodes them, computed now.

    Items are :class:`~whalelab.data.ClipItem` whose first field holds the clip's features
    ``(channels, segments)`` in place of its waveform; the target, frame target and
    ``strong`` fields are the clip's as ``clips`` serves them (which must not be
    augmented: the features are computed once).

    Attributes
    ----------
    frames : int
        The log-mel frame count of the clips (what the framewise outputs take).
    """

    def __init__(self, model: WhaleSED, clips: ClipDataset, *, device: torch.device,
                 batch_size: int, progress: bool | None = None) -> None:
        if clips.train:
            raise ValueError("a frozen backbone's clips are encoded once, so they must be "
                             "served unaugmented (train=False)")
        was_training = model.training
        model.eval()
        features, items = [], []
        loader = DataLoader(clips, batch_size=batch_size, shuffle=False)
        with torch.no_grad():
            for batch in progress_bar(loader, progress=progress, desc="embed", leave=False):
                encoded, self.frames = model.encode(batch.waveform.to(device))
                features.append(encoded.float().cpu())  # (batch, channels, segments)
                items.append(batch)
        model.train(was_training)
        self.features = torch.cat(features)  # (clips, channels, segments)
        self.targets = torch.cat([item.target for item in items])  # (clips, classes)
        self.frame_targets = torch.cat([item.frame_target for item in items])
        self.strong = torch.cat([item.strong for item in items])  # (clips,)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, item: int) -> ClipItem:
        return ClipItem(self.features[item], self.targets[item], self.frame_targets[item],
                        self.strong[item])


class HeadOnly(nn.Module):
    """``model`` from its backbone's output on: ``(batch, channels, segments)`` -> the
    model's outputs, the framewise ones ``frames`` long (:meth:`WhaleSED.head`).

    ``model`` is a submodule, so ``train()`` and ``eval()`` reach it."""

    def __init__(self, model: WhaleSED, frames: int) -> None:
        super().__init__()
        self.model, self.frames = model, frames

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.head(features, self.frames)
