"""The whole report on a user's own data in each layout, built from real killer whale calls.

Three tiny data sets from the Southern Resident calls shipped in ``data/examples/srkw``
(call types grouped by catalogue number into three classes, ``S0``, ``S1`` and ``S3``,
beside call-free low-passed noise): a folder per class, a manifest CSV, and long
recordings of calls with gaps, annotated by Raven tables. Each is read with a data
option of its own (a background label, a Raven label column), which must reach training
through the report.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from test_report import COMMITTED, PARAMETERS, Page, stream_text, write_notebook

from whalelab.audio import load_audio, write_audio
from whalelab import report
from whalelab.cli import build_parser, main
from whalelab.config import RunConfig
from whalelab.detection import SHOWN_TEST_CLIPS, detection_material
from whalelab.errors import DataError
from whalelab.raven import write_raven
from whalelab.report import run_report

SRKW = Path(__file__).resolve().parent.parent / "data" / "examples" / "srkw"
#: four call types a class, by catalogue number: train, train, val, test
CLASSES = {"S0": ["S01", "S02i", "S03", "S04"], "S1": ["S10", "S12", "S13i", "S14"],
           "S3": ["S31", "S33", "S36", "S37i"]}
SPLITS = ("train", "train", "val", "test")
RATE = 16_000


def noise(seconds: float, seed: int, level: float = 0.01) -> np.ndarray:
    """Call-free background: white noise low-passed by a running mean, ``(samples,)``."""
    white = np.random.default_rng(seed).standard_normal(int(seconds * RATE) + 15)
    return (level * np.convolve(white, np.ones(16) / 4, mode="valid")).astype(np.float32)


def class_tree(root: Path) -> Path:
    """``root/{train,val,test}/{S0,S1,S3,noise}/*.wav``; background is called ``noise``."""
    for label, types in CLASSES.items():
        for call_type, split in zip(types, SPLITS, strict=True):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            shutil.copy(SRKW / f"{call_type}.wav", root / split / label / f"{call_type}.wav")
    for number, split in enumerate(SPLITS):
        write_audio(root / split / "noise" / f"noise{number}.wav", noise(3.0, number), RATE)
    return root


def manifest(root: Path) -> Path:
    """``root/manifest.csv`` (``path,label,split``; empty label: background) over ``audio/``."""
    (root / "audio").mkdir(parents=True)
    rows = []
    for label, types in CLASSES.items():
        for call_type, split in zip(types, SPLITS, strict=True):
            shutil.copy(SRKW / f"{call_type}.wav", root / "audio" / f"{call_type}.wav")
            rows.append({"path": f"audio/{call_type}.wav", "label": label, "split": split})
    for number, split in enumerate(SPLITS):
        write_audio(root / "audio" / f"quiet{number}.wav", noise(3.0, number), RATE)
        rows.append({"path": f"audio/quiet{number}.wav", "label": "", "split": split})
    path = root / "manifest.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def raven_recordings(root: Path, count: int = 5, label_column: str = "Call Type") -> Path:
    """``count`` 25 s recordings of noise with one call of each class, 8 s apart (S0 first),
    each with a Raven table whose labels are in ``label_column``."""
    root.mkdir(parents=True)
    for number in range(count):
        audio = noise(25.0, 100 + number)
        rows = []
        for position, (label, types) in enumerate(CLASSES.items()):
            call = load_audio(SRKW / f"{types[number % len(types)]}.wav", RATE)
            begin = 1.0 + 8.0 * position
            start = int(begin * RATE)
            audio[start:start + len(call)] += 0.5 * call / np.abs(call).max()
            rows.append({"begin_s": begin, "end_s": begin + len(call) / RATE,
                         "low_hz": 500.0, "high_hz": 3500.0, "label": label})
        write_audio(root / f"rec{number}.wav", audio, RATE)
        write_raven(pd.DataFrame(rows), root / f"rec{number}.selections.txt",
                    label_column=label_column)
    return root


# the whole report runs on one user layout within make test's time (the synthetic set's
# report covers long recordings with Raven tables); the class tree's and the Raven
# layout's data options are checked as training reads them (the two tests below)
LAYOUTS = {
    "manifest": (manifest, {}),
}


def executed_outputs(notebook: Path) -> list:
    cells = nbformat.read(notebook, as_version=4).cells
    return [output for cell in cells if cell.cell_type == "code" for output in cell.outputs]


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_report_runs_on_a_users_data(layout, tmp_path):
    build, options = LAYOUTS[layout]
    data = build(tmp_path / "data")
    out, run = tmp_path / "report", tmp_path / "run"
    # the report is also asked to detect in a recording of the user's
    detect = [raven_recordings(tmp_path / "listen", count=1)]
    executed = run_report(out, profile="smoke", device="cpu", data=data, run=run, seed=0,
                          data_options=options, detect=detect, progress=False,
                          cell_timeout_s=600)

    assert [path.name for path in executed] == [path.name for path in COMMITTED]
    assert (out / "index.html").is_file()
    for path in executed:
        errors = [output for output in executed_outputs(path) if output.output_type == "error"]
        assert not errors, f"{path.name}: {errors}"
        assert Page((out / f"{path.stem}.html").read_text()).remote == [], path.name
    record = json.loads((out / "provenance.json").read_text())
    assert [entry["status"] for entry in record["notebooks"]] == ["ok"] * len(executed)
    assert record["parameters"]["data_options"] == options if options else \
        "data_options" not in record["parameters"]

    # the data options reached training: the run's classes and settings follow them
    config = RunConfig.load(run / "config.json")
    assert config.classes == sorted(CLASSES)
    for name, value in options.items():
        assert getattr(config.data, name) == value
    assert (run / "metrics.json").is_file()

    attention, detection = (stream_text(out / name)
                            for name in ("03_attention.ipynb", "05_detection.ipynb"))
    # whole-file clips do not know where their calls lie; no long recordings: said, and
    # detection shown on test clips or named recordings
    assert "No test clip with a call knows where its call lies" in attention
    assert "no long recordings with Raven tables" in detection
    assert "detection shown on 1 recording(s) you named" in detection
    assert "No validation and test recordings with Raven tables" in detection
    assert not (run / "event_metrics.json").exists()


def split_run(run: Path, data: Path, splits: dict[str, str]) -> Path:
    """A run folder as training leaves it, as far as :func:`detection_material` reads it:
    ``config.json`` and ``splits.csv`` with ``splits`` (file name -> split) of ``data``."""
    run.mkdir()
    RunConfig.from_profile("smoke", data=data, classes=["S0"], device="cpu").save(
        run / "config.json")
    rows = [{"path": str(data / name), "start_s": 0.0, "duration_s": 5.0, "labels": "S0",
             "recording": name, "split": split, "strong": 0, "spans": ""}
            for name, split in splits.items()]
    with (run / "splits.csv").open("w") as file:
        file.write("# classes: S0\n")
        pd.DataFrame(rows).to_csv(file, index=False)
    return run


def test_a_class_tree_with_a_named_background_trains_as_the_report_would(tmp_path):
    from whalelab.training.plan import plan_run
    data = class_tree(tmp_path / "data")
    config, index = plan_run(tmp_path / "run", data=data, profile="smoke", device="cpu",
                             seed=0, background_labels=["noise"])  # the report's data_options
    assert config.classes == sorted(CLASSES) and config.data.background_labels == ["noise"]
    background = [clip for clip in index.clips if not clip.labels]
    assert sorted(clip.split for clip in background) == sorted(SPLITS)  # noise: no class


def test_raven_recordings_with_their_own_label_column_train_as_the_report_would(tmp_path):
    from whalelab.training.plan import plan_run
    data = raven_recordings(tmp_path / "data")
    config, index = plan_run(tmp_path / "run", data=data, profile="smoke", device="cpu",
                             seed=0, label_column="Call Type")  # the report's data_options
    assert config.classes == sorted(CLASSES) and config.data.label_column == "Call Type"
    calls = [clip for clip in index.clips if clip.labels]
    assert calls and all(clip.spans for clip in calls)  # windows know where their calls lie
    assert {clip.split for clip in index.clips} == {"train", "val", "test"}


def test_detection_material_without_long_recordings_takes_test_clips_label_by_label(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    splits = {**{f"a{i}.wav": "test" for i in range(SHOWN_TEST_CLIPS)},
              "b.wav": "test", "c.wav": "train"}
    run = split_run(tmp_path / "run", data, splits)
    # b.wav is background in the test split: relabel it in splits.csv
    text = (run / "splits.csv").read_text().replace(f"{data / 'b.wav'},0.0,5.0,S0",
                                                    f"{data / 'b.wav'},0.0,5.0,")
    (run / "splits.csv").write_text(text)

    material = detection_material(data, run)
    assert not material.scored and material.validation is None and material.test is None
    assert material.truth.empty
    # the first clip of each label in turn, background included, at most SHOWN_TEST_CLIPS
    assert [path.name for path in material.recordings[:2]] == ["a0.wav", "b.wav"]
    assert len(material.recordings) == SHOWN_TEST_CLIPS
    assert "c.wav" not in {path.name for path in material.recordings}
    assert material.labels[str(data / "b.wav")] == "background"
    assert material.labels[str(data / "a0.wav")] == "S0"
    assert "no long recordings with Raven tables" in material.notes[0]
    assert f"{SHOWN_TEST_CLIPS} of the run's {SHOWN_TEST_CLIPS + 1}" in material.notes[1]


def test_detection_material_finds_held_out_recordings_and_the_users_own(tmp_path):
    data = raven_recordings(tmp_path / "data", count=4)
    run = split_run(tmp_path / "run", data, {"rec0.wav": "train", "rec1.wav": "val",
                                             "rec2.wav": "test", "rec3.wav": "test"})
    with (run / "splits.csv").open("a") as file:  # a window of rec3 in train too
        file.write(f"{data / 'rec3.wav'},20.0,5.0,S0,rec3#1,train,0,\n")
    (run / "config.json").write_text((run / "config.json").read_text().replace(
        '"label_column": "Species"', '"label_column": "Call Type"'))

    material = detection_material(data, run)
    assert material.scored
    assert "wholly in its val split: 1, wholly in its test split: 1" in material.notes[0]
    assert sorted(path.name for path in material.validation.iterdir()) == [
        "rec1.selections.txt", "rec1.wav"]
    assert sorted(path.name for path in material.test.iterdir()) == [
        "rec2.selections.txt", "rec2.wav"]
    assert (material.test / "rec2.wav").resolve() == data / "rec2.wav"
    assert [path.name for path in material.recordings] == ["rec2.wav"]
    assert sorted(material.truth.label) == ["S0", "S1", "S3"]  # read with the run's column
    assert set(material.truth.file) == {str(material.test / "rec2.wav")}
    assert material.labels == {}

    # again after the split changed: the old links go
    (run / "splits.csv").write_text((run / "splits.csv").read_text().replace(
        f"{data / 'rec2.wav'},0.0,5.0,S0,rec2.wav,test", f"{data / 'rec2.wav'},0.0,5.0,S0,"
                                                         f"rec2.wav,train"))
    material = detection_material(data, run)
    assert not material.scored and material.test is None
    assert not (run / "recordings" / "test" / "rec2.wav").exists()

    named = detection_material(data, run, detect=[data / "rec0.wav", tmp_path / "data"])
    assert [path.name for path in named.recordings] == ["rec0.wav", *(
        f"rec{i}.wav" for i in range(4))]
    with pytest.raises(DataError, match="nowhere"):
        detection_material(data, run, detect=[tmp_path / "nowhere"])


def test_synthetic_long_recordings_beside_a_manifest_are_found(tmp_path):
    data = tmp_path / "data"
    for split in ("val", "test"):
        raven_recordings(data / "long" / split, count=1, label_column="Species")
    (data / "manifest.csv").write_text("path,label\n")
    run = split_run(tmp_path / "run", data, {"x.wav": "test"})
    for where in (data, data / "manifest.csv"):
        material = detection_material(where, run)
        assert material.scored
        assert material.validation == data / "long" / "val"
        assert material.recordings == [data / "long" / "test" / "rec0.wav"]
        assert sorted(material.truth.label) == ["S0", "S1", "S3"]


def test_report_and_train_share_the_data_flags():
    parser = build_parser()
    flags = ["--label-column", "Call Type", "--background-label", "noise",
             "--background-label", "ambient", "--min-call-fraction", "0.3",
             "--window-hop-s", "1.5", "--background-cap", "0.4", "--low-rate", "refuse",
             "--empty-label", "noise"]
    train = parser.parse_args(["train", "--data", "d", "--out", "r", *flags])
    report = parser.parse_args(["report", "--out", "o", *flags, "--detect", "a.wav",
                                "--detect", "more/"])
    expected = {"label_column": "Call Type", "background_labels": ["noise", "ambient"],
                "min_call_fraction": 0.3, "window_hop_s": 1.5, "background_cap": 0.4,
                "low_rate": "refuse", "empty_label": "noise"}
    for args in (train, report):
        assert {name: getattr(args, name) for name in expected} == expected
    assert report.detect == ["a.wav", "more/"]


@pytest.mark.slow
def test_optional_parameters_go_to_the_notebooks_that_declare_them(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_plain.ipynb", "print('declared', 'detect' in globals(), "
                                              "'data_options' in globals())")
    wants = write_notebook(folder / "02_wants.ipynb", "print('options', data_options)",
                           "print('detect', detect)")
    notebook = nbformat.read(wants, as_version=4)
    notebook.cells[1].source = f"{PARAMETERS}\ndata_options = {{}}\ndetect = []"
    nbformat.write(notebook, wants)
    out = tmp_path / "out"
    run_report(out, profile="smoke", device="cpu", data=tmp_path, run=tmp_path / "run", seed=0,
               notebooks_dir=folder, progress=False,
               data_options={"label_column": "Call Type"}, detect=["calls/x.wav"])

    assert "declared False False" in stream_text(out / "01_plain.ipynb")
    text = stream_text(out / "02_wants.ipynb")
    assert "options {'label_column': 'Call Type'}" in text
    assert f"detect [{str(Path('calls/x.wav').resolve())!r}]" in text
    parameters = json.loads((out / "provenance.json").read_text())["parameters"]
    assert parameters["data_options"] == {"label_column": "Call Type"}
    index = Page((out / "index.html").read_text())
    assert index.row("data options") == ["data options", '{"label_column": "Call Type"}']
    assert index.row("detect")[1].endswith("calls/x.wav")


def test_the_report_command_passes_data_flags_and_recordings(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(report, "run_report", lambda out, **kwargs: calls.append(kwargs) or [])
    assert main(["report", "--out", str(tmp_path), "--profile", "smoke", "--device", "cpu",
                 "--background-label", "noise", "--detect", "a.wav", "--detect", "b/"]) == 0
    assert calls[0]["data_options"] == {"background_labels": ["noise"]}
    assert calls[0]["detect"] == ["a.wav", "b/"]
    assert main(["report", "--out", str(tmp_path), "--profile", "smoke"]) == 0
    assert calls[1]["data_options"] == {} and calls[1]["detect"] == ()
