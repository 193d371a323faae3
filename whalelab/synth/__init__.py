"""The embedded synthetic whale-call data set: six species' calls over ocean noise.

It is whalelab's default data: the report, the tests and the benchmarks
run on it offline. Each species has one small call model that follows a published
description of its call, with duration, frequency and shape drawn at random within the
published ranges. Calls are mixed into noise (ocean noise, often with a passing ship or
snapping shrimp, or plain white, pink or brown noise) at a random signal-to-noise ratio
measured in the call's band, 10 % of them faint (-10 to 0 dB; blue and fin whales 0 to
5 dB; :data:`~whalelab.synth.calls.LOW_SNR_SHARE`); 15 % of call clips hold two calls
(:data:`~whalelab.synth.clips.TWO_CALL_SHARE`) and 15 % of the calls are cut by the clip's
edge (:data:`~whalelab.synth.clips.EDGE_CUT_SHARE`); humpback and killer whale calls
overlap in frequency, so that a model must look at more than band energy. Every clip is
peak-normalised to a random level. Every draw comes from a seeded generator, so the same
seed gives the same bytes.

Modules, from the bottom up:

- :mod:`whalelab.synth.signals`: primitives the call and noise models share;
- :mod:`whalelab.synth.calls`: the call models, each species' band (:data:`CALL_BANDS`,
  for tests: no file carries it) and signal-to-noise mixture;
- :mod:`whalelab.synth.noise`: ocean noise (ambient, ship, snapping shrimp) and the
  noise bed under clips and recordings;
- :mod:`whalelab.synth.mixing`: a call into noise at a signal-to-noise ratio, levels;
- :mod:`whalelab.synth.clips`: clips with one or two calls, and their shares;
- :mod:`whalelab.synth.recordings`: long recordings with calls at known times, and
  call-free ones;
- :mod:`whalelab.synth.dataset`: the data set on disk, its ``manifest.csv`` (with each
  call's span and signal-to-noise ratio) and the long recordings for validation and
  test with their Raven tables (:func:`make_dataset`).

Examples
--------
>>> from whalelab import synth
>>> synth.LABELS
['blue_whale', 'fin_whale', 'right_whale', 'humpback_whale', 'minke_whale', 'killer_whale', 'background']
>>> synth.CALL_BANDS["right_whale"]
(40.0, 700.0)
"""

from whalelab.synth.calls import CALL_BANDS, CALL_MODELS, SPECIES, Call, call, render_call
from whalelab.synth.clips import BACKGROUND, LABELS, PlacedCall, clearest_clip, example_clip
from whalelab.synth.dataset import make_dataset, split_sizes
from whalelab.synth.noise import noise_bed, ocean_noise
from whalelab.synth.recordings import MIN_GAP_S, call_free_recording, long_recording

__all__ = ["BACKGROUND", "CALL_BANDS", "CALL_MODELS", "LABELS", "MIN_GAP_S", "SPECIES", "Call",
           "PlacedCall", "call", "call_free_recording", "clearest_clip", "example_clip",
           "long_recording", "make_dataset", "noise_bed", "ocean_noise", "render_call",
           "split_sizes"]
