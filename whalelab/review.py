"""A person's review of detections: each decision saved the moment it is made.

The detections are a ``whalelab detect`` output folder's ``events.csv`` (one row per
event: ``file, begin_s, end_s, low_hz, high_hz, label, score``). The decisions go to
``review.csv`` beside it: the same columns, the events in the same order, and a ``review``
column holding ``true``, ``false``, ``unsure``, another class's name (the call is real but
of that class), or nothing yet, with ``reviewed_at`` (UTC, ISO 8601). The file is
rewritten atomically after every decision (:func:`whalelab.atomic.atomic_write`), so
closing the browser or restarting the kernel loses nothing: ``Review(folder)`` reads it
back and the review goes on at the first event left undecided. An event is known by its
file, start, end and label, so the decisions stay with their events if ``detect`` runs
again into the folder and adds recordings.

A CSV rather than the embedding store's tables: a review is of detections, which need no
store, and a CSV opens in a spreadsheet or in pandas as it is.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from whalelab.atomic import atomic_write, output_folder, write_json
from whalelab.config import EventMatching
from whalelab.errors import ConfigError, DataError
from whalelab.metrics.events import match_events

EVENTS, REVIEW = "events.csv", "review.csv"
#: what a folder of search results to review records of the search (:func:`search_events`)
SEARCH = "search.json"
#: the decisions besides another class's name
DECISIONS = ("true", "false", "unsure")
#: what identifies an event across runs of ``detect`` into the same folder
KEY = ["file", "begin_s", "end_s", "label"]


class Review:
    """The detections of one output folder and the decisions made on them so far.

    Parameters
    ----------
    folder : path
        A ``whalelab detect`` output folder (it holds ``events.csv``).
    classes : iterable of str
        The classes a call may be relabelled to (default: the labels detected).

    Raises
    ------
    DataError
        No ``events.csv`` in ``folder``, or a ``review.csv`` that cannot be read, named.
    """

    def __init__(self, folder: str | Path, *, classes: Iterable[str] | None = None) -> None:
        self.folder = Path(folder)
        events_path = self.folder / EVENTS
        if not events_path.is_file():
            raise DataError(f"{self.folder}: no {EVENTS}; review the output folder of "
                            f"whalelab detect")
        events = pd.read_csv(events_path, keep_default_na=False,
                             dtype={"file": str, "label": str})
        self.classes = sorted(set(events["label"]) if classes is None else set(classes))
        self.table = events.assign(review="", reviewed_at="")
        saved_path = self.folder / REVIEW
        if saved_path.is_file():
            try:
                saved = pd.read_csv(saved_path, keep_default_na=False,
                                    dtype={"file": str, "label": str, "review": str,
                                           "reviewed_at": str})
                earlier = saved.loc[saved["review"] != "", [*KEY, "review", "reviewed_at"]]
            except (ValueError, KeyError, pd.errors.ParserError) as error:
                raise DataError(f"{saved_path}: not a review table ({error})") from None
            merged = self.table.drop(columns=["review", "reviewed_at"]).merge(
                earlier.drop_duplicates(KEY, keep="last"), on=KEY, how="left")
            self.table = merged.fillna({"review": "", "reviewed_at": ""})

    def __len__(self) -> int:
        return len(self.table)

    @property
    def decided(self) -> pd.DataFrame:
        """The events decided so far, with their ``review``."""
        return self.table[self.table["review"] != ""]

    def mark(self, position: int, decision: str) -> None:
        """Decide event ``position`` (its row of ``events.csv``, from 0) and save at once.

        Raises
        ------
        ConfigError
            No such event, or a decision that is neither one of :data:`DECISIONS` nor a
            class of :attr:`classes`.
        """
        if not 0 <= position < len(self.table):
            raise ConfigError(f"no event {position}: the review holds {len(self.table)}")
        if decision not in DECISIONS and decision not in self.classes:
            raise ConfigError(f"{decision!r} is not a decision: {', '.join(DECISIONS)} or a "
                              f"class ({', '.join(self.classes)})")
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.table.loc[self.table.index[position], ["review", "reviewed_at"]] = \
            [decision, stamp]
        atomic_write(self.folder / REVIEW, lambda temporary: self.table.to_csv(
            temporary, index=False))

    def order(self, *, by: str = "score", threshold: float = 0.5) -> list[int]:
        """The undecided events' positions in the order to review them: ``score``,
        highest first, or ``margin``, the nearest ``threshold`` first (where the model is
        least sure: active learning); ties keep the table's order.

        Raises
        ------
        ConfigError
            ``by`` is neither.
        """
        if by not in ("score", "margin"):
            raise ConfigError(f"order by score or margin, not {by!r}")
        scores = self.table["score"].to_numpy(dtype=float)
        keys = -scores if by == "score" else np.abs(scores - threshold)
        return [int(position) for position in np.argsort(keys, kind="stable")
                if self.table["review"].iloc[position] == ""]

    def next(self, *, by: str = "score", threshold: float = 0.5) -> int | None:
        """The next event to review (:meth:`order`), or None when every one is decided."""
        waiting = self.order(by=by, threshold=threshold)
        return waiting[0] if waiting else None


def search_events(neighbours: pd.DataFrame, folder: str | Path, *, label: str,
                  query: str = "") -> Review:
    """A search's neighbours as events to review in ``folder``: ``events.csv`` holds each
    window found once (its best likeness over the queries as its ``score``; ``label``, the
    class searched for; band unknown), the most alike first, so that :class:`Review` and
    the review widget page through them as through detections, the decisions going to
    ``review.csv`` beside it. ``search.json`` records the search (``label``, ``query``: what
    was searched from); running a search into the folder again keeps the decisions made on
    windows found before.

    Shapes
    ------
    ``neighbours``: :func:`whalelab.search.nearest`'s table, ``similarity, file, start_s,
    end_s`` a row.

    Raises
    ------
    StorageError
        ``folder`` holds files but is not a search's (a ``detect`` folder, or data).
    """
    folder = output_folder(folder, records=(SEARCH,), flag=None)
    best = (neighbours.sort_values("similarity", ascending=False, kind="stable")
            .drop_duplicates(["file", "start_s", "end_s"]))
    events = pd.DataFrame({"file": best["file"].astype(str), "begin_s": best["start_s"],
                           "end_s": best["end_s"], "low_hz": np.nan, "high_hz": np.nan,
                           "label": label, "score": best["similarity"]})
    write_json(folder / SEARCH, {"label": label, "query": query, "windows": len(events)})
    atomic_write(folder / EVENTS, lambda temporary: events.to_csv(temporary, index=False))
    return Review(folder)


def decided_neighbours(review: Review, vectors: np.ndarray, *,
                       k: int = 3) -> Callable[[int], list[str]]:
    """What the person decided of the events most like each one: for the review widget's
    ``neighbours``. ``vectors`` ``(events, dim)`` are the review's events embedded in its
    table's order (:func:`embed_span` of each span); the function returned takes an event's
    position and gives, nearest first, the decisions on its ``k`` most alike decided events
    (``true fin``, ``false fin``, ``humpback`` for a relabelled one; ``unsure`` left out),
    read when called, so a decision just made already counts.

    Examples
    --------
    >>> table = pd.DataFrame({"label": ["fin", "fin", "fin"], "review": ["false", "", "true"]})
    >>> review = object.__new__(Review)
    >>> review.table = table
    >>> near = decided_neighbours(review, np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), k=2)
    >>> near(1)
    ['false fin', 'true fin']
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True),
                                np.finfo(np.float32).tiny)  # rows of length 1: cosines

    def near(position: int) -> list[str]:
        table = review.table
        decided = np.flatnonzero(~table["review"].isin(["", "unsure"]).to_numpy())
        decided = decided[decided != position]
        likeness = unit[decided] @ unit[position]
        said = []
        for other in decided[np.argsort(-likeness, kind="stable")[:k]]:
            decision, label = table["review"].iloc[other], table["label"].iloc[other]
            said.append(f"{decision} {label}" if decision in ("true", "false") else decision)
        return said

    return near

