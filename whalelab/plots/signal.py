"""Notebook 01, signal processing: from a waveform to the log-mel features the model sees.

The waveform, its framing by the STFT (and :func:`describe_frames`, the same in words),
the power spectrogram and its decibels, the mel filterbank, log-mel images (each clip's
low band beneath it on request, where blue and fin whale calls can be seen), what
``power_to_db``'s ``ref``, ``amin`` and ``top_db`` do, the mel bands before and after
``bn0``, SpecAugment's stripes, one figure per set of feature settings for the
interactive explorer, and what a speed factor does to a recording on its way into
BirdNET (:func:`speed_factor`).

Examples
--------
>>> fig = waveform(np.zeros(8000), sample_rate=8000)
>>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
('time (s)', 'amplitude (full scale)')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from whalelab.errors import DataError
from whalelab.features import LogmelFilterBank, Spectrogram, power_to_db
from whalelab.plots.style import (CMAP, LOW_BAND_HZ, as_image, as_numpy, draw_logmel,
                                  draw_low_band, frame_edges, message_figure, new_figure,
                                  set_mel_axis)
from whalelab.pretrained import birdnet


def _db(power: np.ndarray, **settings: Any) -> np.ndarray:
    """whalelab's ``power_to_db`` on one example (``top_db`` against its own peak)."""
    return power_to_db(torch.as_tensor(power, dtype=torch.float32)[None], **settings)[0].numpy()


def _draw_linear(ax, power_db: np.ndarray, *, sample_rate: int, hop_length: int, **style):
    """A ``(time, freq)`` STFT image on a linear Hz axis; returns the image."""
    frames, bins = power_db.shape
    bin_hz = sample_rate / (2 * (bins - 1))
    image = ax.imshow(power_db.T, origin="lower", aspect="auto", cmap=CMAP,
                      interpolation="nearest", **style,
                      extent=(*frame_edges(frames, sample_rate=sample_rate,
                                           hop_length=hop_length)[[0, -1]],
                              -bin_hz / 2, (bins - 0.5) * bin_hz))
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")
    return image


def describe_frames(samples: int, *, sample_rate: int, n_fft: int, hop_length: int) -> str:
    """How the (centred) STFT frames ``samples`` samples, in words: frames are ``n_fft``
    samples long, ``hop_length`` apart.

    Examples
    --------
    >>> describe_frames(40000, sample_rate=8000, n_fft=1024, hop_length=128)
    '313 frames of 1024 samples (128 ms), one every 128 samples (16 ms)'
    """
    frames = 1 + samples // hop_length
    return (f"{frames} frames of {n_fft} samples ({1000 * n_fft / sample_rate:.3g} ms), one "
            f"every {hop_length} samples ({1000 * hop_length / sample_rate:.3g} ms)")


