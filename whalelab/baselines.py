"""Simple baselines scored beside the model on the same split: what the deep model buys.

Each baseline answers the question one of WhaleSED's outputs answers, from the same
log-mel front end, fitted on the same training clips and tuned on the same validation
clips or recordings, so that the difference in the figures is the model's doing:

- **clips** (:func:`clip_baseline`): :class:`LogisticBaseline`, one L2 logistic
  regression per class on :func:`band_statistics`, per-band summaries over time of the
  level-normalised log-mel (mean, standard deviation, maximum, 90th percentile). It sees
  *which bands* hold energy and how it varies, never *in what order*: it tells a tone at
  200 Hz from one at 1 kHz, but not an upsweep from a downsweep over the same band.
  Thresholds come from the validation clips, as the model's
  (:func:`whalelab.clip_metrics.choose_thresholds`), and the test figures from
  :func:`whalelab.clip_metrics.classification_metrics` with the same bootstrap seed.
- **events** (:func:`event_baseline`): :class:`EnergyDetector`, the band contrast of
  :class:`whalelab.band_contrast.BandContrast` (dB of each class's band above its noise
  floor) thresholded per class, the dB thresholds chosen for the best event F1 on the
  validation recordings. It finds energy in a band, so it cannot tell two classes that
  share a band apart: both fire on each call.

Examples
--------
>>> from whalelab.config import FeatureConfig
>>> band_statistics(np.zeros((3, 40000), dtype=np.float32), FeatureConfig()).shape
(3, 256)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, Dataset

from whalelab.audio import audio_info, stream_audio
from whalelab.band_contrast import BandContrast
from whalelab.clip_metrics import (choose_thresholds, classification_metrics, paired_difference,
                                   recall_by_snr)
from whalelab.config import DetectConfig, FeatureConfig
from whalelab.errors import ConfigError, DataError
from whalelab.event_scoring import event_metrics, score_events
from whalelab.events import EVENT_COLUMNS, find_file_events
from whalelab.features import logmel_pipeline
from whalelab.raven import read_raven

CLIP_METHOD = "logistic regression on per-band log-mel statistics"
EVENT_METHOD = "band-energy detector: band contrast above a per-class dB threshold"
#: the summaries of each mel band over time, in the order :func:`band_statistics` gives them
STATISTICS = ("mean", "std", "max", "p90")
#: the percentile of the ``p90`` statistic
PERCENTILE = 90.0
#: regularisation strengths :class:`LogisticBaseline` chooses from on validation
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
#: dB thresholds :class:`EnergyDetector` chooses from on validation
THRESHOLDS_DB = tuple(float(value) for value in np.arange(1.0, 41.0))
#: seconds of audio read from disk at a time
BLOCK_SECONDS = 60.0


def _summaries(logmel: nn.Module, waveforms: torch.Tensor) -> torch.Tensor:
    """``(batch, samples)`` -> ``(batch, len(STATISTICS) * mel)`` statistics, statistic-major."""
    db = logmel(waveforms)[:, 0]  # (batch, frames, mel)
    db = db - db.mean(dim=(1, 2), keepdim=True)  # level normalisation, as WhaleSED's
    return torch.cat([db.mean(dim=1), db.std(dim=1, correction=0), db.amax(dim=1),
                      torch.quantile(db, PERCENTILE / 100, dim=1)], dim=1)


def band_statistics(waveforms: np.ndarray | torch.Tensor, features: FeatureConfig, *,
                    batch_size: int = 64) -> np.ndarray:
    """Per mel band, summaries over time of each clip's level-normalised log-mel.

    The log-mel is the run's (:func:`whalelab.features.logmel_pipeline`), with each
    clip's mean dB subtracted as the model does; each mel band is then summarised over
    the clip's frames by its mean, standard deviation, maximum and 90th percentile.

    Parameters
    ----------
    waveforms : numpy.ndarray or torch.Tensor
        ``(clips, samples)`` audio at ``features.sample_rate``.
    features : FeatureConfig
        The run's log-mel settings.
    batch_size : int
        Clips per pass through the log-mel.

    Returns
    -------
    numpy.ndarray
        float32 ``(clips, 4 * n_mels)``: the means of the ``n_mels`` bands, then their
        standard deviations, maxima and 90th percentiles (:data:`STATISTICS`).

    Examples
    --------
    >>> from whalelab.config import FeatureConfig
    >>> statistics = band_statistics(np.random.default_rng(0).normal(size=(2, 8000)),
    ...                              FeatureConfig(clip_seconds=1.0))
    >>> statistics.shape, statistics.dtype
    ((2, 256), dtype('float32'))
    """
    waveforms = torch.as_tensor(waveforms, dtype=torch.float32)
    if waveforms.ndim != 2:
        raise DataError(f"waveforms must be (clips, samples), not {tuple(waveforms.shape)}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    logmel = logmel_pipeline(features)
    with torch.inference_mode():
        parts = [_summaries(logmel, batch) for batch in waveforms.split(batch_size)]
    if not parts:
        return np.zeros((0, len(STATISTICS) * features.n_mels), dtype=np.float32)
    return torch.cat(parts).numpy().astype(np.float32, copy=False)


def dataset_statistics(dataset: Dataset, features: FeatureConfig, *,
                       batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """:func:`band_statistics` of every clip a dataset serves, with its targets.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Items ``(waveform (samples,), target (classes,), ...)``, as
        :class:`whalelab.data.ClipDataset` serves them (use ``train=False``, so that
        long clips are cropped at their centre, as evaluation does).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float32 statistics ``(clips, 4 * n_mels)`` and targets ``(clips, classes)``.
    """
    logmel = logmel_pipeline(features)
    statistics, targets = [], []
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            statistics.append(_summaries(logmel, batch[0].float()).numpy())
            targets.append(batch[1].numpy())
    if not statistics:
        raise DataError("the dataset holds no clips")
    return (np.concatenate(statistics).astype(np.float32, copy=False),
            np.concatenate(targets).astype(np.float32, copy=False))


def _macro_ap(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Mean average precision over the classes with positive clips."""
    present = np.flatnonzero(targets.sum(axis=0) > 0)
    if not present.size:
        raise DataError("the validation clips carry no class: nothing to choose C by")
    return float(np.mean([skm.average_precision_score(targets[:, k], probabilities[:, k])
                          for k in present]))


