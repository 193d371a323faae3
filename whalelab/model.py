"""WhaleSED: the PANNs sound-event-detection recipe on a pluggable backbone.

waveform -> log-mel -> level normalisation -> ``bn0`` over mel bins -> SpecAugment
(training only) -> 3 channels -> backbone (DenseNet121's features and the mean over
frequency) -> max_pool1d + avg_pool1d -> dropout -> fc1 + ReLU -> dropout ->
:class:`AttBlock`.

The backbone is the one replaceable part: ``ModelConfig.backbone`` names an encoder of
:data:`whalelab.backbones.BACKBONES` (``densenet121``, the recipe, or ``tiny``, a few
conv layers with the same time stride for fast tests), which maps the 3-channel log-mel
``(batch, 3, time, mel)`` to ``(batch, channels, segments)`` and states its
``channels`` and ``segment_frames`` (the log-mel frames one segment stands for).
Everything after it sees only those, so the outputs below, and prediction, detection,
evaluation and export, do not depend on which backbone a run has.

Adding an encoder whose input is the waveform rather than the log-mel (a pretrained
audio-embedding network, say) is one class registered in ``BACKBONES`` with
``consumes = "waveform"``: WhaleSED then hands it the clip's samples ``(batch,
samples)`` at the run's sample rate instead of the log-mel, and the framewise output
still has the log-mel frame count ``1 + samples // hop_length`` (each segment spread
over ``segment_frames`` frames), so that frame targets, localisation and detection
keep their time axis.

The attention block scores every time segment for every class; the clipwise output
is the attention-weighted sum of the segment scores, and the segment scores spread
back to the log-mel frame rate are the framewise output that makes the classifier a
detector.

Examples
--------
>>> import torch
>>> from whalelab.config import FeatureConfig, ModelConfig
>>> model = WhaleSED(FeatureConfig(), ModelConfig(num_classes=3)).eval()
>>> out = model(torch.randn(2, 40000))
>>> {name: tuple(value.shape) for name, value in out.items()}  # doctest: +NORMALIZE_WHITESPACE
{'clipwise_output': (2, 3), 'segmentwise_output': (2, 9, 3), 'framewise_output': (2, 313, 3),
 'norm_att': (2, 3, 9), 'framewise_logit': (2, 313, 3)}
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from whalelab.backbones import build_backbone
from whalelab.config import ATTENTION_MODES, FeatureConfig, ModelConfig, RunConfig
from whalelab.errors import ConfigError
from whalelab.features import LogmelFilterBank, SpecAugmentation, Spectrogram


class AttBlock(nn.Module):
    """Attention pooling over time: two 1x1 convolutions, ``att`` and ``cla``.

    ``norm_att = softmax(clamp(att(x), -10, 10))`` over time (PANNs' choice, ``attention=
    "clamp"``), ``clipwise = sum(norm_att * sigmoid(cla(x)))`` over time. With
    ``attention="tanh"`` (whalelab before version 0.2) the attention logits pass through
    tanh, which caps them at +-1: with 9 segments one segment can then take at most
    e^2 / (e^2 + 8) = 0.48 of the weight, so attention cannot focus on a short call.

    Parameters
    ----------
    n_in : int
        Input channels.
    n_out : int
        Classes.
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

    def __init__(self, n_in: int, n_out: int, *, attention: str = "clamp") -> None:
        super().__init__()
        if attention not in ATTENTION_MODES:
            raise ConfigError(f"attention must be one of {', '.join(ATTENTION_MODES)}, "
                              f"not {attention!r}")
        self.attention = attention
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
        clipwise = torch.sum(norm_att * torch.sigmoid(cla_logit), dim=2)  # (batch, n_out)
        # a weighted mean of probabilities: float32 rounding can pass 1
        return clipwise.clamp(max=1.0), norm_att, cla_logit


