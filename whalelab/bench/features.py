"""The log-mel benchmark: whalelab's front end against librosa on the same audio.

One long ``(1, samples)`` signal and ``(batch, samples)`` batches of clips, timed on the
CPU (and on CUDA for whalelab when there is one); see :mod:`whalelab.bench`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import librosa
import numpy as np
import torch

from whalelab.bench.timing import _synchronizer, median_seconds
from whalelab.config import FeatureConfig
from whalelab.features import logmel_pipeline
from whalelab.synth import ocean_noise


def _noise(seconds: float, sample_rate: int) -> np.ndarray:
    """``(samples,)`` float32 ocean noise at a safe level: a 10-min piece repeated."""
    samples = int(round(seconds * sample_rate))
    piece = 0.1 * ocean_noise(np.random.default_rng(0), min(samples, 600 * sample_rate),
                              sample_rate)
    return np.resize(piece, samples)


def _librosa_logmel(features: FeatureConfig) -> Callable[[np.ndarray], np.ndarray]:
    """librosa's log-mel with ``features``' parameters: ``(..., samples)`` float32 to
    ``(..., mel, time)`` dB."""
    def logmel(samples: np.ndarray) -> np.ndarray:  # (..., samples) -> (..., mel, time)
        mel = librosa.feature.melspectrogram(
            y=samples, sr=features.sample_rate, n_fft=features.n_fft,
            hop_length=features.hop_length, win_length=features.win_length, center=True,
            pad_mode="reflect", power=2.0, n_mels=features.n_mels, fmin=features.fmin,
            fmax=features.fmax, htk=features.htk)
        return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=features.top_db)
    return logmel


def _whalelab_logmel(features: FeatureConfig, device: torch.device
                     ) -> Callable[[torch.Tensor], torch.Tensor]:
    """whalelab's log-mel on ``device`` in inference mode: ``(batch, samples)`` to
    ``(batch, 1, time, mel)``."""
    logmel = logmel_pipeline(features).to(device)

    def run(waveform: torch.Tensor) -> torch.Tensor:  # (batch, samples) -> (batch, 1, time, mel)
        with torch.inference_mode():
            return logmel(waveform)
    return run


def bench_features(features: FeatureConfig, *, seconds: float, batch_size: int,
                   device: torch.device, repeats: int) -> dict[str, Any]:
    """librosa vs whalelab log-mel on ``seconds`` of audio, in two layouts (see the module)."""
    audio = _noise(seconds, features.sample_rate)
    clips = audio[:len(audio) // features.clip_samples * features.clip_samples]
    clips = clips.reshape(-1, features.clip_samples)  # (clips, samples)
    layouts = {"long_signal": [audio[None]],
               f"clips_{batch_size}": [clips[i:i + batch_size]
                                       for i in range(0, len(clips), batch_size)]}
    reference = _librosa_logmel(features)
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])
    results: dict[str, Any] = {
        "audio_seconds": len(audio) / features.sample_rate, "sample_rate": features.sample_rate,
        "n_fft": features.n_fft, "hop_length": features.hop_length, "n_mels": features.n_mels,
        "fmin": features.fmin, "fmax": features.fmax, "top_db": features.top_db,
        "layouts": {}}
    for layout, batches in layouts.items():
        candidates: dict[str, Callable[[], object]] = {
            "librosa_cpu": lambda batches=batches: [reference(batch) for batch in batches]}
        for where in devices:
            ours = _whalelab_logmel(features, where)
            tensors = [torch.from_numpy(batch).to(where) for batch in batches]
            candidates[f"whalelab_{where.type}"] = \
                lambda ours=ours, tensors=tensors: [ours(batch) for batch in tensors]
        medians = median_seconds(candidates, repeats=repeats, synchronize=_synchronizer(device))
        row = {f"{name}_s": value for name, value in medians.items()}
        for where in devices:
            row[f"ratio_{where.type}"] = medians["librosa_cpu"] / medians[f"whalelab_{where.type}"]
        results["layouts"][layout] = row
    return results
