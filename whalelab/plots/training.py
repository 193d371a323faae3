"""Notebook 02, training: how a run learned, from its ``history.csv``.

Examples
--------
>>> import pandas as pd
>>> history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
...                         "val_macro_ap": [0.4, 0.6], "val_macro_f1": [0.3, 0.5],
...                         "lr": [1e-3, 5e-4]})
>>> [ax.get_title() for ax in learning_curves(history).axes]
['loss', 'validation', 'learning rate at epoch end']
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from whalelab.errors import DataError
from whalelab.plots.style import new_figure

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_macro_ap", "val_macro_f1", "lr")


def learning_curves(history: pd.DataFrame) -> Figure:
    """Loss, validation scores and learning rate per epoch from a run's ``history.csv``.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``epoch, train_loss, val_loss, val_macro_ap, val_macro_f1, lr``.

    Returns
    -------
    Figure
        Three axes: losses, validation mAP and macro F1, learning rate.
    """
    missing = [name for name in HISTORY_COLUMNS if name not in history.columns]
    if missing:
        raise DataError(f"training history lacks columns {missing}")
    epoch = history["epoch"]
    fig = new_figure(12, 3.4)
    loss_ax, score_ax, lr_ax = fig.subplots(1, 3)
    loss_ax.plot(epoch, history["train_loss"], "o-", label="train")
    loss_ax.plot(epoch, history["val_loss"], "o-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    score_ax.plot(epoch, history["val_macro_ap"], "o-", label="macro AP (mAP)")
    score_ax.plot(epoch, history["val_macro_f1"], "o-", label="macro F1 at 0.5")
    score_ax.set(xlabel="epoch", ylabel="score", ylim=(0, 1.02), title="validation")
    lr_ax.plot(epoch, history["lr"], "o-", color="tab:gray")
    lr_ax.set(xlabel="epoch", ylabel="learning rate", title="learning rate at epoch end")
    for ax in (loss_ax, score_ax, lr_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (loss_ax, score_ax):
        ax.legend(fontsize="small")
    return fig
