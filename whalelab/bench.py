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
   :class:`~whalelab.data.ClipCache`, a DataLoader as :mod:`whalelab.train` builds it)
   against the bare step on a batch already in memory; steps of the two alternate so
   that a change in the machine's load hits both alike.
3. **inference** -- clips/s in eval mode, detection speed as a multiple of real time on a
   long recording (:func:`whalelab.detect.framewise_probabilities`, 50 % overlap), and
   peak memory for a 10-min and a 2-h recording, each in a fresh process.
4. **flops** -- DenseNet121 and whole-model FLOPs per clip (counted by
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
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from whalelab.atomic import write_json
from whalelab.audio import write_audio
from whalelab.config import FeatureConfig, RunConfig
from whalelab.data import ClipCache, ClipDataset, load_index
from whalelab.errors import DataError
from whalelab.evaluate import autocast
from whalelab.features import LogmelFilterBank, Spectrogram
from whalelab.model import build_model
from whalelab.profiles import Profile, resolve_device, resolve_profile
from whalelab.synth import ocean_noise


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


QUICK_SIZES = Sizes(feature_seconds=20.0, train_warmup=1, train_steps=2, inference_batches=2,
                    detect_seconds=12.0, detect_repeats=1, memory_seconds=(10.0, 20.0))


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
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, not {repeats} and {warmup}")
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
    """This process's peak resident memory in MiB (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
            fmax=features.fmax)
        return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=features.top_db)
    return logmel


def _whalelab_logmel(features: FeatureConfig, device: torch.device
                     ) -> Callable[[torch.Tensor], torch.Tensor]:
    spectrogram = Spectrogram(n_fft=features.n_fft, hop_length=features.hop_length,
                              win_length=features.win_length).to(device)
    logmel = LogmelFilterBank(sr=features.sample_rate, n_fft=features.n_fft,
                              n_mels=features.n_mels, fmin=features.fmin, fmax=features.fmax,
                              top_db=features.top_db).to(device)

    def run(waveform: torch.Tensor) -> torch.Tensor:  # (batch, samples) -> (batch, 1, time, mel)
        with torch.inference_mode():
            return logmel(spectrogram(waveform))
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


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                loss_function: torch.nn.Module, waveforms: torch.Tensor, targets: torch.Tensor,
                *, device: torch.device, amp: bool) -> None:
    """One step as :func:`whalelab.train.train` takes it: forward, BCE, backward, AdamW."""
    waveforms = waveforms.to(device, non_blocking=True)
    targets = targets.to(device, non_blocking=True)
    with autocast(device, amp):
        output = model(waveforms)
    loss = loss_function(output["clipwise_logit"].float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _batches(dataset: ClipDataset, config: RunConfig, device: torch.device
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches as :func:`whalelab.train.train` loads them, epoch after epoch."""
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
    model = build_model(config).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def bench_training(config: RunConfig, dataset: ClipDataset, *, device: torch.device,
                   warmup: int, steps: int) -> dict[str, Any]:
    """Clips/s of the training step through the data pipeline and on an in-memory batch."""
    settings = config.train
    amp = settings.amp and device.type == "cuda"
    synchronize = _synchronizer(device)
    model = _model(config, device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    loss_function = torch.nn.BCEWithLogitsLoss()
    batches = _batches(dataset, config, device)
    fixed = next(batches)
    waits: list[float] = []

    def pipeline() -> None:
        started = time.perf_counter()
        waveforms, targets = next(batches)
        waits.append(time.perf_counter() - started)
        _train_step(model, optimizer, loss_function, waveforms, targets, device=device, amp=amp)

    def bare() -> None:
        _train_step(model, optimizer, loss_function, *fixed, device=device, amp=amp)

    medians = median_seconds({"pipeline": pipeline, "bare": bare}, repeats=steps,
                             warmup=warmup, synchronize=synchronize)
    batch = len(fixed[0])
    return {"batch_size": batch, "clip_seconds": config.features.clip_seconds,
            "train_clips": len(dataset), "num_workers": settings.num_workers, "amp": amp,
            "channels_last": device.type == "cuda", "warmup_steps": warmup, "timed_steps": steps,
            "pipeline_clips_per_s": batch / medians["pipeline"],
            "bare_clips_per_s": batch / medians["bare"],
            "ratio": medians["bare"] / medians["pipeline"],
            "data_wait_s": statistics.median(waits[warmup:]),
            "step_s": medians["bare"]}


# --------------------------------------------------------------------------- inference


def bench_inference(config: RunConfig, dataset: ClipDataset, *, device: torch.device,
                    batches: int) -> dict[str, Any]:
    """Eval-mode clips/s on one batch of real clips."""
    amp = config.train.amp and device.type == "cuda"
    model = _model(config, device).eval()
    count = min(config.train.batch_size, len(dataset))
    waveforms = torch.stack([dataset[i][0] for i in range(count)]).to(device)

    def forward() -> None:
        with torch.inference_mode(), autocast(device, amp):
            model(waveforms)

    seconds = median_seconds({"forward": forward}, repeats=batches,
                             synchronize=_synchronizer(device))["forward"]
    return {"batch_size": count, "amp": amp, "clips_per_s": count / seconds}


def _detect_child(arguments: str) -> None:
    """Child process of :func:`bench_detection`: one recording, JSON on stdout."""
    options = json.loads(arguments)
    from whalelab.detect import framewise_probabilities

    config = RunConfig.load(options["config"])
    device = torch.device(options["device"])
    model = _model(config, device).eval()
    warm = torch.zeros(1, config.features.clip_samples, device=device)
    with torch.inference_mode(), autocast(device, config.train.amp):
        model(warm)
    synchronize = _synchronizer(device)
    seconds = []
    for _ in range(options["repeats"]):
        started = time.perf_counter()
        probabilities = framewise_probabilities(model, config, options["path"],
                                                hop_s=options["hop_s"],
                                                batch_size=config.train.batch_size,
                                                progress=False)
        synchronize()
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": statistics.median(seconds), "frames": len(probabilities),
                      "peak_rss_mb": peak_rss_mb()}))


