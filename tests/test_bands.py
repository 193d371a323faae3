"""Class bands: from Raven annotations, from a data set's bands.json, clipped to the run's range."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from whalelab.audio import write_audio
from whalelab.bands import (BANDS_FILE, annotated_bands, class_bands, dataset_bands, read_bands,
                            write_bands)
from whalelab.errors import DataError
from whalelab.raven import write_raven

RATE = 8000


def _boxes(begin_s, low_hz, high_hz, labels) -> pd.DataFrame:
    begin_s = np.asarray(begin_s, dtype=float)
    return pd.DataFrame({"begin_s": begin_s, "end_s": begin_s + 1.0, "low_hz": low_hz,
                         "high_hz": high_hz, "label": labels})


def _annotated(folder, name, boxes: pd.DataFrame, *, seconds: float | None = None) -> None:
    """A recording (silent: its audio does not matter here) with its Raven table beside it,
    ``seconds`` long (default: a second past its last box)."""
    seconds = float(boxes["end_s"].max()) + 1.0 if seconds is None else seconds
    write_audio(folder / f"{name}.wav", np.zeros(int(seconds * RATE), dtype=np.float32), RATE)
    write_raven(boxes, folder / f"{name}.selections.txt")


def _fin_and_right(folder) -> None:
    _annotated(folder, "b", _boxes([10.0, 31.0, 62.0], [50.0] * 3, [200.0] * 3,
                                   ["right", "fin", "right"]))


def test_class_bands_come_from_the_annotations_without_one_careless_box(tmp_path):
    low = [50.0] * 19 + [1.0]  # one box drawn down to 1 Hz
    high = [200.0 + k for k in range(20)]
    _annotated(tmp_path, "a", _boxes(np.arange(20) * 5.0, low, high, ["right"] * 20))
    _fin_and_right(tmp_path)  # fin 50-200 Hz, and more right whales
    bands = annotated_bands(tmp_path)
    assert set(bands) == {"fin", "right"}
    assert bands["fin"] == (50.0, 200.0)
    assert 45.0 < bands["right"][0] <= 50.0  # the 1 Hz box does not stretch the band
    assert 215.0 < bands["right"][1] <= 219.0
    assert annotated_bands(tmp_path, coverage=1.0)["right"] == (1.0, 219.0)
    assert annotated_bands(tmp_path / "a.wav") == {} and annotated_bands(tmp_path / "x") == {}


def test_bands_file_round_trip(tmp_path):
    bands = {"fin": (15.0, 30.0), "humpback": (np.float32(80.0), 4000)}
    path = write_bands(tmp_path, bands)
    assert path == tmp_path / BANDS_FILE
    assert json.loads(path.read_text()) == {"bands": {"fin": [15.0, 30.0],
                                                      "humpback": [80.0, 4000.0]}}
    back = read_bands(tmp_path)
    assert back == {"fin": (15.0, 30.0), "humpback": (80.0, 4000.0)}
    assert all(type(edge) is float for band in back.values() for edge in band)
    assert read_bands(tmp_path / "elsewhere") == {}


@pytest.mark.parametrize("text", [
    "{not json",
    '{"fin": [15, 30]}',  # no "bands" key
    '{"bands": {"fin": [15]}}',
    '{"bands": {"fin": ["low", "high"]}}',
    '{"bands": [[15, 30]]}',
    '{"bands": {"fin": [30, 15]}}',  # low above high
    '{"bands": {"fin": [-5, 15]}}',
])
def test_a_malformed_bands_file_is_named(tmp_path, text):
    (tmp_path / BANDS_FILE).write_text(text)
    with pytest.raises(DataError, match=re.escape(str(tmp_path / BANDS_FILE))):
        read_bands(tmp_path)


def test_dataset_bands_prefer_the_annotations_then_the_bands_file(tmp_path):
    write_bands(tmp_path, {"fin": (1.0, 2.0), "blue": (10.0, 60.0)})
    assert dataset_bands(tmp_path) == {"fin": (1.0, 2.0), "blue": (10.0, 60.0)}
    _fin_and_right(tmp_path)
    assert dataset_bands(tmp_path) == annotated_bands(tmp_path) == {
        "fin": (50.0, 200.0), "right": (50.0, 200.0)}
    assert dataset_bands(tmp_path / "nothing here") == {}


def test_dataset_bands_of_a_manifest_are_read_beside_it(tmp_path):
    (tmp_path / "m.csv").write_text("path,label\na.wav,fin\n")
    assert dataset_bands(tmp_path / "m.csv") == {}
    write_bands(tmp_path, {"fin": (15.0, 30.0)})
    assert dataset_bands(tmp_path / "m.csv") == {"fin": (15.0, 30.0)}
    _fin_and_right(tmp_path)
    assert dataset_bands(tmp_path / "m.csv") == annotated_bands(tmp_path)


def test_dataset_bands_use_the_label_column_of_the_annotations(tmp_path):
    boxes = _boxes([1.0], [50.0], [200.0], ["fin"])
    write_audio(tmp_path / "a.wav", np.zeros(3 * RATE, dtype=np.float32), RATE)
    write_raven(boxes, tmp_path / "a.selections.txt", label_column="Call")
    assert dataset_bands(tmp_path, label_column="Call") == {"fin": (50.0, 200.0)}


def test_class_bands_are_clipped_to_the_run_range_in_class_order():
    known = {"low": (2.0, 50.0), "wide": (1.0, 9000.0), "inside": (100.0, 200.0),
             "unused": (5.0, 6.0)}
    bands = class_bands(["wide", "inside", "low", "unknown"], known, fmin=10.0, fmax=4000.0)
    assert list(bands) == ["wide", "inside", "low", "unknown"]
    assert bands == {"wide": (10.0, 4000.0), "inside": (100.0, 200.0), "low": (10.0, 50.0),
                     "unknown": (10.0, 4000.0)}


def test_bands_are_estimated_from_clips_with_labels_alone(tmp_path):
    """No spans: whole clips count for their class, background clips are the reference."""
    from whalelab.bands import estimate_bands
    from whalelab.config import FeatureConfig
    from whalelab.data import Clip, ClipIndex

    rng = np.random.default_rng(0)
    t = np.arange(RATE * 2) / RATE
    clips = []
    for i in range(4):
        for name, frequency in (("whistle", 1200.0), ("moan", 150.0), ("", 0.0)):
            signal = 0.05 * rng.standard_normal(t.size)
            if name:
                signal += 0.3 * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 6))
            path = tmp_path / f"{name or 'quiet'}_{i}.wav"
            write_audio(path, signal.astype(np.float32), RATE)
            clips.append(Clip(str(path), labels=(name,) if name else ()))
    features = FeatureConfig(clip_seconds=2.0)
    bands = estimate_bands(ClipIndex(clips, ["moan", "whistle"]), features)
    assert bands["whistle"][0] <= 1200.0 <= bands["whistle"][1] < 1400.0
    assert 100.0 < bands["moan"][0] <= 150.0 <= bands["moan"][1] < 300.0
    assert estimate_bands(ClipIndex(clips[2::3], ["moan"]), features) == {}  # no moan clip


def test_a_selection_past_the_recording_s_end_is_left_out_of_the_band_with_a_warning(tmp_path):
    """Ten boxes at 50-200 Hz, and one from another recording, at 14-2176 Hz, past the end."""
    boxes = _boxes([*np.arange(10) * 2.0, 40.0], [50.0] * 10 + [14.0], [200.0] * 10 + [2176.0],
                   ["fin"] * 11)
    _annotated(tmp_path, "a", boxes, seconds=30.0)
    with pytest.warns(UserWarning, match=r"a.selections.txt: 1 selection\(s\) run past the end "
                                         r".* first selection 11 at 40-41 s"):
        assert annotated_bands(tmp_path) == {"fin": (50.0, 200.0)}


def test_bands_estimated_from_fewer_than_ten_clips_a_class_are_warned_of(tmp_path, tone_tree):
    from whalelab.config import RunConfig
    from whalelab.data import Clip, ClipIndex
    from whalelab.training import run_bands

    tree = tone_tree(tmp_path / "tree", seed=0)
    clips = [Clip(str(path), labels=() if path.parent.name == "background"
                  else (path.parent.name,), split="train") for path in sorted(tree.rglob("*.wav"))]
    index = ClipIndex(clips, ["high", "low"])
    config = RunConfig.from_profile("smoke", data=tree, classes=index.classes, clip_seconds=1.0)
    with pytest.warns(UserWarning) as caught:
        run_bands(config, index, progress=False)
    messages = [str(warning.message) for warning in caught]
    for name in ("high", "low"):
        assert any(f"band of '{name}' is estimated from only 6 clip(s) (fewer than 10)" in message
                   and "bands.json" in message and "Raven" in message for message in messages)
    write_bands(tree, {"high": (1900.0, 2100.0)})  # stated: no warning for it
    with pytest.warns(UserWarning) as caught:
        run_bands(config, index, progress=False)
    assert [str(warning.message).split("band of ")[1][:5] for warning in caught] == ["'low'"]
