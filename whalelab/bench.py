"""``make bench``: measured speed, side by side with what people would use instead.

One run on one machine measures, each candidate warm and several times (median):

1. **features** -- whalelab's :class:`~whalelab.features.Spectrogram` +
   :class:`~whalelab.features.LogmelFilterBank` against ``librosa.feature.melspectrogram``
   (``pad_mode="reflect"``, the same parameters) + ``librosa.power_to_db`` on the same hour
   of 8 kHz audio, laid out two ways: one long signal, and 5-s clips in batches of the
   profile's batch size (as the model sees them; librosa then clips ``top_db`` against
   each batch's peak, whalelab against each clip's -- the same amount of work). Ratio
   = librosa seconds / whalelab seconds; on CUDA too when there is one.
2. **training** -- clips/s of the whole training step through the real data pipeline
   (:class:`~whalelab.data.ClipDataset` over the train split with a preloaded
   :class:`~whalelab.data.ClipCache`, a DataLoader as :mod:`whalelab.training` builds it)
   against the bare step on a batch already in memory; steps of the two alternate so
   that a change in the machine's load hits both alike.
3. **inference** -- clips/s in eval mode, detection speed as a multiple of real time on a
   long recording (:func:`whalelab.detection.detect_recording`, what ``whalelab detect``
   runs for each file: scores, band contrast, gaps and events, 50 % overlap), and
   peak memory for a 10-min and a 2-h recording, each in a fresh process; and a folder
   of recordings detected in one call (windows of consecutive files sharing batches)
   against one file at a time, with whether their events are the same.
4. **ceiling** -- the bare model (compiled on CUDA) on batches already on the device,
   at batch sizes doubling until memory runs out: the practical ceiling, and each stage
   above as a share of it.
5. **onnx** -- the same model exported to ONNX (:mod:`whalelab.export`) on ONNX Runtime
   against PyTorch, both on the CPU with the same threads: clips/s in eval mode and
   detection speed (``whalelab detect --engine onnx``), with the export's largest
   output difference.
6. **flops** -- DenseNet121 and whole-model FLOPs per clip (counted by
   :class:`torch.utils.flop_counter.FlopCounterMode`), the FLOP/s the measurements above
   achieve, and a large matrix product's FLOP/s as the practical ceiling.

Examples
--------
>>> median_seconds({"noop": lambda: None}, repeats=3)["noop"] >= 0
True
"""

from __future__ import annotations