def _run_detect_child(config_path: Path, audio: Path, *, device: torch.device, hop_s: float,
                      repeats: int) -> dict[str, Any]:
    options = json.dumps({"config": str(config_path), "path": str(audio),
                          "device": str(device), "hop_s": hop_s, "repeats": repeats})
    code = "import sys; from whalelab.bench import _detect_child; _detect_child(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, options], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"detection benchmark on {audio} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_detection(config: RunConfig, *, device: torch.device, sizes: Sizes,
                    progress: bool | None = None) -> dict[str, Any]:
    """Detection speed (50 % overlap) and peak memory as the recording grows (no overlap).

    Every recording runs in a fresh process, so that ``ru_maxrss`` belongs to it alone.
    """
    rate, clip_seconds = config.features.sample_rate, config.features.clip_seconds
    runs = [("speed", sizes.detect_seconds, clip_seconds / 2, sizes.detect_repeats)] + \
        [(f"memory_{i}", seconds, clip_seconds, 1) for i, seconds in enumerate(sizes.memory_seconds)]
    measured = {}
    with tempfile.TemporaryDirectory(prefix="whalelab-bench-") as folder:
        config_path = Path(folder) / "config.json"
        config.save(config_path)
        for name, seconds, hop_s, repeats in tqdm(runs, desc="detect", leave=False,
                                                  disable=not progress if progress is not None
                                                  else None):
            audio = Path(folder) / f"{name}.wav"
            write_audio(audio, _noise(seconds, rate), rate)
            measured[name] = {"recording_s": seconds, "hop_s": hop_s,
                              **_run_detect_child(config_path, audio, device=device,
                                                  hop_s=hop_s, repeats=repeats)}
            audio.unlink()
    speed, short, long = measured["speed"], measured["memory_0"], measured["memory_1"]
    for run in measured.values():
        run["times_real_time"] = run["recording_s"] / run["seconds"]
    return {"recording_s": speed["recording_s"], "overlap": 1 - speed["hop_s"] / clip_seconds,
            "hop_s": speed["hop_s"], "batch_size": config.train.batch_size,
            "repeats": sizes.detect_repeats, "seconds": speed["seconds"],
            "times_real_time": speed["times_real_time"],
            "peak_rss_mb": speed["peak_rss_mb"],
            "memory": {"overlap": 0.0, "short_recording_s": short["recording_s"],
                       "long_recording_s": long["recording_s"],
                       "short_peak_rss_mb": short["peak_rss_mb"],
                       "long_peak_rss_mb": long["peak_rss_mb"],
                       "growth_mb": long["peak_rss_mb"] - short["peak_rss_mb"],
                       "long_times_real_time": long["times_real_time"]}}


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


