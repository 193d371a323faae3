"""A run's configuration: dataclasses that validate themselves and round-trip through JSON.

``config.json`` in a run folder holds everything needed to rebuild the same features
and model: :meth:`RunConfig.load` then ``whalelab.model.build_model(config)``.

Examples
--------
>>> config = RunConfig.from_profile("smoke", data="data/synthetic/smoke", classes=["a", "b"])
>>> config.features.n_frames, config.model.num_classes
(313, 2)
>>> RunConfig.from_dict(config.to_dict()) == config
True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from whalelab.atomic import write_json
from whalelab.errors import ConfigError
from whalelab.profiles import resolve_profile


@dataclasses.dataclass
class FeatureConfig:
    """Audio and log-mel settings; the defaults give 313 frames x 64 mels per 5 s clip."""

    sample_rate: int = 8000
    clip_seconds: float = 5.0
    n_fft: int = 1024
    hop_length: int = 128
    win_length: int | None = None
    n_mels: int = 64
    fmin: float = 10.0
    fmax: float = 4000.0
    htk: bool = True  # HTK mel scale: finer bands below 1 kHz (see LogmelFilterBank)
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ConfigError(f"sample_rate must be positive, not {self.sample_rate}")
        if self.clip_seconds <= 0:
            raise ConfigError(f"clip_seconds must be positive, not {self.clip_seconds}")
        if self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ConfigError("n_fft, hop_length and n_mels must be positive")
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise ConfigError(f"win_length must be in 1..n_fft={self.n_fft}, "
                              f"not {self.win_length}")
        if self.top_db is not None and self.top_db < 0:
            raise ConfigError(f"top_db must be non-negative or None, not {self.top_db}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(f"need 0 <= fmin < fmax <= sample_rate/2 = {self.sample_rate / 2}"
                              f" Hz; got fmin={self.fmin}, fmax={self.fmax}")
        if self.clip_samples < self.n_fft:
            raise ConfigError(f"clip_seconds={self.clip_seconds} gives {self.clip_samples} "
                              f"samples, fewer than n_fft={self.n_fft}")

    @property
    def clip_samples(self) -> int:
        """Samples in one clip."""
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Log-mel frames in one clip (centred STFT)."""
        return 1 + self.clip_samples // self.hop_length

    @property
    def frames_per_second(self) -> float:
        """Log-mel frame rate."""
        return self.sample_rate / self.hop_length


@dataclasses.dataclass
class ModelConfig:
    """The WhaleSED architecture."""

    num_classes: int
    backbone: str = "densenet121"
    pretrained: str | None = None
    dropout: float = 0.5
    spec_augment: bool = True
    time_drop_width: int = 32
    time_stripes_num: int = 2
    freq_drop_width: int = 8
    freq_stripes_num: int = 2

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ConfigError(f"num_classes must be at least 1, not {self.num_classes}")
        if self.backbone != "densenet121":
            raise ConfigError(f"backbone {self.backbone!r} is not known; use 'densenet121'")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}")


@dataclasses.dataclass
class TrainConfig:
    """Optimisation, model selection and the seed."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    patience: int = 4
    mixup: float = 0.0
    ema_decay: float | None = None
    select_metric: str = "macro_ap"
    class_weights: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    num_workers: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be at least 1")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, not {self.learning_rate}")
        if self.patience < 1:
            raise ConfigError(f"patience must be at least 1, not {self.patience}")
        if not 0 <= self.mixup <= 1:
            raise ConfigError(f"mixup must be in [0, 1], not {self.mixup}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in (0, 1) or None, not {self.ema_decay}")
        if self.select_metric not in ("macro_ap", "macro_f1", "val_loss"):
            raise ConfigError(f"select_metric must be macro_ap, macro_f1 or val_loss, "
                              f"not {self.select_metric!r}")


@dataclasses.dataclass
class RunConfig:
    """Everything a run folder needs to rebuild its features, model and training."""

    features: FeatureConfig
    model: ModelConfig
    train: TrainConfig
    classes: list[str]
    data: str = ""
    profile: str = "quick"

    def __post_init__(self) -> None:
        if len(self.classes) != self.model.num_classes:
            raise ConfigError(f"{len(self.classes)} class names for "
                              f"num_classes={self.model.num_classes}")

    @classmethod
    def from_profile(cls, profile: str, *, data: str, classes: list[str],
                     device: str = "auto", **overrides: Any) -> "RunConfig":
        """Defaults of ``profile``, then ``overrides`` (field names of any part; None is ignored)."""
        chosen = resolve_profile(profile, device=device)
        values: dict[str, dict[str, Any]] = {
            "features": {name: getattr(chosen, name) for name in
                         ("sample_rate", "clip_seconds", "n_fft", "hop_length", "n_mels",
                          "fmin", "fmax")},
            "model": {"num_classes": len(classes)},
            "train": {"epochs": chosen.epochs, "batch_size": chosen.batch_size,
                      "learning_rate": chosen.learning_rate, "patience": chosen.patience,
                      "amp": chosen.amp, "device": device},
        }
        parts = {"features": FeatureConfig, "model": ModelConfig, "train": TrainConfig}
        for key, value in overrides.items():
            if value is None:
                continue
            part = next((name for name, kind in parts.items()
                         if key in {f.name for f in dataclasses.fields(kind)}), None)
            if part is None:
                raise ConfigError(f"unknown setting {key!r}")
            values[part][key] = value
        if "fmax" not in overrides or overrides["fmax"] is None:
            sample_rate = values["features"]["sample_rate"]
            values["features"]["fmax"] = min(values["features"]["fmax"], sample_rate / 2)
        return cls(features=FeatureConfig(**values["features"]),
                   model=ModelConfig(**values["model"]), train=TrainConfig(**values["train"]),
                   classes=list(classes), data=str(data), profile=chosen.name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        try:
            return cls(features=FeatureConfig(**values["features"]),
                       model=ModelConfig(**values["model"]),
                       train=TrainConfig(**values["train"]), classes=list(values["classes"]),
                       data=values.get("data", ""), profile=values.get("profile", "quick"))
        except (KeyError, TypeError) as error:
            raise ConfigError(f"configuration is incomplete or has unknown keys: {error}") from None

    def save(self, path: str | Path) -> None:
        """Write to ``path`` (usually ``RUN/config.json``) atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """Read a ``config.json``; a missing or malformed file raises :class:`ConfigError`."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON ({error})") from None
        return cls.from_dict(values)
