"""Clip-level metrics: thresholds, single-label view, intervals, the printed table."""

from __future__ import annotations

import numpy as np
import pytest

from whalelab.errors import WhaleLabError
from whalelab.clip_metrics import (BACKGROUND, bootstrap_intervals, choose_thresholds,
                                   classification_metrics, format_metrics, single_label)


def test_threshold_maximises_f1_against_a_brute_force_search():
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 3)) < 0.3).astype(float)
    probabilities = np.clip(targets * 0.4 + rng.random((200, 3)) * 0.7, 0, 1)
    chosen = choose_thresholds(probabilities, targets)
    for k in range(3):
        def f1(threshold: float) -> float:
            predicted = probabilities[:, k] >= threshold
            true_positive = np.sum(predicted & (targets[:, k] == 1))
            return 2 * true_positive / (predicted.sum() + targets[:, k].sum())
        best = max(f1(t) for t in np.linspace(0, 1, 2001))
        assert f1(chosen[k]) == pytest.approx(best, abs=1e-9)


def test_a_class_without_positives_keeps_one_half():
    probabilities = np.array([[0.2, 0.9], [0.7, 0.1]])
    targets = np.array([[0, 1], [0, 0]])
    assert choose_thresholds(probabilities, targets)[0] == 0.5


def test_single_label_falls_back_to_background():
    probabilities = np.array([[0.9, 0.2], [0.3, 0.35], [0.1, 0.1]])
    thresholds = np.array([0.5, 0.3])
    # clip 1: class 1 clears its lower threshold; clip 2: nothing clears -> background (2)
    assert single_label(probabilities, thresholds).tolist() == [0, 1, 2]


def test_metrics_of_a_hand_counted_case():
    # class a: truth 1,1,0,0 predicted 1,0,1,0 -> precision 1/2, recall 1/2
    # class b: truth 0,0,1,0 predicted 0,0,1,0 -> perfect
    targets = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=float)
    probabilities = np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.9], [0.1, 0.2]])
    metrics = classification_metrics(probabilities, targets, ["a", "b"], np.array([0.5, 0.5]),
                                     bootstrap_rounds=20)
    assert metrics["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert metrics["per_class"]["a"]["recall"] == pytest.approx(0.5)
    assert metrics["per_class"]["b"]["f1"] == pytest.approx(1.0)
    assert metrics["macro_f1"] == pytest.approx(0.75)
    # single label: clip 0 a (right), 1 background (wrong), 2 b (a=0.8/0.5 < b=0.9/0.5; right),
    # 3 background (right)
    assert metrics["accuracy"] == pytest.approx(0.75)
    confusion = np.array(metrics["confusion_matrix"]["matrix"])
    assert metrics["confusion_matrix"]["labels"] == ["a", "b", BACKGROUND]
    assert confusion.sum() == 4 and confusion[0, 2] == 1 and np.trace(confusion) == 3
    assert metrics["per_class"]["b"]["average_precision"] == pytest.approx(1.0)


def test_perfect_scores_and_intervals_that_contain_the_estimate():
    rng = np.random.default_rng(1)
    targets = np.eye(3)[rng.integers(0, 3, 90)]
    noisy = np.clip(targets * 0.6 + rng.random((90, 3)) * 0.5, 0, 1)
    metrics = classification_metrics(noisy, targets, ["x", "y", "z"], np.full(3, 0.5),
                                     bootstrap_rounds=200)
    for name in ("accuracy", "macro_f1", "macro_ap"):
        low, high = metrics["intervals_95"][name]
        assert low <= metrics[name] <= high
        assert high - low < 0.5
    perfect = classification_metrics(targets, targets, ["x", "y", "z"], np.full(3, 0.5),
                                     bootstrap_rounds=10)
    assert perfect["macro_f1"] == 1.0 and perfect["accuracy"] == 1.0


def test_intervals_narrow_with_more_clips():
    rng = np.random.default_rng(2)

    def width(clips: int) -> float:
        targets = np.eye(2)[rng.integers(0, 2, clips)]
        scores = np.clip(targets * 0.3 + rng.random((clips, 2)) * 0.7, 0, 1)
        low, high = bootstrap_intervals(scores, targets, np.full(2, 0.5), rounds=200)["macro_f1"]
        return high - low

    assert width(1000) < width(40)


def test_empty_evaluation_is_an_error_and_the_table_names_classes():
    with pytest.raises(WhaleLabError):
        classification_metrics(np.zeros((0, 2)), np.zeros((0, 2)), ["a", "b"], np.full(2, 0.5))
    targets = np.array([[1, 0], [0, 1]], dtype=float)
    table = format_metrics(classification_metrics(targets, targets, ["fin", "blue"],
                                                  np.full(2, 0.5), bootstrap_rounds=5))
    assert "fin" in table and "blue" in table and "macro_f1" in table


def test_decisions_rank_background_by_how_far_every_class_stays_below():
    from whalelab.clip_metrics import decisions

    probabilities = np.array([[0.95, 0.10],   # a, sure
                              [0.55, 0.10],   # a, barely
                              [0.05, 0.02],   # background, sure
                              [0.45, 0.40],   # background, barely (a mistake: truth b)
                              [0.20, 0.90]])  # b, wrong: truth a
    targets = np.array([[1, 0], [1, 0], [0, 0], [0, 1], [1, 0]])
    table = decisions(probabilities, targets, np.array([0.5, 0.5]), ["a", "b"])
    assert table.predicted.tolist() == ["a", "a", "background", "background", "b"]
    assert table.correct.tolist() == [True, True, True, False, False]
    np.testing.assert_allclose(table.confidence, [0.95, 0.55, 0.95, 0.55, 0.90])
    sure = table[table.correct].sort_values("confidence", ascending=False)
    assert sure.drop_duplicates("truth").index.tolist() == [0, 2]  # the surest of each label
