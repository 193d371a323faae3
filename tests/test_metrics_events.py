"""Matching detected to annotated events and event-level metrics, on hand-counted cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whalelab.config import EventMatching
from whalelab.errors import WhaleLabError
from whalelab.metrics.events import (event_metrics, event_metrics_table, false_alarm_rate_bound,
                                    format_event_metrics, format_false_alarms, match_events,
                                    score_events)


def table(*rows: tuple[float, float, str], file: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["begin_s", "end_s", "label"])
    return frame if file is None else frame.assign(file=file)


def test_matching_by_iou_needs_enough_overlap_and_the_same_label():
    truth = table((0.0, 1.0, "a"), (5.0, 6.0, "a"), (10.0, 11.0, "b"))
    predicted = table((0.5, 1.5, "a"),   # IoU 0.5/1.5 = 1/3: a match at 0.3
                      (5.8, 6.8, "a"),   # IoU 0.2/1.8 = 0.11: no
                      (10.0, 11.0, "a"))  # right time, wrong label
    matched = match_events(predicted, truth)  # the default IoU, 0.3
    assert matched[["predicted", "truth"]].values.tolist() == [[0, 0]]
    assert matched.iou.iloc[0] == pytest.approx(1 / 3)
    assert match_events(predicted, truth, matching=EventMatching(iou=0.4)).empty


def test_matching_by_onset_tolerance_ignores_duration():
    truth = table((2.0, 3.0, "a"))
    long_prediction = table((2.3, 9.0, "a"))  # IoU 0.1, onset 0.3 s late
    assert match_events(long_prediction, truth).empty
    matched = match_events(long_prediction, truth,
                           matching=EventMatching(onset_tolerance_s=0.5))
    assert matched.onset_error_s.tolist() == pytest.approx([0.3])
    assert match_events(long_prediction, truth,
                        matching=EventMatching(onset_tolerance_s=0.2)).empty


def test_matching_is_one_to_one_and_maximal():
    # one long prediction over two calls matches only one of them
    truth = table((0.0, 1.0, "a"), (1.2, 2.2, "a"))
    assert len(match_events(table((0.0, 2.2, "a")), truth)) == 1
    # IoU p0-t0 0.25, p0-t1 0.3, p1-t1 0.2: greedy on best overlap would give p0 to t1
    # and leave p1 and t0 unmatched; the maximal matching pairs p0-t0 and p1-t1
    truth = table((0.0, 1.0, "a"), (1.0, 2.0, "a"))
    predicted = table((0.6, 1.6, "a"), (1.8, 2.0, "a"))
    matched = match_events(predicted, truth, matching=EventMatching(iou=0.15))
    assert sorted(matched[["predicted", "truth"]].values.tolist()) == [[0, 0], [1, 1]]


def test_events_of_different_files_never_match():
    truth = pd.concat([table((0.0, 1.0, "a"), file="x.wav"), table((5.0, 6.0, "a"), file="y.wav")],
                      ignore_index=True)
    predicted = pd.concat([table((5.0, 6.0, "a"), file="x.wav"),
                           table((5.0, 6.0, "a"), file="y.wav")], ignore_index=True)
    assert match_events(predicted, truth)[["predicted", "truth"]].values.tolist() == [[1, 1]]


def test_metrics_of_a_hand_counted_case():
    truth = table((0, 1, "a"), (2, 3, "a"), (4, 5, "a"), (10, 11, "b"), (20, 21, "c"))
    predicted = table((0, 1, "a"), (2.1, 3, "a"), (7, 8, "a"),  # a: tp 2, fp 1, fn 1
                      (10, 11, "b"), (30, 31, "b"),              # b: tp 1, fp 1, fn 0
                      (20, 21, "whale_song"))                    # not a class: ignored
    metrics = event_metrics(predicted, truth, ["a", "b", "c", "d"])
    a, b, c, d = (metrics["per_class"][name] for name in "abcd")
    assert (a["tp"], a["fp"], a["fn"]) == (2, 1, 1)
    assert a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 3)
    assert (b["tp"], b["fp"], b["fn"]) == (1, 1, 0) and b["f1"] == pytest.approx(2 / 3)
    assert (c["tp"], c["fp"], c["fn"]) == (0, 0, 1) and c["f1"] == 0.0
    assert (d["tp"], d["fp"], d["fn"]) == (0, 0, 0)
    overall = metrics["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"]) == (3, 2, 2)
    assert overall["precision"] == pytest.approx(0.6) and overall["f1"] == pytest.approx(0.6)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)  # d has no truth
    assert metrics["ignored"] == {"predicted": {"whale_song": 1}, "truth": {}}
    assert "overall" in format_event_metrics(metrics)


def test_perfect_and_empty_predictions():
    truth = table((0, 1, "a"), (3, 4, "b"))
    assert event_metrics(truth, truth, ["a", "b"])["overall"]["f1"] == 1.0
    nothing = event_metrics(table(), truth, ["a", "b"])["overall"]
    assert (nothing["precision"], nothing["recall"], nothing["fn"]) == (0.0, 0.0, 2)


def test_bad_matching_settings_are_user_errors():
    for settings in ({"iou": 0}, {"iou": 1.5}, {"onset_tolerance_s": -0.1}):
        with pytest.raises(WhaleLabError, match=next(iter(settings))):
            EventMatching(**settings)
    with pytest.raises(WhaleLabError, match="begin_s"):
        match_events(pd.DataFrame({"label": []}), table())


def test_one_matching_reaches_the_scores_their_intervals_and_the_criterion():
    truth = table((2.0, 3.0, "a"), file="x.wav")
    late_and_long = table((2.3, 9.0, "a"), file="x.wav")  # IoU 0.1, onset 0.3 s late
    by_iou = score_events(late_and_long, truth, ["a"], hours={"x.wav": 1.0})
    by_onset = score_events(late_and_long, truth, ["a"], hours={"x.wav": 1.0},
                            matching=EventMatching(onset_tolerance_s=0.5))
    assert by_iou["overall"]["f1"] == 0.0 and by_iou["criterion"] == {"iou": 0.3}
    assert by_onset["overall"]["f1"] == 1.0
    assert by_onset["criterion"] == {"onset_tolerance_s": 0.5}
    assert by_iou["intervals_95"]["f1"] == [0.0, 0.0]
    assert by_onset["intervals_95"]["f1"] == [1.0, 1.0]


def test_the_metrics_table_has_a_row_per_class_then_overall():
    truth = table((0, 1, "a"), (2, 3, "a"), (10, 11, "b"))
    predicted = table((0, 1, "a"), (30, 31, "b"))
    metrics = event_metrics(predicted, truth, ["a", "b"])
    frame = event_metrics_table(metrics)
    assert frame.index.tolist() == ["a", "b", "overall"]
    assert frame.columns.tolist() == ["precision", "recall", "f1", "tp", "fp", "fn"]
    assert frame[["tp", "fp", "fn"]].values.tolist() == [[1, 0, 1], [0, 1, 1], [1, 1, 2]]
    assert (frame[["tp", "fp", "fn"]].dtypes == int).all()
    assert frame.loc["overall", "f1"] == pytest.approx(metrics["overall"]["f1"])


def test_event_intervals_resample_blocks_and_contain_the_estimate():
    from whalelab.metrics.events import event_intervals, event_metrics

    rng = np.random.default_rng(0)
    begins = np.sort(rng.uniform(0, 3600, 120))
    truth = pd.DataFrame({"begin_s": begins, "end_s": begins + 1.0, "label": "a",
                          "file": "x.wav"})
    kept = truth.sample(frac=0.8, random_state=0)  # 80 % found, plus 20 false alarms
    noise = rng.uniform(0, 3600, 20)
    predicted = pd.concat([kept, pd.DataFrame({"begin_s": noise, "end_s": noise + 1.0,
                                               "label": "a", "file": "x.wav"})])
    estimate = event_metrics(predicted, truth, ["a"])["overall"]
    intervals = event_intervals(predicted, truth, ["a"], rounds=300)
    for name in ("precision", "recall", "f1"):
        low, high = intervals[name]
        assert low < estimate[name] < high and high - low < 0.25
    perfect = event_intervals(truth, truth, ["a"], rounds=50)
    assert perfect["f1"] == [1.0, 1.0]


@pytest.mark.parametrize("alarms", [0, 1, 4])
def test_the_false_alarm_bound_leaves_a_five_percent_chance_of_so_few_alarms(alarms):
    from scipy.stats import poisson

    hours = 4 / 60  # four call-free minutes
    bound = false_alarm_rate_bound(alarms, hours)
    # at the bound's rate, seeing this few alarms (or fewer) in these hours has chance 5 %
    assert poisson.cdf(alarms, bound * hours) == pytest.approx(0.05)
    assert bound > alarms / hours  # above the rate seen
    assert false_alarm_rate_bound(alarms, 2 * hours) == pytest.approx(bound / 2)


def test_no_false_alarm_is_bounded_by_the_rule_of_three():
    assert false_alarm_rate_bound(0, 4 / 60) == pytest.approx(3 / (4 / 60), rel=0.002)  # ~45/h
    assert false_alarm_rate_bound(0, 1.0, confidence=0.99) == pytest.approx(4.605, abs=1e-3)
    for hours, alarms, confidence in ((0.0, 0, 0.95), (1.0, -1, 0.95), (1.0, 0, 1.0)):
        with pytest.raises(WhaleLabError):
            false_alarm_rate_bound(alarms, hours, confidence=confidence)


def test_false_alarms_are_counted_in_call_free_recordings_with_their_bound():
    truth = table((2.0, 3.0, "a"), file="calls.wav")
    predicted = pd.concat([table((2.0, 3.0, "a"), (20.0, 21.0, "a"), file="calls.wav"),
                           table((5.0, 6.0, "a"), (9.0, 9.5, "other"), file="quiet.wav")],
                          ignore_index=True)
    scored = score_events(predicted, truth, ["a"], hours={"calls.wav": 1.0, "quiet.wav": 0.5})
    # the false alarm in calls.wav counts as a false positive, not per call-free hour, and
    # an event of a label outside the classes is no alarm
    assert (scored["false_alarms"], scored["hours_without_calls"]) == (1, 0.5)
    assert scored["false_alarms_per_hour"] == 2.0
    assert scored["false_alarms_per_hour_upper_95"] == pytest.approx(
        false_alarm_rate_bound(1, 0.5))
    assert format_false_alarms(scored) == ("1 false alarm in 30 min of call-free audio: 2.0 "
                                           "per hour, at most 9.5 (95 % upper bound)")
    every_recording_calls = score_events(predicted, truth, ["a"], hours={"calls.wav": 1.0})
    assert [every_recording_calls[key] for key in (
        "false_alarms", "false_alarms_per_hour", "false_alarms_per_hour_upper_95")] == [None] * 3
    assert format_false_alarms(every_recording_calls) is None
