"""The clip index: labelled stretches of audio, the class order of their targets, and its CSV.

Examples
--------
>>> index = ClipIndex([Clip("a.wav", labels=("fin",)), Clip("b.wav")], ["fin"])
>>> index.targets().tolist()
[[1.0], [0.0]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from whalelab.atomic import atomic_write
from whalelab.errors import DataError

#: the label that means "no call" unless the data settings name others
BACKGROUND = "background"
SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One labelled stretch of audio: ``duration_s`` None means to the end of the file."""

    path: str
    start_s: float = 0.0
    duration_s: float | None = None
    labels: tuple[str, ...] = ()
    recording: str = ""
    split: str = ""


def parse_labels(text: str, *,
                 background_labels: Sequence[str] = (BACKGROUND,)) -> tuple[str, ...]:
    """The sorted, distinct classes of a ``;``-separated label; background labels are dropped.

    Examples
    --------
    >>> parse_labels("minke; fin;background;fin")
    ('fin', 'minke')
    >>> parse_labels("noise;ambient", background_labels=("noise", "ambient"))
    ()
    """
    no_call = set(background_labels)
    labels = [label.strip() for label in text.split(";")]
    return tuple(sorted({label for label in labels if label and label not in no_call}))


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
        """Read an index written by :meth:`save_csv`; its labels are classes as written."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such clip index")
        first = path.read_text().split("\n", 1)[0]
        if not first.startswith("# classes: "):
            raise DataError(f"{path}: not a whalelab clip index (no '# classes:' header)")
        frame = pd.read_csv(path, comment=None, skiprows=1, keep_default_na=False)
        clips = [Clip(path=row.path, start_s=float(row.start_s),
                      duration_s=None if row.duration_s == "" else float(row.duration_s),
                      labels=parse_labels(str(row.labels), background_labels=()),
                      recording=str(row.recording), split=row.split)
                 for row in frame.itertuples()]
        return cls(clips, first[len("# classes: "):].split(";"))
