"""Run profiles: partial overrides that grow smoke < quick < full; auto picks by device."""

from __future__ import annotations

import dataclasses

import pytest

from whalelab.config import RunConfig
from whalelab.errors import ConfigError
from whalelab.profiles import PROFILES, resolve_profile


def test_the_profiles_exist():
    assert list(PROFILES) == ["smoke", "quick", "full", "field", "probe"]
    assert all(profile.name == name for name, profile in PROFILES.items())


@pytest.mark.parametrize("size", ["clips_per_class", "long_recordings", "long_recording_minutes"])
def test_sizes_grow_from_smoke_to_full(size):
    smoke, quick, full = (getattr(PROFILES[name], size) for name in ("smoke", "quick", "full"))
    assert smoke < quick < full


def _train(name: str, setting: str):
    """The training setting a profile's runs get."""
    config = RunConfig.from_profile(name, data="", classes=["a"], device="cpu")
    return getattr(config.train, setting)


def test_epochs_grow_and_batch_and_patience_do_not_shrink():
    for field in ("epochs", "batch_size", "patience"):
        values = [_train(name, field) for name in ("smoke", "quick", "full")]
        assert values == sorted(values) and values[0] < values[-1]


def test_only_full_uses_mixed_precision():
    assert [_train(name, "amp") for name in ("smoke", "quick", "full")] == [False, False, True]


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_gives_the_documented_features(name):
    features = RunConfig.from_profile(name, data="", classes=["a"], device="cpu").features
    assert features.n_frames == 313 and features.n_mels == 64


def test_profiles_are_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["quick"].clips_per_class = 1000


@pytest.mark.parametrize("name", list(PROFILES))
def test_named_profiles_resolve_to_themselves_on_any_device(name, no_cuda):
    assert resolve_profile(name) is PROFILES[name]
    assert resolve_profile(name, device="cpu") is PROFILES[name]


@pytest.mark.parametrize("name", ["auto", "", None])
def test_auto_is_quick_on_cpu(name, no_cuda):
    assert resolve_profile(name).name == "quick"
    assert resolve_profile(name, device="auto").name == "quick"


def test_auto_is_quick_when_cpu_is_asked_for_even_with_cuda(with_cuda):
    assert resolve_profile("auto", device="cpu").name == "quick"


def test_auto_is_full_with_cuda(with_cuda):
    assert resolve_profile("auto").name == "full"
    assert resolve_profile("auto", device="cuda").name == "full"


@pytest.mark.parametrize("name", ["tiny", "Quick", "smoke "])
def test_unknown_profile_names_it_and_the_choices(name):
    with pytest.raises(ConfigError, match=repr(name)) as caught:
        resolve_profile(name)
    assert "smoke" in str(caught.value) and "full" in str(caught.value)


def test_auto_with_cuda_asked_for_but_absent_is_an_error(no_cuda):
    with pytest.raises(ConfigError, match="cuda"):
        resolve_profile("auto", device="cuda")


def test_own_data_profiles_keep_no_test_split_and_only_field_band_limits():
    data = {name: RunConfig.from_profile(name, data="", classes=["a"], device="cpu").data
            for name in PROFILES}
    assert [data[name].test_fraction for name in ("smoke", "quick", "full")] == [0.15] * 3
    assert data["field"].test_fraction == data["probe"].test_fraction == 0.0
    assert data["field"].val_fraction > data["quick"].val_fraction  # val takes a larger share
    assert [_train(name, "band_limit") for name in PROFILES] == [0.0, 0.0, 0.0, 0.5, 0.0]


def test_only_the_own_data_profiles_train_ensembles():
    members = {name: RunConfig.from_profile(name, data="", classes=["a"], device="cpu")
               .model.members for name in PROFILES}
    assert members == {"smoke": 1, "quick": 1, "full": 1, "field": 3, "probe": 3}
    assert RunConfig.from_profile("field", data="", classes=["a"], device="cpu",
                                  members=1).model.members == 1  # --members 1 wins


def test_the_probe_profile_trains_a_head_on_frozen_unaugmented_embeddings():
    probe = resolve_profile("probe")
    assert probe.follows_data and probe.overrides["model"]["backbone"] == "birdnet"
    train = probe.overrides["train"]
    assert train.get("equalise_db", 0.0) == 0.0 and train.get("band_limit", 0.0) == 0.0
