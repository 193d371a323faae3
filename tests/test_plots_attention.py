"""whalelab.plots.attention: attention panels, annotated calls, models compared on one clip,
and clipwise probabilities of one clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from whalelab import plots
from whalelab.errors import DataError
from whalelab.model import segments_to_frames

SR, HOP, FMIN, FMAX = 8000, 128, 10.0, 4000.0
SEGMENT_FRAMES = 32  # log-mel frames per segment of the model's backbone
FEATURES = dict(sample_rate=SR, hop_length=HOP, fmin=FMIN, fmax=FMAX,
                segment_frames=SEGMENT_FRAMES)


def waveforms(batch: int, frames: int, tone_hz: float = 20.0) -> torch.Tensor:
    """``(batch, samples)``: a ``tone_hz`` tone as long as ``frames`` log-mel frames."""
    t = torch.arange((frames - 1) * HOP) / SR
    return torch.sin(2 * torch.pi * tone_hz * t).repeat(batch, 1)


def plotted(fig) -> list:
    """The figure's axes less its colour bars, in the order they were made."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_class_probabilities_bars_thresholds_and_truth():
    fig = plots.class_probabilities(np.array([0.1, 0.8, 0.3]), classes=["a", "b", "c"],
                                    thresholds=[0.5, 0.5, 0.2], truth=["b"])
    ax = fig.axes[0]
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([0.1, 0.8, 0.3])
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b", "c"]
    green = [bar.get_facecolor() for bar in ax.patches]
    assert green[1] != green[0] == green[2]
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], [0.5, 0.5, 0.2])


def sed_outputs(batch: int = 2, classes: int = 4, frames: int = 157) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    segments = frames // SEGMENT_FRAMES
    segmentwise = torch.rand(batch, segments, classes, generator=generator)
    attention = torch.softmax(torch.randn(batch, classes, segments, generator=generator), -1)
    return {"clipwise_output": (attention * segmentwise.transpose(1, 2)).sum(-1),
            "segmentwise_output": segmentwise,
            "framewise_output": segments_to_frames(segmentwise, frames,
                                                   segment_frames=SEGMENT_FRAMES),
            "norm_att": attention}


def test_attention_draws_the_top_classes_on_the_clip_time_axis():
    outputs = sed_outputs(frames=4 * SEGMENT_FRAMES)
    # make class 2 of example 1 the top class
    outputs["clipwise_output"][1] = torch.tensor([0.1, 0.2, 0.9, 0.3])
    logmel = torch.randn(2, 1, 4 * SEGMENT_FRAMES, 16)
    fig = plots.attention(logmel, outputs, waveforms=waveforms(2, 4 * SEGMENT_FRAMES),
                          example=1, classes=["a", "b", "c", "d"], top_k=2, truth=["c"],
                          title="clip", **FEATURES)
    mel_ax, low_ax, att_ax, seg_ax, frame_ax, bars_ax = plotted(fig)
    (mesh,) = mel_ax.collections
    np.testing.assert_allclose(mesh.get_array(), logmel[1, 0].numpy().T)
    assert [ax.get_ylabel() for ax in fig.axes if ax not in plotted(fig)] == [
        "dB (level-normalised)", "dB below the peak"]  # the two images' colour bars
    # the low band: 0-250 Hz from the audio, where the 20 Hz tone is a bright row
    rows = np.asarray(low_ax.images[0].get_array()).max(axis=1)
    step = low_ax.images[0].get_extent()[3] / (len(rows) - 0.5)
    assert low_ax.get_ylim() == (0.0, 250.0) and abs(rows.argmax() * step - 20) < step
    assert low_ax.get_xlim() == mel_ax.get_xlim()
    assert [text.get_text() for text in att_ax.get_legend().get_texts()] == ["c", "d"]
    # the first stairs drawn is class c: its attention values and the clip's time span
    stairs = att_ax.patches[0]
    np.testing.assert_allclose(stairs.get_data().values, outputs["norm_att"][1, 2].numpy())
    edges = stairs.get_data().edges
    assert edges[-1] == pytest.approx(mesh.get_coordinates()[0, -1, 0])
    np.testing.assert_allclose(frame_ax.lines[0].get_ydata(),
                               outputs["framewise_output"][1, :, 2].numpy())
    assert mel_ax.get_shared_x_axes().joined(mel_ax, frame_ax)
    assert [bar.get_width() for bar in bars_ax.patches] == pytest.approx([0.1, 0.2, 0.9, 0.3])
    assert fig.get_suptitle() == "clip  (truth: c)"
    fig = plots.attention(logmel, outputs, waveforms=waveforms(2, 4 * SEGMENT_FRAMES),
                          classes=["a", "b", "c", "d"], truth=["c"], title="clip",
                          spans=[("c", 0.5, 1.0)], snr_db=-3.04, **FEATURES)
    assert fig.get_suptitle() == "clip  (truth: c; calls c 0.50-1.00 s; SNR -3.0 dB)"


