"""Notebooks 03 and 04, what the model says about one clip: attention and probabilities.

:func:`attention` lays the log-mel input, its low band, ``norm_att`` and the segmentwise
and framewise outputs of the top classes on one time axis, beside the clipwise
probabilities; :func:`attention_comparison` sets several models side by side on one
clip, against its annotated calls, and :func:`localisation_comparison` over every
held-out clip, class by class; :func:`class_probabilities` draws the probabilities alone.

Blue and fin whales call below 100 Hz, a few rows of a log-mel image that reaches 4 kHz:
every spectrogram here has a low-band panel beneath it
(:func:`whalelab.plots.style.draw_low_band`, 0 to
:data:`~whalelab.plots.style.LOW_BAND_HZ`), drawn from the clip's audio, where their
calls can be seen.

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
from matplotlib.image import AxesImage

from whalelab.errors import DataError
from whalelab.metrics.localisation import call_segments
from whalelab.plots.style import (LOW_BAND_HZ, as_image, as_numpy, draw_logmel, draw_low_band,
                                  new_figure)

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
        image = any(isinstance(artist, QuadMesh) for artist in ax.collections) or any(
            isinstance(artist, AxesImage) for artist in ax.images)
        for number, (label, start, end) in enumerate(spans):
            colour = _colour(_class_index(label, classes))
            ax.axvspan(start, end, facecolor="none" if image else to_rgba(colour, 0.15),
                       edgecolor=colour, linestyle="--", linewidth=2 if image else 1.2,
                       label="annotated call" if ax is legend_ax and number == 0 else None)
    if legend_ax is not None and spans:
        legend_ax.legend(loc="upper right", fontsize="small")


def _draw_low_band(ax, waveform: Any, *, sample_rate: int) -> None:
    """The clip's low band (``(samples,)`` audio) on ``ax``, titled, with its colour bar."""
    draw_low_band(ax, as_numpy(waveform).ravel(), sample_rate=sample_rate)
    ax.set_xlabel("")
    ax.set_title(f"low band, 0-{LOW_BAND_HZ:g} Hz, from the audio (finer in frequency than "
                 f"the log-mel there)", fontsize="medium")


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


