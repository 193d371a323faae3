"""WhaleSED: the PANNs sound-event-detection recipe on a DenseNet121 backbone.

waveform -> log-mel -> level normalisation -> ``bn0`` over mel bins -> SpecAugment
(training only) -> 3 channels -> DenseNet121 features -> mean over frequency ->
max_pool1d + avg_pool1d -> dropout -> fc1 + ReLU -> dropout -> :class:`AttBlock`.

``backbone="tiny"`` swaps DenseNet121 for a few conv layers with the same time stride
and rounding (so every output keeps its shape) and 64 channels instead of 1024: the
same code path in a fraction of the time, for tests of the pipeline rather than of
DenseNet.

The attention block scores every time segment for every class; the clipwise output
is the attention-weighted sum of the segment scores, and the segment scores spread
back to the log-mel frame rate are the framewise output that makes the classifier a
detector.

Examples
--------
>>> import torch
>>> model = WhaleSED(num_classes=3, sample_rate=8000, n_fft=1024, hop_length=128,
...                  n_mels=64, fmin=10, fmax=4000).eval()
>>> out = model(torch.randn(2, 40000))
>>> {name: tuple(value.shape) for name, value in out.items()}  # doctest: +NORMALIZE_WHITESPACE
{'clipwise_output': (2, 3), 'segmentwise_output': (2, 9, 3), 'framewise_output': (2, 313, 3),
 'norm_att': (2, 3, 9), 'framewise_logit': (2, 313, 3)}
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from whalelab.config import ATTENTION_MODES, BACKBONES, RunConfig
from whalelab.errors import CheckpointError, ConfigError
from whalelab.features import LogmelFilterBank, SpecAugmentation, Spectrogram

DENSENET_CHANNELS = 1024
DENSENET_TIME_STRIDE = 32  # DenseNet121 halves the time axis five times
TINY_CHANNELS = 64  # what the "tiny" backbone hands fc1 and the attention block


class AttBlock(nn.Module):
    """Attention pooling over time: two 1x1 convolutions, ``att`` and ``cla``.

    ``norm_att = softmax(clamp(att(x), -10, 10))`` over time (PANNs' choice, ``attention=
    "clamp"``), ``clipwise = sum(norm_att * activation(cla(x)))`` over time. With
    ``attention="tanh"`` (whalelab before version 0.2) the attention logits pass through
    tanh, which caps them at +-1: with 9 segments one segment can then take at most
    e^2 / (e^2 + 8) = 0.48 of the weight, so attention cannot focus on a short call.

    Parameters
    ----------
    n_in : int
        Input channels.
    n_out : int
        Classes.
    activation : {"sigmoid", "linear"}
        Applied to the ``cla`` scores before pooling.
    attention : {"clamp", "tanh"}
        How the attention logits are bounded before the softmax.

    Shapes
    ------
    ``(batch, n_in, time)`` -> ``clipwise (batch, n_out)``, ``norm_att (batch, n_out, time)``,
    ``cla_logit (batch, n_out, time)`` (before the activation)

    Examples
    --------
    >>> block = AttBlock(8, 2)
    >>> clipwise, norm_att, cla_logit = block(torch.randn(4, 8, 5))
    >>> clipwise.shape, norm_att.shape, cla_logit.shape
    (torch.Size([4, 2]), torch.Size([4, 2, 5]), torch.Size([4, 2, 5]))
    >>> block.att.bias.data = torch.tensor([0.0, 0.0])
    >>> block.att.weight.data.zero_()[:, 0] = 100.0  # attention logits of +-100 * x[:, 0]
    >>> x = torch.zeros(1, 8, 9); x[0, 0] = -1.0; x[0, 0, 4] = 1.0  # one segment stands out
    >>> [round(AttBlock.attention_weights(block.att(x), mode)[0, 0, 4].item(), 2)
    ...  for mode in ("clamp", "tanh")]
    [1.0, 0.48]
    """

    def __init__(self, n_in: int, n_out: int, activation: str = "sigmoid",
                 attention: str = "clamp") -> None:
        super().__init__()
        if activation not in ("sigmoid", "linear"):
            raise ValueError(f"activation must be 'sigmoid' or 'linear', not {activation!r}")
        if attention not in ATTENTION_MODES:
            raise ConfigError(f"attention must be one of {', '.join(ATTENTION_MODES)}, "
                              f"not {attention!r}")
        self.activation, self.attention = activation, attention
        self.att = nn.Conv1d(n_in, n_out, kernel_size=1, bias=True)
        self.cla = nn.Conv1d(n_in, n_out, kernel_size=1, bias=True)
        for layer in (self.att, self.cla):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    @staticmethod
    def attention_weights(logits: torch.Tensor, mode: str) -> torch.Tensor:
        """``(batch, n_out, time)`` attention logits -> weights summing to 1 over time."""
        bounded = torch.clamp(logits, -10.0, 10.0) if mode == "clamp" else torch.tanh(logits)
        return torch.softmax(bounded, dim=-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        norm_att = self.attention_weights(self.att(x), self.attention)  # (batch, n_out, time)
        cla_logit = self.cla(x)  # (batch, n_out, time)
        cla = torch.sigmoid(cla_logit) if self.activation == "sigmoid" else cla_logit
        clipwise = torch.sum(norm_att * cla, dim=2)  # (batch, n_out)
        if self.activation == "sigmoid":  # a weighted mean of probabilities: float32 can pass 1
            clipwise = clipwise.clamp(max=1.0)
        return clipwise, norm_att, cla_logit


def _densenet121_features(pretrained: str | None) -> nn.Module:
    """torchvision's DenseNet121 ``features``; weights from a local state dict when given."""
    network = torchvision.models.densenet121(weights=None)
    if pretrained is not None:
        path = Path(pretrained)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such DenseNet121 weights file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many kinds for a bad file
            raise CheckpointError(f"{path}: not a readable torch state dict ({error})") from None
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


