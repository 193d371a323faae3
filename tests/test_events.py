"""Events from framewise probabilities: hysteresis, merging, duration, trimming, several files."""

from __future__ import annotations

import numpy as np
import pytest

from whalelab.errors import WhaleLabError
from whalelab.events import EVENT_COLUMNS, find_events, find_file_events

FPS = 10.0  # 0.1 s per frame keeps the hand arithmetic easy


def trace(*spans: tuple[int, int, float], frames: int = 200, classes: int = 1) -> np.ndarray:
    """``(frames, classes)`` zeros with ``value`` on frames ``[first, stop)`` of class 0."""
    probabilities = np.zeros((frames, classes), dtype=np.float32)
    for first, stop, value in spans:
        probabilities[first:stop, 0] = value
    return probabilities


def events_of(probabilities: np.ndarray, **settings) -> list[tuple[float, float]]:
    classes = [f"c{k}" for k in range(probabilities.shape[1])]
    found = find_events(probabilities, classes, frames_per_second=FPS, **settings)
    return [(round(b, 6), round(e, 6)) for b, e in zip(found.begin_s, found.end_s, strict=True)]


def test_a_single_event_has_the_frame_span_as_times():
    assert events_of(trace((10, 30, 0.8))) == [(1.0, 3.0)]


def test_hysteresis_keeps_a_dip_above_the_low_threshold_together():
    # 0.8 for 1 s, a 1 s dip to 0.35 (above low 0.3, below 0.5), 0.8 for 1 s
    probabilities = trace((10, 20, 0.8), (20, 30, 0.35), (30, 40, 0.8))
    assert events_of(probabilities, threshold=0.5, low_threshold=0.3, merge_gap_s=0) == [(1.0, 4.0)]
    # without hysteresis (low == high) the dip splits the call
    assert events_of(probabilities, threshold=0.5, low_threshold=0.5,
                     merge_gap_s=0) == [(1.0, 2.0), (3.0, 4.0)]


def test_hysteresis_extends_but_does_not_start_events():
    # shoulders above the low threshold extend the core; a bump that never reaches the
    # threshold starts nothing
    probabilities = trace((10, 15, 0.3), (15, 25, 0.9), (25, 28, 0.3), (100, 120, 0.4))
    assert events_of(probabilities, threshold=0.5, low_threshold=0.25) == [(1.0, 2.8)]


def test_default_low_threshold_is_half_the_threshold():
    probabilities = trace((10, 20, 0.26), (20, 30, 0.6))
    assert events_of(probabilities, threshold=0.5) == [(1.0, 3.0)]
    assert events_of(trace((10, 20, 0.24), (20, 30, 0.6)), threshold=0.5) == [(2.0, 3.0)]


def test_minimum_duration_drops_blips():
    probabilities = trace((10, 11, 0.9), (50, 52, 0.9), (100, 103, 0.9))
    assert events_of(probabilities, min_duration_s=0.25, merge_gap_s=0) == [(10.0, 10.3)]
    assert len(events_of(probabilities, min_duration_s=0.0, merge_gap_s=0)) == 3


def test_gap_merging_joins_close_events_only():
    probabilities = trace((10, 20, 0.9), (23, 33, 0.9), (60, 70, 0.9))
    assert events_of(probabilities, merge_gap_s=0.3) == [(1.0, 3.3), (6.0, 7.0)]
    assert events_of(probabilities, merge_gap_s=0.2) == [(1.0, 2.0), (2.3, 3.3), (6.0, 7.0)]


def test_merging_happens_before_the_duration_filter():
    # two 0.2 s pieces 0.1 s apart: each too short, merged long enough
    probabilities = trace((10, 12, 0.9), (13, 15, 0.9))
    assert events_of(probabilities, min_duration_s=0.4, merge_gap_s=0.1) == [(1.0, 1.5)]