class LogisticBaseline:
    """One L2 logistic regression per class on standardised statistics (multi-label).

    Each class's regression weighs its clips ``class_weight="balanced"``; the
    regularisation ``C`` is the one of ``grid`` with the best macro average precision on
    the validation clips (the smallest ``C`` among ties), and the per-class thresholds
    are chosen on those clips as the model's are
    (:func:`whalelab.clip_metrics.choose_thresholds`). A class whose training clips all
    carry it, or all lack it, gets that constant probability.

    Parameters
    ----------
    grid : sequence of float
        Values of ``C`` (inverse regularisation strength) to choose from.
    seed : int
        ``random_state`` of every regression.
    max_iter : int
        Solver iterations.

    Attributes
    ----------
    C : float
        The chosen regularisation, after :meth:`fit`.
    validation_ap : dict
        ``{C: validation macro AP}`` for every ``C`` of the grid.
    thresholds : numpy.ndarray
        ``(classes,)`` decision thresholds chosen on validation.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> targets = (rng.random((40, 2)) < 0.5).astype(np.float32)
    >>> statistics = targets + 0.1 * rng.normal(size=(40, 2))
    >>> baseline = LogisticBaseline(grid=(0.1, 1.0)).fit(statistics[:20], targets[:20],
    ...                                                  statistics[20:], targets[20:])
    >>> baseline.predict_proba(statistics[20:]).shape, baseline.C in (0.1, 1.0)
    ((20, 2), True)
    """

    def __init__(self, *, grid: Sequence[float] = C_GRID, seed: int = 0,
                 max_iter: int = 1000) -> None:
        if not grid or min(grid) <= 0:
            raise ConfigError(f"the C grid must hold positive values, not {list(grid)}")
        self.grid, self.seed, self.max_iter = [float(value) for value in grid], seed, max_iter

    def _fit_class(self, statistics: np.ndarray, truth: np.ndarray,
                   C: float) -> LogisticRegression | float:
        """One class's regression, or its constant rate when its training truth is constant."""
        if truth.min() == truth.max():
            return float(truth[0])
        return LogisticRegression(C=C, class_weight="balanced", random_state=self.seed,
                                  max_iter=self.max_iter).fit(statistics, truth)

    @staticmethod
    def _scores(models: list[LogisticRegression | float], scaled: np.ndarray) -> np.ndarray:
        """``(clips, classes)`` probabilities of standardised statistics."""
        return np.stack([model.predict_proba(scaled)[:, 1]
                         if isinstance(model, LogisticRegression)
                         else np.full(len(scaled), model) for model in models], axis=1)

    def fit(self, train_statistics: np.ndarray, train_targets: np.ndarray,
            val_statistics: np.ndarray, val_targets: np.ndarray) -> LogisticBaseline:
        """Fit on the training clips; choose ``C`` and the thresholds on the validation clips.

        Shapes
        ------
        statistics ``(clips, features)``, targets ``(clips, classes)`` multi-hot.
        """
        if len(train_statistics) != len(train_targets) or len(val_statistics) != len(val_targets):
            raise DataError("statistics and targets hold different numbers of clips")
        if train_targets.shape[1] != val_targets.shape[1]:
            raise DataError(f"training targets have {train_targets.shape[1]} classes, "
                            f"validation targets {val_targets.shape[1]}")
        self.scaler = StandardScaler().fit(train_statistics)
        train, val = self.scaler.transform(train_statistics), self.scaler.transform(val_statistics)
        self.validation_ap, best = {}, -np.inf
        for C in self.grid:
            models = [self._fit_class(train, train_targets[:, k], C)
                      for k in range(train_targets.shape[1])]
            self.validation_ap[C] = _macro_ap(self._scores(models, val), val_targets)
            if self.validation_ap[C] > best:
                best, self.C, self.models = self.validation_ap[C], C, models
        self.thresholds = choose_thresholds(self.predict_proba(val_statistics), val_targets)
        return self

    def predict_proba(self, statistics: np.ndarray) -> np.ndarray:
        """Per class probabilities: ``(clips, features)`` -> ``(clips, classes)``."""
        return self._scores(self.models, self.scaler.transform(statistics))


