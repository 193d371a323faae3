"""How well the model places calls in time, from clips whose call spans are known.

Pure functions of numpy arrays over the clips with strong labels (frame targets). For
each class, three views of one question, *where is the call?*:

- frame scores: ROC-AUC and average precision of ``framewise_output`` over every frame
  of every strong clip, a frame being positive inside a span of the class;
- attention: the share of ``norm_att`` (which sums to 1 over segments) that falls on the
  segments a call overlaps, beside the share a flat spread would put there;
- boundaries: the onset and offset errors in seconds of the framewise peak region
  against the true span.

A segment covers ``segment_frames`` frames (the model's ``segment_frames``, its backbone's);
the last one also covers the tail frames past ``segments * segment_frames``, as
``whalelab.model.segments_to_frames`` spreads segments back to frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from whalelab.errors import DataError

#: the table's columns: per class entry of the metrics, and the entry of the mean row
COLUMNS = {
    "frame_auc": "macro_frame_auc",
    "frame_ap": "macro_frame_ap",
    "attention_on_call": "mean_attention_on_call",
    "flat_share": "mean_flat_share",
}


def _check_shape(name: str, array: np.ndarray, expected: tuple[int | None, ...],
                 layout: str) -> None:
    """Raise :class:`DataError` naming ``name`` unless ``array`` has the ``expected`` shape."""
    if array.ndim != len(expected) or any(size is not None and size != actual
                                          for size, actual in zip(expected, array.shape)):
        raise DataError(f"{name} has shape {array.shape}, expected {layout} = "
                        f"{tuple('any' if size is None else size for size in expected)}")


def frame_segments(frames: int, segments: int, *, segment_frames: int) -> np.ndarray:
    """The segment each frame belongs to; frames past the last segment belong to it.

    Shapes
    ------
    ``(frames,)`` of segment indices

    Examples
    --------
    >>> frame_segments(6, 2, segment_frames=2)
    array([0, 0, 1, 1, 1, 1])
    """
    return np.minimum(np.arange(frames) // segment_frames, segments - 1)


def call_segments(positive: np.ndarray, segments: int, *, segment_frames: int) -> np.ndarray:
    """Which segments overlap a positive frame.

    Shapes
    ------
    ``(..., frames)`` bool -> ``(..., segments)`` bool

    Examples
    --------
    >>> call_segments(np.array([0, 0, 0, 1, 0, 0], bool), 3, segment_frames=2)
    array([False,  True, False])
    """
    owner = frame_segments(positive.shape[-1], segments, segment_frames=segment_frames)
    return np.stack([positive[..., owner == s].any(axis=-1) for s in range(segments)], axis=-1)


def _runs(mask: np.ndarray) -> np.ndarray:
    """``(runs, 2)`` start and stop (exclusive) of each run of True in a 1-D mask."""
    change = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return change.reshape(-1, 2)


def peak_region(scores: np.ndarray) -> tuple[int, int]:
    """Start and stop (exclusive) of the frames around the peak at or above half of it.

    Examples
    --------
    >>> peak_region(np.array([0.1, 0.6, 1.0, 0.2, 0.8]))
    (1, 3)
    """
    peak = int(np.argmax(scores))
    runs = _runs(scores >= scores[peak] / 2)
    start, stop = runs[(runs[:, 0] <= peak) & (peak < runs[:, 1])][0]
    return int(start), int(stop)


def true_span(positive: np.ndarray, frame: int) -> tuple[int, int]:
    """Start and stop (exclusive) of the positive run holding ``frame``, or the nearest one.

    Examples
    --------
    >>> true_span(np.array([1, 1, 0, 0, 0, 1, 1, 1], bool), 4)
    (5, 8)
    """
    runs = _runs(positive)
    distance = np.maximum(np.maximum(runs[:, 0] - frame, frame - (runs[:, 1] - 1)), 0)
    start, stop = runs[int(np.argmin(distance))]
    return int(start), int(stop)


def frame_spans(frame_targets: np.ndarray, classes: list[str],
                frames_per_second: float) -> list[tuple[str, float, float]]:
    """The calls of a clip's frame targets as ``(label, start_s, end_s)``, by start.

    ``frame_targets`` is one clip's ``(frames, classes)`` 0/1 array (as
    :class:`whalelab.data.ClipDataset` serves it, after crop or pad).

    Examples
    --------
    >>> targets = np.zeros((10, 2)); targets[2:5, 1] = 1
    >>> frame_spans(targets, ["a", "b"], 10.0)
    [('b', 0.2, 0.5)]
    """
    spans = [(name, float(start / frames_per_second), float(stop / frames_per_second))
             for k, name in enumerate(classes) for start, stop in _runs(frame_targets[:, k] > 0)]
    return sorted(spans, key=lambda span: (span[1], span[0]))


def _mean(values) -> float | None:
    values = [value for value in values if value is not None]
    return float(np.mean(values)) if values else None


def _errors(values: list[float]) -> dict[str, float | None]:
    return {"median": float(np.median(values)) if values else None, "mean": _mean(values)}


def _frame_scores(scores: np.ndarray, truth: np.ndarray) -> tuple[float | None, float | None]:
    """ROC-AUC and average precision of ``(frames,)`` scores; None without both kinds."""
    if not 0 < truth.sum() < truth.size:
        return None, None
    return (float(skm.roc_auc_score(truth, scores)),
            float(skm.average_precision_score(truth, scores)))


def localisation_metrics(framewise: Any, norm_att: Any, frame_targets: Any, strong: Any,
                         targets: Any, *, classes: list[str], frames_per_second: float,
                         segment_frames: int) -> dict[str, Any]:
    """Every localisation figure whalelab reports, as a JSON-ready dict.

    Only the strong clips count. A (clip, class) pair *holds a call* when the clip is
    labelled with the class and its frame targets mark at least one frame of it; the
    attention and boundary figures are means over those pairs.

    Parameters
    ----------
    framewise : array, ``(clips, frames, classes)``
        ``framewise_output`` probabilities.
    norm_att : array, ``(clips, classes, segments)``
        Attention weights, each row summing to 1 over segments.
    frame_targets : array, ``(clips, frames, classes)``
        1 on the frames inside a call of the class, else 0.
    strong : array, ``(clips,)`` bool
        Whether the clip's frame targets are known.
    targets : array, ``(clips, classes)``
        Clip-level multi-hot truth.
    classes : list of str
        Class names in output order.
    frames_per_second : float
        Frame rate of ``framewise`` (``sample_rate / hop_length``).
    segment_frames : int
        Frames one segment of ``norm_att`` covers.

    Returns
    -------
    dict
        ``frame_auc``, ``frame_ap``, ``attention_on_call``, ``flat_share`` and ``support``
        (pairs holding a call): per class name, None where undefined;
        ``macro_frame_auc``, ``macro_frame_ap``, ``mean_attention_on_call`` (over all
        pairs), ``mean_flat_share``; ``onset_error_s`` and ``offset_error_s``:
        ``{"median", "mean", "per_class": {name: {"median", "mean"}}}`` in seconds;
        ``clips`` (strong clips scored) and ``pairs``.

    Raises
    ------
    DataError
        When a shape does not fit (the message names the argument), or no clip is strong.

    Examples
    --------
    One clip of 4 two-frame segments with a call on frames 2-3, scored perfectly:

    >>> truth = np.array([0, 0, 1, 1, 0, 0, 0, 0], float).reshape(1, 8, 1)
    >>> att = np.array([[[0.1, 0.7, 0.1, 0.1]]])
    >>> m = localisation_metrics(truth, att, truth, [True], [[1]], classes=["upcall"],
    ...                          frames_per_second=10, segment_frames=2)
    >>> m["frame_auc"], m["attention_on_call"], m["flat_share"], m["onset_error_s"]["median"]
    ({'upcall': 1.0}, {'upcall': 0.7}, {'upcall': 0.25}, 0.0)
    """
    framewise, norm_att = np.asarray(framewise, float), np.asarray(norm_att, float)
    frame_targets = np.asarray(frame_targets)
    strong, targets = np.asarray(strong), np.asarray(targets)
    clips = framewise.shape[0] if framewise.ndim == 3 else None
    n_classes = len(classes)
    _check_shape("framewise", framewise, (None, None, n_classes), "(clips, frames, classes)")
    _check_shape("norm_att", norm_att, (clips, n_classes, None), "(clips, classes, segments)")
    _check_shape("frame_targets", frame_targets, framewise.shape, "(clips, frames, classes)")
    _check_shape("strong", strong, (clips,), "(clips,)")
    _check_shape("targets", targets, (clips, n_classes), "(clips, classes)")
    if not np.isin(frame_targets, (0, 1)).all():
        raise DataError("frame_targets must hold only 0 and 1")
    if frames_per_second <= 0:
        raise DataError(f"frames_per_second must be positive, got {frames_per_second}")
    if segment_frames < 1:
        raise DataError(f"segment_frames must be at least 1, got {segment_frames}")
    strong = strong.astype(bool)
    if not strong.any():
        raise DataError("no strong clips (clips with known call spans) to score")

    framewise, norm_att = framewise[strong], norm_att[strong]
    frame_targets, targets = frame_targets[strong].astype(bool), targets[strong].astype(bool)
    segments = norm_att.shape[2]
    overlap = call_segments(frame_targets.transpose(0, 2, 1), segments,
                            segment_frames=segment_frames)  # (clips, classes, segments)
    mass = (norm_att * overlap).sum(axis=2)  # (clips, classes)
    share = overlap.sum(axis=2) / segments  # (clips, classes)
    holds = targets & overlap.any(axis=2)  # (clips, classes)

    metrics: dict[str, Any] = {name: {} for name in (
        "frame_auc", "frame_ap", "attention_on_call", "flat_share", "support")}
    onsets: dict[str, list[float]] = {}
    offsets: dict[str, list[float]] = {}
    for k, name in enumerate(classes):
        metrics["frame_auc"][name], metrics["frame_ap"][name] = _frame_scores(
            framewise[:, :, k].ravel(), frame_targets[:, :, k].ravel())
        chosen = holds[:, k]
        metrics["attention_on_call"][name] = _mean(mass[chosen, k])
        metrics["flat_share"][name] = _mean(share[chosen, k])
        metrics["support"][name] = int(chosen.sum())
        onsets[name], offsets[name] = [], []
        for clip in np.flatnonzero(chosen):
            start, stop = peak_region(framewise[clip, :, k])
            span_start, span_stop = true_span(frame_targets[clip, :, k],
                                              int(np.argmax(framewise[clip, :, k])))
            onsets[name].append(abs(start - span_start) / frames_per_second)
            offsets[name].append(abs(stop - span_stop) / frames_per_second)
    for name, errors in (("onset_error_s", onsets), ("offset_error_s", offsets)):
        metrics[name] = {**_errors([error for values in errors.values() for error in values]),
                         "per_class": {k: _errors(values) for k, values in errors.items()}}
    return {
        **metrics,
        "macro_frame_auc": _mean(metrics["frame_auc"].values()),
        "macro_frame_ap": _mean(metrics["frame_ap"].values()),
        "mean_attention_on_call": _mean(mass[holds]),
        "mean_flat_share": _mean(share[holds]),
        "clips": int(strong.sum()),
        "pairs": int(holds.sum()),
    }


def localisation_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per class and a final ``mean`` row of :func:`localisation_metrics` figures.

    Columns: ``frame_auc``, ``frame_ap``, ``attention_on_call``, ``flat_share``,
    ``onset_median_s``, ``offset_median_s``, ``pairs``; NaN where a figure is undefined.
    The mean row holds the macro frame figures and the means over all pairs.
    """
    rows = {}
    for name, pairs in metrics["support"].items():
        rows[name] = {column: metrics[column][name] for column in COLUMNS}
        for edge in ("onset", "offset"):
            rows[name][f"{edge}_median_s"] = metrics[f"{edge}_error_s"]["per_class"][name]["median"]
        rows[name]["pairs"] = pairs
    rows["mean"] = {column: metrics[mean] for column, mean in COLUMNS.items()}
    for edge in ("onset", "offset"):
        rows["mean"][f"{edge}_median_s"] = metrics[f"{edge}_error_s"]["median"]
    rows["mean"]["pairs"] = metrics["pairs"]
    table = pd.DataFrame.from_dict(rows, orient="index").astype(float)
    return table.astype({"pairs": int})


