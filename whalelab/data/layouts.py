"""The three layouts of labelled audio read into one :class:`~whalelab.data.clips.ClipIndex`.

- a folder per class, ``ROOT/<class>/<file>``, optionally under ``ROOT/{train,val,test}/``;
- a manifest CSV with ``path,label`` and optional ``split,recording,start_s,end_s``
  (a folder holding ``manifest.csv`` is read through it), and optional
  ``call_start_s,call_end_s``: where each label's call lies, in seconds from the clip's
  start, ``;``-separated in the order of the labels;
- a folder of long recordings, each with a Raven selection table beside it, cut into
  windows (:func:`raven_pairs` pairs them).

Clips know where their calls lie (:attr:`~whalelab.data.clips.Clip.spans`) when the
manifest says so and in windows cut from Raven tables; background clips always do.

Bad files and rows either stop the reading with a message naming them or are skipped
with one counted warning (``on_error``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from whalelab.audio import audio_info, is_audio_file
from whalelab.config import DataConfig
from whalelab.data.clips import BACKGROUND, SPLITS, Clip, ClipIndex, Span, parse_labels
from whalelab.data.splits import split_by_recording
from whalelab.errors import DataError, WhaleLabError
from whalelab.raven import read_raven


def load_index(data: str | Path, *, seed: int = 0, val_fraction: float = 0.15,
               test_fraction: float = 0.15, on_error: str = "raise", window_s: float = 5.0,
               hop_s: float | None = None, min_call_fraction: float = 0.5,
               label_column: str = "Species", background_cap: float = 0.5,
               block_s: float = 60.0,
               background_labels: Sequence[str] = (BACKGROUND,)) -> ClipIndex:
    """Read any supported layout into a split :class:`~whalelab.data.clips.ClipIndex`.

    Parameters
    ----------
    data : path
        A folder per class (with or without a split level), a manifest CSV (or a folder
        holding ``manifest.csv``), or a folder of long recordings with Raven tables.
    seed : int
        Fixes the split where the data holds none, and the background subsample.
    on_error : {"raise", "skip"}
        ``raise`` stops at the first unreadable file or bad row with a message naming it;
        ``skip`` leaves it out with a warning that counts what was skipped.
    window_s, hop_s, min_call_fraction, label_column, background_cap, block_s
        Raven layout only: window length and hop (default half a window) in seconds, the
        share of a call that must lie in a window to label it, the label column, the
        largest share of background windows, and the length of the blocks a long
        recording is split into for grouping (windows never straddle two blocks).
    background_labels : sequence of str
        The class folders and labels that mean "no call" (``noise``, ``ambient``...):
        their clips get all-zero targets and they never become a class. An empty
        manifest label always means no call.

    Raises
    ------
    DataError
        A file, row or setting that cannot be used, named.
    """
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    if isinstance(background_labels, str):
        raise DataError(f"background_labels must be a sequence of labels, not the string "
                        f"{background_labels!r}")
    background_labels = tuple(background_labels)
    path = Path(data)
    report = _Problems(on_error)
    if path.is_file() and path.suffix.lower() == ".csv":
        clips = _read_manifest(path, report, background_labels=background_labels)
    elif path.is_dir() and (path / "manifest.csv").is_file():
        clips = _read_manifest(path / "manifest.csv", report, background_labels=background_labels)
    elif path.is_dir() and raven_pairs(path):
        clips = _read_raven_folder(path, report, window_s=window_s, hop_s=hop_s or window_s / 2,
                                   min_call_fraction=min_call_fraction,
                                   label_column=label_column, background_cap=background_cap,
                                   block_s=block_s, seed=seed,
                                   background_labels=background_labels)
    elif path.is_dir():
        clips = _read_class_tree(path, report, background_labels=background_labels)
    else:
        raise DataError(f"{path}: no such data folder or manifest CSV")
    report.finish(path)
    if not clips:
        raise DataError(f"{path}: no usable audio clips found")
    if not all(clip.split for clip in clips):
        if any(clip.split for clip in clips):
            raise DataError(f"{path}: some clips have a split and others not; give all or none")
        clips = split_by_recording(clips, seed=seed, val_fraction=val_fraction,
                                   test_fraction=test_fraction)
    classes = _classes_seen_in_training(clips, path)
    return ClipIndex(clips, classes, skipped=report.skipped)


def read_data(settings: DataConfig, data: str | Path | None = None, *, seed: int,
              window_s: float, on_error: str = "raise") -> ClipIndex:
    """:func:`load_index` with a run's data settings (:class:`whalelab.config.DataConfig`):
    its background labels, and for long recordings its label column, window hop,
    minimum call fraction and background cap. ``data`` defaults to ``settings.path``;
    ``window_s`` is the run's clip length."""
    return load_index(settings.path if data is None else data, seed=seed, window_s=window_s,
                      hop_s=settings.window_hop_s, min_call_fraction=settings.min_call_fraction,
                      label_column=settings.label_column, background_cap=settings.background_cap,
                      background_labels=settings.background_labels, on_error=on_error)


