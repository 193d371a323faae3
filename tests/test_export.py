"""ONNX export (whole model, checked against PyTorch) and detection on ONNX Runtime."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from whalelab.checkpoint import (checkpoint_sha256, load_checkpoint, load_model,
                                 save_checkpoint)
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.detection import detect_files, detect_recording, detection_settings
from whalelab.errors import CheckpointError, ConfigError
from whalelab.export import (ONNX_OUTPUTS, OnnxModel, check_engine, onnx_model, onnx_path,
                             parity_batch, write_onnx)
from whalelab.model import build_model

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def run(tmp_path_factory, tone_tree):
    """A tiny model trained for two epochs on tones at 8 kHz, one-second clips."""
    root = tmp_path_factory.mktemp("export")
    tree = tone_tree(root / "tree", seed=1)
    out = root / "run"
    assert main(["train", "--data", str(tree), "--out", str(out), "--profile", "smoke",
                 "--device", "cpu", "--clip-seconds", "1", "--epochs", "2", "--backbone",
                 "tiny", "--sample-rate", "8000"]) == 0
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """20 s at 8 kHz: noise with a 500 Hz tone at 5-7 s and a 2 kHz tone at 12-13 s."""
    rate = 8000
    t = np.arange(20 * rate) / rate
    signal = 0.02 * np.random.default_rng(2).standard_normal(len(t))
    signal += 0.3 * np.sin(2 * np.pi * 500 * t) * ((t > 5) & (t < 7))
    signal += 0.3 * np.sin(2 * np.pi * 2000 * t) * ((t > 12) & (t < 13))
    path = tmp_path_factory.mktemp("recording") / "long.wav"
    soundfile.write(path, signal.astype(np.float32), rate)
    return path


@pytest.mark.slow
def test_the_cli_exports_the_whole_model_and_states_its_difference_from_pytorch(run, capsys):
    assert main(["export", str(run), "--format", "onnx"]) == 0
    printed = capsys.readouterr().out
    assert str(run / "model.onnx") in printed and "largest absolute difference" in printed
    exported = OnnxModel(run / "model.onnx")
    trained = load_model(run)
    assert json.loads(exported.metadata["classes"]) == trained.classes
    assert int(exported.metadata["clip_samples"]) == trained.config.features.clip_samples
    assert json.loads(exported.metadata["thresholds"]) == pytest.approx(trained.thresholds)
    batch = torch.from_numpy(parity_batch(trained.config, seed=5)[:3])  # another batch size
    got = exported(batch)
    with torch.inference_mode():
        expected = trained.model(batch)
    for name in ONNX_OUTPUTS:
        assert got[name].shape == expected[name].shape, name
        np.testing.assert_allclose(got[name].numpy(), expected[name].numpy(), atol=1e-5,
                                   err_msg=name)


@pytest.mark.slow
def test_an_ensemble_exports_with_the_mean_of_its_members(tmp_path):
    config = RunConfig.from_profile("smoke", data="d", classes=["a", "b"], members=2,
                                    backbone="tiny", sample_rate=8000, clip_seconds=1.0)
    torch.manual_seed(0)
    result = write_onnx(build_model(config), config, tmp_path / "ensemble.onnx")
    assert set(result.max_abs_difference) == set(ONNX_OUTPUTS)
    assert max(result.max_abs_difference.values()) < 1e-5
    assert "largest absolute difference" in result.summary()
    assert json.loads(OnnxModel(result.path).metadata["config"])["model"]["members"] == 2


@pytest.mark.slow
def test_detection_on_onnx_runtime_matches_pytorch(run, recording, tmp_path, capsys):
    trained = load_model(run)
    onnx_path(run).unlink(missing_ok=True)
    exported = onnx_model(trained)  # exported on first use
    assert "none exists yet" in capsys.readouterr().out
    for engine_model, name in ((trained.model, "torch"), (exported, "onnx")):
        found = detect_recording(dataclasses.replace(trained, model=engine_model), recording,
                                 progress=False)
        scores, contrast = found.scores, found.contrast
        if name == "torch":
            expected = scores, contrast
    np.testing.assert_allclose(scores, expected[0], atol=1e-5)
    np.testing.assert_allclose(contrast, expected[1], atol=1e-4)

    settings = detection_settings(trained.config, threshold=0.2)
    events = {engine: detect_files(run, [recording], tmp_path / engine, engine=engine,
                                   device="cpu", settings=settings, progress=False)
              for engine in ("torch", "onnx")}
    assert sorted(events["torch"]["label"]) == ["high", "low"]  # the two tones, trimmed
    pd.testing.assert_frame_equal(events["torch"], events["onnx"])
    record = json.loads((tmp_path / "onnx" / "detection.json").read_text())
    assert record["settings"]["engine"] == "onnx"
    with pytest.raises(ConfigError, match="engine 'onnx' -> 'torch'"):
        detect_files(run, [recording], tmp_path / "onnx", engine="torch", device="cpu",
                     settings=settings, progress=False)


@pytest.mark.slow
def test_a_stale_export_is_made_again(run, capsys):
    trained = load_model(run)
    onnx_model(trained)
    capsys.readouterr()
    state = load_checkpoint(run / "best.pt")
    save_checkpoint(run / "best.pt", {**state, "epoch": state["epoch"] + 1})  # new bytes
    onnx_model(load_model(run))
    assert "weights have changed" in capsys.readouterr().out
    onnx_model(load_model(run))
    assert capsys.readouterr().out == ""  # now current: used as it is


@pytest.mark.slow
def test_an_onnx_file_that_does_not_match_best_pt_is_refused_and_left_as_it_is(
        run, recording, tmp_path, capsys):
    """Another network's export with this run's checksum (and classes) forged into it."""
    trained = load_model(run)
    path = onnx_path(run)
    forged = {"source_sha256": checkpoint_sha256(run), "classes": json.dumps(trained.classes)}
    torch.manual_seed(7)
    write_onnx(build_model(trained.config), trained.config, path, metadata=forged)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"model.onnx: does not match .*best.pt: on 4 "
                                              r"test clips .* largest difference"):
        onnx_model(trained)
    assert path.read_bytes() == before  # refused, never overwritten
    three = RunConfig.from_profile("smoke", data="d", classes=["a", "b", "c"],
                                   backbone="tiny", sample_rate=8000, clip_seconds=1.0)
    write_onnx(build_model(three), three, path, metadata=forged)  # another class count
    capsys.readouterr()
    assert main(["detect", str(run), str(recording), "--out", str(tmp_path / "out"),
                 "--engine", "onnx", "--device", "cpu"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"whalelab: {path}: does not match") and "\n" not in error
    assert "another output shape" in error and "whalelab export" in error
    write_onnx(build_model(trained.config), trained.config, path)  # no checksum: the user's?
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="model.onnx: not a whalelab export"):
        onnx_model(trained)
    assert path.read_bytes() == before
    path.unlink()


def test_a_broken_onnx_file_is_one_clear_error(tmp_path):
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="model.onnx: not a usable ONNX model"):
        OnnxModel(broken)


def test_onnx_runtime_is_refused_on_a_gpu_and_unknown_engines_are_named():
    check_engine("onnx", torch.device("cpu"))
    with pytest.raises(ConfigError, match="runs on the CPU"):
        check_engine("onnx", torch.device("cuda"))
    with pytest.raises(ConfigError, match="'tensorrt'"):
        check_engine("tensorrt", torch.device("cpu"))


@pytest.mark.slow
def test_densenet121_exports_within_float_rounding_of_pytorch(tmp_path):
    config = RunConfig.from_profile("quick", data="d", classes=["a", "b", "c"])
    torch.manual_seed(0)
    result = write_onnx(build_model(config), config, tmp_path / "densenet.onnx")
    assert max(result.max_abs_difference.values()) < 1e-4, result.max_abs_difference
