"""The embedded synthetic whale-call data set: six species' calls over ocean noise.

Each species has one small call model that follows a published description of its
call (DESIGN.md §4), with duration, frequency and shape drawn at random within the
published ranges. Calls are mixed into coloured ocean noise (sometimes with a passing
ship or snapping shrimp) at a random signal-to-noise ratio measured in the call's band,
and every clip is peak-normalised to a random level. Every draw comes from a seeded
generator, so the same seed gives the same bytes.

The data set models 10 Hz to 4 kHz (the Nyquist frequency of the default 8 kHz sample
rate): harmonics are never rendered above 4 kHz, nor above 95 % of the Nyquist frequency
at lower sample rates, so that no call aliases at any sample rate of 4 kHz or more.

Examples
--------
>>> clip = example_clip("right_whale", seed=0)
>>> clip.shape, clip.dtype, bool(abs(clip).max() <= 1)
((40000,), dtype('float32'), True)
>>> sound = render_call("fin_whale", np.random.default_rng(0), 8000)
>>> bool(CALL_BANDS["fin_whale"][0] <= sound.low_hz < sound.high_hz <= CALL_BANDS["fin_whale"][1])
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.fft
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write
from whalelab.audio import write_audio
from whalelab.errors import ConfigError
from whalelab.profiles import resolve_profile
from whalelab.raven import write_raven

SPECIES = ["blue_whale", "fin_whale", "right_whale", "humpback_whale", "minke_whale",
           "killer_whale"]
BACKGROUND = "background"
LABELS = [*SPECIES, BACKGROUND]
# the band (low_hz, high_hz) that every rendered component of a class's calls lies in
CALL_BANDS = {
    "blue_whale": (10.0, 100.0),
    "fin_whale": (12.0, 35.0),
    "right_whale": (40.0, 700.0),
    "humpback_whale": (80.0, 4000.0),
    "minke_whale": (900.0, 1900.0),
    "killer_whale": (500.0, 4000.0),
}
TOP_HZ = 4000.0          # nothing is rendered above this frequency
# call-to-noise power ratio in the call's band (dB), drawn uniformly per call. Blue and
# fin whales, the loudest callers in the sea (source levels about 186-189 dB re 1 uPa at
# 1 m), get more: log-mel features of the default settings (64 Slaney mels from 10 Hz)
# see 15-30 Hz only through the lower skirt of their lowest mel band (10-82 Hz), where a
# fin pulse at 15 dB in its band stands about 6 dB above the noise
SNR_DB = {"blue_whale": (10.0, 30.0), "fin_whale": (15.0, 30.0), "right_whale": (0.0, 20.0),
          "humpback_whale": (0.0, 20.0), "minke_whale": (0.0, 20.0),
          "killer_whale": (0.0, 20.0)}
LEVEL_DBFS = (-20.0, -3.0)  # peak level of every clip and long recording, drawn uniformly
SPLITS = {"train": 0.70, "val": 0.15, "test": 0.15}
SHIP_CHANCE = 0.3        # share of noise segments with a ship passing
SHRIMP_CHANCE = 0.3      # share of noise segments with snapping shrimp
MIN_GAP_S = 3.0          # silence-free noise between calls in long recordings
MEAN_EXTRA_GAP_S = 5.0   # mean of the exponential gap added to MIN_GAP_S
_CLIP_STREAM, _LONG_STREAM = 0, 1  # seed-sequence tags keeping clips and recordings apart


class Call(NamedTuple):
    """One rendered call: float32 samples ``(samples,)`` and the band it occupies.

    ``low_hz`` and ``high_hz`` span the components within 12 dB of the strongest one
    (what an analyst would draw a box around in Raven).
    """

    samples: np.ndarray
    low_hz: float
    high_hz: float


def _top_hz(sample_rate: int) -> float:
    """Highest frequency rendered at ``sample_rate``: 4 kHz, or 95 % of Nyquist below 8 kHz."""
    return min(TOP_HZ, 0.95 * sample_rate / 2)


def _length(seconds: float, sample_rate: int) -> int:
    return max(1, int(round(seconds * sample_rate)))


def _sweep(start_hz: float, end_hz: float, samples: int, curvature: float = 1.0) -> np.ndarray:
    """Frequency track ``(samples,)`` from ``start_hz`` to ``end_hz``; curvature > 1 starts slowly."""
    return start_hz + (end_hz - start_hz) * np.linspace(0.0, 1.0, samples) ** curvature


def _envelope(samples: int, sample_rate: int, rise_s: float, fall_s: float) -> np.ndarray:
    """Raised-cosine onset and offset ramps, 1 in between, ``(samples,)``."""
    envelope = np.ones(samples)
    rise = min(_length(rise_s, sample_rate), samples // 2)
    fall = min(_length(fall_s, sample_rate), samples // 2)
    envelope[:rise] = 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    envelope[samples - fall:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fall + 1) / fall)
    return envelope


def _harmonic_series(phase: np.ndarray, weights: Sequence[complex]) -> np.ndarray:
    """``sum(Im(weights[k - 1] * exp(1j * k * phase)))`` over k = 1, 2...: a sum of
    harmonics (amplitude ``abs``, phase ``angle`` of each weight) by Horner's rule,
    one complex product per harmonic instead of one sine."""
    unit = np.exp(1j * phase)
    total = np.zeros_like(unit)
    for weight in reversed(weights):
        total = (total + weight) * unit
    return total.imag


def _harmonics(track: np.ndarray, sample_rate: int, amplitudes: Sequence[float],
               rng: np.random.Generator, *, rise_s: float, fall_s: float) -> Call:
    """Harmonic stack on the fundamental ``track`` (Hz per sample), enveloped.

    Harmonic ``k`` (from 1) has amplitude ``amplitudes[k - 1]``; harmonics that would
    reach :func:`_top_hz` are left out, and the fundamental is held below 90 % of it.
    """
    top = _top_hz(sample_rate)
    track = np.minimum(track, 0.9 * top)
    phase = 2 * np.pi * np.cumsum(track) / sample_rate + rng.uniform(0, 2 * np.pi)
    kept = [(k, a) for k, a in enumerate(amplitudes, start=1) if k * track.max() < top]
    samples = _harmonic_series(phase, [a for _, a in kept])
    strongest = max(a for _, a in kept)
    boxed = [k for k, a in kept if a >= 0.25 * strongest]  # within 12 dB of the strongest
    samples = samples * _envelope(len(track), sample_rate, rise_s, fall_s)
    return Call(samples.astype(np.float32), float(min(boxed) * track.min()),
                float(max(boxed) * track.max()))


def blue_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Blue whale: a NE Pacific B call (70 %) or an Antarctic Z call (30 %).

    B call: a 10-20 s tonal downsweep whose fundamental falls from about 16-17 Hz by
    10-14 %, with the third harmonic (about 50 -> 44 Hz) the strongest (Rivers 1997;
    McDonald, Mesnick & Hildebrand 2006, J. Cetacean Res. Manage. 8:55-65).
    Z call: a tone near 28 Hz, a 1-2 s downsweep, then a tone near 18 Hz, 10-20 s in all
    (Sirovic et al. 2004, Deep-Sea Res. II 51:2327-2344). See DESIGN.md §4.
    """
    if rng.random() < 0.7:
        start = rng.uniform(16.0, 17.3)
        track = _sweep(start, start * rng.uniform(0.86, 0.90),
                       _length(rng.uniform(10.0, 20.0), sample_rate))
        return _harmonics(track, sample_rate, [0.3, 0.2, 1.0, 0.3, 0.12], rng,
                          rise_s=1.0, fall_s=1.5)
    high, low = rng.uniform(27.0, 29.0), rng.uniform(18.0, 19.5)
    track = np.concatenate([
        np.full(_length(rng.uniform(4.0, 8.0), sample_rate), high),
        _sweep(high, low, _length(rng.uniform(1.0, 2.0), sample_rate)),
        np.full(_length(rng.uniform(5.0, 10.0), sample_rate), low)])
    return _harmonics(track, sample_rate, [1.0], rng, rise_s=1.0, fall_s=1.5)


