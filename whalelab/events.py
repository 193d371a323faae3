"""Framewise probabilities to sound events.

Detection turns each class's probability trace into events in up to four steps:

1. **hysteresis**: an event starts where the probability reaches ``threshold`` and is
   extended on both sides for as long as it stays at or above ``low_threshold``, so
   that a short dip inside a call does not split it in two;
2. **gap merging**: events of one class separated by at most ``merge_gap_s`` become
   one;
3. **minimum duration**: events shorter than ``min_duration_s`` are dropped;
4. **trimming** (when a band contrast trace is given, see
   :mod:`whalelab.band_contrast`): each event shrinks to the frames, from the first to
   the last, where its class's band stands at least ``boundary_fraction`` of its peak
   contrast above the noise floor. The model finds the call; the spectrogram says
   where it begins and ends.

Frame ``f`` covers the time ``[f / fps, (f + 1) / fps)``, so an event over frames
``a..b`` runs from ``a / fps`` to ``(b + 1) / fps`` seconds. Scoring the events against
annotations is :mod:`whalelab.metrics.events`'s job.

Examples
--------
>>> probabilities = np.zeros((100, 1), dtype=np.float32)
>>> probabilities[20:40, 0] = 0.9
>>> find_events(probabilities, ["upcall"], frames_per_second=10.0)[["begin_s", "end_s", "label"]]
   begin_s  end_s   label
0      2.0    4.0  upcall
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from whalelab.errors import DataError

EVENT_COLUMNS = ["begin_s", "end_s", "low_hz", "high_hz", "label", "score", "mean_score"]
#: the low threshold, as a fraction of the threshold, when none is given
LOW_THRESHOLD_FRACTION = 0.5


def _runs(mask: np.ndarray) -> np.ndarray:
    """``(runs, 2)`` first and one-past-last indices of the True runs of a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def class_events(trace: np.ndarray, *, frames_per_second: float, threshold: float,
                 low_threshold: float, min_duration_s: float,
                 merge_gap_s: float) -> np.ndarray:
    """Events of one probability trace as ``(events, 2)`` frame spans ``[first, stop)``.

    Examples
    --------
    >>> trace = np.array([0, .6, .3, .6, 0, 0, .6, .6, 0, 0, 0, 0, .6, 0])
    >>> class_events(trace, frames_per_second=1.0, threshold=.5, low_threshold=.25,
    ...              min_duration_s=2, merge_gap_s=2).tolist()
    [[1, 8]]
    """
    spans = _runs(trace >= low_threshold)
    keep = [trace[first:stop].max() >= threshold for first, stop in spans]
    spans = spans[np.asarray(keep, dtype=bool)] if len(spans) else spans
    if len(spans) > 1:
        gaps = (spans[1:, 0] - spans[:-1, 1]) / frames_per_second
        starts_new = np.concatenate([[True], gaps > merge_gap_s])
        spans = np.stack([spans[starts_new, 0],
                          np.maximum.reduceat(spans[:, 1], np.flatnonzero(starts_new))], axis=1)
    if len(spans):
        spans = spans[(spans[:, 1] - spans[:, 0]) / frames_per_second >= min_duration_s]
    return spans.reshape(-1, 2)


def _trimmed(contrast: np.ndarray, first: int, stop: int, fraction: float) -> tuple[int, int]:
    """``[first, stop)`` narrowed to the frames where ``contrast`` reaches ``fraction`` of its peak.

    Examples
    --------
    >>> _trimmed(np.array([0.0, 1.0, 8.0, 3.0, 6.0, 1.0]), 10, 16, 0.5)
    (12, 15)
    """
    peak = contrast.max()
    if not peak > 0:  # nothing stands out: keep what the model found
        return first, stop
    strong = np.flatnonzero(contrast >= fraction * peak)
    return first + int(strong[0]), first + int(strong[-1]) + 1