def clip_baseline(train: Dataset, val: Dataset, test: Dataset, *, features: FeatureConfig,
                  classes: Sequence[str], seed: int = 0, grid: Sequence[float] = C_GRID,
                  batch_size: int = 64, bootstrap_rounds: int = 500,
                  model: tuple[np.ndarray, np.ndarray] | None = None,
                  snr_db: np.ndarray | None = None) -> dict[str, Any]:
    """The logistic baseline fitted on ``train``, tuned on ``val``, scored on ``test``.

    Parameters
    ----------
    train, val, test : torch.utils.data.Dataset
        The run's splits as :class:`whalelab.data.ClipDataset` with ``train=False``
        (clips cropped at their centre), or any dataset serving ``(waveform (samples,),
        target (classes,), ...)``.
    features : FeatureConfig
        The run's log-mel settings.
    classes : sequence of str
        Class names in target order.
    seed : int
        ``random_state`` of the regressions and the bootstrap seed of the intervals: the
        model's (``config.train.seed``), so that both are resampled alike.
    grid : sequence of float
        Values of ``C`` to choose from on validation.
    batch_size : int
        Clips per pass through the log-mel.
    bootstrap_rounds : int
        Resamples for the 95 % intervals.
    model : (probabilities, thresholds) or None
        The model's scores ``(clips, classes)`` of the same test clips, in the same order,
        and its thresholds ``(classes,)``: adds ``model_minus_baseline``, the difference
        of the headline figures with paired intervals
        (:func:`whalelab.clip_metrics.paired_difference`).
    snr_db : numpy.ndarray or None
        ``(clips,)`` SNR of each test clip's faintest call in dB (NaN where unknown):
        adds ``recall_by_snr`` (:func:`whalelab.clip_metrics.recall_by_snr`).

    Returns
    -------
    dict
        :func:`whalelab.clip_metrics.classification_metrics` of the test clips, plus
        ``method``, ``C`` (the chosen regularisation), ``validation_macro_ap``
        (``{str(C): macro AP on validation}``) and, with ``model``, ``model_minus_baseline``.
    """
    statistics = {name: dataset_statistics(source, features, batch_size=batch_size)
                  for name, source in (("train", train), ("val", val), ("test", test))}
    for name, (_, targets) in statistics.items():
        if targets.shape[1] != len(classes):
            raise DataError(f"the {name} clips have {targets.shape[1]} target columns for "
                            f"{len(classes)} classes")
    baseline = LogisticBaseline(grid=grid, seed=seed).fit(*statistics["train"],
                                                         *statistics["val"])
    test_statistics, test_targets = statistics["test"]
    probabilities = baseline.predict_proba(test_statistics)
    metrics = classification_metrics(probabilities, test_targets, list(classes),
                                     baseline.thresholds,
                                     bootstrap_rounds=bootstrap_rounds, seed=seed)
    metrics.update({"method": CLIP_METHOD, "C": baseline.C,
                    "validation_macro_ap": {str(C): ap
                                            for C, ap in baseline.validation_ap.items()}})
    if model is not None:
        metrics["model_minus_baseline"] = paired_difference(
            model, (probabilities, baseline.thresholds), test_targets,
            rounds=bootstrap_rounds, seed=seed)
    if snr_db is not None and np.isfinite(snr_db).any():
        metrics["recall_by_snr"] = recall_by_snr(probabilities, test_targets,
                                                 baseline.thresholds, snr_db)
    return metrics


