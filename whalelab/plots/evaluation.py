"""Notebook 04, evaluation: how well the clipwise outputs match the truth over a test set.

A single-label confusion matrix, precision-recall and ROC curves per class, a
reliability diagram of the scores' calibration, recall against SNR beside a baseline's,
and clips shown with their decision, labels, SNR and call spans (the most confident
mistakes), each with a low-band panel where blue and fin whale calls can be seen.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm

from whalelab.config import FeatureConfig
from whalelab.data.clips import Clip
from whalelab.errors import DataError
from whalelab.plots.style import (LOW_BAND_HZ, as_image, as_numpy, draw_logmel, draw_low_band,
                                  message_figure, new_figure)

#: what the rings on the precision-recall curves are, and why they may lie off a curve
OPERATING_POINT_NOTE = (
    "○ the table's precision and recall: each clip gets one label, its top class (as "
    "the table and the confusion matrix decide), so a clip scored high for two classes "
    "counts for one of them only; each curve sweeps its class's score alone, so a ○ can "
    "lie off its curve.")


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
              operating_points: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """Precision against recall per class, with average precision (AP) in the legend.

    Parameters
    ----------
    probabilities, targets : arrays, ``(clips, classes)``
        Clipwise probabilities and multi-hot truth. Classes without positives are left out.
    operating_points : mapping or None
        ``{class: {"precision": p, "recall": r}}``, the per-class table of an evaluation
        (``metrics["per_class"]``): each class's decisions by the table's own rule,
        ringed on its curve, with :data:`OPERATING_POINT_NOTE` beneath the axes saying
        what the rings are. None draws no rings.

    Examples
    --------
    >>> fig = pr_curves([[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0, 1]], classes=["a", "b"])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['a (AP 1.00)', 'b (AP 1.00)']
    """
    probabilities, targets = as_numpy(probabilities), as_numpy(targets)
    fig = new_figure(6.5, 6)
    ax = fig.subplots()
    marked = False
    for k, name in enumerate(classes):
        if targets[:, k].sum() == 0:
            continue
        precision, recall, _ = skm.precision_recall_curve(targets[:, k], probabilities[:, k])
        ap = skm.average_precision_score(targets[:, k], probabilities[:, k])
        line, = ax.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP {ap:.2f})")
        if operating_points is not None and name in operating_points:
            point = operating_points[name]
            ax.plot(point["recall"], point["precision"], "o", markersize=8,
                    markerfacecolor="none", color=line.get_color(), label="_ring")
            marked = True
    if marked:  # one legend entry for every ring, after the classes
        ax.plot([], [], "o", markersize=8, markerfacecolor="none", color="black",
                label="the table's precision and recall")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title="precision-recall per class")
    ax.legend(loc="lower left", fontsize="small")
    if marked:
        fig.supxlabel(textwrap.fill(OPERATING_POINT_NOTE, 95), fontsize="small", x=0.02,
                      ha="left")
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


def _pooled(per_class: Mapping[str, Mapping[str, Any]]) -> dict[str, list]:
    """The bins of every class in one (the same edges): counts summed, means weighted."""
    count = np.sum([entry["count"] for entry in per_class.values()], axis=0)
    sums = {key: np.sum([[0.0 if value is None else value * n for value, n
                          in zip(entry[key], entry["count"])]
                         for entry in per_class.values()], axis=0)
            for key in ("mean_predicted", "observed")}
    return {"count": count.tolist(),
            **{key: [float(total / n) if n else None for total, n in zip(totals, count)]
               for key, totals in sums.items()}}


def _draw_reliability(ax, entry: Mapping[str, Any], title: str) -> None:
    """One reliability panel: the diagonal, the non-empty bins, each labelled with its
    clip count."""
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", label="perfect calibration")
    points = [(x, y, n) for x, y, n in zip(entry["mean_predicted"], entry["observed"],
                                          entry["count"]) if n]
    ax.plot([x for x, _, _ in points], [y for _, y, _ in points], "o-", markersize=4,
            label="observed")
    for x, y, n in points:  # below a point high up, above and right of one low down
        ax.annotate(f"{n}", (x, y), textcoords="offset points",
                    **({"xytext": (0, -12), "ha": "center"} if y > 0.5 else
                       {"xytext": (5, 5), "ha": "left"}), fontsize="x-small")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xticks=[0, 0.5, 1], yticks=[0, 0.5, 1])
    ax.set_title(title, fontsize="medium")


def reliability_diagram(calibration: dict[str, Any], *,
                        classes: Sequence[str] | None = None) -> Figure:
    """Observed frequency against mean predicted probability per bin: all classes pooled,
    then one small panel per class, each point labelled with its number of clips.

    Points on the dashed diagonal are calibrated: of the clips scored about 0.8, four in
    five carry the class. Below the diagonal the scores promise too much, above it too
    little. A point of few clips says little, so give :func:`whalelab.metrics.clips.calibration`
    few bins (five, say). The pooled panel counts every (clip, class) pair: most score
    near 0 for most classes.

    Parameters
    ----------
    calibration : dict
        The output of :func:`whalelab.metrics.clips.calibration`: ``edges`` and
        ``per_class`` ``{name: {mean_predicted, observed, count, ece}}``. Empty bins
        (``None``, count 0) are left out.
    classes : sequence of str or None
        The classes to draw, in this order; None draws them all. The pooled panel pools
        these.

    Returns
    -------
    Figure
        The pooled panel, then one per class, each with the diagonal and the bins.

    Raises
    ------
    DataError
        A class of ``classes`` is not in ``calibration``.

    Examples
    --------
    >>> calibration = {"edges": [0.0, 0.5, 1.0], "per_class": {"a": {
    ...     "mean_predicted": [0.2, 0.9], "observed": [0.0, 0.5], "count": [2, 2], "ece": 0.3}}}
    >>> fig = reliability_diagram(calibration)
    >>> [ax.get_title() for ax in fig.axes]
    ['all classes pooled: 4 (clip, class) pairs', 'a\\n1 of 4 clips carry it']
    """
    per_class = calibration["per_class"]
    names = list(per_class) if classes is None else list(classes)
    unknown = [name for name in names if name not in per_class]
    if unknown:
        raise DataError(f"classes: {unknown} have no calibration (known: {list(per_class)})")
    rows = 2 if len(names) > 1 else 1
    columns = math.ceil(len(names) / rows)
    cells = [*range(1, len(names) + 1), *[None] * (rows * columns - len(names))]
    mosaic = [[0, 0, *cells[row * columns:(row + 1) * columns]] for row in range(rows)]
    fig = new_figure(2.6 * (columns + 2), 2.9 * rows + 0.6)
    axes = fig.subplot_mosaic(mosaic, empty_sentinel=None)
    pooled = _pooled({name: per_class[name] for name in names})
    _draw_reliability(axes[0], pooled,
                      f"all classes pooled: {sum(pooled['count'])} (clip, class) pairs")
    axes[0].legend(loc="lower right", fontsize="small")
    axes[0].set(xticks=np.linspace(0, 1, 6), yticks=np.linspace(0, 1, 6))
    for k, name in enumerate(names, start=1):
        entry = per_class[name]
        positives = round(sum(0.0 if value is None else value * n
                              for value, n in zip(entry["observed"], entry["count"])))
        _draw_reliability(axes[k], entry,
                          f"{name}\n{positives} of {sum(entry['count'])} clips carry it")
    fig.supxlabel("mean predicted probability (numbers: clips in the bin)")
    fig.supylabel("observed frequency")
    return fig


def recall_by_snr(curves: dict[str, Sequence[dict[str, Any]]]) -> Figure:
    """Recall of call clips against the SNR of their faintest call, one line per scorer.

    Each point is a bin's recall with its 95 % interval as an error bar, placed at the
    bin's position (the open outer bins one step beyond their edge), the scorers side by
    side within a bin; a panel below counts the clips per bin, each bar labelled with its
    number, since a point made of few clips says little.

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
    for j, (name, rows) in enumerate(curves.items()):
        filled = [(k, row) for k, row in enumerate(rows) if row["recall"] is not None]
        shift = (j - (len(curves) - 1) / 2) * 0.1  # side by side, not over each other
        x = np.array([k for k, _ in filled], dtype=float) + shift
        recall = np.array([row["recall"] for _, row in filled])
        low, high = (np.array([row["interval_95"][side] for _, row in filled])
                     for side in (0, 1))
        recall_ax.errorbar(x, recall, yerr=[recall - low, high - recall], marker="o",
                           capsize=3, label=name)
    first = next(iter(curves.values()))
    bars = count_ax.bar(positions, [row["clips"] for row in first], color="0.6")
    count_ax.bar_label(bars, fontsize="small")
    recall_ax.set(ylabel="recall of call clips", ylim=(-0.03, 1.05),
                  title="recall against the faintest call's SNR (error bars: 95 % intervals)")
    recall_ax.legend(loc="best", fontsize="small")
    count_ax.set(ylabel="call clips", xticks=positions,
                 ylim=(0, 1.25 * max(1, max(row["clips"] for row in first))))
    count_ax.set_xticklabels(bins[0], rotation=20, ha="right")
    return fig


