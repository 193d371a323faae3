"""Clip-level metrics of a trained run, with per-class thresholds chosen on validation.

Targets are multi-hot over the call classes; a clip with no call (background) has
all zeros. Two views are reported:

- per class (multi-label): precision, recall and F1 at the class's threshold, average
  precision and ROC-AUC; their macro means ``macro_f1``, ``macro_ap`` (mAP), ``macro_auc``.
- single label: each clip's top class if it clears its threshold, else background;
  ``accuracy`` and the confusion matrix over the classes plus background.

Headline figures get bootstrap 95 % intervals (clips resampled with replacement).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from whalelab.atomic import write_json
from whalelab.checkpoint import load_run
from whalelab.config import RunConfig
from whalelab.data import ClipDataset, ClipIndex, load_index
from whalelab.errors import DataError
from whalelab.profiles import resolve_device

BACKGROUND = "background"
HEADLINE = ("accuracy", "macro_f1", "macro_ap")


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled``; a no-op context on CPU."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=enabled and device.type == "cuda")


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: torch.utils.data.Dataset, *,
                    device: torch.device, batch_size: int = 32, amp: bool = False,
                    progress: bool | None = None, desc: str = "predict"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Clipwise probabilities ``(clips, classes)`` and targets ``(clips, classes)`` of a dataset."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        pin_memory=device.type == "cuda")
    probabilities, targets = [], []
    for waveforms, target in tqdm(loader, desc=desc, leave=False, disable=not progress):
        with autocast(device, amp):
            output = model(waveforms.to(device, non_blocking=True))
        probabilities.append(output["clipwise_output"].float().cpu().numpy())
        targets.append(target.numpy())
    return np.concatenate(probabilities), np.concatenate(targets)


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per class, the threshold that maximises F1 on these (validation) clips.

    The midpoint between the chosen score and the next lower one is used, so that a
    threshold does not sit exactly on a validation score. A class without positives
    keeps 0.5.

    Shapes
    ------
    ``(clips, classes)`` -> ``(classes,)``

    Examples
    --------
    >>> choose_thresholds(np.array([[0.9], [0.6], [0.4], [0.1]]), np.array([[1], [1], [0], [0]]))
    array([0.5])
    """
    thresholds = np.full(probabilities.shape[1], 0.5)
    for k in range(probabilities.shape[1]):
        if targets[:, k].sum() == 0:
            continue
        precision, recall, cuts = skm.precision_recall_curve(targets[:, k], probabilities[:, k])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        best = int(np.argmax(f1))
        below = probabilities[:, k][probabilities[:, k] < cuts[best]]
        thresholds[k] = (cuts[best] + below.max()) / 2 if below.size else cuts[best] / 2
    return thresholds