class _Problems:
    """Raise at the first bad file or row, or collect them and warn once with a count."""

    def __init__(self, on_error: str) -> None:
        self.on_error, self.skipped = on_error, []

    def fail(self, error: WhaleLabError) -> None:
        if self.on_error == "raise":
            raise error
        self.skipped.append(str(error))

    def attempt(self, action: Callable[[], object]) -> object | None:
        """``action()``, or None when it raised a WhaleLabError that is being skipped."""
        try:
            return action()
        except WhaleLabError as error:
            self.fail(error)
            return None

    def finish(self, source: Path) -> None:
        if self.skipped:
            warnings.warn(f"{source}: skipped {len(self.skipped)} unreadable file(s) or "
                          f"row(s); first: {self.skipped[0]}", stacklevel=3)


def _classes_seen_in_training(clips: list[Clip], source: Path) -> list[str]:
    in_train = {label for clip in clips if clip.split == "train" for label in clip.labels}
    for clip in clips:
        if clip.split not in SPLITS:
            raise DataError(f"{clip.path}: split {clip.split!r} is not one of "
                            f"{', '.join(SPLITS)}")
        unseen = set(clip.labels) - in_train
        if unseen:
            raise DataError(f"{source}: label(s) {', '.join(sorted(unseen))} of {clip.path} "
                            f"appear in the {clip.split} split but never in train")
    if not in_train:
        raise DataError(f"{source}: the train split holds no labelled (non-background) clip")
    return sorted(in_train)


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_audio_file(p))


# ---------------------------------------------------------------------------- class tree


def _read_class_tree(root: Path, report: _Problems, *,
                     background_labels: tuple[str, ...]) -> list[Clip]:
    split_dirs = [root / split for split in SPLITS if (root / split).is_dir()]
    layers = [(d, d.name) for d in split_dirs] if split_dirs else [(root, "")]
    if split_dirs and "train" not in [d.name for d in split_dirs]:
        raise DataError(f"{root}: has {', '.join(d.name for d in split_dirs)} folders "
                        f"but no train folder")
    clips = []
    for folder, split in layers:
        class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise DataError(f"{folder}: no class folders (expected {folder}/<class>/<file>)")
        for class_dir in class_dirs:
            files = _audio_files(class_dir)
            if not files:
                raise DataError(f"{class_dir}: class folder holds no audio files "
                                f"(.wav .flac .aif .aiff .ogg)")
            labels = parse_labels(class_dir.name, background_labels=background_labels)
            for file in files:
                if report.attempt(lambda f=file: audio_info(f)) is not None:
                    clips.append(Clip(path=str(file.resolve()), labels=labels,
                                      recording=file.stem, split=split))
    return clips


# ---------------------------------------------------------------------------- manifest