def bench_flops(config: RunConfig, *, device: torch.device) -> dict[str, Any]:
    """FLOPs per clip of the backbone and the whole model, forward and training step."""
    model = build_model(config).eval()
    features = config.features
    waveform = torch.zeros(1, features.clip_samples)  # (1, samples)
    image = torch.zeros(1, 3, features.n_frames, features.n_mels)  # (1, 3, time, mel)
    with torch.no_grad():
        forward = count_flops(lambda: model(waveform))
        backbone = count_flops(lambda: model.encoder(image))
    model.train()

    def step() -> None:
        model(torch.zeros(2, features.clip_samples))["clipwise_logit"].sum().backward()

    training = count_flops(step) / 2  # two clips: BatchNorm needs more than one in training
    return {"input": [1, 3, features.n_frames, features.n_mels],
            "densenet121_per_clip": backbone, "model_forward_per_clip": forward,
            "train_step_per_clip": training,
            "matmul_peak_flops_per_s": matmul_flops_per_s(device)}


# ---------------------------------------------------------------------------------- run


def _training_set(data: str | Path, profile: Profile, progress: bool | None) -> ClipDataset:
    """The train split of ``data``, decoded into memory as :func:`whalelab.train.train` does."""
    index = load_index(data, window_s=profile.clip_seconds)
    train_index = index.subset("train")
    if len(train_index) == 0:
        raise DataError(f"{data}: the benchmark needs clips in the train split")
    dataset = ClipDataset(train_index, sample_rate=profile.sample_rate,
                          clip_seconds=profile.clip_seconds, train=True, cache=ClipCache())
    dataset.preload(progress=progress)
    return dataset