def find_events(probabilities: np.ndarray, classes: Sequence[str], *, frames_per_second: float,
                threshold: float = 0.5, low_threshold: float | None = None,
                min_duration_s: float = 0.2, merge_gap_s: float = 0.3,
                bands: Mapping[str, tuple[float, float]] | None = None,
                contrast: np.ndarray | None = None,
                boundary_fraction: float = 0.5) -> pd.DataFrame:
    """Events per class from framewise probabilities.

    Parameters
    ----------
    probabilities : numpy.ndarray
        ``(frames, classes)`` framewise probabilities.
    classes : sequence of str
        Class names in column order.
    frames_per_second : float
        Frame rate of ``probabilities``.
    threshold : float
        A probability that starts an event.
    low_threshold : float or None
        A probability that keeps an event going (hysteresis); None means
        ``LOW_THRESHOLD_FRACTION * threshold`` (half the threshold). Must not exceed
        ``threshold``.
    min_duration_s : float
        Shorter events are dropped (after merging).
    merge_gap_s : float
        Events of one class at most this far apart are merged.
    bands : mapping or None
        ``{class: (low_hz, high_hz)}``, the frequency band written for each event; classes
        without one get NaN.
    contrast : numpy.ndarray or None
        ``(frames, classes)`` dB of each class's band above its noise floor
        (:class:`whalelab.band_contrast.BandContrast`); given, events are trimmed to where
        it reaches ``boundary_fraction`` of its peak inside the event.
    boundary_fraction : float
        In (0, 1]; larger trims harder.

    Returns
    -------
    pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label, score`` (the peak probability before
        trimming) and ``mean_score`` (mean over the event's frames), sorted by begin time.

    Raises
    ------
    DataError
        Shapes or thresholds that do not fit together.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise DataError(f"probabilities must be (frames, {len(classes)} classes), "
                        f"not {probabilities.shape}")
    if frames_per_second <= 0:
        raise DataError(f"frames_per_second must be positive, not {frames_per_second}")
    low_threshold = LOW_THRESHOLD_FRACTION * threshold if low_threshold is None else low_threshold
    if not 0 < low_threshold <= threshold:
        raise DataError(f"need 0 < low_threshold <= threshold; got low_threshold="
                        f"{low_threshold}, threshold={threshold}")
    if contrast is not None and np.shape(contrast) != probabilities.shape:
        raise DataError(f"contrast {np.shape(contrast)} does not match probabilities "
                        f"{probabilities.shape}")
    if not 0 < boundary_fraction <= 1:
        raise DataError(f"boundary_fraction must be in (0, 1], not {boundary_fraction}")
    if min_duration_s < 0 or merge_gap_s < 0:
        raise DataError(f"min_duration_s and merge_gap_s must be >= 0; got {min_duration_s}, "
                        f"{merge_gap_s}")
    bands = bands or {}
    rows = []
    for k, name in enumerate(classes):
        trace = probabilities[:, k]
        low_hz, high_hz = bands.get(name, (np.nan, np.nan))
        for first, stop in class_events(trace, frames_per_second=frames_per_second,
                                        threshold=threshold, low_threshold=low_threshold,
                                        min_duration_s=min_duration_s, merge_gap_s=merge_gap_s):
            peak = float(trace[first:stop].max())
            if contrast is not None:
                first, stop = _trimmed(contrast[first:stop, k], first, stop, boundary_fraction)
            rows.append((first / frames_per_second, stop / frames_per_second, float(low_hz),
                         float(high_hz), name, peak, float(trace[first:stop].mean())))
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS).astype(
        {name: float for name in EVENT_COLUMNS if name != "label"})  # float even when empty
    return events.sort_values(["begin_s", "label"], kind="stable").reset_index(drop=True)


def find_file_events(probabilities: Mapping[str, np.ndarray], classes: Sequence[str], *,
                     frames_per_second: float,
                     contrasts: Mapping[str, np.ndarray] | None = None,
                     **settings: Any) -> pd.DataFrame:
    """:func:`find_events` for several recordings at once, with a ``file`` column first.

    Parameters
    ----------
    probabilities : mapping
        ``{file: (frames, classes) array}``.
    contrasts : mapping or None
        ``{file: (frames, classes) array}`` of band contrast, to trim events with.
    **settings
        ``threshold``, ``low_threshold``, ``min_duration_s``, ``merge_gap_s``, ``bands``.

    Examples
    --------
    >>> found = find_file_events({"x.wav": np.ones((20, 1)), "y.wav": np.zeros((20, 1))}, ["a"],
    ...                          frames_per_second=10.0)
    >>> found[["file", "begin_s", "end_s"]].values.tolist()
    [['x.wav', 0.0, 2.0]]
    """
    found = [find_events(values, classes, frames_per_second=frames_per_second,
                         contrast=None if contrasts is None else contrasts[name], **settings)
             .assign(file=str(name)) for name, values in probabilities.items()]
    found = [table for table in found if len(table)]
    if not found:
        return pd.DataFrame(columns=["file", *EVENT_COLUMNS])
    return pd.concat(found, ignore_index=True)[["file", *EVENT_COLUMNS]]
