"""How well detection does on annotated recordings, and the settings chosen to make it so.

Detection itself (:func:`whalelab.detection.detect_recording`) turns a recording into
events; this module measures it against Raven tables and chooses its settings where
they may be chosen:

- :func:`threshold_sweep`: event scores at each threshold of :data:`THRESHOLDS`, how
  precision trades for recall;
- :func:`choose_detection_settings`: gating, trimming and threshold with the best event
  F1 on validation recordings;
- :func:`evaluate_recordings`: events of held-out recordings scored with intervals and
  false alarms per hour, beside the band-energy baseline (settings and baseline chosen
  on other recordings when ``validation`` is given);
- :func:`compare_gating_and_trimming`: what each of the two steps buys.

Events match as one :class:`whalelab.config.EventMatching` says, the same for choosing
the model's settings, fitting the baseline and scoring both. Every recording's events
are found as :func:`whalelab.detection.detect_recording` finds them (a sweep computes a
recording's traces once per gating choice and finds events in them for each setting,
:func:`whalelab.detection.recording.recording_events`), so what is scored here is what
``whalelab detect`` writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whalelab.atomic import write_json
from whalelab.audio import audio_info
from whalelab.baselines import event_baseline
from whalelab.checkpoint import TrainedModel, load_model, save_detection_settings
from whalelab.config import DetectConfig, EventMatching
from whalelab.detection.material import annotated_recordings, annotated_truth
from whalelab.detection.output import TABLE_SUFFIX
from whalelab.detection.recording import (detect_recording, detection_settings,
                                          recording_events, recording_traces)
from whalelab.detection.streaming import hop_frames
from whalelab.detection.traces import RecordingTraces
from whalelab.errors import DataError
from whalelab.metrics.events import event_metrics, score_events
from whalelab.runtime import progress_bar

#: detection thresholds tried on validation recordings (and drawn against each other)
THRESHOLDS = tuple(np.round(np.arange(0.1, 0.95, 0.05), 2))


def _annotated_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """:func:`annotated_recordings` of ``folder``; none is a :class:`DataError`."""
    pairs = annotated_recordings(folder)
    if not pairs:
        raise DataError(f"{folder}: no audio files with a Raven table beside them "
                        f"(NAME.wav + NAME{TABLE_SUFFIX})")
    return pairs


def _events(trained: TrainedModel, traces: Mapping[str, RecordingTraces], *,
            settings: DetectConfig) -> pd.DataFrame:
    """The events of every recording's traces with ``settings``, with a ``file`` column."""
    return pd.concat([recording_events(trace, trained.config, bands=trained.bands,
                                       settings=settings).assign(file=name)
                      for name, trace in traces.items()], ignore_index=True)


