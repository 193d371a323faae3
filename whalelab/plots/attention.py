"""Notebooks 03 and 04, what the model says about one clip: attention and probabilities.

:func:`attention` lays the log-mel input, ``norm_att`` and the segmentwise and framewise
outputs of the top classes on one time axis, beside the clipwise probabilities;
:func:`attention_comparison` sets several models side by side on one clip, against its
annotated calls; :func:`class_probabilities` draws the probabilities alone.

Annotated calls (``spans``) are ``(label, start_s, end_s)`` triples in seconds within the
clip, drawn in their class's colour on every time axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.collections import QuadMesh
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from whalelab.errors import DataError
from whalelab.metrics.localisation import call_segments
from whalelab.plots.style import as_image, as_numpy, draw_logmel, new_figure

Span = tuple[str, float, float]


def _colour(k: int) -> str:
    """The colour of class index ``k`` in every attention figure."""
    return f"C{k % 10}"


def _segment_edges(frames: int, segments: int, step: float, segment_frames: int) -> np.ndarray:
    """``(segments + 1,)`` segment boundaries in seconds on the frame-centred time axis.

    Segment s covers frames [n s, n (s + 1)), ``n = segment_frames``; the last one also
    the tail (``whalelab.model.segments_to_frames``).
    """
    edges = np.minimum(np.arange(segments + 1) * segment_frames, frames)
    edges[-1] = frames
    return (edges - 0.5) * step


def _class_index(label: str, classes: Sequence[str]) -> int:
    if label not in classes:
        raise DataError(f"spans: label {label!r} is not one of the classes {list(classes)}")
    return list(classes).index(label)


def _draw_spans(axes, spans: Sequence[Span], classes: Sequence[str], *,
                legend_ax=None) -> None:
    """Each annotated call as a band between dashed lines, in its class colour, on ``axes``.

    Spectrograms get (bolder) lines only, so the call stays visible; ``legend_ax`` gets a
    legend entry "annotated call".
    """
    for ax in axes:
        image = any(isinstance(artist, QuadMesh) for artist in ax.collections)
        for number, (label, start, end) in enumerate(spans):
            colour = _colour(_class_index(label, classes))
            ax.axvspan(start, end, facecolor="none" if image else to_rgba(colour, 0.15),
                       edgecolor=colour, linestyle="--", linewidth=2 if image else 1.2,
                       label="annotated call" if ax is legend_ax and number == 0 else None)
    if legend_ax is not None and spans:
        legend_ax.legend(loc="upper right", fontsize="small")


def _call_frames(spans: Sequence[Span], label: str, frames: int, step: float) -> np.ndarray:
    """``(frames,)`` bool: the frames (centred, ``step`` s apart) that a call of ``label``
    overlaps."""
    times = np.arange(frames) * step
    positive = np.zeros(frames, bool)
    for name, start, end in spans:
        if name == label:
            positive |= (times + step / 2 > start) & (times - step / 2 < end)
    return positive


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
              sample_rate: int, hop_length: int, fmin: float, fmax: float, segment_frames: int,
              htk: bool = True, example: int = 0,
              top_k: int = 3, truth: Sequence[str] = (), thresholds: Any = None,
              title: str = "", spans: Sequence[Span] | None = None) -> Figure:
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
    segment_frames : int
        Log-mel frames per segment: the model's ``segment_frames`` (its backbone's).
    example : int
        Which clip of the batch to draw.
    truth : sequence of str
        The clip's true classes, shown in green and in the title.
    spans : sequence of ``(label, start_s, end_s)`` or None
        Annotated calls, drawn on the four time axes in the class colour (a legend entry
        "annotated call" on the log-mel panel).

    Returns
    -------
    Figure
        Five axes, the first four sharing x (seconds), and the log-mel's colour bar.

    Raises
    ------
    DataError
        When a span's label is not one of ``classes``.
    """
    image = as_image(logmel_features[example])  # (time, mel)
    norm_att = as_numpy(outputs["norm_att"][example])  # (classes, segments)
    segmentwise = as_numpy(outputs["segmentwise_output"][example])  # (segments, classes)
    framewise = as_numpy(outputs["framewise_output"][example])  # (frames, classes)
    clipwise = as_numpy(outputs["clipwise_output"][example])  # (classes,)
    frames, segments = framewise.shape[0], segmentwise.shape[0]
    step = hop_length / sample_rate
    edges = _segment_edges(frames, segments, step, segment_frames)
    top = np.argsort(clipwise)[::-1][:top_k]

    fig = new_figure(13, 8)
    grid = fig.add_gridspec(4, 2, width_ratios=(4, 1), height_ratios=(2, 1, 1, 1))
    mel_ax = fig.add_subplot(grid[0, 0])
    draw_logmel(mel_ax, image, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                fmax=fmax, htk=htk, unit="dB (level-normalised)")
    mel_ax.set_title("log-mel input (level-normalised dB)", fontsize="medium")
    att_ax, seg_ax, frame_ax = (fig.add_subplot(grid[row, 0], sharex=mel_ax)
                                for row in (1, 2, 3))
    for k in top:
        att_ax.stairs(norm_att[k], edges, baseline=None, color=_colour(k), linewidth=1.5,
                      label=classes[k])
        seg_ax.stairs(segmentwise[:, k], edges, baseline=None, color=_colour(k), linewidth=1.5)
        frame_ax.plot(np.arange(frames) * step, framewise[:, k], color=_colour(k))
    att_ax.set(ylabel="norm_att", ylim=(0, 1.15 * norm_att[top].max()),
               title="attention over segments (sums to 1 per class)")
    att_ax.legend(loc="upper right", fontsize="small", ncols=len(top))
    seg_ax.set(ylabel="probability", ylim=(0, 1.02), title="segmentwise output")
    frame_ax.set(ylabel="probability", ylim=(0, 1.02), xlabel="time (s)",
                 title="framewise output (segments spread back to frames)")
    for ax in (att_ax, seg_ax, frame_ax):
        ax.title.set_fontsize("medium")
    _draw_spans((mel_ax, att_ax, seg_ax, frame_ax), spans or (), classes, legend_ax=mel_ax)
    bars_ax = fig.add_subplot(grid[:, 1])
    _draw_probabilities(bars_ax, clipwise, classes,
                        None if thresholds is None else as_numpy(thresholds), truth)
    bars_ax.set_title("clipwise output", fontsize="medium")
    fig.suptitle(f"{title}  (truth: {', '.join(truth) or 'background'})".strip())
    return fig


