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


def ensemble_history(members: int = 2, epochs: int = 4) -> pd.DataFrame:
    """An ensemble's history: each member's rows in turn, two seconds an epoch."""
    frames = []
    for member in range(members):
        frame = history(epochs).assign(member=member, seconds=2.0)
        frame["val_macro_ap"] -= 0.1 * member
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def dotted(ax) -> list:
    return [line for line in ax.lines if line.get_linestyle() == ":"]


def test_learning_curves_comparison_puts_each_run_in_a_column():
    densenet, probe = history(3), ensemble_history()
    fig = plots.learning_curves_comparison({"DenseNet121": densenet, "probe": probe},
                                           best_epochs={"probe": {0: 4, 1: 3}})
    dense_loss, probe_loss, dense_score, probe_score = fig.axes  # row by row
    # the columns hold their own run's data: one run's curves, each member's curves
    np.testing.assert_allclose(dense_loss.lines[1].get_ydata(), densenet["val_loss"])
    np.testing.assert_allclose(dense_score.lines[0].get_ydata(), densenet["val_macro_ap"])
    curves = [line for line in probe_score.lines if line.get_linestyle() != ":"]
    assert len(curves) == 2 * 2  # mAP and F1 of each member
    np.testing.assert_allclose(curves[2].get_ydata(),
                               probe.loc[probe.member == 1, "val_macro_ap"])
    assert curves[0].get_marker() != curves[2].get_marker()  # members told apart by style
    # titled by name, epochs and the time the history records (3 x 1 s; 2 x 4 x 2 s)
    assert dense_loss.get_title() == "DenseNet121\n3 epochs in 3 s: loss"
    assert probe_loss.get_title() == "probe\n2 x 4 epochs in 16 s: loss"
    assert probe_score.get_title() == "probe: validation"
    assert dense_score.get_ylim() == probe_score.get_ylim() == (0, 1.02)
    assert {ax.get_xlabel() for ax in fig.axes} == {"epoch"}
    # only the run given kept epochs is marked, once per epoch
    assert dotted(dense_loss) == dotted(dense_score) == []
    assert sorted(line.get_xdata()[0] for line in dotted(probe_score)) == [3, 4]


def test_learning_curves_comparison_without_seconds_names_the_epochs_only():
    fig = plots.learning_curves_comparison({"run": history(2).drop(columns="seconds"),
                                            "short": history(1).drop(columns="seconds")})
    assert [ax.get_title() for ax in fig.axes[:2]] == ["run\n2 epochs: loss",
                                                       "short\n1 epoch: loss"]


@pytest.mark.parametrize("histories, best_epochs, message", [
    ({}, None, "no training history"),
    ({"probe": history().drop(columns="val_loss")}, None, "val_loss"),
    ({"probe": history(2)}, {"probe": 7}, "best_epoch=7"),
])
def test_learning_curves_comparison_names_what_is_wrong(histories, best_epochs, message):
    with pytest.raises(DataError, match=message):
        plots.learning_curves_comparison(histories, best_epochs=best_epochs)
