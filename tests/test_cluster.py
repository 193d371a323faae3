"""Detection on a local Dask cluster: the serial path's tables file by file, a corrupt file
listed while the rest are done, and a rerun after the client is killed midway that loses
and repeats nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from whalelab.config import RunConfig
from whalelab.detection import detect_files, detection_settings
from whalelab.cluster import connect
from whalelab.errors import ConfigError

RATE = 8000
SETTINGS = ("--threshold", "0.2", "--batch-size", "4", "--on-error", "skip")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, tone_tree, train_tiny):
    """A tiny run, and 20 short recordings, a long one and a corrupt one to detect in."""
    root = tmp_path_factory.mktemp("archive")
    train_tiny(tone_tree(root / "tree", seed=5, rate=RATE), root / "run", seed=0, epochs=3,
               batch_size=2, keep="last")
    recordings, rng = root / "recordings", np.random.default_rng(0)
    recordings.mkdir()
    for number, seconds in enumerate([3] * 20 + [60]):
        time_s = np.arange(seconds * RATE) / RATE
        audio = 0.02 * rng.standard_normal(len(time_s))
        for start in range(1, seconds - 1, 3):  # a tone a second long every three
            frequency = (500.0, 2000.0)[(number + start) % 2]
            span = slice(start * RATE, (start + 1) * RATE)
            audio[span] += 0.3 * np.sin(2 * np.pi * frequency * time_s[span])
        name = f"long_{number}.wav" if seconds > 3 else f"short_{number:02d}.wav"
        soundfile.write(recordings / name, audio.astype(np.float32), RATE)
    (recordings / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return root / "run", recordings


def detect(run: Path, recordings: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "whalelab.cli", "detect", str(run),
                             str(recordings), "--out", str(out), *SETTINGS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def done(process: subprocess.Popen) -> str:
    said = process.communicate(timeout=300)[0].decode(errors="replace")
    assert process.returncode == 0, said[-3000:]
    return said


def tables(out: Path) -> dict[str, str]:
    return {str(path.relative_to(out)): path.read_text()
            for path in sorted(out.rglob("*.selections.txt"))}


def test_a_cluster_is_named_as_local_or_a_scheduler_s_address():
    for wrong in ("local:none", "local:0", "somewhere"):
        with pytest.raises(ConfigError, match="--cluster"):
            connect(wrong)


@pytest.mark.slow
def test_a_local_cluster_detects_as_one_process_and_a_killed_client_resumes(archive, tmp_path):
    run, recordings = archive
    serial = tmp_path / "serial"
    with pytest.warns(UserWarning, match="corrupt.wav"):
        detect_files(run, [recordings], serial, settings=detection_settings(
            RunConfig.load(run / "config.json"), threshold=0.2), batch_size=4,
            on_error="skip", progress=False)
    expected = tables(serial)
    assert len(expected) == 21 and sum(text.count("\n") - 1 for text in expected.values()) > 21

    on_cluster = tmp_path / "cluster"
    process = detect(run, recordings, on_cluster, "--cluster", "local:2")
    while not tables(on_cluster) and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the client and its local workers, midway
    process.communicate()
    left_behind = tables(on_cluster)
    assert 0 < len(left_behind) < 21, "the detection finished before it could be killed"
    said = done(detect(run, recordings, on_cluster, "--cluster", "local:2"))
    assert tables(on_cluster) == expected  # file by file: nothing lost, nothing twice
    assert (on_cluster / "events.csv").read_text() == (serial / "events.csv").read_text()
    assert "corrupt.wav: unreadable or corrupt audio" in said and "1 of 22 file(s)" in said


@pytest.mark.slow
def test_a_local_cluster_embeds_each_file_as_one_process(archive, tmp_path, capsys):
    from whalelab.embeddings import EmbeddingCache, embed_files, load_embedder

    run, recordings = archive
    shorts = sorted(recordings.glob("short_0*.wav"))[:6]
    stores = {}
    for name, cluster in (("here", None), ("cluster", "local:2")):
        with pytest.warns(UserWarning, match="corrupt.wav"):
            stores[name] = embed_files(load_embedder(run, device="cpu"),
                                       [*shorts, recordings / "corrupt.wav"], tmp_path / name,
                                       cache=EmbeddingCache(tmp_path / f"cache-{name}"),
                                       on_error="skip", cluster=cluster, progress=False)
    for path in shorts:
        here, there = (store.windows() for store in stores.values())
        mine, theirs = (table[table["file"] == str(path)] for table in (here, there))
        assert len(mine) == len(theirs) > 0
        assert np.array_equal(mine[["start_s", "end_s"]].to_numpy(),
                              theirs[["start_s", "end_s"]].to_numpy())
        assert np.allclose(stores["here"].vectors()[mine["id"].to_numpy()],
                           stores["cluster"].vectors()[theirs["id"].to_numpy()], atol=1e-6)
    assert "embedding on 2 Dask worker(s)" in capsys.readouterr().out
    assert multiprocessing.active_children() == []  # the local cluster's workers stopped


def test_workers_load_the_model_on_the_device_asked_for_where_the_client_has_none(
        archive, tmp_path, monkeypatch, no_cuda):
    """A login node without a GPU hands GPU workers the run: it loads the model on its CPU
    only to check it, and the workers are told the device asked for."""
    import whalelab.detection.cluster as on_cluster

    run, recordings = archive
    asked = {}
    monkeypatch.setattr(on_cluster, "detect_on_cluster",
                        lambda cluster, trained, *args, **kwargs: asked.update(
                            kwargs, cluster=cluster, here=trained.device.type))
    detect_files(run, [recordings / "short_00.wav"], tmp_path / "out", cluster="tcp://x:1",
                 device="cuda", progress=False)
    assert (asked["cluster"], asked["device"], asked["here"]) == ("tcp://x:1", "cuda", "cpu")
    with pytest.raises(ConfigError, match="onnx"):
        detect_files(run, [recordings / "short_00.wav"], tmp_path / "out2",
                     cluster="tcp://x:1", device="cuda", engine="onnx", progress=False)


def test_an_embedder_made_on_the_cpu_tells_its_workers_the_device_asked_for(archive, no_cuda):
    from whalelab.embeddings import load_embedder

    run, _ = archive
    embedder = load_embedder(run, device="cpu", workers_device="cuda")
    assert embedder.recipe[3] == "cuda"
    assert load_embedder(run, device="cpu").recipe[3] == "cpu"
