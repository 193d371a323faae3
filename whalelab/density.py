"""How many windows of an archive hold calls, from a small stratified review, without a threshold.

A detector's scores rank an archive's windows, but counting the windows above a score
threshold answers "how many calls" only as well as the threshold was chosen. Instead,
:func:`draw_review_sample` cuts the archive into strata by score quantile and draws a few
windows at random from each; a person decides for each drawn window whether it holds a
call; :func:`estimate_density` weights each stratum's share of calls by the stratum's
size. Given correct decisions, the estimate is unbiased whatever the scores are worth (a
poor model only widens the interval); its 95 % interval comes from the stratified-sampling
variance with a finite-population correction, each stratum's share Wilson-adjusted so that
a stratum whose reviews all agree still counts as uncertain. Stratifying by score sets
apart the windows where the calls are, so the same review budget gives a less variable
estimate than a simple random sample, the more so the more the calls gather at high scores.

Shapes: ``scores`` is ``(windows,)``, one score per window of the archive; decisions map
a sampled window's index (into ``scores``) to True (it holds a call) or False.

Examples
--------
>>> rng = np.random.default_rng(1)
>>> scores = rng.random(10_000)                  # (windows,)
>>> sample = draw_review_sample(scores, strata=4, per_stratum=25, seed=0)
>>> sample.sizes
array([2500, 2500, 2500, 2500])
>>> holds_call = rng.random(10_000) < scores ** 6  # a stand-in for a person listening
>>> decisions = {window: bool(holds_call[window]) for window in sample.review_order}
>>> print(estimate_density(sample, decisions).summary())
about 1700 of 10000 windows hold calls (17.0 %, 95 % interval 10.1-23.9 %), from 100 reviewed in 4 strata
>>> int(holds_call.sum())  # the truth, which the review does not see
1453
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np
import pandas as pd

from whalelab.errors import ConfigError, DataError

#: the interval's coverage unless asked otherwise
LEVEL = 0.95


@dataclasses.dataclass(frozen=True, eq=False)
class StratifiedSample:
    """An archive's windows in score strata, and the windows drawn from each for review.

    Attributes
    ----------
    stratum : numpy.ndarray
        ``(windows,)`` int: the stratum of every window, 0 for the lowest scores.
    score_low, score_high : numpy.ndarray
        ``(strata,)``: the lowest and highest score among each stratum's windows.
    sizes : numpy.ndarray
        ``(strata,)`` int: how many windows each stratum holds.
    picked : tuple of numpy.ndarray
        One ``(drawn,)`` int array per stratum: the indices of its drawn windows, in the
        order drawn (a random order).
    """

    stratum: np.ndarray
    score_low: np.ndarray
    score_high: np.ndarray
    sizes: np.ndarray
    picked: tuple[np.ndarray, ...]

    @property
    def windows(self) -> int:
        """How many windows the archive holds."""
        return len(self.stratum)

    @property
    def review_order(self) -> list[int]:
        """Every drawn window, in the order to review them: the first of each stratum,
        then the second of each, and so on, so a review stopped early has decided about
        as many windows in every stratum, each a random draw from its stratum."""
        rank = np.concatenate([np.arange(len(drawn)) for drawn in self.picked])
        which = np.concatenate([np.full(len(drawn), h) for h, drawn in enumerate(self.picked)])
        windows = np.concatenate(self.picked)
        return [int(window) for window in windows[np.lexsort((which, rank))]]


def draw_review_sample(scores: np.ndarray, *, strata: int = 4, per_stratum: int = 25,
                       seed: int = 0) -> StratifiedSample:
    """Cut an archive's windows into score strata and draw up to ``per_stratum`` from each.

    The strata's edges are the scores' quantiles at ``k / strata``; a window belongs to
    the stratum whose edges hold its score (the lowest stratum takes its lower edge, every
    other stratum its upper one), so windows of equal score always share a stratum. Where
    ties make edges coincide (many windows scored exactly 0, say), the empty strata are
    dropped: there can be fewer than ``strata``, never an empty one.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(windows,)``: one model score per window of the archive (any finite scale).
    strata : int
        How many score strata to cut, at most.
    per_stratum : int
        How many windows to draw from each stratum (without replacement); a smaller
        stratum is drawn whole.
    seed : int
        The seed of ``numpy.random.default_rng``: the same seed draws the same windows.

    Raises
    ------
    DataError
        ``scores`` is empty, not one-dimensional, or holds NaN or infinite values.
    ConfigError
        ``strata`` or ``per_stratum`` is below 1.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1:
        raise DataError(f"scores: expected one score per window, (windows,), not shape "
                        f"{scores.shape}")
    if not len(scores):
        raise DataError("scores: empty; an archive needs at least one scored window")
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise DataError(f"scores: {len(bad)} of {len(scores)} windows are NaN or infinite "
                        f"(first: window {bad[0]}); score them again or leave them out")
    if strata < 1:
        raise ConfigError(f"strata must be at least 1, not {strata}")
    if per_stratum < 1:
        raise ConfigError(f"per_stratum must be at least 1, not {per_stratum}")
    edges = np.quantile(scores, np.arange(1, strata) / strata)  # (strata - 1,) inner edges
    cut = np.searchsorted(edges, scores, side="left")  # (windows,) in 0 .. strata - 1
    used, stratum = np.unique(cut, return_inverse=True)  # empty strata dropped
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(stratum == h) for h in range(len(used))]
    picked = tuple(rng.choice(windows, size=min(per_stratum, len(windows)), replace=False)
                   for windows in members)
    return StratifiedSample(
        stratum=stratum,
        score_low=np.array([scores[windows].min() for windows in members]),
        score_high=np.array([scores[windows].max() for windows in members]),
        sizes=np.array([len(windows) for windows in members]),
        picked=picked)


