"""PyTorch against its ONNX export (:mod:`whalelab.export`) on ONNX Runtime, both on the
CPU: eval-mode clips/s on a ``(batch, samples)`` batch of real clips, and detection.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import torch

from whalelab.audio import write_audio
from whalelab.bench.detection import _detection_call
from whalelab.bench.features import _noise
from whalelab.bench.timing import Sizes, median_seconds
from whalelab.bench.training import _model
from whalelab.config import RunConfig
from whalelab.data import ClipDataset


def bench_onnx(config: RunConfig, dataset: ClipDataset, *, sizes: Sizes,
               repeats: int) -> dict[str, Any]:
    """PyTorch against its ONNX export on ONNX Runtime, both on the CPU with the same
    threads: eval-mode clips/s on one batch of real clips, and detection of a recording
    (50 % overlap, taking turns); with the export's time and largest difference."""
    from whalelab.export import OnnxModel, write_onnx

    model = _model(config, torch.device("cpu")).eval()
    count = min(config.train.batch_size, len(dataset))
    waveforms = torch.stack([dataset[i].waveform for i in range(count)])  # (batch, samples)
    rate, clip_seconds = config.features.sample_rate, config.features.clip_seconds
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        export = write_onnx(model, config, Path(folder) / "model.onnx")
        engines = {"torch": model, "onnx": OnnxModel(export.path)}

        def forward(engine: torch.nn.Module) -> None:
            with torch.inference_mode():
                engine(waveforms)

        inference = median_seconds({name: partial(forward, engine)
                                    for name, engine in engines.items()}, repeats=repeats)
        audio = Path(folder) / "detect.wav"
        write_audio(audio, _noise(sizes.detect_seconds, rate), rate)
        detection = median_seconds({name: _detection_call(engine, config, audio,
                                                          hop_s=clip_seconds / 2)
                                    for name, engine in engines.items()},
                                   repeats=sizes.detect_repeats, warmup=0)
    times_real_time = {name: sizes.detect_seconds / seconds
                       for name, seconds in detection.items()}
    return {"batch_size": count, "export_seconds": export.seconds,
            "max_abs_difference": max(export.max_abs_difference.values()),
            "clips_per_s": {name: count / seconds for name, seconds in inference.items()},
            "inference_ratio": inference["torch"] / inference["onnx"],
            "recording_s": sizes.detect_seconds, "times_real_time": times_real_time,
            "detection_ratio": detection["torch"] / detection["onnx"]}
