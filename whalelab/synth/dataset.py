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

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

import whalelab
from whalelab.atomic import atomic_write, output_folder, write_json
from whalelab.audio import write_audio
from whalelab.errors import ConfigError, StorageError
from whalelab.profiles import Profile, resolve_profile
from whalelab.raven import write_raven
from whalelab.runtime import progress_bar
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
#: the record of what synth wrote into a folder (paths relative to it): the only files a
#: later synth into that folder deletes or writes over
RECORD_NAME = ".whalelab-synth.json"


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


def _clips(splits: Sequence[str]) -> Iterator[tuple[str, int, str, str]]:
    """``(label, index, split, path relative to the data set)`` of every clip."""
    for label in LABELS:
        for index, split in enumerate(splits):
            yield label, index, split, f"{split}/{label}/{label}_{index:04d}.wav"


def _recordings(settings: Profile) -> Iterator[tuple[str, int, Any, str]]:
    """``(part, number, recording function, path relative to the data set)`` of every long
    recording; its Raven table is beside it (:func:`_table_of`)."""
    counts = _recording_counts(settings)
    for part, folder, stem, make in RECORDINGS:
        for number in range(counts[part]):
            yield part, number, make, f"long/{folder}/{stem}_{number:03d}.wav"


def _table_of(recording: str) -> str:
    """``long/val/long_000.wav`` -> ``long/val/long_000.selections.txt``."""
    return recording[:-len(".wav")] + ".selections.txt"


def _write_recordings(out: Path, settings: Profile, *, seed: int, sample_rate: int,
                      bar: tqdm) -> None:
    """Write every long recording and its Raven table."""
    for part, number, make, name in _recordings(settings):
        path = out / name
        audio, events = make(recording_rng(seed, part, number), sample_rate=sample_rate,
                             seconds=60 * settings.long_recording_minutes)
        write_audio(path, audio, sample_rate)
        write_raven(events.assign(begin_file=path.name), out / _table_of(name))
        bar.update()


def _recorded(out: Path) -> set[str]:
    """The files an earlier synth recorded writing into ``out`` (relative paths)."""
    path = out / RECORD_NAME
    if not path.is_file():
        return set()
    try:
        outputs = json.loads(path.read_text())["outputs"]
        return {str(name) for name in outputs if not Path(name).is_absolute()
                and ".." not in Path(name).parts}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise StorageError(f"{path}: unreadable ({type(error).__name__}: {error}); synth "
                           f"into another folder") from None


def _claim(out: Path, outputs: list[str], settings: dict[str, Any]) -> set[str]:
    """Record ``outputs`` (besides what an earlier synth recorded) as synth's in ``out``;
    returns the earlier record's files.

    Raises
    ------
    StorageError
        A file of ``outputs`` is there but not recorded as synth's: a user's file
        synth would write over.
    """
    earlier = _recorded(out)
    in_the_way = [name for name in outputs if name not in earlier and (out / name).exists()]
    if in_the_way:
        more = f" and {len(in_the_way) - 1} more" if len(in_the_way) > 1 else ""
        raise StorageError(f"{out / in_the_way[0]}: synth would write this file{more}, but "
                           f"{out / RECORD_NAME} does not list it as synth's own; synth into a "
                           f"new or empty folder")
    _record(out, sorted(earlier | set(outputs)), settings)
    return earlier


def _record(out: Path, outputs: list[str], settings: dict[str, Any]) -> None:
    write_json(out / RECORD_NAME, {"made_by": "whalelab synth", "settings": settings,
                                   "whalelab_version": whalelab.__version__,
                                   "outputs": outputs})


def make_dataset(out: str | Path, *, profile: str = "quick", seed: int = 0,
                 per_class: int | None = None, sample_rate: int = 8000,
                 clip_seconds: float = 5.0, force: bool = False,
                 progress: bool | None = None) -> Path:
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
    The manifest is written last, so its presence means a complete set.

    ``out/.whalelab-synth.json`` records the files synth wrote (paths relative to
    ``out``), written before them and again when done: a later synth into ``out`` deletes
    or writes over only those (its own files that the new set does not hold are
    removed). A folder that holds files but no such record is refused unless ``force``,
    and no file synth did not record is ever deleted or written over.

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
    force : bool
        Write into a folder that holds files synth did not write, beside them.
    progress : bool or None
        tqdm bar; None shows it only on a terminal or in a notebook.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    StorageError
        ``out`` is a file or cannot be written in; it holds files synth did not write
        and not ``force``; or such a file is where synth would write one of its own.

    Examples
    --------
    >>> import tempfile
    >>> out = make_dataset(tempfile.mkdtemp(), profile="smoke", per_class=3, progress=False)
    >>> sorted(path.name for path in out.iterdir())
    ['.whalelab-synth.json', 'long', 'manifest.csv', 'test', 'train', 'val']
    >>> sorted(path.name for path in (out / "long" / "test").iterdir())
    ['long_000.selections.txt', 'long_000.wav', 'no_calls_000.selections.txt', 'no_calls_000.wav']
    """
    settings = resolve_profile(profile)
    sizes = split_sizes(settings.clips_per_class if per_class is None else per_class)
    samples = check_clip(BACKGROUND, sample_rate, clip_seconds)
    check_seed(seed)
    out = output_folder(out, records=[RECORD_NAME], force=force)
    # the profile's extra validation and test clips come after the 70/15/15 ones, so
    # that those are the same bytes with or without them
    splits = [split for split, size in sizes.items() for _ in range(size)] + \
        ["val"] * settings.extra_val_clips + ["test"] * settings.extra_test_clips
    outputs = [*(name for *_, name in _clips(splits)),
               *(name for *_, recording in _recordings(settings)
                 for name in (recording, _table_of(recording))), "manifest.csv"]
    recorded = {"profile": settings.name, "seed": seed, "per_class": sum(sizes.values()),
                "sample_rate": sample_rate, "clip_seconds": clip_seconds}
    earlier = _claim(out, outputs, recorded)
    (out / "manifest.csv").unlink(missing_ok=True)
    files = len(LABELS) * len(splits) + sum(_recording_counts(settings).values())
    bar = progress_bar(total=files, progress=progress, desc="synth", unit="file")
    rows = []
    for label, index, split, name in _clips(splits):
        audio, calls = make_clip(label, clip_rng(seed, label, index), sample_rate, samples)
        write_audio(out / name, audio, sample_rate)
        rows.append({"path": name, "label": _joined(calls, "label"), "split": split,
                     "recording": Path(name).stem, "call_start_s": _joined(calls, "start_s"),
                     "call_end_s": _joined(calls, "end_s"), "snr_db": _joined(calls, "snr_db")})
        bar.update()
    _write_recordings(out, settings, seed=seed, sample_rate=sample_rate, bar=bar)
    bar.close()
    for stale in earlier - set(outputs):  # synth's own files of an earlier, larger set
        (out / stale).unlink(missing_ok=True)
    _record(out, outputs, recorded)
    atomic_write(out / "manifest.csv", lambda temporary: pd.DataFrame(
        rows, columns=MANIFEST_COLUMNS).to_csv(temporary, index=False, lineterminator="\n"))
    return out
