"""A run's configuration: dataclasses that validate themselves and round-trip through JSON.

``config.json`` in a run folder holds everything needed to rebuild the same data
reading, features, model and detection: :meth:`RunConfig.load` then
``whalelab.model.build_model(config)``. Each setting has one home, a dataclass field
with its default; a profile (:mod:`whalelab.profiles`) overrides some of them and the
command line overrides those (:meth:`RunConfig.from_profile`).

Examples
--------
>>> config = RunConfig.from_profile("smoke", data="data/synthetic/smoke", classes=["a", "b"])
>>> config.features.n_frames, config.model.num_classes, config.train.epochs
(313, 2, 1)
>>> RunConfig.from_dict(config.to_dict()) == config
True
>>> Path(config.data.path).is_absolute()
True
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

from whalelab.atomic import write_json
from whalelab.backbones import check_backbone
from whalelab.errors import ConfigError
from whalelab.profiles import resolve_profile

#: what a file whose Nyquist frequency lies below the run's fmax does: a warning, or an error
LOW_RATE_ACTIONS = ("warn", "refuse")
#: how the attention block bounds its logits: PANNs' clamp to [-10, 10], or tanh (before 0.2)
ATTENTION_MODES = ("clamp", "tanh")
#: what runs a model in detection: PyTorch, or its ONNX export on ONNX Runtime
ENGINES = ("torch", "onnx")
#: the formats ``whalelab export`` writes
EXPORT_FORMATS = ("onnx",)


def frame_settings(sample_rate: int) -> dict[str, int]:
    """The FFT size and hop that suit ``sample_rate`` when nobody names them.

    The defaults (a 1024-sample FFT every 128 samples at 8 kHz: 128 ms windows with
    7.8 Hz bins, 16 ms apart) are scaled by the square root of the rate ratio and rounded
    to a power of two: halfway, on a log scale, between keeping the window's duration
    (needless 1 Hz bins at 96 kHz) and keeping its size in samples (20 ms windows that
    blur a 20 Hz call into its neighbours). The hop stays 16 ms, at most a quarter of the
    window, so that a clip's frame count, and the network's cost, hardly depend on the rate.

    Examples
    --------
    >>> [tuple(frame_settings(rate).values()) for rate in (8000, 10000, 32000, 96000)]
    [(1024, 128), (1024, 160), (2048, 512), (4096, 1024)]
    """
    n_fft = max(16, 2 ** round(math.log2(1024 * math.sqrt(sample_rate / 8000))))
    return {"n_fft": n_fft, "hop_length": max(1, min(n_fft // 4, round(0.016 * sample_rate)))}


@dataclasses.dataclass
class FeatureConfig:
    """Audio and log-mel settings; the defaults give 313 frames x 64 mels per 5 s clip.

    A sample rate given without ``fmax``, ``n_fft`` and ``hop_length`` takes them from
    it in :func:`profile_values`: the Nyquist frequency and :func:`frame_settings`.
    """

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
    """The WhaleSED architecture; ``backbone`` names an encoder of
    :data:`whalelab.backbones.BACKBONES`."""

    num_classes: int
    backbone: str = "densenet121"
    pretrained: str | None = None
    dropout: float = 0.5
    spec_augment: bool = True
    time_drop_width: int = 32
    time_stripes_num: int = 2
    freq_drop_width: int = 8
    freq_stripes_num: int = 2
    attention: str = "clamp"
    members: int = 1  # networks trained from different seeds and averaged (WhaleEnsemble)
    # a frozen embedder's backbone (birdnet): the audio is treated as recorded at speed x its
    # rate (every frequency times speed), and embedded in windows embed_hop_s apart in the
    # embedder's time; extra_speeds: further speed factors heard beside it, whose windows are
    # centred on the same segments and whose embeddings are concatenated to speed's (the
    # embedder hears the clip at several playback rates: low calls lifted at one, the top
    # of the band brought down at another); embedder records which model file a trained
    # run used (name, version, sha256, licence), filled in by training
    speed: float = 1.0
    extra_speeds: list[float] = dataclasses.field(default_factory=list)
    embed_hop_s: float = 0.5
    embedder: dict[str, str] | None = None
    # a blend (whalelab blend): the model of another run (its ModelConfig's fields) whose
    # outputs are averaged with this one's, partner_weight its share (chosen on validation)
    partner: dict[str, Any] | None = None
    partner_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.members < 1:
            raise ConfigError(f"members must be at least 1, not {self.members}")
        if self.num_classes < 1:
            raise ConfigError(f"num_classes must be at least 1, not {self.num_classes}")
        check_backbone(self.backbone, pretrained=self.pretrained)
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.attention not in ATTENTION_MODES:
            raise ConfigError(f"attention must be one of {', '.join(ATTENTION_MODES)}, "
                              f"not {self.attention!r}")
        self.extra_speeds = [float(speed) for speed in self.extra_speeds]  # as JSON holds it
        if not all(speed > 0 for speed in self.speeds()):
            raise ConfigError(f"speeds must be positive, not {', '.join(map(str, self.speeds()))}")
        if len(set(self.speeds())) < len(self.speeds()):
            raise ConfigError(f"speeds must differ, not {', '.join(map(str, self.speeds()))}")
        if not 0 < self.embed_hop_s <= 3.0:
            raise ConfigError(f"embed_hop_s must be in (0, 3] s (BirdNET's window is 3 s), "
                              f"not {self.embed_hop_s}")
        if not 0 <= self.partner_weight <= 1:
            raise ConfigError(f"partner_weight must be in [0, 1], not {self.partner_weight}")
        if self.partner is not None:
            partner = self.partner_config()
            if partner.num_classes != self.num_classes or partner.partner is not None:
                raise ConfigError("a blend's partner must have the same classes and no "
                                  "partner of its own")

    def speeds(self) -> tuple[float, ...]:
        """Every speed factor the embedder hears the clip at: ``speed`` first, then
        ``extra_speeds``."""
        return (self.speed, *self.extra_speeds)

    def partner_config(self) -> ModelConfig:
        """The partner's :class:`ModelConfig` (a blend's second model)."""
        if self.partner is None:
            raise ConfigError("this model has no partner: it is not a blend")
        try:
            return ModelConfig(**self.partner)
        except TypeError as error:
            raise ConfigError(f"the blend's partner is not a model configuration "
                              f"({error})") from None

    def parts(self) -> list[ModelConfig]:
        """The models this one averages: itself, and its partner in a blend."""
        return [self] + ([] if self.partner is None else [self.partner_config()])


@dataclasses.dataclass
class TrainConfig:
    """Optimisation, model selection and the seed."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    patience: int = 5
    equalise_db: float = 0.0  # random equaliser of training clips, at most this many dB
    band_limit: float = 0.0  # share of training clips low-passed at a Nyquist found in the data
    select_metric: str = "macro_ap"
    # which weights best.pt keeps: the epoch best on validation by select_metric (with
    # early stopping after patience epochs without gain), or the last epoch's, at the end
    # of the cosine decay (no early stopping): steadier when validation is a few dozen clips
    keep: str = "best"
    # where an ensemble's members validate: all on the run's val split (shared), or each on
    # its own fold of the training recordings (rotate, :func:`whalelab.data.rotate_validation`),
    # so that together they learn from every clip; thresholds are then chosen on each
    # member's predictions for its own fold
    member_validation: str = "shared"
    class_weights: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    # torch.compile the training step's model: faster steps on a GPU after a compile of
    # tens of seconds (which a short run does not earn back); validation stays eager
    compile: bool = False
    num_workers: int = 0
    frame_loss_weight: float = 1.0
    # a retrained run's start (whalelab.retrain): the run whose weights it starts from
    # ("run", its best.pt's "sha256"), the reviews it learns from ("reviews": each folder,
    # review.csv's sha256 and the decisions), and for an ensemble's member its "member"
    init: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be at least 1")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, not {self.learning_rate}")
        if self.patience < 1:
            raise ConfigError(f"patience must be at least 1, not {self.patience}")
        if self.equalise_db < 0:
            raise ConfigError(f"equalise_db must not be negative, not {self.equalise_db}")
        if not 0 <= self.band_limit <= 1:
            raise ConfigError(f"band_limit must be in [0, 1], not {self.band_limit}")
        if self.frame_loss_weight < 0:
            raise ConfigError(f"frame_loss_weight must not be negative, not "
                              f"{self.frame_loss_weight}")
        if self.keep not in ("best", "last"):
            raise ConfigError(f"keep must be best or last, not {self.keep!r}")
        if self.member_validation not in ("shared", "rotate"):
            raise ConfigError(f"member_validation must be shared or rotate, not "
                              f"{self.member_validation!r}")
        if self.select_metric not in ("macro_ap", "macro_f1", "val_loss"):
            raise ConfigError(f"select_metric must be macro_ap, macro_f1 or val_loss, "
                              f"not {self.select_metric!r}")


