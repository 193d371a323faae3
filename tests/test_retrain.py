"""retrain: reviewed events become training clips, the run's weights the start, and the
new run keeps where it came from; the test recordings stay out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from whalelab import cli
from whalelab.checkpoint import checkpoint_sha256, load_checkpoint
from whalelab.config import RunConfig
from whalelab.errors import CheckpointError, ConfigError, DataError
from whalelab.retrain import retrain_plan, reviewed_clips
from whalelab.review import Review
from whalelab.training import member_config, train
from whalelab.training.loop import initial_weights

RATE = 8000


def recording(path, seconds=10.0):
    rng = np.random.default_rng(1)
    soundfile.write(path, (0.05 * rng.standard_normal(int(seconds * RATE))).astype(np.float32),
                    RATE)
    return path


def reviewed(folder, audio, decisions, *, first_s=1.0):
    """A detect folder of half-second events on ``audio`` (every 2 s from ``first_s``),
    decided so."""
    folder.mkdir(parents=True, exist_ok=True)
    count = len(decisions)
    pd.DataFrame({"file": str(audio), "begin_s": [first_s + 2 * k for k in range(count)],
                  "end_s": [first_s + 0.5 + 2 * k for k in range(count)], "low_hz": 100.0,
                  "high_hz": 3000.0, "label": "low",
                  "score": 0.7, "begin_file": Path(audio).name}).to_csv(folder / "events.csv",
                                                                  index=False)
    review = Review(folder, classes=["high", "low"])
    for position, decision in enumerate(decisions):
        if decision:
            review.mark(position, decision)
    return folder


def test_each_decision_becomes_its_clip(tmp_path):
    audio = recording(tmp_path / "day.wav")
    folder = reviewed(tmp_path / "review", audio, ["true", "false", "high", "unsure", ""])
    clips, record = reviewed_clips(folder, classes=["high", "low"], clip_seconds=2.0)
    assert [clip.labels for clip in clips] == [("low",), (), ("high",)]
    assert [clip.start_s for clip in clips] == [0.25, 2.25, 4.25]  # centred on each event
    assert [clip.duration_s for clip in clips] == [2.0, 2.0, 2.0]
    assert clips[0].spans == (("low", 0.75, 1.25),)
    assert clips[1].spans == () and clips[2].spans == (("high", 0.75, 1.25),)
    assert {clip.split for clip in clips} == {"train"}
    assert record["decisions"] == {"true": 1, "false": 1, "high": 1, "unsure": 1}
    with pytest.raises(ConfigError, match="'high' is not a class"):
        reviewed_clips(folder, classes=["low"], clip_seconds=2.0)
    with pytest.raises(DataError, match="no review.csv"):
        reviewed_clips(tmp_path, classes=["low"], clip_seconds=2.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory, tone_tree, train_tiny):
    root = tmp_path_factory.mktemp("retrain")
    tree = tone_tree(root / "tree", seed=5, rate=RATE)
    return root / "run", train_tiny(tree, root / "run", seed=1)


def test_the_retrained_run_starts_from_the_run_and_says_so(run, tmp_path):
    run_dir, index = run
    folder = reviewed(tmp_path / "review", recording(tmp_path / "day.wav"),
                      ["true", "false", "false"])
    config, retrained = retrain_plan(run_dir, [folder], learning_rate=1e-12, epochs=1)
    assert len(retrained.subset("train")) == len(index.subset("train")) + 3
    assert [clip.path for clip in retrained.subset("test").clips] == \
        [clip.path for clip in index.subset("test").clips]
    init = config.train.init
    assert init["run"] == str(run_dir.resolve())
    assert init["sha256"] == checkpoint_sha256(run_dir / "best.pt")
    assert init["reviews"][0]["decisions"] == {"true": 1, "false": 2}
    train(config, tmp_path / "new", index=retrained, progress=False)
    saved = RunConfig.load(tmp_path / "new" / "config.json").train.init
    assert saved["reviews"][0]["folder"] == str(folder.resolve())
    before = load_checkpoint(run_dir / "best.pt")["model"]
    after = load_checkpoint(tmp_path / "new" / "best.pt")["model"]
    for name in ("fc1.weight", "att_block.att.weight"):
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=1e-6)


def test_a_review_of_the_run_s_test_recordings_is_refused(run, tmp_path):
    run_dir, index = run
    tested = index.subset("test").clips[0].path
    folder = reviewed(tmp_path / "review", tested, ["false"], first_s=0.2)
    with pytest.raises(DataError, match="holds test clips"):
        retrain_plan(run_dir, [folder])


def test_the_command_line_refuses_settings_the_run_fixes(run, tmp_path, capsys):
    run_dir, _ = run
    folder = reviewed(tmp_path / "review", recording(tmp_path / "day.wav"), ["true"])
    status = cli.main(["train", "--init", str(run_dir), "--data", str(folder), "--out",
                       str(tmp_path / "new"), "--backbone", "tiny", "--clip-seconds", "2"])
    message = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in message
    assert "--clip-seconds, --backbone cannot be given" in message


def test_an_ensemble_member_starts_from_its_own_member_of_the_run_recorded(run):
    run_dir, _ = run
    config = RunConfig.from_profile("smoke", data="d", classes=["a"], members=3)
    config.train.init = {"run": str(run_dir), "sha256": checkpoint_sha256(run_dir / "best.pt"),
                         "reviews": []}
    second = member_config(config, 1)
    assert initial_weights(second.train.init, second.train.init["member"]) == \
        run_dir / "members" / "1" / "best.pt"
    assert initial_weights(config.train.init, None) == run_dir / "best.pt"
    with pytest.raises(CheckpointError, match="changed since"):  # the run retrained since
        initial_weights({**config.train.init, "sha256": "0" * 64}, None)


def test_a_learning_backbone_is_tuned_and_a_frozen_one_retrained_whole(run, tmp_path,
                                                                        monkeypatch):
    run_dir, _ = run
    folder = reviewed(tmp_path / "review", recording(tmp_path / "day.wav"), ["false"])
    saved = RunConfig.load(run_dir / "config.json").train
    tuned = retrain_plan(run_dir, [folder])[0].train
    assert (tuned.epochs, tuned.learning_rate) == (min(5, saved.epochs),
                                                   pytest.approx(saved.learning_rate / 10))
    monkeypatch.setattr("whalelab.retrain.BACKBONES",
                        {"tiny": type("FrozenTiny", (), {"frozen": True})})
    whole = retrain_plan(run_dir, [folder], epochs=None)[0].train
    assert (whole.epochs, whole.learning_rate) == (saved.epochs, saved.learning_rate)
    told = retrain_plan(run_dir, [folder], epochs=7, learning_rate=0.5)[0].train
    assert (told.epochs, told.learning_rate) == (7, 0.5)
