"""whalelab.metrics.localisation: frame scores, attention on the call and boundary errors.

Every case is built by hand so that the answer is known by construction.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from whalelab.errors import DataError
from whalelab.metrics.localisation import (format_localisation, localisation_metrics,
                                   localisation_table, peak_region, true_span)

FPS, SEG = 10.0, 4  # frames per second; frames per segment
FRAMES, SEGMENTS = 40, 10
CLASSES = ["upcall", "boing"]


def strong_clip(spans: dict[int, tuple[int, int]], frames: int = FRAMES) -> np.ndarray:
    """Frame targets ``(frames, classes)`` with a call on [start, stop) per class index."""
    frame_targets = np.zeros((frames, len(CLASSES)))
    for k, (start, stop) in spans.items():
        frame_targets[start:stop, k] = 1
    return frame_targets


def flat(clips: int, classes: int = 2, segments: int = SEGMENTS) -> np.ndarray:
    return np.full((clips, classes, segments), 1 / segments)


def score(framewise, norm_att, frame_targets, strong=None, targets=None, **options):
    framewise, frame_targets = np.asarray(framewise), np.asarray(frame_targets)
    strong = np.ones(len(framewise), bool) if strong is None else strong
    targets = frame_targets.max(axis=1) if targets is None else targets
    return localisation_metrics(framewise, norm_att, frame_targets, strong, targets,
                                **{"classes": CLASSES, "frames_per_second": FPS,
                                   "segment_frames": SEG, **options})


def test_a_perfect_framewise_output_scores_auc_and_ap_one():
    rng = np.random.default_rng(0)
    clips = [strong_clip({0: (5, 15), 1: (20, 30)}), strong_clip({0: (30, 38)})]
    frame_targets = np.stack(clips)
    framewise = 0.6 * frame_targets + 0.3 * rng.random(frame_targets.shape)
    metrics = score(framewise, flat(2), frame_targets)
    assert metrics["frame_auc"] == {"upcall": 1.0, "boing": 1.0}
    assert metrics["frame_ap"] == {"upcall": 1.0, "boing": 1.0}
    assert metrics["macro_frame_auc"] == metrics["macro_frame_ap"] == 1.0
    assert metrics["clips"] == 2 and metrics["pairs"] == 3
    assert metrics["support"] == {"upcall": 2, "boing": 1}


def test_an_inverted_framewise_output_scores_auc_zero():
    frame_targets = strong_clip({0: (5, 15), 1: (20, 30)})[None]
    metrics = score(1 - frame_targets, flat(1), frame_targets)
    assert metrics["frame_auc"] == {"upcall": 0.0, "boing": 0.0}


def test_attention_all_on_the_call_segment_gives_mass_one():
    frame_targets = strong_clip({0: (9, 12)})[None]  # inside segment 2 (frames 8-11)
    norm_att = flat(1)
    norm_att[0, 0] = np.eye(SEGMENTS)[2]
    metrics = score(frame_targets, norm_att, frame_targets)
    assert metrics["attention_on_call"]["upcall"] == pytest.approx(1.0)
    assert metrics["flat_share"]["upcall"] == pytest.approx(1 / SEGMENTS)


def test_flat_attention_gives_the_flat_share():
    frame_targets = strong_clip({0: (6, 14)})[None]  # frames 6-13: segments 1, 2, 3
    metrics = score(frame_targets, flat(1), frame_targets)
    assert metrics["flat_share"]["upcall"] == pytest.approx(3 / SEGMENTS)
    assert metrics["attention_on_call"]["upcall"] == pytest.approx(3 / SEGMENTS)
    assert metrics["mean_attention_on_call"] == pytest.approx(metrics["mean_flat_share"])


def test_attention_means_run_over_all_clip_class_pairs():
    clips = [strong_clip({0: (0, 4)}), strong_clip({0: (0, 4), 1: (0, 8)})]
    frame_targets = np.stack(clips)
    norm_att = flat(2)
    norm_att[0, 0] = np.eye(SEGMENTS)[0]  # mass 1, share 1/10
    norm_att[1, 0] = np.eye(SEGMENTS)[5]  # mass 0, share 1/10
    # clip 1, boing: flat, segments 0 and 1: mass 2/10, share 2/10
    metrics = score(frame_targets, norm_att, frame_targets)
    assert metrics["attention_on_call"] == pytest.approx({"upcall": 0.5, "boing": 0.2})
    assert metrics["flat_share"] == pytest.approx({"upcall": 0.1, "boing": 0.2})
    assert metrics["mean_attention_on_call"] == pytest.approx((1 + 0 + 0.2) / 3)
    assert metrics["mean_flat_share"] == pytest.approx((0.1 + 0.1 + 0.2) / 3)


def test_the_last_segment_covers_the_tail_frames():
    frames = 3 * 32 + 10  # the backbone made 3 segments of 32 frames and dropped a tail
    frame_targets = strong_clip({0: (100, 104)}, frames=frames)[None]
    norm_att = flat(1, segments=3)
    norm_att[0, 0] = [0.2, 0.2, 0.6]
    metrics = score(frame_targets, norm_att, frame_targets, segment_frames=32)
    assert metrics["attention_on_call"]["upcall"] == pytest.approx(0.6)
    assert metrics["flat_share"]["upcall"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("shift", [10, -10])
def test_a_peak_region_shifted_by_ten_frames_is_ten_frames_off(shift):
    frame_targets = strong_clip({0: (10, 25), 1: (10, 20)})[None]  # no wrap-around
    framewise = np.roll(frame_targets, shift, axis=1) * 0.9 + 0.05
    framewise[0, :, 1] = frame_targets[0, :, 1]  # boing is placed exactly
    metrics = score(framewise, flat(1), frame_targets)
    for name in ("onset_error_s", "offset_error_s"):
        assert metrics[name]["per_class"]["upcall"] == {"median": 10 / FPS, "mean": 10 / FPS}
        assert metrics[name]["per_class"]["boing"] == {"median": 0.0, "mean": 0.0}
        assert metrics[name]["median"] == pytest.approx(5 / FPS)
        assert metrics[name]["mean"] == pytest.approx(5 / FPS)


def test_peak_region_is_the_half_peak_run_around_the_peak():
    scores = np.array([0.9, 0.2, 0.5, 0.6, 1.0, 0.7, 0.4, 0.8])
    assert peak_region(scores) == (2, 6)
    assert peak_region(np.zeros(5)) == (0, 5)


def test_the_true_span_is_the_run_holding_the_peak_or_the_nearest():
    positive = np.zeros(30, bool)
    positive[2:5] = positive[12:15] = positive[25:28] = True
    assert true_span(positive, 13) == (12, 15)
    assert true_span(positive, 9) == (12, 15)   # 3 frames to 12, 5 to 4
    assert true_span(positive, 21) == (25, 28)  # 4 frames to 25, 7 to 14


def test_boundaries_are_scored_against_the_span_nearest_the_peak():
    frame_targets = strong_clip({0: (2, 6)})[None]
    frame_targets[0, 20:30, 0] = 1  # a second call
    framewise = np.zeros_like(frame_targets)
    framewise[0, 11:14, 0] = [0.8, 1.0, 0.8]  # peak at 12: 7 frames after 5, 8 before 20
    metrics = score(framewise, flat(1), frame_targets)
    assert metrics["onset_error_s"]["median"] == pytest.approx(9 / FPS)  # 11 - 2
    assert metrics["offset_error_s"]["median"] == pytest.approx(8 / FPS)  # 14 - 6


def test_weak_clips_are_ignored():
    truth = strong_clip({0: (5, 15), 1: (20, 30)})[None]
    metrics = score(truth, flat(1), truth)
    garbage = np.concatenate([truth, 1 - truth])  # the weak clip scores everything wrong
    weak = score(garbage, flat(2), np.concatenate([truth, truth]), strong=np.array([True, False]))
    assert weak == metrics
    assert weak["clips"] == 1


def test_a_class_with_no_call_gives_none():
    truth = strong_clip({0: (5, 15)})[None]
    metrics = score(truth, flat(1), truth)
    assert metrics["frame_auc"]["boing"] is None and metrics["frame_ap"]["boing"] is None
    assert metrics["attention_on_call"]["boing"] is None and metrics["flat_share"]["boing"] is None
    assert metrics["onset_error_s"]["per_class"]["boing"] == {"median": None, "mean": None}
    assert metrics["support"]["boing"] == 0
    assert metrics["macro_frame_auc"] == 1.0  # over the classes that have a value
    json.dumps(metrics)  # JSON-ready: no numpy scalars, no NaN


def test_a_class_whose_frames_are_all_positive_has_no_frame_auc():
    truth = strong_clip({0: (0, FRAMES)})[None]
    metrics = score(truth, flat(1), truth)
    assert metrics["frame_auc"]["upcall"] is None and metrics["frame_ap"]["upcall"] is None
    assert metrics["attention_on_call"]["upcall"] == pytest.approx(1.0)


def test_a_call_fragment_in_a_clip_not_labelled_with_it_is_no_pair():
    truth = strong_clip({0: (5, 15), 1: (0, 2)})[None]
    metrics = score(truth, flat(1), truth, targets=np.array([[1, 0]]))
    assert metrics["support"] == {"upcall": 1, "boing": 0}
    assert metrics["frame_auc"]["boing"] == 1.0  # its frames still count as positives


def test_table_and_text_have_a_row_per_class_and_a_mean_row():
    truth = strong_clip({0: (5, 15)})[None]
    metrics = score(truth, flat(1), truth)
    table = localisation_table(metrics)
    assert list(table.index) == ["upcall", "boing", "mean"]
    assert list(table.columns) == ["frame_auc", "frame_ap", "attention_on_call", "flat_share",
                                   "onset_median_s", "offset_median_s", "pairs"]
    assert table.loc["mean", "attention_on_call"] == pytest.approx(0.3)
    assert np.isnan(table.loc["boing", "frame_auc"]) and table.loc["boing", "pairs"] == 0
    lines = format_localisation(metrics).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["upcall", "boing", "mean"]
    assert lines[1].split() == ["upcall", "1.000", "1.000", "0.300", "0.300", "0.000",
                                "0.000", "1"]
    assert lines[2].split() == ["boing", "0"]


def valid_arguments(**changes) -> dict:
    """Arguments for one strong clip with an upcall on frames 5-14, with ``changes``."""
    truth = strong_clip({0: (5, 15)})[None]
    return {"framewise": truth, "norm_att": flat(1), "frame_targets": truth,
            "strong": np.ones(1, bool), "targets": np.array([[1, 0]]), "classes": CLASSES,
            "frames_per_second": FPS, "segment_frames": SEG, **changes}


BAD_SHAPES = {
    "framewise": np.zeros((1, FRAMES)),
    "norm_att": np.zeros((1, 3, SEGMENTS)),
    "frame_targets": np.zeros((1, FRAMES + 1, 2)),
    "strong": np.ones(2, bool),
    "targets": np.zeros((1, 3)),
}


@pytest.mark.parametrize("argument", BAD_SHAPES)
def test_bad_shapes_raise_a_data_error_naming_the_argument(argument):
    localisation_metrics(**valid_arguments())
    with pytest.raises(DataError, match=rf"^{argument} has shape"):
        localisation_metrics(**valid_arguments(**{argument: BAD_SHAPES[argument]}))


@pytest.mark.parametrize("changes, message", [
    (dict(strong=np.zeros(1, bool)), "no strong clips"),
    (dict(frame_targets=np.full((1, FRAMES, 2), 0.5)), "frame_targets"),
    (dict(frames_per_second=0), "frames_per_second"),
    (dict(segment_frames=0), "segment_frames"),
])
def test_bad_values_raise_a_data_error(changes, message):
    with pytest.raises(DataError, match=message):
        localisation_metrics(**valid_arguments(**changes))


def test_frame_spans_give_back_the_calls_of_frame_targets():
    from whalelab.metrics.localisation import frame_spans

    targets = np.zeros((50, 3))
    targets[10:20, 2] = 1
    targets[5:8, 0] = 1
    targets[30:50, 0] = 1  # a call running to the end
    assert frame_spans(targets, ["a", "b", "c"], 10.0) == [("a", 0.5, 0.8), ("c", 1.0, 2.0),
                                                            ("a", 3.0, 5.0)]
    assert frame_spans(np.zeros((5, 1)), ["a"], 10.0) == []
