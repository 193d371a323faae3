"""The three layouts of labelled audio read into one :class:`~whalelab.data.clips.ClipIndex`.

- a folder per class, ``ROOT/<class>/<file>``, optionally under ``ROOT/{train,val,test}/``;
- a manifest CSV with ``path,label`` and optional ``split,recording,start_s,end_s``
  (a folder holding ``manifest.csv`` is read through it), and optional
  ``call_start_s,call_end_s``: where each label's call lies, in seconds from the clip's
  start, ``;``-separated in the order of the labels, and ``snr_db`` (one per call; the
  clip keeps the faintest);
- a folder of long recordings, each with a Raven selection table beside it, cut into
  windows (:func:`raven_pairs` pairs them).

Clips know where their calls lie (:attr:`~whalelab.data.clips.Clip.spans`) when the
manifest says so and in windows cut from Raven tables; background clips always do.

Bad files and rows either stop the reading with a message naming them or are skipped,
each with a warning naming it and the lot counted at the end (``on_error``, the policy
of :class:`whalelab.errors.OnError`). A Raven selection with an empty label is such a
row unless ``empty_label`` says what it means. Files of an audio format whalelab cannot
read (:data:`whalelab.audio.UNREADABLE_SUFFIXES`: ``.m4a``, ``.aac``, ``.wma``...) in a
data folder are left out with one warning counting them and naming their suffixes.

Clips whose audio is byte-identical never sit on both sides of a split
(:func:`keep_identical_audio_together`): a model must not be scored on what it heard in
training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from whalelab.audio import AUDIO_SUFFIXES, audio_info, is_audio_file, warn_of_unreadable_audio
from whalelab.config import DataConfig
from whalelab.data.clips import (BACKGROUND, SPLITS, Clip, ClipIndex, Span, looks_like_background,
                                 parse_labels)
from whalelab.data.splits import split_by_recording
from whalelab.errors import DataError, OnError, WhaleLabError
from whalelab.raven import read_raven


def load_index(data: str | Path, *, seed: int = 0, val_fraction: float = 0.15,
               test_fraction: float = 0.15, on_error: str = "raise", window_s: float = 5.0,
               hop_s: float | None = None, min_call_fraction: float = 0.5,
               label_column: str = "Species", background_cap: float = 0.5,
               block_s: float = 60.0,
               background_labels: Sequence[str] = (BACKGROUND,),
               empty_label: str | None = None) -> ClipIndex:
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
        ``skip`` leaves it out with a warning naming it, and one that counts what was skipped.
    window_s, hop_s, min_call_fraction, label_column, background_cap, block_s
        Raven layout only: window length and hop (default half a window) in seconds, the
        share of a call that must lie in a window to label it, the label column, the
        largest share of background windows, and the length of the blocks a long
        recording is split into for grouping (windows never straddle two blocks).
    background_labels : sequence of str
        The class folders and labels that mean "no call" (``noise``, ``ambient``...):
        their clips get all-zero targets and they never become a class. An empty
        manifest label always means no call.
    empty_label : str or None
        Raven layout only: the label a selection with an empty label column stands for
        (``"background"``: no call; or a class). None makes such a selection an error
        naming the table and the selection, so that an unlabelled call never trains as
        background.

    Clips with byte-identical audio in different splits are kept on one side
    (:func:`keep_identical_audio_together`), with a warning.

    Raises
    ------
    DataError
        A file, row or setting that cannot be used, named.
    """
    report = OnError(on_error)
    if isinstance(background_labels, str):
        raise DataError(f"background_labels must be a sequence of labels, not the string "
                        f"{background_labels!r}")
    background_labels = tuple(background_labels)
    path = Path(data)
    if path.is_dir():
        warn_of_unreadable_audio(path.rglob("*"), where=path)
    if path.is_file() and path.suffix.lower() == ".csv":
        clips = _read_manifest(path, report, background_labels=background_labels)
    elif path.is_dir() and (path / "manifest.csv").is_file():
        clips = _read_manifest(path / "manifest.csv", report, background_labels=background_labels)
    elif path.is_dir() and raven_pairs(path):
        clips = _read_raven_folder(path, report, window_s=window_s, hop_s=hop_s or window_s / 2,
                                   min_call_fraction=min_call_fraction,
                                   label_column=label_column, background_cap=background_cap,
                                   block_s=block_s, seed=seed,
                                   background_labels=background_labels,
                                   empty_label=empty_label)
    elif path.is_dir():
        clips = _read_class_tree(path, report, background_labels=background_labels)
    else:
        raise DataError(f"{path}: no such data folder or manifest CSV")
    report.summary(source=path, what="file(s) or row(s)")
    if not clips:
        raise DataError(f"{path}: no usable audio clips found")
    data_split = all(clip.split for clip in clips)
    if not data_split:
        if any(clip.split for clip in clips):
            raise DataError(f"{path}: some clips have a split and others not; give all or none")
        clips = split_by_recording(clips, seed=seed, val_fraction=val_fraction,
                                   test_fraction=test_fraction)
    clips = keep_identical_audio_together(clips, path, move=not data_split)
    classes = _classes_seen_in_training(clips, path)
    _warn_of_undeclared_background(classes, path)
    return ClipIndex(clips, classes, skipped=report.skipped)