def fin_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Fin whale "20 Hz pulse": a 0.7-1.3 s downsweep from about 25-32 Hz to 14-18 Hz.

    The pulses come in long series, one every 7-30 s, so a 5 s clip holds one
    (Watkins et al. 1987, J. Acoust. Soc. Am. 82:1901-1912; DESIGN.md §4).
    """
    seconds = rng.uniform(0.7, 1.3)
    track = _sweep(rng.uniform(25.0, 32.0), rng.uniform(14.0, 18.0),
                   _length(seconds, sample_rate), rng.uniform(0.6, 1.0))
    return _harmonics(track, sample_rate, [1.0], rng, rise_s=0.3 * seconds, fall_s=0.4 * seconds)


def right_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """North Atlantic right whale upcall: a 0.6-1.4 s upsweep from 50-80 Hz to 150-220 Hz.

    Rises slowly, then faster (the "J" shape), with two weaker harmonics
    (Parks & Tyack 2005, J. Acoust. Soc. Am. 117:3297-3306; DESIGN.md §4).
    """
    track = _sweep(rng.uniform(50.0, 80.0), rng.uniform(150.0, 220.0),
                   _length(rng.uniform(0.6, 1.4), sample_rate), rng.uniform(1.0, 2.0))
    return _harmonics(track, sample_rate, [1.0, 0.45, 0.2], rng, rise_s=0.1, fall_s=0.15)


def humpback_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Humpback whale song: a phrase of 1-3 units, each 0.3-1.6 s, 0.1-0.5 s apart.

    Each unit is harmonic and frequency-modulated (rising, falling, arched or U-shaped,
    with slight vibrato) on a fundamental of 80 Hz to about 2 kHz, its harmonics up to
    4 kHz (Payne & McVay 1971, Science 173:585-597; Au et al. 2006, J. Acoust. Soc. Am.
    120:1103-1110; DESIGN.md §4: units 0.1-4 s, about 80 Hz to 4 kHz).
    """
    pieces, lows, highs = [], [], []
    for unit in range(rng.integers(1, 4)):
        if unit:
            pieces.append(np.zeros(_length(rng.uniform(0.1, 0.5), sample_rate), np.float32))
        samples = _length(rng.uniform(0.3, 1.6), sample_rate)
        position = np.linspace(0.0, 1.0, samples)
        contour = [position, 1 - position, np.sin(np.pi * position),
                   1 - np.sin(np.pi * position)][rng.integers(4)]
        vibrato = 1 + np.sin(2 * np.pi * rng.uniform(4, 12) * position * samples / sample_rate)
        base = np.exp(rng.uniform(np.log(80.0), np.log(1000.0)))
        track = base * np.exp(rng.uniform(0.1, 0.7) * contour + 0.02 * vibrato)
        sound = _harmonics(track, sample_rate, rng.uniform(0.4, 0.8) ** np.arange(8), rng,
                           rise_s=0.05, fall_s=0.1)
        pieces.append(sound.samples)
        lows.append(sound.low_hz)
        highs.append(sound.high_hz)
    return Call(np.concatenate(pieces), min(lows), max(highs))


