"""Notebook 02, training: how a run learned, from its ``history.csv``; runs side by side.

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


BestEpoch = int | Mapping[int, int] | None


def _members(history: pd.DataFrame) -> dict:
    """``{member: rows}`` of a history (``{None: history}`` for one network), its columns
    checked."""
    missing = [name for name in HISTORY_COLUMNS if name not in history.columns]
    if missing:
        raise DataError(f"training history lacks columns {missing}")
    return dict(iter(history.groupby("member"))) if "member" in history.columns \
        else {None: history}


def _marks(runs: Mapping, best_epoch: BestEpoch) -> dict[int, list]:
    """``{epoch: members that kept it}`` of ``best_epoch``, each checked against ``runs``."""
    marks = {} if best_epoch is None else \
        dict(best_epoch) if isinstance(best_epoch, Mapping) else {None: best_epoch}
    by_epoch: dict[int, list] = {}  # one mark per epoch, naming the members that kept it
    for member, epoch in marks.items():
        if member not in runs or epoch not in set(runs[member]["epoch"]):
            raise DataError(f"best_epoch={epoch} is not an epoch of the training history"
                            f"{'' if member is None else f' of member {member}'}")
        by_epoch.setdefault(epoch, []).append(member)
    return by_epoch


def _draw_curves(loss_ax, score_ax, lr_ax, runs: Mapping) -> None:
    """Each member's losses, validation scores and (where ``lr_ax``) learning rate, one
    line style a member, one colour a quantity."""
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
        if lr_ax is not None:
            lr_ax.plot(epoch, run["lr"], style, color="tab:gray",
                       label=None if member is None else f"member {member}")
    loss_ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    score_ax.set(xlabel="epoch", ylabel="score", ylim=(0, 1.02), title="validation")


def _draw_marks(axes, by_epoch: Mapping[int, list]) -> None:
    """The kept epochs as dotted vertical lines on ``axes``, with integer epoch ticks."""
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for epoch, members in by_epoch.items():
            named = [member for member in members if member is not None]
            ax.axvline(epoch, color="black", linestyle=":", linewidth=1.2,
                       label=f"kept epoch {epoch}" + (
                           f" (member{'s' if len(named) > 1 else ''} "
                           f"{', '.join(map(str, named))})" if named else ""))


def learning_curves(history: pd.DataFrame, *, best_epoch: BestEpoch = None) -> Figure:
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
    runs = _members(history)
    by_epoch = _marks(runs, best_epoch)
    fig = new_figure(12, 3.4)
    loss_ax, score_ax, lr_ax = fig.subplots(1, 3)
    _draw_curves(loss_ax, score_ax, lr_ax, runs)
    lr_ax.set(xlabel="epoch", ylabel="learning rate", title="learning rate at epoch end")
    _draw_marks((loss_ax, score_ax, lr_ax), by_epoch)
    for ax in (loss_ax, score_ax) + ((lr_ax,) if len(runs) > 1 else ()):
        ax.legend(fontsize="small")
    return fig


def _trained_in(history: pd.DataFrame) -> str:
    """``20 epochs in 812 s`` (``3 x 30 epochs`` for an ensemble, ``1 epoch`` for one),
    with the ``seconds`` each epoch took where the history has them."""
    members = history["member"].nunique() if "member" in history.columns else 1
    epochs = len(history) // members
    text = (f"{members} x " if members > 1 else "") + f"{epochs} epoch{'s' * (epochs != 1)}"
    if "seconds" in history.columns:
        text += f" in {float(history['seconds'].sum()):.0f} s"
    return text


def learning_curves_comparison(histories: Mapping[str, pd.DataFrame], *,
                               best_epochs: Mapping[str, BestEpoch] | None = None) -> Figure:
    """Several runs' learning curves side by side: a column each, loss above validation.

    Drawn as :func:`learning_curves` draws one run (an ensemble's members in their own
    line styles, kept epochs dotted), without the learning rate; each column is titled by
    the run's name, its epochs and, where the history has them, its training time (the
    sum of its ``seconds``). Scores share the 0-1 scale; losses keep their own (a run that
    weighs its classes has larger ones).

    Parameters
    ----------
    histories : mapping of str to pandas.DataFrame
        Each run's ``history.csv`` by the name to show, in column order.
    best_epochs : mapping of str to int, dict or None, or None
        Each run's kept epochs, as :func:`learning_curves`'s ``best_epoch``; a run
        missing from it gets no mark.

    Returns
    -------
    Figure
        ``2 * len(histories)`` axes: the losses in the first row, validation mAP and
        macro F1 in the second.

    Raises
    ------
    DataError
        When there is no history, one lacks a column, or a best epoch is not in its
        history.

    Examples
    --------
    >>> history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5],
    ...                         "val_loss": [1.1, 0.7], "val_macro_ap": [0.4, 0.6],
    ...                         "val_macro_f1": [0.3, 0.5], "lr": [1e-3, 5e-4],
    ...                         "seconds": [300.0, 290.0]})
    >>> fig = learning_curves_comparison({"DenseNet121": history, "probe": history})
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes[:2]], fig.axes[0].get_title()
    (['DenseNet121', 'probe'], 'DenseNet121\\n2 epochs in 590 s: loss')
    """
    if not histories:
        raise DataError("learning_curves_comparison: no training history to draw")
    best_epochs = best_epochs or {}
    fig = new_figure(5.5 * len(histories), 6)
    axes = fig.subplots(2, len(histories), squeeze=False)
    for (name, history), (loss_ax, score_ax) in zip(histories.items(), axes.T):
        runs = _members(history)
        by_epoch = _marks(runs, best_epochs.get(name))
        _draw_curves(loss_ax, score_ax, None, runs)
        _draw_marks((loss_ax, score_ax), by_epoch)
        loss_ax.set_title(f"{name}\n{_trained_in(history)}: loss")
        score_ax.set_title(f"{name}: validation")
        for ax in (loss_ax, score_ax):
            ax.title.set_fontsize("medium")
            ax.legend(fontsize="small")
    return fig
