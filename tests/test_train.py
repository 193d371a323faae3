"""The training loop (selection, checkpoints, exact resume) and train -> evaluate -> predict."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from whalelab import training
from whalelab.bands import write_bands
from whalelab.checkpoint import load_checkpoint
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.data import ClipDataset, ClipIndex, load_index
from whalelab.errors import CheckpointError, DataError
from whalelab.raven import write_raven
from whalelab.training import loop as loop_module
from whalelab.training import train


def _sweep(low: float, high: float, rate: int, seconds: float = 1.0, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    start = rng.uniform(0, 0.3)
    inside = (t > start) & (t < start + 0.5)
    phase = 2 * np.pi * np.cumsum(np.linspace(low, high, len(t))) / rate
    call = np.sin(phase) * inside * rng.uniform(0.2, 0.5)
    return (call + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Two call classes and background, 8 one-second files each, at 6/8/16 kHz, WAV/FLAC."""
    root = tmp_path_factory.mktemp("tree")
    bands = {"upcall": (300, 900), "downsweep": (1500, 600), "background": (0, 0)}
    for k, (name, (low, high)) in enumerate(bands.items()):
        (root / name).mkdir()
        for i in range(8):
            rate = (6000, 8000, 16000)[i % 3]
            signal = _sweep(low, high, rate, seed=10 * k + i)
            if name == "background":
                signal = 0.02 * np.random.default_rng(i).standard_normal(rate).astype(np.float32)
            suffix, subtype = (".flac", "PCM_24") if i % 2 else (".wav", "PCM_16")
            soundfile.write(root / name / f"{name}_{i}{suffix}", signal, rate, subtype=subtype)
    return root


def _config(tree, **overrides) -> RunConfig:
    values = dict(clip_seconds=1.0, epochs=2, batch_size=4, device="cpu", patience=5,
                  backbone="tiny")
    values.update(overrides)
    return RunConfig.from_profile("smoke", data=str(tree), classes=["downsweep", "upcall"],
                                  **values)


def test_training_writes_a_complete_run_and_selects_on_validation(tree, tmp_path):
    index = load_index(tree, seed=0, window_s=1.0)
    result = train(_config(tree, epochs=3), tmp_path / "run", index=index, progress=False)
    run = tmp_path / "run"
    for name in ("config.json", "classes.json", "splits.csv", "best.pt", "last.pt",
                 "history.csv", "thresholds.json"):
        assert (run / name).is_file(), name
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_macro_ap", "val_macro_f1", "lr", "seconds",
            "clips_per_s"} <= set(history.columns)
    assert result.best_epoch == int(history.loc[history["val_macro_ap"].idxmax(), "epoch"])
    assert load_checkpoint(run / "best.pt")["epoch"] + 1 == result.best_epoch
    assert set(json.loads((run / "thresholds.json").read_text())) == {"downsweep", "upcall"}
    with pytest.raises(CheckpointError, match="--resume"):
        train(_config(tree), run, index=index, progress=False)


def test_keeping_the_last_weights_trains_the_whole_schedule(tree, tmp_path, monkeypatch):
    from whalelab.training import loop

    index = load_index(tree, seed=0, window_s=1.0)
    run = tmp_path / "run"
    saved = []
    real_save = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint",
                        lambda path, state: saved.append(path.name) or real_save(path, state))
    result = train(_config(tree, epochs=4, patience=1, keep="last"), run, index=index,
                   progress=False)
    assert saved.count("last.pt") == 4 and saved.count("best.pt") == 1  # at the end only
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3, 4] and not result.stopped_early
    assert result.best_epoch == 4 and load_checkpoint(run / "best.pt")["epoch"] == 3
    last, kept = (load_checkpoint(run / name)["model"] for name in ("last.pt", "best.pt"))
    assert all(torch.equal(tensor, kept[key]) for key, tensor in last.items())
    assert result.best_score == pytest.approx(history["val_macro_ap"].iloc[-1])
    assert result.summary("macro_ap").startswith("last epoch 4 (macro_ap ")


