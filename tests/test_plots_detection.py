"""whalelab.plots.detection: a recording's events, scores and band contrast; the threshold
trade-off."""

from __future__ import annotations

import re

import librosa
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from whalelab import plots
from whalelab.plots.detection import (THRESHOLD_NOTE_PATTERN, describe_detection, detected_as,
                                      drawn_thresholds, threshold_note)
from whalelab.plots.style import LOW_BAND_HZ, mel_row_edges

FPS, FMIN, FMAX, N_MELS, SR = 10.0, 10.0, 4000.0, 64, 8000
CLASSES = ["fin_whale", "minke_whale"]


def events(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["begin_s", "end_s", "low_hz", "high_hz", "label"])


def overview(values: np.ndarray | None = None, threshold: float = 0.5,
             samples: np.ndarray | None = None, **options):
    frames = 100
    values = np.zeros((frames, N_MELS)) if values is None else values
    samples = np.zeros(int(frames / FPS * SR)) if samples is None else samples
    scores = np.linspace(0, 1, frames * 2).reshape(frames, 2)
    return plots.detection_overview(values, scores, samples=samples, sample_rate=SR,
                                    classes=CLASSES, frames_per_second=FPS, fmin=FMIN,
                                    fmax=FMAX, threshold=threshold, **options)


@pytest.mark.parametrize("htk", [True, False])
@pytest.mark.parametrize("band", [0, 5, 63])
def test_a_mel_band_is_drawn_around_its_centre_within_its_filter(band, htk):
    values = np.zeros((100, N_MELS))
    values[:, band] = 1.0  # only this band is lit
    spec_ax = overview(values, htk=htk).axes[0]
    (mesh,) = spec_ax.collections
    lit = int(np.asarray(mesh.get_array()).max(axis=1).argmax())
    low, high = mesh.get_coordinates()[[lit, lit + 1], 0, 1]  # Hz
    # band k of librosa's filterbank spans edges k .. k + 2 and peaks at edge k + 1
    edges = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=FMIN, fmax=FMAX, htk=htk)
    assert edges[band] <= low < edges[band + 1] < high <= edges[band + 2]
    # centred on the centre on the mel scale, not beside it (as a row from edge k to k + 1 is)
    assert librosa.hz_to_mel([low, high], htk=htk).mean() == pytest.approx(
        librosa.hz_to_mel(edges[band + 1], htk=htk))
    np.testing.assert_allclose(mesh.get_coordinates()[:, 0, 1],
                               mel_row_edges(N_MELS, fmin=FMIN, fmax=FMAX, htk=htk))
    assert spec_ax.get_ylabel() == "frequency (Hz, mel scale)"


def test_a_fin_whale_box_covers_the_band_that_holds_its_energy():
    # the HTK bottom band peaks at 31 Hz: a 20-40 Hz call box must hold its row's centre
    values = np.zeros((100, N_MELS))
    values[20:40, 0] = 1.0
    fig = overview(values, truth=events((2.0, 4.0, 20.0, 40.0, "fin_whale")),
                   detected=events((1.8, 4.2, 18.0, 45.0, "fin_whale"),
                                   (50.0, 51.0, 900.0, 1900.0, "minke_whale")))
    spec_ax = fig.axes[0]
    mesh = spec_ax.collections[0]
    low, high = mesh.get_coordinates()[[0, 1], 0, 1]
    truth_box, detected_box = spec_ax.patches  # the event after the recording's end is left out
    assert truth_box.get_y() < (low + high) / 2 < truth_box.get_y() + truth_box.get_height()
    assert (truth_box.get_x(), truth_box.get_width()) == pytest.approx((2.0, 2.0))
    assert truth_box.get_linestyle() == "-" and truth_box.get_edgecolor() == to_rgba("white")
    assert detected_box.get_linestyle() == "--"
    assert detected_box.get_edgecolor() == to_rgba("C0")  # fin whale's colour
    # the time axis: frame t spans t / fps .. (t + 1) / fps
    x = mesh.get_coordinates()[0, :, 0]
    assert (x[0], x[-1], len(x)) == pytest.approx((0.0, 10.0, 101))