def _conv_bn_relu(n_in: int, n_out: int, *, kernel_size: int = 3,
                  stride: int = 1) -> list[nn.Module]:
    """A same-padded convolution, batch norm and ReLU, as layers for ``nn.Sequential``."""
    return [nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride,
                      padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)]


def _tiny_features() -> nn.Module:
    """Four conv-BN-ReLU blocks that shrink time and mel exactly as DenseNet121's features do.

    DenseNet121's stem (7x7 convolution, stride 2, then a 3x3 max pool, stride 2) rounds
    up; each of its three transitions (2x2 average pool) rounds down. Copying that
    schedule gives the same segment count for every clip length.

    Shapes
    ------
    ``(batch, 3, time, mel)`` -> ``(batch, TINY_CHANNELS, time / 32, mel / 32)``

    Examples
    --------
    >>> _tiny_features()(torch.randn(1, 3, 313, 64)).shape
    torch.Size([1, 64, 9, 2])
    """
    return nn.Sequential(
        *_conv_bn_relu(3, 16, kernel_size=7, stride=2),  # time / 2, rounded up
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # time / 4, rounded up
        *_conv_bn_relu(16, 32), nn.AvgPool2d(kernel_size=2),  # time / 8
        *_conv_bn_relu(32, TINY_CHANNELS), nn.AvgPool2d(kernel_size=2),  # time / 16
        *_conv_bn_relu(TINY_CHANNELS, TINY_CHANNELS), nn.AvgPool2d(kernel_size=2),  # time / 32
    )


def _encoder(backbone: str, pretrained: str | None) -> tuple[nn.Module, int]:
    """The backbone's feature extractor and its output channel count."""
    if backbone == "densenet121":
        return _densenet121_features(pretrained), DENSENET_CHANNELS
    if backbone == "tiny":
        if pretrained is not None:
            raise ConfigError(f"pretrained={pretrained!r}: pretrained weights exist only for "
                              f"backbone 'densenet121', not 'tiny'")
        return _tiny_features(), TINY_CHANNELS
    raise CheckpointError(f"backbone {backbone!r} is not known; use one of "
                          f"{', '.join(BACKBONES)}")