class _Windows:
    """Clip-length windows ``(start_sample, (clip,) float32)`` cut from streamed blocks.

    Regular windows start every ``hop`` samples while they fit in the signal; when the
    last of them misses the signal's last frame, one more window ends at the signal's
    end (its start rounded up to a whole frame ``step``, so padded by less than a frame);
    a signal shorter than a window gives one window, zero-padded at its end. After
    iteration, ``samples`` is the signal's length.
    """

    def __init__(self, blocks: Iterable[np.ndarray], *, clip: int, hop: int, step: int) -> None:
        self.blocks, self.clip, self.hop, self.step = blocks, clip, hop, step
        self.samples = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        clip, hop, step = self.clip, self.hop, self.step
        ahead = np.zeros(0, dtype=np.float32)  # the signal from sample `start` on
        last = np.zeros(0, dtype=np.float32)  # the signal's last `clip` samples so far
        start = 0
        for block in self.blocks:
            ahead, last = np.concatenate([ahead, block]), np.concatenate([last, block])[-clip:]
            self.samples += len(block)
            while len(ahead) >= clip:
                yield start, ahead[:clip]
                ahead, start = ahead[hop:], start + hop
        if start == 0:  # shorter than a window: `last` is all of it
            yield 0, np.pad(last, (0, clip - len(last)))
        elif (start - hop) // step + clip // step < self.samples // step:
            tail = math.ceil((self.samples - clip) / step) * step
            window = last[tail - (self.samples - clip):]
            yield tail, np.pad(window, (0, clip - len(window)))


