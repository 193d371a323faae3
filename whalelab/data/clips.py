"""The clip index: labelled stretches of audio, the class order of their targets, and its CSV.

A clip may know where its calls lie (strong labels): ``spans``, each
``(label, start_s, end_s)`` in seconds from the clip's own start. A background clip
always knows it: it holds no call.

Examples
--------
>>> index = ClipIndex([Clip("a.wav", labels=("fin",), spans=(("fin", 0.5, 1.6),)),
...                    Clip("b.wav"), Clip("c.wav", labels=("fin",))], ["fin"])
>>> index.targets().tolist()
[[1.0], [0.0], [1.0]]
>>> index.strong().tolist()
[True, True, False]
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

Span = tuple[str, float, float]


@dataclasses.dataclass(frozen=True)
class Clip:
    """One labelled stretch of audio: ``duration_s`` None means to the end of the file.

    ``spans`` are the clip's calls, ``(label, start_s, end_s)`` in seconds from
    ``start_s`` (the clip's start), sorted by start: None when unknown (clip labels
    only), ``()`` when the clip is known to hold no call. A clip without labels
    (background) always gets ``()``; spans may only name the clip's labels.
    ``snr_db`` is the signal-to-noise ratio of the clip's faintest call in dB, where the
    data states it (a manifest's ``snr_db`` column; the synthetic set writes it), else None.

    Examples
    --------
    >>> Clip("a.wav", labels=("fin",), spans=(("fin", 2, 3), ("fin", 0.5, 1))).spans
    (('fin', 0.5, 1.0), ('fin', 2.0, 3.0))
    >>> Clip("b.wav").spans
    ()
    """

    path: str
    start_s: float = 0.0
    duration_s: float | None = None
    labels: tuple[str, ...] = ()
    recording: str = ""
    split: str = ""
    spans: tuple[Span, ...] | None = None
    snr_db: float | None = None

    def __post_init__(self) -> None:
        if not self.labels and self.spans is None:
            object.__setattr__(self, "spans", ())
        if self.spans is None:
            return
        spans = tuple(sorted(((str(label), float(start), float(end))
                              for label, start, end in self.spans),
                             key=lambda span: (span[1], span[2], span[0])))
        for label, start, end in spans:
            if label not in self.labels:
                raise DataError(f"{self.path}: a call span names {label!r}, which is not one "
                                f"of the clip's labels ({', '.join(self.labels) or 'none'})")
            if not 0 <= start < end:
                raise DataError(f"{self.path}: call span {start}-{end} s of {label!r} must "
                                f"start at 0 or later and end after it starts")
        object.__setattr__(self, "spans", spans)


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


#: names people give call-free clips: a class with one of them is probably background
#: that was not declared (:func:`looks_like_background`)
BACKGROUND_NAMES = frozenset({"background", "noise", "negative", "no_call", "nocall",
                              "non_call", "ambient", "ambient_noise", "silence", "bg",
                              "empty", "nothing"})


def looks_like_background(name: str) -> bool:
    """Whether a class name reads as "no call" (:data:`BACKGROUND_NAMES`, any case,
    spaces or hyphens for underscores, a plural ``s`` ignored).

    Examples
    --------
    >>> [looks_like_background(name) for name in ("Noise", "no-call", "negatives", "humpback")]
    [True, True, True, False]
    """
    words = "_".join(name.strip().lower().replace("-", " ").split())
    return words in BACKGROUND_NAMES or words.removesuffix("s") in BACKGROUND_NAMES


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

    def strong(self) -> np.ndarray:
        """``(clips,)`` bool: whether each clip's call spans are known."""
        return np.array([clip.spans is not None for clip in self.clips], dtype=bool)

    def snr_db(self) -> np.ndarray:
        """``(clips,)`` float: each clip's :attr:`Clip.snr_db`, NaN where unknown."""
        return np.array([np.nan if clip.snr_db is None else clip.snr_db
                         for clip in self.clips], dtype=float)

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
        """One row per clip; several labels joined with ``;``.

        ``strong`` is 1 where the call spans are known, and ``spans`` writes them as
        ``label@start-end`` joined with ``;`` (empty for none), e.g.
        ``fin_whale@0.52-1.61;right_whale@2-3``.
        """
        return pd.DataFrame({
            "path": [clip.path for clip in self.clips],
            "start_s": [clip.start_s for clip in self.clips],
            "duration_s": [clip.duration_s for clip in self.clips],
            "labels": [";".join(clip.labels) for clip in self.clips],
            "recording": [clip.recording for clip in self.clips],
            "split": [clip.split for clip in self.clips],
            "strong": [int(clip.spans is not None) for clip in self.clips],
            "spans": [format_spans(clip.spans or ()) for clip in self.clips],
            "snr_db": ["" if clip.snr_db is None else clip.snr_db for clip in self.clips],
        })

    def save_csv(self, path: str | Path) -> Path:
        """Write the index (``splits.csv`` of a run) atomically, classes in the header."""
        frame = self.to_frame()
        header = "# classes: " + ";".join(self.classes) + "\n"
        return atomic_write(path, lambda temporary: temporary.write_text(
            header + frame.to_csv(index=False)))

    @classmethod
    def load_csv(cls, path: str | Path) -> "ClipIndex":
        """Read an index written by :meth:`save_csv`; its labels are classes as written.

        An index written before call spans were kept (no ``strong`` column) reads with
        spans unknown, except for background clips, which hold none.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such clip index")
        first = path.read_text().split("\n", 1)[0]
        if not first.startswith("# classes: "):
            raise DataError(f"{path}: not a whalelab clip index (no '# classes:' header)")
        frame = pd.read_csv(path, comment=None, skiprows=1, keep_default_na=False,
                            dtype={"spans": str})
        if "strong" not in frame.columns:
            frame = frame.assign(strong=0, spans="")
        if "snr_db" not in frame.columns:
            frame = frame.assign(snr_db="")
        clips = [Clip(path=row.path, start_s=float(row.start_s),
                      duration_s=None if row.duration_s == "" else float(row.duration_s),
                      labels=parse_labels(str(row.labels), background_labels=()),
                      recording=str(row.recording), split=row.split,
                      spans=parse_spans(row.spans, where=f"{path} line {number}")
                      if int(row.strong) else None,
                      snr_db=None if row.snr_db == "" else float(row.snr_db))
                 for number, row in enumerate(frame.itertuples(), start=3)]
        return cls(clips, first[len("# classes: "):].split(";"))


def format_spans(spans: Sequence[Span]) -> str:
    """Spans as ``label@start-end`` joined with ``;``; the shortest exact decimals.

    Examples
    --------
    >>> format_spans([("fin_whale", 0.52, 1.61), ("right_whale", 2.0, 3.0)])
    'fin_whale@0.52-1.61;right_whale@2-3'
    """
    return ";".join(f"{label}@{_decimal(start)}-{_decimal(end)}" for label, start, end in spans)


def _decimal(seconds: float) -> str:
    return np.format_float_positional(seconds, trim="-")


def parse_spans(text: str, *, where: str) -> tuple[Span, ...]:
    """The spans :func:`format_spans` wrote, exactly; ``where`` names the text in errors.

    Examples
    --------
    >>> parse_spans("fin_whale@0.52-1.61;right_whale@2-3", where="here")
    (('fin_whale', 0.52, 1.61), ('right_whale', 2.0, 3.0))
    """
    spans = []
    for item in filter(None, text.split(";")):
        label, _, times = item.rpartition("@")
        try:
            start, end = (float(time) for time in times.split("-"))
        except ValueError:
            raise DataError(f"{where}: call span {item!r} is not label@start-end") from None
        spans.append((label, start, end))
    return tuple(spans)
