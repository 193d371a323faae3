"""Raven selection tables: round trip, the header Raven expects, and bad tables."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from whalelab.errors import DataError, WhaleLabError
from whalelab.raven import read_raven, write_raven

HEADER = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
          "High Freq (Hz)"]


def _events(**extra) -> pd.DataFrame:
    return pd.DataFrame({"begin_s": [12.5, 3.25], "end_s": [13.75, 4.0], "low_hz": [50.0, 15.0],
                         "high_hz": [200.0, 30.0], "label": ["right_whale", "fin_whale"],
                         **extra})


def _write_table(path, rows: list[list[str]]) -> None:
    path.write_text("\n".join("\t".join(map(str, row)) for row in rows) + "\n")


def test_round_trip_keeps_every_column_and_sorts_by_time(tmp_path):
    events = _events(score=[0.91, 0.6], begin_file=["a.wav", "a.wav"])
    back = read_raven(write_raven(events, tmp_path / "a.selections.txt"))
    expected = events.sort_values("begin_s").reset_index(drop=True)
    pd.testing.assert_frame_equal(back[expected.columns.tolist()], expected, check_dtype=False)


def test_written_table_has_ravens_header_and_numbered_selections(tmp_path):
    path = write_raven(_events(score=[0.5, 0.7]), tmp_path / "out.selections.txt")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == [*HEADER, "Species", "Score"]
    assert [row[0] for row in rows[1:]] == ["1", "2"]
    assert rows[1][1] == "Spectrogram 1" and rows[1][-2] == "fin_whale"
    assert not list(tmp_path.glob(".*part"))


def test_label_column_name_is_a_parameter(tmp_path):
    path = write_raven(_events(), tmp_path / "t.txt", label_column="Call Type")
    assert "Call Type" in path.read_text().splitlines()[0]
    assert read_raven(path, label_column="Call Type")["label"].tolist() == [
        "fin_whale", "right_whale"]
    with pytest.raises(DataError, match="Species"):
        read_raven(path)


def test_a_table_raven_saved_with_two_views_lists_each_selection_once(tmp_path):
    path = tmp_path / "raven.txt"
    _write_table(path, [[*HEADER, "Species"],
                        [1, "Waveform 1", 1, 1.0, 2.0, 0, 4000, "minke_whale"],
                        [1, "Spectrogram 1", 1, 1.0, 2.0, 1300, 1500, "minke_whale"]])
    events = read_raven(path)
    assert len(events) == 1 and events["low_hz"].item() == 1300


def test_no_events_with_untyped_columns_write_a_header_only_table(tmp_path):
    # an empty frame built from column names alone has object columns, score included
    events = pd.DataFrame(columns=["begin_s", "end_s", "low_hz", "high_hz", "label", "score",
                                   "begin_file"])
    path = write_raven(events, tmp_path / "none.selections.txt")
    assert path.read_text().splitlines()[0].split("\t")[:7] == HEADER
    assert read_raven(path).empty


def test_header_only_table_is_empty(tmp_path):
    path = tmp_path / "empty.txt"
    _write_table(path, [[*HEADER, "Species"]])
    assert read_raven(path).empty


@pytest.mark.parametrize("rows, message", [
    ([[*HEADER[:4], "Species"], [1, "Spectrogram 1", 1, 2.0, "fin_whale"]], "End Time"),
    ([[*HEADER, "Species"], [7, "Spectrogram 1", 1, 5.0, 4.0, 10, 20, "fin_whale"]],
     "selection 7 ends"),
    ([[*HEADER, "Species"], [3, "Spectrogram 1", 1, "soon", 4.0, 10, 20, "fin_whale"]],
     "selection 3: Begin Time"),
])
def test_bad_tables_name_the_file_and_the_problem(tmp_path, rows, message):
    path = tmp_path / "bad.selections.txt"
    _write_table(path, rows)
    with pytest.raises(WhaleLabError, match=message) as caught:
        read_raven(path)
    assert "bad.selections.txt" in str(caught.value)


def test_missing_table_and_unwritable_events(tmp_path):
    with pytest.raises(DataError, match="no such"):
        read_raven(tmp_path / "nothing.txt")
    with pytest.raises(DataError, match="label"):
        write_raven(_events().drop(columns="label"), tmp_path / "x.txt")