@dataclasses.dataclass
class DataConfig:
    """How the training data is read (the layouts of :mod:`whalelab.data`): where, and the
    user's conventions.

    ``path`` is stored resolved, so a run folder works from any working directory.
    ``background_labels`` are the labels (class folders, manifest labels, Raven labels)
    that mean "no call": they never become a class. The rest applies to long
    recordings with Raven tables: the label column, the share of a call that must lie
    in a window to label it, the hop between windows (None: half a clip), the
    largest share of call-free windows, and what an empty label in a Raven table stands
    for (a background label, meaning no call, or a class; None makes it an error).
    ``low_rate`` is what a file whose sample rate cannot hold the run's band (Nyquist
    below ``fmax``) does: ``warn`` or ``refuse``. Data without a split of its own is split
    by recording into ``val_fraction`` validation, ``test_fraction`` test (0: none, for
    data whose test recordings the user keeps apart) and the rest training.
    """

    path: str = ""
    label_column: str = "Species"
    background_labels: list[str] = dataclasses.field(default_factory=lambda: ["background"])
    min_call_fraction: float = 0.5
    window_hop_s: float | None = None
    background_cap: float = 0.5
    empty_label: str | None = None
    low_rate: str = "warn"
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        if self.path:
            self.path = str(Path(self.path).expanduser().resolve())
        self.background_labels = list(self.background_labels)
        if not 0 < self.min_call_fraction <= 1:
            raise ConfigError(f"min_call_fraction must be in (0, 1], not {self.min_call_fraction}")
        if self.window_hop_s is not None and self.window_hop_s <= 0:
            raise ConfigError(f"window_hop_s must be positive, not {self.window_hop_s}")
        if not 0 < self.background_cap <= 1:
            raise ConfigError(f"background_cap must be in (0, 1], not {self.background_cap}")
        if not self.label_column:
            raise ConfigError("label_column must name a column of the Raven tables")
        if self.low_rate not in LOW_RATE_ACTIONS:
            raise ConfigError(f"low_rate must be one of {', '.join(LOW_RATE_ACTIONS)}, "
                              f"not {self.low_rate!r}")
        if not 0 < self.val_fraction < 1 or not 0 <= self.test_fraction < 1 \
                or self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(f"need 0 < val_fraction, 0 <= test_fraction and a sum below 1 "
                              f"(the rest trains); got val_fraction={self.val_fraction}, "
                              f"test_fraction={self.test_fraction}")
        if self.empty_label == "":
            raise ConfigError("empty_label must name a background label or a class, or be None")