class WhaleSED(nn.Module):
    """Waveform in, clip-, segment- and frame-level class probabilities out.

    Parameters
    ----------
    features : FeatureConfig
        The log-mel settings (sample rate, FFT, hop, mel bands, ``top_db``, mel scale).
    model : ModelConfig
        The classes (``num_classes``), the backbone (:data:`whalelab.backbones.BACKBONES`,
        with its ``pretrained`` weights file where it takes one: nothing is ever
        downloaded), SpecAugment's stripes, the dropout and the attention mode
        (``clamp``, PANNs', lets attention focus on one segment; ``tanh`` before 0.2).
        ``members`` is not this class's concern (see :class:`WhaleEnsemble`).

    Attributes
    ----------
    segment_frames : int
        Log-mel frames per segment of ``segmentwise_output`` and ``norm_att`` (the
        backbone's).

    Shapes
    ------
    ``(batch, samples)`` -> dict of ``clipwise_output (batch, classes)``,
    ``segmentwise_output (batch, segments, classes)``,
    ``framewise_output (batch, frames, classes)``, ``norm_att (batch, classes, segments)``,
    and ``framewise_logit (batch, frames, classes)`` (the framewise scores before the
    sigmoid, what a frame-level loss trains);
    ``frames`` is the log-mel frame count and ``segments`` about ``frames /
    segment_frames``.

    Examples
    --------
    The tiny backbone gives the shapes of the module example above:

    >>> tiny = WhaleSED(FeatureConfig(), ModelConfig(num_classes=3, backbone="tiny")).eval()
    >>> out = tiny(torch.randn(2, 40000))
    >>> {name: tuple(value.shape) for name, value in out.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'clipwise_output': (2, 3), 'segmentwise_output': (2, 9, 3), 'framewise_output': (2, 313, 3),
     'norm_att': (2, 3, 9), 'framewise_logit': (2, 313, 3)}
    >>> count_parameters(tiny) < 100_000, tiny.segment_frames
    (True, 32)
    """

    def __init__(self, features: FeatureConfig, model: ModelConfig) -> None:
        super().__init__()
        encoder = build_backbone(features, model)  # first: the seed decides its weights
        self.spectrogram = Spectrogram(n_fft=features.n_fft, hop_length=features.hop_length,
                                       win_length=features.win_length)
        self.logmel = LogmelFilterBank(sr=features.sample_rate, n_fft=features.n_fft,
                                       n_mels=features.n_mels, fmin=features.fmin,
                                       fmax=features.fmax, top_db=features.top_db,
                                       htk=features.htk)
        self.bn0 = nn.BatchNorm2d(features.n_mels)
        if encoder.consumes == "waveform":  # no log-mel to normalise: nothing for it to learn
            self.bn0.requires_grad_(False)
        self.spec_augmenter = SpecAugmentation(
            time_drop_width=model.time_drop_width, time_stripes_num=model.time_stripes_num,
            freq_drop_width=model.freq_drop_width, freq_stripes_num=model.freq_stripes_num
        ) if model.spec_augment else nn.Identity()
        self.consumes, self.segment_frames = encoder.consumes, encoder.segment_frames
        self.hop_length = features.hop_length
        # channels_last runs DenseNet about 5x faster on CPU (oneDNN) and faster on CUDA
        self.encoder = encoder.to(memory_format=torch.channels_last) \
            if self.consumes == "logmel" else encoder
        self.dropout = model.dropout
        channels = encoder.channels
        self.fc1 = nn.Linear(channels, channels, bias=True)
        nn.init.xavier_uniform_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)
        self.att_block = AttBlock(channels, model.num_classes, attention=model.attention)
        nn.init.constant_(self.bn0.weight, 1.0)
        nn.init.zeros_(self.bn0.bias)

    def logmel_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> level-normalised log-mel ``(batch, 1, time, mel)`` in dB.

        Each example's mean dB is subtracted, so a recording's gain does not change what
        the network sees.
        """
        x = self.logmel(self.spectrogram(waveform))  # (batch, 1, time, mel)
        return x - x.mean(dim=(2, 3), keepdim=True)

    def encode(self, waveform: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The backbone's view of ``(batch, samples)``: ``(batch, channels, segments)``,
        and the log-mel frame count ``frames`` that the framewise outputs take."""
        if self.consumes == "waveform":
            return self.encoder(waveform), 1 + waveform.shape[-1] // self.hop_length
        x = self.logmel_features(waveform)  # (batch, 1, time, mel)
        frames = x.shape[2]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel bin
        x = self.spec_augmenter(x)
        x = x.expand(-1, 3, -1, -1)  # (batch, 3, time, mel)
        x = x.contiguous(memory_format=torch.channels_last)  # oneDNN/cuDNN's fast layout
        return self.encoder(x), frames  # (batch, channels, segments)

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(*self.encode(waveform))

    def head(self, x: torch.Tensor, frames: int) -> dict[str, torch.Tensor]:
        """Everything after the backbone: its output ``(batch, channels, segments)`` to the
        model's outputs, the framewise ones ``frames`` long (what :meth:`encode` gives)."""
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
            "framewise_output": segments_to_frames(segmentwise, frames,
                                                   segment_frames=self.segment_frames),
            "norm_att": norm_att,
            "framewise_logit": segments_to_frames(segment_logit.transpose(1, 2), frames,
                                                  segment_frames=self.segment_frames),
        }


