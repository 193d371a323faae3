"""Clip-level metrics: thresholds, one decision rule, intervals, calibration, the printed table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from whalelab.errors import ConfigError, DataError, WhaleLabError
from whalelab.metrics.clips import (BACKGROUND, bootstrap_intervals, calibration,
                                   choose_thresholds, classification_metrics, decisions,
                                   format_metrics, paired_difference, recall_by_snr,
                                   single_label)


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
    # single-label decisions: clip 0 a, 1 background, 2 b (a=0.8/0.5 < b=0.9/0.5), 3 background
    # class a: truth a,a,b,- decided a,-,b,- -> TP 1, FP 0, FN 1: precision 1, recall 1/2,
    #          F1 2/3 (clip 2's score for a clears 0.5, but its decision is b: no FP for a)
    # class b: truth b on clip 2, decided b on clip 2 only -> perfect
    targets = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=float)
    probabilities = np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.9], [0.1, 0.2]])
    metrics = classification_metrics(probabilities, targets, ["a", "b"], np.array([0.5, 0.5]),
                                     bootstrap_rounds=20)
    assert metrics["per_class"]["a"]["precision"] == pytest.approx(1.0)
    assert metrics["per_class"]["a"]["recall"] == pytest.approx(0.5)
    assert metrics["per_class"]["a"]["f1"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["b"]["f1"] == pytest.approx(1.0)
    assert metrics["per_class"]["a"]["support"] == 2 and metrics["per_class"]["b"]["support"] == 1
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
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


def _random_case(seed: int, clips: int = 300, classes: int = 4):
    """Scores, multi-hot truth (some clips with two labels, some background) and thresholds."""
    rng = np.random.default_rng(seed)
    targets = np.zeros((clips, classes))
    first = rng.integers(0, classes + 1, clips)  # classes: background
    targets[first < classes, first[first < classes]] = 1
    second = rng.integers(0, classes, clips)
    doubled = (first < classes) & (rng.random(clips) < 0.2)
    targets[doubled, second[doubled]] = 1
    probabilities = np.clip(targets * 0.35 + rng.random((clips, classes)) * 0.7, 0, 1)
    return probabilities, targets, rng.uniform(0.3, 0.7, classes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table_matrix_and_headline_share_one_decision_rule(seed):
    probabilities, targets, thresholds = _random_case(seed)
    names = ["a", "b", "c", "d"]
    metrics = classification_metrics(probabilities, targets, names, thresholds,
                                     bootstrap_rounds=5)
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    assert metrics["confusion_matrix"]["labels"] == [*names, BACKGROUND]
    f1s = []
    for k, name in enumerate(names):  # recomputed from the matrix, background left out
        true_positive = matrix[k, k]
        false_positive = matrix[:, k].sum() - true_positive
        false_negative = matrix[k, :].sum() - true_positive
        entry = metrics["per_class"][name]
        precision = true_positive / max(true_positive + false_positive, 1)
        recall = true_positive / max(true_positive + false_negative, 1)
        assert entry["precision"] == pytest.approx(precision)
        assert entry["recall"] == pytest.approx(recall)
        assert entry["f1"] == pytest.approx(2 * precision * recall / (precision + recall)
                                            if precision + recall else 0.0)
        assert entry["support"] == matrix[k, :].sum()
        if entry["support"]:
            f1s.append(entry["f1"])
    assert metrics["macro_f1"] == pytest.approx(np.mean(f1s))
    assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / len(targets))
    # the matrix counts the per-clip decisions the notebook lists
    table = decisions(probabilities, targets, thresholds, names)
    labels = [*names, BACKGROUND]
    counted = skm.confusion_matrix(table.truth, table.predicted, labels=labels)
    np.testing.assert_array_equal(matrix, counted)
    assert metrics["accuracy"] == pytest.approx(table.correct.mean())


def test_a_clip_with_several_labels_is_right_when_the_decision_names_any_of_them():
    targets = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 0]])
    probabilities = np.array([[0.6, 0.9, 0.1],    # decides b: one of its labels, right
                              [0.2, 0.1, 0.8],    # decides c: wrong, counted in row a
                              [0.1, 0.1, 0.1]])   # background: a missed call, row a
    table = decisions(probabilities, targets, np.full(3, 0.5), ["a", "b", "c"])
    assert table.truth.tolist() == ["b", "a", "a"]
    assert table.correct.tolist() == [True, False, False]
    metrics = classification_metrics(probabilities, targets, ["a", "b", "c"], np.full(3, 0.5),
                                     bootstrap_rounds=5)
    assert metrics["confusion_matrix"]["matrix"] == [[0, 0, 1, 1], [0, 1, 0, 0],
                                                     [0, 0, 0, 0], [0, 0, 0, 0]]
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert metrics["per_class"]["b"]["recall"] == 1.0 and metrics["per_class"]["a"]["recall"] == 0


def test_bootstrap_intervals_follow_the_single_label_rule():
    # every decision is right, though the second class's score clears its threshold too:
    # counted per clip's decision, every resample has accuracy and macro F1 of 1
    targets = np.eye(2)[np.arange(40) % 2]
    probabilities = np.where(targets == 1, 0.9, 0.6)
    intervals = bootstrap_intervals(probabilities, targets, np.full(2, 0.5), rounds=50)
    assert intervals["accuracy"] == [1.0, 1.0] and intervals["macro_f1"] == [1.0, 1.0]
    assert skm.f1_score(targets, probabilities >= 0.5, average="macro") < 1  # multi-label


def test_perfectly_calibrated_scores_have_no_calibration_error():
    # 20 clips at each bin centre p = 0.05, 0.15, ..., 0.95, 20 p of them positive
    centres = np.arange(10) / 10 + 0.05
    scores = np.repeat(centres, 20)[:, None]
    truth = np.concatenate([np.arange(20) < round(20 * p) for p in centres])[:, None]
    result = calibration(scores, truth.astype(float))
    curve = result["per_class"]["0"]
    np.testing.assert_allclose(curve["mean_predicted"], centres)
    np.testing.assert_allclose(curve["observed"], centres)
    assert curve["count"] == [20] * 10
    assert curve["ece"] == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(3)  # sampled: the error shrinks towards 0
    scores = rng.random((20000, 1))
    sampled = (rng.random((20000, 1)) < scores).astype(float)
    assert calibration(scores, sampled)["macro_ece"] < 0.02


def test_a_constant_score_for_a_class_present_half_the_time_has_ece_0_4():
    targets = np.array([[1, 0], [0, 1]] * 10, dtype=float)
    probabilities = np.column_stack([np.full(20, 0.9), targets[:, 1]])  # b: calibrated
    result = calibration(probabilities, targets, bins=5, classes=["a", "b"])
    assert result["edges"] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    a = result["per_class"]["a"]
    assert a["count"] == [0, 0, 0, 0, 20]
    assert a["mean_predicted"][:4] == [None] * 4 and a["observed"][:4] == [None] * 4
    assert a["mean_predicted"][4] == pytest.approx(0.9) and a["observed"][4] == 0.5
    assert a["ece"] == pytest.approx(0.4)
    assert result["per_class"]["b"]["ece"] == pytest.approx(0.0)
    assert result["per_class"]["b"]["count"] == [10, 0, 0, 0, 10]  # a score of 1: last bin
    assert result["macro_ece"] == pytest.approx(0.2)
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # JSON-ready


def test_calibration_rejects_bad_bins_and_scores():
    scores, truth = np.array([[0.2], [0.8]]), np.array([[0], [1]])
    for bins in (0, 2.5, True):
        with pytest.raises(ConfigError, match="bins"):
            calibration(scores, truth, bins=bins)
    with pytest.raises(WhaleLabError, match=r"\[0, 1\]"):
        calibration(scores + 0.5, truth)


def test_metrics_carry_calibration_and_the_table_prints_ece_per_class():
    probabilities, targets, thresholds = _random_case(4)
    names = ["a", "b", "c", "d"]
    metrics = classification_metrics(probabilities, targets, names, thresholds,
                                     bootstrap_rounds=5)
    assert metrics["calibration"] == calibration(probabilities, targets, classes=names)
    assert metrics["macro_ece"] == metrics["calibration"]["macro_ece"]
    table = format_metrics(metrics).splitlines()
    header = next(line for line in table if line.startswith("class"))
    assert "ECE" in header.split()
    column = header.split().index("ECE")
    for name in names:
        row = next(line for line in table if line.startswith(name + " ")).split()
        ece = metrics["calibration"]["per_class"][name]["ece"]
        assert row[column] == f"{ece:.3f}"
    assert any(line.split()[:2] == ["macro_ece", f"{metrics['macro_ece']:.3f}"]
               for line in table if line)


def test_a_class_with_too_few_validation_positives_keeps_one_half_with_a_warning():
    # one positive val clip, scored lowest: F1 alone would put the threshold under it (~2.6e-12)
    probabilities = np.array([[5.2e-12, 0.9], [0.3, 0.8], [0.4, 0.7], [0.2, 0.1]])
    targets = np.array([[1, 1], [0, 1], [0, 1], [0, 0]])
    with pytest.warns(UserWarning, match=r"fewer than 3\) for faint \(1\): they keep 0.5"):
        thresholds = choose_thresholds(probabilities, targets, classes=["faint", "clear"])
    assert thresholds[0] == 0.5
    assert thresholds[1] == pytest.approx((0.7 + 0.1) / 2)  # three positives: chosen by F1


def test_a_scorer_against_itself_differs_by_nothing_and_order_flips_the_sign():
    rng = np.random.default_rng(3)
    targets = np.eye(3)[rng.integers(0, 3, 60)]
    sharp = (np.clip(targets * 0.7 + rng.uniform(0, 0.3, targets.shape), 0, 1), np.full(3, 0.5))
    blurred = (np.clip(targets * 0.3 + rng.uniform(0, 0.6, targets.shape), 0, 1), np.full(3, 0.5))
    same = paired_difference(sharp, sharp, targets, rounds=100)
    assert all(entry["value"] == 0 and entry["interval_95"] == [0, 0] for entry in same.values())
    ahead = paired_difference(sharp, blurred, targets, rounds=100, seed=1)
    behind = paired_difference(blurred, sharp, targets, rounds=100, seed=1)
    for name, entry in ahead.items():
        assert behind[name]["value"] == pytest.approx(-entry["value"])
        assert behind[name]["interval_95"] == pytest.approx([-x for x in entry["interval_95"][::-1]])
    assert ahead["accuracy"]["interval_95"][0] > 0
    with pytest.raises(DataError, match="same clips"):
        paired_difference(sharp, (blurred[0][:10], blurred[1]), targets)


def test_recall_by_snr_counts_call_clips_per_bin_with_wilson_intervals():
    # ten calls below 0 dB, five of them recalled; four at 10 dB or more, all recalled;
    # background clips (no labels) are never counted, whatever their SNR column says
    targets = np.array([[1.0, 0.0]] * 10 + [[0.0, 1.0]] * 4 + [[0.0, 0.0]] * 3)
    scores = np.zeros_like(targets)
    scores[:5, 0] = 0.9      # recalled
    scores[5:10, 1] = 0.9    # called the other class: wrong
    scores[10:14, 1] = 0.8
    snr = np.array([-2.0] * 10 + [15.0] * 4 + [-2.0] * 3)
    rows = recall_by_snr(scores, targets, np.array([0.5, 0.5]), snr, edges=[0.0, 10.0])
    assert [row["clips"] for row in rows] == [10, 0, 4]
    assert rows[0]["recall"] == 0.5 and rows[1]["recall"] is None and rows[2]["recall"] == 1.0
    # the Wilson 95 % interval of 5 of 10 (a textbook value)
    assert rows[0]["interval_95"] == pytest.approx([0.2366, 0.7634], abs=1e-4)
    assert rows[2]["interval_95"][1] == 1.0 and rows[2]["interval_95"][0] < 1.0
    assert [row["bin"] for row in rows] == ["below 0 dB", "0 to 10 dB", "10 dB and above"]