def waveform(samples: Any, *, sample_rate: int, title: str = "waveform") -> Figure:
    """The pressure signal against time: one axes.

    Parameters
    ----------
    samples : array, ``(samples,)``
        The waveform, full scale = 1.
    sample_rate : int
        Hz.
    """
    samples = as_numpy(samples)
    fig = new_figure(9, 2.6)
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
    samples = as_numpy(samples)
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
    fig = new_figure(9, 5)
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
    power = as_image(power)
    fig = new_figure(11, 3.6)
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
    >>> import librosa
    >>> fig = mel_filterbank(librosa.filters.mel(sr=8000, n_fft=512, n_mels=16),
    ...                      sample_rate=8000)
    >>> len(fig.axes[0].lines)
    16
    """
    weights = as_numpy(weights)
    hz = np.linspace(0, sample_rate / 2, weights.shape[1])
    fig = new_figure(11, 3.6)
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
    """One log-mel spectrogram with a colour bar (two axes), bands placed as
    :mod:`whalelab.plots.style` says.

    Parameters
    ----------
    values : array, ``(time, mel)`` or ``(1, time, mel)``
        dB (or normalised) values.
    fmin, fmax : float
        The filterbank's range in Hz, to place the bands.
    htk : bool
        The filterbank's mel scale (``FeatureConfig.htk``), to place the bands.
    unit : str
        The colour bar's label.

    Examples
    --------
    >>> fig = logmel(np.zeros((100, 32)), sample_rate=8000, hop_length=128, fmin=10,
    ...              fmax=4000)
    >>> fig.axes[0].collections[0].get_array().shape  # (mel, time)
    (32, 100)
    """
    fig = new_figure(9, 3.4)
    ax = fig.subplots()
    draw_logmel(ax, as_image(values), sample_rate=sample_rate, hop_length=hop_length,
                fmin=fmin, fmax=fmax, htk=htk, unit=unit)
    ax.set_title(title)
    return fig


def logmel_grid(images: Sequence[Any], *, titles: Sequence[str], sample_rate: int,
                hop_length: int, fmin: float, fmax: float, htk: bool = True,
                columns: int = 3, samples: Sequence[Any] | None = None) -> Figure:
    """Several log-mel spectrograms in a grid, one titled axes and colour bar (dB) each;
    with ``samples``, each above its low band.

    Parameters
    ----------
    images : sequence of arrays, each ``(time, mel)`` or ``(1, time, mel)``
        Clips may differ in length.
    titles : sequence of str
        One per image.
    samples : sequence of arrays, each ``(samples,)`` at ``sample_rate``, or None
        The audio of each image: beneath each log-mel, its low band
        (:func:`whalelab.plots.style.draw_low_band`, 0 to
        :data:`~whalelab.plots.style.LOW_BAND_HZ`), where blue and fin whale calls, a
        few rows of the log-mel, can be seen.

    Examples
    --------
    >>> fig = logmel_grid([np.zeros((50, 16))] * 4, titles=list("abcd"), sample_rate=8000,
    ...                   hop_length=128, fmin=10, fmax=4000)
    >>> [ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>"]
    ['a', 'b', 'c', 'd']
    """
    if len(images) != len(titles) or (samples is not None and len(samples) != len(images)):
        raise DataError(f"{len(images)} images but {len(titles)} titles"
                        + ("" if samples is None else f" and {len(samples)} waveforms"))
    if not images:
        return message_figure("nothing to show")
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    low = samples is not None
    fig = new_figure(4.2 * columns, (4.6 if low else 2.9) * rows)
    grid = fig.add_gridspec(rows * (2 if low else 1), columns,
                            height_ratios=[2.9, 1.7] * rows if low else None)
    for k, (values, title) in enumerate(zip(images, titles)):
        row, column = divmod(k, columns)
        ax = fig.add_subplot(grid[row * (2 if low else 1), column])
        draw_logmel(ax, as_image(values), sample_rate=sample_rate, hop_length=hop_length,
                    fmin=fmin, fmax=fmax, htk=htk)
        ax.set_title(title, fontsize="medium")
        if low:
            band_ax = fig.add_subplot(grid[row * 2 + 1, column], sharex=ax)
            draw_low_band(band_ax, samples[k], sample_rate=sample_rate, unit="dB")
            band_ax.set_title(f"low band, 0-{LOW_BAND_HZ:g} Hz", fontsize="small")
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
        ``2 * len(settings)`` axes and a colour bar (dB) beside each image.
    """
    mel_power = as_image(mel_power)
    peak = float(mel_power.max()) or 1.0
    if settings is None:
        settings = [{"ref": 1.0, "amin": 1e-10, "top_db": None},
                    {"ref": peak, "amin": 1e-10, "top_db": None},
                    {"ref": peak, "amin": peak * 1e-3, "top_db": None},
                    {"ref": peak, "amin": 1e-10, "top_db": 80.0},
                    {"ref": peak, "amin": 1e-10, "top_db": 20.0}]
    fig = new_figure(3.3 * len(settings), 5.4)
    axes = fig.subplots(2, len(settings), squeeze=False)
    for column, setting in enumerate(settings):
        db = _db(mel_power, **setting)
        draw_logmel(axes[0, column], db, sample_rate=sample_rate, hop_length=hop_length,
                    fmin=fmin, fmax=fmax, htk=htk)
        axes[0, column].set_title(_describe(setting, peak=peak), fontsize="small")
        axes[1, column].hist(db.ravel(), bins=60, color="tab:purple")
        axes[1, column].set(xlabel="dB", ylabel="time-mel bins",
                            title=f"range {db.min():.0f} .. {db.max():.0f} dB",
                            yscale="log")
    return fig


def mel_band_statistics(before: Any, after: Any, *, statistics: str) -> Figure:
    """Mean and spread of each mel band over a batch, before and after ``bn0``.

    ``bn0`` normalises each band with the statistics it holds: in training mode those of
    the batch itself, after which every band of that batch has mean 0 and standard
    deviation 1 by construction; in evaluation mode the running statistics it learnt
    from other clips, which a batch it never saw meets only roughly. ``statistics`` says
    which, in the right panel's title; dashed lines there mark 0 and ± 1.

    Parameters
    ----------
    before, after : arrays, ``(batch, 1, time, mel)`` or ``(batch, time, mel)``
        Log-mel features going into and coming out of the BatchNorm over mel bins.
    statistics : str
        Whose statistics ``bn0`` normalised ``after`` with, e.g. "28 other clips".

    Returns
    -------
    Figure
        Two axes; each band's mean over clips and time, with a band of one standard
        deviation.

    Examples
    --------
    >>> fig = mel_band_statistics(np.zeros((2, 1, 5, 4)), np.zeros((2, 1, 5, 4)),
    ...                           statistics="this very batch")
    >>> fig.axes[1].get_title()
    'after bn0, with the statistics of this very batch'
    """
    fig = new_figure(11, 3.4)
    left, right = fig.subplots(1, 2)
    for ax, values, title, unit in zip(
            (left, right), (before, after),
            ("before: loud low bands would dominate",
             f"after bn0, with the statistics of {statistics}"),
            ("dB (level-normalised)", "normalised value")):
        values = as_numpy(values)
        values = values.reshape(-1, values.shape[-1])  # (batch * time, mel)
        mean, std = values.mean(axis=0), values.std(axis=0)
        bands = np.arange(len(mean))
        ax.plot(bands, mean, label="mean")
        ax.fill_between(bands, mean - std, mean + std, alpha=0.3, label="± 1 std")
        ax.set(xlabel="mel band (low to high frequency)", ylabel=unit, title=title)
        ax.title.set_fontsize("medium")
    for level in (-1.0, 0.0, 1.0):
        right.axhline(level, color="black", linestyle="--", linewidth=0.8,
                      label="0 and ± 1" if level == 0 else None)
    for ax in (left, right):
        ax.legend(loc="upper right", fontsize="small")
    return fig


def specaugment_stripes(original: Any, augmented: Sequence[Any], *, sample_rate: int,
                        hop_length: int, fmin: float, fmax: float, htk: bool = True,
                        unit: str = "normalised value") -> Figure:
    """One input and several SpecAugment draws of it, on one colour scale and colour bar.

    Parameters
    ----------
    original : array, ``(time, mel)`` or ``(1, time, mel)``
    augmented : sequence of arrays shaped like ``original``
        Outputs of :class:`whalelab.features.SpecAugmentation` in training mode.
    unit : str
        The colour bar's label.

    Returns
    -------
    Figure
        ``1 + len(augmented)`` image axes in one column, and their shared colour bar.
    """
    panels = [as_image(original)] + [as_image(values) for values in augmented]
    low, high = min(p.min() for p in panels), max(p.max() for p in panels)
    fig = new_figure(9, 2.2 * len(panels))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for k, (ax, values) in enumerate(zip(axes, panels)):
        mesh = draw_logmel(ax, values, sample_rate=sample_rate, hop_length=hop_length,
                           fmin=fmin, fmax=fmax, htk=htk, unit=None, vmin=low, vmax=high)
        ax.set_title("input" if k == 0 else f"draw {k}: time and mel stripes set to zero",
                     fontsize="medium")
    fig.colorbar(mesh, ax=list(axes), label=unit, pad=0.01)
    return fig


def feature_explorer(samples: Any, *, sample_rate: int, n_fft: int, hop_length: int,
                     n_mels: int, fmin: float, fmax: float, top_db: float | None,
                     htk: bool = True, zoom_hz: tuple[float, float] | None = None) -> Figure:
    """The STFT in dB and the log-mel of one waveform for one set of feature settings.

    Made for an ``ipywidgets.interact`` explorer: every argument is one control. Blue and
    fin whales call below 100 Hz, a sliver of either image; ``zoom_hz`` adds a second row
    with the same two images over that range alone.

    Parameters
    ----------
    samples : array, ``(samples,)``
        The waveform.
    zoom_hz : (float, float) or None
        Lowest and highest frequency of the zoomed row, in Hz; None draws no zoom.

    Returns
    -------
    Figure
        Two image axes with colour bars (four axes); with ``zoom_hz``, four (eight axes):
        the full range above, the zoom below.

    Raises
    ------
    DataError
        When ``zoom_hz`` is not an increasing pair within 0 Hz and ``sample_rate / 2``.

    Examples
    --------
    >>> fig = feature_explorer(np.random.default_rng(0).standard_normal(8000),
    ...                        sample_rate=8000, n_fft=512, hop_length=128, n_mels=32,
    ...                        fmin=10, fmax=4000, top_db=80, zoom_hz=(10, 200))
    >>> fig.axes[1].collections[0].get_array().shape  # (mel, frames)
    (32, 63)
    >>> [ax.get_ylim() for ax in fig.axes[2:4]] == [(10, 200), (10, 200)]  # the zoomed row
    True
    """
    if zoom_hz is not None and not 0 <= zoom_hz[0] < zoom_hz[1] <= sample_rate / 2:
        raise DataError(f"zoom_hz={tuple(zoom_hz)} must be an increasing pair of frequencies "
                        f"within 0 and {sample_rate / 2:g} Hz")
    samples = as_numpy(samples)
    spectrogram_module = Spectrogram(n_fft=n_fft, hop_length=hop_length)
    power = spectrogram_module(torch.as_tensor(samples, dtype=torch.float32)[None])
    mel_db = LogmelFilterBank(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                              top_db=top_db, htk=htk)(power)[0, 0].numpy()  # (time, mel)
    power_db = _db(power[0, 0].numpy(), top_db=top_db)  # (time, freq)
    rows = 1 if zoom_hz is None else 2
    fig = new_figure(11, 3.6 * rows)
    axes = fig.subplots(rows, 2, squeeze=False)
    for row, (stft_ax, mel_ax) in enumerate(axes):
        image = _draw_linear(stft_ax, power_db, sample_rate=sample_rate, hop_length=hop_length)
        fig.colorbar(image, ax=stft_ax, label="dB")
        draw_logmel(mel_ax, mel_db, sample_rate=sample_rate, hop_length=hop_length, fmin=fmin,
                    fmax=fmax, htk=htk)
        if row:
            stft_ax.set_ylim(*zoom_hz)
            set_mel_axis(mel_ax, low=zoom_hz[0], high=zoom_hz[1], htk=htk)
    stft_ax, mel_ax = axes[0]
    frames = describe_frames(len(samples), sample_rate=sample_rate, n_fft=n_fft,
                             hop_length=hop_length)
    stft_ax.set_title(f"STFT: {frames};\n{power_db.shape[1]} bins of "
                      f"{sample_rate / n_fft:.1f} Hz", fontsize="medium")
    mel_ax.set_title(f"log-mel: {n_mels} bands, {fmin:g}-{fmax:g} Hz, top_db={top_db}",
                     fontsize="medium")
    if zoom_hz is not None:
        for ax, name in zip(axes[1], ("STFT", "log-mel")):
            ax.set_title(f"{name}, {zoom_hz[0]:g}-{zoom_hz[1]:g} Hz", fontsize="medium")
    return fig


def _draw_log_frequency(ax, samples: np.ndarray, *, sample_rate: int, n_fft: int,
                        hop_length: int, top_db: float, **style):
    """The STFT of ``(samples,)`` in dB below its peak on a logarithmic Hz axis (the 0 Hz
    bin left out); returns the image."""
    power = Spectrogram(n_fft=n_fft, hop_length=hop_length)(
        torch.as_tensor(samples, dtype=torch.float32)[None])[0, 0].numpy()  # (time, freq)
    power_db = _db(power, ref=float(power.max()) or 1.0, top_db=top_db)
    bin_hz = sample_rate / n_fft
    times = frame_edges(len(power_db), sample_rate=sample_rate, hop_length=hop_length)
    hz = (np.arange(1, power_db.shape[1] + 1) - 0.5) * bin_hz  # edges of bins 1 .. n_fft / 2
    image = ax.pcolormesh(times, hz, power_db[:, 1:].T, cmap=CMAP, shading="flat", **style)
    ax.set(yscale="log", xlabel="time (s)", ylabel="frequency (Hz)")
    return image


def speed_factor(samples: Any, *, sample_rate: int, speed: float,
                 heard_hz: tuple[float, float], n_fft: int, hop_length: int,
                 top_db: float = 80.0, title: str = "") -> Figure:
    """What a speed factor does to a recording on its way into BirdNET: two spectrograms.

    Left: the recording at its own rate. Right: what BirdNET is given,
    :func:`whalelab.pretrained.birdnet.to_model_rate` of it: the audio treated as recorded
    at ``speed`` times its rate and resampled to 48 kHz, so every frequency is ``speed``
    times higher and every duration ``speed`` times shorter. Both share one logarithmic
    frequency axis, on which the speed factor is a shift up by ``log2(speed)`` octaves;
    the right-hand STFT's frames are ``speed`` times shorter (``n_fft`` and ``hop_length``
    scaled by 48 kHz over ``speed * sample_rate``), so both images hold the same frames
    and the right is the left moved up. BirdNET's useful band ``heard_hz`` is outlined
    on the right; on the left, the part of the recording that lands in it
    (``heard_hz / speed``) and, where the speed is not 1, the band itself (what BirdNET
    would hear of the recording as it is).

    Parameters
    ----------
    samples : array, ``(samples,)``
        The recording, full scale = 1.
    sample_rate : int
        Its rate in Hz.
    speed : float
        The speed factor (``ModelConfig.speed``, ``--speed``).
    heard_hz : (float, float)
        The band, in Hz at 48 kHz, where BirdNET hears well.
    n_fft, hop_length : int
        The left-hand STFT's frame length and hop in samples.
    top_db : float
        The dynamic range shown, in dB below each image's own peak.

    Returns
    -------
    Figure
        Two image axes (the recording, then BirdNET's input) sharing y, and one colour
        bar (dB below the peak).

    Examples
    --------
    >>> t = np.arange(8000 * 4) / 8000
    >>> fig = speed_factor(np.sin(2 * np.pi * 20 * t), sample_rate=8000, speed=8,
    ...                    heard_hz=(120, 15000), n_fft=1024, hop_length=256)
    >>> [float(ax.get_xlim()[1]) for ax in fig.axes[:2]]  # 4 s heard in half a second
    [4.0, 0.5]
    """
    samples = as_numpy(samples)
    model_rate = birdnet.SAMPLE_RATE
    heard = birdnet.to_model_rate(samples, sample_rate=sample_rate, speed=speed)
    scale = model_rate / (sample_rate * speed)  # model samples per recorded sample
    low, high = heard_hz
    fig = new_figure(11, 4)
    before_ax, after_ax = fig.subplots(1, 2, sharey=True)
    shown = dict(vmin=-top_db, vmax=0.0, top_db=top_db)
    _draw_log_frequency(before_ax, samples, sample_rate=sample_rate, n_fft=n_fft,
                        hop_length=hop_length, **shown)
    image = _draw_log_frequency(after_ax, heard, sample_rate=model_rate,
                                n_fft=max(2, round(n_fft * scale)),
                                hop_length=max(1, round(hop_length * scale)), **shown)
    fig.colorbar(image, ax=[before_ax, after_ax], label="dB below the peak")
    before_ax.axhspan(low / speed, high / speed, facecolor="none", edgecolor="tab:green",
                      linestyle="--", linewidth=2,
                      label=f"heard at x{speed:g}: {low / speed:,.0f}-{high / speed:,.0f} Hz")
    if speed != 1:
        before_ax.axhspan(low, high, facecolor="none", edgecolor="tab:cyan", linestyle=":",
                          linewidth=2, label=f"heard at x1: {low:,.0f}-{high:,.0f} Hz")
    after_ax.axhspan(low, high, facecolor="none", edgecolor="tab:green", linestyle="--",
                     linewidth=2, label=f"BirdNET's useful band: {low:,.0f}-{high:,.0f} Hz")
    before_ax.set(title=f"recorded: {sample_rate / 1000:g} kHz, "
                        f"{len(samples) / sample_rate:.2f} s",
                  xlim=(0, len(samples) / sample_rate),
                  ylim=(0.5 * sample_rate / n_fft, model_rate / 2))
    after_ax.set(title=f"as BirdNET hears it at x{speed:g}: {model_rate / 1000:g} kHz, "
                       f"{len(heard) / model_rate:.2f} s, frequencies x{speed:g}",
                 xlabel="time in BirdNET's input (s)", xlim=(0, len(heard) / model_rate))
    for ax in (before_ax, after_ax):
        ax.title.set_fontsize("medium")
        ax.legend(loc="upper right", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