def single_label(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each clip's class index, or ``classes`` (background) when no class clears its threshold.

    The top class is the one with the largest score relative to its threshold.
    """
    ratio = probabilities / np.maximum(thresholds, 1e-6)
    top = ratio.argmax(axis=1)
    cleared = ratio[np.arange(len(top)), top] >= 1.0
    return np.where(cleared, top, probabilities.shape[1])


def _truth_single_label(targets: np.ndarray) -> np.ndarray:
    return np.where(targets.sum(axis=1) > 0, targets.argmax(axis=1), targets.shape[1])


def _headline(probabilities: np.ndarray, targets: np.ndarray,
              thresholds: np.ndarray) -> dict[str, float]:
    predicted = probabilities >= thresholds
    present = targets.sum(axis=0) > 0
    f1 = skm.f1_score(targets, predicted, average=None, zero_division=0.0)
    ap = [skm.average_precision_score(targets[:, k], probabilities[:, k])
          for k in np.flatnonzero(present)]
    accuracy = float(np.mean(single_label(probabilities, thresholds)
                             == _truth_single_label(targets)))
    return {"accuracy": accuracy, "macro_f1": float(np.mean(f1[present])) if present.any()
            else float("nan"), "macro_ap": float(np.mean(ap)) if ap else float("nan")}


def bootstrap_intervals(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray,
                        *, rounds: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals of the headline figures over clips resampled with replacement."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in HEADLINE}
    for _ in range(rounds):
        chosen = rng.integers(0, len(targets), len(targets))
        for name, value in _headline(probabilities[chosen], targets[chosen], thresholds).items():
            if np.isfinite(value):
                samples[name].append(value)
    return {name: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
            if values else [float("nan"), float("nan")] for name, values in samples.items()}


def classification_metrics(probabilities: np.ndarray, targets: np.ndarray, classes: list[str],
                           thresholds: np.ndarray, *, bootstrap_rounds: int = 500,
                           seed: int = 0) -> dict[str, Any]:
    """Every clip-level figure whalelab reports, as a JSON-ready dict.

    Parameters
    ----------
    probabilities, targets : numpy.ndarray
        ``(clips, classes)`` clipwise probabilities and multi-hot truth.
    classes : list of str
        Class names in output order.
    thresholds : numpy.ndarray
        ``(classes,)`` decision thresholds (chosen on validation).
    """
    if len(targets) == 0:
        raise DataError("no clips to evaluate")
    predicted = probabilities >= thresholds
    per_class = {}
    for k, name in enumerate(classes):
        truth, scores = targets[:, k], probabilities[:, k]
        has_both = 0 < truth.sum() < len(truth)
        per_class[name] = {
            "precision": float(skm.precision_score(truth, predicted[:, k], zero_division=0.0)),
            "recall": float(skm.recall_score(truth, predicted[:, k], zero_division=0.0)),
            "f1": float(skm.f1_score(truth, predicted[:, k], zero_division=0.0)),
            "average_precision": float(skm.average_precision_score(truth, scores))
            if truth.sum() > 0 else None,
            "roc_auc": float(skm.roc_auc_score(truth, scores)) if has_both else None,
            "support": int(truth.sum()),
            "threshold": float(thresholds[k]),
        }
    labels = list(classes) + [BACKGROUND]
    confusion = skm.confusion_matrix(_truth_single_label(targets),
                                     single_label(probabilities, thresholds),
                                     labels=list(range(len(labels))))
    aucs = [entry["roc_auc"] for entry in per_class.values() if entry["roc_auc"] is not None]
    return {
        **_headline(probabilities, targets, thresholds),
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "intervals_95": bootstrap_intervals(probabilities, targets, thresholds,
                                            rounds=bootstrap_rounds, seed=seed),
        "clips": int(len(targets)),
        "per_class": per_class,
        "confusion_matrix": {"labels": labels, "matrix": confusion.tolist()},
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """A small plain-text table: headline figures with intervals, then one row per class."""
    lines = [f"{'metric':<10} {'value':>7}   95% interval"]
    for name in HEADLINE:
        low, high = metrics["intervals_95"][name]
        lines.append(f"{name:<10} {metrics[name]:7.3f}   [{low:.3f}, {high:.3f}]")
    lines.append("")
    lines.append(f"{'class':<16} {'prec':>6} {'recall':>6} {'f1':>6} {'AP':>6} {'n':>5}")
    for name, entry in metrics["per_class"].items():
        ap = entry["average_precision"]
        lines.append(f"{name:<16} {entry['precision']:6.3f} {entry['recall']:6.3f} "
                     f"{entry['f1']:6.3f} {'' if ap is None else f'{ap:6.3f}':>6} "
                     f"{entry['support']:5d}")
    return "\n".join(lines)


def write_metrics(path: str | Path, metrics: dict[str, Any]) -> Path:
    """Write ``metrics.json`` atomically."""
    return write_json(path, metrics)


def run_thresholds(run_dir: str | Path, classes: list[str]) -> np.ndarray:
    """The run's per-class thresholds (``thresholds.json``), 0.5 where none was chosen."""
    path = Path(run_dir) / "thresholds.json"
    chosen = json.loads(path.read_text()) if path.is_file() else {}
    return np.array([chosen.get(name, 0.5) for name in classes])


def evaluation_index(run_dir: str | Path, config: RunConfig, data: str | None,
                     split: str) -> ClipIndex:
    """The clips of ``split``: the run's own ``splits.csv``, or another data set's split.

    Another data set's labels must be among the run's classes; its targets follow the
    run's class order.
    """
    run_dir = Path(run_dir)
    if data is None or Path(data) == Path(config.data):
        index = ClipIndex.load_csv(run_dir / "splits.csv")
    else:
        index = load_index(data, seed=config.train.seed, window_s=config.features.clip_seconds)
    unknown = sorted(set(index.classes) - set(config.classes))
    if unknown:
        raise DataError(f"{data}: labels {unknown} are not classes of the run {run_dir} "
                        f"({', '.join(config.classes)})")
    chosen = index.subset(split)
    if not chosen.clips:
        raise DataError(f"{data or config.data}: the {split!r} split holds no clips")
    return ClipIndex(clips=chosen.clips, classes=list(config.classes))


def evaluate_run(run_dir: str | Path, *, data: str | None = None, split: str = "test",
                 out: str | Path | None = None, device: str = "auto",
                 progress: bool | None = None) -> dict[str, Any]:
    """Score a run's best model on a split and write ``metrics.json`` (or ``out``).

    Parameters
    ----------
    run_dir : path
        A trained run folder.
    data : str or None
        None evaluates on the run's own split (``splits.csv``); another data set is read
        with :func:`whalelab.data.load_index`.
    split : {"test", "val", "train"}
        Which clips to score.
    """
    torch_device = resolve_device(device)
    model, config = load_run(run_dir, device=torch_device)
    index = evaluation_index(run_dir, config, data, split)
    dataset = ClipDataset(index, sample_rate=config.features.sample_rate,
                          clip_seconds=config.features.clip_seconds, train=False)
    probabilities, targets = predict_dataset(
        model, dataset, device=torch_device, batch_size=config.train.batch_size,
        amp=config.train.amp and torch_device.type == "cuda", progress=progress, desc=split)
    metrics = classification_metrics(probabilities, targets, config.classes,
                                      run_thresholds(run_dir, config.classes),
                                      seed=config.train.seed)
    metrics.update({"run": str(run_dir), "data": str(data or config.data), "split": split})
    write_metrics(out or Path(run_dir) / "metrics.json", metrics)
    return metrics