class WhaleSED(nn.Module):
    """Waveform in, clip-, segment- and frame-level class probabilities out.

    Parameters
    ----------
    num_classes : int
        Call classes (background is the absence of all of them).
    sample_rate, n_fft, hop_length, n_mels, fmin, fmax : number
        Log-mel settings (see :mod:`whalelab.features`).
    win_length : int or None
        STFT window length; None means ``n_fft``.
    top_db : float or None
        Dynamic range of the log-mel, per example.
    htk : bool
        HTK mel scale (default) or librosa's Slaney scale.
    backbone : {"densenet121", "tiny"}
        The encoder: DenseNet121's features (1024 channels, the recipe) or four small
        conv blocks (64 channels, well under 1 M parameters in all) with the same time
        stride, for fast tests; every output has the same shape with either.
    pretrained : str or None
        Path to a torchvision DenseNet121 state dict (e.g. ImageNet weights you have
        downloaded); None initialises at random. Nothing is ever downloaded. Only for
        ``backbone="densenet121"``: with ``"tiny"`` it is a :class:`ConfigError`.
    spec_augment : bool
        Drop time and mel stripes while training.
    dropout : float
        Dropout before and after ``fc1``.
    attention : {"clamp", "tanh"}
        How :class:`AttBlock` bounds its attention logits (``clamp``, PANNs', lets
        attention focus on one segment).

    Shapes
    ------
    ``(batch, samples)`` -> dict of ``clipwise_output (batch, classes)``,
    ``segmentwise_output (batch, segments, classes)``,
    ``framewise_output (batch, frames, classes)``, ``norm_att (batch, classes, segments)``,
    and ``framewise_logit (batch, frames, classes)`` (the framewise scores before the
    sigmoid, what a frame-level loss trains);
    ``frames`` is the log-mel frame count and ``segments`` about ``frames / 32``.

    Examples
    --------
    The tiny backbone gives the shapes of the module example above:

    >>> tiny = WhaleSED(num_classes=3, sample_rate=8000, n_fft=1024, hop_length=128,
    ...                 n_mels=64, fmin=10, fmax=4000, backbone="tiny").eval()
    >>> out = tiny(torch.randn(2, 40000))
    >>> {name: tuple(value.shape) for name, value in out.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'clipwise_output': (2, 3), 'segmentwise_output': (2, 9, 3), 'framewise_output': (2, 313, 3),
     'norm_att': (2, 3, 9), 'framewise_logit': (2, 313, 3)}
    >>> count_parameters(tiny) < 100_000
    True
    """

    def __init__(self, num_classes: int, sample_rate: int, n_fft: int, hop_length: int,
                 n_mels: int, fmin: float, fmax: float, *, win_length: int | None = None,
                 top_db: float | None = 80.0, htk: bool = True, backbone: str = "densenet121",
                 pretrained: str | None = None, spec_augment: bool = True,
                 dropout: float = 0.5, time_drop_width: int = 32, time_stripes_num: int = 2,
                 freq_drop_width: int = 8, freq_stripes_num: int = 2,
                 attention: str = "clamp") -> None:
        super().__init__()
        encoder, channels = _encoder(backbone, pretrained)
        self.spectrogram = Spectrogram(n_fft=n_fft, hop_length=hop_length, win_length=win_length)
        self.logmel = LogmelFilterBank(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                       fmax=fmax, top_db=top_db, htk=htk)
        self.bn0 = nn.BatchNorm2d(n_mels)
        self.spec_augmenter = SpecAugmentation(
            time_drop_width=time_drop_width, time_stripes_num=time_stripes_num,
            freq_drop_width=freq_drop_width, freq_stripes_num=freq_stripes_num
        ) if spec_augment else nn.Identity()
        # channels_last runs DenseNet about 5x faster on CPU (oneDNN) and faster on CUDA
        self.encoder = encoder.to(memory_format=torch.channels_last)
        self.dropout = dropout
        self.fc1 = nn.Linear(channels, channels, bias=True)
        nn.init.xavier_uniform_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)
        self.att_block = AttBlock(channels, num_classes, activation="sigmoid",
                                  attention=attention)
        nn.init.constant_(self.bn0.weight, 1.0)
        nn.init.zeros_(self.bn0.bias)

    def logmel_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> level-normalised log-mel ``(batch, 1, time, mel)`` in dB.

        Each example's mean dB is subtracted, so a recording's gain does not change what
        the network sees.
        """
        x = self.logmel(self.spectrogram(waveform))  # (batch, 1, time, mel)
        return x - x.mean(dim=(2, 3), keepdim=True)

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.logmel_features(waveform)  # (batch, 1, time, mel)
        frames = x.shape[2]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel bin
        x = self.spec_augmenter(x)
        x = x.expand(-1, 3, -1, -1)  # (batch, 3, time, mel)
        x = x.contiguous(memory_format=torch.channels_last)  # oneDNN/cuDNN's fast layout
        x = self.encoder(x)  # (batch, channels, time / 32, mel / 32)
        x = x.mean(dim=3)  # (batch, channels, segments)
        x = F.max_pool1d(x, kernel_size=3, stride=1, padding=1) + \
            F.avg_pool1d(x, kernel_size=3, stride=1, padding=1)  # (batch, channels, segments)
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = F.relu_(self.fc1(x.transpose(1, 2))).transpose(1, 2)  # (batch, channels, segments)
        x = F.dropout(x, p=self.dropout, training=self.training)
        clipwise, norm_att, segment_logit = self.att_block(x)  # (batch, classes, segments)
        segmentwise = torch.sigmoid(segment_logit).transpose(1, 2)  # (batch, segments, classes)
        return {
            "clipwise_output": clipwise,
            "segmentwise_output": segmentwise,
            "framewise_output": segments_to_frames(segmentwise, frames),
            "norm_att": norm_att,
            "framewise_logit": segments_to_frames(segment_logit.transpose(1, 2), frames),
        }


def segments_to_frames(segmentwise: torch.Tensor, frames: int) -> torch.Tensor:
    """Spread segment scores back to the log-mel frame rate, exactly ``frames`` long.

    Each segment covers ``DENSENET_TIME_STRIDE`` frames; a tail the backbone dropped is
    filled with the last segment's value, an overhang is cut.

    Shapes
    ------
    ``(batch, segments, classes)`` -> ``(batch, frames, classes)``

    Examples
    --------
    >>> segments_to_frames(torch.arange(2.0).reshape(1, 2, 1), 70)[0, [0, 31, 32, 63, 69], 0]
    tensor([0., 0., 1., 1., 1.])
    """
    framewise = segmentwise.repeat_interleave(DENSENET_TIME_STRIDE, dim=1)
    if framewise.shape[1] >= frames:
        return framewise[:, :frames]
    tail = framewise[:, -1:].expand(-1, frames - framewise.shape[1], -1)
    return torch.cat([framewise, tail], dim=1)


class WhaleEnsemble(nn.Module):
    """Several WhaleSEDs, trained apart from different seeds, whose outputs are averaged.

    Networks trained on a few hundred clips disagree from seed to seed on clips unlike
    any they learnt from; the mean of their probabilities is steadier and more often
    right than any one of them. Every output of :class:`WhaleSED` is the mean of the
    members' (``norm_att`` stays a distribution over segments), so the ensemble is used
    wherever a WhaleSED is.

    Shapes
    ------
    As :class:`WhaleSED`: ``(batch, samples)`` -> dict of ``clipwise_output (batch,
    classes)``, ``segmentwise_output (batch, segments, classes)``, ``framewise_output
    (batch, frames, classes)``, ``norm_att (batch, classes, segments)`` and
    ``framewise_logit (batch, frames, classes)``.

    Examples
    --------
    >>> members = [WhaleSED(num_classes=2, sample_rate=8000, n_fft=512, hop_length=128,
    ...                     n_mels=32, fmin=10, fmax=4000, backbone="tiny") for _ in range(2)]
    >>> ensemble = WhaleEnsemble(members).eval()
    >>> waveform = torch.randn(1, 16000)
    >>> alone = [member(waveform)["clipwise_output"] for member in members]
    >>> torch.allclose(ensemble(waveform)["clipwise_output"], (alone[0] + alone[1]) / 2)
    True
    """

    def __init__(self, members: list[WhaleSED]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least two members, not {len(members)}")
        self.members = nn.ModuleList(members)

    def logmel_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, time, mel)``: the members' common input
        (the STFT and mel filters are fixed, the same in every member)."""
        return self.members[0].logmel_features(waveform)

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = [member(waveform) for member in self.members]
        return {name: torch.stack([output[name] for output in outputs]).mean(dim=0)
                for name in outputs[0]}


def build_network(config: RunConfig) -> WhaleSED:
    """One WhaleSED as a run's configuration describes it, freshly initialised (the
    torch seed decides its weights)."""
    features, model = config.features, config.model
    return WhaleSED(
        num_classes=model.num_classes, sample_rate=features.sample_rate,
        n_fft=features.n_fft, hop_length=features.hop_length, n_mels=features.n_mels,
        fmin=features.fmin, fmax=features.fmax, win_length=features.win_length,
        top_db=features.top_db, htk=features.htk, backbone=model.backbone,
        pretrained=model.pretrained,
        spec_augment=model.spec_augment, dropout=model.dropout,
        time_drop_width=model.time_drop_width, time_stripes_num=model.time_stripes_num,
        freq_drop_width=model.freq_drop_width, freq_stripes_num=model.freq_stripes_num,
        attention=model.attention)


def build_model(config: RunConfig) -> WhaleSED | WhaleEnsemble:
    """The model a run's configuration describes, freshly initialised: one WhaleSED, or
    a :class:`WhaleEnsemble` of ``config.model.members`` of them."""
    if config.model.members == 1:
        return build_network(config)
    return WhaleEnsemble([build_network(config) for _ in range(config.model.members)])


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
