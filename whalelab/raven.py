"""The only module that reads and writes Raven selection tables.

A Raven Pro selection table is a tab-separated text file with one row per selection::

    Selection  View  Channel  Begin Time (s)  End Time (s)  Low Freq (Hz)  High Freq (Hz)  Species

whalelab reads them as annotations (training windows, event ground truth) and writes
detections as them, with a ``Score`` column added, so that results open in Raven next
to the audio. Inside whalelab an event table is a DataFrame with the columns
``begin_s, end_s, low_hz, high_hz, label`` and optionally ``score`` and ``begin_file``.

Examples
--------
>>> import tempfile, pandas as pd
>>> events = pd.DataFrame({"begin_s": [1.0], "end_s": [2.5], "low_hz": [50.0],
...                        "high_hz": [200.0], "label": ["right_whale"]})
>>> path = write_raven(events, tempfile.mkdtemp() + "/calls.selections.txt")
>>> read_raven(path)[["begin_s", "end_s", "label"]].values.tolist()
[[1.0, 2.5, 'right_whale']]
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from whalelab.atomic import atomic_write
from whalelab.errors import DataError

# Raven column -> whalelab column
_COLUMNS = {"Begin Time (s)": "begin_s", "End Time (s)": "end_s",
            "Low Freq (Hz)": "low_hz", "High Freq (Hz)": "high_hz"}
_OPTIONAL = {"Score": "score", "Begin File": "begin_file"}
EVENT_COLUMNS = ["begin_s", "end_s", "low_hz", "high_hz", "label"]


def read_raven(path: str | Path, *, label_column: str = "Species") -> pd.DataFrame:
    """Read a selection table into an event table sorted by begin time.

    Parameters
    ----------
    path : path
        A tab-separated Raven selection table.
    label_column : str
        The column holding the class of each selection (``Species`` by default).

    Returns
    -------
    pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label`` and, when present, ``score`` and
        ``begin_file``. A table with a header but no rows gives an empty frame.

    Raises
    ------
    DataError
        The file is missing or not tab-separated, a required column is missing, a time
        is not a number, or a selection ends before it begins (the row is named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such Raven selection table")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False,
                            quoting=csv.QUOTE_NONE, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable Raven selection table ({error})") from None
    table.columns = [name.strip() for name in table.columns]
    missing = [name for name in [*_COLUMNS, label_column] if name not in table.columns]
    if missing:
        raise DataError(f"{path}: Raven table lacks the column(s) {', '.join(missing)} "
                        f"(has {', '.join(table.columns)})")
    if "View" in table.columns:  # Raven lists a selection once per view; keep one
        views = table["View"].str.lower()
        if views.str.startswith("spectrogram").any() and views.str.startswith("waveform").any():
            table = table[~views.str.startswith("waveform")]
    events = pd.DataFrame({ours: _numbers(table[theirs], path, theirs, table)
                           for theirs, ours in _COLUMNS.items()})
    events["label"] = table[label_column].str.strip().to_numpy()
    if "Score" in table.columns:
        events["score"] = _numbers(table["Score"], path, "Score", table)
    if "Begin File" in table.columns:
        events["begin_file"] = table["Begin File"].to_numpy()
    backwards = np.flatnonzero(events["end_s"].to_numpy() < events["begin_s"].to_numpy())
    if backwards.size:
        row = backwards[0]
        raise DataError(f"{path}: selection {_selection(table, row)} ends "
                        f"({events['end_s'].iloc[row]} s) before it begins "
                        f"({events['begin_s'].iloc[row]} s)")
    if (events[["begin_s", "low_hz", "high_hz"]].to_numpy() < 0).any():
        row = int(np.flatnonzero((events[["begin_s", "low_hz", "high_hz"]] < 0).any(axis=1))[0])
        raise DataError(f"{path}: selection {_selection(table, row)} has a negative time "
                        f"or frequency")
    return events.sort_values("begin_s", kind="stable").reset_index(drop=True)


def _selection(table: pd.DataFrame, row: int) -> str:
    """How a row is named in messages: its Selection number, else its line."""
    if "Selection" in table.columns:
        return str(table["Selection"].iloc[row])
    return f"on line {row + 2}"


def _numbers(values: pd.Series, path: Path, column: str, table: pd.DataFrame) -> np.ndarray:
    converted = pd.to_numeric(values.str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(converted))
    if bad.size:
        raise DataError(f"{path}: selection {_selection(table, bad[0])}: {column} "
                        f"{values.iloc[bad[0]]!r} is not a number")
    return converted


def write_raven(events: pd.DataFrame, path: str | Path, *,
                label_column: str = "Species") -> Path:
    """Write an event table as a Raven selection table, atomically.

    Parameters
    ----------
    events : pandas.DataFrame
        ``begin_s, end_s, low_hz, high_hz, label``; ``score`` becomes a ``Score`` column
        and ``begin_file`` a ``Begin File`` column. Selections are numbered from 1 in
        begin-time order, on ``View`` "Spectrogram 1" and ``Channel`` 1.
    path : path
        Where to write; the parent folder is created.
    """
    missing = [name for name in EVENT_COLUMNS if name not in events.columns]
    if missing:
        raise DataError(f"{path}: cannot write a Raven table without {', '.join(missing)}")
    ordered = events.sort_values("begin_s", kind="stable").reset_index(drop=True)
    table = pd.DataFrame({
        "Selection": np.arange(1, len(ordered) + 1),
        "View": "Spectrogram 1",
        "Channel": 1,
        **{theirs: ordered[ours].astype(float).round(6) for theirs, ours in _COLUMNS.items()},
        label_column: ordered["label"].astype(str),
    })
    for theirs, ours in _OPTIONAL.items():
        if ours in ordered.columns:
            table[theirs] = ordered[ours].astype(float).round(6) if ours == "score" \
                else ordered[ours]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda temporary: table.to_csv(
        temporary, sep="\t", index=False, lineterminator="\n", quoting=csv.QUOTE_NONE))