@pytest.mark.slow  # compiling takes most of a minute on two CPU cores
def test_a_compiled_training_step_saves_weights_an_eager_model_loads(tree, tmp_path):
    from whalelab.checkpoint import load_model

    index = load_index(tree, seed=0, window_s=1.0)
    result = train(_config(tree, epochs=1, compile=True), tmp_path / "run", index=index,
                   progress=False)
    assert np.isfinite(result.history["train_loss"]).all()
    state = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    assert not any(key.startswith("_orig_mod") for key in state)
    assert load_model(tmp_path / "run").config.train.compile


class _Interrupted(Exception):
    pass


def test_resume_after_a_kill_mid_epoch_ends_where_an_uninterrupted_run_does(tree, tmp_path,
                                                                           monkeypatch):
    index = load_index(tree, seed=0, window_s=1.0)
    config = _config(tree, epochs=3)
    train(config, tmp_path / "whole", index=index, progress=False)

    real_loader = loop_module.DataLoader
    epochs_started = []

    def dying_loader(*args, **kwargs):
        epochs_started.append(1)
        batches = real_loader(*args, **kwargs)
        if len(epochs_started) < 2:
            return batches

        def one_batch_then_die():
            yield next(iter(batches))
            raise _Interrupted  # the process is killed in the middle of epoch 2

        return one_batch_then_die()

    monkeypatch.setattr(loop_module, "DataLoader", dying_loader)
    with pytest.raises(_Interrupted):
        train(config, tmp_path / "cut", index=index, progress=False)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 0
    monkeypatch.setattr(loop_module, "DataLoader", real_loader)
    train(config, tmp_path / "cut", resume=True, progress=False)

    whole, cut = (pd.read_csv(tmp_path / run / "history.csv") for run in ("whole", "cut"))
    columns = ["train_loss", "val_loss", "val_macro_ap", "val_macro_f1", "lr"]
    pd.testing.assert_frame_equal(whole[columns], cut[columns])
    for name in ("best.pt", "last.pt"):
        expected = load_checkpoint(tmp_path / "whole" / name)["model"]
        resumed = load_checkpoint(tmp_path / "cut" / name)["model"]
        for key, tensor in expected.items():
            assert torch.equal(tensor, resumed[key]), f"{name}: {key}"


def test_a_finished_run_is_left_as_it_is(tree, tmp_path, monkeypatch):
    index = load_index(tree, seed=0, window_s=1.0)
    train(_config(tree, epochs=1), tmp_path / "run", index=index, progress=False)
    before = (tmp_path / "run" / "best.pt").stat().st_mtime_ns
    monkeypatch.setattr(loop_module, "DataLoader", None)  # any training would fail
    result = train(_config(tree, epochs=1), tmp_path / "run", resume=True, progress=False)
    assert result.best_epoch == 1
    assert (tmp_path / "run" / "best.pt").stat().st_mtime_ns == before


def test_class_bands_come_from_the_data_never_from_the_generator(tmp_path):
    events = pd.DataFrame({"begin_s": [2.0], "end_s": [3.0], "low_hz": [300.0],
                           "high_hz": [9000.0], "label": ["clicks"]})
    soundfile.write(tmp_path / "r.wav", np.zeros(8000 * 10, dtype=np.float32), 8000)
    write_raven(events, tmp_path / "r.selections.txt")
    config = RunConfig.from_profile("smoke", data=str(tmp_path), device="cpu",
                                    classes=["clicks", "fin_whale", "mystery"])
    bands = training.run_bands(config, ClipIndex([], config.classes))
    assert bands["clicks"] == (300.0, 4000.0)  # annotated, cut at fmax
    assert bands["fin_whale"] == bands["mystery"] == (config.features.fmin, config.features.fmax)

    tree = tmp_path / "tree"
    write_bands(tree, {"fin_whale": (12.0, 35.0)})  # a user's statement of the band
    config = RunConfig.from_profile("smoke", data=str(tree), device="cpu",
                                    classes=["fin_whale", "mystery"])
    assert training.run_bands(config, ClipIndex([], config.classes)) == {
        "fin_whale": (12.0, 35.0), "mystery": (config.features.fmin, config.features.fmax)}