class EnergyDetector:
    """Events where a class's band stands a per-class number of dB above its noise floor.

    The trace of a recording is :class:`whalelab.band_contrast.BandContrast` over
    clip-length windows every half clip, read block by block
    (:func:`whalelab.audio.stream_audio`): each frame takes its value from the window
    it lies nearest the middle of (the central half of each window; the first and last
    windows also give the recording's edges), so that every frame's noise floor comes
    from about a clip of audio around it. Memory: one read block plus one window, and
    the ``(frames, classes)`` float32 trace.

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

    def _batches(self, windows: _Windows) -> Iterator[tuple[list[int], np.ndarray]]:
        """Window starts and their contrast ``(batch, frames, classes)``, batch by batch."""
        batch: list[tuple[int, np.ndarray]] = []
        for window in windows:
            batch.append(window)
            if len(batch) == self.batch_size:
                yield self._contrast(batch)
                batch = []
        if batch:
            yield self._contrast(batch)

    def _contrast(self, batch: list[tuple[int, np.ndarray]]) -> tuple[list[int], np.ndarray]:
        with torch.inference_mode():
            contrast = self.band_contrast(torch.from_numpy(np.stack([w for _, w in batch])))
        return [start for start, _ in batch], contrast.numpy()

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
        windows = _Windows(stream_audio(path, features.sample_rate, block_seconds=BLOCK_SECONDS,
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
            label_column: str = "Species", iou: float = 0.3,
            onset_tolerance_s: float | None = None,
            grid: Sequence[float] = THRESHOLDS_DB) -> EnergyDetector:
        """Choose each class's dB threshold on annotated (validation) recordings.

        Per class, every threshold of ``grid`` is scored with
        :func:`whalelab.event_scoring.event_metrics` over all the recordings; the chosen
        one has the best F1 (a class without true events: the fewest false positives, so
        that it keeps quiet), and among thresholds that tie, the middle one, away from the
        edges of the plateau.

        Parameters
        ----------
        recordings : sequence of (path, path)
            ``(audio, Raven table)`` pairs (:func:`whalelab.data.raven_pairs`).
        label_column : str
            The tables' label column.
        iou, onset_tolerance_s : float
            The matching criterion of :func:`whalelab.event_scoring.event_metrics`.
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
                scores = event_metrics(found, truth, [name], iou=iou,
                                       onset_tolerance_s=onset_tolerance_s)["overall"]
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
                   iou: float = 0.3, onset_tolerance_s: float | None = None,
                   min_duration_s: float = DetectConfig.min_duration_s,
                   merge_gap_s: float = DetectConfig.merge_gap_s,
                   seed: int = 0) -> dict[str, Any]:
    """The band-energy detector tuned on the validation recordings, scored on the test ones
    exactly as the model is (:func:`whalelab.event_scoring.score_events`: intervals over
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
    iou, onset_tolerance_s : float
        Matching, as the model's event scores (:func:`whalelab.event_scoring.event_metrics`).
    min_duration_s, merge_gap_s : float
        Event decoding, as the run's detection settings.

    Returns
    -------
    dict
        :func:`whalelab.event_scoring.score_events` of the test recordings, plus
        ``method`` and ``thresholds_db`` (``{class: dB}`` chosen on validation).
    """
    if not test_pairs:
        raise DataError("no test recordings to score the band-energy detector on")
    detector = EnergyDetector(features, bands, classes, min_duration_s=min_duration_s,
                              merge_gap_s=merge_gap_s).fit(
        val_pairs, label_column=label_column, iou=iou, onset_tolerance_s=onset_tolerance_s)
    predicted = pd.concat([detector.detect(audio).assign(file=str(audio))
                           for audio, _ in test_pairs], ignore_index=True)
    truth = pd.concat([read_raven(table, label_column=label_column).assign(file=str(audio))
                       for audio, table in test_pairs], ignore_index=True)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in test_pairs}
    metrics = score_events(predicted, truth, list(classes), hours=hours, iou=iou,
                           onset_tolerance_s=onset_tolerance_s, seed=seed)
    metrics.update({"method": EVENT_METHOD, "thresholds_db": dict(detector.thresholds_db)})
    return metrics
