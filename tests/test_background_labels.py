"""Background is a role: declared labels never become classes; undeclared look-alikes warn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile

from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.data import load_index
from whalelab.detection import detect_files, detection_settings

RATE = 8000


def _tree(root):
    """Two sweep classes and a call-free ``noise`` folder, six one-second WAVs each."""
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    for name, (start_hz, end_hz) in {"upcall": (300.0, 900.0), "downsweep": (1500.0, 600.0),
                                     "noise": (0.0, 0.0)}.items():
        (root / name).mkdir(parents=True)
        for i in range(6):
            phase = 2 * np.pi * np.cumsum(np.linspace(start_hz, end_hz, RATE)) / RATE
            call = 0.3 * np.sin(phase) * ((t > 0.2) & (t < 0.7)) if start_hz else 0.0
            soundfile.write(root / name / f"{name}_{i}.wav",
                            (call + 0.02 * rng.standard_normal(RATE)).astype(np.float32), RATE)
    return root


def _train(data, run, *flags):
    main(["train", "--data", str(data), "--out", str(run), "--profile", "smoke",
          "--device", "cpu", "--clip-seconds", "1", "--epochs", "1", "--batch-size", "4",
          "--backbone", "tiny", *flags])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _tree(tmp_path_factory.mktemp("background"))


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Eight seconds of the noise the ``noise`` folder holds."""
    path = tmp_path_factory.mktemp("recording") / "sea.wav"
    noise = 0.02 * np.random.default_rng(5).standard_normal(8 * RATE)
    soundfile.write(path, noise.astype(np.float32), RATE)
    return path


@pytest.mark.parametrize("name", ["noise", "Negative", "no-call", "ambient", "No_Calls"])
def test_background_like_names_warn_once_naming_the_flag(tmp_path, name):
    (tmp_path / "upcall").mkdir()
    (tmp_path / name).mkdir()
    for folder in ("upcall", name):
        for i in range(4):
            soundfile.write(tmp_path / folder / f"{i}.wav", np.zeros(RATE, np.float32), RATE)
    with pytest.warns(UserWarning, match=f"--background-label {name}") as caught:
        load_index(tmp_path, seed=0, window_s=1.0)
    assert sum("look like call-free" in str(w.message) for w in caught) == 1
    with pytest.warns() as declared:
        load_index(tmp_path, seed=0, window_s=1.0, background_labels=(name,))
    assert not any("look like call-free" in str(w.message) for w in declared)


def test_declared_background_is_no_class_and_is_never_detected(data, recording, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _train(data, tmp_path / "declared", "--background-label", "noise")
    assert caught and not any("look like call-free" in str(w.message) for w in caught)
    config = json.loads((tmp_path / "declared" / "config.json").read_text())
    assert config["classes"] == ["downsweep", "upcall"]
    assert config["data"]["background_labels"] == ["noise"]
    settings = detection_settings(RunConfig.load(tmp_path / "declared" / "config.json"),
                                  threshold=1e-4)
    events = detect_files(tmp_path / "declared", [recording], tmp_path / "declared_events",
                          settings=settings, device="cpu")
    assert len(events) and "noise" not in set(events["label"])


@pytest.mark.slow
def test_undeclared_noise_becomes_a_class_that_detection_reports(data, recording, tmp_path):
    run = tmp_path / "undeclared"
    finished = subprocess.run(
        [sys.executable, "-m", "whalelab.cli", "train", "--data", str(data), "--out", str(run),
         "--profile", "smoke", "--device", "cpu", "--clip-seconds", "1", "--epochs", "1",
         "--batch-size", "4", "--backbone", "tiny"],
        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    warned = [line for line in finished.stderr.splitlines() if "look like call-free" in line]
    assert len(warned) == 1 and warned[0].startswith("whalelab: warning: ")
    assert "--background-label noise" in warned[0]
    settings = detection_settings(RunConfig.load(run / "config.json"), threshold=1e-4)
    events = detect_files(run, [recording], tmp_path / "undeclared_events", settings=settings,
                          device="cpu")
    assert "noise" in set(events["label"])
