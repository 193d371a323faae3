"""whalelab.bench.readme: the README's measured table, rendered from a recorded run, never typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whalelab.bench.readme import main, readme_table, record_run, render_table
from whalelab.errors import DataError, WhaleLabError

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- measured: begin, rendered from docs/measured/quick.json by `make readme-table` -->"
END = "<!-- measured: end -->"
METRICS = {
    "split": "test", "clips": 40, "accuracy": 0.875, "macro_f1": 0.9, "macro_ap": 0.95,
    "macro_auc": 0.97, "macro_ece": 0.02,
    "intervals_95": {"macro_f1": [0.85, 0.94], "macro_ap": [0.9, 0.97]},
    "recall_by_snr": [{"bin": "below 0 dB", "clips": 10, "recall": 0.6,
                       "interval_95": [0.31, 0.83]},
                      {"bin": "0 dB and above", "clips": 0, "recall": None,
                       "interval_95": None}],
    "localisation": {"macro_frame_auc": 0.93, "macro_frame_ap": 0.8,
                     "mean_attention_on_call": 0.71, "mean_flat_share": 0.5, "clips": 40,
                     "pairs": 35, "onset_error_s": {"median": 0.2},
                     "offset_error_s": {"median": 0.3}},
    "baselines": {"logistic": {
        "method": "logistic regression", "accuracy": 0.7, "macro_f1": 0.8, "macro_ap": 0.85,
        "recall_by_snr": [{"bin": "below 0 dB", "clips": 10, "recall": 0.3,
                           "interval_95": [0.1, 0.6]}],
        "model_minus_baseline": {"macro_f1": {"value": 0.1, "interval_95": [0.05, 0.16]}}}}}
EVENTS = {"overall": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "tp": 8, "fp": 1, "fn": 2},
          "intervals_95": {"f1": [0.7, 0.95]}, "false_alarms": 1, "false_alarms_per_hour": 6.0,
          "false_alarms_per_hour_upper_95": 28.5, "hours_without_calls": 1 / 6,
          "recordings": 3, "audio_hours": 0.5, "criterion": {"iou": 0.3},
          "settings": {"gate": False, "trim": True, "threshold": 0.65},
          "data": "data/synthetic/quick/long/test"}


def test_the_readme_table_is_the_one_rendered_from_the_record_it_names():
    text = (ROOT / "README.md").read_text()
    record, table = readme_table(text)
    assert record == "docs/measured/quick.json"
    assert table == render_table(json.loads((ROOT / record).read_text())), \
        "the README's measured table was edited by hand: run `make readme-table RUN=runs/quick`"


def run_folder(path: Path, events: dict | None = EVENTS) -> Path:
    path.mkdir()
    (path / "metrics.json").write_text(json.dumps(METRICS))
    if events is not None:
        (path / "event_metrics.json").write_text(json.dumps(events))
    return path


def test_make_readme_table_records_the_run_and_writes_the_table_between_the_markers(tmp_path):
    run = run_folder(tmp_path / "run")
    readme = tmp_path / "README.md"
    readme.write_text(f"# before\n\n{BEGIN}\n| typed | by | hand |\n{END}\n\nafter\n")
    assert main(["--run", str(run), "--readme", str(readme)]) == 0
    record = json.loads((tmp_path / "docs" / "measured" / "quick.json").read_text())
    assert record["metrics"] == METRICS and record["event_metrics"] == EVENTS
    assert record["source"]["run"] == run.as_posix()
    text = readme.read_text()
    assert text.startswith(f"# before\n\n{BEGIN}\n| what | figure | command |\n")
    assert text.endswith(f"\n{END}\n\nafter\n") and "typed" not in text
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:]
            for line in readme_table(text)[1].splitlines()[2:]}
    assert rows["the model on the test split (40 clips)"][0] == (
        "macro-F1 0.900 [0.850, 0.940], mAP 0.950 [0.900, 0.970], accuracy 0.875, "
        "macro AUC 0.970, ECE 0.020")
    assert rows["the same clips, logistic regression"][0] == (
        "macro-F1 0.800, mAP 0.850, accuracy 0.700")
    assert rows["the model minus the logistic baseline, paired bootstrap"][0] == (
        "macro-F1 +0.100 [+0.050, +0.160]")
    snr = next(cells for what, cells in rows.items() if what.startswith("recall of call clips"))
    assert snr[0] == "below 0 dB 0.60 [0.31, 0.83] / 0.30 (10 clips), 0 dB and above no clips"
    looks = next(cells for what, cells in rows.items() if what.startswith("where the model"))
    assert looks[0].startswith("frame AUC 0.930 macro") and "0.71 (a flat spread: 0.50)" in looks[0]
    events = next(cells for what, cells in rows.items() if what.startswith("events on"))
    assert events[0] == ("F1 0.847 [0.700, 0.950] (precision 0.900, recall 0.800; tp / fp / fn "
                         "8 / 1 / 2), 1 false alarms in 10 min of call-free audio (6 per hour, "
                         "at most 28 per hour at 95 %)")
    assert events[1] == (f"`whalelab evaluate {run.as_posix()} --data "
                         f"data/synthetic/quick/long/test --validation "
                         f"data/synthetic/quick/long/val` |")
    # rendering again from the record gives the same table: what the README test checks
    assert readme_table(text)[1] == render_table(record)


def test_a_report_s_absolute_recordings_are_named_from_the_repository(tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    run = run_folder(tmp_path / "runs" / "quick")
    recordings = tmp_path / "data" / "synthetic" / "quick" / "long" / "test"
    (run / "event_metrics.json").write_text(json.dumps({**EVENTS, "data": str(recordings)}))
    monkeypatch.chdir(tmp_path)  # where make readme-table runs: the repository
    assert record_run("runs/quick")["event_metrics"]["data"] == "data/synthetic/quick/long/test"
    elsewhere = "/mnt/archive/long/test"  # outside the repository: kept as it is
    (run / "event_metrics.json").write_text(json.dumps({**EVENTS, "data": elsewhere}))
    assert record_run("runs/quick")["event_metrics"]["data"] == elsewhere


def test_without_event_metrics_or_bound_the_table_keeps_what_it_has(tmp_path):
    no_bound = {**EVENTS, "false_alarms": None, "false_alarms_per_hour": 0.0,
                "false_alarms_per_hour_upper_95": None}
    table = render_table(record_run(run_folder(tmp_path / "a", no_bound)))
    assert "0 false alarms in 10 min of call-free audio (0 per hour, at most 18 per hour" in table
    table = render_table(record_run(run_folder(tmp_path / "b", events=None)))
    assert "events on" not in table and "the model on the test split" in table


def test_a_readme_without_markers_or_a_run_without_metrics_is_named(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no table here\n")
    with pytest.raises(WhaleLabError, match="README.md: no table between"):
        readme_table(readme.read_text(), where=str(readme))
    assert main(["--run", str(run_folder(tmp_path / "run")), "--readme", str(readme)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(DataError, match="metrics.json: no such file"):
        record_run(tmp_path / "empty")