def test_bands_are_estimated_from_the_training_clips_where_the_data_states_none(
        strong_manifest):
    index = load_index(strong_manifest, seed=0, window_s=1.0)
    config = RunConfig.from_profile("smoke", data=strong_manifest, classes=index.classes,
                                    clip_seconds=1.0)
    bands = training.run_bands(config, index)
    for name, frequency in (("low", 500.0), ("high", 1500.0)):  # the tones of the fixture
        low, high = bands[name]
        assert low <= frequency <= high and high - low < 200, (name, bands[name])


@pytest.mark.slow
def test_cli_train_evaluate_predict_on_mixed_rates_and_formats(tree, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(tree), "--out", str(run), "--profile", "smoke",
          "--device", "cpu", "--clip-seconds", "1", "--epochs", "2", "--batch-size", "4",
          "--backbone", "tiny",
          "--sample-rate", "8000", "--n-mels", "48", "--fmax", "3500", "--mel-scale", "slaney"])
    config = json.loads((run / "config.json").read_text())
    assert config["features"]["n_mels"] == 48 and config["features"]["fmax"] == 3500
    assert config["features"]["htk"] is False
    assert config["train"]["epochs"] == 2 and config["classes"] == ["downsweep", "upcall"]
    assert "best epoch" in capsys.readouterr().out

    main(["evaluate", str(run), "--out", str(tmp_path / "metrics.json")])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    splits = pd.read_csv(run / "splits.csv", comment="#")
    assert metrics["clips"] == int((splits["split"] == "test").sum())
    assert set(metrics["per_class"]) == {"downsweep", "upcall"}
    baseline = metrics["baselines"]["logistic"]  # scored on the same clips
    assert baseline["clips"] == metrics["clips"] and set(baseline["per_class"]) == \
        {"downsweep", "upcall"} and "logistic" in baseline["method"]
    assert "macro_f1" in capsys.readouterr().out

    files = sorted(str(p) for p in (tree / "upcall").iterdir())[:3]
    main(["predict", str(run), *files, "--out", str(tmp_path / "predictions.csv")])
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert predictions["file"].tolist() == files
    assert predictions[["downsweep", "upcall"]].to_numpy().min() >= 0
    assert predictions[["downsweep", "upcall"]].to_numpy().max() <= 1


def test_cli_errors_are_one_line(tmp_path, capsys):
    status = main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("whalelab: ") and "nowhere" in error and "\n" not in error


