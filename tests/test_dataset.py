"""ClipDataset's training augmentation (the random equaliser and band limits), a run's
dataset (:meth:`ClipDataset.for_run`) and its named items (crop and pad: test_data.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile
import torch
from torch.utils.data import DataLoader

from whalelab.config import RunConfig, TrainConfig
from whalelab.data import Clip, ClipDataset, ClipIndex, ClipItem
from whalelab.data.dataset import low_pass, random_equaliser
from whalelab.errors import AudioError, ConfigError

RATE = 8000


def _gain_db(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-bin gain in dB of ``after`` over ``before`` ``(bins,)``, zero frequency left out."""
    return 20 * np.log10(np.abs(np.fft.rfft(after))[1:] / np.abs(np.fft.rfft(before))[1:])


def test_a_tilt_lifts_the_bottom_and_lowers_the_top_by_at_most_max_db():
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32)
    gain = _gain_db(noise, random_equaliser(noise, max_db=6.0,
                                            coefficients=np.array([1.0, 0.0, 0.0])))
    assert gain[0] == pytest.approx(2.0, abs=0.01)  # cos(0) / 3 terms: a third of 6 dB
    assert gain[-1] == pytest.approx(-2.0, abs=0.01)  # cos(pi) at the Nyquist frequency
    assert np.all(np.diff(gain) <= 1e-3)  # falls steadily, no ripple
    full = _gain_db(noise, random_equaliser(noise, max_db=6.0, coefficients=np.ones(3)))
    assert np.abs(full).max() <= 6.0 + 1e-3 and full[0] == pytest.approx(6.0, abs=0.01)


def test_the_curve_is_smooth_over_log_frequency():
    """An octave apart high up differs no more than an octave apart low down."""
    noise = np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    gain = _gain_db(noise, random_equaliser(noise, max_db=10.0,
                                            coefficients=np.array([0.3, -0.8, 0.5])))
    octave_steps = [abs(gain[2 * f - 1] - gain[f - 1]) for f in (8, 64, 512, 1999)]
    assert max(octave_steps) < 10.0 and np.ptp(octave_steps) < 8.0
    assert np.abs(np.diff(gain[1000:])).max() < 0.01  # no jumps between neighbouring bins


@pytest.fixture
def one_clip(tmp_path):
    path = tmp_path / "a.wav"
    soundfile.write(path, np.random.default_rng(2).standard_normal(RATE).astype(np.float32) * 0.1,
                    RATE)
    return ClipIndex([Clip(str(path), labels=("a",))], ["a"])


def test_training_items_are_equalised_evaluation_items_never(one_clip):
    plain = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0, train=True)
    equalised = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0, train=True,
                            equalise_db=10.0)
    evaluated = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0, equalise_db=10.0)
    torch.manual_seed(0)
    first = equalised[0].waveform.numpy()
    second = equalised[0].waveform.numpy()
    reference = plain[0].waveform.numpy()
    assert not np.allclose(first, reference, atol=1e-3)  # coloured
    assert not np.allclose(first, second, atol=1e-3)  # differently each time
    assert np.abs(_gain_db(reference, first)).max() <= 10.0 + 1e-2
    np.testing.assert_array_equal(evaluated[0].waveform.numpy(), reference)  # evaluation: untouched
    torch.manual_seed(0)
    np.testing.assert_array_equal(equalised[0].waveform.numpy(), first)  # the seed decides


def test_the_cached_audio_is_never_written_into(one_clip):
    dataset = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0, train=True,
                          equalise_db=10.0)
    dataset.preload()
    before = dataset.waveform(0).copy()
    for _ in range(3):
        dataset[0]
    np.testing.assert_array_equal(dataset.waveform(0), before)


def test_a_negative_equaliser_is_refused():
    with pytest.raises(ConfigError, match="equalise_db"):
        TrainConfig(equalise_db=-1.0)
    with pytest.raises(ConfigError, match="equalise_db"):
        ClipDataset(ClipIndex([], ["a"]), sample_rate=RATE, clip_seconds=1.0, equalise_db=-1.0)


def _energy_above(waveform: np.ndarray, hz: float, *, rate: int) -> float:
    """Share of ``waveform``'s energy above ``hz``."""
    power = np.abs(np.fft.rfft(waveform)) ** 2
    return float(power[np.fft.rfftfreq(len(waveform), 1 / rate) > hz].sum() / power.sum())


def test_a_low_pass_leaves_nothing_above_the_cutoff_and_the_rest_alone():
    noise = np.random.default_rng(3).standard_normal(2 * RATE).astype(np.float32)
    kept = low_pass(noise, sample_rate=RATE, cutoff=1500.0)
    assert _energy_above(noise, 1500.0, rate=RATE) > 0.5  # white: most of it lies above
    assert _energy_above(kept, 1500.0, rate=RATE) < 1e-10
    below = np.fft.rfftfreq(len(noise), 1 / RATE) <= 1500.0
    np.testing.assert_allclose(np.fft.rfft(kept)[below], np.fft.rfft(noise)[below],
                               rtol=1e-3, atol=1e-2)


