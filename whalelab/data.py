"""Labelled clips from any of the field's layouts, split by recording, served as tensors.

Three layouts give the same :class:`ClipIndex` (see DESIGN.md §3):

- a folder per class, ``ROOT/<class>/<file>``, optionally under ``ROOT/{train,val,test}/``;
- a manifest CSV with ``path,label`` and optional ``split,recording,start_s,end_s``
  (a folder holding ``manifest.csv`` is read through it);
- a folder of long recordings, each with a Raven selection table beside it, cut into
  windows: a window carries a class when at least ``min_call_fraction`` of a call (or of
  the window, for calls longer than it) lies inside; windows that touch no call are
  background, windows that touch a call too little are left out as ambiguous.

A class folder or label named ``background`` (or an empty label) means no call. Where the
data holds no split, :func:`split_by_recording` makes one, stratified by class and grouped
by recording, from the seed; the run writes it to ``splits.csv`` so that evaluation scores
the same test clips.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, WeightedRandomSampler
from tqdm.auto import tqdm

from whalelab.atomic import atomic_write
from whalelab.audio import audio_info, is_audio_file, load_audio
from whalelab.errors import DataError, WhaleLabError
from whalelab.raven import read_raven

BACKGROUND = "background"
SPLITS = ("train", "val", "test")
RAVEN_SUFFIXES = (".selections.txt", ".txt")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One labelled stretch of audio: ``duration_s`` None means to the end of the file."""

    path: str
    start_s: float = 0.0
    duration_s: float | None = None
    labels: tuple[str, ...] = ()
    recording: str = ""
    split: str = ""


@dataclasses.dataclass
class ClipIndex:
    """The clips of a data set, the class order of its targets, and the files skipped."""

    clips: list[Clip]
    classes: list[str]
    skipped: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    def subset(self, split: str) -> "ClipIndex":
        """The clips of one split, with the same class order."""
        return ClipIndex([clip for clip in self.clips if clip.split == split], self.classes)

    def targets(self) -> np.ndarray:
        """Multi-hot targets ``(clips, classes)``; background clips are all zero."""
        position = {name: k for k, name in enumerate(self.classes)}
        targets = np.zeros((len(self.clips), len(self.classes)), dtype=np.float32)
        for row, clip in enumerate(self.clips):
            for label in clip.labels:
                targets[row, position[label]] = 1.0
        return targets

    def counts(self) -> pd.DataFrame:
        """Clips per class (rows, background last) and split (columns, plus ``total``)."""
        rows = [(label, clip.split) for clip in self.clips
                for label in (clip.labels or (BACKGROUND,))]
        table = pd.crosstab(pd.Series([r[0] for r in rows], name="class"),
                            pd.Series([r[1] for r in rows], name="split"))
        order = [name for name in [*self.classes, BACKGROUND] if name in table.index]
        table = table.reindex(index=order, columns=[s for s in SPLITS if s in table.columns],
                              fill_value=0)
        table["total"] = table.sum(axis=1)
        return table

    def to_frame(self) -> pd.DataFrame:
        """One row per clip; several labels joined with ``;``."""
        return pd.DataFrame({
            "path": [clip.path for clip in self.clips],
            "start_s": [clip.start_s for clip in self.clips],
            "duration_s": [clip.duration_s for clip in self.clips],
            "labels": [";".join(clip.labels) for clip in self.clips],
            "recording": [clip.recording for clip in self.clips],
            "split": [clip.split for clip in self.clips],
        })

    def save_csv(self, path: str | Path) -> Path:
        """Write the index (``splits.csv`` of a run) atomically, classes in the header."""
        frame = self.to_frame()
        header = "# classes: " + ";".join(self.classes) + "\n"
        return atomic_write(path, lambda temporary: temporary.write_text(
            header + frame.to_csv(index=False)))

    @classmethod
    def load_csv(cls, path: str | Path) -> "ClipIndex":
        """Read an index written by :meth:`save_csv`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such clip index")
        first = path.read_text().split("\n", 1)[0]
        if not first.startswith("# classes: "):
            raise DataError(f"{path}: not a whalelab clip index (no '# classes:' header)")
        frame = pd.read_csv(path, comment=None, skiprows=1, keep_default_na=False)
        clips = [Clip(path=row.path, start_s=float(row.start_s),
                      duration_s=None if row.duration_s == "" else float(row.duration_s),
                      labels=_split_labels(str(row.labels)), recording=str(row.recording),
                      split=row.split) for row in frame.itertuples()]
        return cls(clips, first[len("# classes: "):].split(";"))


def _split_labels(text: str) -> tuple[str, ...]:
    labels = [label.strip() for label in text.split(";")]
    return tuple(sorted({label for label in labels if label and label != BACKGROUND}))


# ---------------------------------------------------------------------------- reading


def load_index(data: str | Path, *, seed: int = 0, val_fraction: float = 0.15,
               test_fraction: float = 0.15, on_error: str = "raise", window_s: float = 5.0,
               hop_s: float | None = None, min_call_fraction: float = 0.5,
               label_column: str = "Species", background_cap: float = 0.5,
               block_s: float = 60.0) -> ClipIndex:
    """Read any supported layout into a split :class:`ClipIndex`.

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
    """
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    path = Path(data)
    report = _Problems(on_error)
    if path.is_file() and path.suffix.lower() == ".csv":
        clips = _read_manifest(path, report)
    elif path.is_dir() and (path / "manifest.csv").is_file():
        clips = _read_manifest(path / "manifest.csv", report)
    elif path.is_dir() and raven_pairs(path):
        clips = _read_raven_folder(path, report, window_s=window_s, hop_s=hop_s or window_s / 2,
                                   min_call_fraction=min_call_fraction,
                                   label_column=label_column, background_cap=background_cap,
                                   block_s=block_s, seed=seed)
    elif path.is_dir():
        clips = _read_class_tree(path, report)
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


def _read_class_tree(root: Path, report: _Problems) -> list[Clip]:
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
            labels = _split_labels(class_dir.name)
            for file in files:
                if report.attempt(lambda f=file: audio_info(f)) is not None:
                    clips.append(Clip(path=str(file.resolve()), labels=labels,
                                      recording=file.stem, split=split))
    return clips


def _read_manifest(manifest: Path, report: _Problems) -> list[Clip]:
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
            row, manifest, f"{manifest} line {number}"))
        if clip is not None:
            clips.append(clip)
    return clips


def _manifest_clip(row: dict[str, str], manifest: Path, where: str) -> Clip:
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
    return Clip(path=str(file), start_s=start, duration_s=None if end is None else end - start,
                labels=_split_labels(row["label"]), recording=row.get("recording") or file.stem,
                split=row.get("split", "").strip())


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


def raven_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(audio, table) pairs: ``x.wav`` with ``x.selections.txt``, ``x.txt`` or ``x.Table.1.selections.txt``."""
    tables = {}
    for table in folder.glob("*.txt"):
        stem = table.name.removesuffix(".txt").removesuffix(".selections")
        stem = stem.split(".Table.")[0]
        tables[stem] = table
    return [(audio, tables[audio.stem]) for audio in _audio_files(folder) if audio.stem in tables]


