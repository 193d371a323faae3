"""The look every figure shares, and the helpers the figure modules build on.

Figures are made without pyplot (see :mod:`whalelab.plots`); spectrogram-like images
are drawn with time along x in seconds and frequency along y in Hz, each with a colour
bar.

Where a log-mel image puts its bands
------------------------------------
Mel band k of librosa's filterbank (``librosa.filters.mel``, which whalelab's
``LogmelFilterBank`` uses) is a triangle over the edges k .. k + 2 of
``librosa.mel_frequencies(n_mels + 2, fmin, fmax, htk)``: it rises from edge k, peaks at
edge k + 1, its centre, and falls to zero at edge k + 2. Every log-mel image, in every
figure, is drawn by :func:`draw_mel_bands` as a ``pcolormesh`` whose row k runs between
the midpoints, on the mel scale, of band k's centre and its neighbours' centres
(:func:`mel_row_edges`), on a y axis in Hz spaced by the filterbank's own mel scale
(:func:`set_mel_axis`). So every band is equally tall, as in the feature the network
sees; a band peaking at 31 Hz is drawn around 31 Hz and inside its filter's edges; and
events, class bands and axis limits are given in Hz. Images on a linear frequency axis
(the STFT) are ``imshow`` with one row per FFT bin, centred on the bin's frequency.

Examples
--------
>>> fig = new_figure(4, 3)
>>> fig.get_size_inches().tolist(), as_image(np.zeros((1, 5, 2))).shape
([4.0, 3.0], (5, 2))
"""

from __future__ import annotations

from functools import partial
from typing import Any

import librosa
import numpy as np
import torch
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

CMAP = "magma"
#: round frequencies closer than this share of a mel axis get no tick of their own
TICK_SPACING = 1 / 12


