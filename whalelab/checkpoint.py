"""Run folders and model files: written atomically, read without running any code.

A run folder holds ``config.json`` (everything needed to rebuild the model),
``classes.json`` (class names and their frequency bands), ``thresholds.json``,
``best.pt``, ``last.pt``, ``history.csv``, ``splits.csv`` and ``metrics.json``.

``best.pt`` describes itself: besides the weights it carries the configuration, the
classes, their bands, the thresholds and the whalelab version, so that the file alone
is a usable model (``whalelab predict best.pt FILE``). Every checkpoint is read with
``torch.load(weights_only=True)``: plain tensors and values only, so a file from a
shared folder can never execute code when it is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import whalelab
from whalelab.atomic import atomic_write, write_json
from whalelab.config import DetectConfig, RunConfig
from whalelab.errors import CheckpointError, ConfigError
from whalelab.model import WhaleEnsemble, WhaleSED, build_model
from whalelab.runtime import resolve_device

Band = tuple[float, float]


def _save(state: dict[str, Any], temporary: Path) -> None:
    """``torch.save`` into ``temporary``; a failed write raises :class:`OSError`.

    torch's zip writer reports a write that fell short (a full disk) as
    ``RuntimeError: ... unexpected pos ...``: that becomes an OSError, which
    :func:`~whalelab.atomic.atomic_write` turns into a StorageError naming the file.
    """
    try:
        with open(temporary, "wb") as file:
            torch.save(state, file)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "no reason given"
        raise OSError(f"the checkpoint could not be written, is the disk full? (torch: "
                      f"{reason})") from None


def checkpoint_sha256(source: str | Path) -> str:
    """SHA-256 of a model file: ``source`` itself, or a run folder's ``best.pt``."""
    source = Path(source)
    with (source / "best.pt" if source.is_dir() else source).open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint dict (``model`` state and whatever resuming needs) atomically.

    Raises
    ------
    StorageError
        The write failed (a full disk, a read-only folder): naming ``path``, whose old
        contents stay.
    """
    return atomic_write(path, lambda temporary: _save(state, temporary))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU, tensors and plain values only.

    A missing or corrupt file, or one that would need to unpickle code or objects,
    raises :class:`CheckpointError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            reason = "it holds pickled code or objects, which whalelab never loads"
        raise CheckpointError(f"{path}: refused ({reason})") from None
    except Exception as error:  # a truncated file raises several kinds
        raise CheckpointError(f"{path}: unreadable checkpoint ({error})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a whalelab checkpoint (no model weights inside)")
    return state


def model_file_state(model: torch.nn.Module, config: RunConfig, *, bands: Mapping[str, Band],
                     thresholds: Mapping[str, float] | None, epoch: int) -> dict[str, Any]:
    """What ``best.pt`` holds: the weights and everything needed to use them alone."""
    return {"model": model.state_dict(), "epoch": epoch, "config": config.to_dict(),
            "classes": list(config.classes),
            "bands": {name: [float(low), float(high)] for name, (low, high) in bands.items()},
            "thresholds": None if thresholds is None else dict(thresholds),
            "whalelab_version": whalelab.__version__}


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; is {path.parent} a trained run folder?")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None


def write_classes(run_dir: str | Path, classes: list[str], bands: Mapping[str, Band]) -> None:
    """``classes.json``: the class order of the model's outputs and each class's band in Hz."""
    write_json(Path(run_dir) / "classes.json",
               {"classes": classes, "bands": {name: list(bands[name]) for name in classes}})


def _checked_bands(values: Any, classes: Sequence[str], where: Path, *,
                   sample_rate: int) -> dict[str, Band]:
    """Each class's ``(low_hz, high_hz)``: one per class and no other, finite, with
    ``0 <= low < high <=`` the Nyquist frequency of ``sample_rate``."""
    try:
        bands = {str(name): (float(band[0]), float(band[1])) for name, band in values.items()}
    except (AttributeError, TypeError, ValueError, IndexError, KeyError):
        raise CheckpointError(f"{where}: 'bands' must map each class to [low_hz, high_hz]") \
            from None
    missing = [name for name in classes if name not in bands]
    if missing:
        raise CheckpointError(f"{where}: no band for {missing}")
    unknown = sorted(set(bands) - set(classes))
    if unknown:
        raise CheckpointError(f"{where}: bands for {unknown}, which are not classes of the "
                              f"model ({', '.join(classes)})")
    nyquist = sample_rate / 2
    for name in classes:
        low, high = bands[name]
        if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high <= nyquist):
            raise CheckpointError(f"{where}: the band of {name!r}, {low:g}-{high:g} Hz, needs "
                                  f"0 <= low_hz < high_hz <= {nyquist:g} Hz (the Nyquist "
                                  f"frequency of the run's {sample_rate} Hz)")
    return bands


def read_classes(run_dir: str | Path, *, sample_rate: int) -> tuple[list[str], dict[str, Band]]:
    """Class names in output order and their frequency bands (``classes.json``), each band
    within 0 Hz and the Nyquist frequency of the run's ``sample_rate``."""
    path = Path(run_dir) / "classes.json"
    values = _read_json(path)
    if not isinstance(values, dict) or not isinstance(values.get("classes"), list) \
            or not all(isinstance(name, str) for name in values["classes"]):
        raise CheckpointError(f"{path}: expected {{\"classes\": [names], \"bands\": {{...}}}}")
    unknown = sorted(set(values) - {"classes", "bands"})
    if unknown:
        raise CheckpointError(f"{path}: unknown keys {unknown} (it holds \"classes\" and "
                              f"\"bands\" only)")
    return values["classes"], _checked_bands(values.get("bands"), values["classes"], path,
                                             sample_rate=sample_rate)


