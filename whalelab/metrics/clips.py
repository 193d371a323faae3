"""Clip-level figures from scores and truth: thresholds, decisions, metrics, calibration,
intervals.

Pure functions of numpy arrays, shared by training (thresholds chosen on validation)
and evaluation. Targets are multi-hot over the call classes; a clip with no call
(background) has all zeros.

**One decision rule.** Every figure that needs a threshold is counted from the same
single-label decisions (:func:`single_label`): each clip's top class relative to its
threshold when it clears that threshold, else background. The confusion matrix over the
classes plus background counts these decisions, and the per-class table and the headline
figures are read off it, so that the table, the matrix and the headline figures never
disagree:

- ``accuracy``: the share of the matrix on its diagonal;
- per class: precision, recall and F1 of class ``k`` with true positives
  ``matrix[k, k]``, false positives the rest of column ``k`` and false negatives the rest
  of row ``k``; ``support`` is the row's total. Background is a row and a column of the
  matrix but not a class of the table;
- ``macro_f1``: the mean F1 over the classes with true clips (``support > 0``).

A clip with several true labels counts as correct when its decision names any one of
them (its row is then the predicted class); otherwise its row is its first true class.

**Ranking figures** need no threshold: per class, average precision and ROC-AUC of the
class's scores (the clips that carry the class against all others), and their macro
means ``macro_ap`` (mAP) and ``macro_auc``.

**Calibration** (:func:`calibration`): per class, how often the class is present among
clips scored near ``p``, against ``p``, and the expected calibration error (ECE);
``macro_ece`` is its mean over classes.

Headline figures get bootstrap 95 % intervals (clips resampled with replacement, each
resample scored by the same rule).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from whalelab.errors import ConfigError, DataError

BACKGROUND = "background"
HEADLINE = ("accuracy", "macro_f1", "macro_ap")


#: the fewest positive validation clips a class needs for a threshold chosen on them;
#: below it the threshold stays 0.5 (one clip's score says nothing about a cut-off)
MIN_THRESHOLD_POSITIVES = 3


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray, *,
                      classes: Sequence[str] | None = None) -> np.ndarray:
    """Per class, the threshold that maximises F1 on these (validation) clips.

    The midpoint between the chosen score and the next lower one is used, so that a
    threshold does not sit exactly on a validation score. A class with fewer than
    :data:`MIN_THRESHOLD_POSITIVES` positives keeps 0.5, with a warning naming it
    (by ``classes``, else by column) when it has any.

    Shapes
    ------
    ``(clips, classes)`` -> ``(classes,)``

    Examples
    --------
    >>> choose_thresholds(np.array([[0.9], [0.6], [0.55], [0.4], [0.1]]),
    ...                   np.array([[1], [1], [1], [0], [0]]))
    array([0.475])
    """
    thresholds = np.full(probabilities.shape[1], 0.5)
    positives = targets.sum(axis=0)
    for k in np.flatnonzero(positives >= MIN_THRESHOLD_POSITIVES):
        precision, recall, cuts = skm.precision_recall_curve(targets[:, k], probabilities[:, k])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        best = int(np.argmax(f1))
        below = probabilities[:, k][probabilities[:, k] < cuts[best]]
        thresholds[k] = (cuts[best] + below.max()) / 2 if below.size else cuts[best] / 2
    few = np.flatnonzero((positives > 0) & (positives < MIN_THRESHOLD_POSITIVES))
    if few.size:
        names = [f"{classes[k] if classes is not None else f'column {k}'} "
                 f"({int(positives[k])})" for k in few]
        warnings.warn(f"too few positive validation clips to choose a threshold (fewer than "
                      f"{MIN_THRESHOLD_POSITIVES}) for {', '.join(names)}: they keep 0.5",
                      stacklevel=2)
    return thresholds


def closed_set(targets: np.ndarray) -> bool:
    """Whether every clip ``(clips, classes)`` holds a class: then no clip is "no call",
    and the decision is the top class (thresholds 0), for a run and a baseline alike.

    Examples
    --------
    >>> closed_set(np.array([[1, 0], [0, 1]])), closed_set(np.array([[1, 0], [0, 0]]))
    (True, False)
    """
    return bool((np.asarray(targets).sum(axis=1) > 0).all())


def single_label(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each clip's class index, or ``classes`` (background) when no class clears its threshold.

    The top class is the one with the largest score relative to its threshold.
    """
    ratio = probabilities / np.maximum(thresholds, 1e-6)
    top = ratio.argmax(axis=1)
    cleared = ratio[np.arange(len(top)), top] >= 1.0
    return np.where(cleared, top, probabilities.shape[1])


