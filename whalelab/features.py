"""Log-mel features as torch modules that run on the model's device.

The modules reproduce ``librosa.power_to_db(librosa.feature.melspectrogram(...))``
clip by clip (tests check the parity), with one deliberate difference from
torchlibrosa: ``top_db`` clips each example against its *own* peak, so a quiet
clip gives the same features whether it is batched with loud ones or alone.

Examples
--------
>>> import torch
>>> spec = Spectrogram(n_fft=1024, hop_length=128)
>>> logmel = LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64, fmin=10, fmax=4000)
>>> logmel(spec(torch.randn(2, 40000))).shape
torch.Size([2, 1, 313, 64])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import librosa
import torch
from torch import nn

from whalelab.errors import ConfigError

if TYPE_CHECKING:
    from whalelab.config import FeatureConfig


def power_to_db(x: torch.Tensor, *, ref: float = 1.0, amin: float = 1e-10,
                top_db: float | None = 80.0) -> torch.Tensor:
    """Power to decibels, as ``librosa.power_to_db`` applied to each example separately.

    ``10 log10(max(x, amin)) - 10 log10(max(amin, ref))``, then, unless ``top_db`` is
    None, clipped from below at ``max - top_db`` where ``max`` is the peak of *each
    example* (dimension 0 indexes examples; every other dimension belongs to it).

    Parameters
    ----------
    x : torch.Tensor
        Non-negative power, ``(batch, ...)``, e.g. ``(batch, 1, time, mel)``.
    ref : float
        The power that maps to 0 dB.
    amin : float
        Floor on power before the logarithm (avoids log of zero).
    top_db : float or None
        Dynamic range kept below each example's peak; None keeps everything.

    Examples
    --------
    >>> power_to_db(torch.tensor([[1.0, 10.0, 1e-12]]), top_db=None).tolist()
    [[0.0, 10.0, -100.0]]
    >>> power_to_db(torch.tensor([[1.0, 10.0, 1e-12]]), top_db=20.0).tolist()
    [[0.0, 10.0, -10.0]]
    """
    if amin <= 0:
        raise ConfigError(f"amin must be positive, not {amin}")
    if top_db is not None and top_db < 0:
        raise ConfigError(f"top_db must be non-negative or None, not {top_db}")
    if top_db is None:
        x = torch.clamp(x, min=amin)
    else:
        # clipping at ``peak - top_db`` dB is clipping the power at ``peak * 10**(-top_db/10)``
        # before the logarithm; together with ``amin`` that is one pass over the tensor
        peak = x.reshape(x.shape[0], -1).amax(dim=1)  # (batch,) peak power
        floor = torch.clamp(peak * 10.0 ** (-top_db / 10.0), min=amin)
        x = torch.maximum(x, floor.reshape((-1,) + (1,) * (x.dim() - 1)))
    db = torch.log10(x).mul_(10.0)  # log10's backward needs x, not db: in place is safe
    offset = 10.0 * math.log10(max(amin, ref))
    return db - offset if offset else db


class Spectrogram(nn.Module):
    """Waveform to STFT power spectrogram, as ``librosa.stft`` with a Hann window.

    Parameters
    ----------
    n_fft : int
        FFT length in samples.
    hop_length : int or None
        Samples between frames; None means ``win_length // 4`` (librosa's default).
    win_length : int or None
        Window length (<= n_fft, zero-padded to n_fft and centred); None means n_fft.
    window : str
        A window name that ``scipy.signal.get_window`` knows; ``'hann'`` by default.
    center : bool
        Pad ``n_fft // 2`` samples at both ends so that frame ``t`` is centred on
        sample ``t * hop_length``.
    pad_mode : str
        How to pad when centring: ``'reflect'`` (whalelab's default) or ``'constant'``.
    power : float
        1 for magnitude, 2 for power.

    Shapes
    ------
    ``(batch, samples)`` -> ``(batch, 1, time, freq)`` with ``freq = n_fft // 2 + 1`` and,
    when centred, ``time = 1 + samples // hop_length``.

    Examples
    --------
    >>> Spectrogram(n_fft=256, hop_length=64)(torch.zeros(3, 1000)).shape
    torch.Size([3, 1, 16, 129])
    """

    def __init__(self, *, n_fft: int = 2048, hop_length: int | None = None,
                 win_length: int | None = None, window: str = "hann", center: bool = True,
                 pad_mode: str = "reflect", power: float = 2.0) -> None:
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ConfigError(f"win_length must be in 1..n_fft={n_fft}, not {win_length}")
        hop_length = win_length // 4 if hop_length is None else hop_length
        if hop_length <= 0:
            raise ConfigError(f"hop_length must be positive, not {hop_length}")
        if pad_mode not in ("reflect", "constant"):
            raise ConfigError(f"pad_mode must be 'reflect' or 'constant', not {pad_mode!r}")
        if power not in (1.0, 2.0):
            raise ConfigError(f"power must be 1 or 2, not {power}")
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.center, self.pad_mode, self.power = center, pad_mode, power
        window_values = librosa.filters.get_window(window, win_length, fftbins=True)
        self.register_buffer("window", torch.as_tensor(window_values, dtype=torch.float32))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, time, freq)`` power."""
        stft = torch.stft(waveform, n_fft=self.n_fft, hop_length=self.hop_length,
                          win_length=self.win_length, window=self.window.to(waveform.dtype),
                          center=self.center, pad_mode=self.pad_mode, return_complex=True)
        # (batch, freq, time) complex, stored time-major; re^2 + im^2 in two passes that keep
        # that layout (view_as_real(...).pow(2).sum(-1) was 4x slower: a size-2 reduction)
        power = stft.real.square().addcmul_(stft.imag, stft.imag)  # (batch, freq, time)
        if self.power == 1.0:
            power = power.sqrt()
        return power.transpose(1, 2).unsqueeze(1)  # (batch, 1, time, freq), contiguous


class LogmelFilterBank(nn.Module):
    """Power spectrogram to log-mel in dB, as librosa's ``power_to_db(melspectrogram(...))``.

    Parameters
    ----------
    sr : int
        Sample rate of the audio the spectrogram came from.
    n_fft : int
        FFT length the spectrogram was made with.
    n_mels : int
        Number of mel bands (librosa's triangular filters, Slaney area-normalised).
    fmin, fmax : float
        Band edges in Hz; ``fmax`` None means ``sr / 2``.
    htk : bool
        False (the default, as librosa's) spaces the bands on the Slaney scale, linear
        below 1 kHz. True uses the HTK mel formula, which gives narrower bands at the
        bottom, where baleen whales call: at 8 kHz with 64 bands from 10 Hz the lowest
        band spans 10-52 Hz instead of 10-82 Hz, so a 20 Hz fin whale pulse is not
        drowned in low-frequency noise. whalelab's runs choose HTK in
        :class:`whalelab.config.FeatureConfig`.
    ref, amin, top_db : float
        As in :func:`power_to_db`; ``top_db`` clips each example at its own peak.
    is_log : bool
        False returns the mel power itself, without dB.

    Shapes
    ------
    ``(batch, 1, time, freq)`` -> ``(batch, 1, time, mel)``

    Examples
    --------
    >>> LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64)(torch.ones(2, 1, 10, 513)).shape
    torch.Size([2, 1, 10, 64])
    """

    def __init__(self, *, sr: int, n_fft: int, n_mels: int = 64, fmin: float = 0.0,
                 fmax: float | None = None, ref: float = 1.0, amin: float = 1e-10,
                 top_db: float | None = 80.0, is_log: bool = True, htk: bool = False) -> None:
        super().__init__()
        fmax = sr / 2 if fmax is None else fmax
        if not 0 <= fmin < fmax <= sr / 2:
            raise ConfigError(f"need 0 <= fmin < fmax <= sr/2 = {sr / 2}; "
                              f"got fmin={fmin}, fmax={fmax}")
        self.ref, self.amin, self.top_db, self.is_log = ref, amin, top_db, is_log
        mel_basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                        htk=htk)
        # stored (freq, mel) so that the product is a plain matmul on the last axis
        self.register_buffer("melW", torch.as_tensor(mel_basis.T, dtype=torch.float32))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, time, freq)`` power -> ``(batch, 1, time, mel)`` dB."""
        mel = torch.matmul(power, self.melW.to(power.dtype))  # (batch, 1, time, mel)
        if not self.is_log:
            return mel
        return power_to_db(mel, ref=self.ref, amin=self.amin, top_db=self.top_db)


def logmel_pipeline(features: FeatureConfig) -> nn.Sequential:
    """:class:`Spectrogram` then :class:`LogmelFilterBank` with a run's feature settings.

    Shapes
    ------
    ``(batch, samples)`` -> ``(batch, 1, time, mel)`` dB

    Examples
    --------
    >>> from whalelab.config import FeatureConfig
    >>> logmel_pipeline(FeatureConfig())(torch.randn(2, 40000)).shape
    torch.Size([2, 1, 313, 64])
    """
    return nn.Sequential(
        Spectrogram(n_fft=features.n_fft, hop_length=features.hop_length,
                    win_length=features.win_length),
        LogmelFilterBank(sr=features.sample_rate, n_fft=features.n_fft, n_mels=features.n_mels,
                         fmin=features.fmin, fmax=features.fmax, top_db=features.top_db,
                         htk=features.htk))


class DropStripes(nn.Module):
    """Zero random stripes along one axis, independently for each example (training only).

    Parameters
    ----------
    dim : int
        2 drops time frames, 3 drops frequency (mel) bins of a ``(batch, channels, time, mel)``.
    drop_width : int
        Each stripe is ``0 .. drop_width - 1`` wide.
    stripes_num : int
        Stripes per example.

    Shapes
    ------
    ``(batch, channels, time, mel)`` -> same; a new tensor, the input is left as it is.

    Examples
    --------
    >>> drop = DropStripes(dim=2, drop_width=8, stripes_num=2).eval()
    >>> x = torch.ones(2, 1, 20, 4)
    >>> bool((drop(x) == x).all())
    True
    """

    def __init__(self, *, dim: int, drop_width: int, stripes_num: int) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ConfigError(f"DropStripes dim must be 2 (time) or 3 (frequency), not {dim}")
        if drop_width < 1 or stripes_num < 0:
            raise ConfigError("DropStripes needs drop_width >= 1 and stripes_num >= 0")
        self.dim, self.drop_width, self.stripes_num = dim, drop_width, stripes_num

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.stripes_num == 0:
            return x
        batch, total = x.shape[0], x.shape[self.dim]
        shape = (batch, self.stripes_num, 1)
        width = torch.randint(0, self.drop_width, shape, device=x.device)  # (batch, stripes, 1)
        start = (torch.rand(shape, device=x.device) * (total - width).clamp(min=1)).long()
        position = torch.arange(total, device=x.device)  # (total,)
        dropped = ((position >= start) & (position < start + width)).any(dim=1)  # (batch, total)
        keep = (~dropped).to(x.dtype)
        if self.dim == 2:
            return x * keep[:, None, :, None]
        return x * keep[:, None, None, :]


class SpecAugmentation(nn.Module):
    """SpecAugment's stripe dropping on time frames and mel bins (training only).

    Shapes
    ------
    ``(batch, channels, time, mel)`` -> same.

    Examples
    --------
    >>> aug = SpecAugmentation(time_drop_width=16, time_stripes_num=2,
    ...                        freq_drop_width=4, freq_stripes_num=2)
    >>> aug(torch.ones(3, 1, 50, 16)).shape
    torch.Size([3, 1, 50, 16])
    """

    def __init__(self, *, time_drop_width: int, time_stripes_num: int,
                 freq_drop_width: int, freq_stripes_num: int) -> None:
        super().__init__()
        self.time_dropper = DropStripes(dim=2, drop_width=time_drop_width,
                                        stripes_num=time_stripes_num)
        self.freq_dropper = DropStripes(dim=3, drop_width=freq_drop_width,
                                        stripes_num=freq_stripes_num)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.freq_dropper(self.time_dropper(x))