def format_localisation(metrics: dict[str, Any]) -> str:
    """A small plain-text table: one row per class, then the macro / mean row.

    Examples
    --------
    >>> truth = np.array([0, 0, 1, 1, 0, 0, 0, 0], float).reshape(1, 8, 1)
    >>> m = localisation_metrics(truth, [[[0.1, 0.7, 0.1, 0.1]]], truth, [True], [[1]],
    ...                          classes=["upcall"], frames_per_second=10, segment_frames=2)
    >>> print(format_localisation(m))
    class            fr.AUC  fr.AP  att.call   flat  onset s  offset s     n
    upcall            1.000  1.000     0.700  0.250    0.000     0.000     1
    mean              1.000  1.000     0.700  0.250    0.000     0.000     1
    """
    widths = (6, 6, 9, 6, 8, 9)
    lines = [f"{'class':<16} {'fr.AUC':>6} {'fr.AP':>6} {'att.call':>9} {'flat':>6} "
             f"{'onset s':>8} {'offset s':>9} {'n':>5}"]
    for name, row in localisation_table(metrics).iterrows():
        cells = ("" if np.isnan(value) else f"{value:.3f}" for value in row.iloc[:-1])
        lines.append(f"{name:<16} " + " ".join(f"{cell:>{width}}"
                                               for cell, width in zip(cells, widths))
                     + f" {int(row['pairs']):5d}")
    return "\n".join(lines)
