"""No file of the user's changes under any command that writes into their folder.

A folder holding a user's files (an annotation table, a ``bands.json``, recordings and
clips named as synth names its own, notes) is snapshotted, every file's bytes and
modification time; ``synth``, ``detect`` and ``detect --overwrite`` are run into it
through the command line, with and without ``--force``; and after each, every file is
either as it was or one that whalelab recorded as its own output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from whalelab.audio import write_audio
from whalelab.checkpoint import model_file_state, save_checkpoint, write_classes
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.model import build_model
from whalelab.raven import write_raven

SR = 8000
CLASSES = ["low", "high"]
BANDS = {"low": (10.0, 100.0), "high": (500.0, 2000.0)}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder with a randomly initialised tiny-backbone model."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("run")
    config = RunConfig.from_profile("smoke", data="", classes=CLASSES, backbone="tiny")
    config.save(folder / "config.json")
    write_classes(folder, CLASSES, BANDS)
    save_checkpoint(folder / "best.pt", model_file_state(build_model(config), config,
                                                         bands=BANDS, thresholds=None, epoch=0))
    return folder


def _user_folder(root: Path) -> Path:
    """A user's folder: annotations, bands, a recording and a clip, notes."""
    rng = np.random.default_rng(0)
    write_raven(pd.DataFrame({"begin_s": [1.0], "end_s": [2.5], "low_hz": [15.0],
                              "high_hz": [30.0], "label": ["fin_whale"]}),
                root / "truth" / "x.selections.txt")
    (root / "bands.json").write_text(json.dumps({"fin_whale": [15, 30]}))
    write_audio(root / "long" / "val" / "long_000.wav",
                (0.1 * rng.standard_normal(12 * SR)).astype(np.float32), SR)
    write_audio(root / "train" / "blue_whale" / "blue_whale_0000.wav",
                (0.1 * rng.standard_normal(5 * SR)).astype(np.float32), SR)
    (root / "notes.txt").write_text("deployment 3, hydrophone B\n")
    return root


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*")) if path.is_file()}


def _recorded(root: Path) -> set[str]:
    """The files whalelab recorded writing into ``root``, and its records themselves."""
    own = {".whalelab-synth.json", "detection.json", "events.csv", "gaps.csv"}
    if (root / ".whalelab-synth.json").is_file():
        own |= set(json.loads((root / ".whalelab-synth.json").read_text())["outputs"])
    if (root / "detection.json").is_file():
        for table in json.loads((root / "detection.json").read_text())["tables"]:
            own |= {table, table.replace(".selections.txt", ".gaps.csv")}
    return own


def _assert_untouched(root: Path, before: dict[str, tuple[bytes, int]]) -> None:
    now = _snapshot(root)
    assert {name: now.get(name) for name in before} == before  # none changed or went
    assert set(now) - set(before) <= _recorded(root)  # every new file is whalelab's


def test_no_file_of_the_user_s_changes_under_synth_or_detect(tmp_path, run, capsys):
    data = _user_folder(tmp_path / "MYDATA")
    before = _snapshot(data)
    recording = data / "long" / "val" / "long_000.wav"
    commands = [  # (arguments, exit status)
        (["synth", "--profile", "smoke", "--per-class", "3", "--out", str(data)], 2),
        (["synth", "--profile", "smoke", "--per-class", "3", "--out", str(data), "--force"], 2),
        (["detect", str(run), str(recording), "--out", str(data)], 2),
        (["detect", str(run), str(recording), "--out", str(data), "--force"], 0),
        (["detect", str(run), str(data / "long"), "--out", str(data)], 0),
        (["detect", str(run), str(recording), "--out", str(data), "--threshold", "0.2",
          "--overwrite"], 0),
        (["detect", str(run), str(data / "train"), "--out", str(data), "--overwrite"], 0),
    ]
    for arguments, status in commands:
        assert main(arguments) == status, arguments
        _assert_untouched(data, before)
    assert "--force" in capsys.readouterr().err
    assert (data / "train" / "blue_whale" / "blue_whale_0000.selections.txt").is_file()
    assert not (data / "long_000.selections.txt").exists()  # whalelab's, overwritten away


def test_synth_with_force_writes_beside_the_user_s_files(tmp_path, run):
    data = tmp_path / "MYDATA"
    data.mkdir()
    write_raven(pd.DataFrame({"begin_s": [1.0], "end_s": [2.5], "low_hz": [15.0],
                              "high_hz": [30.0], "label": ["fin_whale"]}),
                data / "truth" / "x.selections.txt")
    (data / "bands.json").write_text(json.dumps({"fin_whale": [15, 30]}))
    (data / "notes.txt").write_text("deployment 3\n")
    before = _snapshot(data)
    arguments = ["synth", "--profile", "smoke", "--per-class", "3", "--out", str(data)]
    for extra, status in (([], 2), (["--force"], 0), ([], 0), (["--per-class", "4"], 0)):
        assert main([*arguments, *extra]) == status
        _assert_untouched(data, before)
    assert (data / "manifest.csv").is_file()
    synthesised = _snapshot(data)  # to detect, synth's files are as foreign as the user's
    recording = data / "long" / "val" / "long_000.wav"
    for inputs, extra, status in (([data / "long"], ["--force"], 2),  # over synth's tables
                                  ([recording], ["--force"], 0), ([recording], [], 0),
                                  ([recording], ["--overwrite", "--threshold", "0.2"], 0)):
        assert main(["detect", str(run), *map(str, inputs), "--out", str(data), *extra]) == status
        now = _snapshot(data)
        assert {name: now.get(name) for name in synthesised} == synthesised
    assert (data / "long_000.selections.txt").is_file()
