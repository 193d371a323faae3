"""whalelab advise: the sample rate, band, clip length and FFT a data set implies."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from whalelab import advise as advise_module
from whalelab.advise import Advice, advise
from whalelab.cli import main
from whalelab.config import FeatureConfig, frame_settings
from whalelab.errors import DataError

SRKW = Path(__file__).resolve().parent.parent / "data" / "examples" / "srkw"


def _tone(hz: float, rate: int, seconds: float, *, seed: int, level: float = 0.3) -> np.ndarray:
    """A tone in the middle of white noise, ``(samples,)`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    inside = (t > 0.2 * seconds) & (t < 0.8 * seconds)
    signal = level * np.sin(2 * np.pi * hz * t) * inside + 0.02 * rng.standard_normal(len(t))
    return signal.astype(np.float32)


def _write_set(root: Path, classes: dict[str, list[tuple[int, float]]], *, hz: dict[str, float],
               ) -> Path:
    """A folder per class; each class's files at the given (rate, seconds)."""
    for name, files in classes.items():
        (root / name).mkdir(parents=True)
        for i, (rate, seconds) in enumerate(files):
            signal = (0.02 * np.random.default_rng(i).standard_normal(int(rate * seconds))
                      .astype(np.float32) if name == "background"
                      else _tone(hz[name], rate, seconds, seed=i))
            soundfile.write(root / name / f"{name}_{i}.wav", signal, rate)
    return root


@pytest.fixture(scope="module")
def two_rates(tmp_path_factory):
    """'seal' recorded at 8 kHz (0.4-2.6 s), 'dolphin' at 32 kHz (0.2-1.2 s); no background."""
    root = tmp_path_factory.mktemp("two_rates")
    seal = [(8000, 0.4 + 0.2 * i) for i in range(12)]
    dolphin = [(32000, 0.2 + 0.1 * (i % 11)) for i in range(12)]
    return _write_set(root, {"seal": seal, "dolphin": dolphin},
                      hz={"seal": 600.0, "dolphin": 9000.0})


def _lengths(root: Path) -> np.ndarray:
    return np.array([soundfile.info(path).duration for path in sorted(root.rglob("*.wav"))])


def test_the_band_reaches_what_half_the_clips_hold_and_the_rest_keep_an_empty_top(two_rates):
    advice = advise(two_rates)
    # half the clips (the dolphin's) hold 16 kHz: the seal's 8 kHz files are not allowed
    # to narrow everyone's band to 4 kHz; they keep an empty top, which the field
    # profile's band limits make common to every class in training
    assert (advice.sample_rate, advice.fmax) == (32000, 16000.0)
    assert advice.low_rate_clips == 12
    assert "12 clip(s) below it keep an empty top" in advice.reasons["fmax"]
    assert "band_limit" in advice.reasons["fmax"]
    assert advice.sample_rates == {8000: 12, 32000: 12}
    assert [summary.name for summary in advice.classes] == ["dolphin", "seal"]
    assert {summary.name: summary.sample_rates for summary in advice.classes} == \
        {"dolphin": (32000,), "seal": (8000,)}
    assert {summary.name: summary.clips for summary in advice.classes} == \
        {"dolphin": 12, "seal": 12}
    # no call-free audio: the estimated band is not trusted to narrow the band or raise fmin
    assert not advice.band_from_calls
    assert advice.fmin == FeatureConfig().fmin


def test_the_clip_length_holds_three_quarters_of_the_clips(two_rates):
    advice = advise(two_rates)
    lengths = _lengths(two_rates)
    assert np.mean(lengths <= advice.clip_seconds) >= 0.75
    assert np.mean(lengths <= advice.clip_seconds - 0.25) < 0.75  # no longer than needed
    assert advice.durations["min"] == pytest.approx(lengths.min())
    assert advice.durations["max"] == pytest.approx(lengths.max())


def test_frames_suit_the_advised_rate(two_rates):
    advice = advise(two_rates)
    window_ms = 1000 * advice.n_fft / advice.sample_rate
    hop_ms = 1000 * advice.hop_length / advice.sample_rate
    assert 20 <= window_ms <= 130 and 5 <= hop_ms <= 16
    settings = advice.settings()
    stripes = settings.pop("time_drop_width")
    features = FeatureConfig(**settings)  # a configuration that validates
    assert features.clip_samples >= features.n_fft
    # two SpecAugment stripes hide at most about a fifth of the clip, as on the 5 s default
    assert 0.1 <= 2 * stripes / features.n_frames <= 0.25


def test_one_odd_low_rate_file_does_not_narrow_every_class(tmp_path):
    root = _write_set(tmp_path, {
        "seal": [(32000, 1.0)] * 11 + [(8000, 1.0)],  # one file of twelve at 8 kHz
        "dolphin": [(32000, 1.0)] * 12}, hz={"seal": 600.0, "dolphin": 9000.0})
    advice = advise(root)
    assert (advice.sample_rate, advice.fmax) == (32000, 16000.0)
    assert advice.low_rate_clips == 1  # it keeps an empty top
    assert "1 clip(s)" in advice.reasons["fmax"]


def test_when_most_clips_are_low_rate_their_band_is_the_run_s(tmp_path):
    root = _write_set(tmp_path, {
        "seal": [(8000, 1.0)] * 6,
        "dolphin": [(8000, 1.0)] * 2 + [(32000, 1.0)] * 4}, hz={"seal": 600.0, "dolphin": 3000.0})
    advice = advise(root)
    # 4 clips of 12 hold 16 kHz, 8 hold 4 kHz: a third is not half, the band stops at 4 kHz
    assert (advice.sample_rate, advice.fmax) == (8000, 4000.0)
    assert advice.low_rate_clips == 0


def test_rates_above_32_khz_are_capped_to_keep_the_frames_16_ms_apart(tmp_path):
    root = _write_set(tmp_path, {name: [(96000, 0.5)] * 4 for name in ("a", "b")},
                      hz={"a": 2000.0, "b": 30000.0})
    advice = advise(root)
    assert (advice.sample_rate, advice.fmax) == (32000, 16000.0)
    assert 1000 * advice.hop_length / advice.sample_rate == 16.0
    assert FeatureConfig(**frame_settings(48000), sample_rate=48000, fmax=16000.0
                         ).hop_length / 48000 < 0.016  # a higher rate: denser frames
    assert "capped at 16000 Hz" in advice.reasons["fmax"]


def test_with_call_free_audio_the_band_narrows_to_the_calls(tmp_path):
    """Tones at 300 and 500 Hz recorded at 16 kHz, with background clips of the same noise."""
    root = _write_set(tmp_path, {name: [(16000, 1.0)] * 10
                                 for name in ("low", "high", "background")},
                      hz={"low": 300.0, "high": 500.0})
    advice = advise(root)
    assert advice.band_from_calls
    assert advice.band[0] <= 300 <= 500 <= advice.band[1] < 1000
    assert 500 < advice.fmax <= 2000  # about an octave above the calls, far below 8 kHz
    assert advice.sample_rate == 2 * advice.fmax
    assert 0 <= advice.fmin <= 300 / 1.5  # below the lowest call
    assert [summary.name for summary in advice.classes] == ["high", "low", "background"]


def test_short_clips_get_the_shortest_clip_length(tmp_path):
    root = _write_set(tmp_path, {name: [(16000, 0.05)] * 6 for name in ("a", "b")},
                      hz={"a": 1000.0, "b": 3000.0})
    advice = advise(root)
    assert advice.clip_seconds == 0.5
    assert advice.durations["max"] == pytest.approx(0.05)


@pytest.mark.skipif(not SRKW.is_dir(), reason="data/examples/srkw is absent")
def test_the_shipped_killer_whale_calls():
    advice = advise(SRKW)
    table = pd.read_csv(SRKW / "manifest.csv")
    infos = [soundfile.info(SRKW / path) for path in table.path]
    rates = sorted(info.samplerate for info in infos)
    # 30 calls at 44.1 kHz and one at 22.05 kHz: the one does not halve everyone's band;
    # the 22 kHz the rest hold is capped at 16 kHz, and the 11 kHz file keeps an empty top
    assert rates.count(44100) >= 0.9 * len(rates)
    assert (advice.sample_rate, advice.fmax) == (32000, 16000.0)
    assert advice.low_rate_clips == rates.count(22050)
    assert "capped at 16000 Hz" in advice.reasons["fmax"]
    lengths = np.array([info.duration for info in infos])
    assert np.quantile(lengths, 0.75) <= advice.clip_seconds < np.quantile(lengths, 0.75) + 0.25
    assert advice.clips == len(table) and [c.name for c in advice.classes] == ["killer_whale"]
    report = advice.report()
    assert "44.1 kHz (30)" in report and f"--profile {advice.profile}" in report


def _advice(**settings) -> Advice:
    values = dict(data="d", clips=1, sample_rates={20000: 1}, durations={}, classes=[],
                  band=None, band_from_calls=False, sample_rate=20000, fmin=50.0, fmax=8000.0,
                  clip_seconds=2.0, n_fft=1024, hop_length=320, time_drop_width=12,
                  low_rate_clips=0,
                  profile="field", reasons={})
    return Advice(**{**values, **settings})


def test_what_the_user_names_wins_over_the_advice():
    merged = _advice().overrides({"fmin": 100.0, "clip_seconds": None, "epochs": 3})
    assert merged == {"fmin": 100.0, "clip_seconds": 2.0, "epochs": 3, "sample_rate": 20000,
                      "fmax": 8000.0, "n_fft": 1024, "hop_length": 320, "time_drop_width": 12}


def test_a_sample_rate_the_user_gives_brings_its_own_band_and_frames():
    merged = _advice().overrides({"sample_rate": 4000})
    assert merged["sample_rate"] == 4000
    assert not {"fmax", "n_fft", "hop_length"} & set(merged)  # they follow 4000 Hz instead
    assert merged["fmin"] == 50.0 and merged["clip_seconds"] == 2.0


def test_the_command_prints_the_advice(two_rates, capsys):
    assert main(["advise", str(two_rates)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  sample_rate +32000 +twice fmax", out, re.MULTILINE)
    assert "seal" in out and "dolphin" in out
    assert f"whalelab train --data {two_rates} --out RUN --profile " in out


@pytest.mark.parametrize("installed", [True, False])
def test_the_probe_is_advised_with_a_speed_that_lifts_low_calls_where_birdnet_is_installed(
        tmp_path, monkeypatch, installed):
    """Tones at 20 and 40 Hz with call-free clips: x8 puts the lowest near 160 Hz."""
    monkeypatch.setattr(advise_module, "birdnet_installed", lambda: installed)
    root = _write_set(tmp_path, {name: [(2000, 2.0)] * 10
                                 for name in ("fin", "low", "background")},
                      hz={"fin": 20.0, "low": 40.0})
    advice = advise(root)
    assert advice.band_from_calls and advice.band[0] < 20
    assert advice.speed == 8
    assert advice.extra_speeds == ()  # fmax 1 kHz at x8: 8 kHz, inside BirdNET's band
    assert advice.profile == ("probe" if installed else "field")
    report = advice.report()
    assert ("--profile probe --speed 8" in report) is installed
    assert advice.blend is installed  # calls below BirdNET's band: the DenseNet beside it
    assert ("whalelab blend RUN-densenet RUN-probe --out RUN" in report) is installed
    assert re.search(r"^  speed +8 +the probe's: lifts the calls' lowest band edge", report,
                     re.MULTILINE)


def test_without_a_band_to_place_the_speed_stays_1(two_rates, monkeypatch):
    monkeypatch.setattr(advise_module, "birdnet_installed", lambda: True)
    advice = advise(two_rates)
    assert advice.speed == 1 and "speed" in advice.reasons
    assert not advice.blend and "whalelab blend" not in advice.report()  # the probe alone
    # fmax 16 kHz lies above the 15 kHz BirdNET hears: x0.5 brings it to 8 kHz, beside x1
    assert advice.extra_speeds == (0.5,)
    assert "--profile probe --speed 1 0.5" in advice.report()
    assert "heard at x0.5 too" in advice.reasons["speed"]


def test_the_probe_hears_the_highest_rate_recorded_with_its_top_brought_into_band(
        tmp_path, monkeypatch):
    """'bat' recorded at 64 kHz, 'seal' at 8 kHz: the DenseNet stays at 32 kHz, the probe
    reads at 64 kHz, and its 32 kHz top needs x0.25 to fall inside BirdNET's 15 kHz."""
    monkeypatch.setattr(advise_module, "birdnet_installed", lambda: True)
    root = _write_set(tmp_path, {"bat": [(64000, 0.5)] * 6, "seal": [(8000, 0.5)] * 6},
                      hz={"bat": 20000.0, "seal": 600.0})
    advice = advise(root)
    assert (advice.sample_rate, advice.probe_sample_rate) == (32000, 64000)
    assert advice.extra_speeds == (0.25,)
    assert "the probe reads at 64000 Hz" in advice.reasons["sample_rate"]


def test_the_command_names_a_missing_folder(tmp_path, capsys):
    assert main(["advise", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("whalelab: ") and "nowhere" in err and len(err.splitlines()) == 1


def test_no_audio_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path)):
        advise(tmp_path)



def test_the_band_is_estimated_only_where_every_class_is_recorded(tmp_path):
    """'low' is recorded at 8 kHz only: its empty top above 4 kHz is no call band."""
    root = _write_set(tmp_path, {"low": [(8000, 1.0)] * 10, "high": [(32000, 1.0)] * 10,
                                 "background": [(32000, 1.0)] * 10},
                      hz={"low": 300.0, "high": 500.0})
    advice = advise(root)
    assert advice.band_from_calls
    assert advice.band[0] <= 300 <= 500 <= advice.band[1] <= 4000
    assert 0 <= advice.fmin <= 300 / 1.5  # below the lowest call
    assert advice.sample_rate == 2 * advice.fmax <= 8000


def test_the_probe_takes_gentler_steps_on_few_clips_a_class(tmp_path, two_rates, monkeypatch):
    """12 clips a class: the few-clips learning rate; 120 of 'seal' and 'dolphin' (and 10
    call-free clips, which do not count): the profile's own."""
    monkeypatch.setattr(advise_module, "birdnet_installed", lambda: True)
    few = advise(two_rates)
    assert few.probe_learning_rate == advise_module.FEW_CLIPS_LEARNING_RATE
    assert re.search(r"^  learning_rate +0.0003 +the probe's: 12 clips a class", few.report(),
                     re.MULTILINE)
    many = advise(_write_set(tmp_path, {"seal": [(2000, 0.5)] * 120,
                                        "dolphin": [(2000, 0.5)] * 120,
                                        "background": [(2000, 0.5)] * 10},
                             hz={"seal": 300.0, "dolphin": 700.0}))
    assert many.probe_learning_rate is None
    assert "the probe profile's: 120 clips a class" in many.reasons["learning_rate"]
