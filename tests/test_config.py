"""Run configuration: validation naming the parameter, profile defaults and overrides, JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from whalelab.config import (PARTS, DataConfig, DetectConfig, FeatureConfig, ModelConfig,
                             RunConfig, TrainConfig)
from whalelab.errors import ConfigError
from whalelab.features import Spectrogram
from whalelab.profiles import PROFILES

CLASSES = ["blue_whale", "fin_whale", "right_whale"]


def test_feature_defaults():
    features = FeatureConfig()
    assert (features.sample_rate, features.n_fft, features.hop_length, features.n_mels) == \
        (8000, 1024, 128, 64)
    assert features.clip_samples == 40000
    assert features.n_frames == 313
    assert features.frames_per_second == 62.5


@pytest.mark.parametrize("sample_rate, clip_seconds, n_fft, hop_length", [
    (8000, 5.0, 1024, 128), (16000, 2.5, 512, 160), (22050, 3.3, 2048, 333), (8000, 1.0, 256, 64)])
def test_n_frames_is_what_the_spectrogram_gives(sample_rate, clip_seconds, n_fft, hop_length):
    features = FeatureConfig(sample_rate=sample_rate, clip_seconds=clip_seconds, n_fft=n_fft,
                             hop_length=hop_length, fmax=sample_rate / 2)
    spectrogram = Spectrogram(n_fft=n_fft, hop_length=hop_length)
    assert spectrogram(torch.zeros(1, features.clip_samples)).shape[2] == features.n_frames


@pytest.mark.parametrize("kind, values, name", [
    (FeatureConfig, dict(sample_rate=0), "sample_rate"),
    (FeatureConfig, dict(clip_seconds=-1.0), "clip_seconds"),
    (FeatureConfig, dict(n_fft=0), "n_fft"),
    (FeatureConfig, dict(hop_length=-128), "hop_length"),
    (FeatureConfig, dict(n_mels=0), "n_mels"),
    (FeatureConfig, dict(fmin=-5.0), "fmin"),
    (FeatureConfig, dict(fmin=3000.0, fmax=2000.0), "fmax"),
    (FeatureConfig, dict(fmax=4001.0), "fmax"),
    (FeatureConfig, dict(clip_seconds=0.1), "n_fft"),
    (FeatureConfig, dict(win_length=2048), "win_length"),
    (FeatureConfig, dict(win_length=0), "win_length"),
    (FeatureConfig, dict(top_db=-10.0), "top_db"),
    (ModelConfig, dict(num_classes=0), "num_classes"),
    (ModelConfig, dict(num_classes=2, backbone="resnet50"), "backbone"),
    (ModelConfig, dict(num_classes=2, dropout=1.0), "dropout"),
    (ModelConfig, dict(num_classes=2, dropout=-0.1), "dropout"),
    (TrainConfig, dict(epochs=0), "epochs"),
    (TrainConfig, dict(batch_size=0), "batch_size"),
    (TrainConfig, dict(learning_rate=0.0), "learning_rate"),
    (TrainConfig, dict(patience=0), "patience"),
    (TrainConfig, dict(select_metric="accuracy"), "select_metric"),
    (TrainConfig, dict(band_limit=1.01), "band_limit"),
    (TrainConfig, dict(band_limit=-0.5), "band_limit"),
    (DataConfig, dict(val_fraction=0.0), "val_fraction"),
    (DataConfig, dict(test_fraction=-0.1), "test_fraction"),
    (DataConfig, dict(val_fraction=0.5, test_fraction=0.5), "test_fraction"),
])
def test_invalid_values_raise_config_error_naming_the_parameter(kind, values, name):
    with pytest.raises(ConfigError, match=name):
        kind(**values)


def test_class_names_must_match_num_classes():
    with pytest.raises(ConfigError, match="num_classes"):
        RunConfig(features=FeatureConfig(), model=ModelConfig(num_classes=2),
                  train=TrainConfig(), classes=CLASSES)


def _profile_value(profile: str, part: str, name: str):
    """What a profile sets, or the dataclass default where it sets nothing."""
    overrides = PROFILES[profile].overrides.get(part, {})
    return overrides[name] if name in overrides else \
        {field.name: field.default for field in dataclasses.fields(PARTS[part])}[name]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_from_profile_takes_the_profile_defaults(profile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = RunConfig.from_profile(profile, data="data/x", classes=CLASSES, device="cpu")
    assert config.profile == profile
    assert config.classes == CLASSES and config.model.num_classes == 3
    assert config.data.path == str(tmp_path / "data" / "x")  # resolved
    for part in ("features", "train"):
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax") \
                if part == "features" else ("epochs", "batch_size", "learning_rate",
                                            "patience", "amp"):
            assert getattr(getattr(config, part), name) == _profile_value(profile, part, name)
    assert config.train.device == "cpu"


def test_profiles_override_without_redeclaring():
    assert [PROFILES[name].overrides["train"]["epochs"] for name in ("smoke", "quick", "full")] \
        == [1, 20, 40]
    for profile in PROFILES.values():
        for part, settings in profile.overrides.items():
            fields = {field.name: field.default for field in dataclasses.fields(PARTS[part])}
            for name, value in settings.items():
                assert name in fields, f"{profile.name}: {part}.{name}"
                assert value != fields[name], f"{profile.name} repeats the default {part}.{name}"


def test_a_profile_setting_in_the_wrong_part_is_named(monkeypatch):
    broken = dataclasses.replace(PROFILES["smoke"], overrides={"model": {"epochs": 2}})
    monkeypatch.setitem(PROFILES, "smoke", broken)
    with pytest.raises(ConfigError, match="epochs"):
        RunConfig.from_profile("smoke", data="", classes=CLASSES)


def test_setting_names_are_unique_across_parts():
    names = [field.name for kind in PARTS.values() for field in dataclasses.fields(kind)]
    assert len(names) == len(set(names))


def test_data_and_detect_settings_are_overridable_and_validated():
    config = RunConfig.from_profile("smoke", data="d", classes=CLASSES, label_column="Call Type",
                                    background_labels=["noise", "ambient"], window_hop_s=1.0,
                                    min_call_fraction=0.3, background_cap=0.25, threshold=0.7,
                                    merge_gap_s=0.5, trim=False)
    assert (config.data.label_column, config.data.background_labels, config.data.window_hop_s,
            config.data.min_call_fraction, config.data.background_cap) == \
        ("Call Type", ["noise", "ambient"], 1.0, 0.3, 0.25)
    assert (config.detect.threshold, config.detect.merge_gap_s, config.detect.trim) == \
        (0.7, 0.5, False)
    for name, value in [("min_call_fraction", 0.0), ("background_cap", 1.5),
                        ("window_hop_s", -1.0), ("threshold", 0.0), ("threshold", 1.2),
                        ("merge_gap_s", -0.1), ("hop_s", 0.0)]:
        with pytest.raises(ConfigError, match=name):
            RunConfig.from_profile("smoke", data="d", classes=CLASSES, **{name: value})
    with pytest.raises(ConfigError, match="low_threshold"):
        DetectConfig(threshold=0.4, low_threshold=0.6)


def test_a_class_cannot_be_a_background_label():
    with pytest.raises(ConfigError, match="noise"):
        RunConfig.from_profile("smoke", data="d", classes=["noise", "whale"],
                               background_labels=["noise"])


def test_a_saved_run_works_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = RunConfig.from_profile("smoke", data="data/x", classes=CLASSES)
    config.save(tmp_path / "config.json")
    monkeypatch.chdir("/")
    assert RunConfig.load(tmp_path / "config.json").data.path == str(tmp_path / "data" / "x")


def test_an_old_config_without_data_and_detect_parts_loads(tmp_path):
    values = RunConfig.from_profile("smoke", data="/old/data", classes=CLASSES).to_dict()
    values["data"] = "/old/data"
    del values["detect"]
    (tmp_path / "config.json").write_text(json.dumps(values))
    loaded = RunConfig.load(tmp_path / "config.json")
    assert loaded.data == DataConfig(path="/old/data") and loaded.detect == DetectConfig()


def test_an_old_config_with_mixup_and_ema_off_loads_and_one_that_used_them_is_refused(tmp_path):
    config = RunConfig.from_profile("smoke", data="/old/data", classes=CLASSES)
    values = config.to_dict()
    values["train"].update(mixup=0.0, ema_decay=None)  # what every config.json held before 0.4
    (tmp_path / "config.json").write_text(json.dumps(values))
    assert RunConfig.load(tmp_path / "config.json") == config
    values["train"]["mixup"] = 0.2  # a run trained with mixup cannot be rebuilt
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=r"config.json: mixup=0.2.*no longer"):
        RunConfig.load(tmp_path / "config.json")


def test_conflicts_name_each_changed_setting_and_ignore_runtime_ones(tmp_path):
    config = RunConfig.from_profile("smoke", data=tmp_path, classes=CLASSES)
    assert config.conflicts(epochs=1, device="cuda", num_workers=4, fmax=None,
                            path=str(tmp_path), background_labels=("background",)) == []
    assert config.conflicts(epochs=5, label_column="Call") == \
        ["epochs: 1 -> 5", "label_column: 'Species' -> 'Call'"]


def test_auto_profile_on_cpu_is_recorded_as_quick():
    assert RunConfig.from_profile("auto", data="", classes=CLASSES, device="cpu").profile == "quick"


def test_overrides_land_in_their_part():
    config = RunConfig.from_profile(
        "smoke", data="d", classes=CLASSES, device="cpu", epochs=3, batch_size=4,
        learning_rate=0.01, seed=7, equalise_db=3.0, select_metric="macro_f1", sample_rate=16000,
        clip_seconds=2.0, n_mels=32, fmin=50.0, win_length=512, top_db=None, dropout=0.1,
        spec_augment=False, pretrained="weights.pt")
    assert (config.train.epochs, config.train.batch_size, config.train.learning_rate,
            config.train.seed, config.train.equalise_db, config.train.select_metric) == \
        (3, 4, 0.01, 7, 3.0, "macro_f1")
    assert (config.features.sample_rate, config.features.clip_seconds, config.features.n_mels,
            config.features.fmin, config.features.win_length) == (16000, 2.0, 32, 50.0, 512)
    assert config.features.top_db == 80.0  # None means "not given", not "no clipping"
    assert (config.model.dropout, config.model.spec_augment, config.model.pretrained) == \
        (0.1, False, "weights.pt")


def test_none_overrides_keep_the_profile_value():
    config = RunConfig.from_profile("quick", data="", classes=CLASSES, device="cpu",
                                    epochs=None, batch_size=None, fmax=None)
    assert config.train.epochs == _profile_value("quick", "train", "epochs") == 20
    assert config.train.batch_size == _profile_value("quick", "train", "batch_size")
    assert config.features.fmax == _profile_value("quick", "features", "fmax") == 4000.0


def test_unknown_override_names_the_setting():
    with pytest.raises(ConfigError, match="n_melz"):
        RunConfig.from_profile("smoke", data="", classes=CLASSES, device="cpu", n_melz=32)


def test_invalid_override_names_the_parameter():
    with pytest.raises(ConfigError, match="batch_size"):
        RunConfig.from_profile("smoke", data="", classes=CLASSES, device="cpu", batch_size=0)


def test_unknown_profile():
    with pytest.raises(ConfigError, match="tiny"):
        RunConfig.from_profile("tiny", data="", classes=CLASSES)


def test_fmax_follows_a_lower_sample_rate_when_not_given():
    config = RunConfig.from_profile("quick", data="", classes=CLASSES, device="cpu",
                                    sample_rate=6000)
    assert config.features.fmax == 3000.0  # the profile's 4000 Hz is above the new Nyquist


@pytest.mark.parametrize("sample_rate", [16000, 32000, 96000])
def test_fmax_and_frames_follow_a_given_sample_rate(sample_rate):
    features = RunConfig.from_profile("quick", data="", classes=CLASSES, device="cpu",
                                      sample_rate=sample_rate).features
    assert features.fmax == sample_rate / 2  # the whole band the rate holds
    window_s, hop_s = features.n_fft / sample_rate, features.hop_length / sample_rate
    bin_hz = sample_rate / features.n_fft
    default = FeatureConfig()
    # the window shortens and the bins widen as the rate rises, but neither goes as far as
    # beyond keeping the 8 kHz window's samples (bins of rate/1024) or its 128 ms (bins of
    # 7.8 Hz); at a power-of-two rounding tie (16 kHz) it may meet one of them
    assert default.n_fft / sample_rate <= window_s < default.n_fft / default.sample_rate
    assert default.sample_rate / default.n_fft < bin_hz <= sample_rate / default.n_fft
    assert features.n_fft & (features.n_fft - 1) == 0  # a power of two
    assert 0.005 <= hop_s <= 0.016 and features.hop_length <= features.n_fft // 4
    assert features.n_frames <= 1 + 5.0 / 0.005  # a 5 s clip stays a network-sized picture


def test_named_settings_win_over_the_sample_rate():
    features = RunConfig.from_profile("quick", data="", classes=CLASSES, device="cpu",
                                      sample_rate=32000, fmax=5000.0, fmin=100.0, n_fft=512,
                                      hop_length=100).features
    assert (features.fmax, features.fmin, features.n_fft, features.hop_length) == \
        (5000.0, 100.0, 512, 100)


def test_without_a_sample_rate_the_profile_features_stay():
    assert RunConfig.from_profile("quick", data="", classes=CLASSES,
                                  device="cpu").features == FeatureConfig()


def test_an_explicit_fmax_above_nyquist_is_an_error():
    with pytest.raises(ConfigError, match="fmax"):
        RunConfig.from_profile("quick", data="", classes=CLASSES, device="cpu",
                               sample_rate=6000, fmax=3500.0)


def non_default_config() -> RunConfig:
    return RunConfig(
        features=FeatureConfig(sample_rate=16000, clip_seconds=2.5, n_fft=512, hop_length=160,
                               win_length=400, n_mels=48, fmin=20.0, fmax=7000.0, top_db=None),
        model=ModelConfig(num_classes=3, pretrained="densenet.pt", dropout=0.25,
                          spec_augment=False, time_drop_width=16),
        train=TrainConfig(epochs=7, batch_size=5, learning_rate=3e-4, equalise_db=6.0,
                          select_metric="val_loss", seed=11, device="cpu", amp=True),
        classes=CLASSES, data=DataConfig(path="/some/data/manifest.csv", label_column="Call",
                                         background_labels=["noise"], window_hop_s=2.0),
        detect=DetectConfig(hop_s=1.0, threshold=0.6, low_threshold=0.2, trim=False),
        profile="full")


@pytest.mark.parametrize("make", [
    non_default_config,
    lambda: RunConfig.from_profile("smoke", data="data/synthetic/smoke", classes=CLASSES)])
def test_save_load_round_trip(tmp_path, make):
    config = make()
    path = tmp_path / "run" / "config.json"
    config.save(path)
    loaded = RunConfig.load(path)
    assert loaded == config
    assert dataclasses.asdict(loaded) == dataclasses.asdict(config)
    assert json.loads(path.read_text())["classes"] == CLASSES  # plain, readable JSON
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no temp file


def test_dict_round_trip():
    config = non_default_config()
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_from_dict_rejects_unknown_and_missing_keys():
    values = non_default_config().to_dict()
    values["features"]["n_mel"] = 64
    with pytest.raises(ConfigError, match="n_mel"):
        RunConfig.from_dict(values)
    values = non_default_config().to_dict()
    del values["train"]
    with pytest.raises(ConfigError, match="train"):
        RunConfig.from_dict(values)


@pytest.mark.parametrize("part, name, value, message", [
    ("features", "sample_rate", "8000", r"features.sample_rate must be int, not '8000' \(str\)"),
    ("features", "htk", 1, r"features.htk must be bool, not 1 \(int\)"),
    ("train", "epochs", 2.5, r"train.epochs must be int, not 2.5 \(float\)"),
    ("data", "background_labels", "noise", r"data.background_labels must be list\[str\]"),
    ("model", "dropuot", 0.1, r"unknown model setting\(s\) \['dropuot'\]"),
])
def test_a_config_json_setting_of_the_wrong_type_or_name_is_named(tmp_path, part, name, value,
                                                                 message):
    values = non_default_config().to_dict()
    values[part][name] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=f"config.json: {message}"):
        RunConfig.load(path)


def test_load_validates_values(tmp_path):
    values = non_default_config().to_dict()
    values["features"]["hop_length"] = 0
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ConfigError, match="hop_length"):
        RunConfig.load(path)


def test_load_missing_or_malformed_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="absent.json"):
        RunConfig.load(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"features": ')
    with pytest.raises(ConfigError, match="broken.json"):
        RunConfig.load(broken)
