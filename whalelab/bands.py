"""Each class's frequency band, as the data set knows it: the one home of class bands.

Detection trims events to where a class's band stands out of the noise
(:mod:`whalelab.band_contrast`), so every run records a band per class in
``classes.json``. The band comes from the training data, never from a generator's
constants:

- a folder of long recordings with Raven tables: the annotations' ``Low Freq`` and
  ``High Freq`` (:func:`annotated_bands`);
- a data set that carries a ``bands.json`` (a user may write one beside a class tree or
  manifest): the bands it names (:func:`read_bands`);
- otherwise estimated from the training clips themselves (:func:`estimate_bands`): where
  each class's mean spectrum, inside its calls where their spans are known, stands above
  the call-free audio's;
- a class none of these knows gets the run's whole ``fmin``-``fmax`` range
  (:func:`class_bands`).

Examples
--------
>>> class_bands(["a", "b"], {"a": (5.0, 300.0)}, fmin=10.0, fmax=4000.0)
{'a': (10.0, 300.0), 'b': (10.0, 4000.0)}
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from whalelab.atomic import write_json
from whalelab.audio import audio_info
from whalelab.config import FeatureConfig
from whalelab.data import ClipDataset, ClipIndex, raven_pairs
from whalelab.data.layouts import events_within
from whalelab.errors import DataError, WhaleLabError
from whalelab.features import Spectrogram
from whalelab.raven import read_raven
from whalelab.runtime import progress_bar

#: the file beside a data set that names its classes' bands: ``{"bands": {name: [low, high]}}``
BANDS_FILE = "bands.json"

Band = tuple[float, float]

#: the fewest clips of a class whose band :func:`estimate_bands` gives without a warning.
#: The band is read off the class's mean spectrum less the call-free one; with a handful of
#: clips, one clip's noise (a ship, another species, a loud stretch of surf) can stand
#: further out than the calls themselves, and the band lands there (five clips put a fin
#: whale's band at 2500-3539 Hz for calls at 15-31 Hz). From ten clips on, one clip
#: weighs a tenth of the mean at most, below the excess of a call that stands a few dB out.
MIN_BAND_CLIPS = 10


def write_bands(folder: str | Path, bands: Mapping[str, Band]) -> Path:
    """Write ``FOLDER/bands.json`` atomically."""
    return write_json(Path(folder) / BANDS_FILE,
                      {"bands": {name: [float(low), float(high)]
                                 for name, (low, high) in bands.items()}})


def read_bands(folder: str | Path) -> dict[str, Band]:
    """The bands of ``FOLDER/bands.json``; empty when there is none.

    A malformed file raises :class:`whalelab.errors.DataError` naming it.

    Examples
    --------
    >>> read_bands("no/such/folder")
    {}
    """
    path = Path(folder) / BANDS_FILE
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text())["bands"]
        bands = {str(name): (float(low), float(high)) for name, (low, high) in values.items()}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{path}: not a bands file ({{\"bands\": {{class: [low_hz, high_hz]}}}}): "
                        f"{error}") from None
    bad = [name for name, (low, high) in bands.items() if not 0 <= low < high]
    if bad:
        raise DataError(f"{path}: bands of {bad} need 0 <= low_hz < high_hz")
    return bands


def annotated_bands(folder: str | Path, *, label_column: str = "Species",
                    coverage: float = 0.9) -> dict[str, Band]:
    """Each label's frequency band from the Raven tables of a folder of long recordings.

    The band runs from a low percentile of the annotations' ``Low Freq`` to a high one
    of their ``High Freq``, so that it holds ``coverage`` of the calls' extent without
    being stretched by one careless box; selections that begin past their recording's
    end are left out, with a warning (:func:`whalelab.data.layouts.events_within`). An
    empty dict means ``folder`` holds no annotated recordings (or is not a folder);
    tables that cannot be read are left out here, as :func:`whalelab.data.load_index`
    has already reported them.

    Examples
    --------
    >>> annotated_bands("no/such/folder")
    {}
    """
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    tables = []
    for audio, table in raven_pairs(folder):
        try:
            tables.append(events_within(read_raven(table, label_column=label_column), table,
                                        audio_info(audio).duration))
        except WhaleLabError:
            continue
    events = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if events.empty:
        return {}
    tail = 100 * (1 - coverage) / 2
    return {str(label): (float(np.percentile(group.low_hz, tail)),
                         float(np.percentile(group.high_hz, 100 - tail)))
            for label, group in events.groupby("label")}


def dataset_bands(data: str | Path, *, label_column: str = "Species") -> dict[str, Band]:
    """The bands a data set knows: its Raven annotations, else its ``bands.json``.

    ``data`` is what training reads: a folder (of recordings, of class folders, or
    holding ``manifest.csv``) or a manifest CSV, whose folder is searched for
    ``bands.json``.
    """
    path = Path(data)
    folder = path.parent if path.is_file() else path
    return annotated_bands(folder, label_column=label_column) or read_bands(folder)


def _mean_spectra(index: ClipIndex, features: FeatureConfig,
                  progress: bool | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean log power spectra in dB ``(classes, freq)`` inside each class's calls, their
    frame counts ``(classes,)``, and the mean log spectrum ``(freq,)`` of call-free frames.

    Each clip's spectrogram is divided by its own median power first, so that the random
    level of a recording does not weigh it, and averaged in dB, so that a few clips with
    loud low-frequency noise (a ship, brown noise) do not outweigh all the others. Inside
    a clip whose call spans are known, the call frames count for their class and the
    others as call-free; a clip with labels alone counts wholly for each of its classes.
    """
    dataset = ClipDataset(index, sample_rate=features.sample_rate,
                          clip_seconds=features.clip_seconds, hop_length=features.hop_length)
    spectrogram = Spectrogram(n_fft=features.n_fft, hop_length=features.hop_length,
                              win_length=features.win_length)
    freq = features.n_fft // 2 + 1
    sums, counts = np.zeros((len(index.classes), freq)), np.zeros(len(index.classes))
    quiet_sum, quiet_count = np.zeros(freq), 0
    targets = index.targets()
    for item in progress_bar(range(len(dataset)), progress=progress, desc="bands", leave=False):
        served = dataset[item]  # a ClipItem
        with torch.no_grad():
            power = spectrogram(served.waveform[None].double())[0, 0].numpy()  # (frames, freq)
        power = 10 * np.log10(np.maximum(power / max(float(np.median(power)), 1e-20), 1e-10))
        calls = served.frame_target.numpy() if served.strong else np.repeat(
            targets[item][None], len(power), axis=0)  # (frames, classes)
        sums += calls.T @ power
        counts += calls.sum(axis=0)
        quiet = calls.sum(axis=1) == 0
        quiet_sum += power[quiet].sum(axis=0)
        quiet_count += int(quiet.sum())
    return sums / np.maximum(counts, 1)[:, None], counts, quiet_sum / max(quiet_count, 1)