def segments_to_frames(segmentwise: torch.Tensor, frames: int, *,
                        segment_frames: int) -> torch.Tensor:
    """Spread segment scores back to the log-mel frame rate, exactly ``frames`` long.

    Each segment covers ``segment_frames`` frames (the backbone's); a tail the backbone
    dropped is filled with the last segment's value, an overhang is cut.

    Shapes
    ------
    ``(batch, segments, classes)`` -> ``(batch, frames, classes)``

    Examples
    --------
    >>> spread = segments_to_frames(torch.arange(2.0).reshape(1, 2, 1), 70, segment_frames=32)
    >>> spread[0, [0, 31, 32, 63, 69], 0]
    tensor([0., 0., 1., 1., 1.])
    """
    framewise = segmentwise.repeat_interleave(segment_frames, dim=1)
    if framewise.shape[1] >= frames:
        return framewise[:, :frames]
    tail = framewise[:, -1:].expand(-1, frames - framewise.shape[1], -1)
    return torch.cat([framewise, tail], dim=1)


def frames_to_segments(framewise: torch.Tensor, *, segment_frames: int,
                       segments: int) -> torch.Tensor:
    """The mean of each segment's ``segment_frames`` frames, ``segments`` long (a tail
    short of the last segment is filled with the last frame, frames past it are cut):
    the inverse of :func:`segments_to_frames` on its grid.

    Shapes
    ------
    ``(batch, frames, classes)`` -> ``(batch, segments, classes)``

    Examples
    --------
    >>> framewise = segments_to_frames(torch.tensor([[[1.0], [3.0]]]), 70, segment_frames=32)
    >>> frames_to_segments(framewise, segment_frames=32, segments=2).flatten().tolist()
    [1.0, 3.0]
    """
    span = segments * segment_frames
    if framewise.shape[1] < span:
        tail = framewise[:, -1:].expand(-1, span - framewise.shape[1], -1)
        framewise = torch.cat([framewise, tail], dim=1)
    batch, _, classes = framewise.shape
    return framewise[:, :span].reshape(batch, segments, segment_frames, classes).mean(dim=2)


def regrid_outputs(outputs: dict[str, torch.Tensor], *, segment_frames: int,
                   to_segment_frames: int, to_segments: int) -> dict[str, torch.Tensor]:
    """A model's outputs on another segment grid (``to_segment_frames`` frames a segment,
    ``to_segments`` segments): ``segmentwise_output`` is the mean of its frames' scores,
    ``norm_att`` each frame's share of its segment's attention summed over the new
    segment (and made a distribution again); the clip and frame outputs stay.

    Shapes
    ------
    ``segmentwise_output (batch, segments, classes)`` -> ``(batch, to_segments,
    classes)``; ``norm_att (batch, classes, segments)`` -> ``(batch, classes,
    to_segments)``
    """
    frames = outputs["framewise_output"].shape[1]
    attention = segments_to_frames(outputs["norm_att"].transpose(1, 2) / segment_frames, frames,
                                   segment_frames=segment_frames)  # (batch, frames, classes)
    attention = frames_to_segments(attention, segment_frames=to_segment_frames,
                                   segments=to_segments) * to_segment_frames
    attention = attention / attention.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return {**outputs,
            "segmentwise_output": frames_to_segments(outputs["framewise_output"],
                                                     segment_frames=to_segment_frames,
                                                     segments=to_segments),
            "norm_att": attention.transpose(1, 2)}


#: the outputs that describe the whole clip; the others are resolved in time
CLIP_OUTPUTS = ("clipwise_output",)


