"""Call models of the six species: each follows a published description of its call.

Duration, frequency and shape are drawn at random within the published ranges
cited in each function, and every call comes with the band it occupies (:class:`Call`).

The calls span 10 Hz to 4 kHz (the Nyquist frequency of the default 8 kHz sample
rate): harmonics are never rendered above 4 kHz, nor above 95 % of the Nyquist frequency
at lower sample rates, so that no call aliases at any sample rate of 4 kHz or more.

Examples
--------
>>> sound = render_call("fin_whale", np.random.default_rng(0), 8000)
>>> bool(CALL_BANDS["fin_whale"][0] <= sound.low_hz < sound.high_hz <= CALL_BANDS["fin_whale"][1])
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from whalelab.errors import ConfigError
from whalelab.synth.signals import harmonic_series, sample_count

SPECIES = ["blue_whale", "fin_whale", "right_whale", "humpback_whale", "minke_whale",
           "killer_whale"]
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
# Call-to-noise power ratio in the call's box (dB, the box of :class:`Call`, measured
# over the part of the call inside the clip), drawn per call from a mixture: a share
# LOW_SNR_SHARE of calls is faint, drawn uniformly from the low range, the rest from the
# usual range (:func:`draw_snr_db`). Faint calls are what a detector meets most on a
# real hydrophone: distant animals, calls under a ship.
LOW_SNR_SHARE = 0.10
# species: (low range, usual range), dB. Blue and fin whales keep a higher floor (0 dB)
# and a higher usual range: they are the loudest callers in the sea (source levels about
# 186-189 dB re 1 uPa at 1 m), and their calls lie wholly in the bottom mel band of the
# default features (HTK, 10-52 Hz), which also holds the ship blade-rate lines and is
# about twice as wide as a fin pulse's 14-32 Hz box: a fin pulse at 0 dB in its box
# stands about -3 dB in the only mel band that carries it. With a -5 dB floor, 25 % of
# calls faint and ships in half the noise, the quick model's fin whale F1 fell to 0.38
# (macro-F1 0.74): below about 0 dB in its box a 1-s pulse no longer lifts out of that
# band's ship lines, and the set measured the noise more than the models.
SNR_DB = {"blue_whale": ((0.0, 5.0), (10.0, 30.0)), "fin_whale": ((0.0, 5.0), (10.0, 30.0)),
          "right_whale": ((-10.0, 0.0), (3.0, 20.0)),
          "humpback_whale": ((-10.0, 0.0), (3.0, 20.0)),
          "minke_whale": ((-10.0, 0.0), (3.0, 20.0)),
          "killer_whale": ((-10.0, 0.0), (3.0, 20.0))}
# Confusable pairs, so that band energy alone cannot tell humpback from killer whale:
# a share of humpback phrases sung high, every unit's fundamental at 500-1200 Hz (in the
# killer whale band, 500 Hz-4 kHz), and a share of killer whale calls at the low end of
# their range, fundamental 550-700 Hz with harmonics falling steeply (most energy below
# 1.5 kHz, where humpback units usually sit)
HUMPBACK_HIGH_SHARE = 0.3
KILLER_LOW_SHARE = 0.3


class Call(NamedTuple):
    """One rendered call: float32 samples ``(samples,)`` and the band it occupies.

    ``low_hz`` and ``high_hz`` span the components within 12 dB of the strongest one
    (what an analyst would draw a box around in Raven).
    """

    samples: np.ndarray
    low_hz: float
    high_hz: float


def draw_snr_db(species: str, rng: np.random.Generator) -> float:
    """One call's signal-to-noise ratio in dB from the mixture of :data:`SNR_DB`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> draws = np.array([draw_snr_db("minke_whale", rng) for _ in range(2000)])
    >>> bool(-10 <= draws.min() and draws.max() <= 20), bool(0.08 < np.mean(draws < 0) < 0.12)
    (True, True)
    """
    low, usual = SNR_DB[species]
    return float(rng.uniform(*(low if rng.random() < LOW_SNR_SHARE else usual)))


def _top_hz(sample_rate: int) -> float:
    """Highest frequency rendered at ``sample_rate``: 4 kHz, or 95 % of Nyquist below 8 kHz."""
    return min(TOP_HZ, 0.95 * sample_rate / 2)


def _sweep(start_hz: float, end_hz: float, samples: int, curvature: float = 1.0) -> np.ndarray:
    """Frequency track ``(samples,)`` from ``start_hz`` to ``end_hz``; curvature > 1 starts slowly."""
    return start_hz + (end_hz - start_hz) * np.linspace(0.0, 1.0, samples) ** curvature


def _envelope(samples: int, sample_rate: int, rise_s: float, fall_s: float) -> np.ndarray:
    """Raised-cosine onset and offset ramps, 1 in between, ``(samples,)``."""
    envelope = np.ones(samples)
    rise = min(sample_count(rise_s, sample_rate), samples // 2)
    fall = min(sample_count(fall_s, sample_rate), samples // 2)
    envelope[:rise] = 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    envelope[samples - fall:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fall + 1) / fall)
    return envelope


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
    samples = harmonic_series(phase, [a for _, a in kept])
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
    (Sirovic et al. 2004, Deep-Sea Res. II 51:2327-2344).
    """
    if rng.random() < 0.7:
        start = rng.uniform(16.0, 17.3)
        track = _sweep(start, start * rng.uniform(0.86, 0.90),
                       sample_count(rng.uniform(10.0, 20.0), sample_rate))
        return _harmonics(track, sample_rate, [0.3, 0.2, 1.0, 0.3, 0.12], rng,
                          rise_s=1.0, fall_s=1.5)
    high, low = rng.uniform(27.0, 29.0), rng.uniform(18.0, 19.5)
    track = np.concatenate([
        np.full(sample_count(rng.uniform(4.0, 8.0), sample_rate), high),
        _sweep(high, low, sample_count(rng.uniform(1.0, 2.0), sample_rate)),
        np.full(sample_count(rng.uniform(5.0, 10.0), sample_rate), low)])
    return _harmonics(track, sample_rate, [1.0], rng, rise_s=1.0, fall_s=1.5)


