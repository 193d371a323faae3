"""Run folders and model files: self-describing best.pt, no code on load, clear errors."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from whalelab.checkpoint import (load_checkpoint, load_model, model_file_state, read_classes,
                                 read_thresholds, save_checkpoint, write_classes)
from whalelab.config import RunConfig
from whalelab.errors import CheckpointError, ConfigError
from whalelab.model import build_model

CLASSES = ["a", "b"]
BANDS = {"a": (10.0, 100.0), "b": (200.0, 900.0)}


@pytest.fixture
def run(tmp_path):
    """A complete run folder of a tiny untrained model."""
    config = RunConfig.from_profile("smoke", data=tmp_path, classes=CLASSES, backbone="tiny",
                                    clip_seconds=1.0)
    torch.manual_seed(0)
    model = build_model(config).eval()
    folder = tmp_path / "run"
    config.save(folder / "config.json")
    write_classes(folder, CLASSES, BANDS)
    (folder / "thresholds.json").write_text(json.dumps({"a": 0.3, "b": 0.7}))
    save_checkpoint(folder / "best.pt", model_file_state(
        model, config, bands=BANDS, thresholds={"a": 0.3, "b": 0.7}, epoch=0))
    return folder


class Payload:
    """Unpickling this would run os.system: a loader that accepts it runs code."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_model_file_alone_gives_the_same_model_as_its_folder(run):
    from_folder, from_file = load_model(run), load_model(run / "best.pt")
    assert from_file.config == from_folder.config and from_file.bands == from_folder.bands
    np.testing.assert_array_equal(from_file.thresholds, [0.3, 0.7])
    x = torch.randn(2, from_file.config.features.clip_samples)
    with torch.no_grad():
        torch.testing.assert_close(from_file.model(x)["clipwise_output"],
                                   from_folder.model(x)["clipwise_output"])


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_checkpoint_that_pickles_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="evil.pt.*refused"):
        load_checkpoint(path)
    with open(path, "wb") as handle:  # a plain pickle, not even a torch file
        pickle.dump(Payload(), handle)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_model(path)


def test_a_file_without_weights_or_config_is_a_clear_error(tmp_path, run):
    torch.save({"not": "a model"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt.*no model weights"):
        load_checkpoint(tmp_path / "other.pt")
    state = load_checkpoint(run / "best.pt")
    torch.save({"model": state["model"], "epoch": 0}, tmp_path / "old.pt")  # before config inside
    with pytest.raises(CheckpointError, match="old.pt.*run folder"):
        load_model(tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="nowhere"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="which"):
        load_model(run, which="worst")


@pytest.mark.parametrize("name, text, message", [
    ("classes.json", "{not json", "not valid JSON"),
    ("classes.json", '["a", "b"]', "expected"),
    ("classes.json", '{"classes": ["a", "b"], "bands": {"a": [1, 2]}}', "no band for"),
    ("classes.json", '{"classes": ["a", "b"], "bands": {"a": 3, "b": [1, 2]}}', "low_hz"),
    ("thresholds.json", "[0.5]", "expected"),
    ("thresholds.json", '{"a": "high"}', "number"),
    ("thresholds.json", '{"a": 7}', r"\[0, 1\]"),
    ("config.json", '{"features": ', "not valid JSON"),
    ("config.json", "[]", "JSON object"),
])
def test_malformed_run_files_name_the_file(run, name, text, message):
    (run / name).write_text(text)
    with pytest.raises((CheckpointError, ConfigError), match=f"{name}.*{message}"):
        load_model(run)


def test_classes_that_disagree_with_the_config_are_named(run):
    write_classes(run, ["b", "a"], BANDS)
    with pytest.raises(CheckpointError, match="classes.json.*differ"):
        load_model(run)


def test_run_file_readers(run, tmp_path):
    assert read_classes(run) == (CLASSES, BANDS)
    np.testing.assert_array_equal(read_thresholds(run, ["b", "c"]), [0.7, 0.5])
    np.testing.assert_array_equal(read_thresholds(tmp_path, CLASSES), [0.5, 0.5])


def test_a_run_folder_from_before_0_2_loads_predicts_and_detects_as_it_did(tmp_path):
    """config.json without attention/data/detect parts, best.pt with weights alone."""
    import soundfile

    from whalelab.cli import main

    config = RunConfig.from_profile("smoke", data=tmp_path, classes=CLASSES, backbone="tiny",
                                    clip_seconds=1.0, attention="tanh")
    torch.manual_seed(0)
    model = build_model(config).eval()
    old = config.to_dict()
    del old["model"]["attention"], old["detect"]
    old["data"] = "data/synthetic/smoke"
    folder = tmp_path / "old_run"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(old))
    write_classes(folder, CLASSES, BANDS)
    save_checkpoint(folder / "best.pt", {"model": model.state_dict(), "epoch": 3,
                                         "classes": CLASSES})
    loaded = load_model(folder)
    assert loaded.config.model.attention == "tanh"
    assert loaded.model.att_block.attention == "tanh"
    x = torch.randn(2, config.features.clip_samples)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)["norm_att"], model(x)["norm_att"])
    audio = tmp_path / "x.wav"
    soundfile.write(audio, np.random.default_rng(0).standard_normal(8000 * 3) * 0.1, 8000)
    assert main(["predict", str(folder), str(audio), "--out", str(tmp_path / "p.csv")]) == 0
    assert main(["detect", str(folder), str(audio), "--out", str(tmp_path / "events")]) == 0
    assert (tmp_path / "events" / "x.selections.txt").is_file()
