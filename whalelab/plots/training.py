"""Notebook 02, training: how a run learned, from its ``history.csv``.

Examples
--------
>>> import pandas as pd
>>> history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
...                         "val_macro_ap": [0.4, 0.6], "val_macro_f1": [0.3, 0.5],
...                         "lr": [1e-3, 5e-4]})
>>> fig = learning_curves(history, best_epoch=2)
>>> [ax.get_title() for ax in fig.axes], fig.axes[1].lines[-1].get_label()
(['loss', 'validation', 'learning rate at epoch end'], 'best epoch 2')
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from whalelab.errors import DataError
from whalelab.plots.style import new_figure

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_macro_ap", "val_macro_f1", "lr")


def learning_curves(history: pd.DataFrame, *, best_epoch: int | None = None) -> Figure:
    """Loss, validation scores and learning rate per epoch from a run's ``history.csv``.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``epoch, train_loss, val_loss, val_macro_ap, val_macro_f1, lr``.
    best_epoch : int or None
        The epoch training kept as ``best.pt`` (``TrainResult.best_epoch``: chosen by the
        run's ``TrainConfig.select_metric``, the largest validation mAP by default), drawn
        as a dotted vertical line on every axes; None draws none.

    Returns
    -------
    Figure
        Three axes: losses, validation mAP and macro F1, learning rate.

    Raises
    ------
    DataError
        When ``history`` lacks a column, or has no row of ``best_epoch``.
    """
    missing = [name for name in HISTORY_COLUMNS if name not in history.columns]
    if missing:
        raise DataError(f"training history lacks columns {missing}")
    if best_epoch is not None and best_epoch not in set(history["epoch"]):
        raise DataError(f"best_epoch={best_epoch} is not an epoch of the training history "
                        f"({history['epoch'].min()}-{history['epoch'].max()})")
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
        if best_epoch is not None:
            ax.axvline(best_epoch, color="black", linestyle=":", linewidth=1.2,
                       label=f"best epoch {best_epoch}")
    for ax in (loss_ax, score_ax):
        ax.legend(fontsize="small")
    return fig