def minke_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Minke whale "boing": a 1.5-3.5 s tone near 1.4 kHz pulsed at 90-120 pulses per second.

    A brief loud onset pulse, then the long amplitude-modulated part; the pulsing puts
    sidebands one pulse rate either side of the carrier (Rankin & Barlow 2005,
    J. Acoust. Soc. Am. 118:3346-3351; DESIGN.md §4).
    """
    samples = _length(rng.uniform(1.5, 3.5), sample_rate)
    start = rng.uniform(1300.0, 1450.0)
    tone = _harmonics(_sweep(start, start + rng.uniform(0.0, 30.0), samples), sample_rate,
                      [1.0], rng, rise_s=0.02, fall_s=0.3)
    rate = rng.uniform(90.0, 120.0)
    time = np.arange(samples) / sample_rate
    pulses = (0.5 + 0.5 * np.cos(2 * np.pi * rate * time)) ** rng.integers(1, 4)
    onset = 1 + np.exp(-time / 0.05)
    return Call((tone.samples * pulses * onset).astype(np.float32),
                tone.low_hz - rate, tone.high_hz + rate)


def killer_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Killer whale pulsed call: a 0.5-1.5 s harmonic stack on a 0.5-2 kHz fundamental.

    The fundamental (the pulse repetition rate) wanders smoothly within ±25 % and half
    of the calls end in an upsweep; harmonics fall off as ``k ** -tilt`` and reach up to
    4 kHz (Ford 1989, Can. J. Zool. 67:727-745; DESIGN.md §4).
    """
    samples = _length(rng.uniform(0.5, 1.5), sample_rate)
    knots = np.exp(rng.uniform(np.log(600.0), np.log(1600.0)) + rng.uniform(-0.25, 0.25, 4))
    if rng.random() < 0.5:
        knots[-1] *= rng.uniform(1.2, 1.5)  # terminal upsweep
    track = np.clip(np.interp(np.linspace(0, 1, samples), [0, 0.3, 0.7, 1], knots), 500, 2000)
    amplitudes = np.arange(1, 11) ** -rng.uniform(0.5, 1.5)
    return _harmonics(track, sample_rate, amplitudes, rng, rise_s=0.05, fall_s=0.1)


