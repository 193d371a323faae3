"""Run folders: checkpoints written atomically, and models rebuilt from them.

A run folder holds ``config.json`` (everything needed to rebuild the model),
``classes.json`` (class names and their frequency bands), ``best.pt``, ``last.pt``,
``history.csv``, ``splits.csv`` and ``metrics.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from whalelab.atomic import atomic_write, write_json
from whalelab.config import RunConfig
from whalelab.errors import CheckpointError
from whalelab.model import WhaleSED, build_model


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint dict (``model`` state and whatever resuming needs) atomically."""
    return atomic_write(path, lambda temporary: torch.save(state, temporary))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU; a missing or corrupt file raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated file raises several kinds
        raise CheckpointError(f"{path}: unreadable checkpoint ({error})") from None


def write_classes(run_dir: str | Path, classes: list[str],
                  bands: dict[str, tuple[float, float]]) -> None:
    """``classes.json``: the class order of the model's outputs and each class's band in Hz."""
    write_json(Path(run_dir) / "classes.json",
               {"classes": classes, "bands": {name: list(bands[name]) for name in classes}})


def read_classes(run_dir: str | Path) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """Class names in output order and their frequency bands."""
    path = Path(run_dir) / "classes.json"
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; is {run_dir} a trained run folder?")
    values = json.loads(path.read_text())
    return values["classes"], {name: tuple(band) for name, band in values["bands"].items()}


def load_run(run_dir: str | Path, *, which: str = "best",
             device: str | torch.device = "cpu") -> tuple[WhaleSED, RunConfig]:
    """The trained model of a run folder, in eval mode on ``device``, and its configuration.

    Parameters
    ----------
    which : {"best", "last"}
        ``best.pt`` (chosen on validation) or ``last.pt`` (the latest epoch).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder")
    config = RunConfig.load(run_dir / "config.json")
    checkpoint = load_checkpoint(run_dir / f"{which}.pt")
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint["model"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"{run_dir / f'{which}.pt'}: does not fit the model of "
                              f"config.json ({str(error).splitlines()[0]})") from None
    return model.to(device).eval(), config
