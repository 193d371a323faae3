"""Clips served as tensors: decoding, a cache, crop and pad, and helpers against imbalance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, WeightedRandomSampler
from tqdm.auto import tqdm

from whalelab.audio import load_audio
from whalelab.data.clips import BACKGROUND, Clip, ClipIndex


class ClipCache:
    """Decoded, resampled clips kept in memory so that later epochs do not decode again.

    Keys are ``(path, start_s, duration_s, sample_rate)``; values float32 ``(samples,)``.
    """

    def __init__(self) -> None:
        self._waveforms: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._waveforms)

    def get(self, clip: Clip, sample_rate: int) -> np.ndarray:
        """The clip's audio at ``sample_rate``, decoded once."""
        key = (clip.path, clip.start_s, clip.duration_s, sample_rate)
        if key not in self._waveforms:
            self._waveforms[key] = _decode(clip, sample_rate)
        return self._waveforms[key]


def _decode(clip: Clip, sample_rate: int) -> np.ndarray:
    return load_audio(clip.path, sample_rate, offset=clip.start_s, duration=clip.duration_s)


class ClipDataset(Dataset):
    """Fixed-length waveforms and multi-hot targets of a :class:`~whalelab.data.clips.ClipIndex`.

    A clip longer than ``clip_seconds`` is cropped (at random in training, centred in
    evaluation); a shorter one is zero-padded (at a random offset in training, centred in
    evaluation). Random positions come from torch's global generator, which the
    training loop seeds per epoch (and DataLoader seeds per worker).

    Items are ``(waveform, target)``: float32 ``(samples,)`` and ``(classes,)``.
    """

    def __init__(self, index: ClipIndex, *, sample_rate: int, clip_seconds: float,
                 train: bool = False, cache: ClipCache | None = None) -> None:
        self.index, self.sample_rate, self.train = index, sample_rate, train
        self.samples = int(round(clip_seconds * sample_rate))
        self.cache = cache
        self.targets = torch.from_numpy(index.targets())

    def __len__(self) -> int:
        return len(self.index.clips)

    def clip(self, item: int) -> Clip:
        """The :class:`~whalelab.data.clips.Clip` behind item ``item``."""
        return self.index.clips[item]

    def preload(self, *, progress: bool | None = None) -> None:
        """Decode every clip into the cache now, with a progress bar."""
        if self.cache is None:
            self.cache = ClipCache()
        for clip in tqdm(self.index.clips, desc="decode", leave=False,
                         disable=not progress if progress is not None else None):
            self.cache.get(clip, self.sample_rate)

    def waveform(self, item: int) -> np.ndarray:
        """The decoded audio of item ``item`` at the dataset's rate, before crop or pad."""
        clip = self.index.clips[item]
        return self.cache.get(clip, self.sample_rate) if self.cache is not None \
            else _decode(clip, self.sample_rate)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio = torch.from_numpy(self.waveform(item))
        excess = len(audio) - self.samples
        if excess > 0:
            start = int(torch.randint(0, excess + 1, ())) if self.train else excess // 2
            audio = audio[start:start + self.samples]
        elif excess < 0:
            left = int(torch.randint(0, -excess + 1, ())) if self.train else -excess // 2
            audio = torch.nn.functional.pad(audio, (left, -excess - left))
        return audio, self.targets[item]


def class_weights(index: ClipIndex) -> torch.Tensor:
    """``pos_weight`` for BCE: negatives over positives per class ``(classes,)``, at most 100."""
    targets = index.targets()
    positives = targets.sum(axis=0)
    weights = (len(targets) - positives) / np.maximum(positives, 1)
    return torch.from_numpy(np.clip(weights, 1.0, 100.0).astype(np.float32))


def balanced_sampler(index: ClipIndex, seed: int) -> WeightedRandomSampler:
    """Draw each clip with weight 1 / (clips of its main label), so classes come equally often."""
    main = [clip.labels[0] if clip.labels else BACKGROUND for clip in index.clips]
    counts = pd.Series(main).value_counts()
    weights = torch.tensor([1.0 / counts[label] for label in main], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=len(main), replacement=True,
                                 generator=torch.Generator().manual_seed(seed))