CALL_MODELS: dict[str, Callable[[np.random.Generator, int], Call]] = {
    "blue_whale": blue_whale_call, "fin_whale": fin_whale_call,
    "right_whale": right_whale_call, "humpback_whale": humpback_whale_call,
    "minke_whale": minke_whale_call, "killer_whale": killer_whale_call,
}


def _check_sample_rate(sample_rate: int) -> None:
    if sample_rate < 4000:
        raise ConfigError(f"sample_rate must be at least 4000 Hz, not {sample_rate}")


def render_call(species: str, rng: np.random.Generator, sample_rate: int = 8000) -> Call:
    """One random call of ``species`` with its band (see :class:`Call`).

    Examples
    --------
    >>> sound = render_call("minke_whale", np.random.default_rng(1), 8000)
    >>> 1.5 <= len(sound.samples) / 8000 <= 3.5
    True
    """
    if species not in CALL_MODELS:
        raise ConfigError(f"unknown species {species!r}; choose one of {', '.join(SPECIES)}")
    _check_sample_rate(sample_rate)
    return CALL_MODELS[species](rng, sample_rate)


def call(species: str, rng: np.random.Generator, sample_rate: int = 8000) -> np.ndarray:
    """One random call of ``species`` as float32 ``(samples,)``, noise-free.

    Its amplitude is arbitrary: mixing sets it from a random signal-to-noise ratio.

    Examples
    --------
    >>> call("killer_whale", np.random.default_rng(0)).dtype
    dtype('float32')
    """
    return render_call(species, rng, sample_rate).samples


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
    lines = _harmonic_series(2 * np.pi * blade_hz * time, rng.uniform(0.2, 1.0, count)
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
    width = max(2, _length(0.001, sample_rate))
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


def _band_power(samples: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Mean power of ``samples`` between ``low_hz`` and ``high_hz`` (Parseval, one-sided)."""
    spectrum = scipy.fft.rfft(samples)
    frequency = scipy.fft.rfftfreq(len(samples), 1 / sample_rate)
    inside = (frequency >= low_hz) & (frequency <= high_hz)
    return float(np.sum(np.abs(spectrum[inside]) ** 2)) / len(samples) ** 2


def _add_call(audio: np.ndarray, sound: Call, start: int, sample_rate: int,
              snr_db: float) -> None:
    """Add ``sound`` into ``audio`` from sample ``start`` (may be negative: cropped),
    scaled so that its power in its band is ``snr_db`` above the noise's under it."""
    first, last = max(start, 0), min(start + len(sound.samples), len(audio))
    piece = sound.samples[first - start:last - start]
    noise_power = _band_power(audio[first:last], sample_rate, sound.low_hz, sound.high_hz)
    call_power = _band_power(piece, sample_rate, sound.low_hz, sound.high_hz)
    audio[first:last] += piece * np.sqrt(noise_power * 10 ** (snr_db / 10) / call_power)


def _to_level(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak-normalise to a random level in :data:`LEVEL_DBFS` (never clips)."""
    peak = 10 ** (rng.uniform(*LEVEL_DBFS) / 20)
    return (audio * (peak / np.abs(audio).max())).astype(np.float32)


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed}")


def _clip_rng(seed: int, label: str, index: int) -> np.random.Generator:
    _check_seed(seed)
    return np.random.default_rng([seed, _CLIP_STREAM, LABELS.index(label), index])


def _long_rng(seed: int, number: int) -> np.random.Generator:
    _check_seed(seed)
    return np.random.default_rng([seed, _LONG_STREAM, number])


def _clip(label: str, rng: np.random.Generator, sample_rate: int, samples: int) -> np.ndarray:
    """Noise with one call of ``label`` (none for background), wholly inside when it fits."""
    audio = ocean_noise(rng, samples, sample_rate)
    if label != BACKGROUND:
        sound = render_call(label, rng, sample_rate)
        low, high = sorted((0, samples - len(sound.samples)))  # longer calls: clip inside call
        _add_call(audio, sound, int(rng.integers(low, high + 1)), sample_rate,
                  rng.uniform(*SNR_DB[label]))
    return _to_level(audio, rng)


def _check_clip(label: str, sample_rate: int, clip_seconds: float) -> int:
    if label not in LABELS:
        raise ConfigError(f"unknown class {label!r}; choose one of {', '.join(LABELS)}")
    _check_sample_rate(sample_rate)
    if not clip_seconds > 0:
        raise ConfigError(f"clip_seconds must be positive, not {clip_seconds}")
    return _length(clip_seconds, sample_rate)


def example_clip(species: str, *, seed: int = 0, sample_rate: int = 8000,
                 clip_seconds: float = 5.0) -> np.ndarray:
    """One clip ``(samples,)`` float32: a call of ``species`` over noise, or noise alone.

    It is the first clip of that class that :func:`make_dataset` writes with this seed
    (before 16-bit rounding).

    Examples
    --------
    >>> example_clip("background", seed=3, clip_seconds=2.0).shape
    (16000,)
    """
    samples = _check_clip(species, sample_rate, clip_seconds)
    return _clip(species, _clip_rng(seed, species, 0), sample_rate, samples)


def long_recording(rng: np.random.Generator, *, sample_rate: int,
                   seconds: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Continuous ocean noise with calls of all six species at random known times.

    Species come in shuffled rounds of all six; calls never overlap and are at least
    :data:`MIN_GAP_S` apart (plus an exponential gap of mean :data:`MEAN_EXTRA_GAP_S`),
    about one call per 10-15 s. A call that would not end 1 s before the end stops
    the placing.

    Returns
    -------
    audio : numpy.ndarray
        float32 ``(samples,)``, peak-normalised.
    events : pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label``, one row per call, in time order.
    """
    audio = ocean_noise(rng, _length(seconds, sample_rate), sample_rate)
    events, order = [], []
    begin = rng.uniform(1.0, 5.0)
    while True:
        if not order:
            order = list(rng.permutation(SPECIES))
        species = str(order.pop())
        sound = render_call(species, rng, sample_rate)
        start = int(round(begin * sample_rate))
        end = start + len(sound.samples)
        if end / sample_rate > seconds - 1.0:
            break
        _add_call(audio, sound, start, sample_rate, rng.uniform(*SNR_DB[species]))
        events.append({"begin_s": start / sample_rate, "end_s": end / sample_rate,
                       "low_hz": sound.low_hz, "high_hz": sound.high_hz, "label": species})
        begin = end / sample_rate + MIN_GAP_S + rng.exponential(MEAN_EXTRA_GAP_S)
    return _to_level(audio, rng), pd.DataFrame(
        events, columns=["begin_s", "end_s", "low_hz", "high_hz", "label"])


def split_sizes(per_class: int) -> dict[str, int]:
    """Clips per split for ``per_class`` clips of a class: 70/15/15, at least one each.

    Examples
    --------
    >>> split_sizes(100), split_sizes(3)
    ({'train': 70, 'val': 15, 'test': 15}, {'train': 1, 'val': 1, 'test': 1})
    """
    if per_class < len(SPLITS):
        raise ConfigError(f"per_class must be at least {len(SPLITS)} (one clip per split), "
                          f"not {per_class}")
    val = max(1, round(SPLITS["val"] * per_class))
    test = max(1, round(SPLITS["test"] * per_class))
    return {"train": per_class - val - test, "val": val, "test": test}


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Delete files of an earlier, larger set in this layout that this run did not write."""
    stale = [*out.glob("long/long_*.wav"), *out.glob("long/long_*.selections.txt")]
    for split in SPLITS:
        for label in LABELS:
            stale += out.glob(f"{split}/{label}/{label}_*.wav")
    for path in stale:
        if path not in written:
            path.unlink()


def make_dataset(out: str | Path, *, profile: str = "quick", seed: int = 0,
                 per_class: int | None = None, sample_rate: int = 8000,
                 clip_seconds: float = 5.0, progress: bool | None = None) -> Path:
    """Write the synthetic data set into ``out``; the same seed gives the same bytes.

    Layout::

        out/{train,val,test}/<class>/<class>_<nnnn>.wav   16-bit clips, class = species
                                                           or "background"
        out/long/long_<nnn>.wav                           long recordings with calls
        out/long/long_<nnn>.selections.txt                their Raven tables ("Species")
        out/manifest.csv                                  path,label,split,recording

    ``manifest.csv`` (paths relative to ``out``; empty label for background) is written
    last, so its presence means a complete set; files of an earlier run in this layout
    that this run does not write are removed.

    Parameters
    ----------
    out : path
        Folder to write into (created).
    profile : str
        ``smoke``, ``quick`` or ``full``: clips per class and the long recordings' number
        and length.
    seed : int
        Non-negative; clip ``i`` of a class depends only on (seed, class, i).
    per_class : int or None
        Clips per class over all splits (70/15/15); None takes the profile's.
    sample_rate, clip_seconds : int, float
        Of the clips and recordings (sample_rate >= 4000).
    progress : bool or None
        tqdm bar; None shows it only on a terminal or in a notebook.

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> import tempfile
    >>> out = make_dataset(tempfile.mkdtemp(), profile="smoke", per_class=3, progress=False)
    >>> sorted(path.name for path in out.iterdir())
    ['long', 'manifest.csv', 'test', 'train', 'val']
    """
    out = Path(out)
    settings = resolve_profile(profile)
    sizes = split_sizes(settings.clips_per_class if per_class is None else per_class)
    samples = _check_clip(BACKGROUND, sample_rate, clip_seconds)
    _check_seed(seed)
    (out / "manifest.csv").unlink(missing_ok=True)
    splits = [split for split, size in sizes.items() for _ in range(size)]
    bar = tqdm(total=len(LABELS) * len(splits) + settings.long_recordings, desc="synth",
               unit="file", disable=not progress if progress is not None else None)
    rows, written = [], set()
    for label in LABELS:
        for index, split in enumerate(splits):
            name = f"{label}_{index:04d}"
            path = out / split / label / f"{name}.wav"
            write_audio(path, _clip(label, _clip_rng(seed, label, index), sample_rate, samples),
                        sample_rate)
            written.add(path)
            rows.append({"path": path.relative_to(out).as_posix(),
                         "label": "" if label == BACKGROUND else label,
                         "split": split, "recording": name})
            bar.update()
    for number in range(settings.long_recordings):
        path = out / "long" / f"long_{number:03d}.wav"
        audio, events = long_recording(_long_rng(seed, number), sample_rate=sample_rate,
                                       seconds=60 * settings.long_recording_minutes)
        write_audio(path, audio, sample_rate)
        table = write_raven(events.assign(begin_file=path.name),
                            path.with_name(f"{path.stem}.selections.txt"))
        written |= {path, table}
        bar.update()
    bar.close()
    _remove_stale(out, written)
    atomic_write(out / "manifest.csv", lambda temporary: pd.DataFrame(rows).to_csv(
        temporary, index=False, lineterminator="\n"))
    return out
