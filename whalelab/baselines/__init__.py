"""Simple baselines scored beside the model on the same split: what the deep model buys.

Each baseline answers the question one of WhaleSED's outputs answers, from the same
log-mel front end, fitted on the same training clips and tuned on the same validation
clips or recordings, so that the difference in the figures is the model's doing:

- **clips** (:mod:`whalelab.baselines.clip`, :func:`clip_baseline`):
  :class:`LogisticBaseline`, one L2 logistic regression per class on
  :func:`band_statistics`, per-band summaries over time of the level-normalised log-mel
  (mean, standard deviation, maximum, 90th percentile). It sees *which bands* hold
  energy and how it varies, never *in what order*: it tells a tone at 200 Hz from one
  at 1 kHz, but not an upsweep from a downsweep over the same band. Thresholds come
  from the validation clips, as the model's
  (:func:`whalelab.metrics.clips.choose_thresholds`), and the test figures from
  :func:`whalelab.metrics.clips.classification_metrics` with the same bootstrap seed.
- **embeddings** (:mod:`whalelab.baselines.embedding`, :func:`embedding_baseline`): the
  same logistic regression on each clip's mean BirdNET embedding (3-s windows at a 1.5-s
  hop), fitted on the training and validation clips together with ``C`` chosen by
  5-fold cross-validation grouped by recording: the peer a researcher would run instead,
  and what the probe backbone (``birdnet``) is measured against.
- **events** (:mod:`whalelab.baselines.energy`, :func:`event_baseline`):
  :class:`EnergyDetector`, the band contrast of
  :class:`whalelab.band_contrast.BandContrast` (dB of each class's band above its noise
  floor) thresholded per class, the dB thresholds chosen for the best event F1 on the
  validation recordings. It finds energy in a band, so it cannot tell two classes that
  share a band apart: both fire on each call.

Examples
--------
>>> import numpy as np
>>> from whalelab.config import FeatureConfig
>>> band_statistics(np.zeros((3, 40000), dtype=np.float32), FeatureConfig()).shape
(3, 256)
"""

from whalelab.baselines.clip import (C_GRID, CLIP_METHOD, CV_FOLDS, PERCENTILE, STATISTICS,
                                     LogisticBaseline, band_statistics, clip_baseline,
                                     dataset_statistics, score_baseline, score_logistic)
from whalelab.baselines.embedding import (EMBEDDING_METHOD, PEER_HOP_S, embedding_baseline,
                                          mean_embeddings, recording_groups)
from whalelab.baselines.energy import EVENT_METHOD, THRESHOLDS_DB, EnergyDetector, event_baseline

__all__ = ["CLIP_METHOD", "CV_FOLDS", "C_GRID", "EMBEDDING_METHOD", "EVENT_METHOD",
           "PEER_HOP_S", "PERCENTILE", "STATISTICS", "THRESHOLDS_DB", "EnergyDetector",
           "LogisticBaseline", "band_statistics", "clip_baseline", "dataset_statistics",
           "embedding_baseline", "event_baseline", "mean_embeddings", "recording_groups",
           "score_baseline", "score_logistic"]
