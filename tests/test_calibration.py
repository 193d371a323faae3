"""calibration: P(true | score) from reviewed detections, its band, thresholds for precision."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from whalelab.calibration import (calibration_record, fit_calibration, min_scores,
                                  reviewed_truth, write_calibration)
from whalelab.cli import main
from whalelab.errors import ConfigError, DataError


def simulated(events: int, seed: int, *, intercept=-1.0, slope=2.0, label="fin") -> pd.DataFrame:
    """Events whose truth is drawn from a known P(true | score)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.3, 1.0, events)
    logit = np.log(scores / (1 - scores))
    true = rng.random(events) < 1 / (1 + np.exp(-(intercept + slope * logit)))
    return pd.DataFrame({"label": label, "score": scores,
                         "review": np.where(true, "true", "false")})


def test_the_fit_recovers_the_curve_that_made_the_truth_and_its_band_covers_it():
    fit = fit_calibration(simulated(3000, seed=0), draws=10)["fin"]
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


def test_a_run_keeps_its_thresholds_and_detect_asks_for_one_precision(tmp_path):
    reviewed = pd.concat([simulated(300, seed=5), simulated(300, seed=6, label="blue")])
    fits = fit_calibration(reviewed, draws=20)
    record = calibration_record(fits, reviewed, source="reviews/")
    path = write_calibration(tmp_path, record)
    assert json.loads(path.read_text()) == record and set(record["classes"]) == {"fin", "blue"}
    floors = min_scores(tmp_path, 0.9)
    assert set(floors) == {"fin", "blue"}
    for label, floor in floors.items():  # the reviewed events above it reach 0.9 or so
        mine = reviewed[(reviewed["label"] == label) & (reviewed["score"] >= floor)]
        assert abs((mine["review"] == "true").mean() - 0.9) < 0.07
    assert min_scores(tmp_path, 0.99)["fin"] > floors["fin"]
    with pytest.raises(ConfigError, match="precision 0.8: .* keeps thresholds for 0.9, 0.95, "
                                          "0.99"):
        min_scores(tmp_path, 0.8)
    record["classes"]["blue"]["thresholds"]["0.95"] = None
    write_calibration(tmp_path, record)
    with pytest.raises(ConfigError, match="no score threshold reaches it for blue"):
        min_scores(tmp_path, 0.95)
    with pytest.raises(ConfigError, match="whalelab calibrate REVIEWED --run"):
        min_scores(tmp_path / "elsewhere", 0.9)


def test_cli_calibrate_reads_a_review_and_warns_of_classes_it_cannot_fit(tmp_path, capsys):
    events = simulated(60, seed=7).assign(file="day.wav", begin_s=np.arange(60.0),
                                          end_s=np.arange(60.0) + 1)
    few = simulated(4, seed=8, label="blue").assign(file="day.wav", begin_s=[100.0, 101, 102, 103],
                                                    end_s=[100.5, 101.5, 102.5, 103.5])
    table = pd.concat([events, few], ignore_index=True)
    folder = tmp_path / "detections"
    folder.mkdir()
    table.drop(columns="review").to_csv(folder / "events.csv", index=False)
    table.assign(reviewed_at="2026-12-06T10:00:00+00:00").to_csv(folder / "review.csv",
                                                                 index=False)
    run = tmp_path / "run"
    run.mkdir()
    with pytest.warns(UserWarning, match=r"blue: 4 reviewed events .* left uncalibrated"):
        assert main(["calibrate", str(folder), "--run", str(run)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("fin: ") and "score thresholds by precision 0.9: " in said
    assert set(json.loads((run / "calibration.json").read_text())["classes"]) == {"fin"}
    (folder / "review.csv").unlink()  # nothing reviewed
    assert main(["calibrate", str(folder), "--run", str(run)]) == 2
    assert "no class has reviews enough" in capsys.readouterr().err
