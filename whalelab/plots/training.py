"""Notebook 02, training: how a run learned, from its ``history.csv``.

Examples
--------
>>> import pandas as pd
>>> history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
...                         "val_macro_ap": [0.4, 0.6], "val_macro_f1": [0.3, 0.5],
...                         "lr": [1e-3, 5e-4]})
>>> fig = learning_curves(history, best_epoch=2)
>>> [ax.get_title() for ax in fig.axes], fig.axes[1].lines[-1].get_label()
(['loss', 'validation', 'learning rate at epoch end'], 'kept epoch 2')
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from whalelab.errors import DataError
from whalelab.plots.style import new_figure

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_macro_ap", "val_macro_f1", "lr")
#: line styles of an ensemble's members, in member order (one run: the first); none is
#: dotted, the best epochs' style
MEMBER_STYLES = ["o-", "s--", "^-.", "v-", "D--"]


def learning_curves(history: pd.DataFrame, *,
                    best_epoch: int | Mapping[int, int] | None = None) -> Figure:
    """Loss, validation scores and learning rate per epoch from a run's ``history.csv``.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``epoch, train_loss, val_loss, val_macro_ap, val_macro_f1, lr``; an
        ensemble's has a ``member`` column too, and each member is drawn as its own
        curves (solid, dashed, dash-dotted ..., one colour per quantity).
    best_epoch : int, dict or None
        The epoch training kept as ``best.pt`` (``TrainResult.best_epochs``: chosen by the
        run's ``TrainConfig.select_metric``, the largest validation mAP by default, or the
        last with ``keep="last"``), drawn as a dotted vertical line on every axes, labelled
        ``kept epoch N``; for an ensemble ``{member: epoch}``, one line per epoch naming
        its members; None draws none.

    Returns
    -------
    Figure
        Three axes: losses, validation mAP and macro F1, learning rate.

    Raises
    ------
    DataError
        When ``history`` lacks a column, or has no row of a best epoch.
    """
    missing = [name for name in HISTORY_COLUMNS if name not in history.columns]
    if missing:
        raise DataError(f"training history lacks columns {missing}")
    runs = dict(iter(history.groupby("member"))) if "member" in history.columns \
        else {None: history}
    marks = {} if best_epoch is None else \
        dict(best_epoch) if isinstance(best_epoch, Mapping) else {None: best_epoch}
    for member, epoch in marks.items():
        if member not in runs or epoch not in set(runs[member]["epoch"]):
            raise DataError(f"best_epoch={epoch} is not an epoch of the training history"
                            f"{'' if member is None else f' of member {member}'}")
    fig = new_figure(12, 3.4)
    loss_ax, score_ax, lr_ax = fig.subplots(1, 3)
    for (member, run), style in zip(runs.items(), MEMBER_STYLES * len(runs)):
        first = member == next(iter(runs))  # quantities are named once; members by style
        epoch = run["epoch"]
        loss_ax.plot(epoch, run["train_loss"], style, color="tab:blue",
                     label="train" if first else None)
        loss_ax.plot(epoch, run["val_loss"], style, color="tab:orange",
                     label="validation" if first else None)
        score_ax.plot(epoch, run["val_macro_ap"], style, color="tab:blue",
                      label="macro AP (mAP)" if first else None)
        score_ax.plot(epoch, run["val_macro_f1"], style, color="tab:orange",
                      label="macro F1 at 0.5" if first else None)
        lr_ax.plot(epoch, run["lr"], style, color="tab:gray",
                   label=None if member is None else f"member {member}")
    loss_ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    score_ax.set(xlabel="epoch", ylabel="score", ylim=(0, 1.02), title="validation")
    lr_ax.set(xlabel="epoch", ylabel="learning rate", title="learning rate at epoch end")
    by_epoch: dict[int, list] = {}  # one mark per epoch, naming the members that kept it
    for member, epoch in marks.items():
        by_epoch.setdefault(epoch, []).append(member)
    for ax in (loss_ax, score_ax, lr_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for epoch, members in by_epoch.items():
            named = [member for member in members if member is not None]
            ax.axvline(epoch, color="black", linestyle=":", linewidth=1.2,
                       label=f"kept epoch {epoch}" + (
                           f" (member{'s' if len(named) > 1 else ''} "
                           f"{', '.join(map(str, named))})" if named else ""))
    for ax in (loss_ax, score_ax) + ((lr_ax,) if len(runs) > 1 else ()):
        ax.legend(fontsize="small")
    return fig
