"""What training minimises: the reported clip score, plus frames where their truth is known.

The clip term is binary cross-entropy on ``clipwise_output``, the attention-pooled
probability that evaluation, thresholds, prediction and detection all use (PANNs
trains BCE on the same pooled probability it reports). The frame term, weighted by
``TrainConfig.frame_loss_weight``, is BCE on ``framewise_logit`` for the clips whose
calls' onsets and offsets are known (strong labels); clips with clip labels alone
contribute the clip term only. Validation loss is this same function on validation
clips.

Examples
--------
>>> loss = TrainingLoss(frame_weight=1.0)
>>> output = {"clipwise_output": torch.tensor([[0.9, 0.1]]),
...           "framewise_logit": torch.zeros(1, 4, 2)}
>>> round(loss(output, torch.tensor([[1.0, 0.0]])).item(), 4)  # no frame truth: clip term
0.1054
>>> frames = torch.zeros(1, 4, 2)
>>> round(loss(output, torch.tensor([[1.0, 0.0]]), frames, torch.ones(1)).item(), 4)
0.7985
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: probabilities are kept this far from 0 and 1 before the logarithm
EPSILON = 1e-7


def clip_loss(probabilities: torch.Tensor, targets: torch.Tensor, *,
              pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE of clip probabilities, in float32; ``pos_weight`` weighs each class's positives.

    Shapes
    ------
    ``probabilities (batch, classes)``, ``targets (batch, classes)`` -> scalar
    """
    p = probabilities.float().clamp(EPSILON, 1 - EPSILON)
    weight = 1.0 if pos_weight is None else pos_weight
    return -(weight * targets * torch.log(p) + (1 - targets) * torch.log1p(-p)).mean()


def frame_loss(logits: torch.Tensor, frame_targets: torch.Tensor,
               strong: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits over the frames and classes of the clips with strong labels.

    Shapes
    ------
    ``logits (batch, frames, classes)``, ``frame_targets (batch, frames, classes)``,
    ``strong (batch,)`` 0/1 -> scalar (0 when no clip is strong)
    """
    per_clip = F.binary_cross_entropy_with_logits(
        logits.float(), frame_targets, reduction="none").mean(dim=(1, 2))  # (batch,)
    return (per_clip * strong).sum() / strong.sum().clamp(min=1.0)


class TrainingLoss(nn.Module):
    """``clip_loss(clipwise_output) + frame_weight * frame_loss(framewise_logit)``.

    It computes on whatever device its inputs are on (``pos_weight`` follows them), so
    one instance serves training on the GPU and validation figures on the CPU.
    """

    def __init__(self, *, frame_weight: float = 1.0,
                 pos_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.frame_weight, self.pos_weight = frame_weight, pos_weight

    def forward(self, output: dict[str, torch.Tensor], targets: torch.Tensor,
                frame_targets: torch.Tensor | None = None,
                strong: torch.Tensor | None = None) -> torch.Tensor:
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(targets.device)
        loss = clip_loss(output["clipwise_output"], targets, pos_weight=pos_weight)
        if frame_targets is not None and self.frame_weight > 0:
            loss = loss + self.frame_weight * frame_loss(output["framewise_logit"],
                                                         frame_targets, strong)
        return loss
