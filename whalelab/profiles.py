"""The three run profiles (smoke, quick, full) as data, and the one resolver for them.

The Makefile, the command line and the notebooks all call :func:`resolve_profile`,
so that ``PROFILE=quick`` means the same thing everywhere.

Examples
--------
>>> resolve_profile("smoke").epochs
1
>>> resolve_profile("auto", device="cpu").name
'quick'
"""

from __future__ import annotations

import dataclasses

import torch

from whalelab.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes of the synthetic data, feature settings and training budget of one profile."""

    name: str
    # synthetic data: clips per class over all splits, and long recordings for detection
    clips_per_class: int
    long_recordings: int
    long_recording_minutes: float
    # audio and features: 5 s at 8 kHz, hop 128 -> 313 frames x 64 mels
    sample_rate: int = 8000
    clip_seconds: float = 5.0
    n_fft: int = 1024
    hop_length: int = 128
    n_mels: int = 64
    fmin: float = 10.0
    fmax: float = 4000.0
    # training
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 5
    amp: bool = False


PROFILES: dict[str, Profile] = {
    # CI and tests: the whole report in a few minutes on 2 CPU cores
    "smoke": Profile(name="smoke", clips_per_class=6, long_recordings=1,
                     long_recording_minutes=1.0, epochs=1, batch_size=8, patience=1),
    # default without a GPU: a model worth looking at in a few CPU minutes
    "quick": Profile(name="quick", clips_per_class=100, long_recordings=3,
                     long_recording_minutes=4.0, epochs=16, batch_size=32, patience=4),
    # default with a GPU: more data, more epochs, mixed precision
    "full": Profile(name="full", clips_per_class=600, long_recordings=10,
                    long_recording_minutes=10.0, epochs=40, batch_size=64, patience=8,
                    amp=True),
}


def cuda_available() -> bool:
    """True when a CUDA device can be used."""
    return torch.cuda.is_available()


def resolve_device(device: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda`` into a :class:`torch.device`; ``auto`` picks CUDA when present."""
    if device == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda") and not cuda_available():
        raise ConfigError(f"device {device!r} was asked for but no CUDA device is available")
    return torch.device(device)


def resolve_profile(name: str = "auto", *, device: str = "auto") -> Profile:
    """Return the named profile; ``auto`` (or empty) is ``full`` with CUDA, else ``quick``."""
    if name in ("auto", "", None):
        name = "full" if resolve_device(device).type == "cuda" else "quick"
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