def _span_text(label: str, start_s: float, end_s: float, clip_seconds: float) -> str:
    """``fin_whale 0.0-0.9 s, cut by the clip's start``: a call span and where the clip
    cuts it (a span that touches an edge may go on beyond it)."""
    edge = 1e-3
    cut = [side for side, touches in (("start", start_s <= edge),
                                      ("end", end_s >= clip_seconds - edge)) if touches]
    where = (", longer than the clip" if len(cut) == 2 else
             f", cut by the clip's {cut[0]}" if cut else "")
    return f"{label} {start_s:.1f}-{end_s:.1f} s{where}"


def clip_caption(clip: Clip, *, predicted: str, confidence: float,
                 clip_seconds: float) -> str:
    """Three lines about a clip and its decision: every label and the decision, the SNR,
    and each call's span with where the clip's edges cut it.

    So a clip with two calls does not read as a label error and a call cut by the
    clip's edge not as a failure of the model.

    Parameters
    ----------
    clip : Clip
        The clip's labels, ``spans`` (None: not known) and ``snr_db`` (its faintest call's).
    predicted, confidence
        The decision (:func:`whalelab.metrics.clips.decisions`): a class or background,
        and how sure the scores are of it.
    clip_seconds : float
        The clip's length as the model hears it (``FeatureConfig.clip_seconds``).

    Examples
    --------
    >>> clip = Clip("a.wav", labels=("fin_whale", "humpback_whale"), snr_db=-3.24,
    ...             spans=(("fin_whale", 0.0, 0.62), ("humpback_whale", 2.1, 3.4)))
    >>> print(clip_caption(clip, predicted="humpback_whale", confidence=0.91, clip_seconds=5))
    fin_whale + humpback_whale → humpback_whale (0.91)
    SNR -3.2 dB (the faintest call)
    fin_whale 0.0-0.6 s, cut by the clip's start; humpback_whale 2.1-3.4 s
    """
    labels = " + ".join(clip.labels) or "background"
    snr = "SNR not stated" if clip.snr_db is None else \
        f"SNR {clip.snr_db:.1f} dB (the faintest call)"
    spans = ("call spans not known" if clip.spans is None else "no call" if not clip.spans
             else "; ".join(_span_text(*span, clip_seconds) for span in clip.spans))
    return f"{labels} → {predicted} ({confidence:.2f})\n{snr}\n{spans}"


