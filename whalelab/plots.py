"""The figures the notebooks show: data in, :class:`matplotlib.figure.Figure` out.

Every function builds its own Figure without pyplot, so nothing is drawn twice in a
notebook, nothing leaks between calls and the module works under any backend; a
notebook shows a figure by leaving it as a cell's last expression. Time runs along x
in seconds and frequency along y in Hz.

Arrays may be numpy arrays or torch tensors (detached and moved to the CPU here).
Spectrogram-like inputs follow whalelab's layout: ``(time, freq)`` or ``(time, mel)``.

Examples
--------
>>> import numpy as np
>>> fig = waveform(np.zeros(8000), sample_rate=8000)
>>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
('time (s)', 'amplitude (full scale)')
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import librosa
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn import metrics as skm

from whalelab.errors import DataError, WhaleLabError
from whalelab.features import LogmelFilterBank, Spectrogram, power_to_db
from whalelab.model import DENSENET_TIME_STRIDE

CMAP = "magma"
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_macro_ap", "val_macro_f1", "lr")


def _numpy(values: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a float numpy array."""
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def _image(values: Any) -> np.ndarray:
    """``(time, bins)`` from ``(time, bins)`` or ``(1, time, bins)``."""
    values = _numpy(values)
    return values[0] if values.ndim == 3 and values.shape[0] == 1 else values


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def _db(power: np.ndarray, **settings: Any) -> np.ndarray:
    """whalelab's ``power_to_db`` on one example (``top_db`` against its own peak)."""
    return power_to_db(torch.as_tensor(power, dtype=torch.float32)[None], **settings)[0].numpy()


def _frame_extent(frames: int, *, sample_rate: int, hop_length: int) -> tuple[float, float]:
    """Time span of ``frames`` centred frames (frame t is centred on t * hop / sr)."""
    step = hop_length / sample_rate
    return -step / 2, (frames - 0.5) * step


def _draw_linear(ax, power_db: np.ndarray, *, sample_rate: int, hop_length: int, **style):
    """A ``(time, freq)`` STFT image on a linear Hz axis; returns the image."""
    frames, bins = power_db.shape
    bin_hz = sample_rate / (2 * (bins - 1))
    image = ax.imshow(power_db.T, origin="lower", aspect="auto", cmap=CMAP,
                      interpolation="nearest", **style,
                      extent=(*_frame_extent(frames, sample_rate=sample_rate,
                                             hop_length=hop_length),
                              -bin_hz / 2, (bins - 0.5) * bin_hz))
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")
    return image


def _draw_logmel(ax, values: np.ndarray, *, sample_rate: int, hop_length: int, fmin: float,
                 fmax: float, htk: bool, **style):
    """A ``(time, mel)`` image whose y ticks name band centres in Hz; returns the image."""
    frames, n_mels = values.shape
    image = ax.imshow(values.T, origin="lower", aspect="auto", cmap=CMAP,
                      interpolation="nearest", **style,
                      extent=(*_frame_extent(frames, sample_rate=sample_rate,
                                             hop_length=hop_length), 0, n_mels))
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)[1:-1]
    ticks = np.unique(np.linspace(0, n_mels - 1, min(n_mels, 6)).round().astype(int))
    ax.set_yticks(ticks + 0.5, [f"{centres[t]:.0f}" for t in ticks])
    ax.set(xlabel="time (s)", ylabel="frequency (Hz, mel scale)")
    return image


def waveform(samples: Any, *, sample_rate: int, title: str = "waveform") -> Figure:
    """The pressure signal against time: one axes.

    Parameters
    ----------
    samples : array, ``(samples,)``
        The waveform, full scale = 1.
    sample_rate : int
        Hz.
    """
    samples = _numpy(samples)
    fig = _figure(9, 2.6)
    ax = fig.subplots()
    ax.plot(np.arange(len(samples)) / sample_rate, samples, linewidth=0.5)
    ax.set(xlabel="time (s)", ylabel="amplitude (full scale)", title=title,
           xlim=(0, len(samples) / sample_rate))
    return fig