@dataclasses.dataclass
class DetectConfig:
    """How detection turns a recording into events (see :mod:`whalelab.detection`).

    ``hop_s`` between windows (None: half a clip); an event starts where a class's
    score reaches ``threshold`` and continues down to ``low_threshold`` (None: half of
    it); events closer than ``merge_gap_s`` merge, shorter than ``min_duration_s`` are
    dropped; ``trim`` cuts each event to where its class's band stands out; ``gate``
    multiplies each frame's score by its window's clipwise probability (False: the bare
    framewise output); ``min_scores`` drops the events of a class it names whose score is
    below its value (the calibrated thresholds of ``detect --precision``).
    """

    hop_s: float | None = None
    threshold: float = 0.5
    low_threshold: float | None = None
    merge_gap_s: float = 0.3
    min_duration_s: float = 0.2
    trim: bool = True
    gate: bool = True
    min_scores: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.hop_s is not None and self.hop_s <= 0:
            raise ConfigError(f"hop_s must be positive, not {self.hop_s}")
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.low_threshold is not None and not 0 < self.low_threshold <= self.threshold:
            raise ConfigError(f"low_threshold must be in (0, threshold={self.threshold}], "
                              f"not {self.low_threshold}")
        if self.merge_gap_s < 0 or self.min_duration_s < 0:
            raise ConfigError("merge_gap_s and min_duration_s must not be negative")
        if self.min_scores is not None and not all(
                0 <= value <= 1 for value in self.min_scores.values()):
            raise ConfigError(f"min_scores must lie in [0, 1], not {self.min_scores}")