def test_the_span_crops_image_traces_and_boxes():
    fig = overview(span=(2.0, 5.0), truth=events((0.5, 1.0, 20.0, 40.0, "fin_whale"),
                                                 (3.0, 4.0, 20.0, 40.0, "fin_whale")))
    spec_ax, low_ax, trace_ax = fig.axes[:3]
    assert np.asarray(spec_ax.collections[0].get_array()).shape == (N_MELS, 30)
    assert len(spec_ax.patches) == 1 and trace_ax.get_xlim() == (2.0, 5.0)
    assert len(low_ax.patches) == 1  # the 20-40 Hz call on the low band too
    assert trace_ax.lines[0].get_xdata()[[0, -1]] == pytest.approx([2.05, 4.95])


def test_a_low_call_shows_in_the_low_band_at_its_frequency_and_time():
    # a 20 Hz tone from 3 to 6 s, as a fin whale pulse sits a few rows of a log-mel
    time = np.arange(int(10 * SR)) / SR
    samples = np.where((time >= 3) & (time < 6), np.sin(2 * np.pi * 20 * time), 0.0)
    samples += np.random.default_rng(0).normal(0, 1e-3, len(samples))
    fig = overview(samples=samples, truth=events((3.0, 6.0, 15.0, 30.0, "fin_whale"),
                                                 (7.0, 8.0, 900.0, 1900.0, "minke_whale")))
    low_ax = fig.axes[1]
    (image,) = low_ax.images
    values = np.asarray(image.get_array())  # (bins, frames), dB below the peak
    left, right, bottom, top = image.get_extent()
    row = values.max(axis=1).argmax()
    assert bottom + (row + 0.5) * (top - bottom) / len(values) == pytest.approx(20, abs=4)
    loud = values[row] > -20
    seconds = left + (np.flatnonzero(loud)[[0, -1]] + 0.5) * (right - left) / values.shape[1]
    assert seconds == pytest.approx([3.0, 6.0], abs=0.3)
    assert low_ax.get_ylim() == (0.0, LOW_BAND_HZ)
    # only the call that reaches into the low band is boxed there; both on the full band
    assert [patch.get_y() for patch in low_ax.patches] == [15.0]
    assert len(fig.axes[0].patches) == 2


def test_scores_the_detections_thresholds_and_colour_bars_without_contrast():
    fig = overview(threshold=0.3)
    spec_ax, low_ax, trace_ax, colorbar_ax, low_colorbar_ax = fig.axes
    scores = np.linspace(0, 1, 200).reshape(100, 2)
    for k in range(2):
        np.testing.assert_allclose(trace_ax.lines[k].get_ydata(), scores[:, k])
    assert trace_ax.lines[2].get_ydata() == pytest.approx([0.3, 0.3])  # the threshold
    assert trace_ax.lines[3].get_ydata() == pytest.approx([0.15, 0.15])  # half of it
    assert [text.get_text() for text in trace_ax.get_legend().get_texts()] == [
        *CLASSES, "threshold 0.3", "low threshold 0.15"]
    assert colorbar_ax.get_label() == "<colorbar>" and colorbar_ax.get_ylabel() == "dB"
    assert low_colorbar_ax.get_ylabel() == "dB below the peak"
    given = overview(threshold=0.7, low_threshold=0.6).axes[2]
    assert [line.get_ydata()[0] for line in given.lines[2:]] == pytest.approx([0.7, 0.6])


def test_the_threshold_is_required_and_read_back_from_the_figure():
    with pytest.raises(TypeError, match="threshold"):
        plots.detection_overview(np.zeros((10, 4)), np.zeros((10, 2)), samples=np.zeros(800),
                                 sample_rate=SR, classes=CLASSES, frames_per_second=FPS,
                                 fmin=FMIN, fmax=FMAX)
    with pytest.raises(TypeError, match="threshold"):
        plots.threshold_tradeoff(SWEEP)
    fig = overview(threshold=0.65, low_threshold=0.5)
    assert drawn_thresholds(fig) == [0.65]  # the low threshold is not the threshold
    assert drawn_thresholds(plots.threshold_tradeoff(SWEEP, threshold=0.65)) == [0.65]


def test_the_threshold_note_is_one_line_a_test_can_parse():
    note = threshold_note(overview(threshold=0.65), run_threshold=0.65)
    assert note == "threshold drawn 0.65 (the run's 0.65)"
    match = re.fullmatch(THRESHOLD_NOTE_PATTERN, note)
    assert (match["drawn"], match["run"]) == ("0.65", "0.65")
    # a figure that drew another threshold says so, and the pattern reads that too
    wrong = threshold_note(overview(threshold=0.5), run_threshold=0.65)
    assert re.fullmatch(THRESHOLD_NOTE_PATTERN, wrong)["drawn"] == "0.5"


