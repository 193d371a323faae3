"""Framewise probabilities to sound events, and events scored against annotations.

Detection turns each class's probability trace into events in three steps:

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
``a..b`` runs from ``a / fps`` to ``(b + 1) / fps`` seconds.

Scoring matches predicted to true events of the same class (and the same file, when
both tables carry a ``file`` column) one to one: a pair may match when their time
intersection over union reaches ``iou`` or, when ``onset_tolerance_s`` is given, when
their onsets differ by at most that much. Among the pairs allowed, the largest number
of matches is taken (ties broken towards the best overlap or the closest onsets).
Matched predictions are true positives, the other predictions false positives and the
unmatched true events false negatives.

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
from scipy.optimize import linear_sum_assignment

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


def threshold_sweep(probabilities: Mapping[str, np.ndarray], truth: pd.DataFrame,
                    classes: Sequence[str], *, frames_per_second: float,
                    thresholds: Sequence[float] = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2)),
                    iou: float = 0.3, onset_tolerance_s: float | None = None,
                    **settings: Any) -> pd.DataFrame:
    """Overall event precision, recall and F1 at each threshold: how one trades for the other.

    Parameters
    ----------
    probabilities : mapping
        ``{file: (frames, classes) array}``; ``truth`` carries the same names in a
        ``file`` column.
    thresholds : sequence of float
        Thresholds to try; the low threshold stays the same fraction of each unless
        ``low_threshold`` is given in ``settings``.
    **settings
        Passed to :func:`find_file_events` (``min_duration_s``, ``merge_gap_s``, ``bands``,
        ``contrasts``...).

    Returns
    -------
    pandas.DataFrame
        ``threshold, precision, recall, f1, tp, fp, fn``, one row per threshold.
    """
    rows = []
    for threshold in thresholds:
        predicted = find_file_events(probabilities, classes, frames_per_second=frames_per_second,
                                     threshold=float(threshold), **settings)
        overall = event_metrics(predicted, truth, classes, iou=iou,
                                onset_tolerance_s=onset_tolerance_s)["overall"]
        rows.append({"threshold": float(threshold), **overall})
    return pd.DataFrame(rows)


def _pair_quality(predicted: pd.DataFrame, truth: pd.DataFrame, iou: float,
                  onset_tolerance_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``(predicted, truth)`` arrays: whether each pair may match, and how well (higher better)."""
    p_begin = predicted["begin_s"].to_numpy()[:, None]
    p_end = predicted["end_s"].to_numpy()[:, None]
    t_begin, t_end = truth["begin_s"].to_numpy()[None], truth["end_s"].to_numpy()[None]
    intersection = np.clip(np.minimum(p_end, t_end) - np.maximum(p_begin, t_begin), 0, None)
    union = np.maximum(p_end, t_end) - np.minimum(p_begin, t_begin)
    overlap = intersection / np.maximum(union, 1e-12)
    if onset_tolerance_s is None:
        return overlap >= iou, overlap
    onset_error = np.abs(p_begin - t_begin)
    return onset_error <= onset_tolerance_s, -onset_error


def match_events(predicted: pd.DataFrame, truth: pd.DataFrame, *, iou: float = 0.3,
                 onset_tolerance_s: float | None = None) -> pd.DataFrame:
    """One-to-one matches between predicted and true events of the same class.

    Parameters
    ----------
    predicted, truth : pandas.DataFrame
        Events with ``begin_s``, ``end_s`` and ``label`` (and optionally ``file``: when
        both have it, only events of the same file match).
    iou : float
        Least time intersection over union for a match (used when
        ``onset_tolerance_s`` is None).
    onset_tolerance_s : float or None
        When given, a match needs onsets at most this many seconds apart instead.

    Returns
    -------
    pandas.DataFrame
        One row per match: ``predicted`` and ``truth`` (index labels of the inputs),
        ``label``, ``iou`` and ``onset_error_s`` (predicted minus true onset).

    Examples
    --------
    >>> truth = pd.DataFrame({"begin_s": [1.0, 5.0], "end_s": [2.0, 6.0], "label": ["a", "a"]})
    >>> predicted = pd.DataFrame({"begin_s": [1.2, 1.1], "end_s": [2.0, 2.1], "label": ["a", "a"]})
    >>> match_events(predicted, truth)[["predicted", "truth"]].values.tolist()
    [[1, 0]]
    """
    if iou <= 0 or iou > 1:
        raise DataError(f"iou must be in (0, 1], not {iou}")
    if onset_tolerance_s is not None and onset_tolerance_s < 0:
        raise DataError(f"onset_tolerance_s must be >= 0, not {onset_tolerance_s}")
    for name, table in (("predicted", predicted), ("truth", truth)):
        missing = {"begin_s", "end_s", "label"} - set(table.columns)
        if missing:
            raise DataError(f"{name} events lack the column(s) {sorted(missing)}")
    keys = ["label", "file"] if {"file"} <= set(predicted.columns) & set(truth.columns) \
        else ["label"]
    matches = []
    truth_groups = dict(list(truth.groupby(keys, sort=False)))
    for key, group in predicted.groupby(keys, sort=False):
        candidates = truth_groups.get(key)
        if candidates is None:
            continue
        allowed, quality = _pair_quality(group, candidates, iou, onset_tolerance_s)
        if not allowed.any():
            continue
        # maximise the number of matches first, then their quality (squashed into (0, 1))
        weight = np.where(allowed, len(group) + len(candidates) + 1.0
                          + 1.0 / (1.0 + np.exp(-quality)), 0.0)
        rows, columns = linear_sum_assignment(weight, maximize=True)
        for row, column in zip(rows, columns, strict=True):
            if allowed[row, column]:
                p, t = group.iloc[row], candidates.iloc[column]
                intersection = max(0.0, min(p.end_s, t.end_s) - max(p.begin_s, t.begin_s))
                union = max(p.end_s, t.end_s) - min(p.begin_s, t.begin_s)
                matches.append((group.index[row], candidates.index[column], p.label,
                                intersection / union if union > 0 else 0.0,
                                p.begin_s - t.begin_s))
    return pd.DataFrame(matches, columns=["predicted", "truth", "label", "iou", "onset_error_s"])