@dataclasses.dataclass(frozen=True)
class EventMatching:
    """When a detected event matches an annotated one (:mod:`whalelab.metrics.events`).

    Events of one class match when their time intersection over union reaches ``iou``,
    or, with ``onset_tolerance_s``, when their onsets lie at most that many seconds
    apart instead. The one criterion of an evaluation: the model's detection settings
    and the band-energy baseline are chosen with it, and both are scored with it.

    Examples
    --------
    >>> EventMatching().criterion, EventMatching(onset_tolerance_s=0.5).criterion
    ({'iou': 0.3}, {'onset_tolerance_s': 0.5})
    """

    iou: float = 0.3
    onset_tolerance_s: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.iou <= 1:
            raise ConfigError(f"iou must be in (0, 1], not {self.iou}")
        if self.onset_tolerance_s is not None and self.onset_tolerance_s < 0:
            raise ConfigError(f"onset_tolerance_s must be >= 0, not {self.onset_tolerance_s}")

    @property
    def criterion(self) -> dict[str, float]:
        """What decides a match: ``{"onset_tolerance_s": s}`` when given, else ``{"iou": x}``."""
        if self.onset_tolerance_s is not None:
            return {"onset_tolerance_s": self.onset_tolerance_s}
        return {"iou": self.iou}


#: the parts of a run configuration, in ``config.json`` order
PARTS = {"features": FeatureConfig, "model": ModelConfig, "train": TrainConfig,
         "data": DataConfig, "detect": DetectConfig}
#: settings that say where or how fast a run goes, not what it computes
RUNTIME_SETTINGS = {("train", "device"), ("train", "num_workers"), ("train", "compile")}
#: training settings that whalelab no longer has, with the value that left them off: a
#: ``config.json`` written before they went (every such file holds these) still loads
REMOVED_SETTINGS = {("train", "mixup"): 0.0, ("train", "ema_decay"): None}