def annotated_bands(folder: str | Path, *, label_column: str = "Species",
                    coverage: float = 0.9) -> dict[str, tuple[float, float]]:
    """Each label's frequency band from the Raven tables of a folder of long recordings.

    The band runs from a low percentile of the annotations' ``Low Freq`` to a high one
    of their ``High Freq``, so that it holds ``coverage`` of the calls' extent without
    being stretched by one careless box. An empty dict means ``folder`` holds no
    annotated recordings (or is not a folder); tables that cannot be read are left out
    here, as :func:`load_index` has already reported them. Detection trims events to
    where this band stands out of the noise (:mod:`whalelab.band_contrast`).

    Examples
    --------
    >>> annotated_bands("no/such/folder")
    {}
    """
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    tables = []
    for _, table in raven_pairs(folder):
        try:
            tables.append(read_raven(table, label_column=label_column))
        except WhaleLabError:
            continue
    events = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if events.empty:
        return {}
    tail = 100 * (1 - coverage) / 2
    return {str(label): (float(np.percentile(group.low_hz, tail)),
                         float(np.percentile(group.high_hz, 100 - tail)))
            for label, group in events.groupby("label")}


def _read_raven_folder(folder: Path, report: _Problems, *, window_s: float, hop_s: float,
                       min_call_fraction: float, label_column: str, background_cap: float,
                       block_s: float, seed: int) -> list[Clip]:
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
                             hop_s=hop_s, min_call_fraction=min_call_fraction, block_s=block_s):
            (labelled if clip.labels else background).append(clip)
    if background_cap < 1 and labelled:
        allowed = int(background_cap / (1 - background_cap) * len(labelled))
        if len(background) > allowed:
            keep = np.random.default_rng(seed).choice(len(background), allowed, replace=False)
            background = [background[i] for i in sorted(keep)]
    return labelled + background


