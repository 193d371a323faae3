"""Clip-level figures from scores and truth: thresholds, decisions, metrics, intervals.

Pure functions of numpy arrays, shared by training (thresholds chosen on validation)
and evaluation. Targets are multi-hot over the call classes; a clip with no call
(background) has all zeros. Two views are reported:

- per class (multi-label): precision, recall and F1 at the class's threshold, average
  precision and ROC-AUC; their macro means ``macro_f1``, ``macro_ap`` (mAP), ``macro_auc``.
- single label: each clip's top class if it clears its threshold, else background;
  ``accuracy`` and the confusion matrix over the classes plus background.

Headline figures get bootstrap 95 % intervals (clips resampled with replacement).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from whalelab.errors import DataError

BACKGROUND = "background"
HEADLINE = ("accuracy", "macro_f1", "macro_ap")


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per class, the threshold that maximises F1 on these (validation) clips.

    The midpoint between the chosen score and the next lower one is used, so that a
    threshold does not sit exactly on a validation score. A class without positives
    keeps 0.5.

    Shapes
    ------
    ``(clips, classes)`` -> ``(classes,)``

    Examples
    --------
    >>> choose_thresholds(np.array([[0.9], [0.6], [0.4], [0.1]]), np.array([[1], [1], [0], [0]]))
    array([0.5])
    """
    thresholds = np.full(probabilities.shape[1], 0.5)
    for k in range(probabilities.shape[1]):
        if targets[:, k].sum() == 0:
            continue
        precision, recall, cuts = skm.precision_recall_curve(targets[:, k], probabilities[:, k])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        best = int(np.argmax(f1))
        below = probabilities[:, k][probabilities[:, k] < cuts[best]]
        thresholds[k] = (cuts[best] + below.max()) / 2 if below.size else cuts[best] / 2
    return thresholds


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
    confident correct clips" sort on one meaningful number."""
    labels = [*classes, BACKGROUND]
    truth, predicted = _truth_single_label(targets), single_label(probabilities, thresholds)
    return pd.DataFrame({"truth": [labels[k] for k in truth],
                         "predicted": [labels[k] for k in predicted],
                         "correct": truth == predicted,
                         "confidence": decision_confidence(probabilities, predicted)})


def _truth_single_label(targets: np.ndarray) -> np.ndarray:
    return np.where(targets.sum(axis=1) > 0, targets.argmax(axis=1), targets.shape[1])


def _headline(probabilities: np.ndarray, targets: np.ndarray,
              thresholds: np.ndarray) -> dict[str, float]:
    predicted = probabilities >= thresholds
    present = targets.sum(axis=0) > 0
    f1 = skm.f1_score(targets, predicted, average=None, zero_division=0.0)
    ap = [skm.average_precision_score(targets[:, k], probabilities[:, k])
          for k in np.flatnonzero(present)]
    accuracy = float(np.mean(single_label(probabilities, thresholds)
                             == _truth_single_label(targets)))
    return {"accuracy": accuracy, "macro_f1": float(np.mean(f1[present])) if present.any()
            else float("nan"), "macro_ap": float(np.mean(ap)) if ap else float("nan")}


def bootstrap_intervals(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray,
                        *, rounds: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals of the headline figures over clips resampled with replacement."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in HEADLINE}
    for _ in range(rounds):
        chosen = rng.integers(0, len(targets), len(targets))
        for name, value in _headline(probabilities[chosen], targets[chosen], thresholds).items():
            if np.isfinite(value):
                samples[name].append(value)
    return {name: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
            if values else [float("nan"), float("nan")] for name, values in samples.items()}


def classification_metrics(probabilities: np.ndarray, targets: np.ndarray, classes: list[str],
                           thresholds: np.ndarray, *, bootstrap_rounds: int = 500,
                           seed: int = 0) -> dict[str, Any]:
    """Every clip-level figure whalelab reports, as a JSON-ready dict.

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
    predicted = probabilities >= thresholds
    per_class = {}
    for k, name in enumerate(classes):
        truth, scores = targets[:, k], probabilities[:, k]
        has_both = 0 < truth.sum() < len(truth)
        per_class[name] = {
            "precision": float(skm.precision_score(truth, predicted[:, k], zero_division=0.0)),
            "recall": float(skm.recall_score(truth, predicted[:, k], zero_division=0.0)),
            "f1": float(skm.f1_score(truth, predicted[:, k], zero_division=0.0)),
            "average_precision": float(skm.average_precision_score(truth, scores))
            if truth.sum() > 0 else None,
            "roc_auc": float(skm.roc_auc_score(truth, scores)) if has_both else None,
            "support": int(truth.sum()),
            "threshold": float(thresholds[k]),
        }
    labels = list(classes) + [BACKGROUND]
    confusion = skm.confusion_matrix(_truth_single_label(targets),
                                     single_label(probabilities, thresholds),
                                     labels=list(range(len(labels))))
    aucs = [entry["roc_auc"] for entry in per_class.values() if entry["roc_auc"] is not None]
    return {
        **_headline(probabilities, targets, thresholds),
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "intervals_95": bootstrap_intervals(probabilities, targets, thresholds,
                                            rounds=bootstrap_rounds, seed=seed),
        "clips": int(len(targets)),
        "per_class": per_class,
        "confusion_matrix": {"labels": labels, "matrix": confusion.tolist()},
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """A small plain-text table: headline figures with intervals, then one row per class."""
    lines = [f"{'metric':<10} {'value':>7}   95% interval"]
    for name in HEADLINE:
        low, high = metrics["intervals_95"][name]
        lines.append(f"{name:<10} {metrics[name]:7.3f}   [{low:.3f}, {high:.3f}]")
    lines.append("")
    lines.append(f"{'class':<16} {'prec':>6} {'recall':>6} {'f1':>6} {'AP':>6} {'n':>5}")
    for name, entry in metrics["per_class"].items():
        ap = entry["average_precision"]
        lines.append(f"{name:<16} {entry['precision']:6.3f} {entry['recall']:6.3f} "
                     f"{entry['f1']:6.3f} {'' if ap is None else f'{ap:6.3f}':>6} "
                     f"{entry['support']:5d}")
    return "\n".join(lines)
