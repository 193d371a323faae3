"""The call map: the projection keeps separate groups apart and repeats with its seed, bad
input is refused in one line, the figure has a dot per window and a legend entry per label,
and a click on a dot plays that window at the speed factor."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import soundfile
from matplotlib.backend_bases import MouseEvent
from sklearn.metrics import adjusted_rand_score, silhouette_score

from whalelab.embeddings import EmbeddingStore, FileEmbeddings
from whalelab.errors import ConfigError, DataError
from whalelab.plots.callmap import (INSTALL_IPYMPL, UNLABELLED, call_map, call_map_figure,
                                    clusters, project, window_audio)
from whalelab.plots.review import wav_bytes

RATE = 8000


def blobs(per_blob=25, dim=64, seed=0):
    """Three Gaussian blobs in ``dim`` dimensions, centres 8 standard deviations apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim))
    centres *= 8 * np.sqrt(dim) / np.linalg.norm(centres, axis=1, keepdims=True) / np.sqrt(2)
    truth = np.repeat(np.arange(3), per_blob)
    return centres[truth] + rng.normal(size=(len(truth), dim)), truth


@pytest.fixture(autouse=True)
def no_umap(monkeypatch):
    """umap-learn is not a dependency: test what runs without it, even where it is."""
    monkeypatch.setitem(sys.modules, "umap", None)


def neighbour_agreement(points, truth):
    """The share of points whose nearest other point is of their own group."""
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return float(np.mean(truth[distances.argmin(axis=1)] == truth))


def test_tsne_keeps_three_separate_blobs_apart_on_the_map():
    vectors, truth = blobs()
    points, method = project(vectors)
    assert method == "tsne" and points.shape == (75, 2) and np.isfinite(points).all()
    assert neighbour_agreement(points, truth) > 0.9
    assert silhouette_score(points, truth) > 0.5
    shuffled = np.random.default_rng(1).permutation(truth)  # the measure can fail
    assert silhouette_score(points, shuffled) < 0.1


def test_the_same_seed_gives_the_same_map():
    vectors, _ = blobs(per_blob=10)
    first, _ = project(vectors, method="tsne", seed=3)
    again, _ = project(vectors, method="tsne", seed=3)
    np.testing.assert_array_equal(first, again)


def test_few_points_get_a_perplexity_below_a_third_of_them():
    points, method = project(np.eye(4, 8), method="tsne")  # perplexity 30 would be refused
    assert points.shape == (4, 2) and method == "tsne"


@pytest.mark.parametrize("vectors, method, error, words", [
    (np.zeros((2, 8)), "tsne", DataError, "at least 3"),
    (np.where(np.eye(5, 8) > 0, np.nan, 1.0), "auto", DataError, "5 of 5 vectors hold NaN"),
    (np.zeros(8), "tsne", DataError, "expected (windows, dim)"),
    (np.eye(5, 8), "pca", ConfigError, "method 'pca'"),
    (np.eye(5, 8), "umap", ConfigError, "pip install umap-learn"),
])
def test_bad_input_is_refused_in_one_line(vectors, method, error, words):
    with pytest.raises(error) as raised:
        project(vectors, method=method)
    assert words in str(raised.value) and "\n" not in str(raised.value)


def test_kmeans_clusters_find_the_blobs_largest_first():
    vectors, truth = blobs(per_blob=12)
    kept = np.r_[0:4, 12:24, 24:32]  # blobs of 4, 12 and 8
    found = clusters(vectors[kept], k=3)
    assert adjusted_rand_score(truth[kept], found) == 1.0
    assert [found[0], found[4], found[-1]] == ["cluster 3", "cluster 1", "cluster 2"]
    with pytest.raises(ConfigError, match="k 0"):
        clusters(vectors, k=0)


def test_the_figure_has_a_dot_per_window_and_a_legend_entry_per_label():
    points = np.random.default_rng(0).normal(size=(9, 2))
    labels = ["J_pod", "L_pod", "J_pod", None, "", "L_pod", "J_pod", np.nan, "J_pod"]
    fig = call_map_figure(points, labels, method="tsne")
    ax = fig.axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == \
        ["J_pod (4)", "L_pod (2)", f"{UNLABELLED} (3)"]
    drawn = np.concatenate([dots.get_offsets() for dots in ax.collections])
    positions = np.concatenate([dots.point_positions for dots in ax.collections])
    assert len(drawn) == 9 and sorted(positions) == list(range(9))
    np.testing.assert_array_equal(drawn, points[positions])
    assert ax.get_xlabel() == "t-SNE 1"
    with pytest.raises(DataError, match="8 labels for 9 points"):
        call_map_figure(points, labels[:8])


def tones(count):
    """One second of a different tone for each point: 200, 300, ... Hz."""
    time = np.arange(RATE) / RATE
    return [0.5 * np.sin(2 * np.pi * (200 + 100 * i) * time).astype(np.float32)
            for i in range(count)]


