"""How the benchmark times things and what it ran on: the sizes of a run, warm medians of
candidates taking turns, the CPU and device, a process's peak memory, and measurements in
a fresh process (:func:`in_child`).

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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import librosa
import torch

from whalelab.errors import ConfigError


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
    embed_windows: int = 16                # windows a BirdNET call holds (speed, memory by length)
    # recordings whose BirdNET embedding's peak memory is compared, and the hop (3 s: no
    # overlap, half the default 1.5-s hop's windows: the 2 h took 83 s on 2 busy cores, 142 s
    # at 1.5 s; the hop changes how long it takes, not the peak: 4541 MiB at both)
    embed_memory_seconds: tuple[float, float] = (600.0, 7200.0)
    embed_memory_hop_s: float = 3.0
    embed_batches: tuple[int, ...] = (1, 4, 16, 32)  # BirdNET batches whose peak memory is read
    compare_clips: int = 10                # train clips a class for the probe against DenseNet
    compare_epochs: int = 2                # their epochs
    batch_size: int | None = None          # None: the profile's


#: a seconds-long run for tests and trying the command out
QUICK_SIZES = Sizes(feature_seconds=10.0, train_warmup=1, train_steps=1, inference_batches=1,
                    detect_seconds=10.0, detect_repeats=1, memory_seconds=(10.0, 20.0),
                    archive_files=3, archive_seconds=7.0, ceiling_batches=(2,),
                    embed_windows=2, embed_memory_seconds=(10.0, 20.0), embed_batches=(1, 2),
                    compare_clips=2, compare_epochs=1, batch_size=2)


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


def in_child(target: str, options: dict[str, Any]) -> dict[str, Any]:
    """Call ``target`` (``"module:function"``) with ``options`` as JSON text in a fresh
    Python, so that its peak memory (:func:`peak_rss_mb`) is its own; what it prints as
    JSON on its last line of output.

    Raises
    ------
    RuntimeError
        The child failed, with the end of its error output.
    """
    module, function = target.split(":")
    code = f"import sys; from {module} import {function}; {function}(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, json.dumps(options)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{target} with {options} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
