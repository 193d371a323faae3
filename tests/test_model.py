"""WhaleSED and AttBlock: shapes, attention, localisation, determinism, learning, weights."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
import torchvision

from whalelab.checkpoint import load_model, save_checkpoint, write_classes
from whalelab.backbones import Tiny
from whalelab.config import FeatureConfig, ModelConfig, RunConfig
from whalelab.errors import CheckpointError, ConfigError, WhaleLabError
from whalelab.losses import TrainingLoss
from whalelab.model import AttBlock, WhaleSED, build_model, count_parameters


def small_model(num_classes: int = 2, sample_rate: int = 8000, backbone: str = "tiny",
                **model) -> WhaleSED:
    features = FeatureConfig(sample_rate=sample_rate, n_fft=512, hop_length=128, n_mels=32,
                             fmin=10, fmax=sample_rate / 2)
    return WhaleSED(features, ModelConfig(num_classes=num_classes, backbone=backbone, **model))


#: DenseNet121 runs of the tests that train: the same assertions, many times slower
BOTH_BACKBONES = ["tiny", pytest.param("densenet121", marks=pytest.mark.slow)]


@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize("seconds", [1.0, 5.0, 7.3])
def test_output_shapes_follow_clip_length(sample_rate, seconds):
    model = WhaleSED(FeatureConfig(sample_rate=sample_rate, hop_length=128, fmax=4000),
                     ModelConfig(num_classes=3, backbone="tiny")).eval()
    samples = int(seconds * sample_rate)
    with torch.no_grad():
        out = model(torch.randn(2, samples))
    frames = 1 + samples // 128  # centred STFT frame count
    segments = out["segmentwise_output"].shape[1]
    assert out["clipwise_output"].shape == (2, 3)
    assert out["framewise_output"].shape == (2, frames, 3)
    assert out["framewise_logit"].shape == (2, frames, 3)
    assert out["norm_att"].shape == (2, 3, segments)
    assert abs(segments - frames / 32) <= 1.5


def test_the_tiny_backbone_gives_densenets_shapes_for_every_length():
    torch.manual_seed(0)
    tiny = small_model(backbone="tiny").eval()
    densenet = small_model(backbone="densenet121").eval()
    # frame counts around multiples of 32, where the rounding of each halving shows
    for frames in (32, 33, 63, 65, 96, 129, 313):
        x = torch.randn(1, (frames - 1) * 128)
        with torch.no_grad():
            shapes = [{name: value.shape for name, value in model(x).items()}
                      for model in (tiny, densenet)]
        assert shapes[0] == shapes[1], frames


def test_the_tiny_backbone_is_small():
    model = small_model(num_classes=6, backbone="tiny")
    head = (Tiny.channels * Tiny.channels + Tiny.channels) + 2 * (Tiny.channels * 6 + 6) + 2 * 32
    assert count_parameters(model) == count_parameters(model.encoder) + head
    assert count_parameters(model) < 200_000  # DenseNet121's features alone: about 7 M


def test_pretrained_weights_with_the_tiny_backbone_are_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="pretrained.*densenet121"):
        small_model(backbone="tiny", pretrained=str(tmp_path / "densenet121.pth"))
    with pytest.raises(WhaleLabError, match="resnet50"):
        small_model(backbone="resnet50")


def test_attention_is_a_distribution_and_clipwise_a_probability():
    model = small_model(num_classes=4).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 16000) * 10)
    torch.testing.assert_close(out["norm_att"].sum(dim=-1), torch.ones(3, 4))
    assert (out["norm_att"] >= 0).all()
    assert ((out["clipwise_output"] >= 0) & (out["clipwise_output"] <= 1)).all()
    # clipwise is the attention-weighted mean of the segment probabilities
    expected = (out["norm_att"] * out["segmentwise_output"].transpose(1, 2)).sum(-1)
    torch.testing.assert_close(out["clipwise_output"], expected)


def test_clipwise_of_certain_segments_never_passes_one():
    """A weighted mean of sigmoids that are all 1.0 sums its float32 weights, which can
    come to 1.0000002; a probability above 1 fails calibration downstream."""
    torch.manual_seed(0)
    block = AttBlock(8, 6)
    with torch.no_grad():
        block.cla.bias.fill_(40.0)  # sigmoid(40) is 1.0 in float32
        block.att.weight.mul_(30.0)
        clipwise, norm_att, _ = block(torch.randn(512, 8, 31))
    assert (norm_att.sum(dim=-1) > 1).any()  # the rounding this guards against happens
    assert clipwise.max() <= 1.0


def test_att_block_matches_its_definition():
    torch.manual_seed(0)
    block = AttBlock(6, 2)
    x = torch.randn(3, 6, 5)
    clipwise, norm_att, cla_logit = block(x)
    att = torch.einsum("oi,bit->bot", block.att.weight[..., 0], x) + block.att.bias[:, None]
    logits = torch.einsum("oi,bit->bot", block.cla.weight[..., 0], x) + block.cla.bias[:, None]
    torch.testing.assert_close(norm_att, torch.softmax(att.clamp(-10, 10), dim=-1))
    torch.testing.assert_close(cla_logit, logits)
    torch.testing.assert_close(clipwise, (norm_att * torch.sigmoid(logits)).sum(-1))
    assert torch.count_nonzero(block.att.bias) == 0 and torch.count_nonzero(block.cla.bias) == 0
    tanh = AttBlock(6, 2, attention="tanh")
    tanh.load_state_dict(block.state_dict())
    torch.testing.assert_close(tanh(x)[1], torch.softmax(torch.tanh(att), dim=-1))
    with pytest.raises(ConfigError, match="attention"):
        AttBlock(6, 2, attention="softmax")


def test_clamp_lets_one_segment_take_the_weight_and_tanh_does_not():
    logits = torch.full((1, 1, 9), -20.0)
    logits[0, 0, 4] = 20.0  # one segment far above the rest
    clamp = AttBlock.attention_weights(logits, "clamp")[0, 0, 4].item()
    tanh = AttBlock.attention_weights(logits, "tanh")[0, 0, 4].item()
    assert clamp > 0.999
    assert tanh == pytest.approx(np.e ** 2 / (np.e ** 2 + 8), abs=1e-4)  # the 0.48 cap


def test_eval_is_deterministic_and_train_is_not():
    model = small_model()
    x = torch.randn(2, 16000)
    model.eval()
    with torch.no_grad():
        first, second = model(x)["clipwise_output"], model(x)["clipwise_output"]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    model.train()
    with torch.no_grad():
        a, b = model(x)["clipwise_output"], model(x)["clipwise_output"]
    assert not torch.equal(a, b)  # dropout and SpecAugment differ between calls


def test_level_does_not_change_the_output():
    model = small_model().eval()
    x = torch.randn(2, 16000)
    with torch.no_grad():
        loud, quiet = model(x)["clipwise_output"], model(x * 0.01)["clipwise_output"]
    torch.testing.assert_close(loud, quiet, atol=1e-4, rtol=1e-4)


def fit(model: WhaleSED, x: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
        frames: torch.Tensor | None = None) -> list[float]:
    """``steps`` AdamW steps of the training loss on one batch; the loss before each.

    ``frames``: frame targets ``(batch, frames, classes)`` of clips whose calls' spans are
    known (all of them here), for the frame-level term.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_function, losses = TrainingLoss(), []
    strong = None if frames is None else torch.ones(len(x))
    for _ in range(steps):
        model.train()
        loss = loss_function(model(x), y, frames, strong)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def tone_burst(rng: np.random.Generator, frequency: float, seconds: float, sr: int,
               start: float, length: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    inside = (t >= start) & (t < start + length)
    return 0.05 * rng.standard_normal(t.size) + inside * np.sin(2 * np.pi * frequency * t)


@pytest.mark.parametrize("backbone", BOTH_BACKBONES)
def test_training_localises_a_call_in_the_second_half(backbone):
    """Two-class toy set, calls anywhere in the clip with their spans known (strong
    labels, as the synthetic set has): after a few steps, a call placed in the second half
    moves the framewise peak there (the framewise output localises)."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    sr, seconds = 8000, 4.0
    time = np.arange(1 + int(seconds * sr) // 128) * 128 / sr  # frame times of small_model
    waveforms, targets, frames = [], [], []
    for k, frequency in enumerate((600.0, 1800.0) * 8):
        start = rng.uniform(0.1, 3.3)
        waveforms.append(tone_burst(rng, frequency, seconds, sr, start, 0.6))
        targets.append(np.eye(2)[k % 2])
        frames.append(np.outer((time >= start) & (time < start + 0.6), np.eye(2)[k % 2]))
    for _ in range(4):  # noise-only clips: no call anywhere
        waveforms.append(tone_burst(rng, 600.0, seconds, sr, seconds, 0.6))
        targets.append(np.zeros(2))
        frames.append(np.zeros((len(time), 2)))
    x = torch.tensor(np.array(waveforms), dtype=torch.float32)
    y = torch.tensor(np.array(targets), dtype=torch.float32)
    model = small_model(backbone=backbone, spec_augment=False, dropout=0.1)
    fit(model, x, y, steps=25, lr=3e-4,
        frames=torch.tensor(np.array(frames), dtype=torch.float32))
    model.eval()
    test = torch.tensor(np.array([tone_burst(rng, 600.0, seconds, sr, 2.8, 0.6),
                                  tone_burst(rng, 1800.0, seconds, sr, 2.6, 0.6)]),
                        dtype=torch.float32)
    with torch.no_grad():
        framewise = model(test)["framewise_output"]  # (2, frames, 2)
    half = framewise.shape[1] // 2
    for k in range(2):
        trace = framewise[k, :, k]
        assert trace[half:].mean() > trace[:half].mean() + 0.1
        assert trace.argmax() >= half


def _attention_on_second_half(attention: str) -> float:
    """Train a tiny model 30 steps on clips whose one short call (about one segment)
    lies anywhere, and on call-free clips; return the attention mass it puts on the
    second half of test clips whose call is there."""
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    sr, seconds = 8000, 4.0  # 251 frames: 7 segments of 32 frames (0.51 s)
    waveforms = [tone_burst(rng, 600.0, seconds, sr, rng.uniform(0.0, 3.5), 0.5 if k < 20 else 0)
                 for k in range(30)]
    x = torch.tensor(np.array(waveforms), dtype=torch.float32)
    y = (torch.arange(30) < 20).float()[:, None]  # (clips, 1 class)
    model = small_model(num_classes=1, spec_augment=False, dropout=0.0, attention=attention)
    fit(model, x, y, steps=30, lr=1e-3)
    test = torch.tensor(np.array([tone_burst(rng, 600.0, seconds, sr, start, 0.5)
                                  for start in (2.1, 2.5, 2.9, 3.3)]), dtype=torch.float32)
    with torch.no_grad():
        norm_att = model.eval()(test)["norm_att"][:, 0]  # (clips, segments)
    return norm_att[:, norm_att.shape[1] // 2:].sum(dim=1).mean().item()


@pytest.mark.slow
def test_attention_moves_onto_the_half_that_holds_the_call():
    """A call about one segment long: clamped attention gathers nearly all its mass on the
    call's half. tanh caps each attention logit at 1, so the last four segments of seven
    can hold at most 4e / (4e + 3/e) = 0.91 of it however well the model has learnt."""
    assert _attention_on_second_half("clamp") > 0.95
    assert _attention_on_second_half("tanh") < 4 * np.e / (4 * np.e + 3 / np.e) < 0.95


@pytest.mark.parametrize("backbone", BOTH_BACKBONES)
def test_a_few_steps_lower_the_loss(backbone):
    torch.manual_seed(1)
    # no dropout or SpecAugment, so that the loss of the same batch is comparable
    model = small_model(num_classes=3, backbone=backbone, spec_augment=False,
                        dropout=0.0).train()
    x, y = torch.randn(6, 8000), torch.eye(3).repeat(2, 1)
    losses = fit(model, x, y, steps=5, lr=3e-4)
    with torch.no_grad():
        final = TrainingLoss()(model.train()(x), y).item()
    assert final < losses[0]


def test_parameter_count_is_densenet121_plus_head():
    model = WhaleSED(FeatureConfig(), ModelConfig(num_classes=6))
    backbone = sum(p.numel() for p in torchvision.models.densenet121().features.parameters())
    head = (1024 * 1024 + 1024) + 2 * (1024 * 6 + 6) + 2 * 64
    assert count_parameters(model) == backbone + head
    assert 7.5e6 < count_parameters(model) < 8.5e6


def test_pretrained_weights_load_from_a_local_file(tmp_path):
    torch.manual_seed(3)
    reference = torchvision.models.densenet121()
    state = reference.state_dict()
    # the published ImageNet files use the old layer names 'norm.1', 'conv.2'...
    old_style = {key.replace("norm1", "norm.1").replace("conv2", "conv.2"): value
                 for key, value in state.items()}
    path = tmp_path / "densenet121.pth"
    torch.save(old_style, path)
    model = small_model(backbone="densenet121", pretrained=str(path))
    torch.testing.assert_close(model.encoder.conv0.weight, reference.features.conv0.weight)
    torch.testing.assert_close(model.encoder.denseblock1.denselayer1.norm1.weight,
                               reference.features.denseblock1.denselayer1.norm1.weight)


def test_bad_pretrained_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pth"):
        small_model(backbone="densenet121", pretrained=str(tmp_path / "missing.pth"))
    wrong = tmp_path / "resnet.pth"
    torch.save(torchvision.models.resnet18().state_dict(), wrong)
    with pytest.raises(WhaleLabError, match="resnet.pth"):
        small_model(backbone="densenet121", pretrained=str(wrong))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WhaleLabError, match="garbage.pth"):
        small_model(backbone="densenet121", pretrained=str(garbage))


class _Payload:
    """Unpickling this would run a command: a pretrained file that is more than tensors."""

    def __reduce__(self):
        return (print, ("unpickled",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pretrained_file_holding_objects_is_refused_without_torch_s_advice(tmp_path):
    path = tmp_path / "objects.pth"
    torch.save({"features.conv0.weight": torch.zeros(1), "extra": _Payload()}, path)
    with pytest.raises(CheckpointError) as refused:
        small_model(backbone="densenet121", pretrained=str(path))
    message = str(refused.value)
    assert message.startswith(f"{path}: holds more than tensors") and "will not unpickle" in message
    assert "weights_only" not in message and "\n" not in message


def test_a_run_folder_rebuilds_the_same_model(tmp_path):
    config = RunConfig.from_profile("smoke", data="nowhere", classes=["a", "b"], device="cpu",
                                    clip_seconds=1.0, backbone="tiny")
    model = build_model(config).eval()
    config.save(tmp_path / "config.json")
    write_classes(tmp_path, config.classes, {"a": (10.0, 100.0), "b": (100.0, 1000.0)})
    save_checkpoint(tmp_path / "best.pt", {"model": model.state_dict()})
    loaded = load_model(tmp_path)
    rebuilt, loaded_config = loaded.model, loaded.config
    assert loaded_config == config
    x = torch.randn(2, config.features.clip_samples)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x)["clipwise_output"], model(x)["clipwise_output"])
    torch.save({"model": {"nonsense": torch.zeros(1)}}, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="last.pt"):
        load_model(tmp_path, which="last")


@pytest.mark.parametrize("htk", [True, False])
def test_the_configured_mel_scale_reaches_the_filterbank(htk):
    config = RunConfig.from_profile("smoke", data="nowhere", classes=["a"], device="cpu",
                                    htk=htk, backbone="tiny")
    features = config.features
    expected = librosa.filters.mel(sr=features.sample_rate, n_fft=features.n_fft,
                                   n_mels=features.n_mels, fmin=features.fmin,
                                   fmax=features.fmax, htk=htk)  # (mel, freq)
    melW = build_model(config).logmel.melW  # (freq, mel)
    np.testing.assert_allclose(melW.T.numpy(), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_channels_last_and_bf16_autocast_match_cpu():
    model = small_model(backbone="densenet121").eval()
    x = torch.randn(2, 16000)
    with torch.no_grad():
        cpu = model(x)["clipwise_output"]
        gpu_model = model.cuda().to(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            gpu = gpu_model(x.cuda())["clipwise_output"].float().cpu()
    torch.testing.assert_close(gpu, cpu, atol=0.05, rtol=0.05)