def test_best_pt_alone_predicts_from_another_directory(tree, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(tree), "--out", str(run), "--profile", "smoke", "--device",
          "cpu", "--clip-seconds", "1", "--epochs", "1", "--backbone", "tiny"])
    state = load_checkpoint(run / "best.pt")
    assert state["config"] == json.loads((run / "config.json").read_text())
    assert state["thresholds"] == json.loads((run / "thresholds.json").read_text())
    assert state["bands"] == json.loads((run / "classes.json").read_text())["bands"]
    assert state["classes"] == ["downsweep", "upcall"] and state["whalelab_version"]
    model_file = tmp_path / "elsewhere" / "model.pt"
    model_file.parent.mkdir()
    model_file.write_bytes((run / "best.pt").read_bytes())
    monkeypatch.chdir(model_file.parent)
    files = sorted(str(p) for p in (tree / "upcall").iterdir())[:2]
    assert main(["predict", "model.pt", *files, "--out", "from_file.csv"]) == 0
    assert main(["predict", str(run), *files, "--out", "from_folder.csv"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv("from_file.csv"), pd.read_csv("from_folder.csv"))


def test_resume_with_different_settings_says_which(tree, tmp_path, capsys):
    run = tmp_path / "run"
    arguments = ["train", "--data", str(tree), "--out", str(run), "--profile", "smoke",
                 "--device", "cpu", "--clip-seconds", "1", "--epochs", "1", "--backbone", "tiny"]
    assert main(arguments) == 0
    capsys.readouterr()
    assert main([*arguments, "--resume"]) == 0  # the same settings resume (here: finished)
    status = main([*arguments[:-6], "--clip-seconds", "2", "--epochs", "3", "--resume"])
    error = capsys.readouterr().err
    assert status == 2 and "config.json" in error
    assert "clip_seconds: 1.0 -> 2.0" in error and "epochs: 1 -> 3" in error
    assert "backbone" not in error  # not given this time: the saved value stands



def _train_arguments(tree, run, epochs: int = 2) -> list[str]:
    return ["train", "--data", str(tree), "--out", str(run), "--profile", "smoke", "--device",
            "cpu", "--clip-seconds", "1", "--epochs", str(epochs), "--backbone", "tiny",
            "--batch-size", "4"]


def test_a_full_disk_while_training_is_one_line_and_the_finished_epoch_resumes(
        tree, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    real_save, saved = torch.save, []

    def full_on_the_third(state, file):  # best.pt and last.pt of epoch 1, then a full disk
        if len(saved) == 2:  # torch's zip writer on a full disk: RuntimeError, not OSError
            raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter "
                               "failed writing file data/0: file write failed\nunexpected pos "
                               "64 vs 0")
        saved.append(state)
        real_save(state, file)

    monkeypatch.setattr(torch, "save", full_on_the_third)
    assert main(_train_arguments(tree, run)) == 2
    error = capsys.readouterr().err
    assert error.startswith("whalelab: ") and error.count("\n") == 1
    assert "unexpected pos" in error  # epoch 2's best.pt or last.pt, named
    assert error.rstrip().endswith((f"while writing {run / 'best.pt'}",
                                    f"while writing {run / 'last.pt'}"))
    monkeypatch.undo()
    assert load_checkpoint(run / "last.pt")["epoch"] == 0  # epoch 1 is kept
    assert main([*_train_arguments(tree, run), "--resume"]) == 0
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [1, 2]


def test_train_into_a_file_a_read_only_folder_or_a_folder_of_other_files_is_one_line(
        tree, tmp_path, monkeypatch, capsys):
    taken = tmp_path / "notes.txt"
    taken.write_text("a file of the user's")
    assert main(_train_arguments(tree, taken, epochs=1)) == 2
    assert f"{taken}: is a file, not a folder" in capsys.readouterr().err
    data = tmp_path / "recordings"  # the user's folder, given as --out by mistake
    data.mkdir()
    (data / "config.json.bak").write_text("the user's")
    assert main(_train_arguments(tree, data, epochs=1)) == 2
    error = capsys.readouterr().err
    assert f"{data}: holds files that whalelab has no record of writing" in error
    assert sorted(path.name for path in data.iterdir()) == ["config.json.bak"]
    locked = tmp_path / "read-only"  # simulated: the tests run as root, whom chmod does not stop
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *args, **kwargs: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path)))
        if str(path).startswith(str(locked)) else real_open(path, *args, **kwargs))
    assert main(_train_arguments(tree, locked, epochs=1)) == 2
    error = capsys.readouterr().err
    assert error == f"whalelab: permission denied while writing in {locked}\n"


