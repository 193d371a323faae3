"""The synthetic data set: call models in their published ranges, noise, layout, determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from whalelab import synth
from whalelab.bands import dataset_bands, read_bands
from whalelab.cli import main
from whalelab.data import load_index
from whalelab.errors import ConfigError
from whalelab.profiles import resolve_profile
from whalelab.raven import read_raven
from whalelab.synth import dataset as synth_dataset

SR = 8000
# published ranges (DESIGN.md §4) that each species' spectral peak must fall in
PEAK_HZ = {
    "blue_whale": (17.0, 53.0),       # B call 3rd harmonic ~50 -> 44 Hz, Z call 28 -> 18 Hz
    "fin_whale": (14.0, 32.0),        # ~30 -> 15 Hz
    "right_whale": (50.0, 220.0),     # upcall fundamental ~50 -> 200 Hz
    "humpback_whale": (80.0, 4000.0),
    "minke_whale": (1250.0, 1550.0),  # ~1.4 kHz
    "killer_whale": (500.0, 2000.0),  # fundamental 0.5-2 kHz
}
# published durations in seconds (humpback: each song unit)
DURATION_S = {"blue_whale": (10.0, 20.0), "fin_whale": (0.7, 1.3), "right_whale": (0.5, 1.5),
              "humpback_whale": (0.1, 4.0), "minke_whale": (1.5, 3.5),
              "killer_whale": (0.5, 1.5)}
SEEDS = range(8)


def _energy_between(samples: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(samples.astype(float))) ** 2
    frequency = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    return power[(frequency >= low) & (frequency <= high)].sum() / power.sum()


def _units(samples: np.ndarray, sample_rate: int) -> list[int]:
    """Lengths of the stretches between runs of exact silence at least 50 ms long."""
    silent = np.concatenate([[True], samples == 0, [True]])
    edges = np.flatnonzero(np.diff(silent.astype(int)))  # starts and ends of sound
    starts, ends = edges[::2], edges[1::2]
    merged = [[starts[0], ends[0]]]
    for start, end in zip(starts[1:], ends[1:]):
        if start - merged[-1][1] < 0.05 * sample_rate:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [end - start for start, end in merged]


def _digest(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.make_dataset(tmp_path_factory.mktemp("synth") / "set", profile="smoke",
                              seed=0, per_class=3, progress=False)


def test_classes_and_bands_are_consistent():
    assert synth.SPECIES == ["blue_whale", "fin_whale", "right_whale", "humpback_whale",
                             "minke_whale", "killer_whale"]
    assert synth.BACKGROUND == "background"
    assert set(synth.CALL_BANDS) == set(synth.SPECIES) == set(synth.CALL_MODELS)
    assert all(0 < low < high <= 4000 for low, high in synth.CALL_BANDS.values())


@pytest.mark.parametrize("species", synth.SPECIES)
def test_each_call_sits_in_its_published_band_and_duration(species):
    low, high = synth.CALL_BANDS[species]
    for seed in SEEDS:
        sound = synth.render_call(species, np.random.default_rng(seed), SR)
        samples = sound.samples
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert np.isfinite(samples).all()
        # every rendered component inside the class band, the boxed band inside it too
        assert _energy_between(samples, SR, low, high) > 0.99
        assert low <= sound.low_hz < sound.high_hz <= high
        assert _energy_between(samples, SR, sound.low_hz - 2, sound.high_hz + 2) > 0.9
        spectrum = np.abs(np.fft.rfft(samples))
        peak = np.fft.rfftfreq(len(samples), 1 / SR)[spectrum.argmax()]
        assert PEAK_HZ[species][0] <= peak <= PEAK_HZ[species][1], (seed, peak)
        shortest, longest = DURATION_S[species]
        lengths = _units(samples, SR) if species == "humpback_whale" else [len(samples)]
        assert all(shortest <= length / SR <= longest for length in lengths), (seed, lengths)
        # smooth onset and offset: no click at either end
        assert abs(samples[0]) < 1e-3 * np.abs(samples).max()
        assert abs(samples[-1]) < 1e-3 * np.abs(samples).max()


@pytest.mark.parametrize("species", synth.SPECIES)
def test_calls_vary_from_draw_to_draw(species):
    first, second = (synth.call(species, np.random.default_rng(seed), SR) for seed in (0, 1))
    assert len(first) != len(second) or not np.allclose(first, second)


@pytest.mark.parametrize("sample_rate", [4000, 6000, 16000, 22050])
@pytest.mark.parametrize("species", synth.SPECIES)
def test_calls_never_alias(species, sample_rate):
    top = min(4000.0, 0.95 * sample_rate / 2)
    for seed in range(4):
        samples = synth.call(species, np.random.default_rng(seed), sample_rate)
        assert len(samples) > 0 and np.abs(samples).max() > 0
        assert _energy_between(samples, sample_rate, top, sample_rate / 2) < 1e-4


def test_ocean_noise_falls_with_frequency_and_is_never_silent():
    for seed in SEEDS:
        noise = synth.ocean_noise(np.random.default_rng(seed), 5 * SR, SR)
        assert noise.dtype == np.float32 and np.sqrt(np.mean(noise ** 2)) == pytest.approx(1, 1e-3)
        assert np.abs(noise).min() < np.abs(noise).max()  # not constant
        # power per Hz below 500 Hz well above that between 2 and 4 kHz
        low = _energy_between(noise, SR, 20, 500) / 480
        high = _energy_between(noise, SR, 2000, 3900) / 1900
        assert low > 4 * high


@pytest.mark.parametrize("label", synth.LABELS)
def test_a_clip_is_ocean_noise_plus_a_call_in_its_band(label):
    for seed in range(3):
        clip = synth.example_clip(label, seed=seed).astype(float)
        assert clip.shape == (5 * SR,) and np.isfinite(clip).all()
        assert -20.01 <= 20 * np.log10(np.abs(clip).max()) <= -2.99
        # the same draws without the call: remove the noise, what is left is the call
        noise = synth.ocean_noise(synth_dataset._clip_rng(seed, label, 0), 5 * SR, SR).astype(float)
        rest = clip - (clip @ noise) / (noise @ noise) * noise
        if label == synth.BACKGROUND:
            assert np.abs(rest).max() < 1e-5 * np.abs(clip).max()
        else:
            assert np.sum(rest ** 2) > 1e-3 * np.sum(clip ** 2)
            assert _energy_between(rest, SR, *synth.CALL_BANDS[label]) > 0.9


def test_clip_length_follows_parameters():
    assert synth.example_clip("minke_whale", sample_rate=16000, clip_seconds=3.0).shape == (48000,)
    # a blue whale call (10-20 s) fills a short clip: the clip lies inside the call
    assert synth.example_clip("blue_whale", clip_seconds=2.0).shape == (2 * SR,)


def test_layout_and_manifest_agree(dataset):
    manifest = pd.read_csv(dataset / "manifest.csv", keep_default_na=False)
    assert list(manifest.columns) == ["path", "label", "split", "recording", "call_start_s",
                                      "call_end_s"]
    on_disk = {path.relative_to(dataset).as_posix()
               for split in ("train", "val", "test") for path in (dataset / split).rglob("*")
               if path.is_file()}
    assert set(manifest.path) == on_disk and manifest.path.is_unique
    assert len(manifest) == 3 * len(synth.LABELS)
    for row in manifest.itertuples():
        split, folder, name = row.path.split("/")
        assert split == row.split and name == f"{row.recording}.wav"
        assert folder == (row.label or synth.BACKGROUND)
        assert name.startswith(f"{folder}_") and len(Path(name).stem.split("_")[-1]) == 4
    counts = manifest.groupby(["label", "split"]).size().unstack()
    assert (counts == 1).all().all() and set(counts.columns) == {"train", "val", "test"}
    assert set(manifest.label) == {*synth.SPECIES, ""}


def test_manifest_says_where_each_clip_s_call_is(dataset):
    manifest = pd.read_csv(dataset / "manifest.csv", keep_default_na=False)
    background = manifest[manifest.label == ""]
    assert (background.call_start_s == "").all() and (background.call_end_s == "").all()
    calls = manifest[manifest.label != ""]
    starts, ends = calls.call_start_s.astype(float), calls.call_end_s.astype(float)
    assert ((0 <= starts) & (starts < ends) & (ends <= 5.0)).all()
    assert (starts.round(4) == starts).all() and (ends.round(4) == ends).all()
    ratios = []
    for row in calls.itertuples():
        samples, _ = soundfile.read(str(dataset / row.path), dtype="float64")
        begin, end = int(float(row.call_start_s) * SR), int(float(row.call_end_s) * SR)
        if len(samples) - (end - begin) < SR // 2:
            continue  # a call (blue whale) that fills the clip leaves no outside to compare
        band = synth.CALL_BANDS[row.label]
        inside = synth_dataset._band_power(samples[begin:end], SR, *band)
        outside = synth_dataset._band_power(np.concatenate([samples[:begin], samples[end:]]),
                                            SR, *band)
        ratios.append(inside / outside)
        assert inside > 1.2 * outside, row  # even at 0 dB over the noise in the call's box
    assert len(ratios) >= 12 and np.median(ratios) > 4
    # the reader turns them into spans: every clip knows where its call is
    index = load_index(dataset)
    assert index.strong().all()
    assert {clip.spans[0][0] for clip in index.clips if clip.labels} == set(synth.SPECIES)


@pytest.mark.parametrize("label", synth.SPECIES)
def test_the_written_span_holds_the_whole_call_and_nothing_else(label):
    checked = 0
    for seed in range(4):
        for seconds in (2.0, 5.0):
            samples = int(seconds * SR)
            clip, (start, end) = synth_dataset._clip(label, synth_dataset._clip_rng(
                seed, label, 0), SR, samples)
            assert (round(start, 4), round(end, 4)) == (start, end)
            first, last = round(start * SR), round(end * SR)
            assert 0 <= first < last <= samples
            outside = np.r_[0:first, last:samples]
            if len(outside) < SR // 10:
                continue  # the call fills the clip
            # outside the span the clip is the same draws' noise alone, scaled to the level
            noise = synth.ocean_noise(synth_dataset._clip_rng(seed, label, 0), samples,
                                      SR).astype(float)
            level = (clip[outside] @ noise[outside]) / (noise[outside] @ noise[outside])
            call = clip - level * noise
            leak = np.mean(call[outside] ** 2)
            assert leak < 1e-9 * np.mean(clip ** 2), (seed, seconds)
            # and the call is heard up to both edges of the span (no silence inside them)
            edge = SR * 3 // 10
            assert np.mean(call[first:first + edge] ** 2) > 1e4 * leak, (seed, seconds)
            assert np.mean(call[last - edge:last] ** 2) > 1e4 * leak, (seed, seconds)
            checked += 1
    assert checked >= (0 if label == "blue_whale" else 4)


def test_bands_file_holds_the_band_of_every_species_calls(dataset):
    bands = read_bands(dataset)
    assert list(bands) == synth.SPECIES
    for species, (low, high) in bands.items():
        for seed in SEEDS:
            sound = synth.render_call(species, np.random.default_rng(seed), SR)
            assert low <= sound.low_hz < sound.high_hz <= high, (species, seed, sound[1:])
    # training on the clips (through the manifest) reads these bands
    assert dataset_bands(dataset / "manifest.csv") == bands
    # the long recordings are a data set of their own: same bands, holding every call
    assert read_bands(dataset / "long") == bands
    events = pd.concat([read_raven(table) for table in (dataset / "long").glob("*.selections.txt")])
    assert len(events) > 0
    for event in events.itertuples():
        assert bands[event.label][0] <= event.low_hz < event.high_hz <= bands[event.label][1]


def test_clips_are_16_bit_and_match_example_clip(dataset):
    for label in synth.LABELS:
        path = dataset / "train" / label / f"{label}_0000.wav"
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (
            SR, 1, 5 * SR, "PCM_16")
        samples, _ = soundfile.read(str(path), dtype="float32")
        np.testing.assert_allclose(samples, synth.example_clip(label, seed=0), atol=1 / 32768)
        assert np.abs(samples).max() < 1


def test_split_sizes():
    assert synth.split_sizes(100) == {"train": 70, "val": 15, "test": 15}
    assert synth.split_sizes(6) == {"train": 4, "val": 1, "test": 1}
    assert sum(synth.split_sizes(601).values()) == 601
    with pytest.raises(ConfigError, match="per_class"):
        synth.split_sizes(2)


def test_same_seed_same_bytes_other_seed_other_data(dataset, tmp_path):
    again = synth.make_dataset(tmp_path / "again", profile="smoke", seed=0, per_class=3,
                               progress=False)
    assert _digest(again) == _digest(dataset)
    other = _digest(synth.make_dataset(tmp_path / "other", profile="smoke", seed=1,
                                       per_class=3, progress=False))
    assert other.keys() == _digest(dataset).keys()
    agreeing = {name for name, digest in other.items() if digest == _digest(dataset)[name]}
    # only the identical manifest may agree, besides the bands files, which no seed changes
    assert agreeing - {"manifest.csv"} == {"bands.json", "long/bands.json"}


def test_command_line_twice_gives_identical_files(tmp_path):
    arguments = ["synth", "--profile", "smoke", "--per-class", "3", "--seed", "4"]
    assert main([*arguments, "--out", str(tmp_path / "a")]) == 0
    assert main([*arguments, "--out", str(tmp_path / "b")]) == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_rewriting_with_fewer_clips_leaves_no_stale_files(tmp_path):
    synth.make_dataset(tmp_path, profile="smoke", seed=0, per_class=6, progress=False)
    synth.make_dataset(tmp_path, profile="smoke", seed=0, per_class=3, progress=False)
    manifest = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    clips = {p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*/*.wav")}
    assert clips == set(manifest.path)


def test_long_recording_matches_its_raven_table(dataset):
    profile = resolve_profile("smoke")
    recordings = sorted((dataset / "long").glob("long_*.wav"))
    assert [path.name for path in recordings] == [
        f"long_{number:03d}.wav" for number in range(profile.long_recordings)]
    for number, path in enumerate(recordings):
        info = soundfile.info(str(path))
        assert info.samplerate == SR
        assert info.frames == 60 * profile.long_recording_minutes * SR
        table = read_raven(path.with_name(f"{path.stem}.selections.txt"))
        audio, intended = synth.long_recording(synth_dataset._long_rng(0, number), sample_rate=SR,
                                               seconds=60 * profile.long_recording_minutes)
        assert len(table) == len(intended) > 0
        for column in ("begin_s", "end_s", "low_hz", "high_hz"):
            np.testing.assert_allclose(table[column], intended[column], atol=1e-6)
        assert table.label.tolist() == intended.label.tolist()
        assert set(table.begin_file) == {path.name}
        samples, _ = soundfile.read(str(path), dtype="float32")
        np.testing.assert_allclose(samples, audio, atol=1 / 32768)


@pytest.mark.parametrize("seed", range(3))
def test_long_recording_events_are_apart_inside_and_audible(seed):
    seconds = 120.0
    audio, events = synth.long_recording(np.random.default_rng(seed), sample_rate=SR,
                                          seconds=seconds)
    assert len(audio) == seconds * SR and np.abs(audio).max() <= 10 ** (-3 / 20) + 1e-6
    assert set(events.label) == set(synth.SPECIES)  # shuffled rounds of all six
    assert 120 / 20 <= len(events) <= 120 / 6  # about one call per 10-15 s
    assert (events.begin_s >= 0).all() and (events.end_s <= seconds).all()
    assert (events.end_s > events.begin_s).all()
    gaps = events.begin_s.to_numpy()[1:] - events.end_s.to_numpy()[:-1]
    assert (gaps >= synth.MIN_GAP_S - 1e-9).all()
    for event in events.itertuples():
        assert synth.CALL_BANDS[event.label][0] <= event.low_hz < event.high_hz
        assert event.high_hz <= synth.CALL_BANDS[event.label][1]
        begin, end = int(event.begin_s * SR), int(event.end_s * SR)
        inside = synth_dataset._band_power(audio[begin:end], SR, event.low_hz, event.high_hz)
        before = synth_dataset._band_power(audio[max(0, begin - 2 * SR):begin], SR, event.low_hz, event.high_hz)
        assert inside > 1.5 * before, event


@pytest.mark.parametrize("call, message", [
    (lambda: synth.call("narwhal", np.random.default_rng(0)), "narwhal"),
    (lambda: synth.example_clip("narwhal"), "narwhal"),
    (lambda: synth.example_clip("fin_whale", sample_rate=2000), "sample_rate"),
    (lambda: synth.example_clip("fin_whale", clip_seconds=0), "clip_seconds"),
    (lambda: synth.example_clip("fin_whale", seed=-1), "seed"),
    (lambda: synth.make_dataset("unused", profile="huge"), "huge"),
    (lambda: synth.make_dataset("unused", profile="smoke", per_class=1), "per_class"),
])
def test_bad_parameters_raise_config_errors_naming_them(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        call()
    assert not Path("unused").exists()
