"""The event baseline: band energy above a per-class dB threshold.

:class:`EnergyDetector` streams a recording through the band contrast of
:class:`whalelab.band_contrast.BandContrast` (dB of each class's band above its noise
floor), window by window as :class:`whalelab.audio.Windows` cuts them, and finds
events where a class's contrast reaches its threshold; the thresholds are chosen for
the best event F1 on validation recordings. :func:`event_baseline` scores it on the
test recordings exactly as the model's events are scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from whalelab.audio import BLOCK_SECONDS, Window, Windows, audio_info, stream_audio
from whalelab.band_contrast import BandContrast
from whalelab.config import DetectConfig, EventMatching, FeatureConfig
from whalelab.errors import ConfigError, DataError
from whalelab.events import EVENT_COLUMNS, find_file_events
from whalelab.metrics.events import event_metrics, score_events
from whalelab.raven import read_raven

EVENT_METHOD = "band-energy detector: band contrast above a per-class dB threshold"
#: dB thresholds :class:`EnergyDetector` chooses from on validation
THRESHOLDS_DB = tuple(float(value) for value in np.arange(1.0, 41.0))


class EnergyDetector:
    """Events where a class's band stands a per-class number of dB above its noise floor.

    The trace of a recording is :class:`whalelab.band_contrast.BandContrast` over
    clip-length windows every half clip, read block by block
    (:func:`whalelab.audio.stream_audio`): each frame takes its value from the window
    it lies nearest the middle of (the central half of each window; the first and last
    windows also give the recording's edges), so that every frame's noise floor comes
    from about a clip of audio around it. A recording shorter than a clip is tiled into
    one window (:class:`whalelab.audio.Windows`), never padded with silence, and the
    frames of its centred copy are its trace. Memory: one read block plus one window,
    and the ``(frames, classes)`` float32 trace.

    Events follow :func:`whalelab.events.find_events` on each class's trace divided by
    the class's threshold with threshold 1: an event starts where the contrast reaches
    the class's threshold in dB and continues down to half of it (hysteresis); events
    closer than ``merge_gap_s`` merge, shorter than ``min_duration_s`` are dropped.
    ``score`` and ``mean_score`` are the peak and mean contrast in dB.

    Parameters
    ----------
    features : FeatureConfig
        The run's log-mel settings.
    bands : mapping
        ``{class: (low_hz, high_hz)}`` (a class without one uses every mel band).
    classes : sequence of str
        Class order.
    min_duration_s, merge_gap_s : float
        As :class:`whalelab.config.DetectConfig` (its defaults).
    batch_size : int
        Windows per pass through the log-mel.

    Attributes
    ----------
    thresholds_db : dict
        ``{class: dB}``, after :meth:`fit` (or set by hand).
    """

    def __init__(self, features: FeatureConfig, bands: Mapping[str, tuple[float, float]],
                 classes: Sequence[str], *,
                 min_duration_s: float = DetectConfig.min_duration_s,
                 merge_gap_s: float = DetectConfig.merge_gap_s, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
        self.features, self.bands, self.classes = features, dict(bands), list(classes)
        self.min_duration_s, self.merge_gap_s = min_duration_s, merge_gap_s
        self.batch_size = batch_size
        self.band_contrast = BandContrast(features, self.bands, self.classes)
        self.thresholds_db: dict[str, float] = {}

    def _batches(self, windows: Windows) -> Iterator[tuple[list[int], np.ndarray]]:
        """Window starts and their contrast ``(batch, frames, classes)``, batch by batch."""
        batch: list[Window] = []
        for window in windows:
            batch.append(window)
            if len(batch) == self.batch_size:
                yield self._contrast(batch)
                batch = []
        if batch:
            yield self._contrast(batch)

    def _contrast(self, batch: list[Window]) -> tuple[list[int], np.ndarray]:
        waveforms = torch.from_numpy(np.stack([window.samples for window in batch]))
        with torch.inference_mode():
            contrast = self.band_contrast(waveforms)  # (batch, frames, classes)
        return [window.start for window in batch], contrast.numpy()

    def contrast(self, path: str | Path, *, channel: int | None = None) -> np.ndarray:
        """The band contrast of a whole recording, read as a stream.

        Returns
        -------
        numpy.ndarray
            float32 ``(frames, classes)`` dB at ``features.frames_per_second``, with
            ``frames = 1 + samples // hop_length`` (frame ``f`` at ``f / fps`` seconds).

        Raises
        ------
        AudioError
            The file is missing, unreadable or corrupt, or ``channel`` is out of range.
        """
        features = self.features
        step, hop = features.hop_length, max(1, features.n_frames // 2)
        margin = (features.n_frames - hop) // 2  # a window gives frames [margin, margin + hop)
        windows = Windows(stream_audio(path, features.sample_rate, block_seconds=BLOCK_SECONDS,
                                       channel=channel),
                          clip=features.clip_samples, hop=hop * step, step=step)
        pieces, done = [], 0  # done: frames given so far
        for starts, traces in self._batches(windows):
            for start, trace in zip(starts, traces, strict=True):
                first = start // step
                stop = max(done, first + margin + hop)
                pieces.append(trace[done - first:stop - first])
                done = stop
        frames = 1 + windows.samples // step
        pieces.append(trace[done - first:frames - first])  # the last window gives the rest
        return np.concatenate(pieces)[:frames]

    def _events(self, traces: Mapping[str, np.ndarray], classes: Sequence[str],
                thresholds_db: np.ndarray) -> pd.DataFrame:
        """Events of ``{file: (frames, classes) contrast}`` at ``(classes,)`` dB thresholds,
        with a ``file`` column; none ends after its recording does."""
        found = find_file_events({name: trace / thresholds_db for name, trace in traces.items()},
                                 classes, frames_per_second=self.features.frames_per_second,
                                 threshold=1.0, min_duration_s=self.min_duration_s,
                                 merge_gap_s=self.merge_gap_s, bands=self.bands)
        decibels = found["label"].map(dict(zip(classes, thresholds_db, strict=True)))
        duration = found["file"].map({name: audio_info(name).duration for name in traces})
        return found.assign(score=found["score"] * decibels,
                            mean_score=found["mean_score"] * decibels,
                            end_s=np.minimum(found["end_s"], duration)).astype(
            {name: float for name in EVENT_COLUMNS if name != "label"})

    def fit(self, recordings: Sequence[tuple[str | Path, str | Path]], *,
            label_column: str = "Species", matching: EventMatching = EventMatching(),
            grid: Sequence[float] = THRESHOLDS_DB) -> EnergyDetector:
        """Choose each class's dB threshold on annotated (validation) recordings.

        Per class, every threshold of ``grid`` is scored with
        :func:`whalelab.metrics.events.event_metrics` over all the recordings; the chosen
        one has the best F1 (a class without true events: the fewest false positives, so
        that it keeps quiet), and among thresholds that tie, the middle one, away from the
        edges of the plateau.

        Parameters
        ----------
        recordings : sequence of (path, path)
            ``(audio, Raven table)`` pairs (:func:`whalelab.data.raven_pairs`).
        label_column : str
            The tables' label column.
        matching : EventMatching
            The matching criterion of :func:`whalelab.metrics.events.event_metrics`.
        grid : sequence of float
            Positive dB thresholds to choose from.
        """
        if not recordings:
            raise DataError("no validation recordings to choose the dB thresholds on")
        if min(grid) <= 0:
            raise ConfigError(f"dB thresholds must be positive, not {min(grid)}")
        traces = {str(audio): self.contrast(audio) for audio, _ in recordings}
        truth = pd.concat([read_raven(table, label_column=label_column).assign(file=str(audio))
                           for audio, table in recordings], ignore_index=True)
        for k, name in enumerate(self.classes):
            annotated, ranks = bool((truth["label"] == name).any()), []
            for threshold in grid:
                found = self._events({file: trace[:, [k]] for file, trace in traces.items()},
                                     [name], np.array([threshold], dtype=np.float32))
                scores = event_metrics(found, truth, [name], matching=matching)["overall"]
                ranks.append(scores["f1"] if annotated else -scores["fp"])
            best = [threshold for threshold, rank in zip(grid, ranks) if rank == max(ranks)]
            self.thresholds_db[name] = float(best[len(best) // 2])
        return self

    def detect(self, path: str | Path, *, channel: int | None = None) -> pd.DataFrame:
        """The events of one recording at the fitted thresholds.

        Returns
        -------
        pandas.DataFrame
            ``begin_s, end_s, low_hz, high_hz, label, score, mean_score`` (as
            :func:`whalelab.events.find_events`; scores in dB of contrast).
        """
        missing = [name for name in self.classes if name not in self.thresholds_db]
        if missing:
            raise ConfigError(f"no dB threshold for {missing}: fit the detector first")
        thresholds = np.array([self.thresholds_db[name] for name in self.classes],
                              dtype=np.float32)
        events = self._events({str(path): self.contrast(path, channel=channel)}, self.classes,
                              thresholds)
        return events[EVENT_COLUMNS]


def event_baseline(val_pairs: Sequence[tuple[str | Path, str | Path]],
                   test_pairs: Sequence[tuple[str | Path, str | Path]], *,
                   features: FeatureConfig, classes: Sequence[str],
                   bands: Mapping[str, tuple[float, float]], label_column: str = "Species",
                   matching: EventMatching = EventMatching(),
                   min_duration_s: float = DetectConfig.min_duration_s,
                   merge_gap_s: float = DetectConfig.merge_gap_s,
                   seed: int = 0) -> dict[str, Any]:
    """The band-energy detector tuned on the validation recordings, scored on the test ones
    exactly as the model is (:func:`whalelab.metrics.events.score_events`: intervals over
    one-minute blocks with ``seed``, false alarms per hour of call-free recordings).

    Parameters
    ----------
    val_pairs, test_pairs : sequence of (path, path)
        ``(audio, Raven table)`` pairs of the validation and test recordings.
    features : FeatureConfig
        The run's log-mel settings.
    classes : sequence of str
        The run's classes.
    bands : mapping
        ``{class: (low_hz, high_hz)}``, the run's class bands (``classes.json``).
    label_column : str
        The tables' label column (the run's ``data.label_column``).
    matching : EventMatching
        Matching, as the model's event scores (:func:`whalelab.metrics.events.event_metrics`).
    min_duration_s, merge_gap_s : float
        Event decoding, as the run's detection settings.

    Returns
    -------
    dict
        :func:`whalelab.metrics.events.score_events` of the test recordings, plus
        ``method`` and ``thresholds_db`` (``{class: dB}`` chosen on validation).
    """
    if not test_pairs:
        raise DataError("no test recordings to score the band-energy detector on")
    detector = EnergyDetector(features, bands, classes, min_duration_s=min_duration_s,
                              merge_gap_s=merge_gap_s).fit(
        val_pairs, label_column=label_column, matching=matching)
    predicted = pd.concat([detector.detect(audio).assign(file=str(audio))
                           for audio, _ in test_pairs], ignore_index=True)
    truth = pd.concat([read_raven(table, label_column=label_column).assign(file=str(audio))
                       for audio, table in test_pairs], ignore_index=True)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in test_pairs}
    metrics = score_events(predicted, truth, list(classes), hours=hours, matching=matching,
                           seed=seed)
    metrics.update({"method": EVENT_METHOD, "thresholds_db": dict(detector.thresholds_db)})
    return metrics