def estimate_bands(index: ClipIndex, features: FeatureConfig, *, coverage: float = 0.9,
                   progress: bool | None = None) -> dict[str, Band]:
    """Each class's band from its clips: where its calls' power exceeds the call-free audio's.

    For each class, how many dB its mean log spectrum (inside its calls) stands above that
    of call-free frames is measured at each frequency between ``fmin`` and ``fmax``; what
    exceeds half of its largest excess is taken as a distribution over frequency, and the
    band runs from its ``(1 - coverage) / 2`` to its ``(1 + coverage) / 2`` quantile
    (half the peak, as :mod:`whalelab.band_contrast` trims events, so that a class whose
    calls stand 20 dB out and one whose calls stand 2 dB out both get their core band). A
    class with no clip, or whose calls nowhere exceed the call-free audio, is left out (it
    gets the whole range from :func:`class_bands`).

    Parameters
    ----------
    index : ClipIndex
        The clips to learn from: the training split, never the test split.
    features : FeatureConfig
        The run's sample rate, clip length and STFT settings.
    """
    spectra, counts, quiet = _mean_spectra(index, features, progress)
    frequencies = np.linspace(0.0, features.sample_rate / 2, features.n_fft // 2 + 1)
    inside = (frequencies >= features.fmin) & (frequencies <= features.fmax)
    tail = (1 - coverage) / 2
    bands = {}
    for k, name in enumerate(index.classes):
        above = np.where(inside, spectra[k] - quiet, 0.0)  # (freq,) dB above call-free audio
        excess = np.maximum(above - above.max() / 2, 0.0)
        if counts[k] == 0 or excess.sum() <= 0:
            continue
        cumulative = np.cumsum(excess) / excess.sum()
        low = frequencies[int(np.searchsorted(cumulative, tail))]
        high = frequencies[min(int(np.searchsorted(cumulative, 1 - tail)), len(frequencies) - 1)]
        bands[name] = (float(low), float(max(high, low + frequencies[1])))
    return bands


def warn_of_thin_estimates(index: ClipIndex, classes: Sequence[str], *,
                           source: str | Path) -> None:
    """Warn, one line per class of ``classes``, where :func:`estimate_bands` would read its
    band off fewer than :data:`MIN_BAND_CLIPS` clips of ``index``.

    Examples
    --------
    >>> from whalelab.data import Clip
    >>> clips = ClipIndex([Clip(f"{i}.wav", labels=("fin",)) for i in range(4)], ["fin"])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_of_thin_estimates(clips, ["fin"], source="calls/")
    >>> str(caught[0].message).split(", so")[0]
    "calls/: the band of 'fin' is estimated from only 4 clip(s) (fewer than 10)"
    """
    counts = dict(zip(index.classes, index.targets().sum(axis=0).astype(int), strict=True))
    for name in classes:
        count = counts.get(name, 0)
        if count < MIN_BAND_CLIPS:
            warnings.warn(f"{source}: the band of {name!r} is estimated from only {count} "
                          f"clip(s) (fewer than {MIN_BAND_CLIPS}), so it may be far off; "
                          f"state it in a {BANDS_FILE} beside the data ({{\"bands\": "
                          f"{{\"{name}\": [low_hz, high_hz]}}}}) or annotate the calls in "
                          f"Raven tables", stacklevel=2)


def class_bands(classes: Sequence[str], known: Mapping[str, Band], *, fmin: float,
                fmax: float) -> dict[str, Band]:
    """A band for every class: the known one clipped to ``fmin``-``fmax``, else that range
    (also for a known band wholly outside it, which clipping would leave without width).

    Examples
    --------
    >>> class_bands(["a"], {"a": (5000.0, 6000.0)}, fmin=10.0, fmax=4000.0)
    {'a': (10.0, 4000.0)}
    """
    bands = {}
    for name in classes:
        low, high = known.get(name, (fmin, fmax))
        low, high = min(max(low, fmin), fmax), max(min(high, fmax), fmin)
        bands[name] = (low, high) if low < high else (fmin, fmax)
    return bands
