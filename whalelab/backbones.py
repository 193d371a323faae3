"""The encoders WhaleSED can use between its features and its attention head, by name.

A backbone is an ``nn.Module`` registered in :data:`BACKBONES` under the name that
``ModelConfig.backbone`` gives. It is built as ``Backbone(features, model)`` from the
run's :class:`~whalelab.config.FeatureConfig` and :class:`~whalelab.config.ModelConfig`
and states, as class attributes, what WhaleSED needs to know of it:

- ``consumes``: ``"logmel"``, the normalised 3-channel log-mel ``(batch, 3, time, mel)``
  (after ``bn0`` and SpecAugment), or ``"waveform"``, the clip's samples ``(batch,
  samples)`` at the run's sample rate (an encoder with its own front end, such as a
  pretrained audio-embedding network);
- ``channels``: the channels of its output ``(batch, channels, segments)``;
- ``segment_frames``: the log-mel frames (``hop_length`` samples each) one output
  segment stands for; the framewise output repeats each segment that many frames
  (:func:`whalelab.model.segments_to_frames`);
- ``takes_pretrained``: whether ``ModelConfig.pretrained`` (a local weights file) means
  anything to it;
- ``frozen``: whether it learns nothing (a pretrained embedder used as it is): its
  training clips are then served as evaluation serves them (centred, never augmented),
  so that each clip's embedding is the same every epoch and is computed once; a frozen
  backbone's static ``record()`` says which model it is (what ``ModelConfig.embedder``
  keeps, :func:`embedder_record`);
- ``export_refusal``: None when the backbone exports to ONNX with the rest of the model,
  else the one line :mod:`whalelab.export` refuses it with.

Everything after the backbone (``fc1``, the attention head, the outputs, and so
prediction, detection, evaluation and export) sees only ``(batch, channels, segments)``
and ``segment_frames``. A new encoder is one class with those attributes, added to
:data:`BACKBONES`; the command line's ``--backbone`` choices come from it.

Examples
--------
>>> from whalelab.config import FeatureConfig, ModelConfig
>>> tiny = BACKBONES["tiny"](FeatureConfig(), ModelConfig(num_classes=2, backbone="tiny"))
>>> tiny(torch.randn(1, 3, 313, 64)).shape, tiny.segment_frames
(torch.Size([1, 64, 9]), 32)
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from whalelab.errors import CheckpointError, ConfigError
from whalelab.probe import BirdNetProbe

# A backbone is built from the run's FeatureConfig and ModelConfig (whalelab.config),
# which sit above this module so that they can check a backbone's name against
# BACKBONES: the annotations name them without importing them.


def _densenet121_features(pretrained: str | None) -> nn.Sequential:
    """torchvision's DenseNet121 ``features``; weights from a local state dict when given."""
    import torchvision  # only this backbone needs it

    network = torchvision.models.densenet121(weights=None)
    if pretrained is not None:
        path = Path(pretrained)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such DenseNet121 weights file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # torch's own text advises turning the safe loader off
            raise CheckpointError(f"{path}: holds more than tensors (pickled objects or code), "
                                  f"and whalelab will not unpickle it; give a state dict of "
                                  f"tensors alone") from None
        except Exception as error:  # torch raises many kinds for a bad file
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CheckpointError(f"{path}: not a readable torch state dict ({reason})") \
                from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: expected a state dict, found {type(state).__name__}")
        # the published ImageNet files name layers 'norm.1'; torchvision now says 'norm1'
        old_name = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                              r"running_mean|running_var|num_batches_tracked))$")
        state = {old_name.sub(lambda m: m.group(1) + m.group(2), key): value
                 for key, value in state.items()}
        state = {key: value for key, value in state.items() if not key.startswith("classifier.")}
        try:
            network.features.load_state_dict(
                {key.removeprefix("features."): value for key, value in state.items()})
        except RuntimeError as error:
            raise CheckpointError(f"{path}: does not fit DenseNet121: "
                                  f"{str(error).splitlines()[0]}") from None
    return network.features