def test_attention_last_segment_covers_the_tail_frames():
    frames = 3 * SEGMENT_FRAMES + 10  # the backbone drops the 10-frame tail
    outputs = sed_outputs(batch=1, frames=frames)
    fig = plots.attention(torch.zeros(1, 1, frames, 8), outputs,
                          waveforms=waveforms(1, frames), classes=list("abcd"), **FEATURES)
    edges = plotted(fig)[3].patches[0].get_data().edges
    assert len(edges) == 4
    assert edges[-1] == pytest.approx((frames - 0.5) * HOP / SR)


def span_bands(ax) -> list[tuple[float, float, tuple]]:
    """``(start, end, edge colour)`` of each annotated-call band (dashed-edged patches)."""
    return [(patch.get_x(), patch.get_x() + patch.get_width(), patch.get_edgecolor())
            for patch in ax.patches if patch.get_linestyle() == "--"]


def test_attention_draws_the_annotated_calls_on_every_time_panel():
    outputs = sed_outputs(batch=1, frames=4 * SEGMENT_FRAMES)
    spans = [("c", 0.5, 1.2), ("a", 1.5, 1.8)]
    fig = plots.attention(torch.zeros(1, 1, 4 * SEGMENT_FRAMES, 8), outputs,
                          waveforms=waveforms(1, 4 * SEGMENT_FRAMES), classes=list("abcd"),
                          spans=spans, **FEATURES)
    mel_ax, low_ax, att_ax, seg_ax, frame_ax, bars_ax = plotted(fig)
    for ax in (mel_ax, low_ax, att_ax, seg_ax, frame_ax):
        bands = span_bands(ax)
        np.testing.assert_allclose([(start, end) for start, end, _ in bands],
                                   [(0.5, 1.2), (1.5, 1.8)])
        assert [colour for _, _, colour in bands] == [to_rgba("C2"), to_rgba("C0")]
    assert span_bands(bars_ax) == []
    # the image keeps its pixels visible: lines only there, a shaded band elsewhere
    assert mel_ax.patches[0].get_facecolor()[3] == 0 < att_ax.patches[-1].get_facecolor()[3] < 1
    assert low_ax.patches[0].get_facecolor()[3] == 0
    assert [text.get_text() for text in mel_ax.get_legend().get_texts()] == ["annotated call"]
    assert fig.get_suptitle() == "(truth: background; calls c 0.50-1.20 s, a 1.50-1.80 s)"
    assert att_ax.get_legend().get_texts()[0].get_text() != "annotated call"
    assert att_ax.patches[0].get_data().values.tolist() == pytest.approx(
        outputs["norm_att"][0, int(outputs["clipwise_output"][0].argmax())].tolist())


def test_attention_without_spans_draws_no_band_and_a_foreign_label_is_named():
    outputs = sed_outputs(batch=1, frames=2 * SEGMENT_FRAMES)
    logmel = torch.zeros(1, 1, 2 * SEGMENT_FRAMES, 8)
    audio = waveforms(1, 2 * SEGMENT_FRAMES)
    fig = plots.attention(logmel, outputs, waveforms=audio, classes=list("abcd"), **FEATURES)
    assert all(span_bands(ax) == [] for ax in fig.axes) and fig.axes[0].get_legend() is None
    with pytest.raises(DataError, match="spans: label 'whistle'"):
        plots.attention(logmel, outputs, waveforms=audio, classes=list("abcd"),
                        spans=[("whistle", 0, 1)], **FEATURES)