def _warn_of_undeclared_background(classes: Sequence[str], source: Path) -> None:
    """One warning naming the classes whose names read as "no call" (a model would learn
    to report them as events), and the flag that declares them background."""
    suspects = [name for name in classes if looks_like_background(name)]
    if suspects:
        flags = " ".join(f"--background-label {name}" for name in suspects)
        warnings.warn(f"{source}: class(es) {', '.join(suspects)} look like call-free "
                      f"background but are trained as classes, so they will be detected as "
                      f"events; if they mean 'no call', declare them: {flags}",
                      stacklevel=3)


def read_data(settings: DataConfig, data: str | Path | None = None, *, seed: int,
              window_s: float, on_error: str = "raise") -> ClipIndex:
    """:func:`load_index` with a run's data settings (:class:`whalelab.config.DataConfig`):
    its background labels, and for long recordings its label column, window hop,
    minimum call fraction, background cap, what an empty label stands for, and the
    validation and test shares of a split made here.
    ``data`` defaults to ``settings.path``; ``window_s`` is the run's clip length."""
    return load_index(settings.path if data is None else data, seed=seed, window_s=window_s,
                      hop_s=settings.window_hop_s, min_call_fraction=settings.min_call_fraction,
                      label_column=settings.label_column, background_cap=settings.background_cap,
                      background_labels=settings.background_labels, on_error=on_error,
                      empty_label=settings.empty_label, val_fraction=settings.val_fraction,
                      test_fraction=settings.test_fraction)


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


def keep_identical_audio_together(clips: list[Clip], source: str | Path, *,
                                  move: bool) -> list[Clip]:
    """Keep clips whose audio is byte-identical on one side of the split, with a warning.

    Two clips hold the same audio when their files have the same bytes (a content hash,
    read in chunks, of the files that could be copies) and they cover the same stretch
    of them (``start_s``, ``duration_s``): copies of one file, or the same window of two
    copies of one long recording. Equal audio in files that differ (another format or
    header) is not looked for. Of each such group the first split in
    train > val > test order keeps them: with ``move`` (a split whalelab made) the
    others move there; without (a split the data gives) they are dropped from their
    later split.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("a.wav", "copy.wav", "b.wav"):
    ...     _ = (folder / name).write_bytes(b"b" if name == "b.wav" else b"a")
    >>> clips = [Clip(str(folder / name), split=split)
    ...          for name, split in (("a.wav", "val"), ("copy.wav", "train"), ("b.wav", "test"))]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kept = keep_identical_audio_together(clips, folder, move=True)
    >>> [(Path(clip.path).name, clip.split) for clip in kept]
    [('a.wav', 'train'), ('copy.wav', 'train'), ('b.wav', 'test')]
    >>> print(str(caught[0].message).split("; ")[0].split(": ")[1])
    1 clip(s) hold byte-identical audio to a clip in another split
    """
    groups: dict[tuple, list[int]] = {}
    for position, (clip, identity) in enumerate(zip(clips, file_identities(clips),
                                                    strict=True)):
        groups.setdefault((identity, clip.start_s, clip.duration_s), []).append(position)
    rank = {split: order for order, split in enumerate(SPLITS)}
    kept, moved = list(clips), []
    for members in groups.values():
        keeper = clips[min(members, key=lambda position: (
            rank.get(clips[position].split, len(SPLITS)), position))]
        for position in members:
            clip = clips[position]
            if clip.split != keeper.split:
                moved.append(f"{clip.path} ({clip.split}; same as {keeper.path} in "
                             f"{keeper.split})")
                kept[position] = dataclasses.replace(clip, split=keeper.split) if move else None
    if moved:
        warnings.warn(f"{source}: {len(moved)} clip(s) hold byte-identical audio to a clip in "
                      f"another split; {'moved' if move else 'dropped'} so that each stays in "
                      f"the first of train > val > test: {'; '.join(moved[:3])}"
                      f"{'; ...' if len(moved) > 3 else ''}", stacklevel=3)
    return [clip for clip in kept if clip is not None]


def file_identities(clips: list[Clip]) -> list[str]:
    """Per clip, one path of the clip's file's byte-identical copies (its own if none).

    Copies are found by narrowing: the same size, then the same first 64 KiB, then the
    same content hash (read in chunks), so that only files that could be copies are read,
    and whole only when their beginnings agree.
    """
    paths = sorted({clip.path for clip in clips})
    groups = [paths]
    for fingerprint in (os.path.getsize, _head_digest, _content_digest):
        narrowed = []
        for group in groups:
            by_print: dict[object, list[str]] = {}
            for path in group:
                by_print.setdefault(fingerprint(path), []).append(path)
            narrowed += [same for same in by_print.values() if len(same) > 1]
        groups = narrowed
    identity = {path: group[0] for group in groups for path in group}
    return [identity.get(clip.path, clip.path) for clip in clips]


