"""The figures the notebooks show: data in, :class:`matplotlib.figure.Figure` out.

Every function builds its own Figure without pyplot, so nothing is drawn twice in a
notebook, nothing leaks between calls and the package works under any backend; a
notebook shows a figure by leaving it as a cell's last expression. Time runs along x
in seconds and frequency along y in Hz.

Arrays may be numpy arrays or torch tensors (detached and moved to the CPU here).
Spectrogram-like inputs follow whalelab's layout: ``(time, freq)`` or ``(time, mel)``.

One module per notebook topic, each re-exported here (``plots.confusion_matrix``):

=========================================  ================================================
module                                     serves
=========================================  ================================================
:mod:`whalelab.plots.signal`               01 signal processing: waveform, framing, STFT,
                                           mel filterbank, log-mel, ``power_to_db``
                                           settings, ``bn0``, SpecAugment, feature explorer,
                                           the speed factor on the way into BirdNET
:mod:`whalelab.plots.training`             02 training: learning curves, runs side by
                                           side
:mod:`whalelab.plots.attention`            03 attention (and 04): attention panels with
                                           annotated calls, models compared on one
                                           clip and over held-out clips, clipwise
                                           probabilities of one clip
:mod:`whalelab.plots.evaluation`           04 evaluation: confusion matrix, PR and ROC
                                           curves, reliability diagram, recall by SNR
:mod:`whalelab.plots.detection`            05 detection: events over a recording,
                                           threshold trade-off; 06: event scores of
                                           runs side by side
:mod:`whalelab.plots.widgets`              01 and 03: ipywidgets controls that redraw a
                                           figure (the only module using ipywidgets)
:mod:`whalelab.plots.style`                all: colour map, figure creation, image drawing,
                                           tensor to numpy
=========================================  ================================================

Examples
--------
>>> import numpy as np
>>> fig = waveform(np.zeros(8000), sample_rate=8000)
>>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
('time (s)', 'amplitude (full scale)')
"""

from whalelab.plots.attention import (attention, attention_comparison, class_probabilities,
                                      localisation_comparison)
from whalelab.plots.detection import (detection_overview, event_scores_compared,
                                      threshold_tradeoff)
from whalelab.plots.evaluation import (confusion_matrix, pr_curves, recall_by_snr,
                                       reliability_diagram, roc_curves)
from whalelab.plots.signal import (describe_frames, feature_explorer, framing, logmel,
                                   logmel_grid, mel_band_statistics, mel_filterbank,
                                   power_to_db_effects, specaugment_stripes, speed_factor,
                                   spectrogram, waveform)
from whalelab.plots.training import learning_curves, learning_curves_comparison
from whalelab.plots.widgets import live, png

__all__ = [
    # signal (notebook 01)
    "waveform", "framing", "spectrogram", "mel_filterbank", "logmel", "logmel_grid",
    "power_to_db_effects", "mel_band_statistics", "specaugment_stripes", "feature_explorer",
    "speed_factor", "describe_frames",
    # training (notebook 02)
    "learning_curves", "learning_curves_comparison",
    # attention (notebooks 03, 04)
    "attention", "attention_comparison", "class_probabilities", "localisation_comparison",
    # evaluation (notebook 04)
    "confusion_matrix", "pr_curves", "roc_curves", "reliability_diagram", "recall_by_snr",
    # detection (notebook 05)
    "detection_overview", "event_scores_compared", "threshold_tradeoff",
    # widgets (notebooks 01, 03)
    "live", "png",
]