def _windows(audio: Path, duration: float, events: pd.DataFrame, *, window_s: float,
             hop_s: float, min_call_fraction: float, block_s: float) -> list[Clip]:
    """Cut one annotated recording into labelled windows, grouped in blocks of ``block_s``."""
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
        clips.append(Clip(path=str(audio.resolve()), start_s=round(float(start), 6),
                          duration_s=window_s, labels=_split_labels(";".join(labels)),
                          recording=f"{audio.stem}#{block}"))
    return clips


# ---------------------------------------------------------------------------- splitting


def split_by_recording(clips: list[Clip], *, seed: int, val_fraction: float = 0.15,
                       test_fraction: float = 0.15) -> list[Clip]:
    """Assign train/val/test by recording, stratified by each recording's main label.

    All clips of one recording land in the same split. Within each label the recordings
    are shuffled by ``seed``; a label with three or more recordings gets at least one in
    val and one in test, and every label keeps at least one in train.

    Examples
    --------
    >>> clips = [Clip(f"{i}.wav", labels=("a",), recording=str(i)) for i in range(20)]
    >>> splits = [clip.split for clip in split_by_recording(clips, seed=0)]
    >>> splits.count("train"), splits.count("val"), splits.count("test")
    (14, 3, 3)
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 \
            or val_fraction + test_fraction >= 1:
        raise DataError(f"val_fraction {val_fraction} and test_fraction {test_fraction} must be "
                        f"in [0, 1) and leave room for training")
    labels_of: dict[str, tuple[str, ...]] = {}
    for clip in clips:
        labels_of.setdefault(clip.recording, clip.labels)
    by_label: dict[tuple[str, ...], list[str]] = {}
    for recording, labels in sorted(labels_of.items()):
        by_label.setdefault(labels[:1], []).append(recording)
    rng = np.random.default_rng(seed)
    split_of = {}
    for label in sorted(by_label):
        recordings = [by_label[label][i] for i in rng.permutation(len(by_label[label]))]
        count = len(recordings)
        n_test = max(round(count * test_fraction), 1 if count >= 3 and test_fraction else 0)
        n_val = max(round(count * val_fraction), 1 if count >= 3 and val_fraction else 0)
        n_val = min(n_val, count - n_test - 1) if count > n_test else 0
        for position, recording in enumerate(recordings):
            split_of[recording] = ("test" if position < n_test else
                                   "val" if position < n_test + n_val else "train")
    return [dataclasses.replace(clip, split=split_of[clip.recording]) for clip in clips]


# ---------------------------------------------------------------------------- serving


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


class ClipDataset(Dataset):
    """Fixed-length waveforms and multi-hot targets of a :class:`ClipIndex`.

    A clip longer than ``clip_seconds`` is cropped (at random in training, centred in
    evaluation); a shorter one is zero-padded (at a random offset in training, centred in
    evaluation). Random positions come from torch's global generator, which the
    training loop seeds per epoch (and DataLoader seeds per worker).

    Items are ``(waveform, target)``: float32 ``(samples,)`` and ``(classes,)``.
    """

    def __init__(self, index: ClipIndex, *, sample_rate: int, clip_seconds: float,
                 train: bool = False, cache: ClipCache | None = None) -> None:
        self.index, self.sample_rate, self.train = index, sample_rate, train
        self.samples = int(round(clip_seconds * sample_rate))
        self.cache = cache
        self.targets = torch.from_numpy(index.targets())

    def __len__(self) -> int:
        return len(self.index.clips)

    def clip(self, item: int) -> Clip:
        """The :class:`Clip` behind item ``item``."""
        return self.index.clips[item]

    def preload(self, *, progress: bool | None = None) -> None:
        """Decode every clip into the cache now, with a progress bar."""
        if self.cache is None:
            self.cache = ClipCache()
        for clip in tqdm(self.index.clips, desc="decode", leave=False,
                         disable=not progress if progress is not None else None):
            self.cache.get(clip, self.sample_rate)

    def waveform(self, item: int) -> np.ndarray:
        """The decoded audio of item ``item`` at the dataset's rate, before crop or pad."""
        clip = self.index.clips[item]
        return self.cache.get(clip, self.sample_rate) if self.cache is not None \
            else _decode(clip, self.sample_rate)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio = torch.from_numpy(self.waveform(item))
        excess = len(audio) - self.samples
        if excess > 0:
            start = int(torch.randint(0, excess + 1, ())) if self.train else excess // 2
            audio = audio[start:start + self.samples]
        elif excess < 0:
            left = int(torch.randint(0, -excess + 1, ())) if self.train else -excess // 2
            audio = torch.nn.functional.pad(audio, (left, -excess - left))
        return audio, self.targets[item]


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
