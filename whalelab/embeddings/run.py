"""The ``run`` embedder: what a trained whalelab run's attention head sees.

The vector of a window is the input of the model's attention block
(:class:`whalelab.model.AttBlock`: the backbone's ``(channels, segments)`` after the
max+avg pooling over neighbouring segments and ``fc1`` with its ReLU), averaged over the
window's segments: ``channels`` numbers, read by a forward pre-hook, so the model runs
once per batch and gives its clipwise scores too. An ensemble's vector is its members'
side by side (``members * channels``). Windows are the run's clip at a half-clip hop,
as prediction cuts them; files are refused by the run's own
:meth:`~whalelab.audio.AudioRule.for_scoring` rule, as prediction and detection refuse
them. The speed factor is 1: a run hears audio at the rate it was trained on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import whalelab
from whalelab.audio import AudioRule
from whalelab.checkpoint import checkpoint_sha256, load_model
from whalelab.embeddings.base import Embedder
from whalelab.model import AttBlock
from whalelab.runtime import autocast


class RunEmbedder(Embedder):
    """A trained run (a run folder or a model file such as ``RUN/best.pt``) as an embedder.

    Parameters
    ----------
    source : path
        The run folder or model file.
    hop_s : float or None
        Seconds between windows; None: half the run's clip.
    device : str
        Where the model runs (``auto``, ``cpu``, ``cuda``).
    low_rate : {"warn", "refuse"} or None
        As prediction's; None follows the run's ``data.low_rate``.
    """

    name = "run"
    version = whalelab.__version__

    def __init__(self, source: str | Path, *, hop_s: float | None = None,
                 device: str = "auto", low_rate: str | None = None) -> None:
        self.trained = load_model(source, device=device)
        config = self.trained.config
        self.sample_rate = config.features.sample_rate
        self.window_s = config.features.clip_samples / self.sample_rate
        self.classes = list(config.classes)
        self.model_sha256 = checkpoint_sha256(source)
        self.low_rate = low_rate
        self._blocks = [module for module in self.trained.model.modules()
                        if isinstance(module, AttBlock)]
        self.dim = sum(block.att.in_channels for block in self._blocks)
        super().__init__(speed=1.0, hop_s=hop_s)

    def rule(self, channel: int | None = None) -> AudioRule:
        return AudioRule.for_scoring(self.trained.config, low_rate=self.low_rate,
                                     channel=channel)

    def embed_and_score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen: list[torch.Tensor] = []

        def keep(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            seen.append(inputs[0].float().mean(dim=2))  # (batch, channels, segments) -> mean

        hooks = [block.register_forward_pre_hook(keep) for block in self._blocks]
        trained = self.trained
        try:
            batch = torch.from_numpy(np.ascontiguousarray(windows)).to(trained.device)
            with torch.inference_mode(), autocast(trained.device, trained.config.train.amp):
                scores = trained.model(batch)["clipwise_output"].float()  # (batch, classes)
        finally:
            for hook in hooks:
                hook.remove()
        return (torch.cat(seen, dim=1).cpu().numpy().astype(np.float32),  # (batch, dim)
                scores.cpu().numpy())

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        return self.embed_and_score(windows)[0]

