"""Noise, as a hydrophone hears it between calls: never silent.

:func:`ocean_noise`: coloured ambient noise whose power falls with frequency (as the
Wenz curves), often with a passing ship (tonal blade-rate lines below 100 Hz over
modulated cavitation noise) or snapping shrimp (impulsive broadband clicks).
:func:`noise_bed`, under every clip and long recording: ocean noise or, as recorders
also deliver, plain white, pink or brown noise, sometimes with a stretch where the
ambient drops out and only the recorder's low-level sensor noise is left. Every draw
comes from the generator it is given.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from whalelab.synth.signals import harmonic_series, sample_count

SHIP_CHANCE = 0.35       # share of ocean noise segments with a ship passing
SHRIMP_CHANCE = 0.3      # share of ocean noise segments with snapping shrimp
# the kind of noise under a clip or recording, with its share: ocean noise, or plain
# noise whose power falls as f ** -slope (white 0, pink 1, brown 2)
NOISE_KINDS = {"ocean": 0.7, "white": 0.1, "pink": 0.1, "brown": 0.1}
_SLOPES = {"white": 0.0, "pink": 1.0, "brown": 2.0}
SENSOR_STRETCH_CHANCE = 0.15    # share of beds with a stretch of sensor noise alone
SENSOR_STRETCH_S = (0.5, 2.5)   # its length, seconds
SENSOR_DROP_DB = (20.0, 40.0)   # its level below the bed around it


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


def ocean_noise(rng: np.random.Generator, samples: int, sample_rate: int = 8000, *,
                ship_chance: float = SHIP_CHANCE,
                shrimp_chance: float = SHRIMP_CHANCE) -> np.ndarray:
    """Ocean noise ``(samples,)`` float32 at unit RMS, never silent.

    Coloured ambient noise whose power falls with frequency (-3 to -6 dB per octave above
    a 20-200 Hz corner, as the Wenz curves), plus with chance ``ship_chance`` (35 %) a
    passing ship and with ``shrimp_chance`` (30 %) snapping shrimp, each at a random level.

    Examples
    --------
    >>> noise = ocean_noise(np.random.default_rng(0), 8000, 8000)
    >>> noise.shape, round(float(np.sqrt(np.mean(noise ** 2))), 3)
    ((8000,), 1.0)
    """
    noise = _coloured_noise(rng, samples, sample_rate, corner_hz=rng.uniform(20, 200),
                            slope=rng.uniform(1.0, 2.0))
    if rng.random() < ship_chance:
        noise += 10 ** (rng.uniform(-6, 3) / 20) * _ship(rng, samples, sample_rate)
    if rng.random() < shrimp_chance:
        noise += 10 ** (rng.uniform(-12, -3) / 20) * _snapping_shrimp(rng, samples, sample_rate)
    return _unit_rms(noise).astype(np.float32)


def _sensor_stretch(rng: np.random.Generator, noise: np.ndarray,
                    sample_rate: int) -> np.ndarray:
    """``noise`` with one stretch where it fades out (20 ms ramps) to white sensor noise
    :data:`SENSOR_DROP_DB` below it, as when the ambient drops out around a recorder."""
    length = min(sample_count(rng.uniform(*SENSOR_STRETCH_S), sample_rate), len(noise))
    start = int(rng.integers(0, len(noise) - length + 1))
    ramp = min(sample_count(0.02, sample_rate), length // 2)
    inside = np.zeros(len(noise))
    inside[start:start + length] = 1.0
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, ramp + 1) / (ramp + 1))
        inside[start:start + ramp] = edge
        inside[start + length - ramp:start + length] = edge[::-1]
    sensor = 10 ** (-rng.uniform(*SENSOR_DROP_DB) / 20) * rng.standard_normal(len(noise))
    return noise * (1 - inside) + sensor * inside


def noise_bed(rng: np.random.Generator, samples: int, sample_rate: int = 8000) -> np.ndarray:
    """The noise under a clip or recording ``(samples,)`` float32 at unit RMS, never silent.

    One of :data:`NOISE_KINDS`: :func:`ocean_noise` (70 %) or white, pink or brown noise
    (10 % each); in :data:`SENSOR_STRETCH_CHANCE` (15 %) of cases with a 0.5-2.5 s stretch
    of low-level sensor noise alone (:data:`SENSOR_DROP_DB` below the rest).

    Examples
    --------
    >>> bed = noise_bed(np.random.default_rng(0), 8000, 8000)
    >>> bed.shape, round(float(np.sqrt(np.mean(bed ** 2))), 3)
    ((8000,), 1.0)
    """
    kind = str(rng.choice(list(NOISE_KINDS), p=list(NOISE_KINDS.values())))
    if kind == "ocean":
        noise = ocean_noise(rng, samples, sample_rate)
    else:
        noise = _coloured_noise(rng, samples, sample_rate, corner_hz=1.0, slope=_SLOPES[kind])
    if rng.random() < SENSOR_STRETCH_CHANCE:
        noise = _sensor_stretch(rng, noise, sample_rate)
    return _unit_rms(noise).astype(np.float32)
