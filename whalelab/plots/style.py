"""The look every figure shares, and the helpers the figure modules build on.

Figures are made without pyplot (see :mod:`whalelab.plots`); spectrogram-like images
are drawn with time along x in seconds and frequency along y.

Examples
--------
>>> fig = new_figure(4, 3)
>>> fig.get_size_inches().tolist(), as_image(np.zeros((1, 5, 2))).shape
([4.0, 3.0], (5, 2))
"""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np
import torch
from matplotlib.figure import Figure

CMAP = "magma"


def as_numpy(values: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a float numpy array."""
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def as_image(values: Any) -> np.ndarray:
    """``(time, bins)`` from ``(time, bins)`` or ``(1, time, bins)``."""
    values = as_numpy(values)
    return values[0] if values.ndim == 3 and values.shape[0] == 1 else values


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free Figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def frame_extent(frames: int, *, sample_rate: int, hop_length: int) -> tuple[float, float]:
    """Time span of ``frames`` centred frames (frame t is centred on t * hop / sr)."""
    step = hop_length / sample_rate
    return -step / 2, (frames - 0.5) * step


def draw_logmel(ax, values: np.ndarray, *, sample_rate: int, hop_length: int, fmin: float,
                fmax: float, htk: bool, **style):
    """A ``(time, mel)`` image whose y ticks name band centres in Hz; returns the image."""
    frames, n_mels = values.shape
    image = ax.imshow(values.T, origin="lower", aspect="auto", cmap=CMAP,
                      interpolation="nearest", **style,
                      extent=(*frame_extent(frames, sample_rate=sample_rate,
                                            hop_length=hop_length), 0, n_mels))
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)[1:-1]
    ticks = np.unique(np.linspace(0, n_mels - 1, min(n_mels, 6)).round().astype(int))
    ax.set_yticks(ticks + 0.5, [f"{centres[t]:.0f}" for t in ticks])
    ax.set(xlabel="time (s)", ylabel="frequency (Hz, mel scale)")
    return image
