"""whalelab.plots.detection: a recording's events, scores and band contrast; the threshold
trade-off."""

from __future__ import annotations

import librosa
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from whalelab import plots
from whalelab.config import DetectConfig
from whalelab.plots.style import mel_row_edges

FPS, FMIN, FMAX, N_MELS = 10.0, 10.0, 4000.0, 64
CLASSES = ["fin_whale", "minke_whale"]


def events(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["begin_s", "end_s", "low_hz", "high_hz", "label"])


def overview(values: np.ndarray | None = None, settings: DetectConfig = DetectConfig(),
             **options):
    frames = 100
    values = np.zeros((frames, N_MELS)) if values is None else values
    scores = np.linspace(0, 1, frames * 2).reshape(frames, 2)
    return plots.detection_overview(values, scores, classes=CLASSES, frames_per_second=FPS,
                                    fmin=FMIN, fmax=FMAX, settings=settings, **options)


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
    spec_ax, trace_ax = fig.axes[:2]
    assert np.asarray(spec_ax.collections[0].get_array()).shape == (N_MELS, 30)
    assert len(spec_ax.patches) == 1 and trace_ax.get_xlim() == (2.0, 5.0)
    assert trace_ax.lines[0].get_xdata()[[0, -1]] == pytest.approx([2.05, 4.95])


def test_scores_the_detections_thresholds_and_colour_bar_without_contrast():
    fig = overview(settings=DetectConfig(threshold=0.3))
    spec_ax, trace_ax, colorbar_ax = fig.axes
    scores = np.linspace(0, 1, 200).reshape(100, 2)
    for k in range(2):
        np.testing.assert_allclose(trace_ax.lines[k].get_ydata(), scores[:, k])
    assert trace_ax.lines[2].get_ydata() == pytest.approx([0.3, 0.3])  # the threshold
    assert trace_ax.lines[3].get_ydata() == pytest.approx([0.15, 0.15])  # half of it
    assert [text.get_text() for text in trace_ax.get_legend().get_texts()] == [
        *CLASSES, "threshold 0.3", "low threshold 0.15"]
    assert colorbar_ax.get_label() == "<colorbar>" and colorbar_ax.get_ylabel() == "dB"
    given = overview(settings=DetectConfig(threshold=0.7, low_threshold=0.6)).axes[1]
    assert [line.get_ydata()[0] for line in given.lines[2:]] == pytest.approx([0.7, 0.6])


def test_the_band_contrast_panel_draws_each_class_on_the_shared_time_axis():
    contrast = np.random.default_rng(0).random((100, 2)) * 20
    fig = overview(contrast=contrast)
    spec_ax, contrast_ax, trace_ax, _ = fig.axes
    assert contrast_ax.get_ylabel() == "band contrast (dB)"
    for k in range(2):
        np.testing.assert_allclose(contrast_ax.lines[k].get_ydata(), contrast[:, k])
        assert contrast_ax.lines[k].get_color() == trace_ax.lines[k].get_color() == f"C{k}"
    np.testing.assert_allclose(contrast_ax.lines[0].get_xdata(), trace_ax.lines[0].get_xdata())
    assert contrast_ax.get_shared_x_axes().joined(contrast_ax, spec_ax)


SWEEP = pd.DataFrame({"threshold": [0.3, 0.4, 0.5, 0.6], "precision": [0.6, 0.7, 0.9, 0.95],
                      "recall": [0.9, 0.85, 0.7, 0.5], "f1": [0.72, 0.77, 0.79, 0.66]})


def test_threshold_tradeoff_marks_the_chosen_threshold():
    by_threshold, pr_ax = plots.threshold_tradeoff(SWEEP, chosen=0.5).axes
    (chosen,) = [line for line in by_threshold.lines if line.get_linestyle() == "--"]
    assert list(chosen.get_xdata()) == [0.5, 0.5] and chosen.get_label() == "used: 0.5"
    curve, marker = pr_ax.lines
    np.testing.assert_allclose(curve.get_xdata(), SWEEP.recall)
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (0.7, 0.9)
    assert marker.get_label() == "threshold 0.5"


def test_threshold_tradeoff_marks_the_nearest_swept_threshold_and_nothing_unasked():
    _, pr_ax = plots.threshold_tradeoff(SWEEP, chosen=0.42).axes
    assert pr_ax.lines[1].get_xdata()[0] == 0.85  # 0.4 is the nearest threshold swept
    by_threshold, pr_ax = plots.threshold_tradeoff(SWEEP).axes
    assert len(by_threshold.lines) == 3 and len(pr_ax.lines) == 1