import dataclasses
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from whalelab.atomic import write_json
from whalelab.audio import write_audio
from whalelab.checkpoint import TrainedModel, model_file_state, save_checkpoint, write_classes
from whalelab.config import FeatureConfig, RunConfig, profile_values
from whalelab.data import ClipCache, ClipDataset, load_index
from whalelab.errors import ConfigError, DataError
from whalelab.features import logmel_pipeline
from whalelab.losses import TrainingLoss
from whalelab.raven import read_raven
from whalelab.model import build_model, build_network
from whalelab.runtime import autocast, inference_autocast, progress_bar, resolve_device
from whalelab.synth import ocean_noise
from whalelab.training import make_optimizer, train_step


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each measurement does; the defaults are the real benchmark, tests shrink them."""

    feature_seconds: float = 3600.0        # audio for the log-mel comparison
    train_warmup: int = 3                  # training steps before timing (each candidate)
    train_steps: int = 5                   # timed training steps (each candidate)
    inference_batches: int = 5             # timed eval batches
    detect_seconds: float = 600.0          # recording for detection speed (50 % overlap)
    detect_repeats: int = 3                # timed detection runs (the model is warm)
    memory_seconds: tuple[float, float] = (600.0, 7200.0)  # recordings for peak memory
    archive_files: int = 20                # recordings of the archive detection
    archive_seconds: float = 60.0          # length of each of them
    ceiling_batches: tuple[int, ...] = ()  # batch sizes for the ceiling; () doubles (CUDA)
    batch_size: int | None = None          # None: the profile's


#: a seconds-long run for tests and trying the command out
QUICK_SIZES = Sizes(feature_seconds=10.0, train_warmup=1, train_steps=1, inference_batches=1,
                    detect_seconds=10.0, detect_repeats=1, memory_seconds=(10.0, 20.0),
                    archive_files=3, archive_seconds=7.0, ceiling_batches=(2,),
                    batch_size=2)
#: the largest batch the ceiling tries on CUDA (doubling from the profile's until memory
#: runs out or this is passed)
CEILING_MAX_BATCH = 1024


# ------------------------------------------------------------------------------- timing


def _synchronizer(device: torch.device) -> Callable[[], None]:
    """Waits for queued GPU work (CUDA kernels run asynchronously); nothing to wait for on CPU."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def time_candidates(candidates: dict[str, Callable[[], object]], *, repeats: int = 5,
                    warmup: int = 1, synchronize: Callable[[], None] = lambda: None
                    ) -> dict[str, list[float]]:
    """Seconds of each call of each candidate, after ``warmup`` untimed calls of each.

    The candidates take turns (a, b, a, b, ...), so that a change in the machine's load
    during the measurement falls on all of them alike. ``synchronize`` runs before each
    clock reading (pass ``torch.cuda.synchronize`` for GPU work).

    Examples
    --------
    >>> times = time_candidates({"a": lambda: None}, repeats=2, warmup=0)
    >>> len(times["a"])
    2
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, not {repeats}")
    if warmup < 0:
        raise ConfigError(f"warmup must be at least 0, not {warmup}")
    for _ in range(warmup):
        for candidate in candidates.values():
            candidate()
    synchronize()
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, candidate in candidates.items():
            started = time.perf_counter()
            candidate()
            synchronize()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def median_seconds(candidates: dict[str, Callable[[], object]], *, repeats: int = 5,
                   warmup: int = 1, synchronize: Callable[[], None] = lambda: None
                   ) -> dict[str, float]:
    """Median seconds per call of each candidate (see :func:`time_candidates`)."""
    return {name: statistics.median(values) for name, values in time_candidates(
        candidates, repeats=repeats, warmup=warmup, synchronize=synchronize).items()}


# ------------------------------------------------------------------------------ machine


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_device(device: torch.device) -> dict[str, Any]:
    """What the measurements ran on."""
    return {"type": device.type, "cpu": cpu_model(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "torch": torch.__version__, "librosa": librosa.__version__}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the peak of this program's own memory.
    ``ru_maxrss`` is no good there for a child process: the kernel carries the peak of the
    parent's image it was forked from across ``exec``, so every child would report at
    least the parent's size. Elsewhere ``ru_maxrss`` (bytes on macOS, KiB otherwise).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024


# ---------------------------------------------------------------------------- features


def _noise(seconds: float, sample_rate: int) -> np.ndarray:
    """``(samples,)`` float32 ocean noise at a safe level: a 10-min piece repeated."""
    samples = int(round(seconds * sample_rate))
    piece = 0.1 * ocean_noise(np.random.default_rng(0), min(samples, 600 * sample_rate),
                              sample_rate)
    return np.resize(piece, samples)


def _librosa_logmel(features: FeatureConfig) -> Callable[[np.ndarray], np.ndarray]:
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


# ---------------------------------------------------------------------------- training


def _batches(dataset: ClipDataset, config: RunConfig, device: torch.device
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches as :func:`whalelab.training.train` loads them, epoch after epoch."""
    settings = config.train
    drop_last = len(dataset) > settings.batch_size
    epoch = 0
    while True:
        generator = torch.Generator().manual_seed(settings.seed + epoch)
        yield from DataLoader(dataset, batch_size=settings.batch_size, shuffle=True,
                              generator=generator, drop_last=drop_last,
                              num_workers=settings.num_workers,
                              pin_memory=device.type == "cuda", persistent_workers=False)
        epoch += 1


