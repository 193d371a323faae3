"""density: how many windows hold calls, from a stratified review, with an honest interval."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from whalelab.density import draw_review_sample, estimate_density
from whalelab.errors import ConfigError, DataError

Z = NormalDist().inv_cdf(0.975)
SEEDS = range(200)


def population(kind: str, *, zeros: float = 0.4, windows: int = 20_000,
               seed: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """An archive's scores ``(windows,)`` and whether each window holds a call, drawn with a
    probability that rises with the score; a share ``zeros`` of the windows is scored exactly
    0 (gated), which makes the score strata differ in size."""
    rng = np.random.default_rng(seed)
    scores = np.where(rng.random(windows) < zeros, 0.0, rng.random(windows))
    if kind == "calls at the top":  # most calls in the top quarter; 10 % of the zeros (faint)
        probability = np.where(scores > 0, 1 / (1 + np.exp(-20 * (scores - 0.85))), 0.1)
    else:  # "rare everywhere": about 1 %, most strata's reviews find none
        probability = 0.002 + 0.04 * scores ** 3
    return scores, rng.random(windows) < probability


def reviewed(scores, truth, seed, **kwargs):
    """The estimate from a review that decides every drawn window by its true label."""
    sample = draw_review_sample(scores, seed=seed, **kwargs)
    return estimate_density(sample, {window: bool(truth[window])
                                     for window in sample.review_order})


def textbook_margin(estimate) -> float:
    """The half-width of the plain stratified interval, p_h(1 - p_h) in the variance."""
    table = estimate.table
    sizes, decided, share = (table[column].to_numpy(dtype=float)
                             for column in ("windows", "reviewed", "share"))
    return Z * np.sqrt(np.sum(sizes ** 2 * (1 - decided / sizes) * share * (1 - share)
                              / (decided - 1)))


@pytest.mark.parametrize("kind", ["calls at the top", "rare everywhere"])
def test_the_interval_covers_the_true_count_and_the_estimate_is_unbiased(kind):
    scores, truth = population(kind)
    calls = int(truth.sum())
    estimates = [reviewed(scores, truth, seed, strata=4, per_stratum=20) for seed in SEEDS]
    counts = np.array([estimate.calls for estimate in estimates])
    covered = np.mean([estimate.low <= calls <= estimate.high for estimate in estimates])
    assert covered >= 0.90, covered
    # unbiased: the mean of 200 estimates lies within 3 standard errors of the truth
    assert abs(counts.mean() - calls) < 3 * counts.std() / np.sqrt(len(counts))
    # honest, not vacuous: on average at most three times as wide as a 95 % interval of the
    # estimates' real spread ([0, windows] would be over ten times as wide)
    width = np.mean([estimate.high - estimate.low for estimate in estimates])
    assert width < 3 * 2 * Z * counts.std()
    assert all(0 <= estimate.low <= estimate.calls <= estimate.high <= len(scores)
               for estimate in estimates)
    if kind == "rare everywhere":  # where the plain interval, zero for agreeing strata, fails
        plain = np.mean([abs(estimate.calls - calls) <= textbook_margin(estimate)
                         for estimate in estimates])
        assert plain < 0.85, plain


def test_stratifying_by_score_beats_a_simple_random_sample_of_the_same_size():
    scores, truth = population("calls at the top", zeros=0.0)  # four strata of 5000
    budget = 4 * 20
    stratified = [reviewed(scores, truth, seed, strata=4, per_stratum=20).calls
                  for seed in SEEDS]
    simple = [len(scores) * truth[np.random.default_rng(seed).choice(len(scores), budget,
                                                                      replace=False)].mean()
              for seed in SEEDS]
    assert np.mean(simple) == pytest.approx(truth.sum(), rel=0.1)  # both aim at the truth
    assert np.std(stratified) < 0.85 * np.std(simple), (np.std(stratified), np.std(simple))


def test_two_strata_worked_by_hand():
    # 700 windows tied at 0 and 300 above: the median is 0, so two strata of 700 and 300
    scores = np.r_[np.zeros(700), np.linspace(0.5, 1.0, 300)]
    sample = draw_review_sample(scores, strata=2, per_stratum=10, seed=3)
    low, high = sample.picked
    decisions = {**{int(w): k < 1 for k, w in enumerate(low)},    # 1 call in 10
                 **{int(w): k < 6 for k, w in enumerate(high)}}   # 6 calls in 10
    estimate = estimate_density(sample, decisions)
    assert estimate.calls == pytest.approx(700 * 0.1 + 300 * 0.6)  # 250
    assert estimate.share == pytest.approx(0.25) and estimate.windows == 1000
    q_low, q_high = (1 + Z ** 2 / 2) / (10 + Z ** 2), (6 + Z ** 2 / 2) / (10 + Z ** 2)
    variance = (700 ** 2 * (1 - 10 / 700) * q_low * (1 - q_low) / 9
                + 300 ** 2 * (1 - 10 / 300) * q_high * (1 - q_high) / 9)
    assert estimate.low == pytest.approx(250 - Z * variance ** 0.5)
    assert estimate.high == pytest.approx(250 + Z * variance ** 0.5)
    table = estimate.table
    assert list(table["windows"]) == [700, 300] and list(table["reviewed"]) == [10, 10]
    assert list(table["true"]) == [1, 6] and list(table["share"]) == pytest.approx([0.1, 0.6])
    assert list(table["score_low"]) == [0.0, 0.5] and list(table["score_high"]) == [0.0, 1.0]
    assert estimate.summary().startswith("about 250 of 1000 windows hold calls (25.0 %, 95 % "
                                         "interval ")
    assert estimate.summary().endswith(" %), from 20 reviewed in 2 strata")


def test_a_stratum_whose_decisions_all_agree_still_widens_the_interval():
    scores = np.arange(2000.0)
    sample = draw_review_sample(scores, strata=2, per_stratum=20, seed=0)
    everything_false = {int(w): False for drawn in sample.picked for w in drawn}
    estimate = estimate_density(sample, everything_false)
    assert estimate.calls == 0 and estimate.low == 0
    # 0 of 20 in each of two strata of 1000 leaves room for tens of calls in each
    assert estimate.high > 100
    one_each = draw_review_sample(scores, strata=2, per_stratum=1, seed=0)
    lone = estimate_density(one_each, {int(w): False for drawn in one_each.picked for w in drawn})
    assert lone.high == pytest.approx(Z * np.sqrt(2 * 0.25 * 1000 ** 2 * (1 - 1 / 1000)))
    whole = draw_review_sample(scores[:30], strata=3, per_stratum=25, seed=0)  # all reviewed
    known = estimate_density(whole, {int(w): bool(w % 3 == 0) for d in whole.picked for w in d})
    assert [known.low, known.calls, known.high] == pytest.approx([10, 10, 10])


def test_every_window_lands_in_one_stratum_and_ties_stay_together():
    rng = np.random.default_rng(4)
    scores = np.r_[np.zeros(5000), rng.random(5000)]  # half the scores exactly 0
    sample = draw_review_sample(scores, strata=4, per_stratum=25, seed=1)
    assert sample.stratum.shape == (10_000,) and sample.windows == 10_000
    strata = len(sample.sizes)
    assert 1 <= strata <= 4 and set(sample.stratum) == set(range(strata))
    assert list(sample.sizes) == list(np.bincount(sample.stratum)) and sample.sizes.sum() == 10_000
    assert set(sample.stratum[:5000]) == {0} and sample.sizes[0] == 5000  # the zeros, alone
    for h in range(strata - 1):  # strata ordered by score, never overlapping
        assert scores[sample.stratum == h].max() < scores[sample.stratum == h + 1].min()
    for h, drawn in enumerate(sample.picked):
        assert len(drawn) == 25 and len(set(drawn.tolist())) == 25  # no repeats
        assert (sample.stratum[drawn] == h).all()
    assert sorted(sample.review_order) == sorted(np.concatenate(sample.picked).tolist())
    assert [sample.stratum[w] for w in sample.review_order[:strata]] == list(range(strata))
    again, other = (draw_review_sample(scores, strata=4, per_stratum=25, seed=seed)
                    for seed in (1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(sample.picked, again.picked))
    assert not all(np.array_equal(a, b) for a, b in zip(sample.picked, other.picked))
    same = draw_review_sample(np.full(50, 0.3), strata=4, per_stratum=10)
    assert list(same.sizes) == [50]  # one score, one stratum


def test_a_stratum_smaller_than_per_stratum_is_drawn_whole():
    scores = np.r_[np.zeros(90), np.ones(10)]  # strata of 90 and 10
    sample = draw_review_sample(scores, strata=4, per_stratum=25, seed=0)
    assert list(sample.sizes) == [90, 10]
    assert len(sample.picked[0]) == 25
    assert sorted(sample.picked[1].tolist()) == list(range(90, 100))


@pytest.mark.parametrize("scores, message", [
    (np.array([0.1, np.nan, 0.3]), "1 of 3 windows are NaN or infinite"),
    (np.array([]), "empty"),
    (np.ones((3, 2)), "one score per window"),
])
def test_scores_that_cannot_be_stratified_are_named(scores, message):
    with pytest.raises(DataError, match=message):
        draw_review_sample(scores)


def test_settings_below_one_are_refused():
    with pytest.raises(ConfigError, match="strata must be at least 1, not 0"):
        draw_review_sample(np.ones(5), strata=0)
    with pytest.raises(ConfigError, match="per_stratum must be at least 1, not -2"):
        draw_review_sample(np.ones(5), per_stratum=-2)


def test_decisions_that_do_not_fit_the_sample_are_named():
    scores = np.arange(100.0)
    sample = draw_review_sample(scores, strata=2, per_stratum=5, seed=0)
    stray = next(w for w in range(100) if w not in set(sample.review_order))
    decisions = {w: True for w in sample.review_order}
    with pytest.raises(DataError, match=f"window {stray}: decided but not in the review sample"):
        estimate_density(sample, {**decisions, stray: False})
    with pytest.raises(DataError, match="is not True, False or None"):
        estimate_density(sample, {**decisions, sample.review_order[0]: "yes"})
    top_only = {int(w): True for w in sample.picked[1]}
    with pytest.raises(DataError, match=r"stratum 0 \(scores 0 to 49, 50 windows\) has no "
                                        r"decision"):
        estimate_density(sample, top_only)
    with pytest.raises(ConfigError, match="level"):
        estimate_density(sample, decisions, level=1.5)


def test_a_partial_review_estimates_from_the_decided_windows():
    scores = np.arange(1000.0)
    sample = draw_review_sample(scores, strata=2, per_stratum=20, seed=5)
    first = sample.review_order[:10]  # five of each stratum, in the order to review
    decisions = {w: w >= 500 and w % 5 == 0 for w in first}
    decisions[sample.review_order[10]] = None  # seen, not decided
    estimate = estimate_density(sample, decisions)
    assert list(estimate.table["reviewed"]) == [5, 5]
    calls_in_top = sum(w % 5 == 0 for w in first if w >= 500)
    assert estimate.calls == pytest.approx(500 * calls_in_top / 5)
    assert estimate.summary().endswith("from 10 reviewed in 2 strata")