def _checked_thresholds(values: Any, classes: Sequence[str], where: Path) -> np.ndarray:
    """``(classes,)`` thresholds in class order: ``values`` names each class and no other
    (None: none chosen yet, 0.5 for every class)."""
    if values is None:
        return np.full(len(classes), 0.5)
    if not isinstance(values, dict):
        raise CheckpointError(f"{where}: expected {{class: threshold}}")
    unknown = sorted(set(values) - set(classes))
    if unknown:
        raise CheckpointError(f"{where}: {unknown} are not classes of the model "
                              f"({', '.join(classes)}); is a class name misspelt?")
    missing = [name for name in classes if name not in values]
    if missing:
        raise CheckpointError(f"{where}: no threshold for {missing}; give one per class")
    try:
        thresholds = np.array([float(values[name]) for name in classes])
    except (TypeError, ValueError):
        raise CheckpointError(f"{where}: every threshold must be a number") from None
    if not np.all((thresholds >= 0) & (thresholds <= 1)):
        raise CheckpointError(f"{where}: thresholds must lie in [0, 1]")
    return thresholds


def read_thresholds(run_dir: str | Path, classes: Sequence[str]) -> np.ndarray:
    """The run's per-class thresholds (``thresholds.json``, which names each class and no
    other), 0.5 for every class where there is no such file (none chosen yet)."""
    path = Path(run_dir) / "thresholds.json"
    if not path.is_file():
        return np.full(len(classes), 0.5)
    return _checked_thresholds(_read_json(path), classes, path)


@dataclasses.dataclass
class TrainedModel:
    """A trained model in eval mode with what using it needs.

    ``thresholds`` is ``(classes,)`` in class order; ``source`` the run folder or file.
    """

    model: WhaleSED | WhaleEnsemble
    config: RunConfig
    bands: dict[str, Band]
    thresholds: np.ndarray
    source: Path

    @property
    def classes(self) -> list[str]:
        return self.config.classes

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def _fitted(config: RunConfig, state: dict[str, Any],
            where: Path) -> WhaleSED | WhaleEnsemble:
    model = build_model(config)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"{where}: does not fit the model of its configuration "
                              f"({str(error).splitlines()[0]})") from None
    return model