def decision_confidence(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """How sure the scores are of each clip's label ``labels`` (class index, or
    ``classes`` for background): the class's probability, or for background one minus
    the largest probability.

    Examples
    --------
    >>> decision_confidence(np.array([[0.9, 0.2], [0.1, 0.3]]), np.array([0, 2]))
    array([0.9, 0.7])
    """
    classes = probabilities.shape[1]
    padded = np.concatenate([probabilities, 1 - probabilities.max(axis=1, keepdims=True)],
                            axis=1)  # (clips, classes + 1): background's score last
    return padded[np.arange(len(labels)), np.minimum(labels, classes)]


def decisions(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray,
              classes: list[str]) -> pd.DataFrame:
    """One row per clip: ``truth``, ``predicted`` (the single-label decision of
    :func:`single_label`, the rule every table and the confusion matrix use), ``correct``,
    and ``confidence``: how sure the scores are of the *predicted* label
    (:func:`decision_confidence`), so that "the most confident mistakes" and "the most
    confident correct clips" sort on one meaningful number.

    ``truth`` is the clip's row of the confusion matrix: for a clip with several true
    labels, the predicted one when it is among them, else the first.
    """
    labels = [*classes, BACKGROUND]
    predicted = single_label(probabilities, thresholds)
    truth = _truth_single_label(targets, predicted)
    return pd.DataFrame({"truth": [labels[k] for k in truth],
                         "predicted": [labels[k] for k in predicted],
                         "correct": truth == predicted,
                         "confidence": decision_confidence(probabilities, predicted)})


def _truth_single_label(targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Each clip's true label index (``classes`` for background) given its decision
    ``predicted``: the decision when it names one of the clip's true labels, else the
    clip's first true class, or background for a clip without calls."""
    present = targets > 0
    padded = np.concatenate([present, ~present.any(axis=1, keepdims=True)],
                            axis=1)  # (clips, classes + 1): background last
    named = padded[np.arange(len(predicted)), predicted]
    return np.where(named, predicted, padded.argmax(axis=1))


def _confusion(targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``(classes + 1, classes + 1)`` counts of the decisions ``predicted``; rows are the
    true labels, columns the predicted ones, background last."""
    labels = targets.shape[1] + 1
    truth = _truth_single_label(targets, predicted)
    return np.bincount(truth * labels + predicted, minlength=labels**2).reshape(labels, labels)


def _per_class_rates(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Per class (background, the last label, left out), ``(classes,)`` arrays of
    ``precision``, ``recall``, ``f1`` and ``support`` read off a confusion matrix; a rate
    whose denominator is zero is 0."""
    true_positive = np.diag(matrix)[:-1]
    predicted, support = matrix.sum(axis=0)[:-1], matrix.sum(axis=1)[:-1]
    return {"precision": true_positive / np.maximum(predicted, 1),
            "recall": true_positive / np.maximum(support, 1),
            "f1": 2 * true_positive / np.maximum(predicted + support, 1),
            "support": support}


def macro_average_precision(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Mean average precision over the classes that some clip holds; NaN where none does.

    Shapes
    ------
    probabilities, targets ``(clips, classes)``

    Examples
    --------
    >>> targets = np.array([[1, 0], [0, 0], [1, 0]])
    >>> macro_average_precision(np.array([[0.9, 0.1], [0.2, 0.5], [0.8, 0.3]]), targets)
    1.0
    """
    ap = [skm.average_precision_score(targets[:, k], probabilities[:, k])
          for k in np.flatnonzero(targets.sum(axis=0) > 0)]
    return float(np.mean(ap)) if ap else float("nan")


def _headline(probabilities: np.ndarray, targets: np.ndarray,
              predicted: np.ndarray) -> dict[str, float]:
    """Accuracy and macro F1 of the decisions ``predicted``, and mAP of the scores."""
    matrix = _confusion(targets, predicted)
    rates = _per_class_rates(matrix)
    counted = rates["support"] > 0
    return {"accuracy": float(np.trace(matrix) / matrix.sum()),
            "macro_f1": float(np.mean(rates["f1"][counted])) if counted.any() else float("nan"),
            "macro_ap": macro_average_precision(probabilities, targets)}


def _bootstrap(statistic: Callable[[np.ndarray], dict[str, float]], clips: int, *,
               rounds: int, seed: int) -> dict[str, list[float]]:
    """95 % percentile intervals of each figure ``statistic(chosen clip indices)`` gives,
    over ``rounds`` resamples of ``clips`` clips with replacement (non-finite draws left out)."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in HEADLINE}
    for _ in range(rounds):
        for name, value in statistic(rng.integers(0, clips, clips)).items():
            if np.isfinite(value):
                samples[name].append(value)
    return {name: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
            if values else [float("nan"), float("nan")] for name, values in samples.items()}


def bootstrap_intervals(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray,
                        *, rounds: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals of the headline figures over clips resampled with
    replacement, each resample scored by the single-label rule of the module."""
    predicted = single_label(probabilities, thresholds)
    return _bootstrap(lambda chosen: _headline(probabilities[chosen], targets[chosen],
                                               predicted[chosen]),
                      len(targets), rounds=rounds, seed=seed)


def paired_difference(first: tuple[np.ndarray, np.ndarray],
                      second: tuple[np.ndarray, np.ndarray], targets: np.ndarray, *,
                      rounds: int = 500, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Headline figures of ``first`` minus those of ``second`` on the same clips.

    ``first`` and ``second`` are ``(probabilities (clips, classes), thresholds
    (classes,))`` of two scorers (the model and a baseline), ``targets`` the clips'
    ``(clips, classes)`` multi-hot labels. Each bootstrap resample scores both on the
    same clips (a paired bootstrap), so the interval is that of the difference itself:
    when it excludes 0, ``first`` is ahead by more than the resampling explains.

    Returns
    -------
    dict
        ``{name: {"value": difference, "interval_95": [low, high]}}`` for each of
        :data:`HEADLINE`.

    Examples
    --------
    >>> targets = np.eye(2)[[0, 1] * 20]
    >>> good = (targets * 0.8 + 0.1, np.full(2, 0.5))
    >>> coin = (np.full_like(targets, 0.6), np.full(2, 0.5))
    >>> difference = paired_difference(good, coin, targets, rounds=50)
    >>> difference["accuracy"]["value"] > 0 and difference["accuracy"]["interval_95"][0] > 0
    True
    """
    if first[0].shape != second[0].shape or first[0].shape != targets.shape:
        raise DataError(f"paired scores need the same clips and classes: {first[0].shape}, "
                        f"{second[0].shape} and targets {targets.shape}")
    decided = [single_label(probabilities, thresholds) for probabilities, thresholds
               in (first, second)]

    def difference(chosen: np.ndarray) -> dict[str, float]:
        one, two = (_headline(probabilities[chosen], targets[chosen], predicted[chosen])
                    for (probabilities, _), predicted in zip((first, second), decided))
        return {name: one[name] - two[name] for name in HEADLINE}

    value = difference(np.arange(len(targets)))
    intervals = _bootstrap(difference, len(targets), rounds=rounds, seed=seed)
    return {name: {"value": value[name], "interval_95": intervals[name]} for name in HEADLINE}


def format_difference(difference: dict[str, dict[str, Any]], *, first: str = "model",
                      second: str = "baseline") -> str:
    """One line per headline figure: ``first`` minus ``second`` with its paired interval."""
    lines = [f"{first} minus {second} (paired bootstrap 95% interval)"]
    for name, entry in difference.items():
        low, high = entry["interval_95"]
        verdict = ("ahead" if low > 0 else "behind" if high < 0 else "not separable")
        lines.append(f"{name:<10} {entry['value']:+7.3f}   [{low:+.3f}, {high:+.3f}]  {verdict}")
    return "\n".join(lines)


#: inner edges (dB) of the SNR bins of :func:`recall_by_snr`; the outer bins are open
SNR_EDGES_DB = (-5.0, 0.0, 5.0, 10.0, 20.0)


def _wilson_interval(hits: int, total: int, z: float = 1.96) -> list[float]:
    """95 % Wilson score interval of the proportion ``hits / total`` (``total`` > 0)."""
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    spread = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) \
        / (1 + z * z / total)
    return [float(max(0.0, centre - spread)), float(min(1.0, centre + spread))]


def recall_by_snr(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray,
                  snr_db: np.ndarray, *,
                  edges: Sequence[float] = SNR_EDGES_DB) -> list[dict[str, Any]]:
    """Recall of call clips per bin of the SNR of their faintest call.

    A call clip is recalled when its single-label decision (:func:`single_label`, the
    rule of every table here) is one of its labels.

    Parameters
    ----------
    probabilities, targets : numpy.ndarray
        ``(clips, classes)`` scores and multi-hot labels.
    thresholds : numpy.ndarray
        ``(classes,)`` decision thresholds.
    snr_db : numpy.ndarray
        ``(clips,)`` float: the faintest call's SNR in dB; NaN for clips without a known
        SNR, and background clips, which are left out.
    edges : sequence of float
        Inner bin edges in dB, increasing; the first and last bins are open.

    Returns
    -------
    list of dict
        Per bin, lowest first: ``bin`` (a label such as ``"0 to 5 dB"``), ``low_db`` and
        ``high_db`` (None where open), ``clips``, ``recall`` (None for an empty bin) and
        its 95 % Wilson interval ``interval_95``.

    Examples
    --------
    >>> targets = np.array([[1.0], [1.0], [1.0], [0.0]])
    >>> scores = np.array([[0.2], [0.9], [0.8], [0.9]])
    >>> rows = recall_by_snr(scores, targets, np.array([0.5]),
    ...                      np.array([-8.0, -7.0, 12.0, 3.0]), edges=[0.0])
    >>> [(row["bin"], row["clips"], row["recall"]) for row in rows]
    [('below 0 dB', 2, 0.5), ('0 dB and above', 1, 1.0)]
    """
    predicted = single_label(probabilities, thresholds)
    correct = _truth_single_label(targets, predicted) == predicted
    snr_db = np.where(targets.any(axis=1), snr_db, np.nan)
    known = np.isfinite(snr_db)
    bins = np.digitize(snr_db[known], edges)
    hits = correct[known]
    bounds = [None, *edges, None]
    rows = []
    for k, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
        inside = bins == k
        total = int(inside.sum())
        name = (f"below {high:g} dB" if low is None else f"{low:g} dB and above"
                if high is None else f"{low:g} to {high:g} dB")
        rows.append({"bin": name, "low_db": low, "high_db": high, "clips": total,
                     "recall": float(hits[inside].mean()) if total else None,
                     "interval_95": _wilson_interval(int(hits[inside].sum()), total)
                     if total else None})
    return rows


def calibration(probabilities: np.ndarray, targets: np.ndarray, *, bins: int = 10,
                classes: list[str] | None = None) -> dict[str, Any]:
    """Reliability curves and expected calibration error (ECE) per class, JSON-ready.

    Each class's scores fall into ``bins`` equal-width bins over [0, 1] (a score of 1
    goes to the last). Per bin: the mean predicted probability, the observed frequency
    of the class (the share of the bin's clips that carry it) and the number of clips;
    an empty bin has ``None`` for both means. A calibrated class lies on the diagonal.
    The ECE is the count-weighted mean of ``|observed - predicted|`` over the bins: 0 for
    perfect calibration, and the average gap between what the scores promise and what
    happens otherwise.

    Parameters
    ----------
    probabilities, targets : numpy.ndarray
        ``(clips, classes)`` probabilities in [0, 1] and multi-hot truth.
    bins : int
        Number of equal-width probability bins.
    classes : list of str or None
        Class names in output order; None names them ``"0"``, ``"1"``, ...

    Returns
    -------
    dict
        ``edges`` (``bins + 1`` bin edges), ``per_class`` ``{name: {mean_predicted,
        observed, count, ece}}`` (lists of ``bins`` values, and a float) and
        ``macro_ece``, the mean ECE over classes.

    Examples
    --------
    >>> result = calibration(np.array([[0.9], [0.9], [0.2], [0.2]]),
    ...                      np.array([[1], [0], [0], [0]]), bins=2)
    >>> curve = result["per_class"]["0"]
    >>> curve["mean_predicted"], curve["observed"], curve["count"], round(curve["ece"], 3)
    ([0.2, 0.9], [0.0, 0.5], [2, 2], 0.3)
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"bins must be a positive integer, not {bins!r}")
    probabilities = np.asarray(probabilities, dtype=float)
    if len(probabilities) == 0:
        raise DataError("no clips to calibrate")
    if not np.all((probabilities >= 0) & (probabilities <= 1)):
        raise DataError("probabilities for calibration must lie in [0, 1]")
    clips, count_classes = probabilities.shape
    names = [str(k) for k in range(count_classes)] if classes is None else list(classes)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.digitize(probabilities, edges[1:-1])  # (clips, classes): bin of each score
    per_class = {}
    for k, name in enumerate(names):
        count = np.bincount(index[:, k], minlength=bins)
        predicted = np.bincount(index[:, k], weights=probabilities[:, k], minlength=bins)
        observed = np.bincount(index[:, k], weights=targets[:, k], minlength=bins)
        per_class[name] = {
            "mean_predicted": [float(p / n) if n else None for p, n in zip(predicted, count)],
            "observed": [float(o / n) if n else None for o, n in zip(observed, count)],
            "count": count.tolist(),
            # count * |observed - predicted| per bin is |sum of truth - sum of scores|
            "ece": float(np.abs(observed - predicted).sum() / clips),
        }
    return {"edges": edges.tolist(), "per_class": per_class,
            "macro_ece": float(np.mean([entry["ece"] for entry in per_class.values()]))
            if per_class else float("nan")}


def classification_metrics(probabilities: np.ndarray, targets: np.ndarray, classes: list[str],
                           thresholds: np.ndarray, *, bootstrap_rounds: int = 500,
                           seed: int = 0) -> dict[str, Any]:
    """Every clip-level figure whalelab reports, as a JSON-ready dict.

    The thresholded figures (``accuracy``, per-class precision, recall and F1,
    ``macro_f1``) all come from ``confusion_matrix``, the single-label decisions of
    :func:`single_label` (see the module docstring); average precision and ROC-AUC rank
    the scores; ``calibration`` is :func:`calibration` with its ``macro_ece`` repeated at
    the top level.

    Parameters
    ----------
    probabilities, targets : numpy.ndarray
        ``(clips, classes)`` clipwise probabilities and multi-hot truth.
    classes : list of str
        Class names in output order.
    thresholds : numpy.ndarray
        ``(classes,)`` decision thresholds (chosen on validation).
    """
    if len(targets) == 0:
        raise DataError("no clips to evaluate")
    predicted = single_label(probabilities, thresholds)
    confusion = _confusion(targets, predicted)
    rates = _per_class_rates(confusion)
    per_class = {}
    for k, name in enumerate(classes):
        truth, scores = targets[:, k], probabilities[:, k]
        has_both = 0 < truth.sum() < len(truth)
        per_class[name] = {
            "precision": float(rates["precision"][k]),
            "recall": float(rates["recall"][k]),
            "f1": float(rates["f1"][k]),
            "average_precision": float(skm.average_precision_score(truth, scores))
            if truth.sum() > 0 else None,
            "roc_auc": float(skm.roc_auc_score(truth, scores)) if has_both else None,
            "support": int(rates["support"][k]),
            "threshold": float(thresholds[k]),
        }
    aucs = [entry["roc_auc"] for entry in per_class.values() if entry["roc_auc"] is not None]
    reliability = calibration(probabilities, targets, classes=list(classes))
    return {
        **_headline(probabilities, targets, predicted),
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "macro_ece": reliability["macro_ece"],
        "intervals_95": bootstrap_intervals(probabilities, targets, thresholds,
                                            rounds=bootstrap_rounds, seed=seed),
        "clips": int(len(targets)),
        "per_class": per_class,
        "confusion_matrix": {"labels": [*classes, BACKGROUND], "matrix": confusion.tolist()},
        "calibration": reliability,
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """A small plain-text table: headline figures with intervals, the mean ECE, then one
    row per class (precision, recall and F1 of the single-label decisions, AP, ECE)."""
    lines = [f"{'metric':<10} {'value':>7}   95% interval"]
    for name in HEADLINE:
        low, high = metrics["intervals_95"][name]
        lines.append(f"{name:<10} {metrics[name]:7.3f}   [{low:.3f}, {high:.3f}]")
    lines.append(f"{'macro_ece':<10} {metrics['macro_ece']:7.3f}")
    lines.append("")
    lines.append(f"{'class':<16} {'prec':>6} {'recall':>6} {'f1':>6} {'AP':>6} {'ECE':>6} "
                 f"{'n':>5}")
    for name, entry in metrics["per_class"].items():
        ap = entry["average_precision"]
        ece = metrics["calibration"]["per_class"][name]["ece"]
        lines.append(f"{name:<16} {entry['precision']:6.3f} {entry['recall']:6.3f} "
                     f"{entry['f1']:6.3f} {'' if ap is None else f'{ap:6.3f}':>6} "
                     f"{ece:6.3f} {entry['support']:5d}")
    return "\n".join(lines)
