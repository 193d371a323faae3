"""What a detection's score means, learnt from reviewed detections: P(true | score) per class.

From the events a person reviewed (:mod:`whalelab.review`: ``true``; ``false`` or another
class's name, both false for the class detected; ``unsure`` left out), each class gets a
logistic fit of the probability that its event is a real call of it against the logit of
the event's score (Platt's scaling: two numbers, so a few dozen reviews suffice), with a
bootstrap 95 % band over the reviewed events. From the fit, the score threshold for a
target precision: the lowest threshold above which the events' mean fitted probability
reaches the target, over the events it is applied to (the reviewed ones by default).

Shapes: scores are ``(events,)`` in ``[0, 1]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from whalelab.errors import DataError

#: scores are clipped this far inside (0, 1) before their logit is taken
EPSILON = 1e-6
#: the fewest reviewed events, and of each outcome, a class needs for a fit
MIN_EVENTS, MIN_EACH = 10, 2


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


def fit_calibration(reviewed: pd.DataFrame, *, draws: int = 500, seed: int = 0,
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
