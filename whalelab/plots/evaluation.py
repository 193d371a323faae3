"""Notebook 04, evaluation: how well the clipwise outputs match the truth over a test set.

A single-label confusion matrix, precision-recall and ROC curves per class, a
reliability diagram of the scores' calibration, and recall against SNR beside a baseline's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm

from whalelab.errors import DataError
from whalelab.plots.style import as_numpy, new_figure


def confusion_matrix(matrix: Any, *, labels: Sequence[str]) -> Figure:
    """Single-label confusion matrix, coloured by row share (recall), annotated with counts.

    Parameters
    ----------
    matrix : array, ``(labels, labels)``
        Counts; rows are true labels, columns predicted ones.

    Returns
    -------
    Figure
        The matrix axes and its colour bar.

    Examples
    --------
    >>> fig = confusion_matrix([[3, 1], [0, 4]], labels=["a", "background"])
    >>> [text.get_text() for text in fig.axes[0].texts]
    ['3', '1', '0', '4']
    """
    counts = as_numpy(matrix)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = new_figure(1.0 * len(labels) + 3, 0.8 * len(labels) + 2)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        ax.text(column, row, f"{count:.0f}", ha="center", va="center",
                color="white" if share[row, column] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (colour: share of row)")
    fig.colorbar(image, ax=ax, label="share of true clips")
    return fig


def pr_curves(probabilities: Any, targets: Any, *, classes: Sequence[str],
              thresholds: Any = None) -> Figure:
    """Precision against recall per class, with average precision (AP) in the legend.

    Parameters
    ----------
    probabilities, targets : arrays, ``(clips, classes)``
        Clipwise probabilities and multi-hot truth. Classes without positives are left out.
    thresholds : array ``(classes,)`` or None
        Each class's decision threshold (chosen on validation): marked on its curve at
        the precision and recall of its scores at that threshold.

    Examples
    --------
    >>> fig = pr_curves([[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0, 1]], classes=["a", "b"])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['a (AP 1.00)', 'b (AP 1.00)']
    """
    probabilities, targets = as_numpy(probabilities), as_numpy(targets)
    fig = new_figure(6, 5)
    ax = fig.subplots()
    marked = False
    for k, name in enumerate(classes):
        if targets[:, k].sum() == 0:
            continue
        precision, recall, _ = skm.precision_recall_curve(targets[:, k], probabilities[:, k])
        ap = skm.average_precision_score(targets[:, k], probabilities[:, k])
        line, = ax.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP {ap:.2f})")
        if thresholds is not None:
            chosen = probabilities[:, k] >= as_numpy(thresholds)[k]
            hits = int((chosen & (targets[:, k] > 0)).sum())
            ax.plot(hits / targets[:, k].sum(), hits / chosen.sum() if chosen.any() else 1.0,
                    "o", markersize=8, markerfacecolor="none", color=line.get_color(),
                    label=None if marked else "threshold (chosen on validation)")
            marked = True
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title="precision-recall per class")
    ax.legend(loc="lower left", fontsize="small")
    return fig


def roc_curves(probabilities: Any, targets: Any, *, classes: Sequence[str]) -> Figure:
    """True against false positive rate per class, with ROC-AUC in the legend.

    Classes that lack positives or negatives are left out; the dashed diagonal is chance.

    Examples
    --------
    >>> fig = roc_curves([[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0, 1]], classes=["a", "b"])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['a (AUC 1.00)', 'b (AUC 1.00)', 'chance']
    """
    probabilities, targets = as_numpy(probabilities), as_numpy(targets)
    fig = new_figure(6, 5)
    ax = fig.subplots()
    for k, name in enumerate(classes):
        if not 0 < targets[:, k].sum() < len(targets):
            continue
        false_positive, true_positive, _ = skm.roc_curve(targets[:, k], probabilities[:, k])
        auc = skm.roc_auc_score(targets[:, k], probabilities[:, k])
        ax.plot(false_positive, true_positive, label=f"{name} (AUC {auc:.2f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
           ylim=(0, 1.02), title="ROC per class")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def reliability_diagram(calibration: dict[str, Any], *,
                        classes: Sequence[str] | None = None) -> Figure:
    """Observed frequency against mean predicted probability per bin, one line per class.

    Points on the dashed diagonal are calibrated: of the clips scored about 0.8, four in
    five carry the class. Below the diagonal the scores promise too much, above it too
    little. The legend gives each class's expected calibration error (ECE); a small panel
    below counts the clips per bin, since a point made of few clips says little.

    Parameters
    ----------
    calibration : dict
        The output of :func:`whalelab.metrics.clips.calibration` (``metrics["calibration"]``
        of an evaluation): ``edges`` and ``per_class`` ``{name: {mean_predicted, observed,
        count, ece}}``. Empty bins (``None``) are left out of the lines.
    classes : sequence of str or None
        The classes to draw, in this order; None draws them all.

    Returns
    -------
    Figure
        The reliability axes (the diagonal, then one line per class) above the bin counts.

    Raises
    ------
    DataError
        A class of ``classes`` is not in ``calibration``.

    Examples
    --------
    >>> calibration = {"edges": [0.0, 0.5, 1.0], "per_class": {"a": {
    ...     "mean_predicted": [0.2, 0.9], "observed": [0.0, 0.5], "count": [2, 2], "ece": 0.3}}}
    >>> fig = reliability_diagram(calibration)
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['perfect calibration', 'a (ECE 0.300)']
    """
    per_class = calibration["per_class"]
    names = list(per_class) if classes is None else list(classes)
    unknown = [name for name in names if name not in per_class]
    if unknown:
        raise DataError(f"classes: {unknown} have no calibration (known: {list(per_class)})")
    edges = np.asarray(calibration["edges"], dtype=float)
    fig = new_figure(6, 6)
    curve_ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    curve_ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", label="perfect calibration")
    for name in names:
        entry = per_class[name]
        points = np.array([(predicted, observed) for predicted, observed
                           in zip(entry["mean_predicted"], entry["observed"])
                           if predicted is not None], dtype=float).reshape(-1, 2)
        line, = curve_ax.plot(points[:, 0], points[:, 1], "o-", markersize=4,
                              label=f"{name} (ECE {entry['ece']:.3f})")
        count_ax.stairs(entry["count"], edges, color=line.get_color())
    curve_ax.set(ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1.02),
                 title="reliability per class")
    curve_ax.legend(loc="upper left", fontsize="small")
    count_ax.set(xlabel="mean predicted probability", ylabel="clips per bin")
    return fig


def recall_by_snr(curves: dict[str, Sequence[dict[str, Any]]]) -> Figure:
    """Recall of call clips against the SNR of their faintest call, one line per scorer.

    Each point is a bin's recall with its 95 % interval as an error bar, placed at the
    bin's position (the open outer bins one step beyond their edge); a panel below counts
    the clips per bin, since a point made of few clips says little.

    Parameters
    ----------
    curves : dict
        ``{name: rows}``, ``rows`` as :func:`whalelab.metrics.clips.recall_by_snr` returns
        them (``metrics["recall_by_snr"]``; the same bins for every name).

    Returns
    -------
    Figure
        The recall axes (one line per name) above the clip counts.

    Raises
    ------
    DataError
        No curves, or curves over different bins.

    Examples
    --------
    >>> rows = [{"bin": "below 0 dB", "clips": 4, "recall": 0.5, "interval_95": [0.15, 0.85]},
    ...         {"bin": "0 dB and above", "clips": 0, "recall": None, "interval_95": None}]
    >>> fig = recall_by_snr({"model": rows})
    >>> [bars.get_label() for bars in fig.axes[0].containers]
    ['model']
    """
    if not curves:
        raise DataError("recall_by_snr: no curves to draw")
    bins = [[row["bin"] for row in rows] for rows in curves.values()]
    if any(names != bins[0] for names in bins):
        raise DataError(f"recall_by_snr: the curves have different SNR bins: {bins}")
    positions = np.arange(len(bins[0]))
    fig = new_figure(7, 5)
    recall_ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    for name, rows in curves.items():
        filled = [(k, row) for k, row in enumerate(rows) if row["recall"] is not None]
        x = np.array([k for k, _ in filled], dtype=float)
        recall = np.array([row["recall"] for _, row in filled])
        low, high = (np.array([row["interval_95"][side] for _, row in filled])
                     for side in (0, 1))
        recall_ax.errorbar(x, recall, yerr=[recall - low, high - recall], marker="o",
                           capsize=3, label=name)
    first = next(iter(curves.values()))
    count_ax.bar(positions, [row["clips"] for row in first], color="0.6")
    recall_ax.set(ylabel="recall of call clips", ylim=(0, 1.02),
                  title="recall against the faintest call's SNR (95 % intervals)")
    recall_ax.legend(loc="lower right", fontsize="small")
    count_ax.set(ylabel="call clips", xticks=positions)
    count_ax.set_xticklabels(bins[0], rotation=20, ha="right")
    return fig
