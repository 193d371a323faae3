"""review: decisions on detections saved as made, read back after a restart, in order."""

from __future__ import annotations

import pandas as pd
import pytest

from whalelab.errors import ConfigError, DataError
from whalelab.review import REVIEW, Review


def detections(folder, scores=(0.9, 0.55, 0.7, 0.4, 0.98), file="day1.wav"):
    folder.mkdir(parents=True, exist_ok=True)
    events = pd.DataFrame({"file": file, "begin_s": [10.0 * i for i in range(len(scores))],
                           "end_s": [10.0 * i + 3 for i in range(len(scores))],
                           "low_hz": 15.0, "high_hz": 30.0,
                           "label": ["fin", "fin", "blue", "fin", "blue"][:len(scores)],
                           "score": list(scores), "begin_file": file})
    events.to_csv(folder / "events.csv", index=False)
    return events


def test_each_decision_is_on_disk_at_once_and_a_restart_resumes(tmp_path):
    detections(tmp_path)
    review = Review(tmp_path)
    assert review.next() == 4  # the highest score first
    review.mark(4, "true")
    saved = pd.read_csv(tmp_path / REVIEW, keep_default_na=False)
    assert list(saved["review"]) == ["", "", "", "", "true"] and saved["reviewed_at"][4]
    review.mark(review.next(), "false")  # event 0, score 0.9
    review.mark(2, "fin")  # a real call, of another class
    again = Review(tmp_path)  # the kernel restarted
    assert list(again.decided.index) == [0, 2, 4]
    assert list(again.decided["review"]) == ["false", "fin", "true"]
    assert again.next() == 1 and again.order() == [1, 3]


def test_margin_orders_the_least_sure_first(tmp_path):
    detections(tmp_path)
    review = Review(tmp_path)
    assert review.order(by="margin", threshold=0.5) == [1, 3, 2, 0, 4]
    assert review.order(by="margin", threshold=0.95) == [4, 0, 2, 1, 3]
    with pytest.raises(ConfigError, match="score or margin"):
        review.order(by="loudness")


def test_decisions_stay_with_their_events_when_detect_adds_recordings(tmp_path):
    first = detections(tmp_path)
    review = Review(tmp_path)
    review.mark(0, "true")
    review.mark(3, "unsure")
    later = pd.concat([detections(tmp_path / "other", file="day0.wav"), first],
                      ignore_index=True)  # a new recording sorted before the old one
    later.to_csv(tmp_path / "events.csv", index=False)
    resumed = Review(tmp_path)
    assert len(resumed) == 10
    assert list(resumed.decided.index) == [5, 8]
    assert list(resumed.decided["review"]) == ["true", "unsure"]


def test_bad_decisions_and_folders_are_one_line(tmp_path):
    with pytest.raises(DataError, match="no events.csv"):
        Review(tmp_path)
    detections(tmp_path)
    review = Review(tmp_path)
    with pytest.raises(ConfigError, match="'maybe' is not a decision"):
        review.mark(0, "maybe")
    with pytest.raises(ConfigError, match="no event 5"):
        review.mark(5, "true")
    assert not (tmp_path / REVIEW).exists()  # nothing decided, nothing written
    (tmp_path / REVIEW).write_text("this,is\nnot,a review\n")
    with pytest.raises(DataError, match="not a review table"):
        Review(tmp_path)


def test_the_truth_decides_as_a_person_who_knows_the_calls(tmp_path):
    from whalelab.review import truth_decisions
    audio = tmp_path / "day1.wav"
    truth = pd.DataFrame({"file": str(audio), "begin_s": [10.0, 40.0, 70.0],
                          "end_s": [14.0, 44.0, 74.0], "label": ["fin", "blue", "fin"]})
    events = pd.DataFrame({
        "file": [str(audio), str(audio), str(audio), str(tmp_path / "other.wav"), str(audio),
                 str(tmp_path / "." / "day1.wav")],
        "begin_s": [10.5, 20.0, 40.2, 10.0, 10.8, 70.1],
        "end_s": [14.0, 24.0, 44.0, 14.0, 13.9, 74.0],
        "label": ["fin", "fin", "fin", "fin", "fin", "fin"]})
    assert truth_decisions(events, truth) == [
        "true",    # over a fin call
        "false",   # over nothing
        "blue",    # a real call, of another class
        "false",   # the same times in another recording
        "false",   # a second event on a call already matched: one to one, as scoring counts
        "true"]    # the same file, written another way


def test_search_results_are_reviewed_as_detections_are(tmp_path):
    from whalelab.errors import StorageError
    from whalelab.review import search_events

    found = pd.DataFrame({"query": [0, 0, 1, 1], "rank": [1, 2, 1, 2],
                          "similarity": [0.9, 0.5, 0.8, 0.95], "id": [3, 7, 7, 9],
                          "file": ["a.wav", "b.wav", "b.wav", "c.wav"],
                          "start_s": [0.0, 2.0, 2.0, 4.0], "end_s": [3.0, 5.0, 5.0, 7.0]})
    review = search_events(found, tmp_path / "more-fin", label="fin", query="a.wav 0-3 s")
    assert list(review.table["file"]) == ["c.wav", "a.wav", "b.wav"]  # once each, best first
    assert list(review.table["score"]) == [0.95, 0.9, 0.8] and set(review.table["label"]) == {"fin"}
    review.mark(review.next(), "true")
    again = search_events(found, tmp_path / "more-fin", label="fin")  # the search re-run
    assert list(again.decided["file"]) == ["c.wav"] and again.next() == 1
    detect_folder = tmp_path / "detected"
    detections(detect_folder)
    with pytest.raises(StorageError, match="detected"):  # a detect folder is not written over
        search_events(found, detect_folder, label="fin")
