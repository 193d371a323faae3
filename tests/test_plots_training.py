"""whalelab.plots.training: learning curves from a run's history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whalelab import plots
from whalelab.errors import DataError


def history(epochs: int = 3) -> pd.DataFrame:
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame({"epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1.2 / epoch,
                         "val_macro_ap": 1 - 1 / (epoch + 1), "val_macro_f1": 0.5 * epoch / 3,
                         "lr": 1e-3 / epoch, "seconds": 1.0, "clips_per_s": 10.0})


def test_learning_curves_draw_the_history():
    frame = history()
    fig = plots.learning_curves(frame)
    loss_ax, score_ax, lr_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), frame["val_loss"])
    np.testing.assert_allclose(score_ax.lines[0].get_ydata(), frame["val_macro_ap"])
    np.testing.assert_allclose(lr_ax.lines[0].get_ydata(), frame["lr"])
    assert {ax.get_xlabel() for ax in fig.axes} == {"epoch"}
    assert len(plots.learning_curves(history(1)).axes[0].lines[0].get_xdata()) == 1


def test_learning_curves_name_missing_columns():
    with pytest.raises(DataError, match="val_macro_ap"):
        plots.learning_curves(history().drop(columns="val_macro_ap"))


def test_learning_curves_mark_the_best_epoch_on_every_axes():
    fig = plots.learning_curves(history(4), best_epoch=3)
    for ax in fig.axes:
        (mark,) = [line for line in ax.lines if line.get_linestyle() == ":"]
        assert list(mark.get_xdata()) == [3, 3] and mark.get_label() == "kept epoch 3"
    assert "kept epoch 3" in [text.get_text() for text in fig.axes[1].get_legend().get_texts()]
    unmarked = plots.learning_curves(history(4))
    assert not [line for ax in unmarked.axes for line in ax.lines if line.get_linestyle() == ":"]


def test_learning_curves_refuse_a_best_epoch_outside_the_history():
    with pytest.raises(DataError, match="best_epoch=5"):
        plots.learning_curves(history(4), best_epoch=5)
