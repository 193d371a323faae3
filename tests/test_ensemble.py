"""Ensembles: members trained as runs of their own, averaged into one model."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from whalelab import plots, training
from whalelab.checkpoint import load_checkpoint, load_model
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.data import ClipDataset, ClipIndex, load_index
from whalelab.data import dataset as dataset_module
from whalelab.errors import CheckpointError
from whalelab.inference import predict_dataset
from whalelab.metrics.clips import choose_thresholds
from whalelab.model import WhaleEnsemble, WhaleSED
from whalelab.training import loop as loop_module
from whalelab.training import train


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Two tone classes and background, 8 one-second 8 kHz files each."""
    root = tmp_path_factory.mktemp("tree")
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 8000
    for name, frequency in (("low", 400.0), ("high", 1600.0), ("background", None)):
        (root / name).mkdir()
        for i in range(8):
            noise = 0.02 * rng.standard_normal(8000)
            tone = 0.0 if frequency is None else 0.3 * np.sin(2 * np.pi * frequency * t)
            soundfile.write(root / name / f"{name}_{i}.wav", (tone + noise).astype(np.float32),
                            8000)
    return root


def _config(tree, **overrides) -> RunConfig:
    values = dict(clip_seconds=1.0, epochs=2, batch_size=4, device="cpu", backbone="tiny",
                  members=2, seed=3)
    values.update(overrides)
    return RunConfig.from_profile("smoke", data=str(tree), classes=["high", "low"], **values)


def test_each_member_is_a_run_of_its_own_and_the_ensemble_averages_them(tree, tmp_path):
    index = load_index(tree, seed=3, window_s=1.0)
    run = tmp_path / "run"
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        result = train(_config(tree), run, index=index, progress=False)
    few = [str(w.message) for w in shown if "too few positive validation clips" in str(w.message)]
    assert len(few) == 2  # the first member's and the ensemble's; the second's would repeat them
    members = [load_model(run / "members" / str(k)) for k in range(2)]
    assert [m.config.train.seed for m in members] == [3, 3 + training.MEMBER_SEED_STRIDE]
    assert all(isinstance(m.model, WhaleSED) for m in members)
    assert not torch.equal(members[0].model.fc1.weight, members[1].model.fc1.weight)
    for member in members:  # the run's splits, not each member's own
        pd.testing.assert_frame_equal(pd.read_csv(member.source / "splits.csv", comment="#"),
                                      pd.read_csv(run / "splits.csv", comment="#"))

    ensemble = load_model(run)
    assert isinstance(ensemble.model, WhaleEnsemble) and ensemble.config.model.members == 2
    dataset = ClipDataset.for_run(index.subset("val"), ensemble.config)
    outputs = ("clipwise_output", "framewise_output", "norm_att")
    averaged = predict_dataset(ensemble.model, dataset, device=torch.device("cpu"),
                               outputs=outputs)
    alone = [predict_dataset(m.model, dataset, device=torch.device("cpu"), outputs=outputs)
             for m in members]
    for name in outputs:
        np.testing.assert_allclose(averaged[name], (alone[0][name] + alone[1][name]) / 2,
                                   atol=1e-6)
    np.testing.assert_allclose(averaged["norm_att"].sum(axis=-1), 1, atol=1e-5)

    history = pd.read_csv(run / "history.csv")
    assert sorted(set(history["member"])) == [0, 1]
    assert (history.groupby("member")["epoch"].max() == 2).all()
    assert result.best_epoch is None and set(result.best_epochs) == {0, 1}
    assert result.summary("macro_ap").startswith("ensemble of 2 (best epochs ")
    assert json.loads((run / "thresholds.json").read_text()).keys() == {"high", "low"}
    state = load_checkpoint(run / "best.pt")
    assert state["config"]["model"]["members"] == 2 and state["thresholds"] is not None
    with pytest.raises(CheckpointError, match="--resume"):
        train(_config(tree), run, index=index, progress=False)