def _from_file(path: Path) -> tuple[RunConfig, dict[str, Any], dict[str, Band], np.ndarray]:
    state = load_checkpoint(path)
    if "config" not in state:
        raise CheckpointError(f"{path}: an older checkpoint without its configuration; "
                              f"give its run folder instead")
    try:
        config = RunConfig.from_dict(state["config"])
    except ConfigError as error:
        raise CheckpointError(f"{path}: {error}") from None
    bands = _checked_bands(state.get("bands") or {}, config.classes, path,
                           sample_rate=config.features.sample_rate)
    thresholds = _checked_thresholds(state.get("thresholds"), config.classes, path)
    return config, state, bands, thresholds


def _from_folder(run_dir: Path, which: str) -> tuple[RunConfig, dict[str, Any],
                                                    dict[str, Band], np.ndarray]:
    """The run folder's model: the classes of ``config.json`` and ``classes.json`` must be
    those the checkpoint itself carries (its own list is the truth: a file edited to
    rename or reorder them would swap the labels); runs older than that list are checked
    against ``config.json``."""
    config = RunConfig.load(run_dir / "config.json")
    checkpoint = run_dir / f"{which}.pt"
    state = load_checkpoint(checkpoint)
    truth, named = state.get("classes"), "config.json's"
    if truth is not None:
        truth, named = list(truth), f"{checkpoint.name}'s own"
        if config.classes != truth:
            raise CheckpointError(f"{run_dir / 'config.json'}: classes {config.classes} differ "
                                  f"from {named} {truth}; restore config.json's class list")
    classes, bands = read_classes(run_dir, sample_rate=config.features.sample_rate)
    if classes != config.classes:
        raise CheckpointError(f"{run_dir / 'classes.json'}: classes {classes} differ from "
                              f"{named} {config.classes}; restore classes.json's class list")
    return config, state, bands, read_thresholds(run_dir, config.classes)


def load_model(source: str | Path, *, which: str = "best",
               device: str | torch.device = "cpu") -> TrainedModel:
    """The trained model of a run folder or of a model file, in eval mode on ``device``.

    Parameters
    ----------
    source : path
        A run folder (its ``config.json``, ``classes.json``, ``thresholds.json`` and
        ``<which>.pt`` are read; edits to the bands, thresholds and detection settings
        take effect, but the class lists must stay those ``<which>.pt`` carries, and
        ``thresholds.json`` must name each class) or a self-describing model file such
        as ``RUN/best.pt``.
    which : {"best", "last"}
        For a run folder: ``best.pt`` (chosen on validation) or ``last.pt``.
    device : str or torch.device
        Where the model runs (``auto``, ``cpu``, ``cuda``).
    """
    source = Path(source)
    if which not in ("best", "last"):
        raise ConfigError(f"which must be 'best' or 'last', not {which!r}")
    if source.is_dir():
        config, state, bands, thresholds = _from_folder(source, which)
        where = source / f"{which}.pt"
    elif source.is_file():
        config, state, bands, thresholds = _from_file(source)
        where = source
    else:
        raise CheckpointError(f"{source}: no such run folder or model file")
    model = _fitted(config, state, where).to(resolve_device(device)).eval()
    return TrainedModel(model=model, config=config, bands=bands, thresholds=thresholds,
                        source=source)


def save_detection_settings(run_dir: str | Path, settings: DetectConfig) -> None:
    """Make ``settings`` the run's own detection settings: in ``config.json`` and in the
    configuration that ``best.pt`` carries, so the model file alone detects the same."""
    run_dir = Path(run_dir)
    config = dataclasses.replace(RunConfig.load(run_dir / "config.json"), detect=settings)
    config.save(run_dir / "config.json")
    if (run_dir / "best.pt").is_file():
        best = load_checkpoint(run_dir / "best.pt")
        if "config" in best:
            save_checkpoint(run_dir / "best.pt", {**best, "config": config.to_dict()})