def truth_decisions(events: pd.DataFrame, truth: pd.DataFrame, *,
                    matching: EventMatching = EventMatching()) -> list[str]:
    """What a person who knows the annotated calls decides of each event: ``true`` where
    the event matches a call of its class one to one, as event scoring matches them
    (:func:`whalelab.metrics.events.match_events`), else the class of a call of another
    class it matches, else ``false`` (a second event on a call already matched too, as
    scoring counts it). It stands in for the person where the truth is
    known (measuring the review loop: calibration, retraining).

    Shapes
    ------
    ``events`` and ``truth``: ``file, begin_s, end_s, label`` (files compared as resolved
    paths); returns one decision per event, in order.

    Examples
    --------
    >>> truth = pd.DataFrame({"file": "a.wav", "begin_s": [1.0, 9.0], "end_s": [3.0, 11.0],
    ...                       "label": ["fin", "blue"]})
    >>> events = pd.DataFrame({"file": "a.wav", "begin_s": [1.2, 5.0, 9.1],
    ...                        "end_s": [3.1, 6.0, 11.0], "label": ["fin", "fin", "fin"]})
    >>> truth_decisions(events, truth)
    ['true', 'false', 'blue']
    """
    def resolved(table: pd.DataFrame) -> pd.DataFrame:
        table = table.reset_index(drop=True)
        return table.assign(file=[str(Path(name).resolve()) for name in table["file"]])

    events, truth = resolved(events), resolved(truth)
    decisions = ["false"] * len(events)
    for position in match_events(events, truth, matching=matching)["predicted"]:
        decisions[int(position)] = "true"
    for label in sorted(set(truth["label"])):  # matched as another class: relabelled
        waiting = [k for k, decision in enumerate(decisions)
                   if decision == "false" and events["label"].iloc[k] != label]
        relabelled = events.loc[waiting].assign(label=label)
        for position in match_events(relabelled, truth, matching=matching)["predicted"]:
            decisions[int(position)] = label
    return decisions
