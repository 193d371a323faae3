"""What audio detection reads: the one rule prediction and training apply too
(:class:`whalelab.audio.AudioRule`), refusals and warnings alike."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from whalelab import audio, predict
from whalelab.checkpoint import TrainedModel
from whalelab.config import RunConfig
from whalelab.detection import detect_recording, detection_settings
from whalelab.errors import AudioError

SR = 8000
CLASSES = ["low", "high"]
CONFIG = RunConfig.from_profile("smoke", data="", classes=CLASSES, backbone="tiny")
BANDS = {"low": (10.0, 100.0), "high": (500.0, 2000.0)}


class SureModel(nn.Module):
    """Stand-in sure of "low" everywhere: any audio it is given becomes an event."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        frames = 1 + waveform.shape[1] // CONFIG.features.hop_length
        sure = torch.tensor([1.0, 0.0]) * self.scale
        return {"framewise_output": sure.expand(len(waveform), frames, len(CLASSES)),
                "clipwise_output": sure.expand(len(waveform), len(CLASSES))}


def trained(config: RunConfig = CONFIG) -> TrainedModel:
    return TrainedModel(model=SureModel(), config=config, bands=BANDS,
                        thresholds=np.full(len(CLASSES), 0.5), source=Path("stand-in"))


def detect(path: Path, config: RunConfig = CONFIG, **options):
    return detect_recording(trained(config), path, settings=detection_settings(config, trim=False),
                            **options)


def write(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    audio.write_audio(path, samples, sr, subtype="FLOAT")
    return path


def noise(seconds: float, rate: int = SR, channels: int | None = None) -> np.ndarray:
    shape = (int(seconds * rate),) + ((channels,) if channels else ())
    return np.random.default_rng(0).uniform(-0.5, 0.5, shape).astype(np.float32)


def refusal(read) -> str:
    with pytest.raises(AudioError) as caught:
        read()
    return str(caught.value)


@pytest.mark.parametrize("name, samples, rate", [
    ("one_hz.wav", np.full(20, 0.1, np.float32), 1),  # Nyquist 0.5 Hz: below fmin
    ("tiny.wav", noise(0.01), SR)])  # 80 samples: less than one STFT window (1024)
def test_detection_refuses_what_prediction_refuses_with_the_same_line(tmp_path, monkeypatch,
                                                                      name, samples, rate):
    path = write(tmp_path / name, samples, rate)
    monkeypatch.setattr(predict, "load_model", lambda source, **kwargs: trained())
    detected = refusal(lambda: detect(path))
    assert detected == refusal(lambda: predict.predict_files("run", [path]))
    assert detected.startswith(f"{path}: ") and "\n" not in detected


def test_detection_warns_of_a_rate_below_fmax_or_refuses_it_as_the_run_says(tmp_path):
    low = write(tmp_path / "low.wav", noise(12.0, rate=4000), 4000)  # Nyquist 2 kHz < 4 kHz
    with pytest.warns(UserWarning) as caught:
        detect(low)
    assert [str(warning.message) for warning in caught] == [
        f"{low}: sample rate 4000 Hz: its Nyquist frequency 2000 Hz is below the run's fmax "
        f"4000 Hz"]
    refusing = dataclasses.replace(CONFIG, data=dataclasses.replace(CONFIG.data,
                                                                    low_rate="refuse"))
    assert refusal(lambda: detect(low, refusing)).startswith(
        f"{low}: sample rate 4000 Hz cannot hold the run's band 10-4000 Hz")


def test_detection_warns_of_six_channels_mixed_and_reads_the_channel_asked_for(tmp_path):
    six = write(tmp_path / "six.wav", noise(12.0, channels=6))
    with pytest.warns(UserWarning, match=r"six\.wav: its 6 channels are mixed into one.*"
                                         r"--channel"):
        detect(six)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        detect(six, channel=4)
    assert caught == []  # one channel chosen: nothing to warn of
    assert refusal(lambda: detect(six, channel=6)) == (
        f"{six}: channel 6 asked for, the file has 6 channel(s)")