def click(box, position):
    """A left click on the pixel where point ``position`` is drawn."""
    fig = box.figure
    dots = next(dots for dots in fig.axes[0].collections
                if position in getattr(dots, "point_positions", []))
    x, y = dots.get_offset_transform().transform(
        dots.get_offsets()[list(dots.point_positions).index(position)])
    event = MouseEvent("button_press_event", fig.canvas, x + 2, y - 1, button=1)
    fig.canvas.callbacks.process(event.name, event)


def played(player):
    """The rate and samples of the WAV the player holds."""
    assert bytes(player.value[:4]) == b"RIFF"
    samples, rate = soundfile.read(io.BytesIO(bytes(player.value)))
    return rate, samples


def test_a_click_on_a_point_plays_its_window_at_the_speed_factor():
    pytest.importorskip("ipywidgets")
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 5.0]])
    sounds, read = tones(5), []
    box = call_map(points, ["J_pod", "L_pod", "J_pod", "", "L_pod"],
                   lambda i: read.append(i) or sounds[i], sample_rate=RATE, speed=2.0,
                   names=[f"S{i:02d}.wav" for i in range(5)], interactive=False)
    header, image, chooser, player, _ = box.children
    assert box.position is None and read == [] and player.value == b""
    assert box._repr_png_() == box.still and box.still[1:4] == b"PNG"
    assert image.value == box.still

    click(box, 3)
    assert box.position == 3 and chooser.value == 3 and read == [3]
    rate, samples = played(player)
    assert rate == 2 * RATE and len(samples) == RATE
    assert bytes(player.value) == wav_bytes(sounds[3], RATE, speed=2.0)
    spectrum = np.abs(np.fft.rfft(samples))
    assert spectrum.argmax() == 500  # point 3's 500 Hz tone (heard at 1 kHz)
    assert "S03.wav" in header.value and UNLABELLED in header.value and "x2" in header.value
    assert image.value != box.still  # the point played is ringed

    click(box, 3)  # the same point again plays it again
    assert read == [3, 3]
    chooser.value = 1  # the list plays too
    assert box.position == 1 and played(player)[0] == 2 * RATE and read == [3, 3, 1]


def test_a_click_on_empty_space_plays_nothing():
    pytest.importorskip("ipywidgets")
    box = call_map([[0, 0], [1, 0], [0, 1]], None, tones(3), sample_rate=RATE,
                   interactive=False)
    fig = box.figure
    x, y = fig.axes[0].transData.transform([0.5, 0.5])
    fig.canvas.callbacks.process("button_press_event",
                                 MouseEvent("button_press_event", fig.canvas, x, y, button=1))
    assert box.position is None and box.children[3].value == b""


def test_without_ipympl_the_map_is_a_picture_and_says_what_to_install(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setitem(sys.modules, "ipympl", None)
    monkeypatch.setitem(sys.modules, "ipympl.backend_nbagg", None)
    box = call_map([[0, 0], [1, 0], [0, 1]], ["a", "b", "a"], tones(3), sample_rate=RATE)
    assert type(box.children[1]).__name__ == "Image"
    assert "pip install ipympl" in box.children[4].value == INSTALL_IPYMPL
    box.play(2)
    assert played(box.children[3])[0] == RATE


def test_with_ipympl_a_click_in_the_browser_plays_the_point():
    pytest.importorskip("ipympl")
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    box = call_map(points, ["a", "b", ""], tones(3), sample_rate=RATE)
    canvas, fig = box.children[1], box.figure
    assert canvas is fig.canvas and box.children[4].value == ""
    x, y = fig.axes[0].transData.transform(points[2])
    canvas._handle_message(canvas, {  # the message ipympl's frontend sends for a click
        "type": "button_press", "x": x, "y": fig.bbox.height - y, "button": 0, "buttons": 1,
        "modifiers": [], "guiEvent": {}}, [])
    assert box.position == 2 and played(box.children[3])[0] == RATE


def test_a_window_that_cannot_be_read_is_said_not_raised(tmp_path):
    pytest.importorskip("ipywidgets")
    soundfile.write(tmp_path / "a.wav", np.zeros(RATE, np.float32), RATE)
    store = EmbeddingStore.create(tmp_path / "store", meta={
        "settings": {"name": "test"}, "dim": 2, "classes": [], "licence": ""})
    for name in ("a.wav", "gone.wav"):
        path = tmp_path / name
        store.add({"file": name, "resolved": str(path), "size": 1, "mtime_ns": 1},
                  FileEmbeddings(np.array([0.25]), np.array([0.75]),
                                 np.zeros((1, 2), np.float32), np.zeros((1, 0), np.float32)),
                  duration_s=1.0)
    store.finish()
    read = window_audio(store, sample_rate=4000)
    assert read(0).shape == (2000,)  # a.wav from 0.25 to 0.75 s at 4 kHz
    box = call_map([[0, 0], [1, 0], [0, 1]], None,
                   lambda i: read(i % 2), sample_rate=4000, interactive=False)
    box.play(1)
    assert "gone.wav" in box.children[4].value and box.children[3].value == b""
    box.play(2)
    assert played(box.children[3])[0] == 4000 and box.children[4].value == ""
