"""Signal primitives shared by the call models and the noise models.

Examples
--------
>>> sample_count(0.5, 8000), sample_count(0.0, 8000)
(4000, 1)
>>> phase = np.linspace(0, 2 * np.pi, 5)
>>> np.allclose(harmonic_series(phase, [1, 0.5j]), np.sin(phase) + 0.5 * np.cos(2 * phase))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sample_count(seconds: float, sample_rate: int) -> int:
    """Samples in ``seconds`` at ``sample_rate``, rounded, at least one."""
    return max(1, int(round(seconds * sample_rate)))


def harmonic_series(phase: np.ndarray, weights: Sequence[complex]) -> np.ndarray:
    """``sum(Im(weights[k - 1] * exp(1j * k * phase)))`` over k = 1, 2...: a sum of
    harmonics (amplitude ``abs``, phase ``angle`` of each weight) by Horner's rule,
    one complex product per harmonic instead of one sine."""
    unit = np.exp(1j * phase)
    total = np.zeros_like(unit)
    for weight in reversed(weights):
        total = (total + weight) * unit
    return total.imag
