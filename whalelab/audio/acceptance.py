"""Which files a run reads: one rule for prediction, detection and training."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable

from whalelab.audio.files import AudioInfo
from whalelab.config import LOW_RATE_ACTIONS, RunConfig
from whalelab.errors import AudioError, ConfigError

#: a file of more channels than this read without a channel is mixed with a warning
MIXED_CHANNELS = 2


@dataclasses.dataclass(frozen=True)
class AudioRule:
    """Which files a run reads, and how: the one rule of prediction, detection and training.

    :meth:`check` refuses, with an :class:`AudioError` naming the file:

    - a file shorter than one STFT window (``n_fft`` samples at ``sample_rate``): it holds
      no spectrum frame (``n_fft=0``: any length; training, which repeats short clips);
    - a sample rate whose Nyquist frequency lies at or below the band's ``fmin`` (it holds
      none of the band), or below ``fmax`` with ``low_rate="refuse"``;
    - a ``channel`` the file does not have.

    and returns, also as a warning naming the file, the note on a file read only in part:
    a Nyquist frequency below ``fmax`` with ``low_rate="warn"`` (the top of the band stays
    empty), and, where the user may choose a channel (``choose_channel``), a file of more
    than :data:`MIXED_CHANNELS` channels read without one, which is mixed: mixing
    hydrophones is rarely what is meant, and a call on one of them drowns in the others.

    Parameters
    ----------
    sample_rate : int
        The run's rate in Hz.
    band : (float, float) or None
        The run's ``(fmin, fmax)`` in Hz; None: any rate.
    n_fft : int
        The run's STFT window in samples; 0: any length.
    low_rate : {"warn", "refuse"}
        What a file whose Nyquist frequency lies below ``fmax`` does.
    channel : int or None
        The channel read (0-based); None mixes the channels.
    choose_channel : bool
        Whether ``channel`` is the user's to choose (``--channel``): then mixing more than
        :data:`MIXED_CHANNELS` channels is warned of.

    Examples
    --------
    >>> from pathlib import Path
    >>> rule = AudioRule(sample_rate=8000, band=(10.0, 4000.0), n_fft=1024)
    >>> rule.check(AudioInfo(Path("x.wav"), 16000, 1, 16000))
    ''
    >>> rule.check(AudioInfo(Path("x.wav"), 16000, 1, 100))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    whalelab.errors.AudioError: x.wav: 0.00625 s is too short to score; a file needs one STFT ...
    """

    sample_rate: int
    band: tuple[float, float] | None = None
    n_fft: int = 0
    low_rate: str = "warn"
    channel: int | None = None
    choose_channel: bool = False

    def __post_init__(self) -> None:
        if self.low_rate not in LOW_RATE_ACTIONS:
            raise ConfigError(f"low_rate must be one of {', '.join(LOW_RATE_ACTIONS)}, "
                              f"not {self.low_rate!r}")
        if self.channel is not None and self.channel < 0:
            raise ConfigError(f"channel must be 0 or more (0-based), not {self.channel}")

    @classmethod
    def for_scoring(cls, config: RunConfig, *, low_rate: str | None = None,
                    channel: int | None = None) -> AudioRule:
        """The rule of prediction and detection with the run ``config``: its rate, band and
        ``n_fft``, ``low_rate`` (None: the run's ``data.low_rate``) and the user's
        ``channel``."""
        features = config.features
        return cls(sample_rate=features.sample_rate, band=(features.fmin, features.fmax),
                   n_fft=features.n_fft, channel=channel, choose_channel=True,
                   low_rate=config.data.low_rate if low_rate is None else low_rate)

    def check(self, info: AudioInfo, *, warn: bool = True, stacklevel: int = 2) -> str:
        """Refuse ``info``'s file or return the note on how it is read (``""``: in full).

        With ``warn``, the note is also a warning naming the file (``stacklevel`` is
        :func:`warnings.warn`'s, counted from the function that calls this one).
        """
        if info.frames * self.sample_rate / info.sample_rate < self.n_fft:
            raise AudioError(f"{info.path}: {info.duration:.3g} s is too short to score; a "
                             f"file needs one STFT window, n_fft={self.n_fft} samples at "
                             f"{self.sample_rate} Hz ({self.n_fft / self.sample_rate:.3g} s)")
        if self.channel is not None and self.channel >= info.channels:
            raise AudioError(f"{info.path}: channel {self.channel} asked for, the file has "
                             f"{info.channels} channel(s)")
        notes = [self._rate_note(info)]
        if self.choose_channel and self.channel is None and info.channels > MIXED_CHANNELS:
            notes.append(f"its {info.channels} channels are mixed into one (their mean); "
                         f"mixing hydrophones is rarely what is meant: choose one with "
                         f"--channel (channel= in Python)")
        note = "; ".join(note for note in notes if note)
        if warn and note:
            warnings.warn(f"{info.path}: {note}", stacklevel=stacklevel + 1)
        return note

    def _rate_note(self, info: AudioInfo) -> str:
        if self.band is None:
            return ""
        fmin, fmax = self.band
        nyquist = info.sample_rate / 2
        if nyquist >= fmax:
            return ""
        if nyquist <= fmin or self.low_rate == "refuse":
            raise AudioError(f"{info.path}: sample rate {info.sample_rate} Hz cannot hold the "
                             f"run's band {fmin:g}-{fmax:g} Hz (Nyquist frequency "
                             f"{nyquist:g} Hz)")
        return (f"sample rate {info.sample_rate} Hz: its Nyquist frequency {nyquist:g} Hz is "
                f"below the run's fmax {fmax:g} Hz")

    def check_files(self, infos: Iterable[AudioInfo], *, stacklevel: int = 2) -> list[str]:
        """:meth:`check` each file, the notes ``(files,)`` in order; the warnings named one
        per file, or for more than :data:`NAMED_NOTES` noted files one warning counting
        them (their rates) and naming the first."""
        infos = list(infos)
        notes = [self.check(info, warn=False) for info in infos]
        noted = [(info, note) for info, note in zip(infos, notes, strict=True) if note]
        if len(noted) <= NAMED_NOTES:
            for info, note in noted:
                warnings.warn(f"{info.path}: {note}", stacklevel=stacklevel + 1)
        else:
            rates = sorted({info.sample_rate for info, _ in noted})
            warnings.warn(f"{len(noted)} files at {', '.join(map(str, rates))} Hz cannot hold "
                          f"the run's fmax {self.band[1]:g} Hz and keep an empty top (the "
                          f"first: {noted[0][0].path})", stacklevel=stacklevel + 1)
        return notes


#: files with a note that :meth:`AudioRule.check_files` names one warning each
NAMED_NOTES = 3

