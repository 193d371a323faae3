"""calibration: P(true | score) from reviewed detections, its band, thresholds for precision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whalelab.calibration import fit_calibration, reviewed_truth
from whalelab.errors import DataError


def simulated(events: int, seed: int, *, intercept=-1.0, slope=2.0, label="fin") -> pd.DataFrame:
    """Events whose truth is drawn from a known P(true | score)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.3, 1.0, events)
    logit = np.log(scores / (1 - scores))
    true = rng.random(events) < 1 / (1 + np.exp(-(intercept + slope * logit)))
    return pd.DataFrame({"label": label, "score": scores,
                         "review": np.where(true, "true", "false")})


def test_the_fit_recovers_the_curve_that_made_the_truth_and_its_band_covers_it():
    fit = fit_calibration(simulated(3000, seed=0), draws=100)["fin"]
    assert fit.intercept == pytest.approx(-1.0, abs=0.3)
    assert fit.slope == pytest.approx(2.0, abs=0.3)
    scores = np.array([0.4, 0.6, 0.8, 0.95])
    truth = 1 / (1 + np.exp(-(-1.0 + 2.0 * np.log(scores / (1 - scores)))))
    covered = []
    for seed in range(20):  # a 95 % band holds the true curve about 95 times in 100
        low, high = fit_calibration(simulated(300, seed=seed), draws=60)["fin"].interval(scores)
        covered += list((low <= truth) & (truth <= high))
    assert 0.85 <= np.mean(covered) <= 1.0


def test_the_threshold_for_a_precision_holds_on_held_out_events():
    fit = fit_calibration(simulated(400, seed=1), draws=50)["fin"]  # 400 reviews
    held_out = simulated(5000, seed=2)
    for target in (0.8, 0.9):
        threshold = fit.threshold_for_precision(target, held_out["score"].to_numpy())
        kept = held_out[held_out["score"] >= threshold]
        measured = (kept["review"] == "true").mean()
        assert abs(measured - target) < 0.05, (target, threshold, measured)
    thresholds = [fit.threshold_for_precision(target, held_out["score"].to_numpy())
                  for target in (0.8, 0.9, 0.95)]
    assert thresholds == sorted(thresholds)  # a higher precision asks a higher score
    assert fit.threshold_for_precision(1.0, held_out["score"].to_numpy()) is None


def test_another_class_is_false_for_the_class_detected_and_unsure_says_nothing():
    reviewed = pd.DataFrame({"label": ["fin"] * 5, "score": [0.9, 0.8, 0.7, 0.6, 0.5],
                             "review": ["true", "blue", "unsure", "", "false"]})
    truth = reviewed_truth(reviewed)
    assert list(truth["score"]) == [0.9, 0.8, 0.5] and list(truth["true"]) == [True, False, False]


def test_too_few_reviews_say_how_many_more():
    few = simulated(8, seed=3)
    with pytest.raises(DataError, match=r"fin: 8 reviewed events \(\d+ true, \d+ false\)"):
        fit_calibration(few)
    all_true = simulated(30, seed=4).assign(review="true")
    with pytest.raises(DataError, match="30 true, 0 false"):
        fit_calibration(all_true)
