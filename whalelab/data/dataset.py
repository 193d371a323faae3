"""Clips served as tensors: decoding, a cache, crop and pad, and helpers against imbalance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, WeightedRandomSampler
from tqdm.auto import tqdm

from whalelab.audio import load_audio
from whalelab.data.clips import BACKGROUND, Clip, ClipIndex, Span


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

    Items are ``(waveform, target)``: float32 ``(samples,)`` and ``(classes,)``. With
    ``hop_length`` (the log-mel hop, in samples) they are ``(waveform, target,
    frame_target, strong)``: ``frame_target`` float32 ``(frames, classes)`` with
    ``frames = 1 + samples // hop_length`` (:func:`frame_targets`, the clip's spans moved
    with the crop or pad this item got), and ``strong`` a float32 scalar, 1 where the
    clip's spans are known (else its frame target is all zero).
    """

    def __init__(self, index: ClipIndex, *, sample_rate: int, clip_seconds: float,
                 train: bool = False, cache: ClipCache | None = None,
                 hop_length: int | None = None) -> None:
        self.index, self.sample_rate, self.train = index, sample_rate, train
        self.samples = int(round(clip_seconds * sample_rate))
        self.cache = cache
        self.targets = torch.from_numpy(index.targets())
        self.hop_length = hop_length

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

    def __getitem__(self, item: int) -> tuple[torch.Tensor, ...]:
        audio = torch.from_numpy(self.waveform(item))
        shift = 0  # where the clip's first sample lands in the served waveform
        length = len(audio)
        excess = length - self.samples
        if excess > 0:
            start = int(torch.randint(0, excess + 1, ())) if self.train else excess // 2
            audio, shift = audio[start:start + self.samples], -start
        elif excess < 0:
            left = int(torch.randint(0, -excess + 1, ())) if self.train else -excess // 2
            audio, shift = torch.nn.functional.pad(audio, (left, -excess - left)), left
        if self.hop_length is None:
            return audio, self.targets[item]
        spans = self.index.clips[item].spans
        frame_target = frame_targets(spans or (), self.index.classes,
                                     frames=1 + self.samples // self.hop_length,
                                     hop_s=self.hop_length / self.sample_rate,
                                     offset_s=shift / self.sample_rate,
                                     end_s=min(length + shift, self.samples) / self.sample_rate)
        return (audio, self.targets[item], torch.from_numpy(frame_target),
                torch.tensor(float(spans is not None)))


def frame_targets(spans: Sequence[Span], classes: Sequence[str], *, frames: int, hop_s: float,
                  offset_s: float, end_s: float) -> np.ndarray:
    """Frame targets ``(frames, classes)`` float32 of call spans: 1 inside a call of the class.

    Frame ``f`` sits at ``f * hop_s`` seconds of the window; it is 1 for a class when
    that time lies in ``[start + offset_s, end + offset_s)`` of one of the class's
    spans, clipped to ``[0, end_s)``.

    Parameters
    ----------
    spans : sequence of (label, start_s, end_s)
        A clip's calls (:attr:`~whalelab.data.clips.Clip.spans`); labels must be classes.
    classes : sequence of str
        The class order of the columns.
    frames, hop_s : int, float
        Frame count and the seconds between frames (``hop_length / sample_rate``).
    offset_s : float
        Where the clip's start lies in the window: positive when padded on the left,
        negative when cropped.
    end_s : float
        Where the clip's audio ends in the window: the window's length, or less where
        the clip is padded on the right (no call lies in the padding).

    Examples
    --------
    >>> frame_targets([("fin", 0.5, 1.0)], ["fin", "minke"], frames=6, hop_s=0.25,
    ...               offset_s=0.25, end_s=1.25)[:, 0].tolist()
    [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    """
    position = {name: k for k, name in enumerate(classes)}
    time = np.arange(frames) * hop_s
    target = np.zeros((frames, len(classes)), dtype=np.float32)
    for label, start, end in spans:
        inside = (time >= start + offset_s) & (time < min(end + offset_s, end_s))
        target[inside, position[label]] = 1.0
    return target


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
