"""Ocean noise, as a hydrophone hears it between calls: never silent.

Coloured ambient noise whose power falls with frequency (as the Wenz curves), sometimes
with a passing ship (tonal blade-rate lines below 100 Hz over modulated cavitation noise)
or snapping shrimp (impulsive broadband clicks). :func:`ocean_noise` mixes them; every
draw comes from the generator it is given.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from whalelab.synth.signals import harmonic_series, sample_count

SHIP_CHANCE = 0.3        # share of noise segments with a ship passing
SHRIMP_CHANCE = 0.3      # share of noise segments with snapping shrimp


def _unit_rms(samples: np.ndarray) -> np.ndarray:
    return samples / np.sqrt(np.mean(samples ** 2))


def _coloured_noise(rng: np.random.Generator, samples: int, sample_rate: int, *,
                    corner_hz: float, slope: float) -> np.ndarray:
    """Gaussian noise at unit RMS whose power falls as ``(1 + f / corner_hz) ** -slope``.

    A 5 Hz high-pass (as a hydrophone's) removes the drift below it.
    """
    frequency = scipy.fft.rfftfreq(samples, 1 / sample_rate)
    power = (1 + frequency / corner_hz) ** -slope * (frequency / (frequency + 5.0)) ** 2
    white = rng.standard_normal((2, len(frequency)))  # complex Gaussian spectrum of white noise
    return _unit_rms(scipy.fft.irfft((white[0] + 1j * white[1]) * np.sqrt(power), n=samples))


def _ship(rng: np.random.Generator, samples: int, sample_rate: int) -> np.ndarray:
    """A passing ship at unit RMS: blade-rate tonal lines below 100 Hz over cavitation
    noise modulated at the blade rate, swelling and fading as the ship passes."""
    time = np.arange(samples) / sample_rate
    blade_hz = rng.uniform(6.0, 25.0)  # shaft rate times the number of blades
    count = int(100 / blade_hz)
    lines = harmonic_series(2 * np.pi * blade_hz * time, rng.uniform(0.2, 1.0, count)
                            * np.exp(1j * rng.uniform(0, 2 * np.pi, count)))
    cavitation = _coloured_noise(rng, samples, sample_rate, corner_hz=rng.uniform(50, 300),
                                 slope=rng.uniform(1.5, 2.5))
    cavitation *= 1 + rng.uniform(0.3, 0.8) * np.cos(2 * np.pi * blade_hz * time)
    seconds = samples / sample_rate
    closest = rng.uniform(-0.5, 1.5) * seconds
    passing = 1 / (1 + ((time - closest) / (rng.uniform(0.3, 1.0) * seconds)) ** 2)
    return _unit_rms((_unit_rms(lines) * 10 ** (rng.uniform(-6, 6) / 20) + cavitation)
                     * passing)


def _snapping_shrimp(rng: np.random.Generator, samples: int, sample_rate: int) -> np.ndarray:
    """Snapping shrimp at unit RMS: 5-60 clicks a second at random times, heavy-tailed
    amplitudes, each a 1 ms zero-mean broadband burst."""
    count = max(1, rng.poisson(rng.uniform(5, 60) * samples / sample_rate))
    train = np.zeros(samples)
    np.add.at(train, rng.integers(0, samples, count),
              (rng.pareto(3.0, count) + 1) * rng.choice([-1.0, 1.0], count))
    width = max(2, sample_count(0.001, sample_rate))
    click = rng.standard_normal(width) * np.exp(-np.arange(width) / (width / 3))
    return _unit_rms(np.convolve(train, click - click.mean())[:samples])


def ocean_noise(rng: np.random.Generator, samples: int, sample_rate: int = 8000) -> np.ndarray:
    """Ocean noise ``(samples,)`` float32 at unit RMS, never silent.

    Coloured ambient noise whose power falls with frequency (-3 to -6 dB per octave above
    a 20-200 Hz corner, as the Wenz curves), plus in 30 % of cases a passing ship and in
    30 % snapping shrimp, each at a random level.

    Examples
    --------
    >>> noise = ocean_noise(np.random.default_rng(0), 8000, 8000)
    >>> noise.shape, round(float(np.sqrt(np.mean(noise ** 2))), 3)
    ((8000,), 1.0)
    """
    noise = _coloured_noise(rng, samples, sample_rate, corner_hz=rng.uniform(20, 200),
                            slope=rng.uniform(1.0, 2.0))
    if rng.random() < SHIP_CHANCE:
        noise += 10 ** (rng.uniform(-6, 3) / 20) * _ship(rng, samples, sample_rate)
    if rng.random() < SHRIMP_CHANCE:
        noise += 10 ** (rng.uniform(-12, -3) / 20) * _snapping_shrimp(rng, samples, sample_rate)
    return _unit_rms(noise).astype(np.float32)