@pytest.fixture
def two_rates(tmp_path):
    """White noise at 16 kHz (class 'wide') and at 8 kHz (class 'narrow', Nyquist 4 kHz)."""
    paths = []
    for name, rate in (("wide", 2 * RATE), ("narrow", RATE)):
        path = tmp_path / f"{name}.wav"
        soundfile.write(path, 0.1 * np.random.default_rng(4).standard_normal(rate)
                        .astype(np.float32), rate)
        paths.append(Clip(str(path), labels=(name,)))
    return ClipIndex(paths, ["narrow", "wide"])


def test_training_clips_of_every_class_get_the_empty_top_of_the_low_rate_files(two_rates):
    options = dict(sample_rate=2 * RATE, clip_seconds=1.0, band=(10.0, float(RATE)))
    with pytest.warns(UserWarning, match="narrow.wav: sample rate 8000 Hz"):
        limited = ClipDataset(two_rates, train=True, band_limit=1.0, **options)
    assert limited.cutoffs.tolist() == [RATE / 2]  # the only Nyquist frequency below fmax
    assert limited.clip(0).labels == ("wide",)
    torch.manual_seed(0)
    for _ in range(3):
        assert _energy_above(limited[0].waveform.numpy(), RATE / 2, rate=2 * RATE) < 1e-10
    with pytest.warns(UserWarning):
        evaluated = ClipDataset(two_rates, band_limit=1.0, **options)
    # evaluation is never band-limited: the wide clip keeps its top half
    assert _energy_above(evaluated[0].waveform.numpy(), RATE / 2, rate=2 * RATE) > 0.4
    with pytest.warns(UserWarning):
        half = ClipDataset(two_rates, train=True, band_limit=0.5, **options)
    tops = [_energy_above(half[0].waveform.numpy(), RATE / 2, rate=2 * RATE) for _ in range(40)]
    assert 8 <= sum(top < 1e-10 for top in tops) <= 32  # about half of the draws
    assert all(top < 1e-10 or top > 0.4 for top in tops)


def test_without_a_band_or_low_rate_files_nothing_is_band_limited(two_rates, one_clip):
    torch.manual_seed(0)
    unchecked = ClipDataset(two_rates, sample_rate=2 * RATE, clip_seconds=1.0, train=True,
                            band_limit=1.0)
    assert len(unchecked.cutoffs) == 0
    assert _energy_above(unchecked[0].waveform.numpy(), RATE / 2, rate=2 * RATE) > 0.4
    one_rate = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0, train=True,
                           band_limit=1.0, band=(10.0, RATE / 2))
    assert len(one_rate.cutoffs) == 0


def test_a_band_limit_outside_0_to_1_is_refused():
    with pytest.raises(ConfigError, match="band_limit"):
        TrainConfig(band_limit=1.5)
    with pytest.raises(ConfigError, match="band_limit"):
        ClipDataset(ClipIndex([], ["a"]), sample_rate=RATE, clip_seconds=1.0, band_limit=-0.1)


def test_many_low_rate_files_are_counted_in_one_warning(tmp_path):
    clips = []
    for i, rate in enumerate([4000] * 3 + [6000] * 2 + [RATE]):
        path = tmp_path / f"c{i}.wav"
        soundfile.write(path, np.zeros(rate, np.float32), rate)
        clips.append(Clip(str(path), labels=("a",)))
    with pytest.warns(UserWarning) as caught:
        ClipDataset(ClipIndex(clips, ["a"]), sample_rate=RATE, clip_seconds=1.0,
                    band=(10.0, RATE / 2))
    assert [str(warning.message) for warning in caught] == [
        f"5 files at 4000, 6000 Hz cannot hold the run's fmax 4000 Hz and keep an empty top "
        f"(the first: {tmp_path / 'c0.wav'})"]


def test_a_runs_dataset_reads_every_setting_from_its_configuration(two_rates):
    config = RunConfig.from_profile("smoke", data="d", classes=["narrow", "wide"],
                                    sample_rate=2 * RATE, clip_seconds=0.5, hop_length=100,
                                    equalise_db=4.0, band_limit=0.25, low_rate="refuse")
    with pytest.raises(AudioError, match="narrow.wav"):  # the run's low_rate and band
        ClipDataset.for_run(two_rates, config, train=True)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, low_rate="warn"))
    with pytest.warns(UserWarning, match="narrow.wav"):
        training = ClipDataset.for_run(two_rates, config, train=True)
    assert (training.sample_rate, training.samples, training.hop_length, training.train,
            training.equalise_db, training.band_limit) == (2 * RATE, RATE, 100, True, 4.0, 0.25)
    assert training.cutoffs.tolist() == [RATE / 2]
    item = training[0]
    assert item.waveform.shape == (RATE,) and item.frame_target.shape == (1 + RATE // 100, 2)
    with pytest.warns(UserWarning):
        evaluated = ClipDataset.for_run(two_rates, config)
    assert not evaluated.train


def test_items_are_named_and_a_batch_of_them_is_too(one_clip):
    dataset = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0, hop_length=100)
    item = dataset[0]
    assert isinstance(item, ClipItem) and item.target.tolist() == [1.0]
    batch = next(iter(DataLoader(dataset, batch_size=1)))
    assert isinstance(batch, ClipItem)
    assert batch.waveform.shape == (1, RATE) and batch.frame_target.shape == (1, 81, 1)
    assert batch.strong.shape == (1,)
    clip_labels_only = ClipDataset(one_clip, sample_rate=RATE, clip_seconds=1.0)[0]
    assert clip_labels_only.frame_target.shape == (0, 1) and clip_labels_only.strong == 0
