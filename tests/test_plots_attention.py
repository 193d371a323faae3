"""whalelab.plots.attention: attention panels and clipwise probabilities of one clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from whalelab import plots
from whalelab.model import DENSENET_TIME_STRIDE, segments_to_frames

SR, HOP, FMIN, FMAX = 8000, 128, 10.0, 4000.0
FEATURES = dict(sample_rate=SR, hop_length=HOP, fmin=FMIN, fmax=FMAX)


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
    segments = frames // DENSENET_TIME_STRIDE
    segmentwise = torch.rand(batch, segments, classes, generator=generator)
    attention = torch.softmax(torch.randn(batch, classes, segments, generator=generator), -1)
    return {"clipwise_output": (attention * segmentwise.transpose(1, 2)).sum(-1),
            "segmentwise_output": segmentwise,
            "framewise_output": segments_to_frames(segmentwise, frames),
            "norm_att": attention}


def test_attention_draws_the_top_classes_on_the_clip_time_axis():
    outputs = sed_outputs(frames=4 * DENSENET_TIME_STRIDE)
    # make class 2 of example 1 the top class
    outputs["clipwise_output"][1] = torch.tensor([0.1, 0.2, 0.9, 0.3])
    logmel = torch.randn(2, 1, 4 * DENSENET_TIME_STRIDE, 16)
    fig = plots.attention(logmel, outputs, example=1, classes=["a", "b", "c", "d"], top_k=2,
                          truth=["c"], title="clip", **FEATURES)
    mel_ax, att_ax, seg_ax, frame_ax, bars_ax = fig.axes
    np.testing.assert_allclose(mel_ax.images[0].get_array(), logmel[1, 0].numpy().T)
    assert [text.get_text() for text in att_ax.get_legend().get_texts()] == ["c", "d"]
    # the first stairs drawn is class c: its attention values and the clip's time span
    stairs = att_ax.patches[0]
    np.testing.assert_allclose(stairs.get_data().values, outputs["norm_att"][1, 2].numpy())
    edges = stairs.get_data().edges
    assert edges[-1] == pytest.approx(mel_ax.images[0].get_extent()[1])
    np.testing.assert_allclose(frame_ax.lines[0].get_ydata(),
                               outputs["framewise_output"][1, :, 2].numpy())
    assert mel_ax.get_shared_x_axes().joined(mel_ax, frame_ax)
    assert [bar.get_width() for bar in bars_ax.patches] == pytest.approx([0.1, 0.2, 0.9, 0.3])
    assert "truth: c" in fig.get_suptitle()


def test_attention_last_segment_covers_the_tail_frames():
    frames = 3 * DENSENET_TIME_STRIDE + 10  # the backbone drops the 10-frame tail
    outputs = sed_outputs(batch=1, frames=frames)
    fig = plots.attention(torch.zeros(1, 1, frames, 8), outputs, classes=list("abcd"),
                          **FEATURES)
    edges = fig.axes[2].patches[0].get_data().edges
    assert len(edges) == 4
    assert edges[-1] == pytest.approx((frames - 0.5) * HOP / SR)
