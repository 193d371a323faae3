"""Clip-level evaluation: which clips are scored, and the model against its baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from whalelab.cli import main
from whalelab.evaluate import evaluate_run, held_out_caveat, held_out_split
from whalelab.errors import DataError

CLASSES = {"upcall": (300.0, 900.0), "downsweep": (1500.0, 600.0)}
RATE = 8000


def _tree(root, *, seed: int, per_class: int):
    """Two sweeping call classes and background, one-second WAVs, ``per_class`` each."""
    rng = np.random.default_rng(seed)
    t = np.arange(RATE) / RATE
    for name, (start_hz, end_hz) in {**CLASSES, "background": (0.0, 0.0)}.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            noise = 0.02 * rng.standard_normal(RATE)
            phase = 2 * np.pi * np.cumsum(np.linspace(start_hz, end_hz, RATE)) / RATE
            call = 0.3 * np.sin(phase) * ((t > 0.2) & (t < 0.7)) if start_hz else 0.0
            soundfile.write(root / name / f"{name}_{i}.wav",
                            (noise + call).astype(np.float32), RATE)
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    run = root / "run"
    main(["train", "--data", str(_tree(root / "own", seed=0, per_class=10)), "--out", str(run),
          "--profile", "smoke", "--device", "cpu", "--clip-seconds", "1", "--epochs", "2",
          "--batch-size", "4", "--backbone", "tiny"])
    return run


@pytest.mark.slow
def test_another_data_set_is_scored_whole_and_the_count_is_said(run, tmp_path, capsys):
    held_out = _tree(tmp_path / "held_out", seed=1, per_class=7)
    capsys.readouterr()
    main(["evaluate", str(run), "--data", str(held_out), "--out", str(tmp_path / "all.json")])
    metrics = json.loads((tmp_path / "all.json").read_text())
    assert metrics["clips"] == 21 and metrics["split"] == "all"
    assert "scored 21 clips (every clip)" in capsys.readouterr().out

    main(["evaluate", str(run), "--data", str(held_out), "--split", "test",
          "--out", str(tmp_path / "test.json")])
    named = json.loads((tmp_path / "test.json").read_text())
    assert named["split"] == "test" and 0 < named["clips"] < 21


@pytest.mark.slow
def test_the_run_s_own_data_is_scored_on_its_test_split_only(run, tmp_path):
    main(["evaluate", str(run), "--out", str(tmp_path / "own.json")])
    metrics = json.loads((tmp_path / "own.json").read_text())
    splits = pd.read_csv(run / "splits.csv", comment="#")
    assert metrics["split"] == "test"
    assert metrics["clips"] == int((splits["split"] == "test").sum()) < len(splits)


@pytest.mark.slow
def test_the_model_s_lead_over_the_baseline_is_paired(run, tmp_path, capsys):
    main(["evaluate", str(run), "--out", str(tmp_path / "own.json")])
    metrics = json.loads((tmp_path / "own.json").read_text())
    baseline = metrics["baselines"]["logistic"]
    lead = baseline["model_minus_baseline"]
    for name in ("accuracy", "macro_f1", "macro_ap"):
        assert lead[name]["value"] == pytest.approx(metrics[name] - baseline[name])
        low, high = lead[name]["interval_95"]
        assert low <= lead[name]["value"] <= high
    assert "model minus logistic" in capsys.readouterr().out


@pytest.mark.slow
def test_recall_by_snr_where_the_data_states_it_for_model_and_baseline(run, tmp_path):
    held_out = _tree(tmp_path / "held_out", seed=2, per_class=6)
    rows = ["path,label,snr_db"]
    for k, path in enumerate(sorted(held_out.rglob("*.wav"))):
        label = "" if path.parent.name == "background" else path.parent.name
        rows.append(f"{path.relative_to(held_out)},{label},{'' if not label else -8 + 4 * k}")
    (held_out / "manifest.csv").write_text("\n".join(rows) + "\n")
    metrics = evaluate_run(run, data=str(held_out), out=tmp_path / "m.json", device="cpu",
                           progress=False)
    for figures in (metrics, metrics["baselines"]["logistic"]):
        bins = figures["recall_by_snr"]
        assert sum(row["clips"] for row in bins) == 12  # the call clips; background has none
        assert all(row["recall"] is None or 0 <= row["recall"] <= 1 for row in bins)
    # the data without SNRs (the folder tree read without the manifest) gives no bins
    (held_out / "manifest.csv").unlink()
    plain = evaluate_run(run, data=str(held_out), out=tmp_path / "p.json", device="cpu",
                         progress=False, baseline=False)
    assert "recall_by_snr" not in plain


def test_a_run_without_a_test_split_says_where_to_score_and_notebooks_use_val(tmp_path):
    run = tmp_path / "run"
    main(["train", "--data", str(_tree(tmp_path / "data", seed=3, per_class=10)),
          "--out", str(run), "--profile", "smoke", "--device", "cpu", "--clip-seconds", "1",
          "--epochs", "1", "--batch-size", "4", "--backbone", "tiny",
          "--val-fraction", "0.3", "--test-fraction", "0"])
    splits = pd.read_csv(run / "splits.csv", comment="#")
    assert set(splits["split"]) == {"train", "val"}
    assert held_out_split(run) == "val"
    assert "the best epoch and the thresholds were chosen on them" in held_out_caveat(run)
    with pytest.raises(DataError, match="keeps no test split.*--data"):
        evaluate_run(run, device="cpu", progress=False)
    assert evaluate_run(run, split="val", device="cpu", progress=False,
                        baseline=False)["clips"] == int((splits["split"] == "val").sum())
    config = json.loads((run / "config.json").read_text())  # as a rotated ensemble's says
    config["model"]["members"], config["train"]["member_validation"] = 3, "rotate"
    (run / "config.json").write_text(json.dumps(config))
    assert "2 of the 3 networks of the ensemble trained on them" in held_out_caveat(run)


@pytest.mark.parametrize("flags", [["--threshold", "0.9"], ["--no-trim", "--no-gate"],
                                   ["--iou", "0.5"]])
def test_event_level_flags_are_refused_for_a_clip_level_evaluation(run, tmp_path, capsys, flags):
    capsys.readouterr()
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(run), "--out", str(out), *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"whalelab: {flags[0]}") and "\n" not in error
    assert "long recordings with Raven tables" in error and not out.exists()
