"""What a detection's score means, learnt from reviewed detections: P(true | score) per class.

From the events a person reviewed (:mod:`whalelab.review`: ``true``; ``false`` or another
class's name, both false for the class detected; ``unsure`` left out), each class gets a
logistic fit of the probability that its event is a real call of it against the logit of
the event's score (Platt's scaling: two numbers, so a few dozen reviews suffice), with a
bootstrap 95 % band over the reviewed events. From the fit, the score threshold for a
target precision: the lowest threshold above which the events' mean fitted probability
reaches the target, over the events it is applied to (the reviewed ones by default).

``whalelab calibrate REVIEWED --run RUN`` keeps each class's fit and its thresholds for
:data:`TARGETS` in ``RUN/calibration.json`` (:func:`calibration_record`, written
atomically), and ``whalelab detect RUN ... --precision P`` drops the events of each class
scored below its threshold for ``P`` (:func:`min_scores`).

Shapes: scores are ``(events,)`` in ``[0, 1]``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from whalelab.atomic import atomic_write
from whalelab.errors import ConfigError, DataError

#: scores are clipped this far inside (0, 1) before their logit is taken
EPSILON = 1e-6
#: the fewest reviewed events, and of each outcome, a class needs for a fit
MIN_EVENTS, MIN_EACH = 10, 2
#: the precisions a run's calibration keeps thresholds for, and the file it lives in
TARGETS, CALIBRATION = (0.9, 0.95, 0.99), "calibration.json"


def _logit(scores: np.ndarray) -> np.ndarray:
    scores = np.clip(np.asarray(scores, dtype=float), EPSILON, 1 - EPSILON)
    return np.log(scores / (1 - scores))


def _fit(logits: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """``(intercept, slope)`` of P(true) = sigmoid(intercept + slope * logit), all but
    unpenalised."""
    model = LogisticRegression(C=1e4).fit(logits[:, None], truth)  # finite where separable
    return float(model.intercept_[0]), float(model.coef_[0, 0])


@dataclasses.dataclass(frozen=True)
class ClassCalibration:
    """One class's fit: P(true | score) = sigmoid(intercept + slope * logit(score)), from
    ``reviewed`` events of which ``true`` were real calls of the class; ``band`` holds the
    bootstrap fits ``(draws, 2)`` whose spread gives the 95 % band."""

    label: str
    intercept: float
    slope: float
    reviewed: int
    true: int
    band: np.ndarray = dataclasses.field(repr=False, compare=False)

    def probability(self, scores: np.ndarray) -> np.ndarray:
        """P(true) of events scored ``scores``: ``(events,)``."""
        return 1 / (1 + np.exp(-(self.intercept + self.slope * _logit(scores))))

    def interval(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 95 % band of :meth:`probability` at ``scores``: ``(low, high)``, each
        ``(events,)``."""
        fitted = 1 / (1 + np.exp(-(self.band[:, :1] + self.band[:, 1:] * _logit(scores))))
        return np.percentile(fitted, 2.5, axis=0), np.percentile(fitted, 97.5, axis=0)

    def threshold_for_precision(self, target: float, scores: np.ndarray) -> float | None:
        """The lowest score threshold whose events (of ``scores``) have a mean fitted P(true)
        of at least ``target``; None where no threshold reaches it."""
        ordered = np.sort(np.asarray(scores, dtype=float))[::-1]  # highest first
        precision = np.cumsum(self.probability(ordered)) / np.arange(1, len(ordered) + 1)
        reached = np.nonzero(precision >= target)[0]
        return float(ordered[reached[-1]]) if len(reached) else None


def reviewed_truth(reviewed: pd.DataFrame) -> pd.DataFrame:
    """The decided events that say something about their class: ``label, score, true``
    (``true`` for a confirmed call; false for ``false`` or another class; ``unsure`` and
    undecided events left out)."""
    decided = reviewed[~reviewed["review"].isin(["", "unsure"])]
    return pd.DataFrame({"label": decided["label"].to_numpy(),
                         "score": decided["score"].to_numpy(dtype=float),
                         "true": (decided["review"] == "true").to_numpy()})