def _model(config: RunConfig, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(config.train.seed)
    return build_model(config).to(device)


def bench_training(config: RunConfig, dataset: ClipDataset, *, device: torch.device,
                   warmup: int, steps: int) -> dict[str, Any]:
    """Clips/s of the training step through the data pipeline and on an in-memory batch."""
    settings = config.train
    amp = settings.amp and device.type == "cuda"
    synchronize = _synchronizer(device)
    model = _model(config, device).train()
    optimizer = make_optimizer(model, settings, device)
    loss_function = TrainingLoss(frame_weight=settings.frame_loss_weight)
    batches = _batches(dataset, config, device)
    fixed = next(batches)
    waits: list[float] = []

    def pipeline() -> None:
        started = time.perf_counter()
        batch = next(batches)
        waits.append(time.perf_counter() - started)
        train_step(model, optimizer, loss_function, batch, device=device, amp=amp)

    def bare() -> None:
        train_step(model, optimizer, loss_function, fixed, device=device, amp=amp)

    medians = median_seconds({"pipeline": pipeline, "bare": bare}, repeats=steps,
                             warmup=warmup, synchronize=synchronize)
    batch = len(fixed[0])
    return {"batch_size": batch, "clip_seconds": config.features.clip_seconds,
            "train_clips": len(dataset), "num_workers": settings.num_workers, "amp": amp,
            "channels_last": True, "warmup_steps": warmup, "timed_steps": steps,
            "pipeline_clips_per_s": batch / medians["pipeline"],
            "bare_clips_per_s": batch / medians["bare"],
            "ratio": medians["bare"] / medians["pipeline"],
            "data_wait_s": statistics.median(waits[warmup:]),
            "step_s": medians["bare"]}


# --------------------------------------------------------------------------- inference


def bench_inference(config: RunConfig, dataset: ClipDataset, *, device: torch.device,
                    batches: int) -> dict[str, Any]:
    """Eval-mode clips/s on one batch of real clips."""
    model = _model(config, device).eval()
    count = min(config.train.batch_size, len(dataset))
    waveforms = torch.stack([dataset[i].waveform for i in range(count)]).to(device)

    def forward() -> None:
        with torch.inference_mode(), inference_autocast(device, config.train.amp):
            model(waveforms)

    seconds = median_seconds({"forward": forward}, repeats=batches,
                             synchronize=_synchronizer(device))["forward"]
    return {"batch_size": count, "amp": config.train.amp and device.type == "cuda",
            "clips_per_s": count / seconds}


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


def _ceiling_batches(config: RunConfig, device: torch.device, sizes: Sizes) -> list[int]:
    """The batch sizes the ceiling tries: :attr:`Sizes.ceiling_batches`, else on CUDA the
    profile's doubled up to :data:`CEILING_MAX_BATCH`, on the CPU the profile's alone."""
    if sizes.ceiling_batches:
        return list(sizes.ceiling_batches)
    batches = [config.train.batch_size]
    while device.type == "cuda" and batches[-1] * 2 <= CEILING_MAX_BATCH:
        batches.append(batches[-1] * 2)
    return batches


def _ceiling_row(config: RunConfig, *, device: torch.device, batch: int, sizes: Sizes,
                 compiled: bool, amp: bool) -> dict[str, Any]:
    """Training step and eval forward of the bare model on one in-device batch."""
    settings, features = config.train, config.features
    synchronize = _synchronizer(device)
    classes = config.model.num_classes
    model = _model(config, device).train()
    runner = torch.compile(model) if compiled else model
    optimizer = make_optimizer(model, settings, device)
    loss_function = TrainingLoss(frame_weight=settings.frame_loss_weight)
    data = [0.1 * torch.randn(batch, features.clip_samples, device=device),
            (torch.rand(batch, classes, device=device) > 0.5).float(),
            torch.zeros(batch, features.n_frames, classes, device=device),
            torch.zeros(batch, device=device)]

    def step() -> None:
        train_step(runner, optimizer, loss_function, data, device=device, amp=amp)

    def forward() -> None:
        with torch.inference_mode(), autocast(device, amp):
            runner(data[0])

    started = time.perf_counter()
    step()
    synchronize()
    first_step_s = time.perf_counter() - started
    train_s = median_seconds({"train": step}, repeats=sizes.train_steps,
                             warmup=sizes.train_warmup, synchronize=synchronize)["train"]
    runner.eval()
    started = time.perf_counter()
    forward()
    synchronize()
    first_forward_s = time.perf_counter() - started
    forward_s = median_seconds({"forward": forward}, repeats=sizes.inference_batches,
                               synchronize=synchronize)["forward"]
    return {"batch_size": batch, "train_clips_per_s": batch / train_s,
            "inference_clips_per_s": batch / forward_s,
            "first_step_s": first_step_s, "first_forward_s": first_forward_s}


def bench_ceiling(config: RunConfig, *, device: torch.device, sizes: Sizes) -> dict[str, Any]:
    """What the model alone can do, the practical ceiling every stage is measured against.

    Training steps and eval-mode forward passes on a batch already on the device, with
    ``torch.compile`` on CUDA (eager on the CPU, where compiling would cost more than the
    benchmark's steps), at each batch size of :func:`_ceiling_batches`, until CUDA runs
    out of memory; the fastest of each is the ceiling. ``first_step_s`` and
    ``first_forward_s`` include compiling.
    """
    amp, compiled = config.train.amp and device.type == "cuda", device.type == "cuda"
    rows = []
    for batch in _ceiling_batches(config, device, sizes):
        try:
            rows.append(_ceiling_row(config, device=device, batch=batch, sizes=sizes,
                                     compiled=compiled, amp=amp))
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            break
    if not rows:
        raise DataError(f"the ceiling found no batch size that fits on {device}")
    train_best = max(rows, key=lambda row: row["train_clips_per_s"])
    inference_best = max(rows, key=lambda row: row["inference_clips_per_s"])
    return {"compiled": compiled, "amp": amp, "batches": rows,
            "train_clips_per_s": train_best["train_clips_per_s"],
            "train_batch_size": train_best["batch_size"],
            "inference_clips_per_s": inference_best["inference_clips_per_s"],
            "inference_batch_size": inference_best["batch_size"]}


def ceiling_shares(results: dict[str, Any]) -> dict[str, float]:
    """Each stage's speed as a share of the ceiling (:func:`bench_ceiling`): training
    through the pipeline and bare against compiled training, inference and detection
    (windows per second, 50 % overlap) against compiled inference."""
    ceiling, training = results["ceiling"], results["training"]
    detection = results["detection"]
    windows_per_s = detection["times_real_time"] / detection["hop_s"]
    archive = results["archive"]
    archive_windows_per_s = archive["archive_times_real_time"] / detection["hop_s"]
    return {"training_pipeline": training["pipeline_clips_per_s"] / ceiling["train_clips_per_s"],
            "training_bare": training["bare_clips_per_s"] / ceiling["train_clips_per_s"],
            "inference": results["inference"]["clips_per_s"] / ceiling["inference_clips_per_s"],
            "detection": windows_per_s / ceiling["inference_clips_per_s"],
            "archive_detection": archive_windows_per_s / ceiling["inference_clips_per_s"]}


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


def _run_memory_child(config_path: Path, audio: Path, *, device: torch.device,
                      hop_s: float) -> dict[str, Any]:
    options = json.dumps({"config": str(config_path), "path": str(audio), "device": str(device),
                          "hop_s": hop_s, "threads": torch.get_num_threads()})
    code = "import sys; from whalelab.bench import _memory_child; _memory_child(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, options], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"detection benchmark on {audio} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_detection(config: RunConfig, *, device: torch.device, sizes: Sizes,
                    progress: bool | None = None) -> dict[str, Any]:
    """Detection speed (50 % overlap, warm model) and peak memory as the recording grows.

    The memory runs (no overlap, to keep them short) each take a fresh process, so that
    ``ru_maxrss`` belongs to that recording alone.
    """
    rate, clip_seconds = config.features.sample_rate, config.features.clip_seconds
    model = _model(config, device).eval()
    memory = []
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        audio = Path(folder) / "detect.wav"
        write_audio(audio, _noise(sizes.detect_seconds, rate), rate)
        with torch.inference_mode(), inference_autocast(device, config.train.amp):
            model(torch.zeros(1, config.features.clip_samples, device=device))  # warm-up
        seconds = detection_seconds(model, config, audio, hop_s=clip_seconds / 2,
                                    repeats=sizes.detect_repeats)
        config_path = Path(folder) / "config.json"
        config.save(config_path)
        for length in progress_bar(sizes.memory_seconds, progress=progress, desc="memory",
                                   leave=False):
            write_audio(audio, _noise(length, rate), rate)
            memory.append(_run_memory_child(config_path, audio, device=device,
                                            hop_s=clip_seconds))
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
        same = all(np.allclose(read_raven(root / "out" / f"{stem}{TABLE_SUFFIX}")[
            ["begin_s", "end_s", "score"]].to_numpy(float), events[
            ["begin_s", "end_s", "score"]].to_numpy(float), atol=1e-4) and list(
            read_raven(root / "out" / f"{stem}{TABLE_SUFFIX}")["label"]) == list(events["label"])
            for stem, events in alone.items())
    audio_s = sizes.archive_files * sizes.archive_seconds
    return {"recordings": sizes.archive_files, "recording_s": sizes.archive_seconds,
            "batch_size": batch_size, "workers": default_workers(device),
            "events": int(sum(len(events) for events in alone.values())),
            "identical_events": bool(same), "one_file_times_real_time": audio_s / alone_s,
            "archive_times_real_time": audio_s / archive_s}


# -------------------------------------------------------------------------------- onnx


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


# ------------------------------------------------------------------------------- flops


def count_flops(function: Callable[[], object]) -> int:
    """FLOPs (multiply and add counted apart) of the matrix products and convolutions inside.

    Examples
    --------
    >>> count_flops(lambda: torch.ones(4, 8) @ torch.ones(8, 2))
    128
    """
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops()


def matmul_flops_per_s(device: torch.device, *, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large float32 matrix product: the practical ceiling on this device."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    seconds = median_seconds({"mm": lambda: a @ b}, repeats=repeats,
                             synchronize=_synchronizer(device))["mm"]
    return 2 * size ** 3 / seconds


def bench_flops(config: RunConfig, *, device: torch.device, inference_clips_per_s: float,
                training_clips_per_s: float) -> dict[str, Any]:
    """FLOPs per clip of the backbone and the whole model (forward, training step), and the
    FLOP/s that the measured clips/s mean, also as a share of a large matmul's."""
    model = build_network(config).eval()
    features = config.features
    waveform = torch.zeros(1, features.clip_samples)  # (1, samples)
    image = torch.zeros(1, 3, features.n_frames, features.n_mels)  # (1, 3, time, mel)
    with torch.no_grad():
        forward = count_flops(lambda: model(waveform))
        backbone = count_flops(lambda: model.encoder(image))
    model.train()

    def step() -> None:
        model(torch.zeros(2, features.clip_samples))["clipwise_output"].sum().backward()

    training = count_flops(step) / 2  # two clips: BatchNorm needs more than one in training
    peak = matmul_flops_per_s(device)
    return {"input": [1, 3, features.n_frames, features.n_mels],
            "densenet121_per_clip": backbone, "model_forward_per_clip": forward,
            "train_step_per_clip": training, "matmul_peak_flops_per_s": peak,
            "inference_flops_per_s": forward * inference_clips_per_s,
            "training_flops_per_s": training * training_clips_per_s,
            "inference_fraction_of_matmul": forward * inference_clips_per_s / peak,
            "training_fraction_of_matmul": training * training_clips_per_s / peak}


# ---------------------------------------------------------------------------------- run


def _training_set(data: str | Path, profile: str, *, device: str, batch_size: int,
                  progress: bool | None) -> tuple[RunConfig, ClipDataset]:
    """The profile's configuration for ``data``, and its train split decoded into memory
    as :func:`whalelab.training.train` reads it (:meth:`ClipDataset.for_run`)."""
    _, values = profile_values(profile, data=data, device=device)
    index = load_index(data, window_s=FeatureConfig(**values["features"]).clip_seconds)
    train_index = index.subset("train")
    if len(train_index) == 0:
        raise DataError(f"{data}: the benchmark needs clips in the train split")
    config = RunConfig.from_profile(profile, data=str(data), classes=train_index.classes,
                                    device=device, batch_size=batch_size)
    dataset = ClipDataset.for_run(train_index, config, train=True, cache=ClipCache())
    dataset.preload(progress=progress)
    return config, dataset


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
        ``device``), ``flops``.
    """
    started = time.perf_counter()
    where = resolve_device(device)
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, not {threads}")
        torch.set_num_threads(threads)
    config, dataset = _training_set(data, profile, device=device, batch_size=sizes.batch_size,
                                    progress=progress)
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
        "stages: " + ", ".join(f"{name} {seconds:.0f} s"
                               for name, seconds in settings["stage_seconds"].items())
        + f"; total {settings['seconds']:.0f} s"]
    return "\n".join(lines)
