"""Streamed detection: stitching, short and multi-channel files, bounded reads, resume, CLI;
the one detection path shared by ``whalelab detect``, evaluation and notebook 05."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import whalelab
from whalelab import audio, checkpoint, detection
from whalelab.checkpoint import TrainedModel, load_model, save_checkpoint, write_classes
from whalelab.cli import main
from whalelab.config import DetectConfig, EventMatching, RunConfig
from whalelab.detection import evaluation, output, streaming
from whalelab.errors import AudioError, WhaleLabError
from whalelab.metrics.events import event_metrics
from whalelab.model import build_model
from whalelab.raven import read_raven, write_raven

SR = 8000
CLASSES = ["low", "high"]
CONFIG = RunConfig.from_profile("smoke", data="", classes=CLASSES, backbone="tiny")
BANDS = {"low": (10.0, 100.0), "high": (500.0, 2000.0)}


def use_model(monkeypatch, model: nn.Module) -> None:
    """Make detection, its evaluation and the CLI load ``model`` whatever the model source."""
    for module in (output, evaluation, checkpoint):
        monkeypatch.setattr(module, "load_model", stand_in(model))


def stand_in(model: nn.Module):
    """A replacement for :func:`whalelab.checkpoint.load_model` that returns ``model``."""
    return lambda source, **kwargs: trained_as(model, source)


def trained_as(model: nn.Module, source: str | Path = "stand-in") -> TrainedModel:
    """``model`` with the test run's configuration and bands."""
    return TrainedModel(model=model, config=CONFIG, bands=BANDS,
                        thresholds=np.full(len(CLASSES), 0.5), source=Path(source))


def settings(**overrides) -> DetectConfig:
    """The test run's detection settings with ``overrides``."""
    return detection.detection_settings(CONFIG, **overrides)


STEP = CONFIG.features.hop_length  # 128 samples per frame; a clip is 40000 samples


class PointModel(nn.Module):
    """Stand-in whose frame ``f`` of class ``c`` is ``(c + 1) * x[f * hop]`` (0 past the window).

    Its output at a frame depends only on the sample at that frame's position, so a
    correct stitching of overlapping windows reproduces :func:`single_pass` exactly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.arange(1.0, len(CLASSES) + 1))

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        frames = 1 + waveform.shape[1] // STEP
        points = nn.functional.pad(waveform, (0, STEP))[:, ::STEP][:, :frames]  # (batch, frames)
        return {"framewise_output": points[..., None] * self.scale,  # (batch, frames, classes)
                "clipwise_output": torch.ones(len(waveform), len(CLASSES))}


class PositionModel(PointModel):
    """Stand-in whose output is the frame's position inside its window."""

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        frames = 1 + waveform.shape[1] // STEP
        position = torch.arange(frames, dtype=torch.float32)[None, :, None]
        return {"framewise_output": position.expand(len(waveform), frames, len(CLASSES)),
                "clipwise_output": torch.ones(len(waveform), len(CLASSES))}


def framewise(model: nn.Module, path: Path, *, hop_s: float | None = None, batch_size: int = 32,
              channel: int | None = None) -> np.ndarray:
    """``(frames, classes)`` ``framewise_output`` of ``model`` stitched over ``path``'s windows."""
    return streaming.stitch(lambda waveform: model(waveform)["framewise_output"], CONFIG, path,
                            hop=streaming.hop_frames(CONFIG, hop_s), width=len(CLASSES),
                            batch_size=batch_size, channel=channel,
                            device=torch.device("cpu")).traces()


def single_pass(samples: np.ndarray) -> np.ndarray:
    """What PointModel gives on the whole signal at once: ``(frames, classes)``.

    A frame at the signal's very end reads past it: zeros after a longer signal (the
    tail window reaches less than a frame past the end), the signal's start again after
    one shorter than a clip (tiled into its window).
    """
    frames = 1 + len(samples) // STEP
    tiled = len(samples) < CONFIG.features.clip_samples
    points = np.pad(samples, (0, STEP), mode="wrap" if tiled else "constant")[::STEP][:frames]
    return points[:, None] * np.arange(1.0, len(CLASSES) + 1)


def noise(samples: int, seed: int = 0, channels: int | None = None) -> np.ndarray:
    shape = (samples,) if channels is None else (samples, channels)
    return (np.random.default_rng(seed).uniform(-0.5, 0.5, shape)).astype(np.float32)


