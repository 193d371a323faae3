"""Notebook 05, detection: a recording's events, scores and band contrast; the threshold trade-off.

Time runs along x in seconds and frequency along y in Hz, on the mel scale of the
log-mel drawn (see :mod:`whalelab.plots.style`), with a low-band panel beneath it where
the lowest calls can be seen.

Every figure draws the detection threshold it is given, which has no default: a
notebook passes the run's own (``config.detect.threshold``, the one detection used).
Each threshold line carries the gid :data:`THRESHOLD_GID`, :func:`drawn_thresholds`
reads back what a figure drew and :func:`threshold_note` says it in one line of
:data:`THRESHOLD_NOTE`, which notebook 05 prints under each figure so that a test of the
executed notebook can compare it with the run's settings.

Examples
--------
>>> import numpy as np, pandas as pd
>>> sweep = pd.DataFrame({"threshold": [0.3, 0.5], "precision": [0.6, 0.9],
...                       "recall": [0.9, 0.7], "f1": [0.72, 0.79]})
>>> fig = threshold_tradeoff(sweep, threshold=0.5)
>>> [ax.get_xlabel() for ax in fig.axes], threshold_note(fig, run_threshold=0.5)
(['threshold', 'recall'], "threshold drawn 0.5 (the run's 0.5)")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from whalelab.events import LOW_THRESHOLD_FRACTION
from whalelab.plots.style import (LOW_BAND_HZ, as_image, as_numpy, draw_low_band,
                                  draw_mel_bands, new_figure)

TRUTH_STYLE = {"edgecolor": "white", "linestyle": "-", "linewidth": 1.5}
DETECTED_STYLE = {"linestyle": "--", "linewidth": 1.5}
#: the gid of every line that draws the detection threshold (not the low threshold)
THRESHOLD_GID = "detection-threshold"
#: the line notebook 05 prints under each detection figure (:func:`threshold_note`):
#: the thresholds the figure drew, then the run's own; numbers formatted with ``:g``
THRESHOLD_NOTE = "threshold drawn {drawn} (the run's {run:g})"
#: :data:`THRESHOLD_NOTE` as a regular expression, for a test that reads the notebook
THRESHOLD_NOTE_PATTERN = (r"threshold drawn (?P<drawn>[0-9.e+-]+(?:, [0-9.e+-]+)*) "
                          r"\(the run's (?P<run>[0-9.e+-]+)\)")


def _colours(classes: Sequence[str]) -> dict[str, Any]:
    """One colour per class from the tab10 cycle, the same in every figure."""
    return {name: f"C{k % 10}" for k, name in enumerate(classes)}


def _boxes(ax, events: pd.DataFrame, span: tuple[float, float], fmin: float, fmax: float,
           style: dict[str, Any], colours: dict[str, Any] | None) -> None:
    """Events as rectangles in (seconds, Hz) coordinates, those inside ``span`` and
    reaching into ``fmin``-``fmax`` only."""
    inside = events[(events.end_s > span[0]) & (events.begin_s < span[1])
                    & (events.high_hz > fmin) & (events.low_hz < fmax)]
    for event in inside.itertuples():
        low, high = np.clip([event.low_hz, event.high_hz], fmin, fmax)
        colour = {} if colours is None else {"edgecolor": colours.get(event.label, "white")}
        ax.add_patch(Rectangle((event.begin_s, low), event.end_s - event.begin_s, high - low,
                               fill=False, **{**style, **colour}))


def detection_overview(logmel: Any, probabilities: Any, *, samples: Any, sample_rate: int,
                       classes: Sequence[str], frames_per_second: float, fmin: float,
                       fmax: float, threshold: float, low_threshold: float | None = None,
                       htk: bool = True, truth: pd.DataFrame | None = None,
                       detected: pd.DataFrame | None = None,
                       span: tuple[float, float] | None = None, contrast: Any = None,
                       title: str = "") -> Figure:
    """A recording's log-mel spectrogram and its low band with event boxes, and the class
    scores beneath.

    True events are drawn as solid white boxes, detections as dashed boxes in their
    class's colour, on the full band and, where they reach below :data:`LOW_BAND_HZ`, on
    the low band (:func:`whalelab.plots.style.draw_low_band`, where blue and fin whale
    calls are more than a line); the traces below share the time axis, with the
    detection's ``threshold`` dashed (gid :data:`THRESHOLD_GID`) and its low threshold
    (where an event ends) dotted. With ``contrast``, a panel above the scores draws each
    class's band contrast, which trims the events.

    Parameters
    ----------
    logmel : array
        ``(time, mel)`` (or ``(1, time, mel)``) log-mel in dB at ``frames_per_second``;
        frame t spans ``t / frames_per_second`` to ``(t + 1) / frames_per_second`` s.
    probabilities : array
        ``(frames, classes)`` detection scores
        (:attr:`whalelab.detection.RecordingDetection.scores`) at the same frame rate.
    samples : array
        ``(samples,)`` the recording's audio at ``sample_rate``, from which the low band
        is drawn.
    fmin, fmax : float
        The mel filterbank's range in Hz, to place the bands (as
        :mod:`whalelab.plots.style` says; the y axis is in Hz on the mel scale).
    threshold : float
        The threshold ``detected`` was found with (the run's ``config.detect.threshold``):
        required, so that no figure draws a default the detection did not use.
    low_threshold : float or None
        Where the events end (``config.detect.low_threshold``); None is
        :data:`whalelab.events.LOW_THRESHOLD_FRACTION` of ``threshold``, as detection
        takes it.
    htk : bool
        The filterbank's mel scale (``FeatureConfig.htk``), to place the bands in Hz.
    truth, detected : pandas.DataFrame or None
        Events with ``begin_s, end_s, low_hz, high_hz, label``.
    span : (float, float) or None
        Seconds to show; None shows everything.
    contrast : array or None
        ``(frames, classes)`` dB by which each class's band stands above its noise floor
        (:attr:`whalelab.detection.RecordingDetection.contrast`), at the same frame rate;
        None draws no contrast panel.

    Returns
    -------
    Figure
        The spectrogram, the low band, the contrast panel (with ``contrast``) and the
        scores, sharing x (seconds), then the colour bars of the two images.

    Examples
    --------
    >>> fig = detection_overview(np.zeros((100, 8)), np.zeros((100, 2)),
    ...                          samples=np.zeros(8000), sample_rate=800, classes=["a", "b"],
    ...                          frames_per_second=10.0, fmin=10, fmax=400, threshold=0.65,
    ...                          contrast=np.zeros((100, 2)))
    >>> [ax.get_ylabel() for ax in fig.axes]  # doctest: +NORMALIZE_WHITESPACE
    ['frequency (Hz, mel scale)', 'frequency (Hz)', 'band contrast (dB)', 'score', 'dB',
     'dB below the peak']
    >>> drawn_thresholds(fig)
    [0.65]
    """
    values, traces = as_image(logmel), as_numpy(probabilities)
    frames = len(values)
    span = span or (0.0, max(frames, len(traces)) / frames_per_second)
    first, stop = (int(np.floor(t * frames_per_second)) for t in span)
    first, stop = max(first, 0), min(stop, frames)
    colours = _colours(classes)
    panels = [3, 2, 2] if contrast is None else [3, 2, 1.5, 2]
    fig = new_figure(12, 8.5 if contrast is None else 10.5)
    spec_ax, low_ax, *line_axes = fig.subplots(len(panels), 1, sharex=True,
                                               height_ratios=panels)
    draw_mel_bands(spec_ax, values[first:stop], fmin=fmin, fmax=fmax, htk=htk,
                   time_edges=np.arange(first, stop + 1) / frames_per_second)
    spec_ax.set(xlabel="", title=title)
    begin = max(0, int(round(span[0] * sample_rate)))
    audio = as_numpy(samples).ravel()[begin:int(round(span[1] * sample_rate))]
    draw_low_band(low_ax, audio, sample_rate=sample_rate, start_s=begin / sample_rate)
    low_ax.set(xlabel="")
    low_ax.set_title(f"low band, 0-{LOW_BAND_HZ:g} Hz (finer in frequency than the log-mel "
                     f"there)", fontsize="medium")
    for ax in (spec_ax, low_ax):
        for events, style, palette in ((truth, TRUTH_STYLE, None),
                                       (detected, DETECTED_STYLE, colours)):
            if events is not None:
                _boxes(ax, events, span, *ax.get_ylim(), style, palette)
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
    low_threshold = LOW_THRESHOLD_FRACTION * threshold if low_threshold is None \
        else low_threshold
    trace_ax.axhline(threshold, color="black", linestyle="--", linewidth=1,
                     label=f"threshold {threshold:g}", gid=THRESHOLD_GID)
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


def threshold_tradeoff(sweep: pd.DataFrame, *, threshold: float, title: str = "") -> Figure:
    """Event precision, recall and F1 against the threshold, and precision against recall.

    Parameters
    ----------
    sweep : pandas.DataFrame
        ``threshold, precision, recall, f1`` (:func:`whalelab.detection.threshold_sweep`).
    threshold : float
        The threshold detection uses (the run's ``config.detect.threshold``): a dashed
        line (gid :data:`THRESHOLD_GID`) on the left, and on the right a ring on the
        swept threshold nearest it.
    title : str
        Above both panels: which recordings were swept.
    """
    fig = new_figure(11, 4.3)
    by_threshold, pr_ax = fig.subplots(1, 2)
    for column in ("precision", "recall", "f1"):
        by_threshold.plot(sweep.threshold, sweep[column], "o-", markersize=3, label=column)
    pr_ax.plot(sweep.recall, sweep.precision, "o-", markersize=3, color="tab:purple")
    for swept, recall, precision in zip(sweep.threshold, sweep.recall, sweep.precision,
                                        strict=True):
        if np.isclose(swept * 10, round(swept * 10)):  # label every 0.1
            pr_ax.annotate(f"{swept:.1f}", (recall, precision), fontsize="x-small",
                           textcoords="offset points", xytext=(3, 3))
    by_threshold.axvline(threshold, color="black", linestyle="--", linewidth=1,
                         label=f"used: {threshold:g}", gid=THRESHOLD_GID)
    row = sweep.iloc[int(np.argmin(np.abs(sweep.threshold - threshold)))]
    pr_ax.plot(row.recall, row.precision, "o", markersize=9, markerfacecolor="none",
               color="black", label=f"threshold {row.threshold:g}")
    pr_ax.legend(fontsize="small", loc="lower left")
    by_threshold.set(xlabel="threshold", ylabel="event score", ylim=(0, 1.02),
                     title="overall (micro) event scores")
    by_threshold.legend(fontsize="small")
    pr_ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
              title="precision against recall")
    if title:
        fig.suptitle(title)
    return fig


def drawn_thresholds(fig: Figure) -> list[float]:
    """The detection thresholds ``fig`` draws: the lines with gid :data:`THRESHOLD_GID`,
    read from their data (a horizontal line's y, a vertical line's x), in drawing order.

    Examples
    --------
    >>> fig = new_figure(3, 2)
    >>> ax = fig.subplots()
    >>> _ = ax.axhline(0.65, gid=THRESHOLD_GID), ax.axvline(0.4, gid=THRESHOLD_GID)
    >>> _ = ax.axhline(0.3)  # another line: not a threshold
    >>> drawn_thresholds(fig)
    [0.65, 0.4]
    """
    values = []
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_gid() == THRESHOLD_GID:
                x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
                values.append(float(x[0]) if x[0] == x[-1] else float(y[0]))
    return values


def threshold_note(fig: Figure, *, run_threshold: float) -> str:
    """One line of :data:`THRESHOLD_NOTE`: the thresholds ``fig`` draws
    (:func:`drawn_thresholds`, ``none`` when it draws none) beside ``run_threshold``.

    Examples
    --------
    >>> threshold_note(new_figure(3, 2), run_threshold=0.65)
    "threshold drawn none (the run's 0.65)"
    """
    drawn = ", ".join(f"{value:g}" for value in drawn_thresholds(fig)) or "none"
    return THRESHOLD_NOTE.format(drawn=drawn, run=run_threshold)


def detected_as(event: Any, detected: pd.DataFrame) -> list[str]:
    """The labels, sorted and once each, of the ``detected`` events that overlap ``event``
    in time (of the same ``file`` where both carry one): what the detector called it.

    Parameters
    ----------
    event : pandas.Series or namedtuple
        An annotated event with ``begin_s`` and ``end_s`` (and optionally ``file``).
    detected : pandas.DataFrame
        Events with ``begin_s, end_s, label`` (and optionally ``file``).

    Examples
    --------
    >>> call = pd.Series({"begin_s": 10.0, "end_s": 12.0, "label": "humpback_whale"})
    >>> found = pd.DataFrame({"begin_s": [9.5, 11.0, 30.0], "end_s": [11.0, 13.0, 31.0],
    ...                       "label": ["killer_whale", "killer_whale", "humpback_whale"]})
    >>> detected_as(call, found)
    ['killer_whale']
    """
    overlapping = (detected.end_s > event.begin_s) & (detected.begin_s < event.end_s)
    if "file" in detected and getattr(event, "file", None) is not None:
        overlapping &= detected.file == event.file
    return sorted(set(detected.label[overlapping]))


def describe_detection(event: Any, detected: pd.DataFrame) -> str:
    """What the detector made of an annotated ``event``, for a figure's title:
    ``detected as <its label>``, ``detected as <other>, not as <its label>``, or
    ``not detected`` (by :func:`detected_as`).

    Examples
    --------
    >>> call = pd.Series({"begin_s": 10.0, "end_s": 12.0, "label": "humpback_whale"})
    >>> found = pd.DataFrame({"begin_s": [9.5], "end_s": [11.0], "label": ["killer_whale"]})
    >>> describe_detection(call, found)
    'detected as killer_whale, not as humpback_whale'
    >>> describe_detection(call, found.iloc[:0])
    'not detected'
    """
    labels = detected_as(event, detected)
    if not labels:
        return "not detected"
    named = f"detected as {' and '.join(labels)}"
    return named if event.label in labels else f"{named}, not as {event.label}"


def event_scores_compared(scores: dict[str, dict[str, Any]], *, title: str = "") -> Figure:
    """Event precision, recall and F1 of several runs side by side, each bar with its 95 %
    interval and each run's counts of true positives, false alarms and misses.

    Parameters
    ----------
    scores : dict
        ``{name: figures}`` in the order drawn, each with ``precision, recall, f1``, their
        intervals ``precision_95, recall_95, f1_95`` and ``tp, fp, fn``
        (:func:`whalelab.bench.retrain.event_figures`).
    """
    fig = new_figure(7, 3.8)
    ax = fig.subplots()
    names, figures = list(scores), ("precision", "recall", "f1")
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        run = scores[name]
        values = np.array([run[figure] for figure in figures])
        low, high = np.array([run[f"{figure}_95"] for figure in figures]).T
        ax.bar(np.arange(3) + (k - (len(names) - 1) / 2) * width, values, width,
               yerr=np.clip([values - low, high - values], 0, None), capsize=3,
               label=f"{name}: {run['tp']} found, {run['fp']} false, {run['fn']} missed")
    ax.set_xticks(np.arange(3), figures)
    ax.set(ylabel="event score (95 % interval)", ylim=(0, 1.05), title=title)
    ax.legend(fontsize="small", loc="lower right")
    return fig