class _Interrupted(Exception):
    pass


def test_an_ensemble_killed_in_its_second_member_resumes_to_the_same_weights(
        tree, tmp_path, monkeypatch):
    index = load_index(tree, seed=3, window_s=1.0)
    train(_config(tree), tmp_path / "whole", index=index, progress=False)

    real_train_epoch, calls = loop_module._train_epoch, []

    def dying_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # member 0 has run both epochs; member 1 dies in its first
            raise _Interrupted
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(loop_module, "_train_epoch", dying_epoch)
    with pytest.raises(_Interrupted):
        train(_config(tree), tmp_path / "cut", index=index, progress=False)
    assert not (tmp_path / "cut" / "best.pt").exists()
    monkeypatch.setattr(loop_module, "_train_epoch", real_train_epoch)
    train(_config(tree), tmp_path / "cut", resume=True, progress=False)
    whole, cut = (load_checkpoint(tmp_path / run / "best.pt")["model"] for run in ("whole", "cut"))
    assert whole.keys() == cut.keys() and any(key.startswith("members.1.") for key in whole)
    for key, tensor in whole.items():
        assert torch.equal(tensor, cut[key]), key

    monkeypatch.setattr(loop_module, "DataLoader", None)  # a finished ensemble trains nothing
    before = (tmp_path / "cut" / "best.pt").stat().st_mtime_ns
    assert train(_config(tree), tmp_path / "cut", resume=True, progress=False).members
    assert (tmp_path / "cut" / "best.pt").stat().st_mtime_ns == before  # nor rewrites it


def test_rotated_members_validate_on_folds_of_their_own_that_choose_the_thresholds(
        tree, tmp_path):
    index = load_index(tree, seed=3, window_s=1.0)
    run = tmp_path / "run"
    train(_config(tree, members=3, epochs=1, member_validation="rotate"), run, index=index,
          progress=False)
    splits = [ClipIndex.load_csv(run / "members" / str(k) / "splits.csv") for k in range(3)]
    assert splits[0].clips == ClipIndex.load_csv(run / "splits.csv").clips
    held = [{clip.path for clip in split.subset("val").clips} for split in splits]
    assert held[0].isdisjoint(held[1]) and held[1].isdisjoint(held[2]) \
        and held[0].isdisjoint(held[2])
    assert all({clip.path for clip in split.subset("test").clips} ==
               {clip.path for clip in index.subset("test").clips} for split in splits)

    members = [load_model(run / "members" / str(k)) for k in range(3)]
    folds = [predict_dataset(member.model,
                             ClipDataset.for_run(split.subset("val"), member.config),
                             device=torch.device("cpu"))
             for member, split in zip(members, splits, strict=True)]
    expected = choose_thresholds(np.concatenate([f["clipwise_output"] for f in folds]),
                                 np.concatenate([f["targets"] for f in folds]),
                                 classes=["high", "low"])
    assert not np.allclose(expected, 0.5)  # three positives a class: chosen, not the default
    chosen = json.loads((run / "thresholds.json").read_text())
    np.testing.assert_allclose([chosen["high"], chosen["low"]], expected, atol=1e-6)


@pytest.mark.parametrize("validation, estimates", [("shared", 1), ("rotate", 3)])
def test_members_that_share_training_clips_estimate_the_bands_once(
        tree, tmp_path, monkeypatch, validation, estimates):
    from whalelab.training import plan

    counted = []
    real_estimate = plan.estimate_bands
    monkeypatch.setattr(plan, "estimate_bands", lambda *args, **kwargs: counted.append(1)
                        or real_estimate(*args, **kwargs))
    index = load_index(tree, seed=3, window_s=1.0)
    run = tmp_path / "run"
    train(_config(tree, members=3, epochs=1, member_validation=validation), run, index=index,
          progress=False)
    assert len(counted) == estimates  # rotated members each train on other clips
    bands = [json.loads((run / "members" / str(k) / "classes.json").read_text())
             for k in range(3)]
    assert all(member == bands[0] for member in bands) or validation == "rotate"
    train(_config(tree, members=3, epochs=1, member_validation=validation), run, index=index,
          resume=True, progress=False)
    assert len(counted) == estimates  # finished members need none


