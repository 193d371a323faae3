"""The calibration bench: thresholds chosen on validation reviews, precision measured on
held-out ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from whalelab.bench.calibration import held_out_precision
from whalelab.calibration import fit_calibration


def reviewed(rng, label, count, *, sharpness):
    """Events of ``label`` whose chance of being a call rises with the score."""
    scores = rng.uniform(0.2, 1.0, count)
    calls = rng.random(count) < 1 / (1 + np.exp(-sharpness * (scores - 0.6)))
    return pd.DataFrame({"label": label, "score": scores, "true": calls})


def test_thresholds_from_validation_are_applied_to_held_out_events_per_class_and_pooled():
    rng = np.random.default_rng(0)
    validation = pd.concat([reviewed(rng, "fin", 1000, sharpness=16),
                            reviewed(rng, "blue", 1000, sharpness=8)])
    test = pd.concat([reviewed(rng, "fin", 1000, sharpness=16),
                      reviewed(rng, "blue", 1000, sharpness=8)])
    fits = fit_calibration(validation.assign(review=np.where(validation["true"], "true",
                                                             "false")), draws=20)
    rows = pd.DataFrame(held_out_precision(fits, validation, test, targets=(0.9,)))
    by_class = rows.set_index("class")
    for label in ("fin", "blue"):
        threshold = by_class.loc[label, "threshold"]
        kept = test[(test["label"] == label) & (test["score"] >= threshold)]
        assert by_class.loc[label, "test_events"] == len(kept) > 0
        assert by_class.loc[label, "precision"] == kept["true"].mean()
        # the same draw of the world: what validation promised, the held-out events keep
        assert abs(by_class.loc[label, "precision"] - 0.9) < 0.06
    assert by_class.loc["blue", "threshold"] > by_class.loc["fin", "threshold"]  # less sure
    pooled = by_class.loc["all"]
    assert pooled["test_events"] == by_class.loc[["fin", "blue"], "test_events"].sum()


def test_a_class_whose_reviews_reach_no_threshold_keeps_no_event():
    rng = np.random.default_rng(1)
    validation = reviewed(rng, "fin", 200, sharpness=0.5)  # a coin toss at every score
    fits = fit_calibration(validation.assign(review=np.where(validation["true"], "true",
                                                             "false")), draws=20)
    row = held_out_precision(fits, validation, validation, targets=(0.99,))[0]
    assert row["threshold"] is None and row["test_events"] == 0 and row["precision"] is None


def test_a_measurement_script_keeps_its_result_or_says_its_error_in_one_line(tmp_path, capsys):
    import json

    from whalelab.bench.result import save_result
    from whalelab.errors import DataError

    def fails():
        raise DataError("data/x.wav: not audio")

    assert save_result(tmp_path / "failed", fails) == 2
    assert capsys.readouterr().err == "whalelab: data/x.wav: not audio\n"
    assert not (tmp_path / "failed" / "result.json").exists()
    assert save_result(tmp_path, lambda: {"precision": 0.9}, lambda r: f"p {r['precision']}") == 0
    assert json.loads((tmp_path / "result.json").read_text()) == {"precision": 0.9}
    assert capsys.readouterr().out == "p 0.9\n"
