"""Detection in long recordings: when each call happens, written as Raven tables.

The modules, in the order the data flows through them:

- :mod:`~whalelab.detection.streaming`: a recording read as a stream, cut into windows
  (:class:`whalelab.audio.Windows`), scored in batches (many recordings sharing them,
  read ahead by threads) and stitched on the recording's frame grid, its gaps found;
- :mod:`~whalelab.detection.traces`: what a window is scored by (the framewise output
  gated by the clipwise one, and the band contrast), and a recording's traces with
  its gaps zeroed;
- :mod:`~whalelab.detection.recording`: one recording to its traces and events,
  :func:`detect_recording`: the one detection path;
- :mod:`~whalelab.detection.cluster`: the same recordings on a Dask cluster, a task
  each (imported only where ``detect_files(cluster=...)`` asks for it);
- :mod:`~whalelab.detection.output`: an output folder of Raven tables,
  :func:`detect_files` (``whalelab detect``), resumable, locked, vouched for by
  ``detection.json``;
- :mod:`~whalelab.detection.material`: which annotated recordings a data set offers
  detection, and what notebook 05 shows it on;
- :mod:`~whalelab.detection.evaluation`: events scored against Raven tables, the
  settings chosen on validation recordings, the band-energy baseline beside them.

Turning traces into events (:mod:`whalelab.events`), trimming by band energy
(:mod:`whalelab.band_contrast`) and scoring events (:mod:`whalelab.metrics.events`) stay
outside, a layer below: the band-energy baseline (:mod:`whalelab.baselines`) uses them
too, and detection's evaluation uses the baseline.
"""

from whalelab.detection.evaluation import (THRESHOLDS, choose_detection_settings,
                                           compare_gating_and_trimming, evaluate_recordings,
                                           threshold_sweep)
from whalelab.detection.material import (SHOWN_TEST_CLIPS, DetectionMaterial,
                                         annotated_recordings, detection_material)
from whalelab.detection.output import TABLE_SUFFIX, detect_files, gap_summary
from whalelab.detection.recording import RecordingDetection, detect_recording, detection_settings

__all__ = [
    "RecordingDetection", "detect_recording", "detection_settings",
    "TABLE_SUFFIX", "detect_files", "gap_summary",
    "SHOWN_TEST_CLIPS", "DetectionMaterial", "annotated_recordings", "detection_material",
    "THRESHOLDS", "choose_detection_settings", "compare_gating_and_trimming",
    "evaluate_recordings", "threshold_sweep",
]