def _read_manifest(manifest: Path, report: _Problems, *,
                   background_labels: tuple[str, ...]) -> list[Clip]:
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{manifest}: not a readable CSV ({error})") from None
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise DataError(f"{manifest}: manifest lacks the column(s) {', '.join(sorted(missing))}")
    clips = []
    for number, row in enumerate(table.to_dict("records"), start=2):
        clip = report.attempt(lambda row=row, number=number: _manifest_clip(
            row, manifest, f"{manifest} line {number}", background_labels=background_labels))
        if clip is not None:
            clips.append(clip)
    return clips


def _manifest_clip(row: dict[str, str], manifest: Path, where: str, *,
                   background_labels: tuple[str, ...]) -> Clip:
    if not row["path"]:
        raise DataError(f"{where}: empty path")
    file = (manifest.parent / row["path"]).resolve()
    start = _seconds(row.get("start_s", ""), where, "start_s", default=0.0)
    end = _seconds(row.get("end_s", ""), where, "end_s", default=None)
    if end is not None and end <= start:
        raise DataError(f"{where}: end_s {end} is not after start_s {start}")
    try:
        info = audio_info(file)
    except WhaleLabError as error:
        raise DataError(f"{where}: {error}") from None
    if start >= info.duration:
        raise DataError(f"{where}: start_s {start} is past the end of {file} "
                        f"({info.duration:.2f} s)")
    length = (info.duration if end is None else end) - start
    return Clip(path=str(file), start_s=start, duration_s=None if end is None else end - start,
                labels=parse_labels(row["label"], background_labels=background_labels),
                recording=row.get("recording") or file.stem, split=row.get("split", "").strip(),
                spans=_manifest_spans(row, where, length, background_labels=background_labels))


def _manifest_spans(row: dict[str, str], where: str, length: float, *,
                    background_labels: tuple[str, ...]) -> tuple[Span, ...] | None:
    """The row's call spans from ``call_start_s``/``call_end_s``, one per label in order.

    None when both are empty or absent (spans unknown); the spans of background labels
    are dropped. ``length`` is the clip's, in seconds: a call must start inside it.
    """
    starts, ends = row.get("call_start_s", "").strip(), row.get("call_end_s", "").strip()
    if not starts and not ends:
        return None
    labels = [label.strip() for label in row["label"].split(";") if label.strip()]
    spans = []
    for label, begin, end in zip(labels, _call_times(starts, where, "call_start_s", len(labels)),
                                 _call_times(ends, where, "call_end_s", len(labels)), strict=True):
        if end <= begin:
            raise DataError(f"{where}: call_end_s {end} of {label!r} is not after "
                            f"call_start_s {begin}")
        if begin >= length:
            raise DataError(f"{where}: call_start_s {begin} of {label!r} is past the end of "
                            f"the clip ({length:.2f} s); call times count from the clip's start")
        if label not in background_labels:
            spans.append((label, begin, end))
    return tuple(spans)


def _call_times(text: str, where: str, column: str, count: int) -> list[float]:
    """The ``;``-separated times of ``column``, one for each of ``count`` labels."""
    items = text.split(";") if text else []
    if len(items) != count:
        raise DataError(f"{where}: {column} {text!r} gives {len(items)} time(s) for {count} "
                        f"label(s); give one per label, in the order of the labels")
    times = [_seconds(item, where, column, default=None) for item in items]
    if None in times:
        raise DataError(f"{where}: {column} {text!r} has an empty time")
    return times


def _seconds(text: str, where: str, column: str, *, default: float | None) -> float | None:
    if text.strip() == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise DataError(f"{where}: {column} must be a finite time >= 0, not {text!r}")
    return value


# ---------------------------------------------------------------------------- Raven folder