def run_bench(*, data: str | Path, profile: str = "quick", device: str = "auto",
              out: str | Path | None = None, repeats: int = 5, sizes: Sizes = Sizes(),
              progress: bool | None = None) -> dict[str, Any]:
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
    progress : bool or None
        Progress bars; None shows them only on a terminal.

    Returns
    -------
    dict
        ``device``, ``features``, ``training``, ``inference``, ``flops``, ``settings``.
    """
    started = time.perf_counter()
    where = resolve_device(device)
    stages = tqdm(total=6, desc="bench", disable=not progress if progress is not None else None)
    dataset = _training_set(data, resolve_profile(profile, device=device), progress)
    config = RunConfig.from_profile(profile, data=str(data), classes=dataset.index.classes,
                                    device=device)
    stages.update()
    results: dict[str, Any] = {
        "device": describe_device(where),
        "settings": {"profile": config.profile, "data": str(data), "repeats": repeats,
                     "sizes": dataclasses.asdict(sizes)}}
    stages.set_description("features")
    results["features"] = bench_features(config.features, seconds=sizes.feature_seconds,
                                         batch_size=config.train.batch_size, device=where,
                                         repeats=repeats)
    stages.update()
    stages.set_description("training")
    results["training"] = bench_training(config, dataset, device=where,
                                         warmup=sizes.train_warmup, steps=sizes.train_steps)
    stages.update()
    stages.set_description("inference")
    results["inference"] = bench_inference(config, dataset, device=where,
                                           batches=sizes.inference_batches)
    stages.update()
    results["inference"]["detection"] = bench_detection(config, device=where, sizes=sizes,
                                                        progress=progress)
    stages.update()
    stages.set_description("flops")
    flops = bench_flops(config, device=where)
    flops["inference_flops_per_s"] = (flops["model_forward_per_clip"]
                                      * results["inference"]["clips_per_s"])
    flops["training_flops_per_s"] = (flops["train_step_per_clip"]
                                     * results["training"]["pipeline_clips_per_s"])
    flops["inference_fraction_of_matmul"] = (flops["inference_flops_per_s"]
                                             / flops["matmul_peak_flops_per_s"])
    flops["training_fraction_of_matmul"] = (flops["training_flops_per_s"]
                                            / flops["matmul_peak_flops_per_s"])
    results["flops"] = flops
    stages.update()
    stages.close()
    results["settings"]["seconds"] = time.perf_counter() - started
    if out is not None:
        write_json(out, results)
    return results


# ------------------------------------------------------------------------------ table


def format_bench(results: dict[str, Any]) -> str:
    """The results as a plain-text table that names the device."""
    device, features = results["device"], results["features"]
    training, inference, flops = results["training"], results["inference"], results["flops"]
    detection = inference["detection"]
    memory = detection["memory"]
    where = device["gpu"] or device["cpu"]
    lines = [f"whalelab bench on {where} ({device['type']}; CPU {device['cpu']}, "
             f"{device['torch_threads']} torch threads; torch {device['torch']}, "
             f"librosa {device['librosa']})",
             f"profile {results['settings']['profile']}, median of "
             f"{results['settings']['repeats']} after warm-up",
             "",
             f"1. log-mel on {features['audio_seconds'] / 60:.0f} min of "
             f"{features['sample_rate']} Hz audio (n_fft {features['n_fft']}, hop "
             f"{features['hop_length']}, {features['n_mels']} mels)"]
    for layout, row in features["layouts"].items():
        text = (f"   {layout:<14} librosa {row['librosa_cpu_s']:7.3f} s   whalelab cpu "
                f"{row['whalelab_cpu_s']:7.3f} s   librosa/whalelab {row['ratio_cpu']:5.2f}x")
        if "whalelab_cuda_s" in row:
            text += f"   cuda {row['whalelab_cuda_s']:7.4f} s ({row['ratio_cuda']:.0f}x)"
        lines.append(text)
    lines += [
        "",
        f"2. training step, batch {training['batch_size']} x {training['clip_seconds']:g} s "
        f"(amp {training['amp']}, channels_last {training['channels_last']})",
        f"   pipeline {training['pipeline_clips_per_s']:8.1f} clips/s   bare model "
        f"{training['bare_clips_per_s']:8.1f} clips/s   pipeline/bare {training['ratio']:.2f}"
        f"   (waiting for data {training['data_wait_s'] * 1000:.1f} ms/step)",
        "",
        f"3. inference, batch {inference['batch_size']}: {inference['clips_per_s']:.1f} clips/s",
        f"   detection on {detection['recording_s'] / 60:.0f} min, {detection['overlap']:.0%} "
        f"overlap: {detection['seconds']:.1f} s = {detection['times_real_time']:.0f}x real "
        f"time, peak RSS {detection['peak_rss_mb']:.0f} MiB",
        f"   peak RSS {memory['short_peak_rss_mb']:.0f} MiB for "
        f"{memory['short_recording_s'] / 60:g} min, {memory['long_peak_rss_mb']:.0f} MiB for "
        f"{memory['long_recording_s'] / 60:g} min (growth {memory['growth_mb']:+.0f} MiB; "
        f"no overlap, {memory['long_times_real_time']:.0f}x real time)",
        "",
        f"4. FLOPs per clip at input {tuple(flops['input'])}: DenseNet121 "
        f"{flops['densenet121_per_clip'] / 1e9:.2f} G, whole model "
        f"{flops['model_forward_per_clip'] / 1e9:.2f} G, training step "
        f"{flops['train_step_per_clip'] / 1e9:.2f} G",
        f"   achieved: inference {flops['inference_flops_per_s'] / 1e9:.1f} GFLOP/s "
        f"({flops['inference_fraction_of_matmul']:.0%} of a large matmul's "
        f"{flops['matmul_peak_flops_per_s'] / 1e9:.1f}), training "
        f"{flops['training_flops_per_s'] / 1e9:.1f} GFLOP/s "
        f"({flops['training_fraction_of_matmul']:.0%})",
        f"total {results['settings']['seconds']:.0f} s"]
    return "\n".join(lines)
