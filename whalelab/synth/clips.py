"""Clips: one or two calls over a noise bed, placed as a recorder's clip would cut them.

A clip of a species holds one call of it over :func:`~whalelab.synth.noise.noise_bed`;
a clip of :data:`BACKGROUND` holds noise alone. What makes the clips hard, in every
split alike (all splits draw from this one distribution):

- faint calls: each call's signal-to-noise ratio in its box comes from the mixture of
  :data:`~whalelab.synth.calls.SNR_DB` (10 % from -10 to 0 dB; blue and fin whales from
  0 dB);
- two calls: a share :data:`TWO_CALL_SHARE` (15 %) of call clips holds a second call,
  of the same class in :data:`SAME_CLASS_SHARE` (50 %) of them (never for blue whales,
  whose 10-20 s calls outlast a clip), else of another species drawn uniformly (the
  clip then has two labels);
- calls cut by the clip's edge: a share :data:`EDGE_CUT_SHARE` (15 %) of calls start
  before the clip or run past its end, leaving :data:`EDGE_VISIBLE` (30-80 %) of the
  call (of the clip, for a call longer than it) inside; other calls lie wholly inside
  when they fit, and a longer call covers the whole clip;
- confusable pairs and ship noise: see :mod:`~whalelab.synth.calls` and
  :mod:`~whalelab.synth.noise`.

Every call's span is clipped to the clip; its signal-to-noise ratio is measured over
the part inside (:func:`~whalelab.synth.mixing.add_call`).

Examples
--------
>>> clip = example_clip("right_whale", seed=0)
>>> clip.shape, clip.dtype, bool(abs(clip).max() <= 1)
((40000,), dtype('float32'), True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from whalelab.errors import ConfigError
from whalelab.synth.calls import SPECIES, check_sample_rate, draw_snr_db, render_call
from whalelab.synth.mixing import add_call, check_seed, to_level
from whalelab.synth.noise import noise_bed
from whalelab.synth.signals import sample_count

BACKGROUND = "background"
LABELS = [*SPECIES, BACKGROUND]
TWO_CALL_SHARE = 0.15    # share of call clips holding a second call
SAME_CLASS_SHARE = 0.5   # of those, the share whose second call is of the same class
EDGE_CUT_SHARE = 0.15    # share of calls placed across the clip's start or end
EDGE_VISIBLE = (0.3, 0.8)  # part of a cut call (or of the clip, if shorter) left inside
_CLIP_STREAM = 0         # seed-sequence tag of clips (long recordings have their own)


class PlacedCall(NamedTuple):
    """One call as mixed into a clip: its class, its span in seconds from the clip's start
    (clipped to the clip, rounded to 4 decimals), its signal-to-noise ratio in dB and its
    box (Hz)."""

    label: str
    start_s: float
    end_s: float
    snr_db: float
    low_hz: float
    high_hz: float


def clip_rng(seed: int, label: str, index: int) -> np.random.Generator:
    """The generator of clip ``index`` of class ``label``: seeded by (seed, class, index)."""
    check_seed(seed)
    return np.random.default_rng([seed, _CLIP_STREAM, LABELS.index(label), index])


def _start(rng: np.random.Generator, length: int, samples: int) -> int:
    """Where a call of ``length`` samples starts in a clip of ``samples`` (may be < 0)."""
    if rng.random() < EDGE_CUT_SHARE:
        inside = max(1, round(rng.uniform(*EDGE_VISIBLE) * min(length, samples)))
        return inside - length if rng.random() < 0.5 else samples - inside
    low, high = sorted((0, samples - length))  # longer calls: the clip lies inside the call
    return int(rng.integers(low, high + 1))


def _species(label: str, rng: np.random.Generator) -> list[str]:
    """The classes of a clip of ``label``'s calls, the clip's own first."""
    if label == BACKGROUND:
        return []
    if rng.random() >= TWO_CALL_SHARE:
        return [label]
    if rng.random() < SAME_CLASS_SHARE and label != "blue_whale":
        return [label, label]
    return [label, str(rng.choice([name for name in SPECIES if name != label]))]


def make_clip(label: str, rng: np.random.Generator, sample_rate: int,
              samples: int) -> tuple[np.ndarray, list[PlacedCall]]:
    """Noise with the calls of a clip of ``label`` (none for background).

    Returns the clip ``(samples,)`` float32 and its calls, the clip's own class first.
    """
    noise = noise_bed(rng, samples, sample_rate)
    audio, placed = noise.copy(), []
    for species in _species(label, rng):
        sound = render_call(species, rng, sample_rate)
        snr_db = draw_snr_db(species, rng)
        first, last = add_call(audio, noise, sound, _start(rng, len(sound.samples), samples),
                               sample_rate, snr_db)
        placed.append(PlacedCall(species, round(first / sample_rate, 4),
                                 round(last / sample_rate, 4), round(snr_db, 2),
                                 sound.low_hz, sound.high_hz))
    return to_level(audio, rng), placed


def check_clip(label: str, sample_rate: int, clip_seconds: float) -> int:
    """Samples of a clip after checking its parameters (:class:`ConfigError` names one)."""
    if label not in LABELS:
        raise ConfigError(f"unknown class {label!r}; choose one of {', '.join(LABELS)}")
    check_sample_rate(sample_rate)
    if not clip_seconds > 0:
        raise ConfigError(f"clip_seconds must be positive, not {clip_seconds}")
    return sample_count(clip_seconds, sample_rate)


def example_clip(species: str, *, seed: int = 0, sample_rate: int = 8000,
                 clip_seconds: float = 5.0) -> np.ndarray:
    """One clip ``(samples,)`` float32: a call of ``species`` over noise, or noise alone.

    It is the first clip of that class that :func:`~whalelab.synth.make_dataset` writes
    with this seed (before 16-bit rounding).

    Examples
    --------
    >>> example_clip("background", seed=3, clip_seconds=2.0).shape
    (16000,)
    """
    samples = check_clip(species, sample_rate, clip_seconds)
    return make_clip(species, clip_rng(seed, species, 0), sample_rate, samples)[0]


def clearest_clip(species: str, *, seed: int = 0, candidates: int = 20,
                  sample_rate: int = 8000,
                  clip_seconds: float = 5.0) -> tuple[np.ndarray, list[PlacedCall]]:
    """The clearest of the clips ``0 .. candidates - 1`` of ``species`` that the generator
    makes with this seed (those :func:`~whalelab.synth.make_dataset` writes first), and
    its calls.

    Clearest: a clip holding one call, and that call wholly inside the clip where any is
    (a blue whale's 10-20 s call never is), with the highest signal-to-noise ratio among
    those; for :data:`BACKGROUND`, the first clip. The rule notebooks state when they
    show an example of each class.

    Returns
    -------
    (numpy.ndarray, list of PlacedCall)
        The clip ``(samples,)`` float32 (before 16-bit rounding) and its calls, whose
        ``snr_db``, ``start_s`` and ``end_s`` a title can quote.

    Examples
    --------
    >>> clip, calls = clearest_clip("minke_whale", seed=0)
    >>> [(call.label, call.snr_db) for call in calls]  # the first minke clip: -9.9 dB
    [('minke_whale', 19.57)]
    """
    samples = check_clip(species, sample_rate, clip_seconds)
    if candidates < 1:
        raise ConfigError(f"candidates must be at least 1, not {candidates}")
    clips = [make_clip(species, clip_rng(seed, species, index), sample_rate, samples)
             for index in range(1 if species == BACKGROUND else candidates)]

    def clearness(clip: tuple[np.ndarray, list[PlacedCall]]) -> tuple[bool, bool, float]:
        calls = clip[1]
        inside = calls[0].start_s > 0 and calls[0].end_s < samples / sample_rate
        return len(calls) == 1, inside, calls[0].snr_db

    return clips[0] if species == BACKGROUND else max(clips, key=clearness)