def write(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    audio.write_audio(path, samples, sr, subtype="FLOAT")
    return path


@pytest.mark.parametrize("samples", [16000, 40000, 40001, 40000 + 3 * 19968, 123456, 128 * 1000])
def test_stitching_overlapping_windows_reproduces_a_single_pass(tmp_path, samples):
    signal = noise(samples)
    path = write(tmp_path / "x.wav", signal)
    stitched = framewise(PointModel(), path, batch_size=3)
    assert stitched.dtype == np.float32 and stitched.shape == (1 + samples // STEP, 2)
    np.testing.assert_allclose(stitched, single_pass(signal), atol=1e-6)


def test_overlapping_estimates_are_averaged(tmp_path):
    path = write(tmp_path / "x.wav", noise(60 * SR))
    stitched = framewise(PositionModel(), path)
    hop = streaming.hop_frames(CONFIG)
    assert hop == 156  # 2.5 s at 62.5 frames/s, rounded to a whole frame
    assert stitched[100, 0] == 100  # only the first window sees frame 100
    assert stitched[200, 0] == (200 + (200 - hop)) / 2  # the first two windows see frame 200
    # each window gives its first 2 hops (312 of 313 frames), so frame 312 is averaged over
    # windows 1 and 2 only, like every other frame, and window edges leave no seam
    assert stitched[2 * hop, 0] == (hop + 0) / 2
    inner = np.arange(hop, len(stitched) - CONFIG.features.n_frames)  # before the tail window
    assert (stitched[inner, 0] == hop / 2 + inner % hop).all()
    # a shorter hop: frame 200 is seen by windows starting at 0, 62, 124 and 186 frames
    dense = framewise(PositionModel(), path, hop_s=1.0)
    assert dense[200, 0] == pytest.approx(np.mean([200, 138, 76, 14]))


def test_batch_size_and_hop_do_not_change_a_pointwise_result(tmp_path):
    signal = noise(50_000, seed=3)
    path = write(tmp_path / "x.wav", signal)
    for hop_s, batch_size in [(5.0, 1), (0.7, 7), (None, 64)]:
        result = framewise(PointModel(), path, hop_s=hop_s, batch_size=batch_size)
        np.testing.assert_allclose(result, single_pass(signal), atol=1e-6)
    with pytest.raises(WhaleLabError, match="hop_s"):
        framewise(PointModel(), path, hop_s=6.0)


class HalfSureModel(PointModel):
    """PointModel whose clipwise output is 0.5 for every window and class."""

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        return {**super().forward(waveform),
                "clipwise_output": torch.full((len(waveform), len(CLASSES)), 0.5)}


def test_detection_scores_are_framewise_times_clipwise_with_band_contrast(tmp_path):
    signal = noise(50_000, seed=4)
    path = write(tmp_path / "x.wav", signal)
    bands = {"low": (10.0, 100.0), "high": (500.0, 2000.0)}
    found = detection.detect_recording(dataclasses.replace(trained_as(HalfSureModel()),
                                                           bands=bands), path)
    scores, contrast = found.scores, found.contrast
    np.testing.assert_allclose(scores, 0.5 * single_pass(signal), atol=1e-6)
    assert contrast.shape == scores.shape
    # white noise: every band sits near its floor (dB above the 20th percentile)
    assert np.abs(contrast).max() < 10 and np.isfinite(contrast).all()


def test_without_the_gate_events_follow_the_bare_framewise_output(tmp_path, stand_in_run,
                                                                   monkeypatch):
    run, _ = stand_in_run
    use_model(monkeypatch, HalfSureModel())
    path = write(tmp_path / "calls.wav", calls(10, [2.0]))  # 0.9 for 1 s: "low" 0.9, "high" 1.8
    gated = detection.detect_files(run, [path], tmp_path / "gated", settings=settings(trim=False))
    bare = detection.detect_files(run, [path], tmp_path / "bare",
                                  settings=settings(trim=False, gate=False))
    # halved by the clipwise 0.5: "low" (0.45) no longer reaches the 0.5 threshold
    assert gated.label.tolist() == ["high"] and gated.score.tolist() == pytest.approx([0.9])
    assert sorted(bare.score) == pytest.approx([0.9, 1.8])


def test_files_at_another_sample_rate_are_resampled_as_a_stream(tmp_path):
    path = write(tmp_path / "x.wav", noise(22050 * 12), sr=22050)
    reference = single_pass(audio.load_audio(path, SR))
    stitched = framewise(PointModel(), path)
    assert stitched.shape == reference.shape
    np.testing.assert_allclose(stitched, reference, atol=1e-3)


def test_stereo_channel_selection(tmp_path):
    stereo = noise(30_000, channels=2)
    path = write(tmp_path / "stereo.wav", stereo)
    for channel, expected in [(0, stereo[:, 0]), (1, stereo[:, 1]), (None, stereo.mean(axis=1))]:
        result = framewise(PointModel(), path, channel=channel)
        np.testing.assert_allclose(result, single_pass(expected), atol=1e-6)
    with pytest.raises(AudioError, match="channel 2"):
        framewise(PointModel(), path, channel=2)


def test_streaming_reads_bounded_blocks(tmp_path, block_recorder):
    signal = noise(40 * SR, seed=4)
    path = write(tmp_path / "x.wav", signal)
    blocks = block_recorder(streaming, 3.0)
    result = framewise(PointModel(), path)
    assert len(blocks) >= 40 / 3 and max(blocks) <= 3 * SR
    assert sum(blocks) == len(signal)
    np.testing.assert_allclose(result, single_pass(signal), atol=1e-6)


@pytest.fixture
def stand_in_run(tmp_path, monkeypatch):
    """A run folder whose model is PointModel; records which files were detected."""
    run = tmp_path / "run"
    CONFIG.save(run / "config.json")
    write_classes(run, CLASSES, BANDS)
    save_checkpoint(run / "best.pt", {"model": {}})  # what detection.json checksums
    use_model(monkeypatch, PointModel())
    seen: list[str] = []

    class SeenRecording(streaming.StitchedRecording):
        def __init__(self, path, *args, **kwargs):
            seen.append(Path(path).name)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(streaming, "StitchedRecording", SeenRecording)
    return run, seen


#: added to every odd sample of :func:`calls`: no run of one value, so no gap, while the
#: even samples PointModel reads (frame positions, multiples of STEP) stay as they were
DITHER = 1e-3


def calls(seconds: float, at: list[float]) -> np.ndarray:
    """Quiet with 1 s of a 0.9 level starting at each time of ``at``, dithered on odd samples."""
    signal = np.zeros(int(seconds * SR), dtype=np.float32)
    for begin in at:
        signal[int(begin * SR):int((begin + 1) * SR)] = 0.9
    signal[1::2] += DITHER
    return signal


def test_detect_files_writes_raven_tables_and_resumes(tmp_path, stand_in_run):
    run, seen = stand_in_run
    folder = tmp_path / "audio"
    write(folder / "a.wav", calls(20, [3.0]))
    write(folder / "deep" / "b.wav", calls(8, [1.0, 5.0]))
    out = tmp_path / "out"
    events = detection.detect_files(run, [folder], out, progress=False)
    assert sorted(seen) == ["a.wav", "b.wav"]
    table_a = read_raven(out / "audio" / "a.selections.txt")  # under the folder's name
    # class "low" scores 0.9, "high" 1.8 on the calls; both cross 0.5 over exactly 1 s
    assert sorted(table_a.label) == sorted(CLASSES)
    assert table_a.begin_s.tolist() == pytest.approx([3.0, 3.0], abs=1 / 62.5)
    assert table_a.end_s.tolist() == pytest.approx([4.0, 4.0], abs=2 / 62.5)
    assert sorted(table_a.score.tolist()) == pytest.approx([0.9, 1.8])
    low = table_a[table_a.label == "low"].iloc[0]
    assert (low.low_hz, low.high_hz) == (10.0, 100.0)
    assert (table_a.begin_file == "a.wav").all()
    assert len(read_raven(out / "audio" / "deep" / "b.selections.txt")) == 4
    combined = pd.read_csv(out / "events.csv")
    assert len(combined) == len(events) == 6
    assert sorted(combined.file.unique()) == sorted([str(folder / "a.wav"),
                                                     str(folder / "deep" / "b.wav")])
    # resume: only the file without a table runs again; the CSV still has every event
    seen.clear()
    (out / "audio" / "a.selections.txt").unlink()
    again = detection.detect_files(run, [folder], out, progress=False)
    assert seen == ["a.wav"] and len(again) == 6


def test_calibrated_floors_drop_a_class_s_events_scored_below_them(tmp_path, stand_in_run,
                                                                   capsys):
    run, _ = stand_in_run
    path = write(tmp_path / "a.wav", calls(12, [3.0, 8.0]))  # "low" scores 0.9, "high" 1.8
    kept = detection.detect_files(run, [path], tmp_path / "floored", progress=False,
                                  settings=settings(min_scores={"low": 0.95, "high": 0.95}))
    assert kept.label.tolist() == ["high", "high"]
    with pytest.raises(WhaleLabError, match=r"min_scores must lie in \[0, 1\]"):
        settings(min_scores={"low": 1.5})
    (run / "calibration.json").write_text(json.dumps({  # as whalelab calibrate writes it
        "source": "reviews", "targets": [0.9, 0.95, 0.99],
        "classes": {"low": {"thresholds": {"0.9": 0.95, "0.95": 0.97, "0.99": 0.99}},
                    "high": {"thresholds": {"0.9": 0.5, "0.95": 0.6, "0.99": 0.7}}}}))
    assert main(["detect", str(run), str(path), "--out", str(tmp_path / "cli"),
                 "--precision", "0.9"]) == 0
    assert "2 events in 1 file" in capsys.readouterr().out
    recorded = json.loads((tmp_path / "cli" / "detection.json").read_text())
    assert recorded["settings"]["min_scores"] == {"low": 0.95, "high": 0.5}
    assert main(["detect", str(run), str(path), "--out", str(tmp_path / "cli2"),
                 "--precision", "0.8"]) == 2
    assert "keeps thresholds for 0.9, 0.95, 0.99" in capsys.readouterr().err


def test_bad_files_raise_naming_them_or_are_skipped(tmp_path, stand_in_run):
    run, seen = stand_in_run
    folder = tmp_path / "audio"
    write(folder / "good.wav", calls(6, [1.0]))
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(AudioError, match="broken.wav"):
        detection.detect_files(run, [folder], tmp_path / "out", progress=False)
    with pytest.warns(UserWarning) as warned:
        events = detection.detect_files(run, [folder], tmp_path / "out", on_error="skip",
                                        progress=False)
    messages = [str(warning.message) for warning in warned]
    assert any("broken.wav" in message for message in messages)
    assert any("1 of 2 file(s)" in message for message in messages)
    assert set(events.file) == {str(folder / "good.wav")}
    assert not (tmp_path / "out" / "broken.selections.txt").exists()
    with pytest.raises(AudioError, match="missing.wav"):
        detection.detect_files(run, [tmp_path / "missing.wav"], tmp_path / "out")


def test_two_inputs_that_would_write_one_table_are_refused(tmp_path, stand_in_run):
    run, _ = stand_in_run
    first = write(tmp_path / "one" / "x.wav", calls(6, []))
    second = write(tmp_path / "two" / "x.wav", calls(6, []))
    with pytest.raises(WhaleLabError, match="x.selections.txt"):
        detection.detect_files(run, [first, second], tmp_path / "out")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A run folder holding a randomly initialised WhaleSED (the smoke profile).

    Its class head is set so that "low" scores sigmoid(5) and "high" sigmoid(-5) on
    every segment whatever the input.
    """
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("run")
    CONFIG.save(run / "config.json")
    write_classes(run, CLASSES, BANDS)
    model = build_model(CONFIG)
    with torch.no_grad():
        model.att_block.cla.weight.zero_()
        model.att_block.cla.bias.copy_(torch.tensor([5.0, -5.0]))
    save_checkpoint(run / "best.pt", {"model": model.state_dict()})
    return run


class EverywhereModel(PointModel):
    """Stand-in sure of every class on every frame of every window."""

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        frames = 1 + waveform.shape[1] // STEP
        return {"framewise_output": torch.ones(len(waveform), frames, len(CLASSES)),
                "clipwise_output": torch.ones(len(waveform), len(CLASSES))}


def test_events_are_trimmed_to_the_call_in_their_band_unless_asked_not_to(tmp_path, stand_in_run,
                                                                          monkeypatch, capsys):
    run, _ = stand_in_run
    use_model(monkeypatch, EverywhereModel())
    signal = 0.01 * noise(8 * SR, seed=5)
    t = np.arange(SR) / SR
    signal[3 * SR:4 * SR] += 0.3 * np.sin(2 * np.pi * 1000 * t)  # "high" band: 500-2000 Hz
    path = write(tmp_path / "rec.wav", signal)
    trimmed = detection.detect_files(run, [path], tmp_path / "trimmed")
    high = trimmed[trimmed.label == "high"]
    assert len(high) == 1
    assert high.begin_s.iloc[0] == pytest.approx(3.0, abs=0.1)
    assert high.end_s.iloc[0] == pytest.approx(4.0, abs=0.1)
    main(["detect", str(run), str(path), "--out", str(tmp_path / "whole"), "--no-trim"])
    whole = read_raven(tmp_path / "whole" / "rec.selections.txt")
    assert whole[whole.label == "high"][["begin_s", "end_s"]].values.tolist() == [[0.0, 8.0]]


def test_a_real_model_through_the_command_line(tmp_path, real_run, capsys):
    path = write(tmp_path / "rec.wav", noise(7 * SR))  # two windows
    assert main(["detect", str(real_run), str(path), "--out", str(tmp_path / "out"),
                 "--device", "cpu"]) == 0
    assert "1 events in 1 file" in capsys.readouterr().out
    table = read_raven(tmp_path / "out" / "rec.selections.txt")
    assert table.label.tolist() == ["low"]
    assert table.begin_s.tolist() == [0.0]
    assert table.end_s.tolist() == [7.0]  # not past the file's end
    # framewise sigmoid(5) times the clipwise output, itself sigmoid(5) (attention-weighted)
    assert table.score.tolist() == pytest.approx([torch.sigmoid(torch.tensor(5.0)).item() ** 2])
    assert table[["low_hz", "high_hz"]].values.tolist() == [[10.0, 100.0]]
    header = (tmp_path / "out" / "rec.selections.txt").read_text().splitlines()[0].split("\t")
    assert header[:8] == ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
                          "Low Freq (Hz)", "High Freq (Hz)", "Species"] and "Score" in header


def test_evaluate_scores_events_of_a_folder_of_recordings(tmp_path, real_run, capsys):
    folder = tmp_path / "long"
    write(folder / "rec.wav", noise(4 * SR))
    truth = pd.DataFrame({"begin_s": [0.0, 2.0], "end_s": [4.0, 3.0], "low_hz": [10.0, 10.0],
                          "high_hz": [100.0, 100.0], "label": ["low", "low"]})
    write_raven(truth, folder / "rec.selections.txt")
    out = tmp_path / "events.json"
    assert main(["evaluate", str(real_run), "--data", str(folder), "--out", str(out),
                 "--device", "cpu"]) == 0
    metrics = json.loads(out.read_text())
    # one whole-file "low" event (the file is shorter than a window): it matches the 4 s
    # call, not the 1 s one
    assert metrics["per_class"]["low"] == {"precision": 1.0, "recall": 0.5,
                                           "f1": pytest.approx(2 / 3), "tp": 1, "fp": 0, "fn": 1}
    assert metrics["per_class"]["high"]["fp"] == 0 and metrics["recordings"] == 1
    assert "overall" in capsys.readouterr().out


def test_evaluate_of_a_folder_without_tables_is_a_user_error(tmp_path, real_run):
    with pytest.raises(WhaleLabError, match="Raven table"):
        detection.evaluate_recordings(real_run, tmp_path)


def test_bad_settings_fail_before_any_audio_is_read(tmp_path, stand_in_run):
    run, seen = stand_in_run
    path = write(tmp_path / "x.wav", calls(6, [1.0]))
    for bad in ({"threshold": 0.5, "low_threshold": 0.9}, {"hop_s": 0.0}):
        with pytest.raises(WhaleLabError, match=next(iter(bad))):
            settings(**bad)
    with pytest.raises(WhaleLabError, match="hop_s"):  # longer than a clip
        detection.detect_files(run, [path], tmp_path / "out", settings=settings(hop_s=6.0))
    with pytest.raises(WhaleLabError, match="batch_size"):
        detection.detect_files(run, [path], tmp_path / "out", batch_size=0)
    assert not (tmp_path / "out" / "x.selections.txt").exists()
    with pytest.raises(WhaleLabError, match="no audio"):
        detection.detect_files(run, [], tmp_path / "out")


def _annotated(folder: Path, name: str, seconds: float, at: list[float]) -> Path:
    """A recording of calls at ``at`` with a Raven table naming both classes there."""
    audio = write(folder / f"{name}.wav", calls(seconds, at))
    write_raven(pd.DataFrame({"begin_s": [t for t in at for _ in CLASSES],
                              "end_s": [t + 1.0 for t in at for _ in CLASSES],
                              "low_hz": 10.0, "high_hz": 2000.0,
                              "label": [label for _ in at for label in CLASSES]}),
                folder / f"{name}.selections.txt")
    return audio


@pytest.mark.slow
def test_settings_are_chosen_on_validation_and_scored_on_test(tmp_path, stand_in_run):
    run, seen = stand_in_run
    _annotated(tmp_path / "val", "v", 20, [3.0, 11.0])
    _annotated(tmp_path / "test", "t", 20, [5.0, 14.0])
    write(tmp_path / "test" / "quiet.wav", calls(20, []))  # call-free, empty table
    write_raven(pd.DataFrame(columns=["begin_s", "end_s", "low_hz", "high_hz", "label"]),
                tmp_path / "test" / "quiet.selections.txt")
    metrics = detection.evaluate_recordings(run, tmp_path / "test", validation=tmp_path / "val",
                                            progress=False)
    # validation traced first (once per gate setting), then the test recordings
    assert seen[:2] == ["v.wav", "v.wav"] and sorted(seen[2:]) == ["quiet.wav", "t.wav"]
    sweep = pd.DataFrame(metrics["settings_sweep"])
    assert len(sweep) == 4 * len(detection.THRESHOLDS)
    best = sweep.f1.max()
    assert metrics["settings"]["threshold"] == sweep[sweep.f1 == best].threshold.max()
    saved = json.loads((run / "config.json").read_text())["detect"]
    assert saved["threshold"] == metrics["settings"]["threshold"]
    assert metrics["overall"]["f1"] == 1.0 and metrics["false_alarms_per_hour"] == 0.0
    assert metrics["intervals_95"]["f1"] == [1.0, 1.0]
    baseline = metrics["baselines"]["band_energy"]
    assert set(baseline["thresholds_db"]) == set(CLASSES) and "intervals_95" in baseline


def test_gating_and_trimming_are_compared_at_the_runs_threshold(tmp_path, stand_in_run):
    run, _ = stand_in_run
    _annotated(tmp_path / "test", "t", 20, [5.0, 14.0])
    table = detection.compare_gating_and_trimming(run, tmp_path / "test", progress=False)
    assert table[["gate", "trim"]].values.tolist() == [[True, True], [True, False],
                                                       [False, True], [False, False]]
    assert (table.f1 == 1.0).all()  # the stand-in's clipwise output is 1: the gate changes nothing


def _assert_spans(events: pd.DataFrame, label: str, expected: list[list[float]]) -> None:
    """The ``label`` events of ``events`` run over ``expected`` (to within a frame)."""
    spans = events[events.label == label][["begin_s", "end_s"]].to_numpy(dtype=float)
    assert spans.shape == (len(expected), 2)
    np.testing.assert_allclose(spans, expected, atol=1 / 62.5)


def test_silence_and_flat_signal_hold_no_event_and_are_listed(tmp_path, stand_in_run,
                                                              monkeypatch, capsys):
    run, _ = stand_in_run
    use_model(monkeypatch, EverywhereModel())  # a call everywhere
    signal = noise(60 * SR, seed=6)
    signal[10 * SR:40 * SR] = 0.0  # a 30-s dropout
    signal[45 * SR:55 * SR] = 0.25  # a stuck converter: 10 s of one value
    path = write(tmp_path / "rec.wav", signal)
    out = tmp_path / "out"
    assert main(["detect", str(run), str(path), "--out", str(out), "--no-trim"]) == 0
    assert (f"2 gap(s), 40.0 s of silence or flat signal in 1 file(s); see {out / 'gaps.csv'}"
            in capsys.readouterr().out)
    gaps = pd.read_csv(out / "gaps.csv")
    assert gaps.columns.tolist() == ["file", "begin_s", "end_s", "kind"]
    assert gaps.kind.tolist() == ["silence", "flat"] and (gaps.file == str(path)).all()
    np.testing.assert_allclose(gaps[["begin_s", "end_s"]], [[10, 40], [45, 55]], atol=1 / 62.5)
    events = pd.read_csv(out / "events.csv")
    for label in CLASSES:  # the events stop at the gap edges
        _assert_spans(events, label, [[0, 10], [40, 45], [55, 60]])
    for gap in gaps.itertuples():
        assert not ((events.begin_s < gap.end_s) & (events.end_s > gap.begin_s)).any()


def test_gaps_that_span_block_edges_are_found_whole(tmp_path, monkeypatch):
    signal = noise(20 * SR, seed=7)
    signal[int(4.5 * SR):int(10.2 * SR)] = 0.0  # over the block edges at 6 and 9 s
    signal[int(11.9 * SR):int(12.6 * SR)] = -0.3  # over the edge at 12 s
    signal[int(15.0 * SR):int(15.4 * SR)] = 0.0  # shorter than MIN_GAP_S: not a gap
    path = write(tmp_path / "x.wav", signal)
    found = []
    for seconds in (3.0, streaming.BLOCK_SECONDS):
        monkeypatch.setattr(streaming, "BLOCK_SECONDS", seconds)
        found.append(detection.detect_recording(trained_as(PointModel()), path,
                                                settings=settings(trim=False)).gaps)
    for gaps in found:
        assert gaps.kind.tolist() == ["silence", "flat"]
        np.testing.assert_allclose(gaps[["begin_s", "end_s"]], [[4.5, 10.2], [11.9, 12.6]],
                                   atol=1 / SR)


def test_a_file_of_digital_silence_gives_no_event(tmp_path, stand_in_run, monkeypatch):
    run, _ = stand_in_run
    use_model(monkeypatch, EverywhereModel())
    path = write(tmp_path / "silent.wav", np.zeros(20 * SR, dtype=np.float32))
    events = detection.detect_files(run, [path], tmp_path / "out", settings=settings(trim=False))
    assert events.empty and read_raven(tmp_path / "out" / "silent.selections.txt").empty
    gaps = pd.read_csv(tmp_path / "out" / "gaps.csv")
    assert gaps[["begin_s", "end_s", "kind"]].values.tolist() == [[0.0, 20.0, "silence"]]


def test_a_rerun_with_other_settings_is_refused_unless_overwritten(tmp_path, stand_in_run):
    run, seen = stand_in_run
    path = write(tmp_path / "calls.wav", calls(10, [2.0, 6.0]))  # "low" 0.9, "high" 1.8
    out = tmp_path / "out"
    first = detection.detect_files(run, [path], out, settings=settings(trim=False))
    record = json.loads((out / "detection.json").read_text())
    assert record["model"] == str(run.resolve())
    assert record["model_sha256"] == hashlib.sha256((run / "best.pt").read_bytes()).hexdigest()
    assert record["settings"] == {**dataclasses.asdict(settings(trim=False)),
                                  "window_hop_s": 156 / 62.5,
                                  "channel": None, "min_gap_s": streaming.MIN_GAP_S,
                                  "engine": "torch"}
    assert record["whalelab_version"] == whalelab.__version__
    seen.clear()
    with pytest.raises(WhaleLabError, match=rf"{out}.*threshold 0.5 -> 0.95.*--overwrite"):
        detection.detect_files(run, [path], out, settings=settings(trim=False, threshold=0.95))
    assert seen == [] and pd.read_csv(out / "events.csv").equals(first)
    assert main(["detect", str(run), str(path), "--out", str(out), "--no-trim",
                 "--threshold", "0.95", "--overwrite"]) == 0
    second = pd.read_csv(out / "events.csv")
    assert sorted(first.label) == ["high", "high", "low", "low"]
    assert second.label.tolist() == ["high", "high"]  # "low" (0.9) no longer starts an event
    assert json.loads((out / "detection.json").read_text())["settings"]["threshold"] == 0.95
    older = json.loads((out / "detection.json").read_text())  # written before engines existed
    del older["settings"]["engine"]
    (out / "detection.json").write_text(json.dumps(older))
    detection.detect_files(run, [path], out,  # resumes, not refused
                           settings=settings(trim=False, threshold=0.95))


def test_a_different_model_file_is_refused(tmp_path, stand_in_run):
    run, _ = stand_in_run
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    out = tmp_path / "out"
    detection.detect_files(run, [path], out)
    detection.detect_files(run / "best.pt", [path], out)  # the same file, named directly: resumes
    other = tmp_path / "other"
    other.mkdir()
    save_checkpoint(other / "best.pt", {"model": {"weight": torch.ones(1)}})
    with pytest.raises(WhaleLabError, match="model checksum"):
        detection.detect_files(other, [path], out)
    old_tables = tmp_path / "old"  # tables that no detection.json vouches for
    write_raven(read_raven(out / "calls.selections.txt"), old_tables / "calls.selections.txt")
    with pytest.raises(WhaleLabError, match="no record of writing"):
        detection.detect_files(run, [path], old_tables)


def test_a_folder_locked_by_a_running_detection_is_refused(tmp_path, stand_in_run):
    run, seen = stand_in_run
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    out = tmp_path / "out"
    out.mkdir()
    lock = out / output.LOCK_NAME
    lock.write_text(str(os.getpid()))  # a live process holds it
    with pytest.raises(WhaleLabError, match=rf"{out}: another detection \(process {os.getpid()}"):
        detection.detect_files(run, [path], out)
    assert seen == [] and lock.read_text() == str(os.getpid())  # left to its holder
    lock.unlink()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(AudioError):
        detection.detect_files(run, [path, broken], out)
    assert not lock.exists()  # released on error too


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, stand_in_run):
    run, seen = stand_in_run
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    finished = subprocess.Popen(["true"])  # a process id that has ended
    finished.wait()
    lock = tmp_path / "out" / output.LOCK_NAME
    lock.parent.mkdir()
    lock.write_text(str(finished.pid))
    with pytest.warns(UserWarning, match=f"process {finished.pid}.*taking the lock over"):
        events = detection.detect_files(run, [path], tmp_path / "out")
    assert seen == ["calls.wav"] and len(events) == 2
    assert not lock.exists()


def test_evaluation_scores_the_events_detect_writes_on_a_recording_with_gaps(tmp_path,
                                                                            stand_in_run,
                                                                            monkeypatch):
    run, _ = stand_in_run
    folder = tmp_path / "long"
    path = _annotated(folder, "rec", 30, [3.0, 20.0])
    signal = calls(30, [3.0, 20.0])
    signal[8 * SR:15 * SR] = 0.0  # a dropout between the calls
    signal[int(20.5 * SR):22 * SR] = 0.9  # the second call's end is stuck: flat
    write(path, signal)
    scored = []
    score_events = evaluation.score_events

    def spy(predicted, *args, **kwargs):
        scored.append(predicted)
        return score_events(predicted, *args, **kwargs)

    monkeypatch.setattr(evaluation, "score_events", spy)
    detection.evaluate_recordings(run, folder, overrides={"trim": False}, progress=False)
    detected = detection.detect_files(run, [path], tmp_path / "out", settings=settings(trim=False))
    columns = ["file", "begin_s", "end_s", "label", "score"]
    pd.testing.assert_frame_equal(scored[0][columns], detected[columns], check_dtype=False)
    for label in CLASSES:  # the second call is cut where the flat stretch begins
        _assert_spans(detected, label, [[3.0, 4.0], [20.0, 20.5]])


class BatchRecordingModel(PointModel):
    """PointModel that records the size of every batch it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        self.batches.append(len(waveform))
        return super().forward(waveform)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_archive_shares_batches_across_files_and_each_file_gets_its_own_events(
        tmp_path, monkeypatch, workers):
    folder = tmp_path / "archive"
    with_gap = calls(23.3, [3.0, 15.0])
    with_gap[8 * SR:10 * SR] = 0  # 2 s of dropout
    write(folder / "a.wav", calls(12, [2.0, 6.5]))
    write(folder / "b.wav", calls(0.7, [0.1]))  # shorter than a window
    write(folder / "c.wav", with_gap)
    alone, windows_alone, part_empty = {}, 0, 0
    for name in ("a", "b", "c"):
        model = BatchRecordingModel()
        found = detection.detect_recording(trained_as(model), folder / f"{name}.wav",
                                           batch_size=3)
        alone[name] = found.events, found.gaps
        windows_alone += sum(model.batches)
        part_empty += model.batches[-1] < 3
    assert part_empty >= 2  # alone, files end in part-empty batches

    model = BatchRecordingModel()
    use_model(monkeypatch, model)
    run = tmp_path / "run"
    save_checkpoint(run / "best.pt", {"model": {}})
    detection.detect_files(run, [folder], tmp_path / "out", batch_size=3, workers=workers,
                           progress=False)
    assert sum(model.batches) == windows_alone  # every window once
    assert set(model.batches[:-1]) == {3}  # only the very last batch is part-empty
    for name, (events, gaps) in alone.items():
        table = read_raven(tmp_path / "out" / "archive" / f"{name}.selections.txt")
        assert len(events) > 0
        pd.testing.assert_frame_equal(table[["begin_s", "end_s", "label"]].reset_index(drop=True),
                                      events[["begin_s", "end_s", "label"]].reset_index(drop=True),
                                      check_dtype=False)
        if len(gaps):
            written = pd.read_csv(tmp_path / "out" / "archive" / f"{name}.gaps.csv")
            pd.testing.assert_frame_equal(written, gaps.reset_index(drop=True), check_dtype=False)
    assert len(alone["c"][1]) == 1


def test_a_file_that_fails_while_read_ahead_is_skipped_and_the_rest_detected(tmp_path,
                                                                          stand_in_run):
    run, _ = stand_in_run
    folder = tmp_path / "archive"
    write(folder / "a.wav", calls(12, [2.0]))
    broken = calls(12, [2.0])
    broken[5 * SR] = np.nan  # readable header, samples that fail while streaming
    write(folder / "b.wav", broken)
    write(folder / "c.wav", calls(12, [4.0]))
    with pytest.raises(AudioError, match="b.wav"):
        detection.detect_files(run, [folder], tmp_path / "out", workers=2, batch_size=3,
                               progress=False)
    with pytest.warns(UserWarning, match="b.wav"):
        events = detection.detect_files(run, [folder], tmp_path / "out", workers=2, batch_size=3,
                                        on_error="skip", progress=False)
    assert set(events.file) == {str(folder / "a.wav"), str(folder / "c.wav")}


def test_detection_reads_ahead_only_with_a_gpu_by_default():
    assert streaming.default_workers(torch.device("cpu")) == 0
    assert streaming.default_workers(torch.device("cuda")) == 2


def test_an_error_stops_the_readers_that_wait_with_full_queues(tmp_path, stand_in_run):
    run, _ = stand_in_run
    folder = tmp_path / "archive"
    broken = calls(12, [2.0])
    broken[SR] = np.nan
    write(folder / "a.wav", broken)
    for name in ("b", "c"):  # far more windows than a reader may queue at batch size 1
        write(folder / f"{name}.wav", calls(120, [2.0]))
    with pytest.raises(AudioError, match="a.wav"):  # returns: no reader is left waiting
        detection.detect_files(run, [folder], tmp_path / "out", workers=2, batch_size=1,
                               progress=False)


def test_the_cli_reads_ahead_with_workers(tmp_path, stand_in_run, capsys):
    run, seen = stand_in_run
    folder = tmp_path / "archive"
    for name in ("a", "b", "c"):
        write(folder / f"{name}.wav", calls(8, [2.0]))
    assert main(["detect", str(run), str(folder), "--out", str(tmp_path / "out"),
                 "--workers", "2", "--batch-size", "4"]) == 0
    assert sorted(seen) == ["a.wav", "b.wav", "c.wav"]
    assert "events in 3 file(s)" in capsys.readouterr().out


def _two_level_call(seconds: float) -> np.ndarray:
    """A call at 5-6 s: 0.9 for its first quarter second, then 0.3 (dithered as :func:`calls`).

    PointModel scores "low" 0.9 then 0.3 on it, "high" 1.8 then 0.6: above half of any
    threshold up to 0.6, "low" lasts the whole call; above it, only the first 0.26 s.
    """
    signal = np.zeros(int(seconds * SR), dtype=np.float32)
    signal[5 * SR:int(5.25 * SR)] = 0.9
    signal[int(5.25 * SR):6 * SR] = 0.3
    signal[1::2] += DITHER
    return signal


@pytest.mark.slow
def test_with_an_onset_tolerance_the_models_settings_are_chosen_by_onsets(tmp_path,
                                                                          stand_in_run):
    run, _ = stand_in_run
    for split in ("val", "test"):
        write(_annotated(tmp_path / split, split, 20, [5.0]), _two_level_call(20))
    matching = EventMatching(onset_tolerance_s=0.1)
    metrics = detection.evaluate_recordings(run, tmp_path / "test", validation=tmp_path / "val",
                                            matching=matching, progress=False)
    # every threshold finds both calls' onsets; ties go to the highest
    assert metrics["settings"]["threshold"] == max(detection.THRESHOLDS) == 0.9
    assert metrics["overall"]["f1"] == 1.0
    assert metrics["criterion"] == {"onset_tolerance_s": 0.1}
    assert metrics["baselines"]["band_energy"]["criterion"] == {"onset_tolerance_s": 0.1}
    # by overlap, the 0.26-s "low" events above 0.6 miss their 1-s call (IoU 0.26)
    by_overlap, _ = detection.choose_detection_settings(run, tmp_path / "val", progress=False)
    assert by_overlap.threshold <= 0.6


def test_the_threshold_sweep_scores_the_events_detect_writes(tmp_path, stand_in_run):
    run, _ = stand_in_run
    frames = 400
    signal = np.zeros(frames * STEP + 1, dtype=np.float32)  # ends 1 sample into frame 400
    signal[369 * STEP:] = 0.9  # an event from frame 369 (5.904 s) to the end (6.400125 s)
    signal[1::2] += DITHER
    path = write(tmp_path / "val" / "end.wav", signal)
    # IoU with the event cut at the file's end 0.304; with its last frame whole, 0.295
    truth = pd.DataFrame({"begin_s": 6.0, "end_s": 6.1508375, "low_hz": 10.0,
                          "high_hz": 2000.0, "label": CLASSES})
    write_raven(truth, tmp_path / "val" / "end.selections.txt")
    detected = detection.detect_files(run, [path], tmp_path / "out",
                                      settings=settings(trim=False, gate=False))
    assert detected.end_s.tolist() == pytest.approx([len(signal) / SR] * 2)
    written = event_metrics(detected, truth.assign(file=str(path)), CLASSES)["overall"]
    _, sweep = detection.choose_detection_settings(run, tmp_path / "val", thresholds=[0.5],
                                                   progress=False)
    swept = sweep[~sweep.gate & ~sweep.trim].iloc[0]
    assert written["tp"] == 2 and (swept.tp, swept.fp, swept.fn) == (2, 0, 0)


def test_notebook_05s_events_are_the_tables_whalelab_detect_writes(tmp_path, real_run):
    signal = noise(7 * SR + 37, seed=8)  # not a whole number of frames
    signal[3 * SR:int(4.5 * SR)] = 0.0  # a dropout: a gap
    path = write(tmp_path / "rec.wav", signal)
    trained = load_model(real_run, device="cpu")
    # as notebook 05 finds the events of each recording it shows
    found = {str(path): detection.detect_recording(trained, path, progress=False)}
    shown = pd.concat([result.events.assign(file=name) for name, result in found.items()],
                      ignore_index=True)
    detection.detect_files(real_run, [path], tmp_path / "out", device="cpu", progress=False)
    written = read_raven(tmp_path / "out" / "rec.selections.txt")
    columns = ["begin_s", "end_s", "label"]
    assert len(shown) >= 2  # the model finds "low" everywhere but in the gap
    pd.testing.assert_frame_equal(shown[columns], written[columns], check_dtype=False)
    np.testing.assert_allclose(shown.score, written.score, rtol=1e-5)
    assert not ((shown.begin_s < 4.5) & (shown.end_s > 3.0)).any()  # nothing in the gap
    assert shown.end_s.max() <= len(signal) / SR  # nor past the end


def _one_line_error(capsys) -> str:
    """What the command line printed on stderr, checked to be one ``whalelab:`` line."""
    error = capsys.readouterr().err
    assert error.startswith("whalelab: ") and error.count("\n") == 1, error
    return error


def test_overwrite_deletes_only_the_tables_whalelab_wrote(tmp_path, stand_in_run):
    run, _ = stand_in_run
    path = write(tmp_path / "x.wav", calls(10, [2.0, 6.0]))
    out = tmp_path / "P"
    assert main(["detect", str(run), str(path), "--out", str(out)]) == 0
    truth = write_raven(pd.DataFrame({"begin_s": [2.0], "end_s": [3.0], "low_hz": [10.0],
                                      "high_hz": [100.0], "label": ["low"]}),
                        out / "truth" / "x.selections.txt")  # the user's own annotations
    mine = (out / "truth" / "x.gaps.csv", out / "notes.selections.txt")
    for other in mine:
        other.write_text("the user's")
    kept = {other: other.read_bytes() for other in (truth, *mine)}
    assert main(["detect", str(run), str(path), "--out", str(out), "--threshold", "0.95",
                 "--overwrite"]) == 0
    assert {other: other.read_bytes() for other in kept} == kept
    assert set(read_raven(out / "x.selections.txt").label) == {"high"}  # detected again


def test_a_folder_of_other_files_is_refused_without_force_and_left_as_it_was_with_it(
        tmp_path, stand_in_run, capsys):
    run, seen = stand_in_run
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("field notes")
    (out / "sub" / "calls.selections.txt").write_text("a table of the user's")
    assert main(["detect", str(run), str(path), "--out", str(out)]) == 2
    refusal = _one_line_error(capsys)
    assert f"{out}: holds files that whalelab has no record of writing" in refusal
    assert "--force" in refusal
    assert seen == [] and not (out / "detection.json").exists()
    assert main(["detect", str(run), str(path), "--out", str(out), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "field notes"
    assert (out / "sub" / "calls.selections.txt").read_text() == "a table of the user's"
    assert len(read_raven(out / "calls.selections.txt")) == 2
    other = tmp_path / "other"  # with a file of the user's where whalelab would write one
    other.mkdir()
    (other / "calls.gaps.csv").write_text("the user's")
    assert main(["detect", str(run), str(path), "--out", str(other), "--force"]) == 2
    assert f"{other / 'calls.gaps.csv'}: whalelab would write this file" in _one_line_error(capsys)
    assert [path.name for path in other.iterdir()] == ["calls.gaps.csv"]
    assert (other / "calls.gaps.csv").read_text() == "the user's"


def test_events_csv_lists_the_files_of_every_call_into_the_folder(tmp_path, stand_in_run,
                                                                  capsys):
    run, _ = stand_in_run
    first = write(tmp_path / "a.wav", calls(6, [2.0]))
    second = write(tmp_path / "b.wav", calls(6, [1.0, 4.0]))
    out = tmp_path / "O"
    assert main(["detect", str(run), str(first), "--out", str(out)]) == 0
    assert main(["detect", str(run), str(second), "--out", str(out)]) == 0
    assert f"{out}: 6 events in 2 file(s)" in capsys.readouterr().out
    events = pd.read_csv(out / "events.csv")
    assert events.groupby("file").size().to_dict() == {str(first): 2, str(second): 4}


def test_recordings_of_one_name_in_two_folders_get_tables_of_their_own(tmp_path, stand_in_run):
    run, seen = stand_in_run
    write(tmp_path / "dayA" / "rec.wav", calls(10, [2.0]))
    write(tmp_path / "dayB" / "rec.wav", calls(10, [6.0]))
    out = tmp_path / "O"
    detection.detect_files(run, [tmp_path / "dayA"], out)
    events = detection.detect_files(run, [tmp_path / "dayB"], out)
    assert seen == ["rec.wav", "rec.wav"]  # dayB's file was detected, not dayA's reused
    for day, begin in (("dayA", 2.0), ("dayB", 6.0)):
        table = read_raven(out / day / "rec.selections.txt")
        assert table.begin_s.tolist() == pytest.approx([begin, begin], abs=1 / 62.5)
        listed = events[events.file == str(tmp_path / day / "rec.wav")]
        assert listed.begin_s.tolist() == pytest.approx([begin, begin], abs=1 / 62.5)


def test_a_table_detected_from_another_recording_is_never_reused(tmp_path, stand_in_run):
    run, seen = stand_in_run
    first = write(tmp_path / "one" / "x.wav", calls(10, [2.0]))
    second = write(tmp_path / "two" / "x.wav", calls(10, [6.0]))
    out = tmp_path / "O"
    detection.detect_files(run, [first], out)
    seen.clear()
    with pytest.raises(WhaleLabError, match=rf"{out / 'x.selections.txt'}: detected from "
                                            rf"{first}, not from {second}"):
        detection.detect_files(run, [second], out)
    assert seen == []
    write(first, calls(10, [6.0]))  # the recording changed since its table was written
    os.utime(first, ns=(1, 1))
    events = detection.detect_files(run, [first], out)
    assert seen == ["x.wav"]
    assert events.begin_s.tolist() == pytest.approx([6.0, 6.0], abs=1 / 62.5)


def _failing_open(monkeypatch, fails, error: int) -> None:
    """Make ``os.open`` raise ``error`` (an errno) for the paths ``fails(path)`` picks."""
    real_open = os.open

    def failing(path, *args, **kwargs):
        if fails(Path(path)):
            raise OSError(error, os.strerror(error), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing)


def test_a_full_disk_a_read_only_folder_or_a_file_as_out_is_one_line(tmp_path, stand_in_run,
                                                                      monkeypatch, capsys):
    run, _ = stand_in_run
    first = write(tmp_path / "a.wav", calls(6, [2.0]))
    second = write(tmp_path / "b.wav", calls(6, [2.0]))
    out = tmp_path / "O"
    assert main(["detect", str(run), str(first), "--out", str(out)]) == 0
    finished = {name: (out / name).read_bytes() for name in ("a.selections.txt", "events.csv")}
    with monkeypatch.context() as patch:  # the disk is full when the lock is written
        _failing_open(patch, lambda path: path.name == output.LOCK_NAME, errno.ENOSPC)
        assert main(["detect", str(run), str(second), "--out", str(out)]) == 2
    assert (f"no space left on device while writing {out / output.LOCK_NAME}"
            in _one_line_error(capsys))
    with monkeypatch.context() as patch:  # the lock is made, but its first byte fails
        patch.setattr(os, "write", lambda *args: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
        assert main(["detect", str(run), str(second), "--out", str(out)]) == 2
    assert f"while writing {out / output.LOCK_NAME}" in _one_line_error(capsys)
    real_replace = os.replace
    with monkeypatch.context() as patch:  # and full when b's table is written
        patch.setattr(os, "replace", lambda source, target: (_ for _ in ()).throw(OSError(
            errno.ENOSPC, os.strerror(errno.ENOSPC))) if Path(target).name == "b.selections.txt"
            else real_replace(source, target))
        assert main(["detect", str(run), str(second), "--out", str(out)]) == 2
    assert (f"no space left on device while writing {out / 'b.selections.txt'}"
            in _one_line_error(capsys))
    assert {name: (out / name).read_bytes() for name in finished} == finished  # nothing lost
    assert not (out / output.LOCK_NAME).exists()
    assert main(["detect", str(run), str(second), "--out", str(out)]) == 0  # room again
    assert set(pd.read_csv(out / "events.csv").file) == {str(first), str(second)}
    capsys.readouterr()
    # a read-only folder (simulated: the tests run as root, whom chmod does not stop)
    locked = tmp_path / "read-only"
    locked.mkdir()
    with monkeypatch.context() as patch:
        _failing_open(patch, lambda path: path.is_relative_to(locked), errno.EACCES)
        assert main(["detect", str(run), str(first), "--out", str(locked)]) == 2
    assert f"permission denied while writing in {locked}" in _one_line_error(capsys)
    assert main(["detect", str(run), str(first), "--out", str(first)]) == 2
    assert f"{first}: is a file, not a folder" in _one_line_error(capsys)


def test_a_tab_or_line_break_in_a_file_name_is_refused_before_detection(tmp_path, stand_in_run):
    run, seen = stand_in_run
    folder = tmp_path / "audio"
    write(folder / "good.wav", calls(6, [2.0]))
    for name in ("tab\tname.wav", "line\nbreak.wav"):
        write(folder / name, calls(6, [2.0]))
    with pytest.raises(AudioError, match=r"'.*line\\nbreak.wav': a tab or line break"):
        detection.detect_files(run, [folder], tmp_path / "out")
    assert seen == []  # refused before any inference
    with pytest.warns(UserWarning) as warned:
        events = detection.detect_files(run, [folder], tmp_path / "out", on_error="skip")
    messages = [str(warning.message) for warning in warned]
    assert sum(message.startswith("skipped") and "a tab or line break in the file name" in
               message for message in messages) == 2
    assert any(message.startswith("2 of 3 file(s)") for message in messages)
    assert seen == ["good.wav"] and set(events.file) == {str(folder / "good.wav")}


def test_a_rerun_with_another_batch_size_resumes(tmp_path, stand_in_run, capsys):
    run, seen = stand_in_run
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    out = tmp_path / "out"
    assert main(["detect", str(run), str(path), "--out", str(out)]) == 0
    seen.clear()
    assert main(["detect", str(run), str(path), "--out", str(out), "--batch-size", "16",
                 "--workers", "2"]) == 0
    assert seen == [] and f"{out}: 2 events in 1 file(s)" in capsys.readouterr().out
    assert main(["detect", str(run), str(path), "--out", str(out), "--threshold", "0.95"]) == 2
    refusal = _one_line_error(capsys)
    assert "holds 1 table(s) detected with another model or other settings" in refusal
    assert refusal.index("another --out folder") < refusal.index("--overwrite")


def test_a_folder_without_finished_tables_takes_other_settings(tmp_path, stand_in_run):
    run, seen = stand_in_run
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="broken.wav"):
        detection.detect_files(run, [broken], out, on_error="skip")
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    events = detection.detect_files(run, [path], out, settings=settings(threshold=0.95))
    assert seen == ["calls.wav"] and events.label.tolist() == ["high"]
    assert json.loads((out / "detection.json").read_text())["settings"]["threshold"] == 0.95


def test_the_file_count_includes_finished_files_without_events(tmp_path, stand_in_run, capsys):
    run, _ = stand_in_run
    folder = tmp_path / "quiet"
    for name in ("a", "b"):
        write(folder / f"{name}.wav", calls(6, []))
    for _ in range(2):  # and again, resumed: both files are done
        assert main(["detect", str(run), str(folder), "--out", str(tmp_path / "out")]) == 0
        assert f"{tmp_path / 'out'}: 0 events in 2 file(s)" in capsys.readouterr().out


def test_a_detection_json_listing_files_outside_its_folder_is_refused(tmp_path, stand_in_run):
    run, _ = stand_in_run
    path = write(tmp_path / "calls.wav", calls(6, [2.0]))
    out = tmp_path / "out"
    detection.detect_files(run, [path], out)
    outside = tmp_path / "precious.selections.txt"
    outside.write_text("the user's")
    record = json.loads((out / "detection.json").read_text())
    record["tables"]["../precious.selections.txt"] = record["tables"]["calls.selections.txt"]
    (out / "detection.json").write_text(json.dumps(record))
    with pytest.raises(WhaleLabError, match=r"detection.json: unreadable .*'\.\./precious"):
        detection.detect_files(run, [path], out, overwrite=True)
    assert outside.read_text() == "the user's"
