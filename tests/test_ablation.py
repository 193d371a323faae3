"""whalelab.training.ablation: the side-by-side trainings summed up in one table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whalelab.metrics.localisation import localisation_metrics
from whalelab.training.ablation import comparison_table


def history(folder, val_map: list[float]) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame({"epoch": np.arange(1, len(val_map) + 1), "val_macro_ap": val_map,
                  "seconds": np.full(len(val_map), 2.5)}).to_csv(folder / "history.csv",
                                                                  index=False)


def test_each_mode_gets_one_row_of_its_training_and_its_held_out_scores(tmp_path):
    history(tmp_path / "ablation" / "clamp", [0.5, 0.8, 0.7])
    history(tmp_path / "ablation" / "tanh", [0.6, 0.65])
    truth = np.array([0, 0, 1, 1, 0, 0, 0, 0], float).reshape(1, 8, 1)
    where = {"clamp": [[[0.1, 0.7, 0.1, 0.1]]], "tanh": [[[0.25, 0.25, 0.25, 0.25]]]}
    metrics = {mode: {"macro_ap": ap, "localisation": localisation_metrics(
        truth, where[mode], truth, [True], [[1]], classes=["upcall"], frames_per_second=10,
        segment_frames=2)} for mode, ap in (("clamp", 0.9), ("tanh", 0.85))}
    table = comparison_table(tmp_path, metrics)
    assert list(table.index) == ["clamp", "tanh"]
    assert table.loc["clamp", ["epochs", "best_epoch", "val_macro_ap", "train_s"]].tolist() \
        == pytest.approx([3, 2, 0.8, 7.5])
    assert table.loc["tanh", ["epochs", "best_epoch", "val_macro_ap", "train_s"]].tolist() \
        == pytest.approx([2, 2, 0.65, 5.0])
    assert table["macro_ap"].tolist() == [0.9, 0.85]
    assert table["attention_on_call"].tolist() == pytest.approx([0.7, 0.25])
    assert table["flat_share"].tolist() == pytest.approx([0.25, 0.25])
    assert table.loc["clamp", "pairs"] == 1 and table["pairs"].dtype.kind == "i"


def test_without_known_call_spans_the_row_holds_the_clip_figures_alone(tmp_path):
    history(tmp_path / "ablation" / "clamp", [0.5])
    table = comparison_table(tmp_path, {"clamp": {"macro_ap": 0.7}})
    assert list(table.columns) == ["epochs", "best_epoch", "val_macro_ap", "train_s", "macro_ap"]
