"""Every measurement in one run (:func:`run_bench`, ``make bench``), written as JSON, and
the results as a plain-text table (:func:`format_bench`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from whalelab.atomic import write_json
from whalelab.bench.detection import bench_archive, bench_detection
from whalelab.bench.embedding import bench_embedding, bench_embedding_memory
from whalelab.bench.features import bench_features
from whalelab.bench.flops import bench_flops
from whalelab.bench.onnx import bench_onnx
from whalelab.bench.probe import bench_probe_training
from whalelab.bench.timing import Sizes, describe_device
from whalelab.bench.training import bench_ceiling, bench_inference, bench_training, ceiling_shares
from whalelab.config import FeatureConfig, RunConfig, profile_values
from whalelab.data import ClipCache, ClipDataset, ClipIndex, load_index
from whalelab.errors import ConfigError, DataError
from whalelab.runtime import progress_bar, resolve_device


def _training_set(data: str | Path, profile: str, *, device: str, batch_size: int,
                  progress: bool | None) -> tuple[RunConfig, ClipIndex, ClipDataset]:
    """The profile's configuration for ``data``, its clips, and its train split decoded
    into memory as :func:`whalelab.training.train` reads it (:meth:`ClipDataset.for_run`)."""
    _, values = profile_values(profile, data=data, device=device)
    index = load_index(data, window_s=FeatureConfig(**values["features"]).clip_seconds)
    train_index = index.subset("train")
    if len(train_index) == 0:
        raise DataError(f"{data}: the benchmark needs clips in the train split")
    config = RunConfig.from_profile(profile, data=str(data), classes=train_index.classes,
                                    device=device, batch_size=batch_size)
    dataset = ClipDataset.for_run(train_index, config, train=True, cache=ClipCache())
    dataset.preload(progress=progress)
    return config, index, dataset


def run_bench(*, data: str | Path, profile: str = "quick", device: str = "auto",
              out: str | Path | None = None, repeats: int = 5, sizes: Sizes = Sizes(),
              threads: int | None = None, progress: bool | None = None) -> dict[str, Any]:
    """Run every measurement and write them as JSON to ``out`` (atomically) when given.

    Parameters
    ----------
    data : path
        A data set :func:`whalelab.data.load_index` reads (its train split feeds the
        training pipeline); the synthetic set by default in ``make bench``.
    profile : str
        ``smoke | quick | full | auto``: batch size, clip length, features, AMP.
    device : str
        ``auto | cpu | cuda``; features are also timed on the CPU for the comparison.
    out : path or None
        Where to write the results (``reports/bench.json`` in ``make bench``).
    repeats : int
        Timed repetitions of the feature and inference measurements (median reported).
    sizes : Sizes
        How much audio and how many steps; :data:`QUICK_SIZES` for a seconds-long run.
    threads : int or None
        Set torch's CPU threads (for this process, from here on); None keeps them.
    progress : bool or None
        Progress bars; None shows them only on a terminal.

    Returns
    -------
    dict
        ``device``, ``settings`` (with each stage's seconds), ``features``, ``training``,
        ``inference``, ``detection``, ``archive`` (many recordings at once against one
        at a time), ``ceiling`` (the bare model at its best, and each stage's share of
        it), ``onnx`` (PyTorch against ONNX Runtime, on the CPU whatever
        ``device``), ``embedding`` (the pretrained embedder's windows/s and times real
        time, on the CPU), ``embedding_memory`` (its peak memory for a short and a long
        recording and per batch size), ``probe_training`` (the probe's training time, cold
        and warm cache, against the profile's network on the same few clips), ``flops``.
    """
    started = time.perf_counter()
    where = resolve_device(device)
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, not {threads}")
        torch.set_num_threads(threads)
    config, index, dataset = _training_set(data, profile, device=device,
                                           batch_size=sizes.batch_size, progress=progress)
    results: dict[str, Any] = {
        "device": describe_device(where),
        "settings": {"profile": config.profile, "data": str(data), "repeats": repeats,
                     "sizes": dataclasses.asdict(sizes), "stage_seconds": {}}}
    measurements: dict[str, Callable[[], dict[str, Any]]] = {
        "features": lambda: bench_features(config.features, seconds=sizes.feature_seconds,
                                           batch_size=config.train.batch_size, device=where,
                                           repeats=repeats),
        "training": lambda: bench_training(config, dataset, device=where,
                                           warmup=sizes.train_warmup, steps=sizes.train_steps),
        "inference": lambda: bench_inference(config, dataset, device=where,
                                             batches=sizes.inference_batches),
        "detection": lambda: bench_detection(config, device=where, sizes=sizes,
                                             progress=progress),
        "archive": lambda: bench_archive(config, device=where, sizes=sizes),
        "ceiling": lambda: bench_ceiling(config, device=where, sizes=sizes),
        "onnx": lambda: bench_onnx(config, dataset, sizes=sizes, repeats=repeats),
        "embedding": lambda: bench_embedding(sizes=sizes, repeats=repeats),
        "embedding_memory": lambda: bench_embedding_memory(sizes=sizes),
        "probe_training": lambda: bench_probe_training(config, index, sizes=sizes),
        "flops": lambda: bench_flops(
            config, device=where, inference_clips_per_s=results["inference"]["clips_per_s"],
            training_clips_per_s=results["training"]["pipeline_clips_per_s"]),
    }
    for name, measure in progress_bar(measurements.items(), progress=progress, desc="bench"):
        stage_started = time.perf_counter()
        results[name] = measure()
        results["settings"]["stage_seconds"][name] = time.perf_counter() - stage_started
    results["ceiling"]["shares"] = ceiling_shares(results)
    results["settings"]["seconds"] = time.perf_counter() - started
    if out is not None:
        write_json(out, results)
    return results


# ------------------------------------------------------------------------------ table


def _duration(seconds: float) -> str:
    """``'2 h'``, ``'10 min'`` or ``'20 s'``.

    Examples
    --------
    >>> _duration(7200), _duration(600), _duration(20)
    ('2 h', '10 min', '20 s')
    """
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _embedding_lines(embedding: dict[str, Any]) -> str:
    """Section 7 of the table: the pretrained embedder's speed, or why it was not timed."""
    if not embedding["installed"]:
        return f"7. pretrained embedder: not timed ({embedding['reason']})"
    speeds = ", ".join(f"speed {speed}: {rate:.0f}x" for speed, rate
                       in embedding["times_real_time"].items())
    return (f"7. {embedding['model']} embeddings on the CPU (model licence "
            f"{embedding['licence']}), batch {embedding['batch_size']}: "
            f"{embedding['windows_per_s']:.1f} windows/s\n   a recording at a "
            f"{embedding['hop_s']:g} s hop: {speeds} real time")


def _embedding_memory_lines(memory: dict[str, Any]) -> str:
    """Section 7, continued: the embedder's peak memory by recording length and by batch."""
    if not memory["installed"]:
        return f"   memory: not measured ({memory['reason']})"
    batches = ", ".join(f"{row['batch_size']}: {row['peak_rss_mb']:.0f} MiB "
                        f"({row['windows_per_s']:.1f} windows/s)" for row in memory["batches"])
    return (f"   peak RSS embedding {_duration(memory['short_recording_s'])}: "
            f"{memory['short_peak_rss_mb']:.0f} MiB, {_duration(memory['long_recording_s'])}: "
            f"{memory['long_peak_rss_mb']:.0f} MiB (ratio {memory['ratio']:.2f}, growth "
            f"{memory['growth_mb']:+.0f} MiB; fresh process each, {memory['long_windows']} "
            f"windows at a {memory['hop_s']:g} s hop, batch {memory['batch_size']}, "
            f"{memory['long_times_real_time']:.0f}x real time)\n"
            f"   peak RSS of one batch: {batches}")


def _seconds(row: dict[str, Any]) -> str:
    """``'12.3 s (epochs 5.0, 4.9 s)'``: a training's total and each epoch's seconds."""
    epochs = ", ".join(f"{seconds:.1f}" for seconds in row["epoch_s"])
    return f"{row['total_s']:.1f} s (epochs {epochs} s)"


def _probe_lines(probe: dict[str, Any]) -> str:
    """Section 8 of the table: the probe's training time against the network's."""
    if not probe["installed"]:
        return f"8. probe training: not timed ({probe['reason']})"
    network, ratios = probe["network"]["backbone"], probe["ratios"]
    return (f"8. training, whole runs of {probe['epochs']} epochs on the same "
            f"{probe['clips']['train']} train / {probe['clips']['val']} val clips, batch "
            f"{probe['batch_size']}: the probe (BirdNET embeddings, speed {probe['speed']:g}, "
            f"a window every {probe['embed_hop_s']:g} s) against {network}\n"
            f"   probe, cold cache {_seconds(probe['probe_cold'])}   warm cache "
            f"{_seconds(probe['probe_warm'])}   {network} {_seconds(probe['network'])}\n"
            f"   {network} s / probe s: {ratios['total_cold']:.2f} (cold), "
            f"{ratios['total_warm']:.2f} (warm), per epoch {ratios['epoch_warm']:.2f} (warm)")


def format_bench(results: dict[str, Any]) -> str:
    """The results of :func:`run_bench` as a plain-text table that names the device."""
    device, settings, features = results["device"], results["settings"], results["features"]
    training, inference = results["training"], results["inference"]
    detection, flops, onnx = results["detection"], results["flops"], results["onnx"]
    archive, ceiling = results["archive"], results["ceiling"]
    memory = detection["memory"]
    lines = [f"whalelab bench on {device['gpu'] or device['cpu']} ({device['type']}; CPU "
             f"{device['cpu']}, {device['torch_threads']} torch threads; torch "
             f"{device['torch']}, librosa {device['librosa']})",
             f"profile {settings['profile']}; each figure the median of {settings['repeats']} "
             f"after warm-up unless stated",
             "",
             f"1. log-mel of {_duration(features['audio_seconds'])} of {features['sample_rate']}"
             f" Hz audio (n_fft {features['n_fft']}, hop {features['hop_length']}, "
             f"{features['n_mels']} mels; ratio = librosa s / whalelab s)"]
    for layout, row in features["layouts"].items():
        text = (f"   {layout:<12} librosa {row['librosa_cpu_s']:7.3f} s   whalelab cpu "
                f"{row['whalelab_cpu_s']:7.3f} s   ratio {row['ratio_cpu']:5.2f}")
        if "whalelab_cuda_s" in row:
            text += (f"   whalelab cuda {row['whalelab_cuda_s']:.4f} s   "
                     f"ratio {row['ratio_cuda']:.0f}")
        lines.append(text)
    lines += [
        "",
        f"2. training step, batch {training['batch_size']} x {training['clip_seconds']:g} s "
        f"(amp {training['amp']}, channels_last {training['channels_last']}; median of "
        f"{training['timed_steps']} after {training['warmup_steps']})",
        f"   pipeline {training['pipeline_clips_per_s']:7.2f} clips/s   bare model "
        f"{training['bare_clips_per_s']:7.2f} clips/s   pipeline/bare {training['ratio']:.2f}"
        f"   waiting for data {training['data_wait_s'] * 1000:.1f} ms of a "
        f"{training['step_s']:.2f} s step",
        "",
        f"3. inference, batch {inference['batch_size']}: {inference['clips_per_s']:.2f} clips/s",
        f"   detection of {_duration(detection['recording_s'])}, {detection['overlap']:.0%} "
        f"overlap: {detection['seconds']:.1f} s = {detection['times_real_time']:.0f}x real time",
        f"   peak RSS {memory['short_peak_rss_mb']:.0f} MiB for "
        f"{_duration(memory['short_recording_s'])}, {memory['long_peak_rss_mb']:.0f} MiB for "
        f"{_duration(memory['long_recording_s'])}: growth {memory['growth_mb']:+.0f} MiB "
        f"(fresh process each, no overlap, {memory['long_times_real_time']:.0f}x real time)",
        f"   {archive['recordings']} recordings of {_duration(archive['recording_s'])} in "
        f"one call ({archive['workers']} reading threads, windows of consecutive files in "
        f"shared batches): {archive['archive_times_real_time']:.0f}x real time; one file at a "
        f"time {archive['one_file_times_real_time']:.0f}x; events identical: "
        f"{'yes' if archive['identical_events'] else 'NO'} ({archive['events']} events)",
        "",
        f"4. the ceiling: the bare model ({'compiled' if ceiling['compiled'] else 'eager'}, "
        f"amp {ceiling['amp']}) on batches already on the device, at batch "
        + ", ".join(str(row["batch_size"]) for row in ceiling["batches"]),
        f"   training {ceiling['train_clips_per_s']:.2f} clips/s (batch "
        f"{ceiling['train_batch_size']})   inference {ceiling['inference_clips_per_s']:.2f} "
        f"clips/s (batch {ceiling['inference_batch_size']})",
        "   shares of it: " + ", ".join(f"{name.replace('_', ' ')} {share:.0%}"
                                        for name, share in ceiling["shares"].items()),
        "",
        f"5. ONNX Runtime against PyTorch on the CPU ({onnx['max_abs_difference']:.1e} largest "
        f"output difference; export {onnx['export_seconds']:.0f} s; ratio = PyTorch s / ONNX s)",
        f"   inference, batch {onnx['batch_size']}: PyTorch {onnx['clips_per_s']['torch']:.2f} "
        f"clips/s   ONNX Runtime {onnx['clips_per_s']['onnx']:.2f} clips/s   ratio "
        f"{onnx['inference_ratio']:.2f}",
        f"   detection of {_duration(onnx['recording_s'])}, 50% overlap: PyTorch "
        f"{onnx['times_real_time']['torch']:.0f}x real time   ONNX Runtime "
        f"{onnx['times_real_time']['onnx']:.0f}x   ratio {onnx['detection_ratio']:.2f}",
        "",
        f"6. FLOPs per clip at input {tuple(flops['input'])}: DenseNet121 "
        f"{flops['densenet121_per_clip'] / 1e9:.2f} G, whole model forward "
        f"{flops['model_forward_per_clip'] / 1e9:.2f} G, training step "
        f"{flops['train_step_per_clip'] / 1e9:.2f} G",
        f"   achieved: inference {flops['inference_flops_per_s'] / 1e9:.1f} GFLOP/s, training "
        f"{flops['training_flops_per_s'] / 1e9:.1f} GFLOP/s = "
        f"{flops['inference_fraction_of_matmul']:.0%} and "
        f"{flops['training_fraction_of_matmul']:.0%} of a 2048^2 matmul's "
        f"{flops['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s",
        "",
        _embedding_lines(results["embedding"]),
        _embedding_memory_lines(results["embedding_memory"]),
        "",
        _probe_lines(results["probe_training"]),
        "",
        "stages: " + ", ".join(f"{name} {seconds:.0f} s"
                               for name, seconds in settings["stage_seconds"].items())
        + f"; total {settings['seconds']:.0f} s"]
    return "\n".join(lines)
