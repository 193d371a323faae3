"""Retraining a run with what a person decided of its detections: ``whalelab train --data
REVIEWED --init RUN``.

Each decided event of a review (``review.csv`` of a ``whalelab detect`` folder,
:class:`whalelab.review.Review`) becomes a training clip of the run's clip length centred
on the event: ``true``, a clip of the event's class with the event as its call span;
another class's name, a clip of that class; ``false``, a clip known to hold no call (a
hard negative: what the run took for a call); ``unsure``, nothing. They join the run's
own clips (its ``splits.csv``) in the train split; its validation and test clips stay as
they were, so the retrained run is scored on the same clips. A review of a recording that
holds test clips of the run is refused: the test would be learnt.

Training starts from the run's weights (each member from its member's, for an ensemble)
with the run's settings. A network that learns its features (the DenseNet) is tuned for
:data:`RETRAIN_EPOCHS` epochs (the run's own where fewer) at :data:`LEARNING_RATE_SHARE`
of its learning rate; a frozen backbone's head (the probe), which retrains in seconds,
runs the run's whole schedule again. Chosen on the validation clips of the synthetic quick
set: the probe's members scored validation macro AP 0.949, 0.947, 0.947 after its whole
schedule against 0.945, 0.945, 0.943 after five epochs at a tenth (0.946, 0.946, 0.944
before); the DenseNet rose from 0.927 to 0.932 in five (its whole schedule takes as long
as its training did). ``epochs`` and ``learning_rate`` override both. The new run's
``config.json`` keeps where it came from (``TrainConfig.init``): the run folder and its
``best.pt``'s SHA-256, and each review's folder, ``review.csv`` SHA-256 and the decisions
it gave.

Examples
--------
>>> event_window(begin_s=10.0, end_s=11.0, clip_seconds=4.0, duration_s=60.0)
8.5
>>> event_window(begin_s=0.5, end_s=1.0, clip_seconds=4.0, duration_s=60.0)  # kept in the file
0.0
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from whalelab.audio import audio_info
from whalelab.backbones import BACKBONES
from whalelab.checkpoint import checkpoint_sha256
from whalelab.config import RunConfig
from whalelab.data import Clip, ClipIndex
from whalelab.detection.output import recorded_sources
from whalelab.errors import ConfigError, DataError
from whalelab.review import REVIEW, Review

#: epochs of a learning backbone's retraining from a run's weights (unless ``--epochs``)
RETRAIN_EPOCHS = 5
#: its peak learning rate as a share of the run's (unless ``--lr``)
LEARNING_RATE_SHARE = 0.1


def event_window(*, begin_s: float, end_s: float, clip_seconds: float,
                 duration_s: float) -> float:
    """Where a clip of ``clip_seconds`` centred on the event starts, moved to lie inside a
    file of ``duration_s`` seconds where it can."""
    start = (begin_s + end_s - clip_seconds) / 2
    return max(0.0, min(start, duration_s - clip_seconds))


def reviewed_clips(folder: str | Path, *, classes: Sequence[str],
                   clip_seconds: float) -> tuple[list[Clip], dict[str, Any]]:
    """The training clips of a review's decided events (module notes), and what the review
    gave: ``{"folder", "sha256" (of review.csv), "decisions": {decision: count}}``.

    Raises
    ------
    DataError
        No review in ``folder``, nothing decided, or a recording that cannot be read.
    ConfigError
        An event relabelled to, or detected as, a class the run does not know.
    """
    folder = Path(folder)
    if not (folder / REVIEW).is_file():
        raise DataError(f"{folder}: no {REVIEW}; review the detections first (notebook 06 or "
                        f"whalelab.review.Review)")
    review = Review(folder, classes=classes)
    decided = review.decided
    if decided.empty:
        raise DataError(f"{folder / REVIEW}: no event is decided yet")
    sources = recorded_sources(folder)
    clips = []
    for event in decided.itertuples(index=False):
        if event.review == "unsure":
            continue
        label = event.label if event.review in ("true", "false") else event.review
        if label not in classes:
            raise ConfigError(f"{folder / REVIEW}: {label!r} is not a class of the run "
                              f"({', '.join(classes)})")
        path = Path(sources.get(event.file, event.file))
        start = event_window(begin_s=event.begin_s, end_s=event.end_s,
                             clip_seconds=clip_seconds,
                             duration_s=audio_info(path).duration)
        call = (label, max(0.0, event.begin_s - start),
                min(clip_seconds, event.end_s - start))
        positive = event.review != "false"
        clips.append(Clip(str(path), start_s=start, duration_s=clip_seconds,
                          labels=(label,) if positive else (), recording=str(path),
                          split="train", spans=(call,) if positive else ()))
    record = {"folder": str(folder.resolve()),
              "sha256": hashlib.sha256((folder / REVIEW).read_bytes()).hexdigest(),
              "decisions": dict(Counter(decided["review"]))}
    return clips, record


def retrain_plan(init: str | Path, reviews: Sequence[str | Path],
                 **requested: Any) -> tuple[RunConfig, ClipIndex]:
    """The configuration and clips of a run retrained from ``init`` with ``reviews``
    (module notes). ``requested``: ``epochs``, ``learning_rate``, ``seed``, ``batch_size``,
    ``device``, ``num_workers``, ``compile`` (None keeps the run's, or the default above).

    Raises
    ------
    CheckpointError
        ``init`` is not a trained run folder.
    DataError
        A review fails (:func:`reviewed_clips`), or covers a recording of the run's test
        clips.
    """
    init = Path(init).resolve()
    config = RunConfig.load(init / "config.json")
    index = ClipIndex.load_csv(init / "splits.csv")
    tested = {str(Path(clip.path).resolve()) for clip in index.subset("test").clips}
    added, records = [], []
    for folder in reviews:
        clips, record = reviewed_clips(folder, classes=config.classes,
                                       clip_seconds=config.features.clip_seconds)
        leaked = sorted({str(Path(clip.path).resolve()) for clip in clips} & tested)
        if leaked:
            raise DataError(f"{folder}: reviews {leaked[0]}, which holds test clips of {init}: "
                            f"retraining on it would learn the test; review other recordings")
        added += clips
        records.append(record)
    settings = {name: value for name, value in requested.items() if value is not None}
    tuned = not BACKBONES[config.model.backbone].frozen  # else the whole schedule again
    train = dataclasses.replace(
        config.train,
        epochs=settings.pop("epochs", min(RETRAIN_EPOCHS, config.train.epochs) if tuned
                            else config.train.epochs),
        learning_rate=settings.pop("learning_rate", config.train.learning_rate
                                   * (LEARNING_RATE_SHARE if tuned else 1.0)),
        init={"run": str(init), "sha256": checkpoint_sha256(init / "best.pt"),
              "reviews": records}, **settings)
    return (dataclasses.replace(config, train=train),
            ClipIndex(index.clips + added, index.classes))