def test_columns_scores_bands_and_classes():
    probabilities = np.zeros((100, 2), dtype=np.float32)
    probabilities[10:20, 0] = np.linspace(0.6, 1.0, 10)
    probabilities[50:60, 1] = 0.7
    bands = {"fin": (15.0, 30.0)}
    found = find_events(probabilities, ["fin", "blue"], frames_per_second=FPS, bands=bands)
    assert list(found.columns) == EVENT_COLUMNS
    assert found.label.tolist() == ["fin", "blue"]
    assert found.score.tolist() == pytest.approx([1.0, 0.7])
    assert found.mean_score.tolist() == pytest.approx([0.8, 0.7])
    assert found.loc[0, ["low_hz", "high_hz"]].tolist() == [15.0, 30.0]
    assert found.loc[1, ["low_hz", "high_hz"]].isna().all()  # no band given for blue


def test_events_at_the_edges_and_nothing_to_find():
    probabilities = trace((0, 5, 0.9), (195, 200, 0.9))
    assert events_of(probabilities) == [(0.0, 0.5), (19.5, 20.0)]
    empty = find_events(np.zeros((50, 1)), ["a"], frames_per_second=FPS)
    assert empty.empty and list(empty.columns) == EVENT_COLUMNS
    assert (empty.drop(columns="label").dtypes == float).all()  # numeric even when empty


def test_band_contrast_trims_an_event_to_where_the_call_is():
    probabilities = trace((10, 60, 0.9))  # the model: somewhere in 1.0-6.0 s
    contrast = np.full_like(probabilities, 3.0)
    contrast[30:38, 0] = 20.0  # the call's energy: 3.0-3.8 s
    contrast[45, 0] = 12.0  # a later part of it above half the peak
    assert events_of(probabilities) == [(1.0, 6.0)]
    assert events_of(probabilities, contrast=contrast) == [(3.0, 4.6)]
    assert events_of(probabilities, contrast=contrast, boundary_fraction=0.9) == [(3.0, 3.8)]
    # a class whose band never rises above its floor keeps what the model found
    assert events_of(probabilities, contrast=np.zeros_like(probabilities)) == [(1.0, 6.0)]


def test_trimming_keeps_the_peak_score_of_the_untrimmed_event():
    probabilities = trace((10, 60, 0.6))
    probabilities[12, 0] = 0.95
    contrast = np.zeros_like(probabilities)
    contrast[40:50, 0] = 10.0
    found = find_events(probabilities, ["a"], frames_per_second=FPS, contrast=contrast)
    assert found.score.tolist() == pytest.approx([0.95])
    assert found.mean_score.tolist() == pytest.approx([0.6])


@pytest.mark.parametrize("settings", [{"contrast": np.zeros((10, 1))},
                                      {"contrast": trace(), "boundary_fraction": 0.0},
                                      {"contrast": trace(), "boundary_fraction": 1.5}])
def test_bad_contrast_settings_are_user_errors(settings):
    with pytest.raises(WhaleLabError, match="contrast|boundary_fraction"):
        find_events(trace(), ["a"], frames_per_second=FPS, **settings)


@pytest.mark.parametrize("settings", [{"threshold": 0.5, "low_threshold": 0.6},
                                      {"min_duration_s": -1}, {"merge_gap_s": -0.1}])
def test_bad_settings_are_user_errors(settings):
    with pytest.raises(WhaleLabError):
        find_events(trace(), ["a"], frames_per_second=FPS, **settings)
    with pytest.raises(WhaleLabError, match="classes"):
        find_events(trace(), ["a", "b"], frames_per_second=FPS)


def test_events_of_several_files_carry_their_file():
    probabilities = {"x.wav": trace((10, 20, 0.9)), "y.wav": trace((50, 60, 0.4))}
    found = find_file_events(probabilities, ["c0"], frames_per_second=FPS)
    assert found[["file", "begin_s"]].values.tolist() == [["x.wav", 1.0]]
    assert list(found.columns) == ["file", *EVENT_COLUMNS]
    nothing = find_file_events({"y.wav": trace()}, ["c0"], frames_per_second=FPS)
    assert nothing.empty and list(nothing.columns) == ["file", *EVENT_COLUMNS]
