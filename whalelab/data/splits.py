"""Train/val/test by recording, stratified by label, from a seed; and the rotated
validation folds of an ensemble's members.

Clips of one recording (or, for long annotated recordings, of one block of it) never
fall on both sides of a split, so that a model is never scored on audio it heard in
training.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from whalelab.data.clips import Clip
from whalelab.errors import DataError


def _recordings_by_label(clips: list[Clip]) -> dict[tuple[str, ...], list[str]]:
    """Each recording under its first clip's main label (background: ``()``), sorted."""
    labels_of: dict[str, tuple[str, ...]] = {}
    for clip in clips:
        labels_of.setdefault(clip.recording, clip.labels)
    by_label: dict[tuple[str, ...], list[str]] = {}
    for recording, labels in sorted(labels_of.items()):
        by_label.setdefault(labels[:1], []).append(recording)
    return by_label


def split_by_recording(clips: list[Clip], *, seed: int, val_fraction: float = 0.15,
                       test_fraction: float = 0.15) -> list[Clip]:
    """Assign train/val/test by recording, stratified by each recording's main label.

    All clips of one recording land in the same split. Within each label the recordings
    are shuffled by ``seed``; a label with three or more recordings gets at least one in
    val and one in test, and every label keeps at least one in train.

    Examples
    --------
    >>> clips = [Clip(f"{i}.wav", labels=("a",), recording=str(i)) for i in range(20)]
    >>> splits = [clip.split for clip in split_by_recording(clips, seed=0)]
    >>> splits.count("train"), splits.count("val"), splits.count("test")
    (14, 3, 3)
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 \
            or val_fraction + test_fraction >= 1:
        raise DataError(f"val_fraction {val_fraction} and test_fraction {test_fraction} must be "
                        f"in [0, 1) and leave room for training")
    by_label = _recordings_by_label(clips)
    rng = np.random.default_rng(seed)
    split_of = {}
    for label in sorted(by_label):
        recordings = [by_label[label][i] for i in rng.permutation(len(by_label[label]))]
        count = len(recordings)
        n_test = max(round(count * test_fraction), 1 if count >= 3 and test_fraction else 0)
        n_val = max(round(count * val_fraction), 1 if count >= 3 and val_fraction else 0)
        n_val = min(n_val, count - n_test - 1) if count > n_test else 0
        for position, recording in enumerate(recordings):
            split_of[recording] = ("test" if position < n_test else
                                   "val" if position < n_test + n_val else "train")
    return [dataclasses.replace(clip, split=split_of[clip.recording]) for clip in clips]


def rotate_validation(clips: list[Clip], *, fold: int, seed: int) -> list[Clip]:
    """The clips with validation moved to fold ``fold`` of the training recordings, label
    by label, so that the members of an ensemble each learn from a different share.

    Fold 0 is the split as it is. Fold ``k`` > 0 gives each label's validation role to
    the ``k``-th block of its training recordings (shuffled by ``seed``), a block as large
    as its validation share, and trains on the validation recordings instead; a label
    whose training recordings hold no ``k``-th block (too few recordings) keeps its
    split. Test clips never move, and every member still trains on each label.

    Examples
    --------
    >>> clips = [Clip(f"{i}.wav", labels=("a",), recording=str(i), split=split)
    ...          for i, split in enumerate(["val"] + 5 * ["train"])]
    >>> [clip.split for clip in rotate_validation(clips, fold=1, seed=0)].count("val")
    1
    >>> rotate_validation(clips, fold=1, seed=0)[0].split
    'train'
    """
    if fold < 0:
        raise DataError(f"a validation fold is 0 or more, not {fold}")
    if fold == 0:
        return list(clips)
    pooled = [clip for clip in clips if clip.split in ("train", "val")]
    validation = {clip.recording for clip in pooled if clip.split == "val"}
    rng = np.random.default_rng(seed)
    split_of: dict[str, str] = {}
    for label, recordings in sorted(_recordings_by_label(pooled).items()):
        held = [recording for recording in recordings if recording in validation]
        trained = [recording for recording in recordings if recording not in validation]
        trained = [trained[i] for i in rng.permutation(len(trained))]
        block = trained[(fold - 1) * len(held):fold * len(held)]
        if held and len(block) == len(held):
            split_of.update({recording: "val" for recording in block})
            split_of.update({recording: "train" for recording in held})
    return [dataclasses.replace(clip, split=split_of[clip.recording])
            if clip.recording in split_of and clip.split != "test" else clip for clip in clips]
