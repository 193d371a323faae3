"""The field profile's split: train and val only, the test recordings kept by the user."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import soundfile

from whalelab.config import DataConfig, RunConfig
from whalelab.data import read_data
from whalelab.errors import DataError
from whalelab.evaluate import evaluation_index

RATE = 8000
CLASSES = ["fin", "minke", "seal"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """10 recordings per class, two clips (halves) of each, no split column."""
    root = tmp_path_factory.mktemp("field_split")
    rows = ["path,label,recording"]
    rng = np.random.default_rng(0)
    for name in CLASSES:
        for recording in range(10):
            for half in (1, 2):
                path = root / f"{name}_{recording}_{half}.wav"
                soundfile.write(path, 0.1 * rng.standard_normal(RATE // 4).astype(np.float32),
                                RATE)
                rows.append(f"{path},{name},{name}_{recording}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def test_a_zero_test_fraction_splits_into_train_and_val_only(manifest):
    index = read_data(DataConfig(path=str(manifest), val_fraction=0.2, test_fraction=0.0),
                      seed=0, window_s=1.0)
    splits = Counter(clip.split for clip in index.clips)
    assert set(splits) == {"train", "val"}
    assert splits["val"] == len(CLASSES) * 2 * 2  # 2 recordings of 10 a class, 2 clips each
    for name in CLASSES:  # stratified: every class in both
        assert {clip.split for clip in index.clips if clip.labels == (name,)} == {"train", "val"}
    sides = {}
    for clip in index.clips:
        sides.setdefault(clip.recording, set()).add(clip.split)
    assert all(len(side) == 1 for side in sides.values())  # grouped by recording


def test_the_default_still_keeps_a_test_split(manifest):
    index = read_data(DataConfig(path=str(manifest)), seed=0, window_s=1.0)
    assert Counter(clip.split for clip in index.clips)["test"] == len(CLASSES) * 2 * 2


def test_evaluating_a_run_without_a_test_split_asks_for_held_out_data(manifest, tmp_path):
    config = RunConfig.from_profile("field", data=manifest, classes=CLASSES, device="cpu")
    assert config.data.test_fraction == 0.0
    read_data(config.data, seed=0, window_s=1.0).save_csv(tmp_path / "splits.csv")
    with pytest.raises(DataError, match="'test' split holds no clips") as caught:
        evaluation_index(tmp_path, config, None, None)
    assert len(str(caught.value).splitlines()) == 1
    copy = tmp_path / "held_out.csv"
    copy.write_text(manifest.read_text())
    held_out = evaluation_index(tmp_path, config, str(copy), None)
    assert len(held_out.clips) == 60  # another data set (here: a copy) is scored whole