def _scores(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def event_metrics(predicted: pd.DataFrame, truth: pd.DataFrame, classes: Sequence[str], *,
                  iou: float = 0.3, onset_tolerance_s: float | None = None) -> dict[str, Any]:
    """Event-level precision, recall and F1 per class and overall (micro), as a JSON-ready dict.

    Events whose label is not in ``classes`` are left out and counted under ``ignored``.
    A class with no predicted and no true events scores 0 (and has ``tp = fp = fn = 0``);
    ``macro_f1`` averages only the classes with true events.

    Returns
    -------
    dict
        ``per_class`` ``{name: {precision, recall, f1, tp, fp, fn}}``, ``overall``
        (the same keys, counts summed over classes), ``macro_f1``, ``ignored``
        ``{"predicted": {label: n}, "truth": {label: n}}`` and ``criterion``.

    Examples
    --------
    >>> truth = pd.DataFrame({"begin_s": [0.0, 4.0], "end_s": [1.0, 5.0], "label": ["a", "b"]})
    >>> predicted = pd.DataFrame({"begin_s": [0.1, 8.0], "end_s": [1.0, 9.0], "label": ["a", "b"]})
    >>> event_metrics(predicted, truth, ["a", "b"])["overall"]
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'tp': 1, 'fp': 1, 'fn': 1}
    """
    known = set(classes)
    ignored = {name: table.loc[~table["label"].isin(known), "label"].value_counts().to_dict()
               for name, table in (("predicted", predicted), ("truth", truth))}
    predicted = predicted[predicted["label"].isin(known)]
    truth = truth[truth["label"].isin(known)]
    matched = match_events(predicted, truth, iou=iou, onset_tolerance_s=onset_tolerance_s)
    per_class = {}
    for name in classes:
        tp = int((matched["label"] == name).sum())
        per_class[name] = _scores(tp, int((predicted["label"] == name).sum()) - tp,
                                  int((truth["label"] == name).sum()) - tp)
    totals = {key: sum(entry[key] for entry in per_class.values()) for key in ("tp", "fp", "fn")}
    with_truth = [entry["f1"] for entry in per_class.values() if entry["tp"] + entry["fn"]]
    return {
        "per_class": per_class,
        "overall": _scores(**totals),
        "macro_f1": float(np.mean(with_truth)) if with_truth else 0.0,
        "ignored": {name: {str(k): int(v) for k, v in counts.items()}
                    for name, counts in ignored.items()},
        "criterion": {"onset_tolerance_s": onset_tolerance_s} if onset_tolerance_s is not None
        else {"iou": iou},
    }


def event_metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """:func:`event_metrics` as a table: one row per class, then ``overall``.

    Examples
    --------
    >>> truth = pd.DataFrame({"begin_s": [1.0], "end_s": [2.0], "label": ["a"]})
    >>> float(event_metrics_table(event_metrics(truth, truth, ["a"])).loc["overall", "f1"])
    1.0
    """
    rows = {**metrics["per_class"], "overall": metrics["overall"]}
    return pd.DataFrame.from_dict(rows, orient="index")[
        ["precision", "recall", "f1", "tp", "fp", "fn"]].astype({"tp": int, "fp": int, "fn": int})


def format_event_metrics(metrics: dict[str, Any]) -> str:
    """A small plain-text table of :func:`event_metrics`: one row per class, then overall."""
    return event_metrics_table(metrics).to_string(
        float_format=lambda value: f"{value:.3f}", col_space=6)