def threshold_sweep(trained: TrainedModel, traces: Mapping[str, RecordingTraces],
                    truth: pd.DataFrame, *, settings: DetectConfig,
                    matching: EventMatching = EventMatching(),
                    thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """Overall event precision, recall and F1 at each threshold: how one trades for the other.

    Parameters
    ----------
    trained : TrainedModel
        The model the traces come from (its classes, frame rate and class bands).
    traces : mapping
        ``{file: RecordingTraces}`` computed with ``settings``' gating and hop
        (:func:`whalelab.detection.recording.recording_traces`); ``truth`` carries the
        same names in a ``file`` column.
    settings : DetectConfig
        The other settings; at each threshold the low threshold is half of it (the
        fraction :func:`whalelab.events.find_events` uses when it is None).
    matching : EventMatching
        When a detected event matches an annotated one.
    thresholds : sequence of float
        Thresholds to try.

    Returns
    -------
    pandas.DataFrame
        ``threshold, precision, recall, f1, tp, fp, fn``, one row per threshold.
    """
    rows = []
    for threshold in thresholds:
        chosen = dataclasses.replace(settings, threshold=float(threshold), low_threshold=None)
        overall = event_metrics(_events(trained, traces, settings=chosen), truth,
                                trained.config.classes, matching=matching)["overall"]
        rows.append({"threshold": float(threshold), **overall})
    return pd.DataFrame(rows)


def _variants(trained: TrainedModel, pairs: Sequence[tuple[Path, Path]], *,
              order: tuple[bool, bool], batch_size: int, progress: bool | None
              ) -> Iterator[tuple[DetectConfig, dict[str, RecordingTraces]]]:
    """The run's settings with each gating and trimming choice, in ``order``, and the
    recordings' traces; the traces are computed once per gate."""
    for gate in order:
        settings = dataclasses.replace(trained.config.detect, gate=gate)
        traces = {str(audio): recording_traces(trained, audio, settings=settings,
                                               batch_size=batch_size, progress=False)
                  for audio, _ in progress_bar(pairs, progress=progress, desc="traces",
                                               unit="file")}
        for trim in order:
            yield dataclasses.replace(settings, trim=trim), traces


def choose_detection_settings(model_source: str | Path, validation: str | Path, *,
                              matching: EventMatching = EventMatching(),
                              thresholds: Sequence[float] = THRESHOLDS,
                              batch_size: int = 32, device: str = "auto",
                              progress: bool | None = None) -> tuple[DetectConfig, pd.DataFrame]:
    """The detection settings with the best overall event F1 on validation recordings.

    Every combination of ``gate`` (framewise x clipwise, or the bare framewise output),
    ``trim`` (by band contrast, or not) and ``threshold`` is scored on the recordings of
    ``validation`` (a folder of recordings with Raven tables, never the test folder),
    events matched as ``matching`` says; the other settings are the run's. Ties go to
    the simpler setting (no gate, no trim) and the higher threshold.

    Returns
    -------
    (DetectConfig, pandas.DataFrame)
        The chosen settings, and the sweep: ``gate, trim, threshold, precision, recall,
        f1, tp, fp, fn`` per combination.
    """
    pairs = _annotated_pairs(validation)
    trained = load_model(model_source, device=device)
    truth = annotated_truth(pairs, trained.config.data.label_column)
    rows = []
    for settings, traces in _variants(trained, pairs, order=(False, True),
                                      batch_size=batch_size, progress=progress):
        sweep = threshold_sweep(trained, traces, truth, settings=settings, matching=matching,
                                thresholds=thresholds)
        rows.append(sweep.assign(gate=settings.gate, trim=settings.trim))
    table = pd.concat(rows, ignore_index=True)[["gate", "trim", "threshold", "precision",
                                                 "recall", "f1", "tp", "fp", "fn"]]
    best = table.sort_values(["f1", "gate", "trim", "threshold"],
                             ascending=[False, True, True, False], kind="stable").iloc[0]
    chosen = dataclasses.replace(trained.config.detect, gate=bool(best.gate),
                                 trim=bool(best.trim), threshold=float(best.threshold),
                                 low_threshold=None)
    return chosen, table


def compare_gating_and_trimming(model_source: str | Path, data: str | Path, *,
                                matching: EventMatching = EventMatching(),
                                batch_size: int = 32, device: str = "auto",
                                progress: bool | None = None) -> pd.DataFrame:
    """Event scores on ``data`` with and without gating and trimming, the run's other
    detection settings (threshold included) kept: what each step buys.

    Returns
    -------
    pandas.DataFrame
        One row per ``(gate, trim)``: ``precision, recall, f1``, the F1 interval
        ``f1_low, f1_high`` and ``false_alarms_per_hour``.
    """
    pairs = _annotated_pairs(data)
    trained = load_model(model_source, device=device)
    config = trained.config
    truth = annotated_truth(pairs, config.data.label_column)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in pairs}
    rows = []
    for settings, traces in _variants(trained, pairs, order=(True, False),
                                      batch_size=batch_size, progress=progress):
        scored = score_events(_events(trained, traces, settings=settings), truth,
                              config.classes, hours=hours, matching=matching,
                              seed=config.train.seed)
        rows.append({"gate": settings.gate, "trim": settings.trim,
                     **{name: scored["overall"][name] for name in ("precision", "recall", "f1")},
                     "f1_low": scored["intervals_95"]["f1"][0],
                     "f1_high": scored["intervals_95"]["f1"][1],
                     "false_alarms_per_hour": scored["false_alarms_per_hour"]})
    return pd.DataFrame(rows)


