"""The synthetic data set on disk: clips in split and class folders with their manifest,
and long recordings for detection, validation and test apart.

Clip ``i`` of a class draws from a generator seeded by (seed, class, ``i``)
(:func:`~whalelab.synth.clips.clip_rng`), and recording ``n`` of each part (validation,
test, call-free) from one seeded by (seed, part, ``n``)
(:func:`~whalelab.synth.recordings.recording_rng`), so the same seed gives the same
bytes, and validation and test recordings are different audio. No file names the
species' bands: a detector estimates them from the training data, as it must from a
user's.

Examples
--------
>>> recordings = [(part, folder, name) for part, folder, name, _ in RECORDINGS]
>>> recordings
[('val', 'val', 'long'), ('test', 'test', 'long'), ('call_free', 'test', 'no_calls')]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write
from whalelab.audio import write_audio
from whalelab.errors import ConfigError
from whalelab.profiles import Profile, resolve_profile
from whalelab.raven import write_raven
from whalelab.synth.clips import BACKGROUND, LABELS, PlacedCall, check_clip, clip_rng, make_clip
from whalelab.synth.mixing import check_seed
from whalelab.synth.recordings import call_free_recording, long_recording, recording_rng

SPLITS = {"train": 0.70, "val": 0.15, "test": 0.15}
CALL_FREE_RECORDINGS = 1  # in long/test, as long as the others, for false alarms per hour
# (part, folder under long/, file name stem, recording function)
RECORDINGS = [("val", "val", "long", long_recording), ("test", "test", "long", long_recording),
              ("call_free", "test", "no_calls", call_free_recording)]
MANIFEST_COLUMNS = ["path", "label", "split", "recording", "call_start_s", "call_end_s",
                    "snr_db"]
# whalelab's own files of an earlier run, beyond the clips: recordings of this layout and
# of the one before (long/long_*), and the bands files that layout wrote
_OWN_FILES = ["long/*/long_[0-9][0-9][0-9].*", "long/test/no_calls_[0-9][0-9][0-9].*",
              "long/long_[0-9][0-9][0-9].*", "bands.json", "long/bands.json"]


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


def _joined(calls: Sequence[PlacedCall], field: str) -> str:
    """A manifest cell: ``field`` of each call, ``;``-separated (empty for background)."""
    return ";".join(str(getattr(placed, field)) for placed in calls)


def _recording_counts(settings: Profile) -> dict[str, int]:
    return {"val": settings.long_recordings, "test": settings.long_recordings,
            "call_free": CALL_FREE_RECORDINGS}


def _write_recordings(out: Path, settings: Profile, *, seed: int, sample_rate: int,
                      bar: tqdm) -> set[Path]:
    """Write every long recording and its Raven table; returns the paths written."""
    written, counts = set(), _recording_counts(settings)
    for part, folder, stem, make in RECORDINGS:
        for number in range(counts[part]):
            path = out / "long" / folder / f"{stem}_{number:03d}.wav"
            audio, events = make(recording_rng(seed, part, number), sample_rate=sample_rate,
                                 seconds=60 * settings.long_recording_minutes)
            write_audio(path, audio, sample_rate)
            table = write_raven(events.assign(begin_file=path.name),
                                path.with_name(f"{path.stem}.selections.txt"))
            written |= {path, table}
            bar.update()
    return written


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Delete whalelab's files of an earlier run into ``out`` that this run did not write."""
    stale = [path for pattern in _OWN_FILES for path in out.glob(pattern)]
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

        out/{train,val,test}/<class>/<class>_<nnnn>.wav   16-bit clips, class = the clip's
                                                           species or "background"
        out/manifest.csv                                  path,label,split,recording,
                                                           call_start_s,call_end_s,snr_db
        out/long/val/long_<nnn>.wav                       recordings with calls, to choose
        out/long/val/long_<nnn>.selections.txt            detection settings on; their
                                                           Raven tables ("Species")
        out/long/test/long_<nnn>.wav, .selections.txt     others, to score detection on
        out/long/test/no_calls_<nnn>.wav, .selections.txt call-free (empty tables)

    The clips of all splits come from one distribution (:mod:`whalelab.synth.clips`:
    faint calls, two calls, calls cut by the clip's edge, confusable pairs). Each
    ``manifest.csv`` row (paths relative to ``out``) gives the clip's labels, the clip's
    own class first, and per label, ``;``-separated in the same order, where its call
    starts and ends in seconds from the clip's start (clipped to the clip) and its
    signal-to-noise ratio in dB in the call's box (``snr_db``); all three are empty for
    background. ``long/val`` and ``long/test`` each hold the profile's number of
    recordings, and ``long/test`` one call-free recording of the same length besides.
    The manifest is written last, so its presence means a complete set; whalelab's
    files of an earlier run into ``out`` that this run does not write are removed.

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
        Clips per class over all splits (70/15/15); None takes the profile's. The
        profile's ``extra_val_clips`` and ``extra_test_clips`` come on top.
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
    ['long', 'manifest.csv', 'test', 'train', 'val']
    >>> sorted(path.name for path in (out / "long" / "test").iterdir())
    ['long_000.selections.txt', 'long_000.wav', 'no_calls_000.selections.txt', 'no_calls_000.wav']
    """
    out = Path(out)
    settings = resolve_profile(profile)
    sizes = split_sizes(settings.clips_per_class if per_class is None else per_class)
    samples = check_clip(BACKGROUND, sample_rate, clip_seconds)
    check_seed(seed)
    (out / "manifest.csv").unlink(missing_ok=True)
    # the profile's extra validation and test clips come after the 70/15/15 ones, so
    # that those are the same bytes with or without them
    splits = [split for split, size in sizes.items() for _ in range(size)] + \
        ["val"] * settings.extra_val_clips + ["test"] * settings.extra_test_clips
    bar = tqdm(total=len(LABELS) * len(splits) + sum(_recording_counts(settings).values()),
               desc="synth", unit="file", disable=not progress if progress is not None else None)
    rows, written = [], set()
    for label in LABELS:
        for index, split in enumerate(splits):
            name = f"{label}_{index:04d}"
            path = out / split / label / f"{name}.wav"
            audio, calls = make_clip(label, clip_rng(seed, label, index), sample_rate, samples)
            write_audio(path, audio, sample_rate)
            written.add(path)
            rows.append({"path": path.relative_to(out).as_posix(),
                         "label": _joined(calls, "label"), "split": split, "recording": name,
                         "call_start_s": _joined(calls, "start_s"),
                         "call_end_s": _joined(calls, "end_s"),
                         "snr_db": _joined(calls, "snr_db")})
            bar.update()
    written |= _write_recordings(out, settings, seed=seed, sample_rate=sample_rate, bar=bar)
    bar.close()
    _remove_stale(out, written)
    atomic_write(out / "manifest.csv", lambda temporary: pd.DataFrame(
        rows, columns=MANIFEST_COLUMNS).to_csv(temporary, index=False, lineterminator="\n"))
    return out