@pytest.fixture(scope="module")
def strong_manifest(tmp_path_factory):
    """Two classes of 1-s clips with a 0.3-s tone at a known time, and background; the
    call times are given for every other clip only (a mixed data set)."""
    root = tmp_path_factory.mktemp("strong")
    rng = np.random.default_rng(0)
    rows = ["path,label,call_start_s,call_end_s"]
    for name, frequency in (("low", 500.0), ("high", 1500.0), ("", 0.0)):
        for i in range(8):
            t = np.arange(8000) / 8000
            start = round(float(rng.uniform(0.0, 0.7)), 3)
            signal = 0.02 * rng.standard_normal(8000)
            if name:
                signal += 0.4 * np.sin(2 * np.pi * frequency * t) * ((t >= start) & (t < start + 0.3))
            path = f"{name or 'none'}_{i}.wav"
            soundfile.write(root / path, signal.astype(np.float32), 8000)
            known = name and i % 2 == 0
            rows.append(f"{path},{name},{start if known else ''},"
                        f"{round(start + 0.3, 3) if known else ''}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def test_validation_loss_is_the_training_loss_on_validation_clips(strong_manifest, tmp_path):
    from whalelab.inference import predict_dataset
    from whalelab.losses import TrainingLoss
    from whalelab.model import build_model

    index = load_index(strong_manifest, seed=0, window_s=1.0)
    assert 0 < index.strong().sum() < len(index)  # mixed: some clips know their call span
    config = RunConfig.from_profile("smoke", data=strong_manifest, classes=index.classes,
                                    clip_seconds=1.0, epochs=1, batch_size=4, device="cpu",
                                    backbone="tiny", frame_loss_weight=2.0)
    train(config, tmp_path / "run", index=index, progress=False)
    model = build_model(config)
    model.load_state_dict(load_checkpoint(tmp_path / "run" / "last.pt")["model"])
    validation = ClipDataset.for_run(index.subset("val"), config)
    predicted = predict_dataset(model, validation, device=torch.device("cpu"),
                                outputs=("clipwise_output", "framewise_logit"))
    assert predicted["strong"].any()
    loss = TrainingLoss(frame_weight=2.0)(
        {name: torch.from_numpy(predicted[name]) for name in ("clipwise_output", "framewise_logit")},
        *(torch.from_numpy(predicted[name]) for name in ("targets", "frame_targets", "strong")))
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["val_loss"].iloc[-1] == pytest.approx(loss.item(), rel=1e-5)


@pytest.mark.slow
def test_evaluation_reports_localisation_where_call_spans_are_known(strong_manifest, tmp_path,
                                                                   capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(strong_manifest), "--out", str(run), "--profile", "smoke",
          "--device", "cpu", "--clip-seconds", "1", "--epochs", "1", "--backbone", "tiny"])
    main(["evaluate", str(run), "--data", str(strong_manifest), "--split", "train"])
    printed = capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    localisation = metrics["localisation"]
    assert localisation["clips"] == int(load_index(strong_manifest, seed=0, window_s=1.0)
                                        .subset("train").strong().sum())
    assert set(localisation["frame_auc"]) == {"high", "low"}
    assert 0 <= localisation["mean_attention_on_call"] <= 1
    assert "localisation (" in printed and "att.call" in printed


def _refused(tree, tmp_path, monkeypatch, clips, classes, message):
    monkeypatch.setattr(loop_module, "build_model", None)  # refused before any model
    with pytest.raises(DataError, match=message):
        train(_config(tree, epochs=1), tmp_path / "run", index=ClipIndex(clips, classes),
              progress=False)
    assert not (tmp_path / "run" / "splits.csv").exists()  # nothing a rerun would reuse


def test_one_class_without_background_is_refused_naming_the_data(tree, tmp_path, monkeypatch):
    index = load_index(tree, seed=0, window_s=1.0)
    upcalls = [clip for clip in index.clips if clip.labels == ("upcall",)]
    _refused(tree, tmp_path, monkeypatch, upcalls, ["upcall"],
             f"{tree}: training needs at least two classes counting background, but the "
             f"train split holds only upcall")


