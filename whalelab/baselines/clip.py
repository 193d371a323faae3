"""The clip baseline: one logistic regression per class on per-band log-mel statistics.

:func:`band_statistics` summarises each mel band of a clip's level-normalised log-mel
over time (mean, standard deviation, maximum, 90th percentile): which bands hold energy
and how it varies, never in what order. :class:`LogisticBaseline` fits one L2 logistic
regression per class on them, choosing the regularisation and the thresholds on the
validation clips; :func:`clip_baseline` scores it on the test clips as the model is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, Dataset

from whalelab.config import FeatureConfig
from whalelab.errors import ConfigError, DataError
from whalelab.features import logmel_pipeline
from whalelab.metrics.clips import (
    choose_thresholds,
    classification_metrics,
    closed_set,
    macro_average_precision,
    paired_difference,
    recall_by_snr,
)

CLIP_METHOD = "logistic regression on per-band log-mel statistics"
#: the summaries of each mel band over time, in the order :func:`band_statistics` gives them
STATISTICS = ("mean", "std", "max", "p90")
#: the percentile of the ``p90`` statistic
PERCENTILE = 90.0
#: regularisation strengths :class:`LogisticBaseline` chooses from on validation
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
#: folds of :meth:`LogisticBaseline.fit_grouped`'s cross-validation
CV_FOLDS = 5


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
            statistics.append(_summaries(logmel, batch.waveform.float()).numpy())
            targets.append(batch.target.numpy())
    if not statistics:
        raise DataError("the dataset holds no clips")
    return (np.concatenate(statistics).astype(np.float32, copy=False),
            np.concatenate(targets).astype(np.float32, copy=False))


def _macro_ap(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Mean average precision over the classes with positive clips."""
    if not targets.sum(axis=0).any():
        raise DataError("the validation clips carry no class: nothing to choose C by")
    return macro_average_precision(probabilities, targets)


