"""whalelab.plots.evaluation: confusion matrix, PR and ROC curves."""

from __future__ import annotations

import numpy as np

from whalelab import plots


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