def _head_digest(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read(1 << 16)).hexdigest()


def _content_digest(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_audio_file(p))


# ---------------------------------------------------------------------------- class tree


def _read_class_tree(root: Path, report: OnError, *,
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
                                f"({' '.join(AUDIO_SUFFIXES)})")
            labels = parse_labels(class_dir.name, background_labels=background_labels)
            for file in files:
                if report.attempt(lambda f=file: audio_info(f)) is not None:
                    clips.append(Clip(path=str(file.resolve()), labels=labels,
                                      recording=file.stem, split=split))
    return clips


# ---------------------------------------------------------------------------- manifest


def _read_manifest(manifest: Path, report: OnError, *,
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
                spans=_manifest_spans(row, where, length, background_labels=background_labels),
                snr_db=_faintest_snr_db(row.get("snr_db", ""), where))


def _faintest_snr_db(text: str, where: str) -> float | None:
    """The lowest of a row's ``;``-separated ``snr_db`` values (one per call), None if empty."""
    values = [value.strip() for value in text.split(";") if value.strip()]
    if not values:
        return None
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        raise DataError(f"{where}: snr_db {text!r} is not a number (or numbers joined "
                        f"with ';')") from None
    if not all(math.isfinite(number) for number in numbers):
        raise DataError(f"{where}: snr_db {text!r} must be finite")
    return min(numbers)


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


def _read_raven_folder(folder: Path, report: OnError, *, window_s: float, hop_s: float,
                       min_call_fraction: float, label_column: str, background_cap: float,
                       block_s: float, seed: int, background_labels: tuple[str, ...],
                       empty_label: str | None) -> list[Clip]:
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
            audio_info(audio), _labelled_events(table, label_column, empty_label)))
        if found is None:
            continue
        info, events = found
        events = events_within(events, table, info.duration)
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


def _labelled_events(table: Path, label_column: str, empty_label: str | None) -> pd.DataFrame:
    """The table's events, with empty labels replaced by ``empty_label``.

    Without ``empty_label`` an empty label is an error naming the table and the first
    such selection (its ``Selection`` number where the table has one, and its times):
    left as it is, it would make its windows background.
    """
    events = read_raven(table, label_column=label_column)
    empty = (events["label"] == "").to_numpy()
    if not empty.any():
        return events
    if empty_label is not None:
        return events.assign(label=np.where(empty, empty_label, events["label"]))
    row = int(np.flatnonzero(empty)[0])
    raise DataError(f"{table}: {int(empty.sum())} selection(s) have an empty {label_column}, "
                    f"first {_selection_name(table, row)}at {events['begin_s'].iloc[row]:g}-"
                    f"{events['end_s'].iloc[row]:g} s; label them, or say what an empty label "
                    f"means (empty_label, --empty-label: 'background' for no call, or a class)")


def _selection_name(table: Path, row: int) -> str:
    """``selection N `` for the table's row ``row`` (of :func:`read_raven`'s events), by
    its ``Selection`` number; ``the selection `` for a table without that column."""
    try:  # the same reader with the Selection column as labels: the same rows, in order
        return f"selection {read_raven(table, label_column='Selection')['label'].iloc[row]} "
    except DataError:  # no Selection column
        return "the selection "


#: how far past its recording's end (s) a selection may run unnoticed: rounding in a table
END_SLACK_S = 0.01


def events_within(events: pd.DataFrame, table: Path, duration: float) -> pd.DataFrame:
    """``table``'s ``events`` inside its recording of ``duration`` seconds: a selection that
    begins at or after the end is left out, one that runs past it is cut there, with one
    warning naming the table and the first such selection (a box drawn past the end, or
    a table that belongs to another recording, would otherwise label windows and widen a
    band with what the recording does not hold).

    Examples
    --------
    >>> events = pd.DataFrame({"begin_s": [1.0, 9.0, 12.0], "end_s": [2.0, 11.0, 13.0],
    ...                        "low_hz": 50.0, "high_hz": 100.0, "label": "fin"})
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     events_within(events, Path("no/such/table.txt"), 10.0)[["begin_s", "end_s"]]
       begin_s  end_s
    0      1.0    2.0
    1      9.0   10.0
    """
    past = (events["end_s"] > duration + END_SLACK_S).to_numpy()
    if past.any():
        row = int(np.flatnonzero(past)[0])
        warnings.warn(f"{table}: {int(past.sum())} selection(s) run past the end of its "
                      f"recording ({duration:g} s), first {_selection_name(table, row)}at "
                      f"{events['begin_s'].iloc[row]:g}-{events['end_s'].iloc[row]:g} s; the "
                      f"part past the end is left out (does the table belong to this "
                      f"recording?)")  # one location: the same table is warned of once
    inside = (events["begin_s"] < duration).to_numpy()
    return events[inside].assign(end_s=np.minimum(events["end_s"][inside], duration)) \
        .reset_index(drop=True)


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