def evaluate_recordings(model_source: str | Path, data: str | Path, *,
                        validation: str | Path | None = None, out: str | Path | None = None,
                        matching: EventMatching = EventMatching(),
                        overrides: Mapping[str, Any] | None = None, batch_size: int = 32,
                        device: str = "auto", progress: bool | None = None) -> dict[str, Any]:
    """Event-level precision, recall and F1 of a run on long recordings with Raven tables.

    With ``validation`` (a folder of other recordings with tables), the detection
    settings are first chosen there (:func:`choose_detection_settings`) and saved as the
    run's own, and the band-energy baseline (:func:`whalelab.baselines.event_baseline`)
    is fitted there too; both are then scored on ``data``, which no setting has seen.
    Every recording of ``data`` is detected with
    :func:`whalelab.detection.detect_recording`, exactly as ``whalelab detect`` does, and
    scored with :func:`whalelab.metrics.events.score_events` (events of different
    recordings never match), with bootstrap intervals over one-minute blocks.
    Recordings whose table is empty also give false alarms per hour. Truth is read with
    the run's label column. The result is written as JSON to ``out`` (default
    ``RUN/event_metrics.json``, or beside a model file).

    Parameters
    ----------
    matching : EventMatching
        When a detected event matches an annotated one: for choosing the model's
        settings, fitting the baseline and scoring both.
    overrides : mapping or None
        Detection settings (field names of :class:`whalelab.config.DetectConfig`; None
        values ignored) over the run's; with ``validation``, over the chosen ones.

    Returns
    -------
    dict
        :func:`whalelab.metrics.events.score_events`' dict plus ``run``, ``data``,
        ``recordings``, ``audio_hours``, the detection ``settings``, and with
        ``validation`` the ``settings_sweep`` and ``baselines``.
    """
    pairs = _annotated_pairs(data)
    source = Path(model_source)
    extra: dict[str, Any] = {}
    chosen = None
    if validation is not None:
        chosen, sweep = choose_detection_settings(model_source, validation, matching=matching,
                                                  batch_size=batch_size, device=device,
                                                  progress=progress)
        if source.is_dir():
            save_detection_settings(source, chosen)
        extra["settings_sweep"] = sweep.to_dict(orient="records")
    trained = load_model(model_source, device=device)
    config = trained.config
    settings = detection_settings(config, **{**dataclasses.asdict(chosen or config.detect),
                                             **(overrides or {})})
    truth = annotated_truth(pairs, config.data.label_column)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in pairs}
    predicted = pd.concat([detect_recording(trained, audio, settings=settings,
                                            batch_size=batch_size, progress=False)
                           .events.assign(file=str(audio))
                           for audio, _ in progress_bar(pairs, progress=progress,
                                                        desc="evaluate", unit="file")],
                          ignore_index=True)
    metrics = score_events(predicted, truth, config.classes, hours=hours, matching=matching,
                           seed=config.train.seed)
    if validation is not None:
        extra["baselines"] = {"band_energy": event_baseline(
            _annotated_pairs(validation), pairs, features=config.features,
            classes=config.classes, bands=trained.bands, label_column=config.data.label_column,
            matching=matching, min_duration_s=settings.min_duration_s,
            merge_gap_s=settings.merge_gap_s, seed=config.train.seed)}
    metrics.update({"run": str(model_source), "data": str(data), "recordings": len(pairs),
                    "audio_hours": sum(hours.values()),
                    "settings": {**dataclasses.asdict(settings),
                                 "hop_s": hop_frames(config, settings.hop_s)
                                 / config.features.frames_per_second}, **extra})
    write_json(out or (source if source.is_dir() else source.parent) / "event_metrics.json",
               metrics)
    return metrics
