"""Clips and long recordings mixed from call and noise models, and the data set on disk.

A call is mixed into ocean noise at a random signal-to-noise ratio measured in the
call's band, and every clip or long recording is peak-normalised to a random level.
Clip ``i`` of a class draws from a generator seeded by (seed, class, ``i``), long
recording ``n`` from one seeded by (seed, ``n``), so the same seed gives the same bytes.

Examples
--------
>>> clip = example_clip("right_whale", seed=0)
>>> clip.shape, clip.dtype, bool(abs(clip).max() <= 1)
((40000,), dtype('float32'), True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.fft
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write
from whalelab.audio import write_audio
from whalelab.bands import write_bands
from whalelab.errors import ConfigError
from whalelab.profiles import resolve_profile
from whalelab.raven import write_raven
from whalelab.synth.calls import CALL_BANDS, SNR_DB, SPECIES, Call, check_sample_rate, render_call
from whalelab.synth.noise import ocean_noise
from whalelab.synth.signals import sample_count

BACKGROUND = "background"
LABELS = [*SPECIES, BACKGROUND]
LEVEL_DBFS = (-20.0, -3.0)  # peak level of every clip and long recording, drawn uniformly
SPLITS = {"train": 0.70, "val": 0.15, "test": 0.15}
MIN_GAP_S = 3.0          # silence-free noise between calls in long recordings
MEAN_EXTRA_GAP_S = 5.0   # mean of the exponential gap added to MIN_GAP_S
_CLIP_STREAM, _LONG_STREAM = 0, 1  # seed-sequence tags keeping clips and recordings apart


def _band_power(samples: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Mean power of ``samples`` between ``low_hz`` and ``high_hz`` (Parseval, one-sided)."""
    spectrum = scipy.fft.rfft(samples)
    frequency = scipy.fft.rfftfreq(len(samples), 1 / sample_rate)
    inside = (frequency >= low_hz) & (frequency <= high_hz)
    return float(np.sum(np.abs(spectrum[inside]) ** 2)) / len(samples) ** 2


def _add_call(audio: np.ndarray, sound: Call, start: int, sample_rate: int,
              snr_db: float) -> None:
    """Add ``sound`` into ``audio`` from sample ``start`` (may be negative: cropped),
    scaled so that its power in its band is ``snr_db`` above the noise's under it."""
    first, last = max(start, 0), min(start + len(sound.samples), len(audio))
    piece = sound.samples[first - start:last - start]
    noise_power = _band_power(audio[first:last], sample_rate, sound.low_hz, sound.high_hz)
    call_power = _band_power(piece, sample_rate, sound.low_hz, sound.high_hz)
    audio[first:last] += piece * np.sqrt(noise_power * 10 ** (snr_db / 10) / call_power)


