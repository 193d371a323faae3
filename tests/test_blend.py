"""Blends: two runs on the same clips averaged, the partner's share chosen on validation;
segment outputs put on one grid; what cannot be blended refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from whalelab.checkpoint import load_model
from whalelab.cli import main
from whalelab.config import ModelConfig, RunConfig
from whalelab.errors import CheckpointError, ConfigError
from whalelab.model import WhaleEnsemble, regrid_outputs
from whalelab.predict import predict_files
from whalelab.training import train
from whalelab.training.blend import WEIGHTS, blend_runs, choose_weight

RATE = 8000


@pytest.fixture(scope="module")
def tree(tmp_path_factory, tone_tree):
    return tone_tree(tmp_path_factory.mktemp("tones") / "tree", seed=5, rate=RATE)


@pytest.fixture(scope="module")
def runs(tree, tmp_path_factory, train_tiny):
    root = tmp_path_factory.mktemp("runs")
    for name, seed in (("a", 1), ("b", 2)):
        train_tiny(tree, root / name, seed=seed)
    return root / "a", root / "b"


def test_segment_outputs_are_put_on_the_coarser_grid():
    # 7 segments of 10 frames onto 2 of 35: frames 0-34 hold segments 0-3 (the last for
    # 5 frames), so the first coarse score is (0*10 + 1*10 + 2*10 + 3*5) / 35
    segmentwise = torch.arange(7.0).reshape(1, 7, 1)
    attention = torch.zeros(1, 1, 7)
    attention[0, 0, 4] = 1.0  # frames 40-49: the second coarse segment
    outputs = {"segmentwise_output": segmentwise, "norm_att": attention,
               "framewise_output": segmentwise.repeat_interleave(10, dim=1)}
    regridded = regrid_outputs(outputs, segment_frames=10, to_segment_frames=35, to_segments=2)
    assert regridded["segmentwise_output"][0, :, 0].tolist() == pytest.approx(
        [45 / 35, (3 * 5 + 4 * 10 + 5 * 10 + 6 * 10) / 35])
    assert regridded["norm_att"][0, 0].tolist() == pytest.approx([0.0, 1.0])
    assert regridded["framewise_output"] is outputs["framewise_output"]


def test_the_weight_is_the_best_on_validation_and_ties_go_to_an_even_blend():
    targets = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
    right, noise = targets * 0.8 + 0.1, np.full((4, 2), 0.5, dtype=np.float32)
    assert choose_weight(right, noise, targets)[0] in (0.0, 0.25, 0.5, 0.75)
    assert choose_weight(noise, right, targets)[0] in (0.25, 0.5, 0.75, 1.0)
    assert choose_weight(right, right, targets)[0] == 0.5  # every share ties
    timid, sure = targets * 0.2 + 0.4, targets * 0.98 + 0.01  # 0.6 / 0.4 and 0.99 / 0.01
    assert choose_weight(timid, 1 - sure, targets)[0] == 0.0  # a quarter of it misleads
    weight, scores = choose_weight(1 - sure, timid, targets)
    assert weight == 1.0 and set(scores) == set(WEIGHTS) and scores[1.0] == 1.0


def test_a_blend_is_a_run_whose_model_is_the_weighted_average(runs, tree, tmp_path):
    record = blend_runs(*runs, tmp_path / "blend", device="cpu", progress=False)
    assert record["weight"] in WEIGHTS
    assert json.loads((tmp_path / "blend" / "blend.json").read_text())["weight"] == \
        record["weight"]
    blended = load_model(tmp_path / "blend")
    assert isinstance(blended.model, WhaleEnsemble)
    weight = blended.config.model.partner_weight
    assert weight == record["weight"]
    waveform = torch.randn(2, RATE)
    alone = [load_model(run).model for run in runs]
    with torch.no_grad():
        got = blended.model(waveform)["clipwise_output"]
        expected = (1 - weight) * alone[0](waveform)["clipwise_output"] + \
            weight * alone[1](waveform)["clipwise_output"]
    assert torch.allclose(got, expected, atol=1e-6)
    assert (tmp_path / "blend" / "thresholds.json").is_file()
    predicted = predict_files(tmp_path / "blend", [next(tree.rglob("*.wav"))], device="cpu",
                              progress=False)
    assert len(predicted) == 1
    with pytest.raises(ConfigError, match="blend of two trained runs"):
        train(RunConfig.load(tmp_path / "blend" / "config.json"), tmp_path / "blend",
              resume=True, progress=False)


def test_runs_on_other_splits_or_a_blend_again_are_refused(runs, tree, tmp_path, train_tiny):
    other = tmp_path / "other"
    train_tiny(tree, other, seed=1, split_seed=7)
    with pytest.raises(CheckpointError, match="splits.csv differs"):
        blend_runs(runs[0], other, tmp_path / "x", device="cpu", progress=False)
    blend_runs(*runs, tmp_path / "blend", device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="already a blend"):
        blend_runs(tmp_path / "blend", runs[1], tmp_path / "y", device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="already holds a run"):
        blend_runs(*runs, tmp_path / "blend", device="cpu", progress=False)
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_a_partner_of_other_classes_is_refused_in_the_configuration():
    with pytest.raises(ConfigError, match="same classes"):
        ModelConfig(num_classes=2, partner={"num_classes": 3})
    with pytest.raises(ConfigError, match="partner_weight"):
        ModelConfig(num_classes=2, partner={"num_classes": 2}, partner_weight=1.5)
    assert [part.backbone for part in ModelConfig(
        num_classes=2, partner={"num_classes": 2, "backbone": "tiny"}).parts()] == \
        ["densenet121", "tiny"]


def test_the_command_blends_and_a_missing_run_is_one_line(runs, tmp_path, capsys):
    assert main(["blend", str(runs[0]), str(runs[1]), "--out", str(tmp_path / "b"),
                 "--device", "cpu"]) == 0
    assert "of the blend" in capsys.readouterr().out
    assert main(["blend", str(runs[0]), str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "c")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nowhere" in error


def test_evaluate_versus_another_run_gives_the_paired_lead(runs, tree, tmp_path, train_tiny):
    from whalelab.errors import DataError
    from whalelab.evaluate import evaluate_run

    metrics = evaluate_run(runs[0], split="test", device="cpu", baseline=False,
                           out=tmp_path / "m.json", progress=False, versus=runs[1])
    alone = evaluate_run(runs[1], split="test", device="cpu", baseline=False,
                         out=tmp_path / "other.json", progress=False)
    versus = metrics["versus"]
    assert versus["macro_f1"] == alone["macro_f1"]
    lead = versus["model_minus_other"]["accuracy"]
    assert lead["value"] == pytest.approx(metrics["accuracy"] - alone["accuracy"])
    assert lead["interval_95"][0] <= lead["value"] <= lead["interval_95"][1]
    other = tmp_path / "other"
    train_tiny(tree, other, seed=1, split_seed=7)
    with pytest.raises(DataError, match="same splits"):
        evaluate_run(runs[0], split="test", device="cpu", baseline=False,
                     out=tmp_path / "x.json", progress=False, versus=other)


class _Fixed(torch.nn.Module):
    """A stand-in model answering fixed outputs on a grid of ``segment_frames`` frames."""

    def __init__(self, clipwise: float, framewise: torch.Tensor, segment_frames: int) -> None:
        super().__init__()
        self.segment_frames, self.clipwise, self.framewise = segment_frames, clipwise, framewise

    def forward(self, waveform):
        segments = -(-len(self.framewise) // self.segment_frames)
        segmentwise = self.framewise[::self.segment_frames][None, :, None]
        return {"clipwise_output": torch.full((1, 1), self.clipwise),
                "segmentwise_output": segmentwise,
                "framewise_output": self.framewise[None, :, None],
                "norm_att": torch.full((1, 1, segments), 1 / segments),
                "framewise_logit": torch.logit(self.framewise[None, :, None])}


def test_a_coarse_member_says_what_but_not_when():
    frames = 64
    onset = torch.where(torch.arange(frames) >= 40, 0.9, 0.1)  # a call from frame 40 on
    fine = _Fixed(0.6, onset, segment_frames=8)
    coarse = _Fixed(1.0, torch.full((frames,), 0.8), segment_frames=32)  # one 32-frame step
    out = WhaleEnsemble([fine, coarse], weights=(0.5, 0.5))(torch.zeros(1, 10))
    assert out["clipwise_output"].item() == pytest.approx(0.8)  # both: (0.6 + 1.0) / 2
    assert torch.equal(out["framewise_output"][0, :, 0], onset)  # the fine member's alone
    assert out["segmentwise_output"].shape == (1, 8, 1)
    assert out["norm_att"].sum().item() == pytest.approx(1.0)
