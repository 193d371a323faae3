"""Detection speed: a long recording as ``whalelab detect`` runs it (times real time), its
peak memory as the recording grows (each in a fresh process), and a folder of recordings
in one call against one file at a time.

Recordings are ``(samples,)`` float32 ocean noise written to WAV files; windows go to the
model as ``(batch, samples)`` waveforms.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from whalelab.audio import write_audio
from whalelab.bench.features import _noise
from whalelab.bench.timing import Sizes, _synchronizer, in_child, median_seconds, peak_rss_mb
from whalelab.bench.training import _model
from whalelab.checkpoint import TrainedModel, model_file_state, save_checkpoint, write_classes
from whalelab.config import RunConfig
from whalelab.raven import read_raven
from whalelab.runtime import autocast, progress_bar


def _detection_call(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                    hop_s: float) -> Callable[[], object]:
    """:func:`whalelab.detection.detect_recording` of ``path`` with the run's settings at
    ``hop_s``, ready to time. Every class gets the whole spectrum as its band: the
    contrast costs the same whatever the bands."""
    from whalelab.detection import detect_recording

    bands = {name: (config.features.fmin, config.features.fmax) for name in config.classes}
    trained = TrainedModel(model=model, config=config, bands=bands,
                           thresholds=np.full(len(config.classes), 0.5), source=Path(path))
    return partial(detect_recording, trained, path,
                   settings=dataclasses.replace(config.detect, hop_s=hop_s),
                   batch_size=config.train.batch_size, progress=False)


def detection_seconds(model: torch.nn.Module, config: RunConfig, path: str | Path, *,
                      hop_s: float, repeats: int = 1) -> float:
    """Median seconds of :func:`whalelab.detection.detect_recording` on ``path``."""
    device = next(model.parameters()).device
    return median_seconds({"detect": _detection_call(model, config, path, hop_s=hop_s)},
                          repeats=repeats, warmup=0,
                          synchronize=_synchronizer(device))["detect"]


def _memory_child(arguments: str) -> None:
    """Child process of :func:`bench_detection`: one recording, JSON on stdout."""
    options = json.loads(arguments)
    torch.set_num_threads(options["threads"])
    config = RunConfig.load(options["config"])
    model = _model(config, torch.device(options["device"])).eval()
    seconds = detection_seconds(model, config, options["path"], hop_s=options["hop_s"])
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def bench_detection(config: RunConfig, *, device: torch.device, sizes: Sizes,
                    progress: bool | None = None) -> dict[str, Any]:
    """Detection speed (50 % overlap, warm model) and peak memory as the recording grows.

    The memory runs (no overlap, to keep them short) each take a fresh process
    (:func:`~whalelab.bench.timing.in_child`), so that the peak belongs to that recording
    alone.
    """
    rate, clip_seconds = config.features.sample_rate, config.features.clip_seconds
    model = _model(config, device).eval()
    memory = []
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        audio = Path(folder) / "detect.wav"
        write_audio(audio, _noise(sizes.detect_seconds, rate), rate)
        with torch.inference_mode(), autocast(device, config.train.amp):
            model(torch.zeros(1, config.features.clip_samples, device=device))  # warm-up
        seconds = detection_seconds(model, config, audio, hop_s=clip_seconds / 2,
                                    repeats=sizes.detect_repeats)
        config_path = Path(folder) / "config.json"
        config.save(config_path)
        for length in progress_bar(sizes.memory_seconds, progress=progress, desc="memory",
                                   leave=False):
            write_audio(audio, _noise(length, rate), rate)
            memory.append(in_child("whalelab.bench.detection:_memory_child", {
                "config": str(config_path), "path": str(audio), "device": str(device),
                "hop_s": clip_seconds, "threads": torch.get_num_threads()}))
    (short_s, long_s), (short, long) = sizes.memory_seconds, memory
    return {"recording_s": sizes.detect_seconds, "overlap": 0.5, "hop_s": clip_seconds / 2,
            "batch_size": config.train.batch_size, "repeats": sizes.detect_repeats,
            "seconds": seconds, "times_real_time": sizes.detect_seconds / seconds,
            "memory": {"overlap": 0.0, "short_recording_s": short_s, "long_recording_s": long_s,
                       "short_peak_rss_mb": short["peak_rss_mb"],
                       "long_peak_rss_mb": long["peak_rss_mb"],
                       "growth_mb": long["peak_rss_mb"] - short["peak_rss_mb"],
                       "long_times_real_time": long_s / long["seconds"]}}


def bench_archive(config: RunConfig, *, device: torch.device, sizes: Sizes) -> dict[str, Any]:
    """Detection over a folder of recordings as ``whalelab detect`` runs it (windows of
    consecutive files sharing batches,
    :func:`whalelab.detection.streaming.default_workers` threads reading ahead) against
    the one-file path (:func:`whalelab.detection.detect_recording`, each file alone):
    times real time, and whether every file's events are the same."""
    from whalelab.detection import TABLE_SUFFIX, detect_files, detect_recording
    from whalelab.detection.streaming import default_workers

    model = _model(config, device).eval()
    rate, batch_size = config.features.sample_rate, config.train.batch_size
    bands = {name: (config.features.fmin, config.features.fmax) for name in config.classes}
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        root = Path(folder)
        run = root / "run"
        config.save(run / "config.json")
        write_classes(run, config.classes, bands)
        save_checkpoint(run / "best.pt", model_file_state(model, config, bands=bands,
                                                          thresholds=None, epoch=0))
        recordings = []
        for number in range(sizes.archive_files):
            path = root / "archive" / f"recording_{number:03d}.wav"
            write_audio(path, _noise(sizes.archive_seconds, rate) * (1 + number % 3), rate)
            recordings.append(path)
        synchronize = _synchronizer(device)
        started = time.perf_counter()
        trained = TrainedModel(model=model, config=config, bands=bands,
                               thresholds=np.full(len(config.classes), 0.5), source=run)
        alone = {path.stem: detect_recording(trained, path, batch_size=batch_size,
                                             progress=False).events
                 for path in recordings}
        synchronize()
        alone_s = time.perf_counter() - started
        started = time.perf_counter()
        detect_files(run, [root / "archive"], root / "out", batch_size=batch_size,
                     device=str(device), progress=False)
        synchronize()
        archive_s = time.perf_counter() - started
        tables = root / "out" / "archive"  # a folder's tables go under its name
        same = all(np.allclose(read_raven(tables / f"{stem}{TABLE_SUFFIX}")[
            ["begin_s", "end_s", "score"]].to_numpy(float), events[
            ["begin_s", "end_s", "score"]].to_numpy(float), atol=1e-4) and list(
            read_raven(tables / f"{stem}{TABLE_SUFFIX}")["label"]) == list(events["label"])
            for stem, events in alone.items())
    audio_s = sizes.archive_files * sizes.archive_seconds
    return {"recordings": sizes.archive_files, "recording_s": sizes.archive_seconds,
            "batch_size": batch_size, "workers": default_workers(device),
            "events": int(sum(len(events) for events in alone.values())),
            "identical_events": bool(same), "one_file_times_real_time": audio_s / alone_s,
            "archive_times_real_time": audio_s / archive_s}