def fin_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Fin whale "20 Hz pulse": a 0.7-1.3 s downsweep from about 25-32 Hz to 14-18 Hz.

    The pulses come in long series, one every 7-30 s, so a 5 s clip holds one
    (Watkins et al. 1987, J. Acoust. Soc. Am. 82:1901-1912).
    """
    seconds = rng.uniform(0.7, 1.3)
    track = _sweep(rng.uniform(25.0, 32.0), rng.uniform(14.0, 18.0),
                   sample_count(seconds, sample_rate), rng.uniform(0.6, 1.0))
    return _harmonics(track, sample_rate, [1.0], rng, rise_s=0.3 * seconds, fall_s=0.4 * seconds)


def right_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """North Atlantic right whale upcall: a 0.6-1.4 s upsweep from 50-80 Hz to 150-220 Hz.

    Rises slowly, then faster (the "J" shape), with two weaker harmonics
    (Parks & Tyack 2005, J. Acoust. Soc. Am. 117:3297-3306).
    """
    track = _sweep(rng.uniform(50.0, 80.0), rng.uniform(150.0, 220.0),
                   sample_count(rng.uniform(0.6, 1.4), sample_rate), rng.uniform(1.0, 2.0))
    return _harmonics(track, sample_rate, [1.0, 0.45, 0.2], rng, rise_s=0.1, fall_s=0.15)


def humpback_whale_call(rng: np.random.Generator, sample_rate: int) -> Call:
    """Humpback whale song: a phrase of 1-3 units, each 0.3-1.6 s, 0.1-0.5 s apart.

    Each unit is harmonic and frequency-modulated (rising, falling, arched or U-shaped,
    with slight vibrato) on a fundamental of 80 Hz to about 2 kHz, its harmonics up to
    4 kHz (Payne & McVay 1971, Science 173:585-597; Au et al. 2006, J. Acoust. Soc. Am.
    120:1103-1110: units 0.1-4 s, about 80 Hz to 4 kHz). A share
    :data:`HUMPBACK_HIGH_SHARE` of phrases is sung high, each unit starting at
    500-1200 Hz, inside the killer whale band.
    """
    pieces, lows, highs = [], [], []
    base_hz = (500.0, 1200.0) if rng.random() < HUMPBACK_HIGH_SHARE else (80.0, 1000.0)
    for unit in range(rng.integers(1, 4)):
        if unit:
            pieces.append(np.zeros(sample_count(rng.uniform(0.1, 0.5), sample_rate), np.float32))
        samples = sample_count(rng.uniform(0.3, 1.6), sample_rate)
        position = np.linspace(0.0, 1.0, samples)
        contour = [position, 1 - position, np.sin(np.pi * position),
                   1 - np.sin(np.pi * position)][rng.integers(4)]
        vibrato = 1 + np.sin(2 * np.pi * rng.uniform(4, 12) * position * samples / sample_rate)
        base = np.exp(rng.uniform(*np.log(base_hz)))
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
    J. Acoust. Soc. Am. 118:3346-3351).
    """
    samples = sample_count(rng.uniform(1.5, 3.5), sample_rate)
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
    of the calls end in an upsweep; harmonics fall off as ``k ** -tilt`` (tilt 0.5-1.5)
    and reach up to 4 kHz (Ford 1989, Can. J. Zool. 67:727-745). A share
    :data:`KILLER_LOW_SHARE` sits at the low end: a 550-700 Hz fundamental, tilt
    1.5-2.5, most energy below 1.5 kHz, where humpback units usually sit.
    """
    samples = sample_count(rng.uniform(0.5, 1.5), sample_rate)
    low = rng.random() < KILLER_LOW_SHARE
    centre_hz, tilt = ((550.0, 700.0), (1.5, 2.5)) if low else ((600.0, 1600.0), (0.5, 1.5))
    knots = np.exp(rng.uniform(*np.log(centre_hz)) + rng.uniform(-0.25, 0.25, 4))
    if rng.random() < 0.5:
        knots[-1] *= rng.uniform(1.2, 1.5)  # terminal upsweep
    # held 50 Hz inside 500 Hz so that its spectral skirt stays in the band too
    track = np.clip(np.interp(np.linspace(0, 1, samples), [0, 0.3, 0.7, 1], knots), 550, 2000)
    amplitudes = np.arange(1, 11) ** -rng.uniform(*tilt)
    return _harmonics(track, sample_rate, amplitudes, rng, rise_s=0.05, fall_s=0.1)


CALL_MODELS: dict[str, Callable[[np.random.Generator, int], Call]] = {
    "blue_whale": blue_whale_call, "fin_whale": fin_whale_call,
    "right_whale": right_whale_call, "humpback_whale": humpback_whale_call,
    "minke_whale": minke_whale_call, "killer_whale": killer_whale_call,
}


def check_sample_rate(sample_rate: int) -> None:
    """Raise :class:`whalelab.errors.ConfigError` below 4 kHz, where calls cannot be rendered."""
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
    check_sample_rate(sample_rate)
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
