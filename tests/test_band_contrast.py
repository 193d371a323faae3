"""Band contrast: where a call's energy stands above the noise floor of its class's band."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from whalelab.band_contrast import BandContrast, class_band_mask
from whalelab.config import FeatureConfig
from whalelab.errors import WhaleLabError

FEATURES = FeatureConfig()  # 8 kHz, 5 s windows, 62.5 frames/s
BANDS = {"minke": (900.0, 1900.0), "fin": (12.0, 35.0)}


def burst_in_noise(seed: int = 0) -> np.ndarray:
    """5 s of white noise with a 1.2 kHz tone 20 dB above it (in its band) from 2 to 3 s."""
    rng = np.random.default_rng(seed)
    sr = FEATURES.sample_rate
    signal = 0.01 * rng.standard_normal(FEATURES.clip_samples)
    t = np.arange(sr) / sr
    signal[2 * sr:3 * sr] += 0.3 * np.sin(2 * np.pi * 1200 * t)
    return signal.astype(np.float32)


def test_the_contrast_rises_in_the_calls_band_during_the_call_only():
    contrast = BandContrast(FEATURES, BANDS, ["minke", "fin"])
    waveforms = torch.from_numpy(np.stack([burst_in_noise(0), burst_in_noise(1)]))
    with torch.no_grad():
        result = contrast(waveforms).numpy()  # (batch, frames, classes)
    assert result.shape == (2, FEATURES.n_frames, 2)
    fps = FEATURES.frames_per_second
    during = slice(int(2.2 * fps), int(2.8 * fps))
    away = np.r_[int(0.5 * fps):int(1.7 * fps), int(3.3 * fps):int(4.5 * fps)]
    for example in result:
        assert example[during, 0].min() > 15  # minke band: the tone
        assert example[away, 0].max() < 8  # minke band, noise only: near its floor
        assert example[during, 1].max() < 8  # fin band does not hear a 1.2 kHz tone


def test_the_contrast_does_not_depend_on_the_recording_level():
    contrast = BandContrast(FEATURES, BANDS, ["minke", "fin"])
    waveform = torch.from_numpy(burst_in_noise())[None]
    with torch.no_grad():
        torch.testing.assert_close(contrast(0.01 * waveform), contrast(waveform),
                                   atol=1e-3, rtol=0)


def test_class_band_masks():
    mask = class_band_mask(FEATURES, {**BANDS, "none": (np.nan, np.nan)}, ["minke", "fin", "none"])
    centres = librosa.mel_frequencies(n_mels=FEATURES.n_mels + 2, fmin=FEATURES.fmin,
                                      fmax=FEATURES.fmax, htk=True)[1:-1]
    minke = centres[mask[:, 0]]
    assert minke.min() >= 900 / 1.2 and minke.max() <= 1900 * 1.2 and len(minke) > 3
    assert mask[:, 1].sum() == 1 and mask[0, 1]  # fin: below the lowest centre -> band 0
    assert mask[:, 2].all()  # no band: every mel band


@pytest.mark.parametrize("settings", [{"floor_percentile": 120.0}, {"smooth_frames": 4}])
def test_bad_settings_are_user_errors(settings):
    with pytest.raises(WhaleLabError):
        BandContrast(FEATURES, BANDS, ["minke"], **settings)
    with pytest.raises(WhaleLabError, match="band"):
        class_band_mask(FEATURES, {"x": (500.0, 100.0)}, ["x"])
