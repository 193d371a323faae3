"""The three run profiles (smoke, quick, full) as data, and the one resolver for them.

A profile is the size of the synthetic data set plus a *partial override* of the
configuration dataclasses of :mod:`whalelab.config`: every setting it does not name
keeps the dataclass default, so each setting has one home. The Makefile, the command
line and the notebooks all call :func:`resolve_profile`, so that ``PROFILE=quick``
means the same thing everywhere.

Examples
--------
>>> resolve_profile("smoke").overrides["train"]["epochs"]
1
>>> resolve_profile("auto", device="cpu").name
'quick'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from whalelab.errors import ConfigError
from whalelab.runtime import resolve_device


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes of the synthetic data and the settings one profile changes.

    ``overrides`` maps a part of the run configuration (``features``, ``model``,
    ``train``, ``data``, ``detect``) to the field values this profile sets.
    """

    name: str
    # synthetic data: clips per class over all splits, and long recordings for detection
    clips_per_class: int
    long_recordings: int
    long_recording_minutes: float
    overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    # CI and tests: the whole report in a few minutes on 2 CPU cores
    "smoke": Profile(name="smoke", clips_per_class=6, long_recordings=1,
                     long_recording_minutes=1.0,
                     overrides={"train": {"epochs": 1, "batch_size": 8, "patience": 1}}),
    # default without a GPU: a model worth looking at in a few CPU minutes (140 clips a
    # class: with 100 the model reached macro-F1 0.77 on the harder synthetic set)
    "quick": Profile(name="quick", clips_per_class=140, long_recordings=3,
                     long_recording_minutes=4.0,
                     overrides={"train": {"epochs": 16, "patience": 4}}),
    # default with a GPU: more data, more epochs, mixed precision
    "full": Profile(name="full", clips_per_class=600, long_recordings=10,
                    long_recording_minutes=10.0,
                    overrides={"train": {"epochs": 40, "batch_size": 64, "patience": 8,
                                         "amp": True}}),
}


def resolve_profile(name: str | None = "auto", *, device: str = "auto") -> Profile:
    """Return the named profile; ``auto`` (or empty) is ``full`` with CUDA, else ``quick``."""
    if name in ("auto", "", None):
        name = "full" if resolve_device(device).type == "cuda" else "quick"
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
