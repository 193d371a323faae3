"""predict: streamed windows, tiling, refused and silent files, skipping, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from whalelab import audio, predict
from whalelab.audio import tile
from whalelab.checkpoint import TrainedModel, save_checkpoint, write_classes
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.errors import ConfigError, WhaleLabError
from whalelab.model import build_model

SR = 8000
CLASSES = ["low", "high"]
CONFIG = RunConfig.from_profile("smoke", data="", classes=CLASSES, backbone="tiny")
CLIP = CONFIG.features.clip_samples  # 40000 samples, 5 s
BANDS = {"low": (10.0, 100.0), "high": (500.0, 2000.0)}


class LevelModel(nn.Module):
    """Stand-in whose clipwise output is each window's mean |x| and mean x², in [0, 1].

    It keeps every window it is given in ``seen``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        self.seen.extend(waveform)
        level = torch.stack([waveform.abs().mean(dim=1), waveform.pow(2).mean(dim=1)], dim=1)
        return {"clipwise_output": (level * self.scale).clamp(0, 1)}  # (batch, classes)


class BandShareModel(nn.Module):
    """Stand-in whose score of a class is the share of a window's power in the class's
    band: blind to the level, as the real model's per-clip normalisation makes it."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        power = torch.fft.rfft(waveform.double()).abs() ** 2  # (batch, bins)
        frequency = torch.fft.rfftfreq(waveform.shape[1], 1 / SR)
        shares = [power[:, (frequency >= low) & (frequency <= high)].sum(dim=1)
                  / power.sum(dim=1).clamp_min(1e-300) for low, high in BANDS.values()]
        return {"clipwise_output": torch.stack(shares, dim=1).float() * self.scale}


class ScriptedModel(nn.Module):
    """Stand-in that gives the windows, in the order it sees them, the rows of ``scores``."""

    def __init__(self, scores: np.ndarray) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.scores, self.given = torch.as_tensor(scores, dtype=torch.float32), 0

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        given = self.scores[self.given:self.given + len(waveform)]
        self.given += len(waveform)
        return {"clipwise_output": given * self.scale}


def use(monkeypatch, stand_in: nn.Module) -> nn.Module:
    """Make :func:`whalelab.predict.load_model` return ``stand_in`` whatever it is asked."""
    monkeypatch.setattr(predict, "load_model", lambda source, **kwargs: TrainedModel(
        model=stand_in, config=CONFIG, bands=BANDS, thresholds=np.full(len(CLASSES), 0.5),
        source=Path(source)))
    return stand_in


@pytest.fixture
def model(monkeypatch) -> LevelModel:
    """A LevelModel that :func:`whalelab.predict.load_model` returns whatever it is asked."""
    return use(monkeypatch, LevelModel())


def noise(seconds: float, seed: int = 0, rate: int = SR) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * rate)).astype(np.float32)


def write(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    audio.write_audio(path, samples, sr, subtype="FLOAT")
    return path


def expected_scores(windows: list[np.ndarray]) -> np.ndarray:
    return LevelModel()(torch.from_numpy(np.stack(windows)))["clipwise_output"].detach().numpy()


def test_streamed_prediction_reads_bounded_blocks_and_equals_the_whole_file(tmp_path, model,
                                                                           block_recorder):
    signal = noise(40.3, seed=4)
    path = write(tmp_path / "long.wav", signal)
    blocks = block_recorder(predict, 3.0)
    table, windows = predict.predict_files("run", [path], batch_size=3, return_windows=True)
    assert len(blocks) >= 40 / 3 and max(blocks) <= 3 * SR and sum(blocks) == len(signal)
    # the whole file in memory: windows every half clip, one more ending at the file's end
    starts = [*range(0, len(signal) - CLIP + 1, CLIP // 2), len(signal) - CLIP]
    expected = expected_scores([signal[start:start + CLIP] for start in starts])
    np.testing.assert_allclose(windows["start_s"], np.array(starts) / SR)
    np.testing.assert_allclose(windows["end_s"], (np.array(starts) + CLIP) / SR)
    np.testing.assert_allclose(windows[CLASSES].to_numpy(), expected, rtol=1e-6)
    assert list(windows.columns) == ["file", "start_s", "end_s", *CLASSES, "note"]
    assert list(table.columns) == ["file", "duration_s", "windows", "top_class", *CLASSES,
                                   "windows_above_low", "windows_above_high", "note"]
    row = table.iloc[0]
    assert row["file"] == str(path) and row["windows"] == len(starts) == 16
    assert row["duration_s"] == pytest.approx(40.3) and row["note"] == ""
    # 16 windows: each class's score is the best of neighbouring windows' lower scores
    pairs = [np.minimum(expected[k], expected[k + 1]) for k in range(len(expected) - 1)]
    np.testing.assert_allclose(row[CLASSES].to_numpy(float), np.max(pairs, axis=0), rtol=1e-6)
    assert row["windows_above_low"] == row["windows_above_high"] == 0
    assert row["top_class"] == "background"  # no class clears its threshold of 0.5
    whole = predict.predict_files("run", [path])  # one block
    pd.testing.assert_frame_equal(whole, table)


def test_a_short_file_is_repeated_into_its_window_not_padded_with_silence(tmp_path, model):
    signal = noise(2.0, seed=1)
    table, windows = predict.predict_files("run", [write(tmp_path / "short.wav", signal)],
                                           return_windows=True)
    (window,) = model.seen
    left = (CLIP - len(signal)) // 2
    np.testing.assert_array_equal(window.numpy(), tile(signal, CLIP, offset=left))
    assert (window != 0).all()
    assert table["windows"].tolist() == [1] and table["duration_s"].tolist() == [2.0]
    assert windows[["start_s", "end_s"]].values.tolist() == [[0.0, 2.0]]


def test_a_file_shorter_than_one_stft_window_is_named_or_skipped(tmp_path, model):
    tiny = write(tmp_path / "tiny.wav", noise(0.01))  # 80 samples < n_fft = 1024
    good = write(tmp_path / "good.wav", noise(6.0))
    with pytest.raises(WhaleLabError, match=r"tiny\.wav: 0\.01 s is too short to score"):
        predict.predict_files("run", [good, tiny])
    with pytest.warns(UserWarning) as caught:
        table = predict.predict_files("run", [tiny, good], on_error="skip")
    assert table["file"].tolist() == [str(good)]
    messages = [str(warning.message) for warning in caught]
    assert messages[0].startswith(f"skipped {tiny}: 0.01 s is too short")
    assert messages[-1] == (f"1 of 2 file(s) could not be used and were skipped; first: "
                            f"{messages[0].removeprefix('skipped ')}")
    with pytest.raises(ConfigError, match="on_error"):
        predict.predict_files("run", [good], on_error="ignore")


def test_a_rate_below_the_runs_band_warns_or_is_refused_and_1_hz_always_is(tmp_path, model):
    low = write(tmp_path / "low.wav", noise(6.0, rate=4000), sr=4000)
    with pytest.warns(UserWarning) as caught:
        table = predict.predict_files("run", [low])
    note = "sample rate 4000 Hz: its Nyquist frequency 2000 Hz is below the run's fmax 4000 Hz"
    assert [str(warning.message) for warning in caught] == [f"{low}: {note}"]
    assert table["note"].tolist() == [note] and table["top_class"].notna().all()
    with pytest.raises(WhaleLabError, match=r"low\.wav: sample rate 4000 Hz cannot hold the "
                                            r"run's band 10-4000 Hz"):
        predict.predict_files("run", [low], low_rate="refuse")
    one_hz = write(tmp_path / "one_hz.wav", np.full(10, 0.1, np.float32), sr=1)
    for low_rate in ("warn", "refuse"):
        with pytest.raises(WhaleLabError, match=r"one_hz\.wav: sample rate 1 Hz cannot hold"):
            predict.predict_files("run", [one_hz], low_rate=low_rate)
    with pytest.raises(ConfigError, match="low_rate"):
        predict.predict_files("run", [low], low_rate="ignore")


def test_mostly_silent_files_and_windows_get_no_class(tmp_path, model):
    zeros = write(tmp_path / "zeros.wav", np.zeros(6 * SR, np.float32))
    flat = write(tmp_path / "flat.wav", np.full(6 * SR, 0.3, np.float32))
    gappy = np.concatenate([np.zeros(15 * SR, np.float32), noise(5.0)])  # 75 % silence
    gappy_path = write(tmp_path / "gappy.wav", gappy)
    half = np.concatenate([np.zeros(5 * SR, np.float32), noise(15.0, seed=2)])
    half_path = write(tmp_path / "half.wav", half)
    table, windows = predict.predict_files("run", [zeros, flat, gappy_path, half_path],
                                           return_windows=True)
    table = table.set_index("file")
    for path, share in [(zeros, 100), (flat, 100), (gappy_path, 75)]:
        row = table.loc[str(path)]
        assert row["top_class"] == "silence" and row[CLASSES].isna().all()
        assert row["note"] == (f"silence: {share}% of the samples are runs of exact zeros or "
                               f"a flat line of 0.5 s or more")
    # a quarter silent: its silent window goes unscored, the file keeps its class scores
    row = table.loc[str(half_path)]
    assert row["top_class"] != "silence" and row["note"] == ""
    mine = windows[windows["file"] == str(half_path)]
    assert mine[CLASSES].iloc[0].isna().all() and mine["note"].iloc[0].startswith("silence")
    assert mine[CLASSES].iloc[1:].notna().all().all() and (mine["note"].iloc[1:] == "").all()
    starts = [int(start * SR) for start in mine["start_s"].iloc[1:]]
    scored = expected_scores([half[start:start + CLIP] for start in starts])
    # the unscored first window counts for nothing: its neighbour stands alone
    pairs = [scored[0], *(np.minimum(scored[k], scored[k + 1]) for k in range(len(scored) - 1))]
    np.testing.assert_allclose(row[CLASSES].to_numpy(float), np.max(pairs, axis=0), rtol=1e-6)
    assert not any((window == 0).float().mean() > 0.5 for window in model.seen)


def test_cli_predict_skips_bad_files_and_writes_windows(tmp_path, model, capsys):
    good = write(tmp_path / "good.wav", noise(8.0))
    tiny = write(tmp_path / "tiny.wav", noise(0.01))
    out, windows = tmp_path / "p.csv", tmp_path / "w.csv"
    assert main(["predict", "run", str(good), str(tiny)]) == 2
    assert "tiny.wav" in capsys.readouterr().err
    with pytest.warns(UserWarning) as caught:
        assert main(["predict", "run", str(good), str(tiny), "--on-error", "skip",
                     "--out", str(out), "--windows", str(windows)]) == 0
    assert [str(warning.message).split(":")[0] for warning in caught] == [
        f"skipped {tiny}", "1 of 2 file(s) could not be used and were skipped; first"]
    assert capsys.readouterr().out == f"wrote {windows} (3 windows)\nwrote {out} (1 files)\n"
    assert pd.read_csv(out)["file"].tolist() == [str(good)]
    written = pd.read_csv(windows)
    assert list(written.columns) == ["file", "start_s", "end_s", *CLASSES, "note"]
    assert written["start_s"].tolist() == [0.0, 2.5, 3.0]


def test_a_real_tiny_model_predicts_through_its_run_folder(tmp_path):
    torch.manual_seed(0)
    run = tmp_path / "run"
    CONFIG.save(run / "config.json")
    write_classes(run, CLASSES, BANDS)
    save_checkpoint(run / "best.pt", {"model": build_model(CONFIG).state_dict()})
    files = [write(tmp_path / "a.wav", noise(7.0)), write(tmp_path / "b.wav", noise(3.0))]
    table = predict.predict_files(run, files, device="cpu")
    assert table["windows"].tolist() == [2, 1]
    assert table[CLASSES].to_numpy().min() >= 0 and table[CLASSES].to_numpy().max() <= 1
    assert set(table["top_class"]) <= {*CLASSES, "background"}


@pytest.mark.parametrize("subtype, peak_dbfs, tolerance",
                         [("PCM_16", -66.0, 0.02), ("PCM_U8", -30.0, 0.1)])
def test_a_quiet_16_bit_or_an_8_bit_call_is_not_silence_and_scores_as_at_full_level(
        tmp_path, monkeypatch, subtype, peak_dbfs, tolerance):
    # a 50 Hz call ("low" band) over noise 40 dB below it: at full level in float, and at
    # peak_dbfs in integer PCM (-30 dBFS is 4 steps of 8-bit, which has no -66 dBFS, and
    # whose quantisation noise, 20 dB below the call, moves the band share), where most
    # samples repeat the quantised value before them
    use(monkeypatch, BandShareModel())
    t = np.arange(12 * SR) / SR
    call = (0.5 * np.sin(2 * np.pi * 50 * t)
            + 0.005 * np.random.default_rng(0).standard_normal(len(t)))
    loud = write(tmp_path / "loud.wav", call.astype(np.float32))
    quiet = tmp_path / "quiet.wav"
    audio.write_audio(quiet, (call * 10 ** ((peak_dbfs + 6.02) / 20)).astype(np.float32), SR,
                      subtype=subtype)
    samples = audio.load_audio(quiet, SR)
    assert np.mean(samples[1:] == samples[:-1]) > 0.5  # what once was called silence
    table = predict.predict_files("run", [loud, quiet]).set_index("file")
    assert table.loc[str(quiet), "top_class"] == "low" and table.loc[str(quiet), "note"] == ""
    np.testing.assert_allclose(table.loc[str(quiet), CLASSES].to_numpy(float),
                               table.loc[str(loud), CLASSES].to_numpy(float), atol=tolerance)


def test_a_six_channel_file_is_read_from_the_channel_asked_for_and_mixing_it_is_warned_of(
        tmp_path, model, capsys):
    channels = np.zeros((8 * SR, 6), np.float32)
    channels[:, 2] = noise(8.0, seed=3)  # the call is on one hydrophone
    six = write(tmp_path / "six.wav", channels)
    mono = write(tmp_path / "mono.wav", channels[:, 2])
    chosen = predict.predict_files("run", [six], channel=2)
    alone = predict.predict_files("run", [mono])
    pd.testing.assert_frame_equal(chosen.drop(columns="file"), alone.drop(columns="file"))
    with pytest.warns(UserWarning) as caught:
        mixed = predict.predict_files("run", [six])
    (message,) = [str(warning.message) for warning in caught]
    assert message.startswith(f"{six}: its 6 channels are mixed into one")
    assert "--channel" in message
    assert "6 channels are mixed" in mixed["note"].iloc[0]
    assert mixed["low"].iloc[0] < chosen["low"].iloc[0] / 3
    with pytest.raises(WhaleLabError, match=r"six\.wav: channel 6 asked for, the file has 6"):
        predict.predict_files("run", [six], channel=6)
    out = tmp_path / "p.csv"
    assert main(["predict", "run", str(six), "--channel", "2", "--out", str(out)]) == 0
    assert pd.read_csv(out)["low"].tolist() == pytest.approx(chosen["low"].tolist())


def test_in_a_file_of_many_windows_a_class_needs_two_neighbouring_windows_above_its_threshold(
        tmp_path, monkeypatch):
    path = write(tmp_path / "minute.wav", noise(60.0))  # 23 windows of 5 s, 2.5 s apart
    scores = np.random.default_rng(0).uniform(0.0, 0.4, (23, len(CLASSES)))
    scores[[3, 10, 17], 0] = 0.9  # "low" clears its threshold in lone windows: chance
    use(monkeypatch, ScriptedModel(scores))
    table, windows = predict.predict_files("run", [path], return_windows=True)
    row = table.iloc[0]
    assert row["windows"] == 23 and row["top_class"] == "background"
    assert (row["windows_above_low"], row["windows_above_high"]) == (3, 0)
    assert row["low"] < 0.5
    np.testing.assert_allclose(windows[CLASSES].to_numpy(), scores, rtol=1e-6)  # per window
    scores[11, 0] = 0.8  # window 10's neighbour agrees: a call lies in both
    use(monkeypatch, ScriptedModel(scores))
    row = predict.predict_files("run", [path]).iloc[0]
    assert row["top_class"] == "low" and row["low"] == pytest.approx(0.8)
    assert row["windows_above_low"] == 4
