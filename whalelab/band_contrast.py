"""How far each class's frequency band stands above its noise floor, frame by frame.

The model's framewise output says *that* a call of a class is near a frame, but its
time resolution is one DenseNet segment (32 frames, about half a second at the default
settings) and its receptive field spans seconds, so its events come out a second or so
too long on each side. Where the call actually starts and ends is written in the
spectrogram: the energy in the class's band rises above the background there.
:class:`BandContrast` measures that rise, and :func:`whalelab.events.find_events`
trims each event to where it is strong.

For every window and mel band, the noise floor is a low percentile over the window's
frames (the quiet majority of frames, even when a call fills most of the window); the
contrast of a class at a frame is the largest excess over that floor among the mel bands
inside the class's band, smoothed over a few frames.

Examples
--------
>>> from whalelab.config import FeatureConfig
>>> contrast = BandContrast(FeatureConfig(), {"minke": (900.0, 1900.0)}, ["minke"])
>>> contrast(torch.randn(2, 40000)).shape  # (batch, frames, classes)
torch.Size([2, 313, 1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from whalelab.config import FeatureConfig
from whalelab.errors import ConfigError
from whalelab.features import logmel_pipeline

#: a class's band is widened by this factor on each side to pick its mel bands
BAND_MARGIN = 1.2


def class_band_mask(features: FeatureConfig, bands: Mapping[str, tuple[float, float]],
                    classes: Sequence[str]) -> np.ndarray:
    """``(mel, classes)`` booleans: which mel bands lie in each class's frequency band.

    A band's centre must lie within ``[low / 1.2, high * 1.2]``; a class whose band holds
    no centre (or has no band) gets the mel band nearest to its band, or all of them.

    Examples
    --------
    >>> mask = class_band_mask(FeatureConfig(), {"fin": (12.0, 35.0)}, ["fin", "other"])
    >>> mask.shape, int(mask[:, 0].sum()), bool(mask[:, 1].all())
    ((64, 2), 1, True)
    """
    centres = librosa.mel_frequencies(n_mels=features.n_mels + 2, fmin=features.fmin,
                                      fmax=features.fmax, htk=features.htk)[1:-1]
    mask = np.zeros((features.n_mels, len(classes)), dtype=bool)
    for k, name in enumerate(classes):
        low, high = bands.get(name, (np.nan, np.nan))
        if not np.isfinite(low) or not np.isfinite(high):
            mask[:, k] = True
            continue
        if low > high:
            raise ConfigError(f"class {name!r}: band low {low} Hz is above high {high} Hz")
        inside = (centres >= low / BAND_MARGIN) & (centres <= high * BAND_MARGIN)
        if not inside.any():
            inside[np.argmin(np.abs(centres - np.sqrt(max(low, 1e-3) * high)))] = True
        mask[:, k] = inside
    return mask


class BandContrast(nn.Module):
    """Per-class band energy above the window's noise floor, in dB.

    Parameters
    ----------
    features : FeatureConfig
        The run's log-mel settings (the same spectrogram the model sees).
    bands : mapping
        ``{class: (low_hz, high_hz)}``, e.g. from the run's ``classes.json``.
    classes : sequence of str
        Output order.
    floor_percentile : float
        The per-band noise floor is this percentile of the window's frames.
    smooth_frames : int
        Width of the moving average over frames (odd).

    Shapes
    ------
    ``(batch, samples)`` -> ``(batch, frames, classes)`` dB, ``frames`` as the model's
    framewise output.
    """

    def __init__(self, features: FeatureConfig, bands: Mapping[str, tuple[float, float]],
                 classes: Sequence[str], *, floor_percentile: float = 20.0,
                 smooth_frames: int = 5) -> None:
        super().__init__()
        if not 0 <= floor_percentile <= 100:
            raise ConfigError(f"floor_percentile must be in [0, 100], not {floor_percentile}")
        if smooth_frames < 1 or smooth_frames % 2 == 0:
            raise ConfigError(f"smooth_frames must be a positive odd number, not {smooth_frames}")
        self.quantile, self.smooth_frames = floor_percentile / 100, smooth_frames
        self.logmel = logmel_pipeline(features)
        mask = torch.from_numpy(class_band_mask(features, bands, classes))
        # added to the excess: 0 inside a class's band, -inf outside
        self.register_buffer("outside", torch.zeros(mask.shape).masked_fill(~mask, -torch.inf))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        db = self.logmel(waveform)[:, 0]  # (batch, frames, mel)
        floor = torch.quantile(db, self.quantile, dim=1, keepdim=True)  # (batch, 1, mel)
        excess = (db - floor)[..., None] + self.outside  # (batch, frames, mel, classes)
        contrast = excess.amax(dim=2).transpose(1, 2)  # (batch, classes, frames)
        contrast = F.avg_pool1d(contrast, self.smooth_frames, stride=1,
                                padding=self.smooth_frames // 2, count_include_pad=False)
        return contrast.transpose(1, 2)  # (batch, frames, classes)