def _to_level(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak-normalise to a random level in :data:`LEVEL_DBFS` (never clips)."""
    peak = 10 ** (rng.uniform(*LEVEL_DBFS) / 20)
    return (audio * (peak / np.abs(audio).max())).astype(np.float32)


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed}")


def _clip_rng(seed: int, label: str, index: int) -> np.random.Generator:
    _check_seed(seed)
    return np.random.default_rng([seed, _CLIP_STREAM, LABELS.index(label), index])


def _long_rng(seed: int, number: int) -> np.random.Generator:
    _check_seed(seed)
    return np.random.default_rng([seed, _LONG_STREAM, number])


def _clip(label: str, rng: np.random.Generator, sample_rate: int,
          samples: int) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Noise with one call of ``label`` (none for background), wholly inside when it fits.

    Returns the clip ``(samples,)`` and the call's onset and offset in seconds from the
    clip's start, clipped to the clip and rounded to 4 decimals (None for background).
    """
    audio, span = ocean_noise(rng, samples, sample_rate), None
    if label != BACKGROUND:
        sound = render_call(label, rng, sample_rate)
        low, high = sorted((0, samples - len(sound.samples)))  # longer calls: clip inside call
        start = int(rng.integers(low, high + 1))
        _add_call(audio, sound, start, sample_rate, rng.uniform(*SNR_DB[label]))
        span = (round(max(start, 0) / sample_rate, 4),
                round(min(start + len(sound.samples), samples) / sample_rate, 4))
    return _to_level(audio, rng), span


def _check_clip(label: str, sample_rate: int, clip_seconds: float) -> int:
    if label not in LABELS:
        raise ConfigError(f"unknown class {label!r}; choose one of {', '.join(LABELS)}")
    check_sample_rate(sample_rate)
    if not clip_seconds > 0:
        raise ConfigError(f"clip_seconds must be positive, not {clip_seconds}")
    return sample_count(clip_seconds, sample_rate)


def example_clip(species: str, *, seed: int = 0, sample_rate: int = 8000,
                 clip_seconds: float = 5.0) -> np.ndarray:
    """One clip ``(samples,)`` float32: a call of ``species`` over noise, or noise alone.

    It is the first clip of that class that :func:`make_dataset` writes with this seed
    (before 16-bit rounding).

    Examples
    --------
    >>> example_clip("background", seed=3, clip_seconds=2.0).shape
    (16000,)
    """
    samples = _check_clip(species, sample_rate, clip_seconds)
    return _clip(species, _clip_rng(seed, species, 0), sample_rate, samples)[0]


def long_recording(rng: np.random.Generator, *, sample_rate: int,
                   seconds: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Continuous ocean noise with calls of all six species at random known times.

    Species come in shuffled rounds of all six; calls never overlap and are at least
    :data:`MIN_GAP_S` apart (plus an exponential gap of mean :data:`MEAN_EXTRA_GAP_S`),
    about one call per 10-15 s. A call that would not end 1 s before the end stops
    the placing.

    Returns
    -------
    audio : numpy.ndarray
        float32 ``(samples,)``, peak-normalised.
    events : pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label``, one row per call, in time order.
    """
    audio = ocean_noise(rng, sample_count(seconds, sample_rate), sample_rate)
    events, order = [], []
    begin = rng.uniform(1.0, 5.0)
    while True:
        if not order:
            order = list(rng.permutation(SPECIES))
        species = str(order.pop())
        sound = render_call(species, rng, sample_rate)
        start = int(round(begin * sample_rate))
        end = start + len(sound.samples)
        if end / sample_rate > seconds - 1.0:
            break
        _add_call(audio, sound, start, sample_rate, rng.uniform(*SNR_DB[species]))
        events.append({"begin_s": start / sample_rate, "end_s": end / sample_rate,
                       "low_hz": sound.low_hz, "high_hz": sound.high_hz, "label": species})
        begin = end / sample_rate + MIN_GAP_S + rng.exponential(MEAN_EXTRA_GAP_S)
    return _to_level(audio, rng), pd.DataFrame(
        events, columns=["begin_s", "end_s", "low_hz", "high_hz", "label"])


def split_sizes(per_class: int) -> dict[str, int]:
    """Clips per split for ``per_class`` clips of a class: 70/15/15, at least one each.

    Examples
    --------
    >>> split_sizes(100), split_sizes(3)
    ({'train': 70, 'val': 15, 'test': 15}, {'train': 1, 'val': 1, 'test': 1})
    """
    if per_class < len(SPLITS):
        raise ConfigError(f"per_class must be at least {len(SPLITS)} (one clip per split), "
                          f"not {per_class}")
    val = max(1, round(SPLITS["val"] * per_class))
    test = max(1, round(SPLITS["test"] * per_class))
    return {"train": per_class - val - test, "val": val, "test": test}


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Delete files of an earlier, larger set in this layout that this run did not write."""
    stale = [*out.glob("long/long_*.wav"), *out.glob("long/long_*.selections.txt")]
    for split in SPLITS:
        for label in LABELS:
            stale += out.glob(f"{split}/{label}/{label}_*.wav")
    for path in stale:
        if path not in written:
            path.unlink()


def make_dataset(out: str | Path, *, profile: str = "quick", seed: int = 0,
                 per_class: int | None = None, sample_rate: int = 8000,
                 clip_seconds: float = 5.0, progress: bool | None = None) -> Path:
    """Write the synthetic data set into ``out``; the same seed gives the same bytes.

    Layout::

        out/{train,val,test}/<class>/<class>_<nnnn>.wav   16-bit clips, class = species
                                                           or "background"
        out/long/long_<nnn>.wav                           long recordings with calls
        out/long/long_<nnn>.selections.txt                their Raven tables ("Species")
        out/bands.json, out/long/bands.json               each species' band (Hz), as
                                                           whalelab.bands reads it
        out/manifest.csv                                  path,label,split,recording,
                                                           call_start_s,call_end_s

    The clips and the long recordings are each a data set that training can read
    (``out`` through its manifest, ``out/long`` through its Raven tables), so each
    carries the species' bands (:data:`~whalelab.synth.calls.CALL_BANDS`) in a
    ``bands.json``. ``manifest.csv`` (paths relative to ``out``; empty label for
    background; where each clip's call starts and ends, in seconds from the clip's
    start, empty for background) is written last, so its presence means a complete set; files of an
    earlier run in this layout that this run does not write are removed.

    Parameters
    ----------
    out : path
        Folder to write into (created).
    profile : str
        ``smoke``, ``quick`` or ``full``: clips per class and the long recordings' number
        and length.
    seed : int
        Non-negative; clip ``i`` of a class depends only on (seed, class, i).
    per_class : int or None
        Clips per class over all splits (70/15/15); None takes the profile's.
    sample_rate, clip_seconds : int, float
        Of the clips and recordings (sample_rate >= 4000).
    progress : bool or None
        tqdm bar; None shows it only on a terminal or in a notebook.

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> import tempfile
    >>> out = make_dataset(tempfile.mkdtemp(), profile="smoke", per_class=3, progress=False)
    >>> sorted(path.name for path in out.iterdir())
    ['bands.json', 'long', 'manifest.csv', 'test', 'train', 'val']
    """
    out = Path(out)
    settings = resolve_profile(profile)
    sizes = split_sizes(settings.clips_per_class if per_class is None else per_class)
    samples = _check_clip(BACKGROUND, sample_rate, clip_seconds)
    _check_seed(seed)
    (out / "manifest.csv").unlink(missing_ok=True)
    splits = [split for split, size in sizes.items() for _ in range(size)]
    bar = tqdm(total=len(LABELS) * len(splits) + settings.long_recordings, desc="synth",
               unit="file", disable=not progress if progress is not None else None)
    rows, written = [], set()
    for label in LABELS:
        for index, split in enumerate(splits):
            name = f"{label}_{index:04d}"
            path = out / split / label / f"{name}.wav"
            audio, span = _clip(label, _clip_rng(seed, label, index), sample_rate, samples)
            write_audio(path, audio, sample_rate)
            written.add(path)
            rows.append({"path": path.relative_to(out).as_posix(),
                         "label": "" if label == BACKGROUND else label,
                         "split": split, "recording": name,
                         "call_start_s": "" if span is None else span[0],
                         "call_end_s": "" if span is None else span[1]})
            bar.update()
    for number in range(settings.long_recordings):
        path = out / "long" / f"long_{number:03d}.wav"
        audio, events = long_recording(_long_rng(seed, number), sample_rate=sample_rate,
                                       seconds=60 * settings.long_recording_minutes)
        write_audio(path, audio, sample_rate)
        table = write_raven(events.assign(begin_file=path.name),
                            path.with_name(f"{path.stem}.selections.txt"))
        written |= {path, table}
        bar.update()
    bar.close()
    _remove_stale(out, written)
    bands = {species: CALL_BANDS[species] for species in SPECIES}
    for folder in (out, out / "long"):
        write_bands(folder, bands)
    atomic_write(out / "manifest.csv", lambda temporary: pd.DataFrame(rows).to_csv(
        temporary, index=False, lineterminator="\n"))
    return out