class DenseNet121(nn.Sequential):
    """DenseNet121's features, then the mean over mel bins: the PANNs recipe's encoder.

    Its layers are torchvision's ``densenet121().features`` under their own names, so a
    model's state dict reads ``encoder.conv0.weight``, ``encoder.denseblock1...``.

    Shapes
    ------
    ``(batch, 3, time, mel)`` -> ``(batch, 1024, segments)``, ``segments`` about
    ``time / 32`` (five halvings: the stem rounds up, the three transitions down)
    """

    consumes = "logmel"
    channels = 1024
    segment_frames = 32
    takes_pretrained = True
    frozen = False
    export_refusal = None

    def __init__(self, features: FeatureConfig, model: ModelConfig) -> None:
        super().__init__(OrderedDict(_densenet121_features(model.pretrained).named_children()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)  # (batch, channels, time / 32, mel / 32)
        return x.mean(dim=3)  # (batch, channels, segments)


def _conv_bn_relu(n_in: int, n_out: int, *, kernel_size: int = 3,
                  stride: int = 1) -> list[nn.Module]:
    """A same-padded convolution, batch norm and ReLU, as layers for ``nn.Sequential``."""
    return [nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride,
                      padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)]


class Tiny(nn.Sequential):
    """Four conv-BN-ReLU blocks that shrink time and mel exactly as DenseNet121's features
    do, with 64 channels: the same code path in a fraction of the time, for tests of the
    pipeline rather than of DenseNet.

    DenseNet121's stem (7x7 convolution, stride 2, then a 3x3 max pool, stride 2) rounds
    up; each of its three transitions (2x2 average pool) rounds down. Copying that
    schedule gives the same segment count for every clip length.

    Shapes
    ------
    ``(batch, 3, time, mel)`` -> ``(batch, 64, segments)``, as :class:`DenseNet121`

    Examples
    --------
    >>> from whalelab.config import FeatureConfig, ModelConfig
    >>> Tiny(FeatureConfig(), ModelConfig(num_classes=1, backbone="tiny"))(
    ...     torch.randn(1, 3, 313, 64)).shape
    torch.Size([1, 64, 9])
    """

    consumes = "logmel"
    channels = 64
    segment_frames = 32
    takes_pretrained = False
    frozen = False
    export_refusal = None

    def __init__(self, features: FeatureConfig, model: ModelConfig) -> None:
        width = self.channels
        super().__init__(
            *_conv_bn_relu(3, 16, kernel_size=7, stride=2),  # time / 2, rounded up
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # time / 4, rounded up
            *_conv_bn_relu(16, 32), nn.AvgPool2d(kernel_size=2),  # time / 8
            *_conv_bn_relu(32, width), nn.AvgPool2d(kernel_size=2),  # time / 16
            *_conv_bn_relu(width, width), nn.AvgPool2d(kernel_size=2),  # time / 32
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)  # (batch, channels, time / 32, mel / 32)
        return x.mean(dim=3)  # (batch, channels, segments)


#: the encoders by ``ModelConfig.backbone`` name: DenseNet121 (the recipe), a few conv
#: layers for tests, and BirdNET's frozen embeddings (:mod:`whalelab.probe`); the one list
#: of backbones (the command line's choices come from it)
BACKBONES: dict[str, type[nn.Module]] = {"densenet121": DenseNet121, "tiny": Tiny,
                                         "birdnet": BirdNetProbe}


def check_backbone(name: str, *, pretrained: str | None) -> None:
    """Raise :class:`ConfigError` for a backbone not in :data:`BACKBONES`, or for
    pretrained weights given to one that takes none (``ModelConfig`` checks with this).

    Examples
    --------
    >>> check_backbone("resnet50", pretrained=None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    whalelab.errors.ConfigError: backbone 'resnet50' is not known; use one of densenet121, tiny, ...
    """
    kind = BACKBONES.get(name)
    if kind is None:
        raise ConfigError(f"backbone {name!r} is not known; use one of {', '.join(BACKBONES)}")
    if pretrained is not None and not kind.takes_pretrained:
        takers = ", ".join(other for other, each in BACKBONES.items() if each.takes_pretrained)
        raise ConfigError(f"pretrained={pretrained!r}: pretrained weights exist only for "
                          f"backbone {takers}, not {name!r}")


def embedder_record(model: ModelConfig) -> dict[str, str] | None:
    """What a run records of its frozen embedder (``ModelConfig.embedder``: name, version,
    model file SHA-256, licence), or None for a backbone that learns."""
    check_backbone(model.backbone, pretrained=model.pretrained)
    return BACKBONES[model.backbone].record() if BACKBONES[model.backbone].frozen else None


def build_backbone(features: FeatureConfig, model: ModelConfig) -> nn.Module:
    """The encoder ``model.backbone`` names, built for the run's settings (checked by
    :func:`check_backbone`), freshly initialised unless it loads pretrained weights."""
    check_backbone(model.backbone, pretrained=model.pretrained)
    return BACKBONES[model.backbone](features, model)
