"""Notebooks 03 and 04, what the model says about one clip: attention and probabilities.

:func:`attention` lays the log-mel input, ``norm_att`` and the segmentwise and framewise
outputs of the top classes on one time axis, beside the clipwise probabilities;
:func:`class_probabilities` draws those probabilities alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from whalelab.model import DENSENET_TIME_STRIDE
from whalelab.plots.style import as_image, as_numpy, draw_logmel, new_figure


def _draw_probabilities(ax, probabilities: np.ndarray, classes: Sequence[str],
                        thresholds: np.ndarray | None, truth: Sequence[str]) -> None:
    colours = ["tab:green" if name in truth else "tab:blue" for name in classes]
    positions = np.arange(len(classes))
    ax.barh(positions, probabilities, color=colours)
    if thresholds is not None:
        ax.scatter(thresholds, positions, marker="|", s=250, color="black", zorder=3,
                   label="threshold")
        ax.legend(loc="lower right", fontsize="small")
    ax.set_yticks(positions, classes)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="clipwise probability")


def class_probabilities(probabilities: Any, *, classes: Sequence[str],
                        thresholds: Any = None, truth: Sequence[str] = ()) -> Figure:
    """A clip's probability for every class as horizontal bars; true classes in green.

    Parameters
    ----------
    probabilities : array, ``(classes,)``
    thresholds : array ``(classes,)`` or None
        Decision thresholds, drawn as ticks.
    truth : sequence of str
        The clip's true classes (empty for background).

    Examples
    --------
    >>> fig = class_probabilities([0.9, 0.2], classes=["a", "b"], truth=["a"])
    >>> [float(bar.get_width()) for bar in fig.axes[0].patches]
    [0.9, 0.2]
    """
    fig = new_figure(5, 0.45 * len(classes) + 1.2)
    ax = fig.subplots()
    _draw_probabilities(ax, as_numpy(probabilities), classes,
                        None if thresholds is None else as_numpy(thresholds), truth)
    return fig


def attention(logmel_features: Any, outputs: Mapping[str, Any], *, classes: Sequence[str],
              sample_rate: int, hop_length: int, fmin: float, fmax: float, htk: bool = True,
              example: int = 0,
              top_k: int = 3, truth: Sequence[str] = (), thresholds: Any = None,
              title: str = "") -> Figure:
    """What the attention head sees and says about one clip, on one time axis.

    Left, top to bottom: the log-mel input; ``norm_att`` (where the model looks), the
    segmentwise and the framewise probabilities of the ``top_k`` classes by clipwise
    probability. Right: clipwise probabilities as bars.

    Parameters
    ----------
    logmel_features : array, ``(batch, 1, time, mel)``
        What ``WhaleSED.logmel_features`` returns for the batch.
    outputs : mapping
        ``WhaleSED`` output for the batch: ``norm_att (batch, classes, segments)``,
        ``segmentwise_output (batch, segments, classes)``,
        ``framewise_output (batch, frames, classes)``, ``clipwise_output (batch, classes)``.
    example : int
        Which clip of the batch to draw.
    truth : sequence of str
        The clip's true classes, shown in green and in the title.

    Returns
    -------
    Figure
        Five axes; the first four share x (seconds).
    """
    image = as_image(logmel_features[example])  # (time, mel)
    norm_att = as_numpy(outputs["norm_att"][example])  # (classes, segments)
    segmentwise = as_numpy(outputs["segmentwise_output"][example])  # (segments, classes)
    framewise = as_numpy(outputs["framewise_output"][example])  # (frames, classes)
    clipwise = as_numpy(outputs["clipwise_output"][example])  # (classes,)
    frames, segments = framewise.shape[0], segmentwise.shape[0]
    step = hop_length / sample_rate
    # segment s covers frames [32 s, 32 (s + 1)); the last one also the tail (segments_to_frames)
    edges = np.minimum(np.arange(segments + 1) * DENSENET_TIME_STRIDE, frames)
    edges[-1] = frames
    edges = (edges - 0.5) * step
    top = np.argsort(clipwise)[::-1][:top_k]
    colours = {k: f"C{k % 10}" for k in range(len(classes))}

    fig = new_figure(13, 8)
    grid = fig.add_gridspec(4, 2, width_ratios=(4, 1), height_ratios=(2, 1, 1, 1))
    mel_ax = fig.add_subplot(grid[0, 0])
    draw_logmel(mel_ax, image, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                fmax=fmax, htk=htk)
    mel_ax.set_title("log-mel input (level-normalised dB)", fontsize="medium")
    att_ax, seg_ax, frame_ax = (fig.add_subplot(grid[row, 0], sharex=mel_ax)
                                for row in (1, 2, 3))
    for k in top:
        att_ax.stairs(norm_att[k], edges, baseline=None, color=colours[k], linewidth=1.5,
                      label=classes[k])
        seg_ax.stairs(segmentwise[:, k], edges, baseline=None, color=colours[k], linewidth=1.5)
        frame_ax.plot(np.arange(frames) * step, framewise[:, k], color=colours[k])
    att_ax.set(ylabel="norm_att", ylim=(0, 1.15 * norm_att[top].max()),
               title="attention over segments (sums to 1 per class)")
    att_ax.legend(loc="upper right", fontsize="small", ncols=len(top))
    seg_ax.set(ylabel="probability", ylim=(0, 1.02), title="segmentwise output")
    frame_ax.set(ylabel="probability", ylim=(0, 1.02), xlabel="time (s)",
                 title="framewise output (segments spread back to frames)")
    for ax in (att_ax, seg_ax, frame_ax):
        ax.title.set_fontsize("medium")
    bars_ax = fig.add_subplot(grid[:, 1])
    _draw_probabilities(bars_ax, clipwise, classes,
                        None if thresholds is None else as_numpy(thresholds), truth)
    bars_ax.set_title("clipwise output", fontsize="medium")
    fig.suptitle(f"{title}  (truth: {', '.join(truth) or 'background'})".strip())
    return fig
