"""Clip-level probabilities for audio files, window by window.

A file shorter than the run's clip length is centred in one zero-padded window; a
longer one is cut into windows of the clip length with 50 % overlap (the last window
ends at the file's end). Each class's score for the file is its largest window score:
the probability that the call is somewhere in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from whalelab.audio import load_audio
from whalelab.checkpoint import load_model
from whalelab.clip_metrics import BACKGROUND, single_label
from whalelab.runtime import autocast, progress_bar


def clip_windows(waveform: np.ndarray, samples: int, *, hop: int) -> np.ndarray:
    """Cut ``(n,)`` into ``(windows, samples)``: centred padding if short, else overlapping.

    Examples
    --------
    >>> clip_windows(np.arange(10.0), 4, hop=2)[:, 0]
    array([0., 2., 4., 6.])
    >>> clip_windows(np.ones(2), 4, hop=2)
    array([[0., 1., 1., 0.]])
    """
    if len(waveform) <= samples:
        left = (samples - len(waveform)) // 2
        return np.pad(waveform, (left, samples - len(waveform) - left))[None]
    starts = list(range(0, len(waveform) - samples + 1, hop))
    if starts[-1] + samples < len(waveform):
        starts.append(len(waveform) - samples)
    return np.stack([waveform[start:start + samples] for start in starts])


@torch.no_grad()
def predict_files(model_source: str | Path, files: list[str | Path], *, device: str = "auto",
                  batch_size: int = 32, progress: bool | None = None) -> pd.DataFrame:
    """One row per file: duration, windows, the top class (or background) and each class's score.

    Parameters
    ----------
    model_source : path
        A trained run folder or a model file (``RUN/best.pt``), which works alone.
    files : list of paths
        Audio files of any supported format, rate and channel count.
    """
    trained = load_model(model_source, device=device)
    model, config, thresholds = trained.model, trained.config, trained.thresholds
    torch_device = trained.device
    features = config.features
    rows = []
    for path in progress_bar(files, progress=progress, desc="predict"):
        waveform = load_audio(path, features.sample_rate)
        windows = torch.from_numpy(clip_windows(waveform, features.clip_samples,
                                                hop=features.clip_samples // 2))
        scores = []
        for batch in windows.split(batch_size):
            with autocast(torch_device, config.train.amp):
                scores.append(model(batch.to(torch_device))["clipwise_output"].float().cpu())
        file_scores = torch.cat(scores).amax(dim=0).numpy()  # (classes,)
        top = single_label(file_scores[None], thresholds)[0]
        rows.append({"file": str(path), "duration_s": len(waveform) / features.sample_rate,
                     "windows": len(windows),
                     "top_class": config.classes[top] if top < len(config.classes) else BACKGROUND,
                     **dict(zip(config.classes, map(float, file_scores), strict=True))})
    return pd.DataFrame(rows)
