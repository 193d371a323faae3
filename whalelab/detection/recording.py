"""One recording to its traces and events: the one detection path.

:func:`detect_recording` is what ``whalelab detect`` writes for each file
(:func:`whalelab.detection.detect_files`), what event evaluation scores, what notebook 05
draws and what ``make bench`` times. It streams the recording through the model
(:mod:`whalelab.detection.streaming`), stitches the detection scores and band contrast
(:mod:`whalelab.detection.traces`) while it finds the gaps, and turns the traces into
events with :func:`recording_events`:

1. the scores inside gaps are zero;
2. :func:`whalelab.events.find_events` finds the events with the settings' threshold,
   low threshold, merging and minimum duration, trimmed by band contrast when
   ``settings.trim``;
3. no event ends after the recording does (the last frame's end is cut to the file's);
4. the events are cut at the gap edges (:func:`_cut_at_gaps`): none lies inside a gap.

Choosing settings may compute a recording's traces once (:func:`recording_traces`) and
find its events for many settings (:func:`recording_events`): for any settings, those
are the events :func:`detect_recording` gives.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whalelab.audio import audio_info, audio_source
from whalelab.checkpoint import TrainedModel
from whalelab.config import DetectConfig, RunConfig
from whalelab.detection.streaming import hop_frames, stitch
from whalelab.detection.traces import RecordingTraces, detection_score, gapped_traces
from whalelab.errors import ConfigError
from whalelab.events import find_events
from whalelab.runtime import progress_bar


def detection_settings(config: RunConfig, **overrides: Any) -> DetectConfig:
    """The run's detection settings (``config.json``'s ``detect``), with ``overrides``
    (field names of :class:`whalelab.config.DetectConfig`; None keeps the run's value).

    Examples
    --------
    >>> config = RunConfig.from_profile("smoke", data="", classes=["a"])
    >>> detection_settings(config, threshold=0.8, trim=None).threshold
    0.8
    """
    try:
        return dataclasses.replace(config.detect, **{name: value for name, value
                                                     in overrides.items() if value is not None})
    except TypeError as error:
        raise ConfigError(f"unknown detection setting: {error}") from None


@dataclasses.dataclass(frozen=True)
class RecordingDetection(RecordingTraces):
    """A recording's traces (:class:`whalelab.detection.traces.RecordingTraces`) and the
    events found in them.

    Attributes
    ----------
    events : pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label, score, mean_score``, sorted by begin
        time: what ``whalelab detect`` writes as the recording's Raven table.
    """

    events: pd.DataFrame


def _cut_at_gaps(events: pd.DataFrame, gaps: pd.DataFrame, scores: np.ndarray, *,
                 classes: Sequence[str], frames_per_second: float,
                 min_duration_s: float) -> pd.DataFrame:
    """``events`` without their parts inside ``gaps`` (both ``begin_s, end_s`` tables).

    An event inside a gap is dropped; one that overlaps gaps keeps its parts outside
    them that last at least ``min_duration_s``, each scored (``score``, ``mean_score``)
    on its own frames of ``scores`` ``(frames, classes)``.

    Examples
    --------
    >>> events = find_events(np.full((100, 1), 0.8), ["a"], frames_per_second=10.0)
    >>> gaps = pd.DataFrame({"begin_s": [0.0, 3.0], "end_s": [1.0, 3.15]})
    >>> _cut_at_gaps(events, gaps, np.full((100, 1), 0.8), classes=["a"],
    ...              frames_per_second=10.0, min_duration_s=0.2)[["begin_s", "end_s"]]
       begin_s  end_s
    0     1.00    3.0
    1     3.15   10.0
    """
    spans = gaps[["begin_s", "end_s"]].to_numpy()
    rows = []
    for event in events.itertuples(index=False):
        begin, parts = event.begin_s, []
        for gap_begin, gap_end in spans[(spans[:, 1] > begin) & (spans[:, 0] < event.end_s)]:
            parts.append((begin, gap_begin))
            begin = max(begin, gap_end)
        parts = [(first, last) for first, last in [*parts, (begin, event.end_s)] if last > first]
        if parts == [(event.begin_s, event.end_s)]:
            rows.append(event)
            continue
        trace = scores[:, list(classes).index(event.label)]
        for first, last in parts:
            if last - first >= min_duration_s:
                frames = trace[int(first * frames_per_second):
                               max(int(first * frames_per_second) + 1,
                                   math.ceil(last * frames_per_second))]
                rows.append(event._replace(begin_s=first, end_s=last, score=float(frames.max()),
                                           mean_score=float(frames.mean())))
    return pd.DataFrame(rows, columns=events.columns).astype(events.dtypes.to_dict())


def recording_events(traces: RecordingTraces, config: RunConfig, *,
                     bands: Mapping[str, tuple[float, float]],
                     settings: DetectConfig) -> pd.DataFrame:
    """The events in a recording's traces with ``settings`` (steps 2 to 4 above); with
    ``settings.min_scores``, a class's events scored below its floor are dropped.

    ``settings.gate`` and ``settings.hop_s`` are the traces' own (they are used when
    the traces are computed, :func:`recording_traces`).

    Returns
    -------
    pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label, score, mean_score``.
    """
    frames_per_second = config.features.frames_per_second
    events = find_events(traces.scores, config.classes, frames_per_second=frames_per_second,
                         threshold=settings.threshold, low_threshold=settings.low_threshold,
                         min_duration_s=settings.min_duration_s,
                         merge_gap_s=settings.merge_gap_s, bands=bands,
                         contrast=traces.contrast if settings.trim else None)
    events["end_s"] = events["end_s"].clip(upper=traces.duration_s)
    events = _cut_at_gaps(events, traces.gaps, traces.scores, classes=config.classes,
                          frames_per_second=frames_per_second,
                          min_duration_s=settings.min_duration_s)
    if settings.min_scores:  # a class's calibrated floor (detect --precision)
        floor = events["label"].map(settings.min_scores).fillna(0.0)
        events = events[events["score"] >= floor].reset_index(drop=True)
    return events


def recording_traces(trained: TrainedModel, path: str | Path, *, settings: DetectConfig,
                     batch_size: int = 32, channel: int | None = None,
                     progress: bool | None = None) -> RecordingTraces:
    """One recording's traces with ``settings.gate`` and ``settings.hop_s`` (step 1 above).

    A progress bar in audio seconds is shown with ``progress`` (None: only on a terminal).
    """
    config, path = trained.config, audio_source(path)
    with progress_bar(total=round(audio_info(path).duration, 1), progress=progress, unit="s",
                      desc=path.name, leave=False) as bar:
        recording = stitch(detection_score(trained.model, config, trained.bands,
                                           gate=settings.gate),
                           config, path, hop=hop_frames(config, settings.hop_s),
                           width=2 * len(config.classes), batch_size=batch_size,
                           channel=channel, device=trained.device, advance=bar.update)
    return gapped_traces(recording, config)


def detect_recording(trained: TrainedModel, path: str | Path, *,
                     settings: DetectConfig | None = None, batch_size: int = 32,
                     channel: int | None = None,
                     progress: bool | None = None) -> RecordingDetection:
    """The traces and events of one recording: what ``whalelab detect`` writes for it.

    Parameters
    ----------
    trained : TrainedModel
        The model (whose output dict holds ``framewise_output`` ``(batch, frames,
        classes)`` and ``clipwise_output`` ``(batch, classes)`` for ``(batch,
        clip_samples)`` waveforms), its run configuration and class bands
        (:func:`whalelab.checkpoint.load_model`).
    path : path, URL or RemoteFile
        An audio file of any length, format, sample rate and channel count, local or at
        an fsspec URL (read in ranges: :mod:`whalelab.audio.remote`).
    settings : DetectConfig or None
        None: the run's own (``config.json``'s ``detect``).
    batch_size : int
        Windows per forward pass.
    channel : int or None
        Use this channel (0-based) of a multi-channel file; None mixes them.
    progress : bool or None
        Show a progress bar in audio seconds (None: only on a terminal).

    Returns
    -------
    RecordingDetection
        ``scores`` and ``contrast`` (float32 ``(frames, classes)`` at the run's frame
        rate, ``frames = 1 + samples // hop_length``), ``gaps``, ``duration_s`` and
        ``events``.

    Raises
    ------
    AudioError
        The file is missing, unreadable or corrupt, or ``channel`` is out of range.
    ConfigError
        Settings that do not fit the run (such as a ``hop_s`` longer than a clip).
    """
    settings = trained.config.detect if settings is None else settings
    traces = recording_traces(trained, path, settings=settings, batch_size=batch_size,
                              channel=channel, progress=progress)
    events = recording_events(traces, trained.config, bands=trained.bands, settings=settings)
    return RecordingDetection(**{field.name: getattr(traces, field.name)
                                 for field in dataclasses.fields(traces)}, events=events)