def as_numpy(values: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a float numpy array."""
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def as_image(values: Any) -> np.ndarray:
    """``(time, bins)`` from ``(time, bins)`` or ``(1, time, bins)``."""
    values = as_numpy(values)
    return values[0] if values.ndim == 3 and values.shape[0] == 1 else values


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free Figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def message_figure(text: str) -> Figure:
    """A small figure that says ``text`` where there is nothing to draw."""
    fig = new_figure(6, 1.2)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def frame_edges(frames: int, *, sample_rate: int, hop_length: int) -> np.ndarray:
    """``(frames + 1,)`` seconds between centred frames (frame t is centred on t * hop / sr).

    Examples
    --------
    >>> frame_edges(2, sample_rate=8000, hop_length=4000).tolist()
    [-0.25, 0.25, 0.75]
    """
    return (np.arange(frames + 1) - 0.5) * (hop_length / sample_rate)


def mel_row_edges(n_mels: int, *, fmin: float, fmax: float, htk: bool) -> np.ndarray:
    """``(n_mels + 1,)`` Hz: where the row of each mel band begins and ends.

    Row k runs from halfway between the centres of bands k - 1 and k to halfway between
    those of bands k and k + 1, halfway on the mel scale (the outer rows as far out as
    the inner ones): it holds band k's centre and lies within its filter's edges.

    Examples
    --------
    >>> mel_row_edges(64, fmin=10, fmax=4000, htk=True)[:2].round()  # band 0 peaks at 31 Hz
    array([20., 42.])
    """
    low, high = librosa.hz_to_mel(np.array([fmin, fmax], dtype=float), htk=htk)
    step = (high - low) / (n_mels + 1)  # between neighbouring band centres, in mel
    return librosa.mel_to_hz(low + step * (np.arange(n_mels + 1) + 0.5), htk=htk)


def _to_mel(hz: np.ndarray, *, htk: bool) -> np.ndarray:
    return librosa.hz_to_mel(np.maximum(hz, 0.0), htk=htk)


def _to_hz(mel: np.ndarray, *, htk: bool) -> np.ndarray:
    return librosa.mel_to_hz(mel, htk=htk)


def hz_ticks(low: float, high: float, *, htk: bool) -> np.ndarray:
    """Round frequencies in ``[low, high]`` Hz to label a mel axis with, in ascending order.

    Powers of ten come first, then five and two times them, each kept only when it
    stands at least ``TICK_SPACING`` of the axis from those kept before.

    Examples
    --------
    >>> hz_ticks(20, 3900, htk=True).tolist()
    [100.0, 500.0, 1000.0, 2000.0]
    >>> hz_ticks(10, 200, htk=True).tolist()
    [10.0, 50.0, 100.0, 200.0]
    """
    decades = 10.0 ** np.arange(np.floor(np.log10(max(low, 1.0))), np.ceil(np.log10(high)) + 1)
    candidates = np.concatenate([decades, 5 * decades, 2 * decades])
    candidates = candidates[(candidates >= low) & (candidates <= high)]
    gap = TICK_SPACING * np.ptp(_to_mel(np.array([low, high]), htk=htk))
    kept: dict[float, float] = {}  # Hz -> mel
    for hz, mel in zip(candidates, _to_mel(candidates, htk=htk)):
        if all(abs(mel - other) >= gap for other in kept.values()):
            kept[float(hz)] = mel
    return np.sort(list(kept))


def set_mel_axis(ax, *, low: float, high: float, htk: bool) -> None:
    """A y axis in Hz from ``low`` to ``high``, spaced by the mel scale, with round ticks.

    ``htk`` picks the mel scale (``FeatureConfig.htk``): that of the filterbank drawn, so
    its bands are equally tall. Too narrow a range for two round ticks keeps
    matplotlib's own.
    """
    ax.set_yscale("function", functions=(partial(_to_mel, htk=htk), partial(_to_hz, htk=htk)))
    ax.set_ylim(low, high)
    ticks = hz_ticks(low, high, htk=htk)
    if len(ticks) > 1:
        ax.set_yticks(ticks, [f"{hz:g}" for hz in ticks])
    ax.set_ylabel("frequency (Hz, mel scale)")


def draw_mel_bands(ax, values: np.ndarray, *, time_edges: np.ndarray, fmin: float,
                   fmax: float, htk: bool, unit: str | None = "dB", **style) -> QuadMesh:
    """A ``(time, mel)`` image, band k in its row of :func:`mel_row_edges`; returns the mesh.

    Parameters
    ----------
    values : numpy.ndarray, ``(time, mel)``
        One value per frame and mel band.
    time_edges : numpy.ndarray, ``(time + 1,)``
        Seconds where each frame's column begins and ends.
    fmin, fmax : float
        The filterbank's range in Hz.
    htk : bool
        The filterbank's mel scale (``FeatureConfig.htk``).
    unit : str or None
        The label of the colour bar drawn beside the axes; None draws none (for one bar
        shared by several images).
    **style
        Passed to ``pcolormesh`` (``vmin``, ``vmax``).
    """
    rows = mel_row_edges(values.shape[1], fmin=fmin, fmax=fmax, htk=htk)
    mesh = ax.pcolormesh(time_edges, rows, values.T, cmap=CMAP, shading="flat",
                         rasterized=True, **style)
    set_mel_axis(ax, low=rows[0], high=rows[-1], htk=htk)
    ax.set_xlabel("time (s)")
    if unit is not None:
        ax.figure.colorbar(mesh, ax=ax, label=unit, pad=0.01)
    return mesh


def draw_logmel(ax, values: np.ndarray, *, sample_rate: int, hop_length: int, fmin: float,
                fmax: float, htk: bool, **options) -> QuadMesh:
    """:func:`draw_mel_bands` of a clip's ``(time, mel)`` frames, centred ``hop_length`` apart.

    Examples
    --------
    >>> fig = new_figure(4, 3)
    >>> mesh = draw_logmel(fig.subplots(), np.zeros((10, 8)), sample_rate=8000,
    ...                    hop_length=800, fmin=10, fmax=4000, htk=True)
    >>> mesh.get_array().shape, [ax.get_label() for ax in fig.axes]
    ((8, 10), ['', '<colorbar>'])
    """
    return draw_mel_bands(ax, values, time_edges=frame_edges(len(values),
                                                             sample_rate=sample_rate,
                                                             hop_length=hop_length),
                          fmin=fmin, fmax=fmax, htk=htk, **options)


#: the top of the low-band panels (Hz): blue, fin and right whale calls lie below it,
#: where a log-mel image of the full band gives them a few rows
LOW_BAND_HZ = 250.0


def draw_low_band(ax, samples: Any, *, sample_rate: int, start_s: float = 0.0,
                  high_hz: float = LOW_BAND_HZ, top_db: float = 60.0,
                  unit: str | None = "dB below the peak") -> AxesImage:
    """The low band of ``(samples,)``, 0 to ``high_hz`` Hz, where the lowest calls can be seen.

    An STFT with a window of about a quarter second (``n_fft`` the power of two nearest
    ``sample_rate / 4``, about 4 Hz a bin at 8 kHz; hop an eighth of it), so a 16 Hz tone
    and a 30-to-15 Hz sweep each cover several rows; drawn on a linear Hz axis in dB
    below the panel's own peak, at most ``top_db`` down. Time runs from ``start_s``.

    Parameters
    ----------
    samples : array, ``(samples,)``
        The audio shown, mono, at ``sample_rate``.
    unit : str or None
        The colour bar's label; None draws none.

    Returns
    -------
    matplotlib.image.AxesImage
        The image, ``(frequency bins up to high_hz, frames)``.

    Examples
    --------
    >>> fig = new_figure(4, 3)
    >>> tone = np.sin(2 * np.pi * 20 * np.arange(8000 * 3) / 8000)
    >>> image = draw_low_band(fig.subplots(), tone, sample_rate=8000)
    >>> rows = np.asarray(image.get_array()).max(axis=1)
    >>> round(float(rows.argmax() * 8000 / 2048))  # the brightest row: the 20 Hz tone
    20
    """
    samples = as_numpy(samples).ravel()
    n_fft = int(2 ** round(np.log2(sample_rate / 4)))
    hop = max(1, n_fft // 8)
    power = np.abs(librosa.stft(samples, n_fft=n_fft, hop_length=hop, center=True,
                                pad_mode="constant")) ** 2  # (bins, frames)
    step = sample_rate / n_fft
    kept = power[: int(np.floor(high_hz / step)) + 1]
    db = 10 * np.log10(np.maximum(kept, 1e-20) / max(float(kept.max()), 1e-20))
    frames = kept.shape[1]
    image = ax.imshow(np.maximum(db, -top_db), origin="lower", aspect="auto", cmap=CMAP,
                      interpolation="nearest", vmin=-top_db, vmax=0.0,
                      extent=(start_s - hop / 2 / sample_rate,
                              start_s + (frames - 0.5) * hop / sample_rate,
                              -step / 2, (len(kept) - 0.5) * step))
    ax.set_ylim(0.0, high_hz)
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")
    if unit is not None:
        ax.figure.colorbar(image, ax=ax, label=unit, pad=0.01)
    return image