def attention_comparison(logmel_features: Any, outputs_by_name: Mapping[str, Mapping[str, Any]],
                         *, spans: Sequence[Span], classes: Sequence[str], sample_rate: int,
                         hop_length: int, fmin: float, fmax: float, segment_frames: int,
                         htk: bool = True,
                         example: int = 0, title: str = "") -> Figure:
    """Several models' attention on the same clip, one column each, against its calls.

    Rows: the log-mel input with the annotated calls; ``norm_att`` of each annotated class
    as bars per segment, with a dashed line at the flat level ``1 / segments``; the
    framewise output of each annotated class. Each column's title gives the attention
    mass on the call (the ``norm_att`` of the segments the call overlaps, as
    :func:`whalelab.metrics.localisation.localisation_metrics` counts it) beside the flat share.

    Parameters
    ----------
    logmel_features : array, ``(batch, 1, time, mel)``
        The batch's log-mel input (the models share the front end).
    outputs_by_name : mapping of str to mapping
        Each model's ``WhaleSED`` output for the batch, e.g. ``{"clamp": ..., "tanh": ...}``:
        ``norm_att (batch, classes, segments)`` and ``framewise_output (batch, frames,
        classes)`` are drawn.
    spans : sequence of ``(label, start_s, end_s)``
        The clip's annotated calls; their labels are the classes drawn.
    example : int
        Which clip of the batch to draw.

    Returns
    -------
    Figure
        Three rows of axes, one column per model; all share x (seconds), the attention
        row also shares y. Each log-mel has its colour bar.

    Raises
    ------
    DataError
        When there is no model, no span, or a span's label is not one of ``classes``.

    Examples
    --------
    >>> import torch
    >>> outputs = {"norm_att": torch.full((1, 2, 4), 0.25),
    ...            "framewise_output": torch.rand(1, 128, 2)}
    >>> fig = attention_comparison(torch.zeros(1, 1, 128, 8), {"clamp": outputs, "tanh": outputs},
    ...                            spans=[("b", 0.6, 1.0)], classes=["a", "b"], sample_rate=8000,
    ...                            hop_length=128, fmin=10, fmax=4000, segment_frames=32)
    >>> len(fig.axes), fig.axes[0].get_title().splitlines()  # 2 x 3 axes, 2 colour bars
    (8, ['clamp', 'attention on call: b 0.25 (flat 0.25)'])
    """
    if not outputs_by_name:
        raise DataError("outputs_by_name: no model to compare")
    if not spans:
        raise DataError("spans: no annotated call to compare attention against")
    image = as_image(logmel_features[example])  # (time, mel)
    frames, step = image.shape[0], hop_length / sample_rate
    shown = sorted({_class_index(label, classes) for label, _, _ in spans})
    fig = new_figure(4.5 * len(outputs_by_name) + 1, 7.5)
    grid = fig.add_gridspec(3, len(outputs_by_name), height_ratios=(2, 1, 1))
    first_mel = first_att = None
    top = 0.0
    for column, (name, outputs) in enumerate(outputs_by_name.items()):
        norm_att = as_numpy(outputs["norm_att"][example])  # (classes, segments)
        framewise = as_numpy(outputs["framewise_output"][example])  # (frames, classes)
        segments = norm_att.shape[1]
        edges = _segment_edges(frames, segments, step, segment_frames)
        mel_ax = fig.add_subplot(grid[0, column], sharex=first_mel)
        att_ax = fig.add_subplot(grid[1, column], sharex=mel_ax, sharey=first_att)
        frame_ax = fig.add_subplot(grid[2, column], sharex=mel_ax)
        first_mel, first_att = first_mel or mel_ax, first_att or att_ax
        draw_logmel(mel_ax, image, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                    fmax=fmax, htk=htk, unit="dB (level-normalised)")
        masses = []
        for offset, k in enumerate(shown):
            width = np.diff(edges) / len(shown)
            att_ax.bar(edges[:-1] + offset * width, norm_att[k], width=width, align="edge",
                       color=_colour(k), label=classes[k])
            frame_ax.plot(np.arange(frames) * step, framewise[:, k], color=_colour(k),
                          label=classes[k])
            overlap = call_segments(_call_frames(spans, classes[k], frames, step), segments,
                                    segment_frames=segment_frames)  # (segments,)
            masses.append(f"{classes[k]} {norm_att[k, overlap].sum():.2f} "
                          f"(flat {overlap.mean():.2f})")
        att_ax.axhline(1 / segments, color="black", linestyle="--", linewidth=1,
                       label="flat (1 / segments)")
        att_ax.set(ylabel="norm_att", title="attention per segment")
        top = max(top, 1 / segments, norm_att[shown].max())
        att_ax.legend(loc="upper right", fontsize="small")
        frame_ax.set(ylabel="probability", ylim=(0, 1.02), xlabel="time (s)",
                     title="framewise output")
        for ax in (att_ax, frame_ax):
            ax.title.set_fontsize("medium")
        mel_ax.set_title(f"{name}\nattention on call: {', '.join(masses)}", fontsize="medium")
        _draw_spans((mel_ax, att_ax, frame_ax), spans, classes,
                    legend_ax=mel_ax if column == 0 else None)
    first_att.set_ylim(0, 1.15 * top)
    if title:
        fig.suptitle(title)
    return fig
