"""Clips served as tensors: decoding, a cache, crop and pad, and helpers against imbalance.

Padding repeats the clip (:func:`tile`) instead of adding digital silence: a short
noise-only clip padded with zeros has a log-mel picture (a hard edge, then the floor at
``top_db`` below its peak) that no real recording has, and that a model reads as a call.
Repeating keeps each band's level and spread; reflecting would too, but it plays calls
backwards (an upsweep becomes a downsweep), so whalelab repeats.

In training a clip may also pass through a random equaliser (:func:`random_equaliser`,
``equalise_db``): hydrophones and recording chains colour the spectrum, each recording
its own way, and a model that learns a recording's colour instead of its calls fails on
the next recording.

A data set whose files come at several sample rates holds an empty top above each
low-rate file's Nyquist frequency, and where the rate goes with the species that empty
top names the class. ``band_limit`` low-passes a share of the training clips of *every*
class at one of the Nyquist frequencies found among them (:func:`low_pass`), so that an
empty top occurs in every class and identifies none; validation and evaluation clips
are never touched.

A file whose sample rate cannot hold the run's band (Nyquist frequency below ``fmax``)
holds nothing in the top of it: the one rule of what audio a run reads
(:class:`whalelab.audio.AudioRule`, as prediction and detection apply it) warns of it or
refuses it (``low_rate``), and always refuses one whose Nyquist frequency is at or below
``fmin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from whalelab.audio import AudioRule, audio_info, load_audio, tile
from whalelab.config import RunConfig
from whalelab.data.clips import BACKGROUND, Clip, ClipIndex, Span
from whalelab.errors import ConfigError
from whalelab.runtime import progress_bar

def _filtered(waveform: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``(samples,)`` float32 with each rFFT bin scaled by ``gain`` ``(samples // 2 + 1,)``."""
    return np.fft.irfft(np.fft.rfft(waveform) * gain, n=len(waveform)).astype(np.float32)


def random_equaliser(waveform: np.ndarray, *, max_db: float,
                     coefficients: np.ndarray) -> np.ndarray:
    """``(samples,)`` filtered by a smooth gain curve over log frequency, at most ``max_db``.

    The gain in dB at the ``u``-th position between the lowest bin above zero and the
    Nyquist frequency on a log-frequency axis (``u`` from 0 to 1) is ``max_db *
    sum_k coefficients[k] * cos(pi * (k + 1) * u) / len(coefficients)``; with
    coefficients in [-1, 1] it never exceeds ``max_db``: a tilt, a bump or a dip, as
    different hydrophones and preamplifiers give. The zero-frequency bin keeps its gain.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    >>> bool(np.allclose(random_equaliser(x, max_db=6.0, coefficients=np.zeros(3)), x, atol=1e-5))
    True
    """
    bins = len(waveform) // 2 + 1
    position = np.zeros(bins)
    position[1:] = np.log(np.arange(1, bins)) / np.log(max(bins - 1, 2))
    orders = np.arange(1, len(coefficients) + 1)
    gain_db = max_db * (coefficients[:, None] * np.cos(np.pi * orders[:, None] * position)
                        ).sum(axis=0) / max(len(coefficients), 1)  # (bins,)
    gain_db[0] = 0.0
    return _filtered(waveform, 10 ** (gain_db / 20))


def low_pass(waveform: np.ndarray, *, sample_rate: int, cutoff: float) -> np.ndarray:
    """``(samples,)`` with every frequency above ``cutoff`` Hz removed (a brick wall in the
    FFT): what a file recorded at ``2 * cutoff`` Hz holds after resampling up.

    Examples
    --------
    >>> t = np.arange(8000) / 8000
    >>> tones = (np.sin(2 * np.pi * 500 * t) + np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    >>> kept = low_pass(tones, sample_rate=8000, cutoff=1000.0)
    >>> bool(np.allclose(kept, np.sin(2 * np.pi * 500 * t), atol=1e-4))
    True
    """
    return _filtered(waveform, np.fft.rfftfreq(len(waveform), 1 / sample_rate) <= cutoff)


