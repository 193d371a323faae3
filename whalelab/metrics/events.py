"""Detected events scored against annotated ones: matching, precision, recall and F1, and
false alarms per hour of call-free audio with their upper bound.

Scoring matches predicted to true events of the same class (and the same file, when
both tables carry a ``file`` column) one to one, as a
:class:`whalelab.config.EventMatching` says: a pair may match when their time
intersection over union reaches ``iou`` or, when ``onset_tolerance_s`` is given, when
their onsets differ by at most that much. Among the pairs allowed, the largest number
of matches is taken (ties broken towards the best overlap or the closest onsets).
Matched predictions are true positives, the other predictions false positives and the
unmatched true events false negatives.

Events come from :mod:`whalelab.events` (the model's through
:func:`whalelab.detection.detect_recording`).

Examples
--------
>>> truth = pd.DataFrame({"begin_s": [1.0, 5.0], "end_s": [2.0, 6.0], "label": ["a", "a"]})
>>> predicted = pd.DataFrame({"begin_s": [1.1, 8.0], "end_s": [2.0, 9.0], "label": ["a", "a"]})
>>> event_metrics(predicted, truth, ["a"])["overall"]["f1"]
0.5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from whalelab.config import EventMatching
from whalelab.errors import DataError


def _pair_quality(predicted: pd.DataFrame, truth: pd.DataFrame,
                  matching: EventMatching) -> tuple[np.ndarray, np.ndarray]:
    """``(predicted, truth)`` arrays: whether each pair may match, and how well (higher better)."""
    p_begin = predicted["begin_s"].to_numpy()[:, None]
    p_end = predicted["end_s"].to_numpy()[:, None]
    t_begin, t_end = truth["begin_s"].to_numpy()[None], truth["end_s"].to_numpy()[None]
    intersection = np.clip(np.minimum(p_end, t_end) - np.maximum(p_begin, t_begin), 0, None)
    union = np.maximum(p_end, t_end) - np.minimum(p_begin, t_begin)
    overlap = intersection / np.maximum(union, 1e-12)
    if matching.onset_tolerance_s is None:
        return overlap >= matching.iou, overlap
    onset_error = np.abs(p_begin - t_begin)
    return onset_error <= matching.onset_tolerance_s, -onset_error


def match_events(predicted: pd.DataFrame, truth: pd.DataFrame, *,
                 matching: EventMatching = EventMatching()) -> pd.DataFrame:
    """One-to-one matches between predicted and true events of the same class.

    Parameters
    ----------
    predicted, truth : pandas.DataFrame
        Events with ``begin_s``, ``end_s`` and ``label`` (and optionally ``file``: when
        both have it, only events of the same file match).
    matching : EventMatching
        Least time intersection over union for a match, or (``onset_tolerance_s``)
        most seconds between the onsets instead.

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
        allowed, quality = _pair_quality(group, candidates, matching)
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
                  matching: EventMatching = EventMatching()) -> dict[str, Any]:
    """Event-level precision, recall and F1 per class and overall (micro), as a JSON-ready dict.

    Events whose label is not in ``classes`` are left out and counted under ``ignored``.
    A class with no predicted and no true events scores 0 (and has ``tp = fp = fn = 0``);
    ``macro_f1`` averages only the classes with true events.

    Returns
    -------
    dict
        ``per_class`` ``{name: {precision, recall, f1, tp, fp, fn}}``, ``overall``
        (the same keys, counts summed over classes), ``macro_f1``, ``ignored``
        ``{"predicted": {label: n}, "truth": {label: n}}`` and ``criterion``
        (:attr:`whalelab.config.EventMatching.criterion`).

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
    matched = match_events(predicted, truth, matching=matching)
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
        "criterion": matching.criterion,
    }


def event_intervals(predicted: pd.DataFrame, truth: pd.DataFrame, classes: Sequence[str], *,
                    matching: EventMatching = EventMatching(), block_s: float = 60.0,
                    rounds: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """95 % bootstrap intervals of overall precision, recall and F1.

    Events are matched once; the recordings are cut into blocks of ``block_s`` seconds
    (per ``file`` when the tables carry one) and the blocks are resampled with
    replacement, each carrying its true positives, false positives and false negatives
    (an event belongs to the block it begins in).

    Examples
    --------
    >>> truth = pd.DataFrame({"begin_s": [10.0, 70.0, 130.0], "end_s": [11.0, 71.0, 131.0],
    ...                       "label": ["a"] * 3})
    >>> event_intervals(truth, truth, ["a"], rounds=50)["f1"]
    [1.0, 1.0]
    """
    known = set(classes)
    predicted = predicted[predicted["label"].isin(known)].reset_index(drop=True)
    truth = truth[truth["label"].isin(known)].reset_index(drop=True)
    matched = match_events(predicted, truth, matching=matching)

    def blocks(table: pd.DataFrame) -> pd.Series:
        files = table["file"].astype(str) if "file" in table else pd.Series("", index=table.index)
        return files + "#" + (table["begin_s"] // block_s).astype(int).astype(str)

    predicted_block, truth_block = blocks(predicted), blocks(truth)
    hit = np.zeros(len(predicted), dtype=bool)
    hit[matched["predicted"].to_numpy(dtype=int)] = True
    found = np.zeros(len(truth), dtype=bool)
    found[matched["truth"].to_numpy(dtype=int)] = True
    names = sorted(set(predicted_block) | set(truth_block))
    counts = pd.DataFrame({
        "tp": pd.Series(hit, dtype=int).groupby(predicted_block).sum(),
        "fp": pd.Series(~hit, dtype=int).groupby(predicted_block).sum(),
        "fn": pd.Series(~found, dtype=int).groupby(truth_block).sum(),
    }).reindex(names).fillna(0).to_numpy()  # (blocks, 3)
    rng = np.random.default_rng(seed)
    samples = {"precision": [], "recall": [], "f1": []}
    for _ in range(rounds if len(counts) else 0):
        tp, fp, fn = counts[rng.integers(0, len(counts), len(counts))].sum(axis=0)
        scores = _scores(int(tp), int(fp), int(fn))
        for name in samples:
            samples[name].append(scores[name])
    return {name: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
            if values else [float("nan"), float("nan")] for name, values in samples.items()}


def false_alarm_rate_bound(alarms: int, hours: float, *, confidence: float = 0.95) -> float:
    """The most false alarms per hour that ``alarms`` seen in ``hours`` of call-free audio
    leave plausible: the one-sided upper confidence bound of a Poisson rate.

    Few call-free minutes with no false alarm do not show a rate of 0: the exact bound
    is ``chi2.ppf(confidence, 2 (alarms + 1)) / 2`` alarms over ``hours``, which for no
    alarm at 95 % is ``-ln 0.05 = 3.0`` over ``hours``, the *rule of three*.

    Raises
    ------
    DataError
        ``hours`` is not positive, ``alarms`` negative, or ``confidence`` outside (0, 1).

    Examples
    --------
    >>> round(false_alarm_rate_bound(0, 4 / 60), 1)  # none in 4 call-free minutes: < 45/h
    44.9
    >>> round(false_alarm_rate_bound(2, 1.0), 2)
    6.3
    """
    if not hours > 0:
        raise DataError(f"false alarms need call-free audio to be counted in, not {hours} h")
    if alarms < 0 or not 0 < confidence < 1:
        raise DataError(f"need alarms >= 0 and 0 < confidence < 1; got alarms={alarms}, "
                        f"confidence={confidence}")
    return float(chi2.ppf(confidence, 2 * (alarms + 1)) / 2 / hours)


def score_events(predicted: pd.DataFrame, truth: pd.DataFrame, classes: Sequence[str], *,
                 hours: Mapping[str, float], matching: EventMatching = EventMatching(),
                 seed: int = 0) -> dict[str, Any]:
    """:func:`event_metrics` with bootstrap ``intervals_95`` (:func:`event_intervals`) and
    the false alarms of the recordings that hold no true event.

    ``hours`` maps each scored recording (the ``file`` column) to its length in hours.
    ``false_alarms`` counts the events in those call-free recordings (``hours_without_calls``
    of audio), ``false_alarms_per_hour`` is their rate and ``false_alarms_per_hour_upper_95``
    its one-sided 95 % upper bound (:func:`false_alarm_rate_bound`; with no alarm, the
    rule of three); all three are None when every recording holds a call.

    Examples
    --------
    >>> truth = pd.DataFrame({"begin_s": [1.0], "end_s": [2.0], "label": ["a"], "file": ["x"]})
    >>> scored = score_events(truth, truth, ["a"], hours={"x": 0.5, "quiet": 0.25})
    >>> scored["false_alarms"], scored["false_alarms_per_hour"]
    (0, 0.0)
    >>> round(scored["false_alarms_per_hour_upper_95"], 1)  # 3 / 0.25 h
    12.0
    """
    quiet = [name for name in hours if not (truth["file"] == name).any()]
    quiet_hours = sum(hours[name] for name in quiet)
    alarms = int((predicted["file"].isin(quiet) & predicted["label"].isin(set(classes))).sum())
    counted = quiet_hours > 0
    return {**event_metrics(predicted, truth, classes, matching=matching),
            "intervals_95": event_intervals(predicted, truth, classes, matching=matching,
                                            seed=seed),
            "false_alarms": alarms if counted else None,
            "false_alarms_per_hour": float(alarms / quiet_hours) if counted else None,
            "false_alarms_per_hour_upper_95": false_alarm_rate_bound(alarms, quiet_hours)
            if counted else None,
            "hours_without_calls": quiet_hours}


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



def format_false_alarms(metrics: Mapping[str, Any]) -> str | None:
    """One line on the false alarms of :func:`score_events`' ``metrics``: how many in how
    much call-free audio, their rate and its 95 % upper bound; None without call-free audio.

    Examples
    --------
    >>> format_false_alarms({"false_alarms": 0, "hours_without_calls": 4 / 60,
    ...                      "false_alarms_per_hour": 0.0,
    ...                      "false_alarms_per_hour_upper_95": 44.94})
    '0 false alarms in 4 min of call-free audio: 0.0 per hour, at most 44.9 (95 % upper bound)'
    """
    hours = metrics.get("hours_without_calls")
    if metrics.get("false_alarms") is None or not hours:
        return None
    length = f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"
    alarms = metrics["false_alarms"]
    return (f"{alarms} false alarm{'' if alarms == 1 else 's'} in {length} of call-free audio: "
            f"{metrics['false_alarms_per_hour']:.1f} per hour, at most "
            f"{metrics['false_alarms_per_hour_upper_95']:.1f} (95 % upper bound)")