def _thresholds(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(classes,)`` decision thresholds, as a run's are chosen
    (:func:`whalelab.training.thresholds.write_thresholds`): where every clip holds a
    class (a closed set), 0, so that the decision is the top class; else chosen on the
    clips' ``(clips, classes)`` probabilities
    (:func:`whalelab.metrics.clips.choose_thresholds`)."""
    if closed_set(targets):
        return np.zeros(targets.shape[1])
    return choose_thresholds(probabilities, targets)


class LogisticBaseline:
    """One L2 logistic regression per class on standardised statistics (multi-label).

    Each class's regression weighs its clips ``class_weight="balanced"``; the
    regularisation ``C`` is the one of ``grid`` with the best macro average precision on
    the validation clips (the smallest ``C`` among ties), and the per-class thresholds
    are chosen on those clips as the model's are (0 where every clip holds a class: the
    top class decides; else :func:`whalelab.metrics.clips.choose_thresholds`). A class whose training clips all
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

    def _fit_models(self, scaled: np.ndarray, targets: np.ndarray,
                    C: float) -> list[LogisticRegression | float]:
        return [self._fit_class(scaled, targets[:, k], C) for k in range(targets.shape[1])]

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
            models = self._fit_models(train, train_targets, C)
            self.validation_ap[C] = _macro_ap(self._scores(models, val), val_targets)
            if self.validation_ap[C] > best:
                best, self.C, self.models = self.validation_ap[C], C, models
        self.thresholds = _thresholds(self.predict_proba(val_statistics), val_targets)
        return self

    def fit_grouped(self, statistics: np.ndarray, targets: np.ndarray, groups: Sequence[str],
                    *, folds: int = CV_FOLDS) -> LogisticBaseline:
        """Fit on every clip given; choose ``C`` and the thresholds by grouped ``folds``-fold
        cross-validation on them (:class:`sklearn.model_selection.GroupKFold`: the clips of
        one group, a recording, are never on both sides of a fold), from each clip's
        out-of-fold probability; ``validation_ap`` holds the out-of-fold macro AP.

        Shapes
        ------
        statistics ``(clips, features)``, targets ``(clips, classes)`` multi-hot,
        groups ``(clips,)``.
        """
        if not len(statistics) == len(targets) == len(groups):
            raise DataError("statistics, targets and groups hold different numbers of clips")
        folds = min(folds, len(set(groups)))
        if folds < 2:
            raise DataError(f"the clips come from {len(set(groups))} recording(s): "
                            f"cross-validation by recording needs two at least")
        splits = list(GroupKFold(n_splits=folds).split(statistics, groups=groups))
        self.validation_ap, best, out_of_fold = {}, -np.inf, {}
        for C in self.grid:
            predicted = np.zeros(targets.shape, dtype=np.float64)
            for fit_rows, held_rows in splits:
                scaler = StandardScaler().fit(statistics[fit_rows])
                models = self._fit_models(scaler.transform(statistics[fit_rows]),
                                          targets[fit_rows], C)
                predicted[held_rows] = self._scores(models,
                                                    scaler.transform(statistics[held_rows]))
            out_of_fold[C] = predicted
            self.validation_ap[C] = _macro_ap(predicted, targets)
            if self.validation_ap[C] > best:
                best, self.C = self.validation_ap[C], C
        self.scaler = StandardScaler().fit(statistics)
        self.models = self._fit_models(self.scaler.transform(statistics), targets, self.C)
        self.thresholds = _thresholds(out_of_fold[self.C], targets)
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
        (:func:`whalelab.metrics.clips.paired_difference`).
    snr_db : numpy.ndarray or None
        ``(clips,)`` SNR of each test clip's faintest call in dB (NaN where unknown):
        adds ``recall_by_snr`` (:func:`whalelab.metrics.clips.recall_by_snr`).

    Returns
    -------
    dict
        :func:`whalelab.metrics.clips.classification_metrics` of the test clips, plus
        ``method``, ``C`` (the chosen regularisation), ``validation_macro_ap``
        (``{str(C): macro AP on validation}``) and, with ``model``, ``model_minus_baseline``.
    """
    statistics = {name: dataset_statistics(source, features, batch_size=batch_size)
                  for name, source in (("train", train), ("val", val), ("test", test))}
    return score_logistic(statistics, classes=classes, method=CLIP_METHOD, seed=seed,
                          grid=grid, bootstrap_rounds=bootstrap_rounds, model=model,
                          snr_db=snr_db)


def score_logistic(statistics: dict[str, tuple[np.ndarray, np.ndarray]], *,
                   classes: Sequence[str], method: str, seed: int = 0,
                   grid: Sequence[float] = C_GRID, bootstrap_rounds: int = 500,
                   model: tuple[np.ndarray, np.ndarray] | None = None,
                   snr_db: np.ndarray | None = None) -> dict[str, Any]:
    """:class:`LogisticBaseline` fitted on ``statistics["train"]``, tuned on ``"val"``,
    scored on ``"test"`` (each ``(features (clips, dimension), targets (clips,
    classes))``); ``method`` names the features. The other parameters and the result are
    :func:`clip_baseline`'s."""
    for name, (_, targets) in statistics.items():
        if targets.shape[1] != len(classes):
            raise DataError(f"the {name} clips have {targets.shape[1]} target columns for "
                            f"{len(classes)} classes")
    baseline = LogisticBaseline(grid=grid, seed=seed).fit(*statistics["train"],
                                                         *statistics["val"])
    return score_baseline(baseline, *statistics["test"], classes=classes, method=method,
                          seed=seed, bootstrap_rounds=bootstrap_rounds, model=model,
                          snr_db=snr_db)


def score_baseline(baseline: LogisticBaseline, test_statistics: np.ndarray,
                   test_targets: np.ndarray, *, classes: Sequence[str], method: str,
                   seed: int = 0, bootstrap_rounds: int = 500,
                   model: tuple[np.ndarray, np.ndarray] | None = None,
                   snr_db: np.ndarray | None = None) -> dict[str, Any]:
    """A fitted :class:`LogisticBaseline` scored on the test clips (``(clips, features)``,
    targets ``(clips, classes)``); the other parameters and the result are
    :func:`clip_baseline`'s."""
    probabilities = baseline.predict_proba(test_statistics)
    metrics = classification_metrics(probabilities, test_targets, list(classes),
                                     baseline.thresholds,
                                     bootstrap_rounds=bootstrap_rounds, seed=seed)
    metrics.update({"method": method, "C": baseline.C,
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
