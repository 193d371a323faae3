"""Recordings read where they live: fsspec URLs read in ranges (fsspec's in-memory file
system, and a local HTTP server on 127.0.0.1 that counts the bytes it sends), giving what
the same file on disk gives."""

from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
import soundfile

from whalelab.audio import RemoteFile, audio_info, load_audio, stream_audio
from whalelab.audio.remote import READ_AHEAD_BYTES, audio_source, is_url
from whalelab.checkpoint import load_model
from whalelab.detection import detect_files, detect_recording, detection_settings
from whalelab.errors import AudioError

RATE = 8000


def wav_bytes(samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def tones(seconds: float, *, every_s: float, seed: int) -> np.ndarray:
    """Faint noise with a one-second 500 Hz or 2 kHz tone every ``every_s`` seconds."""
    rng = np.random.default_rng(seed)
    audio = (0.02 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    t = np.arange(RATE) / RATE
    for number, start in enumerate(np.arange(every_s / 2, seconds - 1, every_s)):
        frequency = (500.0, 2000.0)[number % 2]
        begin = int(start * RATE)
        audio[begin:begin + RATE] += (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return audio


@pytest.fixture
def memory():
    """fsspec's in-memory file system, emptied after the test."""
    file_system = fsspec.filesystem("memory")
    yield file_system
    file_system.rm("/", recursive=True)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tone_tree, train_tiny):
    root = tmp_path_factory.mktemp("remote")
    train_tiny(tone_tree(root / "tree", seed=5, rate=RATE), root / "run", seed=0, epochs=3,
               batch_size=2, keep="last")
    return root / "run"


def test_urls_and_paths_are_told_apart():
    assert is_url("s3://bucket/a.wav") and is_url("https://host/a.wav")
    assert not is_url("day/a.wav") and not is_url(Path("s3:/x"))
    assert audio_source("file:///tmp/a.wav") == Path("/tmp/a.wav")
    assert audio_source("gs://b/x/y.flac").stem == "y"


def test_a_url_reads_as_the_same_file_on_disk(memory, tmp_path):
    samples = np.random.default_rng(1).uniform(-0.5, 0.5, (5 * 44100, 2)).astype(np.float32)
    data = wav_bytes(samples, 44100, "PCM_24")
    memory.pipe("/archive/a.wav", data)
    (tmp_path / "a.wav").write_bytes(data)
    url, local = "memory://archive/a.wav", tmp_path / "a.wav"
    info = audio_info(url)
    assert (info.sample_rate, info.channels, info.frames, str(info.path)) == (44100, 2, 5 * 44100,
                                                                             url)
    np.testing.assert_array_equal(load_audio(url, RATE, offset=1.5, duration=2.0, channel=1),
                                  load_audio(local, RATE, offset=1.5, duration=2.0, channel=1))
    np.testing.assert_array_equal(np.concatenate(list(stream_audio(url, RATE, block_seconds=0.7))),
                                  np.concatenate(list(stream_audio(local, RATE,
                                                                   block_seconds=0.7))))


def test_bad_remote_files_are_one_line_naming_the_url(memory):
    good = wav_bytes(np.zeros(RATE, dtype=np.float32))
    memory.pipe("/bad/junk.wav", b"RIFF\x00\x00\x00\x00WAVEjunk")
    memory.pipe("/bad/truncated.wav", good[:len(good) // 2])
    memory.pipe("/bad/nan.wav", wav_bytes(np.full(RATE, np.nan, dtype=np.float32),
                                          subtype="FLOAT"))
    for name, problem in (("junk", "unreadable or corrupt"), ("truncated", "truncated file"),
                          ("nan", "NaN"), ("missing", "no such audio file")):
        with pytest.raises(AudioError, match=f"^memory://bad/{name}.wav: .*{problem}"):
            load_audio(f"memory://bad/{name}.wav", RATE)
    with pytest.raises(AudioError, match="^nowhere://x.wav: not a URL"):
        audio_info("nowhere://x.wav")


def test_a_bucket_prefix_is_detected_as_a_local_folder(memory, tmp_path, tiny_run):
    """A folder URL: the same tables, at the same places, as the same folder on disk."""
    local = tmp_path / "day"
    for number, name in enumerate(["a.wav", "deep/b.wav", "c.txt"]):
        data = wav_bytes(tones(12, every_s=4, seed=number)) if name.endswith(".wav") else b"x"
        memory.pipe(f"/bucket/day/{name}", data)
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    settings = detection_settings(load_model(tiny_run).config, threshold=0.2)
    remote = detect_files(tiny_run, ["memory://bucket/day"], tmp_path / "from_url",
                          settings=settings, progress=False)
    on_disk = detect_files(tiny_run, [local], tmp_path / "from_disk", settings=settings,
                           progress=False)
    assert len(on_disk) > 0
    tables = {path.relative_to(tmp_path / "from_url").as_posix(): path.read_text()
              for path in (tmp_path / "from_url").rglob("*.selections.txt")}
    assert sorted(tables) == ["day/a.selections.txt", "day/deep/b.selections.txt"]
    for table, text in tables.items():
        assert text == (tmp_path / "from_disk" / table).read_text()
    pd.testing.assert_frame_equal(remote.drop(columns="file"), on_disk.drop(columns="file"))
    assert set(remote.file) == {"memory://bucket/day/a.wav", "memory://bucket/day/deep/b.wav"}
    from whalelab.predict import predict_files
    scored = [predict_files(tiny_run, [audio], progress=False) for audio in
              ("memory://bucket/day/deep/b.wav", local / "deep/b.wav")]
    pd.testing.assert_frame_equal(*(table.drop(columns="file") for table in scored))
    # a rerun finds every table written: nothing is read again
    again = detect_files(tiny_run, ["memory://bucket/day"], tmp_path / "from_url",
                         settings=settings, progress=False)
    pd.testing.assert_frame_equal(again, remote)


def test_a_bucket_prefix_is_embedded_as_a_local_folder_and_found_in_the_cache(memory, tmp_path,
                                                                              tiny_run):
    from whalelab.embeddings import EmbeddingCache, embed_files, load_embedder

    data = wav_bytes(tones(6, every_s=3, seed=4))
    memory.pipe("/bucket/clips/a.wav", data)
    (tmp_path / "a.wav").write_bytes(data)
    embedder, cache = load_embedder(tiny_run, device="cpu"), EmbeddingCache(tmp_path / "cache")
    remote = embed_files(embedder, ["memory://bucket/clips/"], tmp_path / "remote", cache=cache,
                         progress=False)
    local = embed_files(embedder, [tmp_path / "a.wav"], tmp_path / "local", cache=cache,
                        progress=False)
    assert list(remote.windows().file) == ["memory://bucket/clips/a.wav"] * len(local.windows())
    np.testing.assert_allclose(remote.vectors(), local.vectors(), atol=1e-6)
    misses = cache.misses
    embed_files(embedder, ["memory://bucket/clips/a.wav"], tmp_path / "again", cache=cache,
                progress=False)
    assert (cache.misses, cache.hits) == (misses, 1)  # found by address and size


class CountingServer(ThreadingHTTPServer):
    """Serves one file over HTTP/1.1 with range requests, adding up the body bytes sent."""

    def __init__(self, path: Path) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.path, self.size, self.sent, self.lock = path, path.stat().st_size, 0, threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{self.path.name}"


class RangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _found(self) -> bool:
        if self.path.lstrip("/") != self.server.path.name:
            self.send_error(404)
            return False
        return True

    def do_HEAD(self) -> None:
        if self._found():
            self.send_response(200)
            self.send_header("Content-Length", str(self.server.size))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "audio/wav")
            self.end_headers()

    def do_GET(self) -> None:
        if not self._found():
            return
        size = self.server.size
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        start, end = (int(asked[1]), min(size - 1, int(asked[2] or size - 1))) if asked \
            else (0, size - 1)
        self.send_response(206 if asked else 200)
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Content-Type", "audio/wav")
        self.end_headers()
        with open(self.server.path, "rb") as handle:
            handle.seek(start)
            body = handle.read(end - start + 1)
        self.wfile.write(body)
        with self.server.lock:
            self.server.sent += len(body)


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory):
    """A 2-hour 16-bit WAV at 8 kHz (115 MB) with a tone every 5 minutes, served over HTTP."""
    path = tmp_path_factory.mktemp("http") / "two_hours.wav"
    soundfile.write(path, tones(2 * 3600, every_s=300, seed=2), RATE, subtype="PCM_16")
    server = CountingServer(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_excerpt_over_http_fetches_its_own_bytes_not_the_file(two_hours):
    server, seconds = two_hours, 10.0
    before = server.sent
    excerpt = load_audio(server.url, RATE, offset=3600.0, duration=seconds)
    np.testing.assert_array_equal(excerpt, load_audio(server.path, RATE, offset=3600.0,
                                                      duration=seconds))
    needed = int(seconds * RATE) * 2  # 16-bit mono
    # the header's first read and the excerpt's each fetch READ_AHEAD_BYTES more
    assert needed <= server.sent - before <= needed + 2 * READ_AHEAD_BYTES + 4096
    assert server.sent - before < server.size / 200


@pytest.mark.slow
def test_two_hours_over_http_give_the_local_file_s_events_reading_each_byte_once(two_hours,
                                                                                   tiny_run):
    server = two_hours
    trained = load_model(tiny_run)
    settings = detection_settings(trained.config, threshold=0.2, hop_s=1.0)
    before = server.sent
    remote = detect_recording(trained, server.url, settings=settings, batch_size=64,
                              progress=False)
    sent = server.sent - before
    local = detect_recording(trained, server.path, settings=settings, batch_size=64,
                             progress=False)
    assert len(local.events) >= 12  # most of the 24 tones are found
    pd.testing.assert_frame_equal(remote.events, local.events)
    np.testing.assert_array_equal(remote.scores, local.scores)
    # each byte of the file once, bar the header read at each of the three opens
    # (the duration for the progress bar, the file's rule, the stream)
    assert sent <= server.size + 3 * READ_AHEAD_BYTES + 4096
    assert isinstance(audio_source(server.url), RemoteFile)
