"""Notebook 05, detection: a recording's events, scores and band contrast; the threshold trade-off.

Time runs along x in seconds and frequency along y in Hz, on the mel scale of the
log-mel drawn (see :mod:`whalelab.plots.style`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> sweep = pd.DataFrame({"threshold": [0.3, 0.5], "precision": [0.6, 0.9],
...                       "recall": [0.9, 0.7], "f1": [0.72, 0.79]})
>>> [ax.get_xlabel() for ax in threshold_tradeoff(sweep).axes]
['threshold', 'recall']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from whalelab.config import DetectConfig
from whalelab.events import LOW_THRESHOLD_FRACTION
from whalelab.plots.style import as_image, as_numpy, draw_mel_bands, new_figure

TRUTH_STYLE = {"edgecolor": "white", "linestyle": "-", "linewidth": 1.5}
DETECTED_STYLE = {"linestyle": "--", "linewidth": 1.5}


def _colours(classes: Sequence[str]) -> dict[str, Any]:
    """One colour per class from the tab10 cycle, the same in every figure."""
    return {name: f"C{k % 10}" for k, name in enumerate(classes)}


def _boxes(ax, events: pd.DataFrame, span: tuple[float, float], fmin: float, fmax: float,
           style: dict[str, Any], colours: dict[str, Any] | None) -> None:
    """Events as rectangles in (seconds, Hz) coordinates, those inside ``span`` only."""
    inside = events[(events.end_s > span[0]) & (events.begin_s < span[1])]
    for event in inside.itertuples():
        low, high = np.clip([event.low_hz, event.high_hz], fmin, fmax)
        colour = {} if colours is None else {"edgecolor": colours.get(event.label, "white")}
        ax.add_patch(Rectangle((event.begin_s, low), event.end_s - event.begin_s, high - low,
                               fill=False, **{**style, **colour}))


def detection_overview(logmel: Any, probabilities: Any, *, classes: Sequence[str],
                       frames_per_second: float, fmin: float, fmax: float,
                       settings: DetectConfig, htk: bool = True,
                       truth: pd.DataFrame | None = None, detected: pd.DataFrame | None = None,
                       span: tuple[float, float] | None = None, contrast: Any = None,
                       title: str = "") -> Figure:
    """A recording's log-mel spectrogram with event boxes, and the class scores beneath.

    True events are drawn as solid white boxes, detections as dashed boxes in their
    class's colour; the traces below share the time axis, with the detection's threshold
    dashed and its low threshold (where an event ends) dotted.
    With ``contrast``, a panel between them draws each class's band contrast, which
    trims the events.

    Parameters
    ----------
    logmel : array
        ``(time, mel)`` (or ``(1, time, mel)``) log-mel in dB at ``frames_per_second``;
        frame t spans ``t / frames_per_second`` to ``(t + 1) / frames_per_second`` s.
    probabilities : array
        ``(frames, classes)`` detection scores
        (:attr:`whalelab.detection.RecordingDetection.scores`) at the same frame rate.
    fmin, fmax : float
        The mel filterbank's range in Hz, to place the bands (as
        :mod:`whalelab.plots.style` says; the y axis is in Hz on the mel scale).
    settings : DetectConfig
        The settings ``detected`` was found with: its threshold and low threshold are drawn.
    htk : bool
        The filterbank's mel scale (``FeatureConfig.htk``), to place the bands in Hz.
    truth, detected : pandas.DataFrame or None
        Events with ``begin_s, end_s, low_hz, high_hz, label``.
    span : (float, float) or None
        Seconds to show; None shows everything.
    contrast : array or None
        ``(frames, classes)`` dB by which each class's band stands above its noise floor
        (:attr:`whalelab.detection.RecordingDetection.contrast`), at the same frame rate;
        None draws no
        contrast panel.

    Returns
    -------
    Figure
        The spectrogram, the contrast panel (with ``contrast``) and the scores, sharing
        x (seconds), then the spectrogram's colour bar (dB).

    Examples
    --------
    >>> fig = detection_overview(np.zeros((100, 8)), np.zeros((100, 2)), classes=["a", "b"],
    ...                          frames_per_second=10.0, fmin=10, fmax=4000,
    ...                          settings=DetectConfig(), contrast=np.zeros((100, 2)))
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['frequency (Hz, mel scale)', 'band contrast (dB)', 'score', 'dB']
    """
    values, traces = as_image(logmel), as_numpy(probabilities)
    frames = len(values)
    span = span or (0.0, max(frames, len(traces)) / frames_per_second)
    first, stop = (int(np.floor(t * frames_per_second)) for t in span)
    first, stop = max(first, 0), min(stop, frames)
    colours = _colours(classes)
    panels = [3, 2] if contrast is None else [3, 1.5, 2]
    fig = new_figure(12, 6.5 if contrast is None else 8.5)
    spec_ax, *line_axes = fig.subplots(len(panels), 1, sharex=True, height_ratios=panels)
    draw_mel_bands(spec_ax, values[first:stop], fmin=fmin, fmax=fmax, htk=htk,
                   time_edges=np.arange(first, stop + 1) / frames_per_second)
    spec_ax.set(xlabel="", title=title)
    for events, style, palette in ((truth, TRUTH_STYLE, None),
                                   (detected, DETECTED_STYLE, colours)):
        if events is not None:
            _boxes(spec_ax, events, span, *spec_ax.get_ylim(), style, palette)
    spec_ax.legend(handles=[Line2D([], [], color="white", **{k: v for k, v in TRUTH_STYLE.items()
                                                              if k != "edgecolor"}),
                            Line2D([], [], color="grey", **DETECTED_STYLE)],
                   labels=["annotated", "detected"], loc="upper right", fontsize="small",
                   facecolor="black", labelcolor="white")
    if contrast is not None:
        _draw_traces(line_axes[0], as_numpy(contrast), first, stop, frames_per_second,
                     classes, colours)
        line_axes[0].set(ylabel="band contrast (dB)",
                         title="how far each class's band stands above its noise floor: "
                               "events are trimmed to where it is strong")
        line_axes[0].title.set_fontsize("medium")
    trace_ax = line_axes[-1]
    _draw_traces(trace_ax, traces, first, stop, frames_per_second, classes, colours)
    low_threshold = settings.low_threshold or LOW_THRESHOLD_FRACTION * settings.threshold
    trace_ax.axhline(settings.threshold, color="black", linestyle="--", linewidth=1,
                     label=f"threshold {settings.threshold:g}")
    trace_ax.axhline(low_threshold, color="black", linestyle=":", linewidth=1,
                     label=f"low threshold {low_threshold:g}")
    trace_ax.set(xlim=span, ylim=(0, 1.02), xlabel="time (s)", ylabel="score")
    trace_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def _draw_traces(ax, traces: np.ndarray, first: int, stop: int, frames_per_second: float,
                 classes: Sequence[str], colours: dict[str, Any]) -> None:
    """One line per class of ``(frames, classes)`` traces, frames ``first`` to ``stop``."""
    stop = min(stop, len(traces))
    times = (np.arange(first, stop) + 0.5) / frames_per_second  # frame centres
    for k, name in enumerate(classes):
        ax.plot(times, traces[first:stop, k], color=colours[name], label=name, linewidth=1)


def threshold_tradeoff(sweep: pd.DataFrame, *, chosen: float | None = None) -> Figure:
    """Event precision, recall and F1 against the threshold, and precision against recall.

    Parameters
    ----------
    sweep : pandas.DataFrame
        ``threshold, precision, recall, f1`` (:func:`whalelab.detection.threshold_sweep`).
    chosen : float or None
        A threshold to mark (the one detection uses).
    """
    fig = new_figure(11, 4)
    by_threshold, pr_ax = fig.subplots(1, 2)
    for column in ("precision", "recall", "f1"):
        by_threshold.plot(sweep.threshold, sweep[column], "o-", markersize=3, label=column)
    pr_ax.plot(sweep.recall, sweep.precision, "o-", markersize=3, color="tab:purple")
    for threshold, recall, precision in zip(sweep.threshold, sweep.recall, sweep.precision,
                                            strict=True):
        if np.isclose(threshold * 10, round(threshold * 10)):  # label every 0.1
            pr_ax.annotate(f"{threshold:.1f}", (recall, precision), fontsize="x-small",
                           textcoords="offset points", xytext=(3, 3))
    if chosen is not None:
        by_threshold.axvline(chosen, color="black", linestyle="--", linewidth=1,
                             label=f"used: {chosen:g}")
        row = sweep.iloc[int(np.argmin(np.abs(sweep.threshold - chosen)))]
        pr_ax.plot(row.recall, row.precision, "o", markersize=9, markerfacecolor="none",
                   color="black", label=f"threshold {row.threshold:g}")
        pr_ax.legend(fontsize="small", loc="lower left")
    by_threshold.set(xlabel="threshold", ylabel="event score", ylim=(0, 1.02),
                     title="overall (micro) event scores")
    by_threshold.legend(fontsize="small")
    pr_ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
              title="precision against recall")
    return fig