@dataclasses.dataclass(frozen=True, eq=False)
class DensityEstimate:
    """How many of an archive's windows hold calls, with an interval.

    Attributes
    ----------
    windows : int
        The archive's windows.
    calls : float
        The estimated number of windows that hold calls.
    share : float
        ``calls / windows``.
    low, high : float
        The interval on ``calls`` (95 % unless asked otherwise).
    table : pandas.DataFrame
        One row per stratum: ``stratum, score_low, score_high, windows, reviewed, true,
        share, calls`` (``reviewed``: its decided windows; ``true``: how many of those hold
        calls; ``share``: ``true / reviewed``; ``calls``: ``windows * share``).
    level : float
        The interval's coverage.
    """

    windows: int
    calls: float
    share: float
    low: float
    high: float
    table: pd.DataFrame = dataclasses.field(repr=False)
    level: float = LEVEL

    def summary(self) -> str:
        """One line: the count, the share, its interval and the review behind it."""
        return (f"about {self.calls:.0f} of {self.windows} windows hold calls "
                f"({_percent(self.share)} %, {self.level * 100:g} % interval "
                f"{_percent(self.low / self.windows)}-{_percent(self.high / self.windows)} %), "
                f"from {int(self.table['reviewed'].sum())} reviewed in {len(self.table)} strata")


def _percent(share: float) -> str:
    """``share`` in percent: one decimal, or two significant digits below 1 %."""
    percent = 100 * share
    return f"{percent:.2g}" if 0 < percent < 1 else f"{percent:.1f}"


