"""The embedded synthetic whale-call data set: six species' calls over ocean noise.

It is whalelab's default data (DESIGN.md §4): the report, the tests and the benchmarks
run on it offline. Each species has one small call model that follows a published
description of its call, with duration, frequency and shape drawn at random within the
published ranges. Calls are mixed into coloured ocean noise (sometimes with a passing
ship or snapping shrimp) at a random signal-to-noise ratio measured in the call's band,
and every clip is peak-normalised to a random level. Every draw comes from a seeded
generator, so the same seed gives the same bytes.

Modules, from the bottom up:

- :mod:`whalelab.synth.signals`: primitives the call and noise models share;
- :mod:`whalelab.synth.calls`: the call models, each species' band
  (:data:`CALL_BANDS`) and signal-to-noise range;
- :mod:`whalelab.synth.noise`: ocean noise (ambient, ship, snapping shrimp);
- :mod:`whalelab.synth.dataset`: mixing at a signal-to-noise ratio, clips, long
  recordings with Raven tables, and the data set on disk with its ``manifest.csv`` and
  ``bands.json`` (:func:`make_dataset`).

Examples
--------
>>> from whalelab import synth
>>> synth.LABELS
['blue_whale', 'fin_whale', 'right_whale', 'humpback_whale', 'minke_whale', 'killer_whale', 'background']
>>> synth.CALL_BANDS["right_whale"]
(40.0, 700.0)
"""

from whalelab.synth.calls import CALL_BANDS, CALL_MODELS, SPECIES, Call, call, render_call
from whalelab.synth.dataset import (BACKGROUND, LABELS, MIN_GAP_S, example_clip, long_recording,
                                    make_dataset, split_sizes)
from whalelab.synth.noise import ocean_noise

__all__ = ["BACKGROUND", "CALL_BANDS", "CALL_MODELS", "LABELS", "MIN_GAP_S", "SPECIES", "Call",
           "call", "example_clip", "long_recording", "make_dataset", "ocean_noise",
           "render_call", "split_sizes"]
