"""Long recordings for detection: calls at known times over a noise bed, and call-free ones.

Calls in long recordings come from the same models and the same signal-to-noise mixture
as the clips' (:mod:`whalelab.synth.clips`), so that a detector tuned on validation
recordings meets the same calls in test recordings. Call-free recordings are ocean
noise with a ship passing and snapping shrimp: the sounds a detector must not take for
calls, to count false alarms per hour.

Examples
--------
>>> audio, events = call_free_recording(np.random.default_rng(0), sample_rate=8000, seconds=2.0)
>>> audio.shape, len(events), list(events.columns)
((16000,), 0, ['begin_s', 'end_s', 'low_hz', 'high_hz', 'label'])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from whalelab.synth.calls import SPECIES, draw_snr_db, render_call
from whalelab.synth.mixing import add_call, check_seed, to_level
from whalelab.synth.noise import noise_bed, ocean_noise
from whalelab.synth.signals import sample_count

MIN_GAP_S = 3.0          # silence-free noise between calls in long recordings
MEAN_EXTRA_GAP_S = 5.0   # mean of the exponential gap added to MIN_GAP_S
EVENT_COLUMNS = ["begin_s", "end_s", "low_hz", "high_hz", "label"]
# seed-sequence tags keeping the recordings of each part apart (clips have tag 0)
RECORDING_STREAMS = {"val": 1, "test": 2, "call_free": 3}


def recording_rng(seed: int, part: str, number: int) -> np.random.Generator:
    """The generator of recording ``number`` of ``part`` (a key of :data:`RECORDING_STREAMS`)."""
    check_seed(seed)
    return np.random.default_rng([seed, RECORDING_STREAMS[part], number])


def long_recording(rng: np.random.Generator, *, sample_rate: int,
                   seconds: float) -> tuple[np.ndarray, pd.DataFrame]:
    """A noise bed with calls of all six species at random known times.

    Species come in shuffled rounds of all six; calls never overlap and are at least
    :data:`MIN_GAP_S` apart (plus an exponential gap of mean :data:`MEAN_EXTRA_GAP_S`),
    about one call per 10-15 s. A call that would not end 1 s before the end stops
    the placing. Each call's signal-to-noise ratio comes from
    :func:`~whalelab.synth.calls.draw_snr_db`, as in the clips.

    Returns
    -------
    audio : numpy.ndarray
        float32 ``(samples,)``, peak-normalised.
    events : pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label``, one row per call, in time order.
    """
    noise = noise_bed(rng, sample_count(seconds, sample_rate), sample_rate)
    audio, events, order = noise.copy(), [], []
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
        add_call(audio, noise, sound, start, sample_rate, draw_snr_db(species, rng))
        events.append({"begin_s": start / sample_rate, "end_s": end / sample_rate,
                       "low_hz": sound.low_hz, "high_hz": sound.high_hz, "label": species})
        begin = end / sample_rate + MIN_GAP_S + rng.exponential(MEAN_EXTRA_GAP_S)
    return to_level(audio, rng), pd.DataFrame(events, columns=EVENT_COLUMNS)


def call_free_recording(rng: np.random.Generator, *, sample_rate: int,
                        seconds: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Ocean noise with a ship passing and snapping shrimp, and no call.

    Returns the audio float32 ``(samples,)``, peak-normalised, and an empty event table
    with the columns of :func:`long_recording`'s.
    """
    audio = ocean_noise(rng, sample_count(seconds, sample_rate), sample_rate,
                        ship_chance=1.0, shrimp_chance=1.0)
    empty = pd.DataFrame({column: pd.Series(dtype=float) for column in EVENT_COLUMNS})
    return to_level(audio, rng), empty.astype({"label": str})
