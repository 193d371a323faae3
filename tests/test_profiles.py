"""Run profiles: sizes grow smoke < quick < full; auto picks by device; errors name the input."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from whalelab import profiles
from whalelab.config import FeatureConfig
from whalelab.errors import ConfigError
from whalelab.profiles import PROFILES, resolve_device, resolve_profile


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(profiles, "cuda_available", lambda: False)


@pytest.fixture
def with_cuda(monkeypatch):
    monkeypatch.setattr(profiles, "cuda_available", lambda: True)


def test_the_three_profiles_exist():
    assert list(PROFILES) == ["smoke", "quick", "full"]
    assert all(profile.name == name for name, profile in PROFILES.items())


@pytest.mark.parametrize("size", ["clips_per_class", "long_recordings", "long_recording_minutes",
                                  "epochs"])
def test_sizes_grow_from_smoke_to_full(size):
    smoke, quick, full = (getattr(PROFILES[name], size) for name in ("smoke", "quick", "full"))
    assert smoke < quick < full


def test_batch_and_patience_do_not_shrink():
    for field in ("batch_size", "patience"):
        values = [getattr(PROFILES[name], field) for name in ("smoke", "quick", "full")]
        assert values == sorted(values)


def test_only_full_uses_mixed_precision():
    assert [PROFILES[name].amp for name in ("smoke", "quick", "full")] == [False, False, True]


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_has_valid_features(name):
    profile = PROFILES[name]
    features = FeatureConfig(**{field.name: getattr(profile, field.name)
                                for field in dataclasses.fields(FeatureConfig)
                                if hasattr(profile, field.name)})
    assert features.n_frames == 313 and features.n_mels == 64


def test_profiles_are_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["quick"].epochs = 1000


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


def test_resolve_device_without_cuda(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match=device):
            resolve_device(device)
    with pytest.raises(ConfigError, match="cuda"):
        resolve_profile("auto", device="cuda")


def test_resolve_device_with_cuda(with_cuda):
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("device", ["tpu", "gpu", "mps0", ""])
def test_unknown_device_names_it(device, no_cuda):
    with pytest.raises(ConfigError, match=f"not '{device}'"):
        resolve_device(device)


def test_cuda_available_reports_torch():
    assert profiles.cuda_available() == torch.cuda.is_available()