def framing(samples: Any, *, sample_rate: int, n_fft: int, hop_length: int, frames: int = 4,
            centre_s: float | None = None) -> Figure:
    """How the STFT cuts a waveform into overlapping frames, each tapered by a Hann window.

    Top: ``frames`` consecutive frames around ``centre_s`` with their windows drawn over
    the waveform. Bottom: the middle frame before and after windowing. Two axes.

    Parameters
    ----------
    samples : array, ``(samples,)``
        The waveform.
    n_fft, hop_length : int
        Frame length and hop in samples.
    centre_s : float or None
        Where to look, in seconds; None picks the loudest sample.

    Examples
    --------
    >>> fig = framing(np.random.default_rng(0).standard_normal(8000), sample_rate=8000,
    ...               n_fft=512, hop_length=128)
    >>> len(fig.axes), len(fig.axes[0].lines)
    (2, 5)
    """
    samples = _numpy(samples)
    window = Spectrogram(n_fft=n_fft, hop_length=hop_length).window.numpy()  # (n_fft,)
    centre = int(np.argmax(np.abs(samples))) if centre_s is None else int(centre_s * sample_rate)
    half = n_fft // 2
    first = min(max(math.ceil(half / hop_length), round(centre / hop_length) - frames // 2),
                (len(samples) - half) // hop_length - frames + 1)
    if first * hop_length < half:
        raise DataError(f"{len(samples)} samples are too few for {frames} frames of "
                        f"n_fft={n_fft}, hop_length={hop_length}")
    start, stop = first * hop_length - half, (first + frames - 1) * hop_length + half
    time = np.arange(start, stop) / sample_rate
    excerpt = samples[start:stop]
    scale = np.abs(excerpt).max() or 1.0
    fig = _figure(9, 5)
    top, bottom = fig.subplots(2, 1)
    top.plot(time, excerpt, color="0.3", linewidth=0.7, label="waveform")
    for k in range(frames):
        left = (first + k) * hop_length - half
        top.plot(np.arange(left, left + n_fft) / sample_rate, scale * window, linestyle="--",
                 label=f"frame {first + k}")
    top.set(xlabel="time (s)", ylabel="amplitude (full scale)",
            title=f"frames of n_fft={n_fft} samples ({1000 * n_fft / sample_rate:.0f} ms), "
                  f"hop {hop_length} ({1000 * hop_length / sample_rate:.0f} ms)")
    top.legend(loc="upper right", fontsize="small")
    middle = (first + frames // 2) * hop_length - half
    frame = samples[middle:middle + n_fft]
    frame_time = np.arange(middle, middle + n_fft) / sample_rate
    bottom.plot(frame_time, frame, color="0.6", linewidth=0.7, label="frame")
    bottom.plot(frame_time, frame * window, linewidth=0.9, label="frame x Hann window")
    bottom.set(xlabel="time (s)", ylabel="amplitude (full scale)",
               title="the Hann window tapers the frame to zero at both ends: "
                     "less spectral leakage")
    bottom.legend(loc="upper right", fontsize="small")
    return fig


def spectrogram(power: Any, *, sample_rate: int, hop_length: int, top_db: float = 80.0,
                title: str = "") -> Figure:
    """An STFT power spectrogram on a linear scale and in dB, side by side.

    Parameters
    ----------
    power : array, ``(time, freq)`` or ``(1, time, freq)``
        Power, ``freq = n_fft // 2 + 1`` bins from 0 to ``sample_rate / 2``.
    top_db : float
        Dynamic range of the dB panel.

    Returns
    -------
    Figure
        Two image axes, each with a colour bar (four axes).
    """
    power = _image(power)
    fig = _figure(11, 3.6)
    linear_ax, db_ax = fig.subplots(1, 2)
    image = _draw_linear(linear_ax, power, sample_rate=sample_rate, hop_length=hop_length)
    fig.colorbar(image, ax=linear_ax, label="power")
    linear_ax.set_title("power: a few loud bins hide everything else")
    image = _draw_linear(db_ax, _db(power, top_db=top_db), sample_rate=sample_rate,
                         hop_length=hop_length)
    fig.colorbar(image, ax=db_ax, label="dB")
    db_ax.set_title(f"10 log10(power), top {top_db:g} dB: quiet structure appears")
    if title:
        fig.suptitle(title)
    return fig


def mel_filterbank(weights: Any, *, sample_rate: int) -> Figure:
    """The mel filters themselves and where their centres fall.

    Parameters
    ----------
    weights : array, ``(mel, freq)``
        Filter weights as ``librosa.filters.mel`` returns them (whalelab's
        ``LogmelFilterBank.melW`` is the transpose).

    Returns
    -------
    Figure
        Left: one line per filter against frequency in Hz. Right: each band's centre
        frequency, linear below about 1 kHz and logarithmic above.

    Examples
    --------
    >>> fig = mel_filterbank(librosa.filters.mel(sr=8000, n_fft=512, n_mels=16),
    ...                      sample_rate=8000)
    >>> len(fig.axes[0].lines)
    16
    """
    weights = _numpy(weights)
    hz = np.linspace(0, sample_rate / 2, weights.shape[1])
    fig = _figure(11, 3.6)
    filters_ax, centres_ax = fig.subplots(1, 2)
    filters_ax.plot(hz, weights.T, linewidth=0.8)
    filters_ax.set(xlabel="frequency (Hz)", ylabel="weight (Slaney area-normalised)",
                   title=f"{len(weights)} triangular mel filters")
    centres = hz[weights.argmax(axis=1)]
    centres_ax.plot(np.arange(len(weights)), centres, "o-", markersize=3)
    centres_ax.set(xlabel="mel band", ylabel="centre frequency (Hz)",
                   title="narrow bands at low frequency, wide ones high up")
    return fig


def logmel(values: Any, *, sample_rate: int, hop_length: int, fmin: float, fmax: float,
           htk: bool = True, title: str = "log-mel spectrogram", unit: str = "dB") -> Figure:
    """One log-mel spectrogram with a colour bar (two axes).

    Parameters
    ----------
    values : array, ``(time, mel)`` or ``(1, time, mel)``
        dB (or normalised) values.
    fmin, fmax : float
        The filterbank's band edges in Hz, for the frequency ticks.
    htk : bool
        The filterbank's mel scale (``FeatureConfig.htk``), for the frequency ticks.

    Examples
    --------
    >>> fig = logmel(np.zeros((100, 32)), sample_rate=8000, hop_length=128, fmin=10,
    ...              fmax=4000)
    >>> fig.axes[0].images[0].get_array().shape
    (32, 100)
    """
    fig = _figure(9, 3.4)
    ax = fig.subplots()
    image = _draw_logmel(ax, _image(values), sample_rate=sample_rate, hop_length=hop_length,
                         fmin=fmin, fmax=fmax, htk=htk)
    fig.colorbar(image, ax=ax, label=unit)
    ax.set_title(title)
    return fig


def logmel_grid(images: Sequence[Any], *, titles: Sequence[str], sample_rate: int,
                hop_length: int, fmin: float, fmax: float, htk: bool = True,
                columns: int = 3) -> Figure:
    """Several log-mel spectrograms in a grid, one titled axes each.

    Parameters
    ----------
    images : sequence of arrays, each ``(time, mel)`` or ``(1, time, mel)``
        Clips may differ in length.
    titles : sequence of str
        One per image.

    Examples
    --------
    >>> fig = logmel_grid([np.zeros((50, 16))] * 4, titles=list("abcd"), sample_rate=8000,
    ...                   hop_length=128, fmin=10, fmax=4000)
    >>> [ax.get_title() for ax in fig.axes]
    ['a', 'b', 'c', 'd']
    """
    if len(images) != len(titles):
        raise DataError(f"{len(images)} images but {len(titles)} titles")
    if not images:
        fig = _figure(6, 1.2)
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center")
        return fig
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    fig = _figure(4.2 * columns, 2.9 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, values, title in zip(axes, images, titles):
        _draw_logmel(ax, _image(values), sample_rate=sample_rate, hop_length=hop_length,
                     fmin=fmin, fmax=fmax, htk=htk)
        ax.set_title(title, fontsize="medium")
    for ax in axes[len(images):]:
        ax.remove()
    return fig


def _describe(setting: Mapping[str, Any], *, peak: float) -> str:
    """``ref=peak, amin=1e-10, top_db=None``: a power_to_db setting as a short title."""
    def text(name: str, value: Any) -> str:
        if value is None:
            return "None"
        return "peak" if name == "ref" and value == peak != 1.0 else f"{value:.3g}"
    return ", ".join(f"{name}={text(name, value)}" for name, value in setting.items())


def power_to_db_effects(mel_power: Any, *, sample_rate: int, hop_length: int, fmin: float,
                        fmax: float, htk: bool = True,
                        settings: Sequence[Mapping[str, Any]] | None = None) -> Figure:
    """What ``ref``, ``amin`` and ``top_db`` of :func:`whalelab.features.power_to_db` do.

    Each column converts the same mel power with one setting: the image above, the
    histogram of its dB values below (the floor that ``amin`` or ``top_db`` imposes shows
    as a spike at the left).

    Parameters
    ----------
    mel_power : array, ``(time, mel)`` or ``(1, time, mel)``
        Mel power (before dB).
    settings : sequence of dicts or None
        Keyword arguments of ``power_to_db``; None shows ``ref`` 1 and the peak, an
        ``amin`` 30 dB below the peak, and ``top_db`` 80 and 20.

    Returns
    -------
    Figure
        ``2 * len(settings)`` axes.
    """
    mel_power = _image(mel_power)
    peak = float(mel_power.max()) or 1.0
    if settings is None:
        settings = [{"ref": 1.0, "amin": 1e-10, "top_db": None},
                    {"ref": peak, "amin": 1e-10, "top_db": None},
                    {"ref": peak, "amin": peak * 1e-3, "top_db": None},
                    {"ref": peak, "amin": 1e-10, "top_db": 80.0},
                    {"ref": peak, "amin": 1e-10, "top_db": 20.0}]
    fig = _figure(3.3 * len(settings), 5.4)
    axes = fig.subplots(2, len(settings), squeeze=False)
    for column, setting in enumerate(settings):
        db = _db(mel_power, **setting)
        _draw_logmel(axes[0, column], db, sample_rate=sample_rate, hop_length=hop_length,
                     fmin=fmin, fmax=fmax, htk=htk)
        axes[0, column].set_title(_describe(setting, peak=peak), fontsize="small")
        axes[1, column].hist(db.ravel(), bins=60, color="tab:purple")
        axes[1, column].set(xlabel="dB", ylabel="time-mel bins",
                            title=f"range {db.min():.0f} .. {db.max():.0f} dB",
                            yscale="log")
    return fig


def mel_band_statistics(before: Any, after: Any) -> Figure:
    """Mean and spread of each mel band over a batch, before and after ``bn0``.

    Parameters
    ----------
    before, after : arrays, ``(batch, 1, time, mel)`` or ``(batch, time, mel)``
        Log-mel features going into and coming out of the BatchNorm over mel bins.

    Returns
    -------
    Figure
        Two axes; each band's mean over clips and time, with a band of one standard
        deviation.
    """
    fig = _figure(11, 3.4)
    for ax, values, title, unit in zip(
            fig.subplots(1, 2), (before, after),
            ("before: loud low bands would dominate", "after bn0: every band ~ mean 0, std 1"),
            ("dB (level-normalised)", "normalised value")):
        values = _numpy(values)
        values = values.reshape(-1, values.shape[-1])  # (batch * time, mel)
        mean, std = values.mean(axis=0), values.std(axis=0)
        bands = np.arange(len(mean))
        ax.plot(bands, mean, label="mean")
        ax.fill_between(bands, mean - std, mean + std, alpha=0.3, label="± 1 std")
        ax.set(xlabel="mel band (low to high frequency)", ylabel=unit, title=title)
        ax.legend(loc="upper right", fontsize="small")
    return fig


def specaugment_stripes(original: Any, augmented: Sequence[Any], *, sample_rate: int,
                        hop_length: int, fmin: float, fmax: float, htk: bool = True) -> Figure:
    """One input and several SpecAugment draws of it, on one colour scale.

    Parameters
    ----------
    original : array, ``(time, mel)`` or ``(1, time, mel)``
    augmented : sequence of arrays shaped like ``original``
        Outputs of :class:`whalelab.features.SpecAugmentation` in training mode.

    Returns
    -------
    Figure
        ``1 + len(augmented)`` image axes in one column.
    """
    panels = [_image(original)] + [_image(values) for values in augmented]
    low, high = min(p.min() for p in panels), max(p.max() for p in panels)
    fig = _figure(9, 2.2 * len(panels))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for k, (ax, values) in enumerate(zip(axes, panels)):
        _draw_logmel(ax, values, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                     fmax=fmax, htk=htk, vmin=low, vmax=high)
        ax.set_title("input" if k == 0 else f"draw {k}: time and mel stripes set to zero",
                     fontsize="medium")
    return fig


def feature_explorer(samples: Any, *, sample_rate: int, n_fft: int, hop_length: int,
                     n_mels: int, fmin: float, fmax: float, top_db: float | None,
                     htk: bool = True) -> Figure:
    """The STFT in dB and the log-mel of one waveform for one set of feature settings.

    Made for an ``ipywidgets.interact`` explorer: every argument is one slider.

    Returns
    -------
    Figure
        Two image axes with colour bars (four axes).

    Examples
    --------
    >>> fig = feature_explorer(np.random.default_rng(0).standard_normal(8000),
    ...                        sample_rate=8000, n_fft=512, hop_length=128, n_mels=32,
    ...                        fmin=10, fmax=4000, top_db=80)
    >>> fig.axes[1].images[0].get_array().shape  # (mel, frames)
    (32, 63)
    """
    spectrogram_module = Spectrogram(n_fft=n_fft, hop_length=hop_length)
    power = spectrogram_module(torch.as_tensor(_numpy(samples), dtype=torch.float32)[None])
    mel_db = LogmelFilterBank(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                              top_db=top_db, htk=htk)(power)  # (1, 1, time, mel)
    power = power[0, 0].numpy()  # (time, freq)
    fig = _figure(11, 3.6)
    stft_ax, mel_ax = fig.subplots(1, 2)
    image = _draw_linear(stft_ax, _db(power, top_db=top_db), sample_rate=sample_rate,
                         hop_length=hop_length)
    fig.colorbar(image, ax=stft_ax, label="dB")
    stft_ax.set_title(f"STFT: {power.shape[0]} frames of {1000 * hop_length / sample_rate:.0f}"
                      f" ms x {power.shape[1]} bins of {sample_rate / n_fft:.1f} Hz",
                      fontsize="medium")
    image = _draw_logmel(mel_ax, mel_db[0, 0].numpy(), sample_rate=sample_rate,
                         hop_length=hop_length, fmin=fmin, fmax=fmax, htk=htk)
    fig.colorbar(image, ax=mel_ax, label="dB")
    mel_ax.set_title(f"log-mel: {n_mels} bands, {fmin:g}-{fmax:g} Hz, top_db={top_db}",
                     fontsize="medium")
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def live(draw: Callable[..., Figure], **controls: Any):
    """Widgets that redraw ``draw(**values)`` whenever one of them changes.

    Like ``ipywidgets.interact``, but the figure is shown as a PNG ``Image`` widget
    instead of through an ``Output`` widget, on which headless execution (papermill,
    nbclient) can hang. A :class:`WhaleLabError` from ``draw`` (say ``fmin`` above
    ``fmax``) is shown above the figure instead.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control; returns a Figure.
    **controls : ipywidgets value widgets
        Name -> widget; a widget without a description is given its name.

    Returns
    -------
    ipywidgets.VBox
        The controls, a message line and the figure; a notebook shows it as its last
        expression.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> box = live(lambda n: waveform(np.zeros(n), sample_rate=100),
    ...            n=widgets.IntSlider(value=50, min=10, max=100))
    >>> image = box.children[-1]
    >>> first = image.value
    >>> box.children[0].value = 80
    >>> image.value != first and image.value[1:4] == b"PNG"
    True
    """
    import ipywidgets as widgets

    message, image = widgets.HTML(), widgets.Image(format="png")

    def redraw(change: Any = None) -> None:
        try:
            image.value = png(draw(**{name: control.value for name, control in
                                      controls.items()}))
            message.value = ""
        except WhaleLabError as error:
            message.value = f"<b>{error}</b>"

    for name, control in controls.items():
        control.description = control.description or name
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*controls.values(), message, image])


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
    fig = _figure(12, 3.4)
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


def _draw_probabilities(ax, probabilities: np.ndarray, classes: Sequence[str],
                        thresholds: np.ndarray | None, truth: Sequence[str]) -> None:
    colours = ["tab:green" if name in truth else "tab:blue" for name in classes]
    positions = np.arange(len(classes))
    ax.barh(positions, probabilities, color=colours)
    if thresholds is not None:
        ax.scatter(thresholds, positions, marker="|", s=250, color="black", zorder=3,
                   label="threshold")
        ax.legend(loc="lower right", fontsize="small")
    ax.set_yticks(positions, classes)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="clipwise probability")


def class_probabilities(probabilities: Any, *, classes: Sequence[str],
                        thresholds: Any = None, truth: Sequence[str] = ()) -> Figure:
    """A clip's probability for every class as horizontal bars; true classes in green.

    Parameters
    ----------
    probabilities : array, ``(classes,)``
    thresholds : array ``(classes,)`` or None
        Decision thresholds, drawn as ticks.
    truth : sequence of str
        The clip's true classes (empty for background).

    Examples
    --------
    >>> fig = class_probabilities([0.9, 0.2], classes=["a", "b"], truth=["a"])
    >>> [float(bar.get_width()) for bar in fig.axes[0].patches]
    [0.9, 0.2]
    """
    fig = _figure(5, 0.45 * len(classes) + 1.2)
    ax = fig.subplots()
    _draw_probabilities(ax, _numpy(probabilities), classes,
                        None if thresholds is None else _numpy(thresholds), truth)
    return fig


def attention(logmel_features: Any, outputs: Mapping[str, Any], *, classes: Sequence[str],
              sample_rate: int, hop_length: int, fmin: float, fmax: float, htk: bool = True,
              example: int = 0,
              top_k: int = 3, truth: Sequence[str] = (), thresholds: Any = None,
              title: str = "") -> Figure:
    """What the attention head sees and says about one clip, on one time axis.

    Left, top to bottom: the log-mel input; ``norm_att`` (where the model looks), the
    segmentwise and the framewise probabilities of the ``top_k`` classes by clipwise
    probability. Right: clipwise probabilities as bars.

    Parameters
    ----------
    logmel_features : array, ``(batch, 1, time, mel)``
        What ``WhaleSED.logmel_features`` returns for the batch.
    outputs : mapping
        ``WhaleSED`` output for the batch: ``norm_att (batch, classes, segments)``,
        ``segmentwise_output (batch, segments, classes)``,
        ``framewise_output (batch, frames, classes)``, ``clipwise_output (batch, classes)``.
    example : int
        Which clip of the batch to draw.
    truth : sequence of str
        The clip's true classes, shown in green and in the title.

    Returns
    -------
    Figure
        Five axes; the first four share x (seconds).
    """
    image = _image(logmel_features[example])  # (time, mel)
    norm_att = _numpy(outputs["norm_att"][example])  # (classes, segments)
    segmentwise = _numpy(outputs["segmentwise_output"][example])  # (segments, classes)
    framewise = _numpy(outputs["framewise_output"][example])  # (frames, classes)
    clipwise = _numpy(outputs["clipwise_output"][example])  # (classes,)
    frames, segments = framewise.shape[0], segmentwise.shape[0]
    step = hop_length / sample_rate
    # segment s covers frames [32 s, 32 (s + 1)); the last one also the tail (segments_to_frames)
    edges = np.minimum(np.arange(segments + 1) * DENSENET_TIME_STRIDE, frames)
    edges[-1] = frames
    edges = (edges - 0.5) * step
    top = np.argsort(clipwise)[::-1][:top_k]
    colours = {k: f"C{k % 10}" for k in range(len(classes))}

    fig = _figure(13, 8)
    grid = fig.add_gridspec(4, 2, width_ratios=(4, 1), height_ratios=(2, 1, 1, 1))
    mel_ax = fig.add_subplot(grid[0, 0])
    _draw_logmel(mel_ax, image, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                 fmax=fmax, htk=htk)
    mel_ax.set_title("log-mel input (level-normalised dB)", fontsize="medium")
    att_ax, seg_ax, frame_ax = (fig.add_subplot(grid[row, 0], sharex=mel_ax)
                                for row in (1, 2, 3))
    for k in top:
        att_ax.stairs(norm_att[k], edges, baseline=None, color=colours[k], linewidth=1.5,
                      label=classes[k])
        seg_ax.stairs(segmentwise[:, k], edges, baseline=None, color=colours[k], linewidth=1.5)
        frame_ax.plot(np.arange(frames) * step, framewise[:, k], color=colours[k])
    att_ax.set(ylabel="norm_att", ylim=(0, 1.15 * norm_att[top].max()),
               title="attention over segments (sums to 1 per class)")
    att_ax.legend(loc="upper right", fontsize="small", ncols=len(top))
    seg_ax.set(ylabel="probability", ylim=(0, 1.02), title="segmentwise output")
    frame_ax.set(ylabel="probability", ylim=(0, 1.02), xlabel="time (s)",
                 title="framewise output (segments spread back to frames)")
    for ax in (att_ax, seg_ax, frame_ax):
        ax.title.set_fontsize("medium")
    bars_ax = fig.add_subplot(grid[:, 1])
    _draw_probabilities(bars_ax, clipwise, classes,
                        None if thresholds is None else _numpy(thresholds), truth)
    bars_ax.set_title("clipwise output", fontsize="medium")
    fig.suptitle(f"{title}  (truth: {', '.join(truth) or 'background'})".strip())
    return fig


def confusion_matrix(matrix: Any, *, labels: Sequence[str]) -> Figure:
    """Single-label confusion matrix, coloured by row share (recall), annotated with counts.

    Parameters
    ----------
    matrix : array, ``(labels, labels)``
        Counts; rows are true labels, columns predicted ones.

    Returns
    -------
    Figure
        The matrix axes and its colour bar.

    Examples
    --------
    >>> fig = confusion_matrix([[3, 1], [0, 4]], labels=["a", "background"])
    >>> [text.get_text() for text in fig.axes[0].texts]
    ['3', '1', '0', '4']
    """
    counts = _numpy(matrix)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = _figure(1.0 * len(labels) + 3, 0.8 * len(labels) + 2)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        ax.text(column, row, f"{count:.0f}", ha="center", va="center",
                color="white" if share[row, column] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (colour: share of row)")
    fig.colorbar(image, ax=ax, label="share of true clips")
    return fig


def pr_curves(probabilities: Any, targets: Any, *, classes: Sequence[str]) -> Figure:
    """Precision against recall per class, with average precision (AP) in the legend.

    Parameters
    ----------
    probabilities, targets : arrays, ``(clips, classes)``
        Clipwise probabilities and multi-hot truth. Classes without positives are left out.

    Examples
    --------
    >>> fig = pr_curves([[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0, 1]], classes=["a", "b"])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['a (AP 1.00)', 'b (AP 1.00)']
    """
    probabilities, targets = _numpy(probabilities), _numpy(targets)
    fig = _figure(6, 5)
    ax = fig.subplots()
    for k, name in enumerate(classes):
        if targets[:, k].sum() == 0:
            continue
        precision, recall, _ = skm.precision_recall_curve(targets[:, k], probabilities[:, k])
        ap = skm.average_precision_score(targets[:, k], probabilities[:, k])
        ax.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP {ap:.2f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title="precision-recall per class")
    ax.legend(loc="lower left", fontsize="small")
    return fig


def roc_curves(probabilities: Any, targets: Any, *, classes: Sequence[str]) -> Figure:
    """True against false positive rate per class, with ROC-AUC in the legend.

    Classes that lack positives or negatives are left out; the dashed diagonal is chance.

    Examples
    --------
    >>> fig = roc_curves([[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0, 1]], classes=["a", "b"])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['a (AUC 1.00)', 'b (AUC 1.00)', 'chance']
    """
    probabilities, targets = _numpy(probabilities), _numpy(targets)
    fig = _figure(6, 5)
    ax = fig.subplots()
    for k, name in enumerate(classes):
        if not 0 < targets[:, k].sum() < len(targets):
            continue
        false_positive, true_positive, _ = skm.roc_curve(targets[:, k], probabilities[:, k])
        auc = skm.roc_auc_score(targets[:, k], probabilities[:, k])
        ax.plot(false_positive, true_positive, label=f"{name} (AUC {auc:.2f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
           ylim=(0, 1.02), title="ROC per class")
    ax.legend(loc="lower right", fontsize="small")
    return fig