def attention(logmel_features: Any, outputs: Mapping[str, Any], *, waveforms: Any,
              classes: Sequence[str], sample_rate: int, hop_length: int, fmin: float,
              fmax: float, segment_frames: int, htk: bool = True, example: int = 0,
              top_k: int = 3, truth: Sequence[str] = (), thresholds: Any = None,
              title: str = "", spans: Sequence[Span] | None = None,
              snr_db: float | None = None) -> Figure:
    """What the attention head sees and says about one clip, on one time axis.

    Left, top to bottom: the log-mel input; its low band (from the audio); ``norm_att``
    (where the model looks), the segmentwise and the framewise probabilities of the
    ``top_k`` classes by clipwise probability. Right: clipwise probabilities as bars.

    Parameters
    ----------
    logmel_features : array, ``(batch, 1, time, mel)``
        What ``WhaleSED.logmel_features`` returns for the batch.
    waveforms : array, ``(batch, samples)``
        The batch's audio at ``sample_rate``, from which the low band is drawn.
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
        Annotated calls, drawn on the five time axes in the class colour (a legend entry
        "annotated call" on the log-mel panel) and named in the title.
    snr_db : float or None
        The signal-to-noise ratio of the clip's faintest call, where the data states it
        (:attr:`whalelab.data.Clip.snr_db`): said in the title.

    Returns
    -------
    Figure
        Six axes, the first five sharing x (seconds), and the colour bars of the two
        images.

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

    fig = new_figure(13, 10)
    grid = fig.add_gridspec(5, 2, width_ratios=(4, 1), height_ratios=(2, 1.3, 1, 1, 1))
    mel_ax = fig.add_subplot(grid[0, 0])
    draw_logmel(mel_ax, image, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                fmax=fmax, htk=htk, unit="dB (level-normalised)")
    mel_ax.set_title("log-mel input (level-normalised dB)", fontsize="medium")
    low_ax, att_ax, seg_ax, frame_ax = (fig.add_subplot(grid[row, 0], sharex=mel_ax)
                                        for row in (1, 2, 3, 4))
    _draw_low_band(low_ax, waveforms[example], sample_rate=sample_rate)
    mel_ax.set_xlim(*mel_ax.collections[0].get_coordinates()[0, [0, -1], 0])  # the log-mel's
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
    _draw_spans((mel_ax, low_ax, att_ax, seg_ax, frame_ax), spans or (), classes,
                legend_ax=mel_ax)
    bars_ax = fig.add_subplot(grid[:, 1])
    _draw_probabilities(bars_ax, clipwise, classes,
                        None if thresholds is None else as_numpy(thresholds), truth)
    bars_ax.set_title("clipwise output", fontsize="medium")
    said = [f"truth: {', '.join(truth) or 'background'}"]
    if spans:
        said.append("calls " + ", ".join(f"{label} {start:.2f}-{end:.2f} s"
                                         for label, start, end in spans))
    if snr_db is not None:
        said.append(f"SNR {snr_db:.1f} dB" + (" (the faintest call's)" if len(spans or ()) > 1
                                             else ""))
    fig.suptitle(f"{title}  ({'; '.join(said)})".strip())
    return fig


def attention_comparison(logmel_features: Any, outputs_by_name: Mapping[str, Mapping[str, Any]],
                         *, waveforms: Any, spans: Sequence[Span], classes: Sequence[str],
                         sample_rate: int, hop_length: int, fmin: float, fmax: float,
                         segment_frames: int, htk: bool = True, example: int = 0,
                         title: str = "") -> Figure:
    """Several models' attention on the same clip, one column each, against its calls.

    Rows: the log-mel input with the annotated calls; its low band (from the audio);
    ``norm_att`` of each annotated class
    as bars per segment, with a dashed line at the flat level ``1 / segments``; the
    framewise output of each annotated class. Each column's title gives the attention
    mass on the call (the ``norm_att`` of the segments the call overlaps, as
    :func:`whalelab.metrics.localisation.localisation_metrics` counts it) beside the flat share.

    Parameters
    ----------
    logmel_features : array, ``(batch, 1, time, mel)``
        The batch's log-mel input (the models share the front end).
    waveforms : array, ``(batch, samples)``
        The batch's audio at ``sample_rate``, from which the low band is drawn.
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
        Four rows of axes, one column per model; all share x (seconds), the attention
        row also shares y. Each image has its colour bar.

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
    ...                            waveforms=torch.zeros(1, 16384), spans=[("b", 0.6, 1.0)],
    ...                            classes=["a", "b"], sample_rate=8000, hop_length=128,
    ...                            fmin=10, fmax=4000, segment_frames=32)
    >>> len(fig.axes), fig.axes[0].get_title().splitlines()  # 2 x 4 axes, 4 colour bars
    (12, ['clamp', 'attention on call: b 0.25 (flat 0.25)'])
    """
    if not outputs_by_name:
        raise DataError("outputs_by_name: no model to compare")
    if not spans:
        raise DataError("spans: no annotated call to compare attention against")
    image = as_image(logmel_features[example])  # (time, mel)
    frames, step = image.shape[0], hop_length / sample_rate
    shown = sorted({_class_index(label, classes) for label, _, _ in spans})
    fig = new_figure(4.5 * len(outputs_by_name) + 1, 9.5)
    grid = fig.add_gridspec(4, len(outputs_by_name), height_ratios=(2, 1.3, 1, 1))
    first_mel = first_att = None
    top = 0.0
    for column, (name, outputs) in enumerate(outputs_by_name.items()):
        norm_att = as_numpy(outputs["norm_att"][example])  # (classes, segments)
        framewise = as_numpy(outputs["framewise_output"][example])  # (frames, classes)
        segments = norm_att.shape[1]
        edges = _segment_edges(frames, segments, step, segment_frames)
        mel_ax = fig.add_subplot(grid[0, column], sharex=first_mel)
        low_ax = fig.add_subplot(grid[1, column], sharex=mel_ax)
        att_ax = fig.add_subplot(grid[2, column], sharex=mel_ax, sharey=first_att)
        frame_ax = fig.add_subplot(grid[3, column], sharex=mel_ax)
        first_mel, first_att = first_mel or mel_ax, first_att or att_ax
        draw_logmel(mel_ax, image, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                    fmax=fmax, htk=htk, unit="dB (level-normalised)")
        _draw_low_band(low_ax, waveforms[example], sample_rate=sample_rate)
        low_ax.set_title(f"low band, 0-{LOW_BAND_HZ:g} Hz", fontsize="medium")  # narrow column
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
        _draw_spans((mel_ax, low_ax, att_ax, frame_ax), spans, classes,
                    legend_ax=mel_ax if column == 0 else None)
    first_att.set_ylim(0, 1.15 * top)
    first_mel.set_xlim(*first_mel.collections[0].get_coordinates()[0, [0, -1], 0])
    if title:
        fig.suptitle(title)
    return fig


def localisation_comparison(localisation: Mapping[str, Mapping[str, Any]], *,
                            classes: Sequence[str], title: str = "") -> Figure:
    """Where several models look, over the same held-out clips, class by class.

    Left: the attention on the call, the mean ``norm_att`` on the segments a call
    overlaps, one bar per model and class, with a black tick at what a flat spread would
    put there. Right: the frame AUC of the framewise output. Each legend entry gives the
    model's mean over every (clip, class) pair holding a call, and its macro frame AUC.

    Parameters
    ----------
    localisation : mapping of str to dict
        Each model's :func:`whalelab.metrics.localisation.localisation_metrics` on the
        same clips, e.g. ``{"clamp": ..., "tanh": ...}``.
    classes : sequence of str
        The classes to draw, in order; a class a model has no figure for gets no bar.

    Returns
    -------
    Figure
        Two axes sharing x (the classes, each with its number of calls).

    Raises
    ------
    DataError
        When there is no model.

    Examples
    --------
    >>> figures = {"frame_auc": {"a": 0.9}, "attention_on_call": {"a": 0.7},
    ...            "flat_share": {"a": 0.3}, "support": {"a": 12},
    ...            "mean_attention_on_call": 0.7, "macro_frame_auc": 0.9}
    >>> fig = localisation_comparison({"clamp": figures}, classes=["a"])
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['clamp: mean 0.70', 'flat spread']
    """
    if not localisation:
        raise DataError("localisation: no model to compare")
    positions = np.arange(len(classes))
    width = 0.8 / len(localisation)
    fig = new_figure(max(10.0, 1.6 * len(classes) + 5), 4.2)
    attention_ax, auc_ax = fig.subplots(1, 2, sharex=True)

    def values(figures: Mapping[str, Any], key: str) -> np.ndarray:
        return np.array([np.nan if figures[key].get(name) is None else figures[key][name]
                         for name in classes], dtype=float)

    lowest, bars = 0.5, []
    for number, (name, figures) in enumerate(localisation.items()):
        left = positions - 0.4 + number * width
        bars.append(attention_ax.bar(
            left, values(figures, "attention_on_call"), width=width, align="edge",
            color=f"C{number}", label=f"{name}: mean {figures['mean_attention_on_call']:.2f}"))
        auc = values(figures, "frame_auc")
        auc_ax.bar(left, auc, width=width, align="edge", color=f"C{number}",
                   label=f"{name}: macro {figures['macro_frame_auc']:.3f}")
        lowest = min(lowest, np.floor(10 * np.nanmin(auc, initial=1.0)) / 10)
    first = next(iter(localisation.values()))
    bars += attention_ax.plot(positions, values(first, "flat_share"), linestyle="none",
                              marker="_", markersize=24, markeredgewidth=2, color="black",
                              label="flat spread")
    counts = [first["support"].get(name, 0) for name in classes]
    attention_ax.set_xticks(positions, [f"{name}\n({count})" for name, count in
                                        zip(classes, counts)], fontsize="small", rotation=30,
                            ha="right", rotation_mode="anchor")
    attention_ax.set(ylim=(0, 1.05), ylabel="norm_att on the call",
                     title="attention on the call (calls per class)")
    auc_ax.set(ylim=(lowest, 1.0), ylabel="frame AUC", title="framewise output: frame AUC")
    attention_ax.legend(handles=bars, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                        fontsize="small")
    auc_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    for ax in (attention_ax, auc_ax):
        ax.title.set_fontsize("medium")
    auc_ax.tick_params(axis="x", labelbottom=True, labelrotation=30, labelsize="small")
    for label in auc_ax.get_xticklabels():
        label.set(ha="right", rotation_mode="anchor")
    if title:
        fig.suptitle(title)
    return fig
