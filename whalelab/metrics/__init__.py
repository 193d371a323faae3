"""How good a model's answers are: pure functions of predictions and the truth.

Training (thresholds and selection on validation), evaluation, detection's evaluation and
the baselines all score with these, so they sit below every one of them.

- :mod:`whalelab.metrics.clips`: clip-level figures (AP, F1, accuracy, thresholds, the
  single-label rule, bootstrap and paired intervals, recall by SNR, calibration);
- :mod:`whalelab.metrics.localisation`: where a model's framewise output and attention
  lie against annotated call spans;
- :mod:`whalelab.metrics.events`: detected events matched to annotated ones
  (:class:`whalelab.config.EventMatching`), precision, recall and F1 with intervals.
"""