def _without_removed(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (a ``config.json``'s parts) without :data:`REMOVED_SETTINGS` at their
    off value; one set to anything else is a :class:`ConfigError`, since the run it
    describes cannot be rebuilt."""
    values = dict(values)
    for (part, name), off in REMOVED_SETTINGS.items():
        if not isinstance(values.get(part), dict) or name not in values[part]:
            continue
        settings = dict(values[part])
        if settings.pop(name) != off:
            raise ConfigError(f"{name}={values[part][name]!r}: this run trained with {name}, "
                              f"which whalelab no longer has, so it cannot be rebuilt; only "
                              f"{name}={off!r} (off) still loads")
        values[part] = settings
    return values


def _part_of(name: str) -> str:
    part = next((part for part, kind in PARTS.items()
                 if name in {field.name for field in dataclasses.fields(kind)}), None)
    if part is None:
        raise ConfigError(f"unknown setting {name!r}")
    return part


def profile_values(profile: str, *, data: str | Path, device: str = "auto",
                   **overrides: Any) -> tuple[str, dict[str, dict[str, Any]]]:
    """The profile's name and each part's field values: the profile's overrides, then
    ``overrides`` (None ignored); what :meth:`RunConfig.from_profile` builds from, and
    what reading the data needs before the classes are known.

    Examples
    --------
    >>> name, values = profile_values("quick", data="d", epochs=3, label_column="Call")
    >>> name, values["train"]["epochs"], DataConfig(**values["data"]).label_column
    ('quick', 3, 'Call')
    """
    chosen = resolve_profile(profile, device=device)
    values: dict[str, dict[str, Any]] = {part: {} for part in PARTS}
    for part, settings in chosen.overrides.items():
        for name, value in settings.items():
            if _part_of(name) != part:
                raise ConfigError(f"profile {chosen.name}: {name!r} is not a {part} setting")
            values[part][name] = value
    values["train"]["device"] = device
    values["data"]["path"] = str(data)
    given = {name for name, value in overrides.items() if value is not None}
    for name in given:
        values[_part_of(name)][name] = overrides[name]
    _follow_sample_rate(values["features"], named=given if "sample_rate" in given else
                        given | set(chosen.overrides.get("features", {})))
    return chosen.name, values


#: the feature settings that follow the sample rate unless they are named
RATE_FOLLOWERS = ("n_fft", "hop_length", "fmax")


def _follow_sample_rate(features: dict[str, Any], *, named: set[str]) -> None:
    """Give ``features`` the FFT size, hop and ``fmax`` (the Nyquist frequency) of a sample
    rate set by the profile or the user, where whoever set the rate (or the user) did not
    name them; with no rate set, ``fmax`` is only kept at or below the default's Nyquist.

    Examples
    --------
    >>> features = {"sample_rate": 32000}
    >>> _follow_sample_rate(features, named={"sample_rate"})
    >>> features
    {'sample_rate': 32000, 'n_fft': 2048, 'hop_length': 512, 'fmax': 16000.0}
    """
    if "sample_rate" not in features:
        if "fmax" in features and "fmax" not in named:
            features["fmax"] = min(features["fmax"], FeatureConfig.sample_rate / 2)
        return
    rate = features["sample_rate"]
    followers = {**frame_settings(rate), "fmax": rate / 2}
    for name in RATE_FOLLOWERS:
        if name not in named:
            features[name] = followers[name]


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON ``value`` is of the type a setting's annotation ``hint`` names
    (an integer passes for a float; a bool never passes for a number).

    Examples
    --------
    >>> _fits(8000, int), _fits("8000", int), _fits(True, int), _fits(5, float | None)
    (True, False, False, True)
    """
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return any(_fits(value, each) for each in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_fits(each, item) for each in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _type_name(hint: Any) -> str:
    """``int``, ``float or None``, ``list[str]``: a setting's annotation as a message says it."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(each) for each in typing.get_args(hint))
    if hint is type(None):
        return "None"
    return str(hint) if typing.get_origin(hint) is not None else hint.__name__


def _part_values(kind: type, part: str, values: Any) -> dict[str, Any]:
    """``values`` as the keyword arguments of ``kind`` (the dataclass of ``part``):
    a :class:`ConfigError` names an unknown or missing setting, or one of the wrong type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{part} must be an object of settings, not {values!r}")
    fields = {field.name: field for field in dataclasses.fields(kind)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {part} setting(s) {unknown}")
    missing = [name for name, field in fields.items() if name not in values
               and field.default is dataclasses.MISSING
               and field.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{part} setting(s) {missing} missing")
    hints = typing.get_type_hints(kind)
    for name, value in values.items():
        if not _fits(value, hints[name]):
            raise ConfigError(f"{part}.{name} must be {_type_name(hints[name])}, not "
                              f"{value!r} ({type(value).__name__})")
    return values


@dataclasses.dataclass
class RunConfig:
    """Everything a run folder needs to rebuild its data reading, features, model,
    training and detection."""

    features: FeatureConfig
    model: ModelConfig
    train: TrainConfig
    classes: list[str]
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    detect: DetectConfig = dataclasses.field(default_factory=DetectConfig)
    profile: str = "quick"

    def __post_init__(self) -> None:
        if len(self.classes) != self.model.num_classes:
            raise ConfigError(f"{len(self.classes)} class names for "
                              f"num_classes={self.model.num_classes}")
        background = sorted(set(self.classes) & set(self.data.background_labels))
        if background:
            raise ConfigError(f"{background} are background labels and cannot be classes")

    @classmethod
    def from_profile(cls, profile: str, *, data: str | Path, classes: list[str],
                     device: str = "auto", **overrides: Any) -> "RunConfig":
        """Dataclass defaults, then the profile's overrides, then ``overrides``.

        ``overrides`` are field names of any part (None is ignored); ``fmax``,
        ``n_fft`` and ``hop_length`` that are not given follow a given sample rate (its
        Nyquist frequency and :func:`frame_settings`).
        """
        name, values = profile_values(profile, data=data, device=device, **overrides)
        values["model"]["num_classes"] = len(classes)
        return cls(**{part: kind(**values[part]) for part, kind in PARTS.items()},
                   classes=list(classes), profile=name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Rebuild from :meth:`to_dict`'s output; ``config.json`` files written before
        ``data`` and ``detect`` were parts (``"data": "path"``) still load, those
        written before the attention mode was a setting keep the tanh attention they
        were trained with, and those that name a removed setting at its off value
        (:data:`REMOVED_SETTINGS`: ``mixup`` 0, ``ema_decay`` None) load without it."""
        values = _without_removed(values)
        if not isinstance(values.get("data", {}), dict):
            values["data"] = {"path": values["data"]}
        if isinstance(values.get("model"), dict):  # runs before 0.2 used tanh attention
            values["model"] = {"attention": "tanh", **values["model"]}
        unknown = sorted(set(values) - set(PARTS) - {"classes", "profile"})
        if unknown:
            raise ConfigError(f"unknown keys {unknown} (a configuration holds "
                              f"{', '.join([*PARTS, 'classes', 'profile'])})")
        for part in ("features", "model", "train"):
            if part not in values:
                raise ConfigError(f"the {part!r} part is missing")
        parts = {part: kind(**_part_values(kind, part, values.get(part, {})))
                 for part, kind in PARTS.items()}
        if "classes" not in values:
            raise ConfigError("the 'classes' list is missing")
        classes, profile = values["classes"], values.get("profile", "quick")
        if not _fits(classes, list[str]):
            raise ConfigError(f"classes must be a list of names, not {classes!r}")
        if not isinstance(profile, str):
            raise ConfigError(f"profile must be a name, not {profile!r}")
        return cls(**parts, classes=list(classes), profile=profile)

    def conflicts(self, **requested: Any) -> list[str]:
        """``name: saved -> requested`` for each requested setting (None ignored) that
        differs from this configuration; runtime settings (device, workers) never do.

        Examples
        --------
        >>> config = RunConfig.from_profile("smoke", data="d", classes=["a"])
        >>> config.conflicts(epochs=1, batch_size=16, device="cuda", fmin=None)
        ['batch_size: 8 -> 16']
        """
        changed = []
        for name, value in requested.items():
            part = _part_of(name)
            if value is None or (part, name) in RUNTIME_SETTINGS:
                continue
            if part == "data" and name == "path":
                value = str(Path(value).expanduser().resolve())
            saved = getattr(getattr(self, part), name)
            if saved != value and not (isinstance(saved, list) and list(value) == saved):
                changed.append(f"{name}: {saved!r} -> {value!r}")
        return changed

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
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: expected a JSON object")
            return cls.from_dict(values)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON ({error})") from None
        except ConfigError as error:
            message = str(error)
            raise ConfigError(message if message.startswith(str(path))
                              else f"{path}: {message}") from None