def estimate_density(sample: StratifiedSample, decisions: Mapping[int, bool | None], *,
                     level: float = LEVEL) -> DensityEstimate:
    """How many of the archive's windows hold calls, from decisions on a stratified sample.

    The count is ``sum_h N_h * p_h`` (``N_h`` the windows of stratum ``h``, ``p_h`` the
    share of its decided windows that hold calls): unbiased, since each stratum's decided
    windows are a random draw from it. Its variance is the stratified-sampling one with
    the finite-population correction,
    ``sum_h N_h**2 * (1 - n_h / N_h) * q_h * (1 - q_h) / (n_h - 1)`` (``n_h`` the decided
    windows), and the interval ``calls +- z * sqrt(variance)``, clipped to the counts the
    review itself proves (at least the windows decided True, at most all but those
    decided False).

    ``q_h`` is not ``p_h`` but the centre of its Wilson interval,
    ``(true_h + z**2 / 2) / (n_h + z**2)``: where a stratum's decisions all agree
    (``p_h`` 0 or 1, common in the lowest stratum), ``p_h * (1 - p_h)`` is 0 and the
    textbook interval claims the stratum holds no call at all, which undercovers. The
    Wilson centre lies between ``p_h`` and 1/2, so the variance is never below the
    textbook one, and it stays positive where the decisions agree. A stratified bootstrap
    was not chosen: it resamples the decisions there are, so it too gives such a stratum
    no spread. A stratum of one decided window (``n_h - 1 = 0``) is taken at the largest
    variance a proportion can have, ``0.25 * N_h**2 * (1 - n_h / N_h)``. A stratum
    reviewed whole adds no variance.

    Parameters
    ----------
    sample : StratifiedSample
        The strata and drawn windows, from :func:`draw_review_sample`.
    decisions : mapping of int to bool or None
        Drawn window index to True (holds a call) or False. Drawn windows left out (or
        None) are undecided and ignored, so a partial review works, as long as every
        stratum has a decision and which windows were left undecided does not depend on
        what they hold (follow :attr:`StratifiedSample.review_order`).
    level : float
        The interval's coverage, in (0, 1).

    Raises
    ------
    DataError
        A decision for a window that was not drawn (named), a decision that is not True,
        False or None, or a stratum without any decision (named, with its score range).
    ConfigError
        ``level`` is not in (0, 1).
    """
    if not 0 < level < 1:
        raise ConfigError(f"level must lie between 0 and 1, not {level}")
    drawn = {int(window): h for h, windows in enumerate(sample.picked) for window in windows}
    true, false = np.zeros(len(sample.sizes), int), np.zeros(len(sample.sizes), int)
    for window, decision in decisions.items():
        if int(window) not in drawn:
            raise DataError(f"window {window}: decided but not in the review sample; decide "
                            f"only the windows draw_review_sample drew")
        if decision is None:
            continue
        if decision not in (True, False):
            raise DataError(f"window {window}: decision {decision!r} is not True, False or "
                            f"None")
        (true if decision else false)[drawn[int(window)]] += 1
    reviewed = true + false  # (strata,) n_h
    if (reviewed == 0).any():
        h = int(np.flatnonzero(reviewed == 0)[0])
        raise DataError(f"stratum {h} (scores {sample.score_low[h]:.4g} to "
                        f"{sample.score_high[h]:.4g}, {sample.sizes[h]} windows) has no "
                        f"decision; review at least one of its drawn windows, or the "
                        f"estimate would be biased")
    sizes = sample.sizes.astype(float)  # (strata,) N_h
    share = true / reviewed  # (strata,) p_h
    calls = float(np.sum(sizes * share))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    wilson = (true + z ** 2 / 2) / (reviewed + z ** 2)  # (strata,) q_h
    spread = np.where(reviewed > 1, wilson * (1 - wilson) / np.maximum(reviewed - 1, 1), 0.25)
    variance = float(np.sum(sizes ** 2 * (1 - reviewed / sizes) * spread))
    margin = z * np.sqrt(variance)
    low = max(calls - margin, float(true.sum()))
    high = min(calls + margin, float(sample.windows - false.sum()))
    table = pd.DataFrame({"stratum": np.arange(len(sizes)), "score_low": sample.score_low,
                          "score_high": sample.score_high, "windows": sample.sizes,
                          "reviewed": reviewed, "true": true, "share": share,
                          "calls": sizes * share})
    return DensityEstimate(windows=sample.windows, calls=calls, share=calls / sample.windows,
                           low=low, high=high, table=table, level=level)
