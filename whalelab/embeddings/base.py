"""The :class:`Embedder` interface: audio in, one vector per window out, streamed.

An embedder is a model that hears ``window_s`` seconds at its own ``sample_rate`` and
answers ``dim`` numbers. Everything else is shared here: how a file is read (streamed in
blocks by :func:`whalelab.audio.stream_audio`, cut by :class:`whalelab.audio.Windows`,
embedded ``batch_size`` windows at a time), which files are refused (the one
:class:`whalelab.audio.AudioRule`: an :class:`~whalelab.errors.AudioError` naming the
file that is missing, corrupt, empty, holds NaN, is too short or lacks the channel asked
for), and the speed factor.

**Speed factor.** The audio is treated as recorded at ``speed`` times its rate before
the embedder resamples it (played ``speed`` times faster: every frequency times
``speed``). Reading a file at ``sample_rate / speed`` and handing those samples to the
model as if at ``sample_rate`` is exactly that, so one window covers ``window_s * speed``
seconds of the recording and windows start every ``hop_s * speed`` seconds of it;
``window_s`` and ``hop_s`` are in the model's time. A file shorter than one window is
tiled into one (:func:`whalelab.audio.tile`, a copy centred), never padded with silence.

Examples
--------
>>> class Level(Embedder):
...     name, version, model_sha256, sample_rate, window_s, dim = "level", "1", "", 100, 1.0, 1
...     def embed_windows(self, windows):
...         return np.abs(windows).mean(axis=1, keepdims=True)
>>> level = Level(speed=2.0)
>>> level.hop_s, level.settings()["speed"]
(0.5, 2.0)
>>> level.embed_waveforms(np.ones((3, 400), np.float32), sample_rate=100).shape
(3, 1)
"""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from whalelab.audio import BLOCK_SECONDS, AudioRule, Windows, audio_info, stream_audio
from whalelab.errors import ConfigError

#: windows embedded at a time
BATCH_SIZE = 16


@dataclasses.dataclass(frozen=True)
class FileEmbeddings:
    """A file's windows and their embeddings.

    Attributes
    ----------
    starts_s, ends_s : numpy.ndarray
        float64 ``(windows,)``: where each window begins and ends in the file, in the
        file's own seconds (a tiled short file: 0 and its length).
    vectors : numpy.ndarray
        float32 ``(windows, dim)``.
    scores : numpy.ndarray
        float32 ``(windows, classes)``: the model's clipwise scores of each window where
        the embedder is a trained run; ``(windows, 0)`` otherwise.
    """

    starts_s: np.ndarray
    ends_s: np.ndarray
    vectors: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.starts_s)


