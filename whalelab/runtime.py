"""Where and how code runs: the device, mixed precision, and progress bars.

Every module that runs a model or a long loop asks this one for the device
(:func:`resolve_device`), for bf16 autocast (:func:`autocast`, which inference and
training alike take from the run's ``config.train.amp``) and for its tqdm bar
(:func:`progress_bar`), so that ``--device auto`` and ``progress=None`` mean the same
thing everywhere. Where a caller leaves ``progress`` None, the environment variable
:data:`PROGRESS_VARIABLE` decides: ``whalelab report`` sets it to ``off`` in the kernels
that execute the notebooks, whose widget bars would be saved as they were first drawn
("0%"), while a notebook opened in JupyterLab (``make lab``) keeps its bars.

Examples
--------
>>> resolve_device("cpu")
device(type='cpu')
>>> with autocast(torch.device("cpu"), True):
...     (torch.ones(2) * 2).dtype  # autocast is for CUDA only
torch.float32
>>> bar_disabled(None), bar_disabled(True), bar_disabled(False)
(None, False, True)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import torch
from tqdm.auto import tqdm

from whalelab.errors import ConfigError


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


def cuda_available() -> bool:
    """True when a CUDA device can be used."""
    return torch.cuda.is_available()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a :class:`torch.device`; ``auto`` picks CUDA when present."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda") and not cuda_available():
        raise ConfigError(f"device {device!r} was asked for but no CUDA device is available")
    return torch.device(device)


def autocast(device: torch.device, amp: bool):
    """bf16 autocast exactly when ``amp`` and ``device`` is CUDA; a no-op context on the CPU.

    The one precision rule, for training and inference alike: ``amp`` is the run's
    ``config.train.amp``, so a model scores (prediction, detection, evaluation, the
    notebooks, the benchmarks) in the precision it was trained and validated in, and
    every figure of one run comes from the same numbers.

    Examples
    --------
    >>> with autocast(torch.device("cpu"), True):
    ...     (torch.ones(2) * 2).dtype  # fp32 on the CPU whatever the run trained with
    torch.float32
    """
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=amp and device.type == "cuda")


#: where ``progress`` is None, ``off`` turns every bar off and ``on`` on (also ``0`` /
#: ``1``, ``false`` / ``true``, ``no`` / ``yes``); unset or empty leaves tqdm's own rule
PROGRESS_VARIABLE = "WHALELAB_PROGRESS"
_SWITCHES = {"off": False, "0": False, "false": False, "no": False,
             "on": True, "1": True, "true": True, "yes": True}


def bar_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` switch: True shows bars always, False never;
    None follows :data:`PROGRESS_VARIABLE` where it is set and otherwise tqdm's own rule
    (bars only on a terminal or in a notebook).

    Raises
    ------
    ConfigError
        When :data:`PROGRESS_VARIABLE` holds a value that is not a switch.

    Examples
    --------
    >>> import os
    >>> os.environ[PROGRESS_VARIABLE] = "off"
    >>> bar_disabled(None), bar_disabled(True)
    (True, False)
    >>> del os.environ[PROGRESS_VARIABLE]
    """
    if progress is not None:
        return not progress
    setting = os.environ.get(PROGRESS_VARIABLE, "").strip().lower()
    if not setting:
        return None
    if setting not in _SWITCHES:
        raise ConfigError(f"{PROGRESS_VARIABLE}={os.environ[PROGRESS_VARIABLE]!r}: use off or on")
    return not _SWITCHES[setting]


def progress_bar(iterable: Iterable | None = None, *, progress: bool | None,
                 **options: Any) -> tqdm:
    """A tqdm bar (notebook-aware) that follows the ``progress`` switch of :func:`bar_disabled`."""
    return tqdm(iterable, disable=bar_disabled(progress), **options)


def audio_bar(total_seconds: float, *, progress: bool | None, desc: str) -> tqdm:
    """A :func:`progress_bar` in hours of audio (of ``total_seconds``), for
    :class:`RealTime`."""
    return progress_bar(total=total_seconds / 3600, progress=progress, desc=desc, unit="h",
                        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} h audio "
                                   "[{elapsed}<{remaining}{postfix}]")


class RealTime:
    """``advance(seconds)``: seconds of audio done, added to ``bar`` (:func:`audio_bar`)
    with the speed so far as a multiple of real time."""

    def __init__(self, bar: tqdm) -> None:
        self.bar, self.began, self.seconds = bar, time.perf_counter(), 0.0

    def __call__(self, done: float) -> None:
        self.seconds += done
        self.bar.update(done / 3600)
        speed = self.seconds / max(time.perf_counter() - self.began, 1e-9)
        self.bar.set_postfix_str(f"{speed:.0f}x real time", refresh=False)