class WhaleEnsemble(nn.Module):
    """Several WhaleSEDs, trained apart from different seeds, whose outputs are averaged.

    Networks trained on a few hundred clips disagree from seed to seed on clips unlike
    any they learnt from; the mean of their probabilities is steadier and more often
    right than any one of them. Every output of :class:`WhaleSED` is the mean of the
    members' (``norm_att`` stays a distribution over segments), so the ensemble is used
    wherever a WhaleSED is.

    A *blend* weighs its members (``weights``, summing to 1), which may be models of
    different backbones, and so of different segment grids. The clip-level output
    (:data:`CLIP_OUTPUTS`) is the weighted mean of every member's; the time-resolved
    ones come from the members whose segments are no coarser than the first member's
    (the others' weights shared out among them), put on its grid
    (:func:`regrid_outputs`): a probe whose segments are 3-s windows says *what* is in a
    clip, the DenseNet's 0.5-s segments *when*.

    Shapes
    ------
    As :class:`WhaleSED`: ``(batch, samples)`` -> dict of ``clipwise_output (batch,
    classes)``, ``segmentwise_output (batch, segments, classes)``, ``framewise_output
    (batch, frames, classes)``, ``norm_att (batch, classes, segments)`` and
    ``framewise_logit (batch, frames, classes)``.

    Examples
    --------
    >>> features = FeatureConfig(n_fft=512, n_mels=32)
    >>> members = [WhaleSED(features, ModelConfig(num_classes=2, backbone="tiny"))
    ...            for _ in range(2)]
    >>> ensemble = WhaleEnsemble(members).eval()
    >>> waveform = torch.randn(1, 16000)
    >>> alone = [member(waveform)["clipwise_output"] for member in members]
    >>> torch.allclose(ensemble(waveform)["clipwise_output"], (alone[0] + alone[1]) / 2)
    True
    >>> blend = WhaleEnsemble(members, weights=(0.25, 0.75)).eval()
    >>> torch.allclose(blend(waveform)["clipwise_output"], 0.25 * alone[0] + 0.75 * alone[1])
    True
    """

    def __init__(self, members: list[nn.Module],
                 weights: tuple[float, ...] | None = None) -> None:
        super().__init__()
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least two members, not {len(members)}")
        if weights is not None and (len(weights) != len(members) or min(weights) < 0
                                    or abs(sum(weights) - 1) > 1e-6):
            raise ConfigError(f"an ensemble's weights must be one per member, non-negative "
                              f"and sum to 1, not {list(weights)}")
        self.members = nn.ModuleList(members)
        self.weights = None if weights is None else tuple(float(w) for w in weights)
        self.segment_frames = members[0].segment_frames

    def logmel_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, time, mel)``: the members' common input
        (the STFT and mel filters are fixed, the same in every member)."""
        return self.members[0].logmel_features(waveform)

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = [member(waveform) for member in self.members]
        if self.weights is None:
            return {name: torch.stack([output[name] for output in outputs]).mean(dim=0)
                    for name in outputs[0]}
        segments = outputs[0]["segmentwise_output"].shape[1]
        outputs = [output if member.segment_frames == self.segment_frames else
                   regrid_outputs(output, segment_frames=member.segment_frames,
                                  to_segment_frames=self.segment_frames, to_segments=segments)
                   for member, output in zip(self.members, outputs, strict=True)]
        # when: only the members whose segments are no coarser than the blend's (a probe's
        # 3-s windows would smear the calls' onsets); what: every member
        timed = [weight if member.segment_frames <= self.segment_frames else 0.0
                 for member, weight in zip(self.members, self.weights, strict=True)]
        blended = {}
        for name in outputs[0]:
            weights = self.weights if name in CLIP_OUTPUTS else timed
            blended[name] = sum(weight * output[name] for weight, output
                                in zip(weights, outputs, strict=True)) / sum(weights)
        return blended


def build_network(config: RunConfig) -> WhaleSED:
    """One WhaleSED as a run's configuration describes it, freshly initialised (the
    torch seed decides its weights)."""
    return WhaleSED(config.features, config.model)


def build_model(config: RunConfig) -> WhaleSED | WhaleEnsemble:
    """The model a run's configuration describes, freshly initialised: one WhaleSED, or
    a :class:`WhaleEnsemble` of ``config.model.members`` of them; where the model has a
    ``partner`` (a blend), a weighted :class:`WhaleEnsemble` of that and the partner's
    model (``partner_weight`` its share)."""
    own = build_network(config) if config.model.members == 1 else \
        WhaleEnsemble([build_network(config) for _ in range(config.model.members)])
    if config.model.partner is None:
        return own
    partner = build_model(dataclasses.replace(config, model=config.model.partner_config()))
    weight = config.model.partner_weight
    return WhaleEnsemble([own, partner], weights=(1.0 - weight, weight))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