def comparison_outputs(norm_att_row: list[float], frames: int = 4 * SEGMENT_FRAMES,
                       classes: int = 3) -> dict[str, torch.Tensor]:
    """One clip whose class 1 has attention ``norm_att_row``; the rest flat."""
    segments = len(norm_att_row)
    norm_att = torch.full((1, classes, segments), 1 / segments)
    norm_att[0, 1] = torch.tensor(norm_att_row)
    framewise = torch.linspace(0, 1, frames * classes).reshape(1, frames, classes)
    return {"norm_att": norm_att, "framewise_output": framewise}


def test_attention_comparison_puts_one_column_per_model_with_the_mass_on_the_call():
    step = HOP / SR
    # the call lies inside segment 1 (frames 32-63)
    spans = [("b", 40 * step, 60 * step)]
    by_name = {"clamp": comparison_outputs([0.1, 0.7, 0.1, 0.1]),
               "tanh": comparison_outputs([0.25, 0.25, 0.25, 0.25]),
               "none": comparison_outputs([0.4, 0.0, 0.3, 0.3])}
    logmel = torch.randn(1, 1, 4 * SEGMENT_FRAMES, 8)
    fig = plots.attention_comparison(logmel, by_name, waveforms=waveforms(1, 4 * SEGMENT_FRAMES),
                                     spans=spans, classes=list("abc"), title="one clip",
                                     **FEATURES)
    assert len(plotted(fig)) == 4 * len(by_name)
    assert len(fig.axes) == 6 * len(by_name)  # a colour bar beside each image
    columns = [plotted(fig)[4 * column:4 * column + 4] for column in range(len(by_name))]
    masses = {"clamp": "0.70", "tanh": "0.25", "none": "0.00"}
    edges = (np.arange(5) * SEGMENT_FRAMES - 0.5) * step
    for (name, outputs), (mel_ax, low_ax, att_ax, frame_ax) in zip(by_name.items(), columns):
        assert low_ax.get_ylim() == (0.0, 250.0) and low_ax.images
        assert mel_ax.get_title().splitlines() == [
            name, f"attention on call: b {masses[name]} (flat 0.25)"]
        np.testing.assert_allclose(mel_ax.collections[0].get_array(), logmel[0, 0].numpy().T)
        bars = [patch for patch in att_ax.patches if patch.get_linestyle() != "--"]
        assert [bar.get_height() for bar in bars] == pytest.approx(
            outputs["norm_att"][0, 1].tolist())
        assert [bar.get_x() for bar in bars] == pytest.approx(edges[:-1])
        assert [bar.get_width() for bar in bars] == pytest.approx(np.diff(edges))
        flat = [line for line in att_ax.lines if line.get_linestyle() == "--"]
        assert len(flat) == 1 and list(flat[0].get_ydata()) == [0.25, 0.25]
        np.testing.assert_allclose(frame_ax.lines[0].get_ydata(),
                                   outputs["framewise_output"][0, :, 1].numpy())
        for ax in (mel_ax, low_ax, att_ax, frame_ax):
            np.testing.assert_allclose([(start, end) for start, end, _ in span_bands(ax)],
                                       [(40 * step, 60 * step)])
            assert ax.get_shared_x_axes().joined(ax, columns[0][0])
        assert att_ax.get_shared_y_axes().joined(att_ax, columns[0][2])
    assert fig.get_suptitle() == "one clip"


