"""Mixing calls into noise at a signal-to-noise ratio, and levels: what clips and long
recordings share.

A call's signal-to-noise ratio is the ratio of its power to the noise's under it, both
in the call's box (its ``low_hz``-``high_hz``) and over the part of the call that lies
inside the audio. It is measured against the noise bed alone, so that a second call
mixed into the same audio gets the ratio it was drawn with too.

Examples
--------
>>> noise = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
>>> tone = np.sin(2 * np.pi * 400 * np.arange(4000) / 8000).astype(np.float32)
>>> audio = noise.copy()
>>> add_call(audio, noise, Call(tone, 300.0, 500.0), 6000, 8000, 10.0)
(6000, 8000)
>>> call_power = band_power((audio - noise)[6000:], 8000, 300.0, 500.0)
>>> round(float(10 * np.log10(call_power / band_power(noise[6000:], 8000, 300.0, 500.0))), 3)
10.0
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from whalelab.errors import ConfigError
from whalelab.synth.calls import Call

LEVEL_DBFS = (-20.0, -3.0)  # peak level of every clip and long recording, drawn uniformly


def band_power(samples: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Mean power of ``samples`` between ``low_hz`` and ``high_hz`` (Parseval, one-sided)."""
    spectrum = scipy.fft.rfft(samples)
    frequency = scipy.fft.rfftfreq(len(samples), 1 / sample_rate)
    inside = (frequency >= low_hz) & (frequency <= high_hz)
    return float(np.sum(np.abs(spectrum[inside]) ** 2)) / len(samples) ** 2


def add_call(audio: np.ndarray, noise: np.ndarray, sound: Call, start: int, sample_rate: int,
             snr_db: float) -> tuple[int, int]:
    """Add ``sound`` into ``audio`` from sample ``start`` (may be negative: cropped at
    either end), scaled so that the part inside stands ``snr_db`` above ``noise`` under
    it, in its box. Returns the first and past-the-last sample of ``audio`` it covers."""
    first, last = max(start, 0), min(start + len(sound.samples), len(audio))
    piece = sound.samples[first - start:last - start]
    noise_power = band_power(noise[first:last], sample_rate, sound.low_hz, sound.high_hz)
    call_power = band_power(piece, sample_rate, sound.low_hz, sound.high_hz)
    audio[first:last] += piece * np.sqrt(noise_power * 10 ** (snr_db / 10) / call_power)
    return first, last


def to_level(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak-normalise to a random level in :data:`LEVEL_DBFS` (never clips)."""
    peak = 10 ** (rng.uniform(*LEVEL_DBFS) / 20)
    return (audio * (peak / np.abs(audio).max())).astype(np.float32)


def check_seed(seed: int) -> None:
    """Raise :class:`whalelab.errors.ConfigError` for a negative seed."""
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed}")