def raven_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(audio, table) pairs: ``x.wav`` with ``x.selections.txt``, ``x.txt`` or ``x.Table.1.selections.txt``."""
    tables = {}
    for table in folder.glob("*.txt"):
        stem = table.name.removesuffix(".txt").removesuffix(".selections")
        stem = stem.split(".Table.")[0]
        tables[stem] = table
    return [(audio, tables[audio.stem]) for audio in _audio_files(folder) if audio.stem in tables]


def _read_raven_folder(folder: Path, report: _Problems, *, window_s: float, hop_s: float,
                       min_call_fraction: float, label_column: str, background_cap: float,
                       block_s: float, seed: int,
                       background_labels: tuple[str, ...]) -> list[Clip]:
    if window_s <= 0 or hop_s <= 0:
        raise DataError(f"window_s and hop_s must be positive, not {window_s} and {hop_s}")
    if not 0 < min_call_fraction <= 1:
        raise DataError(f"min_call_fraction must be in (0, 1], not {min_call_fraction}")
    pairs = raven_pairs(folder)
    unpaired = sorted({p.name for p in _audio_files(folder)} - {a.name for a, _ in pairs})
    for name in unpaired:
        report.fail(DataError(f"{folder / name}: no Raven table beside it (expected "
                              f"{Path(name).stem}.selections.txt)"))
    labelled, background = [], []
    for audio, table in pairs:
        found = report.attempt(lambda audio=audio, table=table: (
            audio_info(audio), read_raven(table, label_column=label_column)))
        if found is None:
            continue
        info, events = found
        for clip in _windows(audio, info.duration, events, window_s=window_s,
                             hop_s=hop_s, min_call_fraction=min_call_fraction, block_s=block_s,
                             background_labels=background_labels):
            (labelled if clip.labels else background).append(clip)
    if background_cap < 1 and labelled:
        allowed = int(background_cap / (1 - background_cap) * len(labelled))
        if len(background) > allowed:
            keep = np.random.default_rng(seed).choice(len(background), allowed, replace=False)
            background = [background[i] for i in sorted(keep)]
    return labelled + background


def _windows(audio: Path, duration: float, events: pd.DataFrame, *, window_s: float,
             hop_s: float, min_call_fraction: float, block_s: float,
             background_labels: tuple[str, ...]) -> list[Clip]:
    """Cut one annotated recording into labelled windows, grouped in blocks of ``block_s``.

    A window carries a label when at least ``min_call_fraction`` of a box (or of the
    window, for boxes longer than it) lies inside; a window whose boxes all lie inside
    too little is left out as ambiguous. Boxes with a background label make their
    windows background. A labelled window's spans are the boxes of its labels that
    overlap it, clipped to it, in seconds from its start.
    """
    starts = np.arange(0.0, max(duration - window_s, 0.0) + 1e-9, hop_s)
    begins, ends = events["begin_s"].to_numpy(), events["end_s"].to_numpy()
    lengths = np.maximum(ends - begins, 1e-9)
    clips = []
    for start in starts:
        block = int(start // block_s)
        if duration > block_s and int((start + window_s - 1e-9) // block_s) != block:
            continue  # straddles two blocks: would leak audio between groups
        overlap = np.clip(np.minimum(ends, start + window_s) - np.maximum(begins, start), 0, None)
        share = overlap / np.minimum(lengths, window_s)
        labels = tuple(sorted(set(events["label"][share >= min_call_fraction])))
        if not labels and (overlap > 0).any():
            continue  # a call only grazes the window: neither a call nor background
        labels = parse_labels(";".join(labels), background_labels=background_labels)
        start_s = round(float(start), 6)
        clipped = ((label, round(max(begin - start_s, 0.0), 6),
                    round(min(end - start_s, window_s), 6))
                   for label, begin, end in zip(events["label"], begins, ends, strict=True))
        spans = [(label, begin, end) for label, begin, end in clipped
                 if label in labels and end > begin]
        clips.append(Clip(path=str(audio.resolve()), start_s=start_s, duration_s=window_s,
                          labels=labels, recording=f"{audio.stem}#{block}", spans=spans))
    return clips