#: cosine terms of the random equaliser's gain curve (3: tilts, bumps and dips an octave or wider)
EQUALISER_TERMS = 3


class ClipCache:
    """Decoded, resampled clips kept in memory so that later epochs do not decode again.

    Keys are ``(path, start_s, duration_s, sample_rate)``; values float32 ``(samples,)``.
    """

    def __init__(self) -> None:
        self._waveforms: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._waveforms)

    def get(self, clip: Clip, sample_rate: int) -> np.ndarray:
        """The clip's audio at ``sample_rate``, decoded once."""
        key = (clip.path, clip.start_s, clip.duration_s, sample_rate)
        if key not in self._waveforms:
            self._waveforms[key] = _decode(clip, sample_rate)
        return self._waveforms[key]


def _decode(clip: Clip, sample_rate: int) -> np.ndarray:
    return load_audio(clip.path, sample_rate, offset=clip.start_s, duration=clip.duration_s)


class ClipItem(NamedTuple):
    """One clip as :class:`ClipDataset` serves it (PyTorch's DataLoader stacks each field
    over a batch, giving a ``ClipItem`` of batches).

    Fields
    ------
    waveform : torch.Tensor
        float32 ``(samples,)``: the clip cropped or repeated to the clip length.
    target : torch.Tensor
        float32 ``(classes,)`` multi-hot: the clip's classes.
    frame_target : torch.Tensor
        float32 ``(frames, classes)``: 1 in the frames of a call of the class
        (:func:`frame_targets`); ``(0, classes)`` for a dataset without ``hop_length``.
    strong : torch.Tensor
        float32 ``()``: 1 where the clip's call spans are known (else ``frame_target``
        is all zero and says nothing).
    """

    waveform: torch.Tensor
    target: torch.Tensor
    frame_target: torch.Tensor
    strong: torch.Tensor


