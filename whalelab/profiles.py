"""The run profiles (smoke, quick, full, field, probe) as data, and the one resolver for them.

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
    # synthetic data: clips per class added to the validation and test splits beyond their
    # 15 % shares of clips_per_class; selection and test figures with narrower intervals,
    # for the cost of inference only (training sees the same clips)
    extra_val_clips: int = 0
    extra_test_clips: int = 0
    overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    #: take the sample rate, band, clip length and FFT from the data (``whalelab.advise``)
    follows_data: bool = False


PROFILES: dict[str, Profile] = {
    # CI and tests: the whole report in a few minutes on 2 CPU cores
    "smoke": Profile(name="smoke", clips_per_class=6, long_recordings=1,
                     long_recording_minutes=1.0,
                     overrides={"train": {"epochs": 1, "batch_size": 8, "patience": 1}}),
    # default without a GPU: a model worth looking at in about ten CPU minutes: 200 clips
    # a class (140 train) and, for inference only, 29 more val and 39 more test clips a
    # class (59 and 69 in all). With 140 clips a class and 21 val and test clips each,
    # validation swung between epochs and test macro-F1 (0.86-0.90, by the epoch picked)
    # had an interval of +-0.05
    "quick": Profile(name="quick", clips_per_class=200, long_recordings=3,
                     long_recording_minutes=4.0, extra_val_clips=29, extra_test_clips=39,
                     overrides={"train": {"epochs": 20}}),
    # default with a GPU: more data, more epochs, mixed precision
    "full": Profile(name="full", clips_per_class=600, long_recordings=10,
                    long_recording_minutes=10.0,
                    overrides={"train": {"epochs": 40, "batch_size": 64, "patience": 8,
                                         "amp": True}}),
    # your own recordings: the audio settings come from the data (``whalelab advise``); few
    # clips want many small steps (batch 16), classes balanced, and a random equaliser
    # against each recording's colour (on 518 real clips of five species, validation F1 0.93
    # -> 0.96 over batch 32 and 40 epochs); half the training clips band-limited to a
    # Nyquist frequency found in the data, so that the empty top of low-rate files names no
    # class; each network trained through its whole cosine schedule (40 epochs) and its last
    # weights kept, not the epoch that a validation split of a few dozen clips picks (held-
    # out accuracy of 8 networks: last 0.895, picked 0.869 on average; better in 6 of 8);
    # three networks from different seeds, averaged (one network's held-out accuracy there
    # ranged 0.84-0.91 with the seed), each validated on a fold of its own so that together
    # they learn from every clip (held-out accuracy over seeds 0-2: 0.924, against 0.913
    # with the three sharing the run's validation split; on a second split 0.948 against
    # 0.961: a principle more than a measured gain); no test split (80 % train, 20 % val):
    # the user keeps test recordings apart and scores them with evaluate --data; the
    # synthetic sizes are quick's
    "field": Profile(name="field", clips_per_class=200, long_recordings=3,
                     long_recording_minutes=4.0, extra_val_clips=29, extra_test_clips=39,
                     follows_data=True,
                     overrides={"model": {"members": 3},
                                "train": {"epochs": 40, "batch_size": 16, "keep": "last",
                                          "member_validation": "rotate",
                                          "class_weights": True, "equalise_db": 10.0,
                                          "band_limit": 0.5},
                                "data": {"val_fraction": 0.2, "test_fraction": 0.0}}),
    # few clips of your own: BirdNET's frozen embeddings (a window every embed_hop_s) and a
    # small attention head trained on them in seconds (the embeddings are computed once,
    # so no augmentation: every epoch sees the same clips); the audio settings come from
    # the data as for field, with the probe's own rate (the highest recorded) and speeds
    # (whalelab advise: low calls lifted, the band's top brought inside BirdNET's);
    # members, epochs and learning rate chosen on the validation split of watkins5
    # (README, "Your own data")
    "probe": Profile(name="probe", clips_per_class=200, long_recordings=3,
                     long_recording_minutes=4.0, extra_val_clips=29, extra_test_clips=39,
                     follows_data=True,
                     overrides={"model": {"backbone": "birdnet", "members": 3,
                                          "embed_hop_s": 1.0},
                                "train": {"epochs": 30, "batch_size": 16, "keep": "last",
                                          "class_weights": True},
                                "data": {"val_fraction": 0.2, "test_fraction": 0.0}}),
}


def resolve_profile(name: str | None = "auto", *, device: str = "auto") -> Profile:
    """Return the named profile; ``auto`` (or empty) is ``full`` with CUDA, else ``quick``."""
    if name in ("auto", "", None):
        name = "full" if resolve_device(device).type == "cuda" else "quick"
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