class Embedder(abc.ABC):
    """A model that turns windows of audio into vectors, and files into windows' vectors.

    A subclass sets the class or instance attributes below and implements
    :meth:`embed_windows` (and :meth:`embed_and_score` where it has classes).

    Parameters
    ----------
    speed : float
        The speed factor (see the module's notes): 8 hears a 20 Hz call at 160 Hz.
    hop_s : float or None
        Seconds between windows' starts in the model's time; None: half a window.

    Attributes
    ----------
    name, version : str
        What the model is (``birdnet``, ``2.4``).
    model_sha256 : str
        SHA-256 of the model file (what the cache and the store are keyed on).
    sample_rate : int
        The rate, in Hz, of the samples the model takes.
    window_s : float
        Seconds of audio, at ``sample_rate``, one window holds.
    dim : int
        Numbers per window.
    classes : sequence of str
        Classes the model scores (:meth:`embed_and_score`); empty for a pure embedder.
    licence : str
        The model's licence, recorded wherever its embeddings are stored ("" if none).
    min_samples : int
        The fewest samples, at ``sample_rate``, a file must hold to be embedded.
    recipe : tuple or None
        How :func:`whalelab.embeddings.load_embedder` made it, ``(model, speed, hop_s,
        device, threads)``, so that a cluster's workers make it again; None otherwise.
    """

    name: str
    version: str
    model_sha256: str
    sample_rate: int
    window_s: float
    dim: int
    classes: tuple[str, ...] = ()
    licence: str = ""
    min_samples: int = 1
    recipe: tuple | None = None

    def __init__(self, *, speed: float = 1.0, hop_s: float | None = None) -> None:
        if not speed > 0:
            raise ConfigError(f"speed must be positive, not {speed}")
        if hop_s is not None and not 0 < hop_s <= self.window_s:
            raise ConfigError(f"hop_s must be above 0 and at most the window, "
                              f"{self.window_s:g} s, not {hop_s}")
        self.speed = float(speed)
        self.hop_s = self.window_s / 2 if hop_s is None else float(hop_s)

    @abc.abstractmethod
    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """``(n, window_samples)`` float32 at :attr:`sample_rate` -> ``(n, dim)`` float32."""

    def embed_and_score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, window_samples)`` -> ``(n, dim)`` vectors and the classes' scores ``(n,
        classes)`` (none by default; a model that scores overrides this)."""
        return self.embed_windows(windows), np.zeros((len(windows), 0), dtype=np.float32)

    @property
    def window_samples(self) -> int:
        """Samples of one window at :attr:`sample_rate`."""
        return round(self.window_s * self.sample_rate)

    @property
    def hop_samples(self) -> int:
        """Samples between windows' starts at :attr:`sample_rate`."""
        return max(1, round(self.hop_s * self.sample_rate))

    @property
    def read_rate(self) -> float:
        """The rate a file is read at: :attr:`sample_rate` over the speed factor (Hz)."""
        rate = self.sample_rate / self.speed
        return int(rate) if rate == int(rate) else rate

    def settings(self) -> dict[str, Any]:
        """What the embeddings depend on: the model and how the audio is cut and heard."""
        return {"name": self.name, "version": self.version, "model_sha256": self.model_sha256,
                "sample_rate": self.sample_rate, "window_s": self.window_s,
                "hop_s": self.hop_s, "speed": self.speed, "dim": self.dim,
                "classes": list(self.classes)}

    def rule(self, channel: int | None = None) -> AudioRule:
        """The files this embedder reads: at least :attr:`min_samples` once read at
        :attr:`read_rate`, and ``channel`` where one is asked for."""
        return AudioRule(sample_rate=self.read_rate, n_fft=self.min_samples, channel=channel,
                         choose_channel=True)

    def _run(self, windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self.embed_and_score(np.stack(windows))  # (n, window_samples) in

    def embed_file(self, path: str | Path, *, channel: int | None = None,
                   batch_size: int = BATCH_SIZE) -> FileEmbeddings:
        """Every window of ``path``, read as a stream (memory flat whatever its length).

        Raises
        ------
        AudioError
            The file is refused by :meth:`rule` or cannot be read, naming it.
        """
        self.rule(channel).check(audio_info(path), stacklevel=3)
        cut = Windows(stream_audio(path, self.read_rate, block_seconds=BLOCK_SECONDS,
                                   channel=channel),
                      clip=self.window_samples, hop=self.hop_samples)
        starts, pending, vectors, scores = [], [], [], []
        for start, window, _ in cut:
            starts.append(start)
            pending.append(window.copy())
            if len(pending) == batch_size:
                embedded, scored = self._run(pending)
                vectors.append(embedded)
                scores.append(scored)
                pending.clear()
        if pending:
            embedded, scored = self._run(pending)
            vectors.append(embedded)
            scores.append(scored)
        starts = np.asarray(starts, dtype=np.float64)
        return FileEmbeddings(
            starts_s=np.maximum(starts, 0) / self.read_rate,
            ends_s=np.minimum(starts + self.window_samples, cut.samples) / self.read_rate,
            vectors=np.concatenate(vectors).astype(np.float32, copy=False),
            scores=np.concatenate(scores).astype(np.float32, copy=False))

    def clip_windows(self, waveform: np.ndarray, *, sample_rate: float) -> list[np.ndarray]:
        """One clip ``(samples,)`` at ``sample_rate`` as the model's windows (speed applied)."""
        heard = sample_rate * self.speed
        waveform = np.asarray(waveform, dtype=np.float32)
        if heard != self.sample_rate:
            waveform = soxr.resample(waveform, heard, self.sample_rate,
                                     quality="HQ").astype(np.float32)
        if len(waveform) == 0:
            raise ConfigError(f"a clip of {len(waveform)} samples at {sample_rate:g} Hz is "
                              f"too short to embed")
        return [window.samples.copy() for window in Windows(
            [waveform], clip=self.window_samples, hop=self.hop_samples)]

    def embed_waveforms(self, waveforms: np.ndarray, *, sample_rate: float,
                        batch_size: int = BATCH_SIZE) -> np.ndarray:
        """One vector per clip: the mean of its windows' (a clip shorter than a window is
        tiled into one).

        Parameters
        ----------
        waveforms : numpy.ndarray
            ``(clips, samples)`` at ``sample_rate``.

        Returns
        -------
        numpy.ndarray
            float32 ``(clips, dim)``.
        """
        owners, windows = [], []
        for clip, waveform in enumerate(waveforms):
            cut = self.clip_windows(waveform, sample_rate=sample_rate)
            owners += [clip] * len(cut)
            windows += cut
        vectors = np.concatenate([self._run(windows[i:i + batch_size])[0]
                                  for i in range(0, len(windows), batch_size)]) \
            if windows else np.zeros((0, self.dim), np.float32)
        sums = np.zeros((len(waveforms), self.dim), dtype=np.float64)
        np.add.at(sums, np.asarray(owners, dtype=int), vectors)
        counts = np.bincount(owners, minlength=len(waveforms))[:, None]
        return (sums / np.maximum(counts, 1)).astype(np.float32)
