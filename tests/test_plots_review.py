"""The review widget: each button and key decides the event shown, saves it, and moves on;
a new widget on the same folder resumes; the player plays at the speed factor."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import soundfile

from whalelab.plots.review import review_widget, wav_bytes
from whalelab.review import REVIEW, Review

pytest.importorskip("ipywidgets")

RATE = 8000


def detections(folder, scores=(0.3, 0.9, 0.6)):
    """A 6-s recording with a 400 Hz tone at 2-3 s, and one event a second per score."""
    folder.mkdir(parents=True, exist_ok=True)
    time = np.arange(6 * RATE) / RATE
    samples = 0.01 * np.random.default_rng(0).normal(size=len(time))
    samples[2 * RATE:3 * RATE] += 0.5 * np.sin(2 * np.pi * 400 * time[2 * RATE:3 * RATE])
    soundfile.write(folder / "day1.wav", samples, RATE)
    pd.DataFrame({"file": str(folder / "day1.wav"), "begin_s": [1.0, 2.0, 3.5],
                  "end_s": [1.5, 3.0, 4.0], "low_hz": 300.0, "high_hz": 500.0,
                  "label": ["fin", "fin", "blue"], "score": list(scores)}
                 ).to_csv(folder / "events.csv", index=False)
    return folder


def parts(box):
    """The header, image and player, the buttons by description, and the keys box."""
    header, image, player, row, keys, message = box.children
    return header, image, player, {control.description: control for control in row.children}, \
        keys, message


def saved(folder):
    return list(pd.read_csv(folder / REVIEW, keep_default_na=False)["review"])


def test_buttons_and_keys_decide_the_event_shown_save_it_and_move_on(tmp_path):
    folder = detections(tmp_path / "out")
    box = review_widget(Review(folder))
    header, image, player, controls, keys, _ = parts(box)
    assert box.position == 1 and "event 1 of 3" in header.value and "0.900" in header.value
    assert image.value[1:4] == b"PNG" and player.value[:4] == b"RIFF"
    assert box._repr_png_() == bytes(image.value)  # the still a page without a kernel shows
    controls["true"].click()
    assert saved(folder) == ["", "true", ""]  # on disk at once
    assert box.position == 2 and "event 2 of 3" in header.value
    keys.value = "f"  # a key typed into the keys box
    assert saved(folder) == ["", "true", "false"] and keys.value == ""
    controls["class"].value = "blue"
    controls["relabel"].click()  # a real call, of another class
    assert saved(folder) == ["blue", "true", "false"]
    assert box.position is None and "all 3 events decided" in header.value
    assert controls["true"].disabled and keys.disabled


def test_a_new_widget_on_the_folder_resumes_where_the_review_stopped(tmp_path):
    folder = detections(tmp_path / "out")
    first = review_widget(Review(folder))
    parts(first)[3]["unsure"].click()
    again = review_widget(Review(folder))  # the kernel restarted
    assert again.position == 2 and "event 2 of 3" in parts(again)[0].value
    keys = parts(again)[4]
    keys.value = "x"  # not a key: nothing decided
    assert saved(folder) == ["", "unsure", ""] and again.position == 2


def test_margin_order_shows_the_least_sure_event_first(tmp_path):
    folder = detections(tmp_path / "out")
    assert review_widget(Review(folder), by="margin", threshold=0.5).position == 2  # 0.6
    assert review_widget(Review(folder), by="margin", threshold=0.35).position == 0  # 0.3


def test_neighbours_labels_are_shown_beside_the_score(tmp_path):
    folder = detections(tmp_path / "out")
    box = review_widget(Review(folder), neighbours=lambda position: [f"n{position}", "blue"])
    assert "neighbours: n1, blue" in parts(box)[0].value


def test_the_player_plays_at_the_speed_factor():
    samples = np.sin(2 * np.pi * 20 * np.arange(RATE) / RATE)  # a 20 Hz pulse, 1 s
    for speed in (1.0, 8.0, 0.25):
        played, rate = soundfile.read(io.BytesIO(wav_bytes(samples, RATE, speed=speed)))
        assert rate == RATE * speed and len(played) == RATE  # 20 Hz heard at 20 x speed
        assert np.max(np.abs(played)) == pytest.approx(1.0, abs=1e-3)  # peak-normalised


def test_an_unreadable_recording_is_said_and_the_review_goes_on(tmp_path):
    folder = detections(tmp_path / "out")
    events = pd.read_csv(folder / "events.csv")
    events.loc[1, "file"] = str(tmp_path / "missing.wav")
    events.to_csv(folder / "events.csv", index=False)
    box = review_widget(Review(folder))
    header, image, _, controls, _, message = parts(box)
    assert "missing.wav" in message.value and image.value == b""
    controls["false"].click()  # the person can still decide (a file gone is a false alarm)
    assert saved(folder) == ["", "false", ""] and message.value == ""


@pytest.mark.parametrize("high_hz, top", [(100.0, 500.0), (300.0, 1200.0), (1500.0, 4000.0)])
def test_the_spectrogram_reaches_four_times_the_band_top_so_low_calls_show(high_hz, top):
    from whalelab.plots.review import event_figure
    event = pd.Series({"file": "f.wav", "begin_s": 1.0, "end_s": 2.0, "low_hz": high_hz / 4,
                       "high_hz": high_hz, "label": "blue", "score": 0.8})
    samples = np.random.default_rng(0).normal(size=3 * RATE)
    ax = event_figure(event, samples, sample_rate=RATE, start_s=0.0).axes[0]
    assert ax.get_ylim()[1] == pytest.approx(top, rel=0.02)  # at most the Nyquist frequency
    image = ax.get_images()[0].get_array()  # (freq, time)
    assert image.shape[0] >= 16  # at least 16 frequency bins below the top shown