def test_attention_comparison_draws_each_annotated_class_side_by_side():
    frames = 3 * SEGMENT_FRAMES + 10  # the last segment also covers a 10-frame tail
    step = HOP / SR
    outputs = comparison_outputs([0.2, 0.2, 0.6], frames=frames)
    spans = [("c", 0.0, 5 * step), ("b", (frames - 4) * step, frames * step)]
    fig = plots.attention_comparison(torch.zeros(1, 1, frames, 8), {"m": outputs},
                                     waveforms=waveforms(1, frames), spans=spans,
                                     classes=list("abc"), **FEATURES)
    mel_ax, _, att_ax, _ = plotted(fig)
    assert mel_ax.get_title().splitlines()[1] == \
        "attention on call: b 0.60 (flat 0.33), c 0.33 (flat 0.33)"
    bars = [patch for patch in att_ax.patches if patch.get_linestyle() != "--"]
    edges = (np.array([0, 32, 64, frames]) - 0.5) * step
    # class b's bars take the left half of each segment, class c's the right half
    assert [bar.get_x() for bar in bars] == pytest.approx(
        [*edges[:-1], *(edges[:-1] + np.diff(edges) / 2)])
    assert [bar.get_facecolor() for bar in bars[:3]] == [to_rgba("C1")] * 3
    assert sorted(text.get_text() for text in att_ax.get_legend().get_texts()) == [
        "b", "c", "flat (1 / segments)"]
    assert list(att_ax.lines[-1].get_ydata()) == pytest.approx([1 / 3, 1 / 3])


@pytest.mark.parametrize("by_name, spans, message", [
    ({}, [("a", 0, 1)], "outputs_by_name"),
    ({"m": None}, [], "spans: no annotated call"),
    ({"m": None}, [("z", 0, 1)], "spans: label 'z'"),
])
def test_attention_comparison_names_what_is_missing(by_name, spans, message):
    if by_name:
        by_name = {"m": comparison_outputs([0.5, 0.5], frames=2 * SEGMENT_FRAMES)}
    with pytest.raises(DataError, match=message):
        plots.attention_comparison(torch.zeros(1, 1, 2 * SEGMENT_FRAMES, 8), by_name,
                                   waveforms=waveforms(1, 2 * SEGMENT_FRAMES), spans=spans,
                                   classes=list("abc"), **FEATURES)


def localisation(attention: dict, auc: dict, flat: dict) -> dict:
    """Figures shaped as ``localisation_metrics`` returns them, for the classes given."""
    return {"attention_on_call": attention, "frame_auc": auc, "flat_share": flat,
            "support": {name: 10 for name in attention},
            "mean_attention_on_call": float(np.mean([value for value in attention.values()
                                                     if value is not None])),
            "macro_frame_auc": float(np.mean(list(auc.values())))}


def test_localisation_comparison_sets_the_models_side_by_side_class_by_class():
    by_name = {"clamp": localisation({"a": 0.8, "b": 0.6}, {"a": 0.95, "b": 0.9},
                                     {"a": 0.3, "b": 0.5}),
               "tanh": localisation({"a": 0.5, "b": None}, {"a": 0.97, "b": 0.85},
                                    {"a": 0.3, "b": 0.5})}
    fig = plots.localisation_comparison(by_name, classes=["a", "b"], title="all test clips")
    attention_ax, auc_ax = fig.axes
    heights = [bar.get_height() for bar in attention_ax.patches]
    assert heights[:2] == pytest.approx([0.8, 0.6])  # clamp's bars, then tanh's
    assert heights[2] == pytest.approx(0.5) and np.isnan(heights[3])  # no figure: no bar
    assert [bar.get_height() for bar in auc_ax.patches] == pytest.approx([0.95, 0.9, 0.97, 0.85])
    np.testing.assert_allclose(attention_ax.lines[0].get_ydata(), [0.3, 0.5])  # flat
    assert [text.get_text() for text in attention_ax.get_legend().get_texts()] == [
        "clamp: mean 0.70", "tanh: mean 0.50", "flat spread"]
    assert [text.get_text() for text in auc_ax.get_legend().get_texts()] == [
        "clamp: macro 0.925", "tanh: macro 0.910"]
    assert [label.get_text() for label in attention_ax.get_xticklabels()] == ["a\n(10)",
                                                                              "b\n(10)"]
    assert fig.get_suptitle() == "all test clips"
    with pytest.raises(DataError, match="no model"):
        plots.localisation_comparison({}, classes=["a"])