def test_a_call_reads_as_the_classes_detected_over_it():
    call = pd.Series({"begin_s": 10.0, "end_s": 12.0, "label": "humpback_whale",
                      "file": "a.wav"})
    found = pd.DataFrame({"begin_s": [9.0, 11.5, 12.0, 10.5], "end_s": [10.5, 13.0, 14.0, 11.0],
                          "label": ["killer_whale", "humpback_whale", "minke_whale",
                                    "fin_whale"],
                          "file": ["a.wav", "a.wav", "a.wav", "b.wav"]})
    # touching at 12.0 s is no overlap; b.wav's event is another recording
    assert detected_as(call, found) == ["humpback_whale", "killer_whale"]
    assert detected_as(call, found.iloc[2:]) == []
    # a title says so when the call was detected as another class
    assert describe_detection(call, found) == "detected as humpback_whale and killer_whale"
    assert describe_detection(call, found.iloc[[0]]) == \
        "detected as killer_whale, not as humpback_whale"
    assert describe_detection(call, found.iloc[[1]]) == "detected as humpback_whale"
    assert describe_detection(call, found.iloc[2:]) == "not detected"


def test_the_band_contrast_panel_draws_each_class_on_the_shared_time_axis():
    contrast = np.random.default_rng(0).random((100, 2)) * 20
    fig = overview(contrast=contrast)
    spec_ax, low_ax, contrast_ax, trace_ax = fig.axes[:4]
    assert contrast_ax.get_ylabel() == "band contrast (dB)"
    for k in range(2):
        np.testing.assert_allclose(contrast_ax.lines[k].get_ydata(), contrast[:, k])
        assert contrast_ax.lines[k].get_color() == trace_ax.lines[k].get_color() == f"C{k}"
    np.testing.assert_allclose(contrast_ax.lines[0].get_xdata(), trace_ax.lines[0].get_xdata())
    assert contrast_ax.get_shared_x_axes().joined(contrast_ax, spec_ax)


SWEEP = pd.DataFrame({"threshold": [0.3, 0.4, 0.5, 0.6], "precision": [0.6, 0.7, 0.9, 0.95],
                      "recall": [0.9, 0.85, 0.7, 0.5], "f1": [0.72, 0.77, 0.79, 0.66]})


def test_threshold_tradeoff_marks_the_chosen_threshold():
    by_threshold, pr_ax = plots.threshold_tradeoff(SWEEP, threshold=0.5).axes
    (chosen,) = [line for line in by_threshold.lines if line.get_linestyle() == "--"]
    assert list(chosen.get_xdata()) == [0.5, 0.5] and chosen.get_label() == "used: 0.5"
    curve, marker = pr_ax.lines
    np.testing.assert_allclose(curve.get_xdata(), SWEEP.recall)
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (0.7, 0.9)
    assert marker.get_label() == "threshold 0.5"


def test_threshold_tradeoff_marks_the_nearest_swept_threshold_and_draws_the_one_given():
    fig = plots.threshold_tradeoff(SWEEP, threshold=0.42, title="validation recordings")
    by_threshold, pr_ax = fig.axes
    assert pr_ax.lines[1].get_xdata()[0] == 0.85  # 0.4 is the nearest threshold swept
    assert drawn_thresholds(fig) == [0.42]  # the line stands where detection cut
    assert fig.get_suptitle() == "validation recordings"


def test_runs_side_by_side_show_each_figure_with_its_interval():
    from whalelab.plots import event_scores_compared

    def figures(precision, fp):
        return {"precision": precision, "recall": 0.9, "f1": 0.8, "precision_95": [0.7, 1.0],
                "recall_95": [0.8, 0.95], "f1_95": [0.7, 0.9], "tp": 9, "fp": fp, "fn": 1}

    fig = event_scores_compared({"before": figures(0.8, 4), "after": figures(0.75, 2)})
    ax = fig.axes[0]
    assert [round(bar.get_height(), 3) for bar in ax.patches] == [0.8, 0.9, 0.8, 0.75, 0.9, 0.8]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["before: 9 found, 4 false, 1 missed", "after: 9 found, 2 false, 1 missed"]
    whiskers = [collection.get_segments() for collection in ax.collections]
    assert len(whiskers) == 2  # one set of error bars a run
    assert whiskers[0][0][:, 1].round(3).tolist() == [0.7, 1.0]  # the precision interval