def fit_calibration(reviewed: pd.DataFrame, *, draws: int = 200, seed: int = 0,
                    classes: Sequence[str] | None = None) -> dict[str, ClassCalibration]:
    """Each class's :class:`ClassCalibration` from reviewed events (a
    :class:`~whalelab.review.Review`'s ``table``: ``label``, ``score``, ``review``).

    Raises
    ------
    DataError
        A class asked for (``classes``; default every class reviewed) with fewer than
        :data:`MIN_EVENTS` decided events or fewer than :data:`MIN_EACH` true or false ones:
        it says how many more to review.
    """
    truth = reviewed_truth(reviewed)
    rng = np.random.default_rng(seed)
    fits = {}
    for label in classes if classes is not None else sorted(set(truth["label"])):
        mine = truth[truth["label"] == label]
        calls = int(mine["true"].sum())
        if len(mine) < MIN_EVENTS or min(calls, len(mine) - calls) < MIN_EACH:
            raise DataError(f"{label}: {len(mine)} reviewed events ({calls} true, "
                            f"{len(mine) - calls} false) cannot calibrate its scores; review at "
                            f"least {MIN_EVENTS}, with {MIN_EACH} or more of each")
        logits, outcome = _logit(mine["score"].to_numpy()), mine["true"].to_numpy()
        band = []
        while len(band) < draws:
            pick = rng.integers(0, len(mine), len(mine))
            if 0 < outcome[pick].sum() < len(pick):  # a resample needs both outcomes
                band.append(_fit(logits[pick], outcome[pick]))
        fits[label] = ClassCalibration(label, *_fit(logits, outcome), reviewed=len(mine),
                                       true=calls, band=np.asarray(band))
    return fits


def calibration_record(fits: dict[str, ClassCalibration], reviewed: pd.DataFrame, *,
                       source: str | Path) -> dict[str, Any]:
    """What ``RUN/calibration.json`` keeps: where the reviews came from and, per class, its
    fit and its score threshold for each of :data:`TARGETS` over its reviewed events'
    scores (None where no threshold reaches it)."""
    truth = reviewed_truth(reviewed)
    classes = {}
    for label, fit in fits.items():
        scores = truth.loc[truth["label"] == label, "score"].to_numpy()
        classes[label] = {"intercept": fit.intercept, "slope": fit.slope,
                          "reviewed": fit.reviewed, "true": fit.true,
                          "thresholds": {f"{target:g}": fit.threshold_for_precision(target, scores)
                                         for target in TARGETS}}
    return {"source": str(source), "targets": list(TARGETS), "classes": classes}


def write_calibration(run_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` to ``RUN/calibration.json`` atomically; returns its path."""
    return atomic_write(Path(run_dir) / CALIBRATION, lambda temporary: temporary.write_text(
        json.dumps(record, indent=2) + "\n"))


def min_scores(run_dir: str | Path, precision: float) -> dict[str, float]:
    """Each calibrated class's score threshold for ``precision``, from ``RUN/calibration.json``.

    Raises
    ------
    ConfigError
        The run holds no calibration, ``precision`` is not one it keeps, or a class's
        reviews reach no threshold for it (each named).
    """
    path = Path(run_dir) / CALIBRATION
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no {CALIBRATION}; review detections, then run "
                          f"whalelab calibrate REVIEWED --run {run_dir}")
    record = json.loads(path.read_text())
    key = f"{precision:g}"
    if key not in {f"{target:g}" for target in record["targets"]}:
        raise ConfigError(f"precision {key}: {path} keeps thresholds for "
                          f"{', '.join(f'{target:g}' for target in record['targets'])}")
    floors = {label: entry["thresholds"][key] for label, entry in record["classes"].items()}
    unreached = sorted(label for label, floor in floors.items() if floor is None)
    if unreached:
        raise ConfigError(f"precision {key}: no score threshold reaches it for "
                          f"{', '.join(unreached)} on the reviewed events ({path}); choose "
                          f"a lower precision or review more of their events")
    return floors