def test_a_class_too_small_to_train_or_validate_is_refused_naming_it(tree, tmp_path,
                                                                     monkeypatch):
    index = load_index(tree, seed=0, window_s=1.0)
    assert training.MIN_TRAIN_CLIPS == 2 and training.MIN_VAL_CLIPS == 1
    no_val = [clip for clip in index.clips
              if not (clip.labels == ("downsweep",) and clip.split == "val")]
    _refused(tree, tmp_path, monkeypatch, no_val, index.classes,
             r"too few clips to train and validate downsweep \(6 train, 0 val\); each class "
             r"needs at least 2 train clips and 1 val")
    train_upcalls = [clip for clip in index.clips
                     if clip.labels == ("upcall",) and clip.split == "train"]
    one_train = [clip for clip in index.clips if clip not in train_upcalls[1:]]
    _refused(tree, tmp_path, monkeypatch, one_train, index.classes,
             r"too few clips to train and validate upcall \(1 train, 1 val\)")


def test_the_field_profile_takes_its_audio_settings_from_the_data(tree, tmp_path):
    from whalelab.advise import advise

    config, index = training.plan_run(tmp_path / "run", data=tree, profile="field",
                                          device="cpu", backbone="tiny")
    # a third of every class is recorded at 6 kHz: the calls' band (300-1500 Hz) is
    # estimated below 3 kHz, where every class is recorded, and fmax stops an octave above it
    assert config.features.sample_rate <= 6000 and config.features.fmax <= 3000
    assert config.features.fmin < 300  # below the lowest call
    assert config.profile == "field" and config.train.class_weights
    assert config.train.band_limit > 0 and config.data.test_fraction == 0
    assert {clip.split for clip in index.clips} == {"train", "val"}
    advised = advise(tree, settings=config.data).settings()  # the run's split
    assert {name: getattr(config.model if name == "time_drop_width" else config.features, name)
            for name in advised} == advised
    # what the user names wins; a named rate brings its own band and frames
    config, _ = training.plan_run(tmp_path / "other", data=tree, profile="field",
                                      device="cpu", backbone="tiny", clip_seconds=0.5,
                                      sample_rate=16000)
    assert (config.features.clip_seconds, config.features.sample_rate,
            config.features.fmax) == (0.5, 16000, 8000.0)
    assert config.features.fmin == advised["fmin"]
    # as `whalelab train --profile field` plans it: no backbone named, the profile names none
    config, _ = training.plan_run(tmp_path / "third", data=tree, profile="field", device="cpu")
    assert config.model.backbone == "densenet121" and config.model.speed == 1.0


def test_without_call_free_clips_the_decision_is_the_top_class(tree, tmp_path):
    """A closed set (no background anywhere): a threshold could only turn a right top class
    into 'no call', which the data never holds."""
    import shutil

    data = tmp_path / "calls"
    for name in ("upcall", "downsweep"):
        shutil.copytree(tree / name, data / name)
    config = _config(data, epochs=1)
    train(config, tmp_path / "run", index=load_index(data, seed=0, window_s=1.0),
          progress=False)
    thresholds = json.loads((tmp_path / "run" / "thresholds.json").read_text())
    assert thresholds == {"downsweep": 0.0, "upcall": 0.0}
    # with background clips the thresholds are chosen on validation, as before
    train(_config(tree, epochs=1), tmp_path / "with", index=load_index(tree, seed=0, window_s=1.0),
          progress=False)
    assert set(json.loads((tmp_path / "with" / "thresholds.json").read_text()).values()) != {0.0}


def test_the_same_audio_under_two_labels_is_warned_of_naming_both_files(tmp_path, tone_tree):
    import shutil

    from whalelab.data import Clip

    tree = tone_tree(tmp_path / "tree", seed=0)
    shutil.copy(tree / "low" / "low_0.wav", tree / "high" / "high_copy.wav")  # mislabelled
    clips = [Clip(str(path), labels=() if path.parent.name == "background"
                  else (path.parent.name,), split="val" if path.stem.endswith("_5") else "train")
             for path in sorted(tree.rglob("*.wav"))]
    with pytest.warns(UserWarning, match=r"1 clip\(s\) hold the same audio as another under "
                                         r"different labels") as caught:
        training.check_trainable(ClipIndex(clips, ["high", "low"]), tree)
    message = str(caught[0].message)
    assert "high_copy.wav (high)" in message and "low_0.wav (low)" in message
