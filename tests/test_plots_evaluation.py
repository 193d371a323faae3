"""whalelab.plots.evaluation: confusion matrix, PR and ROC curves, reliability diagram."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from whalelab import plots
from whalelab.errors import DataError
from whalelab.metrics.clips import calibration
from whalelab.metrics.clips import recall_by_snr as recall_by_snr_rows


def test_confusion_matrix_colours_row_shares_and_writes_counts():
    matrix = np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    fig = plots.confusion_matrix(matrix, labels=["a", "b", "background"])
    ax = fig.axes[0]
    share = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(share[0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(share[2], 0.0)  # an empty row stays empty, no NaN
    assert [text.get_text() for text in ax.texts][:3] == ["8", "2", "0"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")


def test_pr_and_roc_curves_leave_out_classes_they_cannot_draw():
    rng = np.random.default_rng(5)
    targets = np.zeros((40, 3))
    targets[:20, 0] = 1
    targets[:, 2] = 1  # class c: positives only
    probabilities = np.clip(targets * 0.5 + rng.random((40, 3)) * 0.6, 0, 1)
    pr = plots.pr_curves(probabilities, targets, classes=["a", "b", "c"])
    labels = [line.get_label() for line in pr.axes[0].lines]
    assert [label.split(" ")[0] for label in labels] == ["a", "c"]  # b has no positives
    roc = plots.roc_curves(probabilities, targets, classes=["a", "b", "c"])
    labels = [line.get_label() for line in roc.axes[0].lines]
    assert [label.split(" ")[0] for label in labels] == ["a", "chance"]
    ap = float(labels[0].split("AUC ")[1].rstrip(")"))
    assert 0.5 < ap <= 1.0
    assert (pr.axes[0].get_xlabel(), roc.axes[0].get_xlabel()) == ("recall",
                                                                   "false positive rate")


def test_reliability_diagram_draws_the_diagonal_and_each_class_bins():
    targets = np.array([[1, 0], [0, 1]] * 10, dtype=float)
    probabilities = np.column_stack([np.full(20, 0.9), np.where(targets[:, 1] == 1, 0.75, 0.3)])
    result = calibration(probabilities, targets, bins=5, classes=["a", "b"])
    fig = plots.reliability_diagram(result)
    curve_ax, count_ax = fig.axes
    diagonal, a, b = curve_ax.lines
    np.testing.assert_allclose(diagonal.get_xdata(), [0, 1])
    np.testing.assert_allclose(diagonal.get_ydata(), [0, 1])
    assert [line.get_label() for line in (a, b)] == ["a (ECE 0.400)", "b (ECE 0.275)"]
    np.testing.assert_allclose(a.get_xdata(), [0.9])  # only its one non-empty bin
    np.testing.assert_allclose(a.get_ydata(), [0.5])
    np.testing.assert_allclose(b.get_xdata(), [0.3, 0.75])
    np.testing.assert_allclose(b.get_ydata(), [0.0, 1.0])
    counts = [patch.get_data() for patch in count_ax.patches]  # one histogram per class
    np.testing.assert_allclose(counts[0].values, [0, 0, 0, 0, 20])
    np.testing.assert_allclose(counts[1].values, [0, 10, 0, 10, 0])
    np.testing.assert_allclose(counts[1].edges, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    for line, histogram in zip((a, b), count_ax.patches):  # drawn in the class's colour
        assert histogram.get_edgecolor() == pytest.approx(to_rgba(line.get_color()))
    assert count_ax.get_xlabel() == "mean predicted probability"


def test_reliability_diagram_draws_the_classes_asked_for():
    result = calibration(np.array([[0.2, 0.7, 0.5]]), np.array([[0, 1, 1]]),
                         classes=["a", "b", "c"])
    fig = plots.reliability_diagram(result, classes=["c", "a"])
    assert [line.get_label().split(" ")[0] for line in fig.axes[0].lines] == [
        "perfect", "c", "a"]
    with pytest.raises(DataError, match="'d'"):
        plots.reliability_diagram(result, classes=["d"])


def test_pr_curves_mark_each_threshold_at_its_precision_and_recall():
    probabilities = np.array([[0.9, 0.2], [0.6, 0.7], [0.4, 0.9], [0.1, 0.3]])
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    fig = plots.pr_curves(probabilities, targets, classes=["a", "b"], thresholds=[0.5, 0.8])
    markers = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    # a: scores >= 0.5 are clips 0, 1 -> one of two positives found, one of two right
    # b: scores >= 0.8 is clip 2 -> one of two positives, precision 1
    assert [(m.get_xdata()[0], m.get_ydata()[0]) for m in markers] == [(0.5, 0.5), (0.5, 1.0)]
    assert markers[0].get_label() == "threshold (chosen on validation)"


def test_recall_by_snr_draws_each_scorer_with_its_intervals_and_the_counts():
    rng = np.random.default_rng(0)
    targets = np.eye(2)[rng.integers(0, 2, 80)]
    snr = rng.uniform(-12, 25, 80)
    good = np.clip(targets * 0.8 + rng.uniform(0, 0.2, targets.shape), 0, 1)
    curves = {name: recall_by_snr_rows(scores, targets, np.full(2, 0.5), snr)
              for name, scores in (("model", good), ("baseline", good[:, ::-1]))}
    fig = plots.recall_by_snr(curves)
    recall_ax, count_ax = fig.axes
    assert [bars.get_label() for bars in recall_ax.containers] == ["model", "baseline"]
    assert [bar.get_height() for bar in count_ax.patches] == \
        [row["clips"] for row in curves["model"]]
    assert sum(bar.get_height() for bar in count_ax.patches) == 80
    np.testing.assert_allclose(recall_ax.containers[0].lines[0].get_ydata(),
                               [row["recall"] for row in curves["model"] if row["clips"]])
    with pytest.raises(DataError, match="different SNR bins"):
        plots.recall_by_snr({"a": curves["model"], "b": curves["model"][:2]})