def decided_clips(images: Sequence[Any], waveforms: Sequence[Any], *, clips: Sequence[Clip],
                  decided: pd.DataFrame, features: FeatureConfig, columns: int = 3,
                  title: str = "") -> Figure:
    """Clips with their decisions: each a log-mel above its low band (0 to
    :data:`~whalelab.plots.style.LOW_BAND_HZ` Hz, where blue and fin whale calls show),
    its known call spans dashed on both, titled by :func:`clip_caption`.

    Parameters
    ----------
    images : sequence of arrays, each ``(time, mel)`` or ``(1, time, mel)``
        The log-mel of each clip, as the model saw it.
    waveforms : sequence of arrays, each ``(samples,)``
        The same clips' audio at ``features.sample_rate``.
    clips : sequence of Clip
        The same clips' entries of the index: labels, spans, SNR.
    decided : pandas.DataFrame
        One row per clip, in the same order: ``predicted`` and ``confidence``
        (rows of :func:`whalelab.metrics.clips.decisions`).
    features : FeatureConfig
        The run's features: sample rate, hop, mel range and scale, clip length.
    title : str
        Above the figure: the rule that chose these clips.

    Raises
    ------
    DataError
        The four sequences differ in length.

    Examples
    --------
    >>> features = FeatureConfig()
    >>> decided = pd.DataFrame({"predicted": ["background"], "confidence": [0.8]})
    >>> fig = decided_clips([np.zeros((313, 64))], [np.zeros(40000)], decided=decided,
    ...                     clips=[Clip("a.wav", labels=("fin_whale",), snr_db=2.0,
    ...                                 spans=(("fin_whale", 4.5, 5.0),))], features=features)
    >>> print(fig.axes[0].get_title())
    fin_whale → background (0.80)
    SNR 2.0 dB (the faintest call)
    fin_whale 4.5-5.0 s, cut by the clip's end
    """
    if not len(images) == len(waveforms) == len(clips) == len(decided):
        raise DataError(f"{len(images)} images, {len(waveforms)} waveforms, {len(clips)} "
                        f"clips and {len(decided)} decisions: one of each per clip")
    if not clips:
        return message_figure("no clips to show")
    columns = min(columns, len(clips))
    rows = math.ceil(len(clips) / columns)
    fig = new_figure(4.6 * columns, 5.6 * rows)
    grid = fig.subplots(2 * rows, columns, squeeze=False, height_ratios=[3, 2] * rows)
    for k, (values, samples, clip, row) in enumerate(zip(images, waveforms, clips,
                                                         decided.itertuples())):
        full_ax, low_ax = grid[2 * (k // columns), k % columns], \
            grid[2 * (k // columns) + 1, k % columns]
        draw_logmel(full_ax, as_image(values), sample_rate=features.sample_rate,
                    hop_length=features.hop_length, fmin=features.fmin, fmax=features.fmax,
                    htk=features.htk)
        full_ax.set_xlabel("")
        full_ax.set_title(clip_caption(clip, predicted=row.predicted, confidence=row.confidence,
                                       clip_seconds=features.clip_seconds), fontsize="small")
        draw_low_band(low_ax, samples, sample_rate=features.sample_rate)
        low_ax.set_title(f"0-{LOW_BAND_HZ:g} Hz", fontsize="small", loc="left")
        low_ax.set_xlim(full_ax.get_xlim())
        for _, start_s, end_s in clip.spans or ():
            for ax in (full_ax, low_ax):
                for edge in (start_s, end_s):
                    ax.axvline(edge, color="white", linestyle="--", linewidth=1)
    for k in range(len(clips), rows * columns):  # the grid's empty places
        grid[2 * (k // columns), k % columns].remove()
        grid[2 * (k // columns) + 1, k % columns].remove()
    if title:
        fig.suptitle(title)
    return fig