def test_one_network_decodes_each_val_clip_once_thresholds_included(tree, tmp_path, monkeypatch):
    decoded = []
    real_decode = dataset_module._decode
    monkeypatch.setattr(dataset_module, "_decode",
                        lambda clip, rate: decoded.append(clip.path) or real_decode(clip, rate))
    index = load_index(tree, seed=3, window_s=1.0)
    train(_config(tree, members=1, epochs=1), tmp_path / "run", index=index, progress=False)
    assert (tmp_path / "run" / "thresholds.json").exists()
    validation = [clip.path for clip in index.subset("val").clips]
    assert any(not clip.labels for clip in index.subset("val").clips)  # thresholds chosen
    assert sorted(path for path in decoded if path in validation) == sorted(validation)


def test_an_ensemble_refuses_a_folder_holding_a_single_run(tree, tmp_path):
    index = load_index(tree, seed=3, window_s=1.0)
    train(_config(tree, members=1, epochs=1), tmp_path / "run", index=index, progress=False)
    with pytest.raises(CheckpointError, match="--resume"):
        train(_config(tree), tmp_path / "run", index=index, progress=False)


def test_the_cli_trains_an_ensemble_that_evaluates_and_predicts(tree, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tree), "--out", str(run), "--profile", "smoke",
                 "--device", "cpu", "--clip-seconds", "1", "--epochs", "1", "--backbone",
                 "tiny", "--members", "2", "--member-validation", "rotate"]) == 0
    assert "ensemble of 2" in capsys.readouterr().out
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["members"] == 2 and saved["train"]["member_validation"] == "rotate"
    folds = [pd.read_csv(run / "members" / str(k) / "splits.csv", comment="#") for k in (0, 1)]
    assert set(folds[0].path[folds[0].split == "val"]).isdisjoint(
        folds[1].path[folds[1].split == "val"])
    files = sorted(str(p) for p in (tree / "low").iterdir())[:2]
    assert main(["predict", str(run), *files, "--out", str(tmp_path / "p.csv")]) == 0
    assert pd.read_csv(tmp_path / "p.csv")["file"].tolist() == files


def test_learning_curves_draw_each_member_and_mark_each_best_epoch():
    one = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.6, 0.5],
                        "val_loss": [1.1, 0.8, 0.9], "val_macro_ap": [0.5, 0.7, 0.6],
                        "val_macro_f1": [0.4, 0.6, 0.5], "lr": [1e-3, 5e-4, 1e-4]})
    history = pd.concat([one.assign(member=0), one.iloc[:2].assign(member=1, val_loss=[2, 1])])
    fig = plots.learning_curves(history, best_epoch={0: 2, 1: 1})
    loss_ax = fig.axes[0]
    curves = [line for line in loss_ax.lines if line.get_linestyle() != ":"]
    assert len(curves) == 4  # train and validation loss of each member
    np.testing.assert_allclose(curves[3].get_ydata(), [2, 1])
    assert curves[0].get_linestyle() != curves[2].get_linestyle()  # members told apart
    marks = sorted(line.get_label() for line in loss_ax.lines if line.get_linestyle() == ":")
    assert marks == ["kept epoch 1 (member 1)", "kept epoch 2 (member 0)"]
    shared = plots.learning_curves(history, best_epoch={0: 2, 1: 2}).axes[0]
    assert [line.get_label() for line in shared.lines if line.get_linestyle() == ":"] == \
        ["kept epoch 2 (members 0, 1)"]
    with pytest.raises(Exception, match="member 1"):
        plots.learning_curves(history, best_epoch={0: 2, 1: 3})