class ClipDataset(Dataset):
    """Fixed-length waveforms and multi-hot targets of a :class:`~whalelab.data.clips.ClipIndex`.

    A clip longer than ``clip_seconds`` is cropped (at random in training, centred in
    evaluation); a shorter one is repeated end to end to the clip length (:func:`tile`),
    one copy of it placed at a random offset in training, centred in evaluation, the
    others before and after it. Random positions come from torch's global generator,
    which the training loop seeds per epoch (and DataLoader seeds per worker).

    Items are :class:`ClipItem` ``(waveform, target, frame_target, strong)``: float32
    ``(samples,)``, ``(classes,)``, and with ``hop_length`` (the log-mel hop, in samples)
    ``frame_target`` ``(frames, classes)`` with ``frames = 1 + samples // hop_length``
    (:func:`frame_targets`, the clip's spans moved with the crop this item got, or
    repeated with each copy of a repeated clip: the model hears the call in every copy)
    and ``strong``, 1 where the clip's spans are known (else its frame target is all
    zero). Without ``hop_length`` the frame target is empty ``(0, classes)`` and
    ``strong`` 0: clip labels only.

    A run's datasets come from :meth:`for_run`, which reads all of these settings from
    its configuration; the constructor is for clips outside a run (tests, notebooks on
    raw data).

    With ``band``, the run's ``(fmin, fmax)`` in Hz, each file's sample rate is checked
    when the dataset is made (:meth:`whalelab.audio.AudioRule.check_files`, with
    ``low_rate``: a low-rate file named in a warning, or many counted in one). In training,
    ``equalise_db`` > 0 passes each item through a :func:`random_equaliser` of at most
    that many dB, drawn from torch's global generator, and ``band_limit`` is the share of
    training items low-passed (:func:`low_pass`) at a cutoff drawn from :attr:`cutoffs`:
    the Nyquist frequencies below ``fmax`` of the dataset's clips, one per clip (so a rate
    common in the data is drawn as often); with no such clip, or without ``band``, none.
    """

    def __init__(self, index: ClipIndex, *, sample_rate: int, clip_seconds: float,
                 train: bool = False, cache: ClipCache | None = None,
                 hop_length: int | None = None, band: tuple[float, float] | None = None,
                 low_rate: str = "warn", equalise_db: float = 0.0,
                 band_limit: float = 0.0) -> None:
        rule = AudioRule(sample_rate=sample_rate, band=band, low_rate=low_rate)
        if equalise_db < 0:
            raise ConfigError(f"equalise_db must not be negative, not {equalise_db}")
        if not 0 <= band_limit <= 1:
            raise ConfigError(f"band_limit must be in [0, 1], not {band_limit}")
        self.index, self.sample_rate, self.train = index, sample_rate, train
        self.equalise_db, self.band_limit = equalise_db, band_limit
        self.samples = int(round(clip_seconds * sample_rate))
        self.cache = cache
        self.targets = torch.from_numpy(index.targets())
        self.hop_length = hop_length
        #: the Nyquist frequencies below ``fmax`` of the clips, one per clip ``(clips,)``
        self.cutoffs = np.zeros(0)
        if band is not None:
            infos = {path: audio_info(path) for path in dict.fromkeys(clip.path
                                                                      for clip in index.clips)}
            rule.check_files(infos.values(), stacklevel=2)
            nyquist = np.array([infos[clip.path].sample_rate / 2 for clip in index.clips])
            self.cutoffs = nyquist[nyquist < band[1]]

    @classmethod
    def for_run(cls, index: ClipIndex, config: RunConfig, *, train: bool = False,
                cache: ClipCache | None = None) -> "ClipDataset":
        """The clips of ``index`` as the run ``config`` reads them, in training (``train``:
        random crops and offsets, the run's ``equalise_db`` and ``band_limit``) or in
        evaluation (centred, untouched): the run's sample rate and clip length, frame
        targets at its log-mel hop, and each file's rate checked against its band
        ``(fmin, fmax)`` with its ``low_rate`` action.

        Examples
        --------
        >>> config = RunConfig.from_profile("smoke", data="d", classes=["a"], equalise_db=6.0)
        >>> dataset = ClipDataset.for_run(ClipIndex([], ["a"]), config, train=True)
        >>> dataset.samples, dataset.hop_length, dataset.equalise_db
        (40000, 128, 6.0)
        """
        features = config.features
        return cls(index, sample_rate=features.sample_rate, clip_seconds=features.clip_seconds,
                   train=train, cache=cache, hop_length=features.hop_length,
                   band=(features.fmin, features.fmax), low_rate=config.data.low_rate,
                   equalise_db=config.train.equalise_db, band_limit=config.train.band_limit)

    def __len__(self) -> int:
        return len(self.index.clips)

    def clip(self, item: int) -> Clip:
        """The :class:`~whalelab.data.clips.Clip` behind item ``item``."""
        return self.index.clips[item]

    def preload(self, *, progress: bool | None = None) -> None:
        """Decode every clip into the cache now, with a progress bar."""
        if self.cache is None:
            self.cache = ClipCache()
        for clip in progress_bar(self.index.clips, progress=progress, desc="decode",
                                 leave=False):
            self.cache.get(clip, self.sample_rate)

    def waveform(self, item: int) -> np.ndarray:
        """The decoded audio of item ``item`` at the dataset's rate, before crop or pad."""
        clip = self.index.clips[item]
        return self.cache.get(clip, self.sample_rate) if self.cache is not None \
            else _decode(clip, self.sample_rate)

    def __getitem__(self, item: int) -> ClipItem:
        audio = self.waveform(item)
        shift = 0  # where the clip's first sample lands in the served waveform
        length = len(audio)
        excess = length - self.samples
        if excess > 0:
            start = int(torch.randint(0, excess + 1, ())) if self.train else excess // 2
            audio, shift = audio[start:start + self.samples], -start
        elif excess < 0:
            shift = int(torch.randint(0, -excess + 1, ())) if self.train else -excess // 2
            audio = tile(audio, self.samples, offset=shift)
        if self.train and self.equalise_db > 0:
            audio = random_equaliser(audio, max_db=self.equalise_db,
                                     coefficients=2 * torch.rand(EQUALISER_TERMS).numpy() - 1)
        if self.train and self.band_limit > 0 and len(self.cutoffs) \
                and float(torch.rand(())) < self.band_limit:
            cutoff = self.cutoffs[int(torch.randint(0, len(self.cutoffs), ()))]
            audio = low_pass(audio, sample_rate=self.sample_rate, cutoff=float(cutoff))
        audio = torch.from_numpy(audio)
        if self.hop_length is None:
            return ClipItem(audio, self.targets[item],
                            torch.zeros(0, len(self.index.classes)), torch.tensor(0.0))
        spans = self.index.clips[item].spans
        return ClipItem(
            audio, self.targets[item],
            torch.from_numpy(self._frame_target(spans or (), shift=shift, length=length)),
            torch.tensor(float(spans is not None)))

    def _frame_target(self, spans: Sequence[Span], *, shift: int, length: int) -> np.ndarray:
        """:func:`frame_targets` of each copy of the clip (one unless it is repeated), merged."""
        copies = range(-shift // length, -(-(self.samples - shift) // length))  # overlap the window
        return np.maximum.reduce([
            frame_targets(spans, self.index.classes, frames=1 + self.samples // self.hop_length,
                          hop_s=self.hop_length / self.sample_rate,
                          offset_s=(shift + copy * length) / self.sample_rate,
                          end_s=min(shift + (copy + 1) * length, self.samples) / self.sample_rate)
            for copy in copies])


def frame_targets(spans: Sequence[Span], classes: Sequence[str], *, frames: int, hop_s: float,
                  offset_s: float, end_s: float) -> np.ndarray:
    """Frame targets ``(frames, classes)`` float32 of call spans: 1 inside a call of the class.

    Frame ``f`` sits at ``f * hop_s`` seconds of the window; it is 1 for a class when
    that time lies in ``[start + offset_s, end + offset_s)`` of one of the class's
    spans, clipped to ``[0, end_s)``.

    Parameters
    ----------
    spans : sequence of (label, start_s, end_s)
        A clip's calls (:attr:`~whalelab.data.clips.Clip.spans`); labels must be classes.
    classes : sequence of str
        The class order of the columns.
    frames, hop_s : int, float
        Frame count and the seconds between frames (``hop_length / sample_rate``).
    offset_s : float
        Where the clip's start lies in the window: positive when padded on the left,
        negative when cropped.
    end_s : float
        Where the clip's audio ends in the window: the window's length, or less where
        the clip ends inside it (no call lies past the clip's audio).

    Examples
    --------
    >>> frame_targets([("fin", 0.5, 1.0)], ["fin", "minke"], frames=6, hop_s=0.25,
    ...               offset_s=0.25, end_s=1.25)[:, 0].tolist()
    [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    """
    position = {name: k for k, name in enumerate(classes)}
    time = np.arange(frames) * hop_s
    target = np.zeros((frames, len(classes)), dtype=np.float32)
    for label, start, end in spans:
        inside = (time >= start + offset_s) & (time < min(end + offset_s, end_s))
        target[inside, position[label]] = 1.0
    return target


def class_weights(index: ClipIndex) -> torch.Tensor:
    """``pos_weight`` for BCE: negatives over positives per class ``(classes,)``, at most 100."""
    targets = index.targets()
    positives = targets.sum(axis=0)
    weights = (len(targets) - positives) / np.maximum(positives, 1)
    return torch.from_numpy(np.clip(weights, 1.0, 100.0).astype(np.float32))


def balanced_sampler(index: ClipIndex, seed: int) -> WeightedRandomSampler:
    """Draw each clip with weight 1 / (clips of its main label), so classes come equally often."""
    main = [clip.labels[0] if clip.labels else BACKGROUND for clip in index.clips]
    counts = pd.Series(main).value_counts()
    weights = torch.tensor([1.0 / counts[label] for label in main], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=len(main), replacement=True,
                                 generator=torch.Generator().manual_seed(seed))
