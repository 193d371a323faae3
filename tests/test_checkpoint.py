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
    ("thresholds.json", '{"a": "high", "b": 0.5}', "number"),
    ("thresholds.json", '{"a": 7, "b": 0.5}', r"\[0, 1\]"),
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
    assert read_classes(run, sample_rate=8000) == (CLASSES, BANDS)
    np.testing.assert_array_equal(read_thresholds(run, ["b", "a"]), [0.7, 0.3])
    np.testing.assert_array_equal(read_thresholds(tmp_path, CLASSES), [0.5, 0.5])


def test_class_names_swapped_in_config_and_classes_json_are_refused_as_best_pt_names_them(run):
    """Swapping the names in both files, as a user might, would swap the labels silently."""
    config = json.loads((run / "config.json").read_text())
    config["classes"] = ["b", "a"]
    (run / "config.json").write_text(json.dumps(config))
    write_classes(run, ["b", "a"], BANDS)
    with pytest.raises(CheckpointError, match=r"config.json: classes \['b', 'a'\] differ from "
                                              r"best.pt's own \['a', 'b'\]"):
        load_model(run)


@pytest.mark.parametrize("thresholds, message", [
    ({"a": 0.3, "bb": 0.7}, r"\['bb'\] are not classes"),  # a misspelt class
    ({"a": 0.3}, r"no threshold for \['b'\]"),
    ({"a": 0.3, "b": 0.7, "c": 0.1}, r"\['c'\] are not classes"),
])
def test_thresholds_json_must_name_each_class_and_no_other(run, thresholds, message):
    (run / "thresholds.json").write_text(json.dumps(thresholds))
    with pytest.raises(CheckpointError, match=f"thresholds.json: {message}"):
        load_model(run)


@pytest.mark.parametrize("bands, message", [
    ({"a": [10, 100], "b": [200, 9000]}, r"band of 'b', 200-9000 Hz.*<= 4000 Hz"),
    ({"a": [900, 200], "b": [200, 900]}, r"band of 'a', 900-200 Hz"),
    ({"a": [10, float("inf")], "b": [200, 900]}, r"band of 'a'"),
    ({"a": [-5, 100], "b": [200, 900]}, r"band of 'a'"),
    ({"a": [10, 100], "b": [200, 900], "c": [1, 2]}, r"bands for \['c'\], which are not"),
])
def test_bands_in_classes_json_outside_0_to_nyquist_name_the_file_and_class(run, bands,
                                                                           message):
    (run / "classes.json").write_text(json.dumps({"classes": CLASSES, "bands": bands}))
    with pytest.raises(CheckpointError, match=f"classes.json: .*{message}"):
        load_model(run)


def test_unknown_keys_in_classes_json_are_errors(run):
    (run / "classes.json").write_text(json.dumps(
        {"classes": CLASSES, "bands": {name: list(band) for name, band in BANDS.items()},
         "thresholds": {"a": 0.1}}))
    with pytest.raises(CheckpointError, match=r"classes.json: unknown keys \['thresholds'\]"):
        load_model(run)


def test_a_band_out_of_range_inside_best_pt_names_best_pt(run):
    state = load_checkpoint(run / "best.pt")
    save_checkpoint(run / "best.pt", {**state, "bands": {"a": [10.0, 100.0],
                                                         "b": [5000.0, 6000.0]}})
    with pytest.raises(CheckpointError, match=r"best.pt: the band of 'b'"):
        load_model(run / "best.pt")


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
