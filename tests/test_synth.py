"""The synthetic data set: call models in their published ranges, noise, the shares that
make it hard, the manifest's spans and signal-to-noise ratios, layout, determinism."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from whalelab import synth
from whalelab.bands import annotated_bands, read_bands
from whalelab.cli import main
from whalelab.data import load_index
from whalelab.errors import ConfigError
from whalelab.profiles import PROFILES, resolve_profile
from whalelab.raven import read_raven
from whalelab.synth import clips as synth_clips
from whalelab.synth import dataset as synth_dataset
from whalelab.synth import recordings as synth_recordings
from whalelab.synth.calls import LOW_SNR_SHARE, SNR_DB
from whalelab.synth.mixing import band_power

SR = 8000
# published ranges (cited in whalelab.synth.calls) that each species' spectral peak must fall in
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


def _in_bands(samples: np.ndarray, sample_rate: int, bands: list[tuple[float, float]]) -> float:
    """Share of the energy of ``samples`` inside the union of ``bands``."""
    power = np.abs(np.fft.rfft(samples.astype(float))) ** 2
    frequency = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    inside = np.any([(frequency >= low) & (frequency <= high) for low, high in bands], axis=0)
    return power[inside].sum() / power.sum()


def _calls(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per call of the manifest: path, label, split, recording, start, end, snr."""
    rows = []
    for row in manifest[manifest.label != ""].itertuples():
        columns = [row.label.split(";"), row.call_start_s.split(";"), row.call_end_s.split(";"),
                   row.snr_db.split(";")]
        assert len({len(column) for column in columns}) == 1, row
        for label, start, end, snr in zip(*columns):
            rows.append({"path": row.path, "label": label, "split": row.split,
                         "recording": row.recording, "calls": len(columns[0]),
                         "start": float(start), "end": float(end), "snr_db": float(snr)})
    return pd.DataFrame(rows)


def _digest(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.make_dataset(tmp_path_factory.mktemp("synth") / "set", profile="smoke",
                              seed=0, per_class=3, progress=False)


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough clips (40 per class) to measure the documented shares."""
    return synth.make_dataset(tmp_path_factory.mktemp("synth") / "larger", profile="smoke",
                              seed=0, per_class=40, progress=False)


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


def test_noise_beds_come_in_every_documented_kind():
    flat = quiet = 0
    for seed in range(40):
        bed = synth.noise_bed(np.random.default_rng(seed), 5 * SR, SR)
        assert bed.dtype == np.float32 and np.sqrt(np.mean(bed ** 2)) == pytest.approx(1, 1e-3)
        assert np.abs(bed).min() < np.abs(bed).max() and np.isfinite(bed).all()
        # white noise: as much power per Hz high as low (ocean, pink and brown fall)
        low = _energy_between(bed, SR, 20, 500) / 480
        high = _energy_between(bed, SR, 2000, 3900) / 1900
        flat += low < 2 * high
        # a stretch of sensor noise alone: a quarter second 20 dB below the median
        frames = np.sqrt(np.mean(bed[: len(bed) // (SR // 4) * (SR // 4)].reshape(
            -1, SR // 4).astype(float) ** 2, axis=1))
        quiet += frames.min() < 0.1 * np.median(frames)
    assert 1 <= flat <= 12 and 1 <= quiet <= 15, (flat, quiet)


@pytest.mark.parametrize("label", synth.LABELS)
def test_a_clip_is_a_noise_bed_plus_its_calls_in_their_bands(label):
    for seed in range(3):
        clip = synth.example_clip(label, seed=seed).astype(float)
        assert clip.shape == (5 * SR,) and np.isfinite(clip).all()
        assert -20.01 <= 20 * np.log10(np.abs(clip).max()) <= -2.99
        # the same draws without the calls: remove the noise, what is left is the calls
        noise = synth.noise_bed(synth_clips.clip_rng(seed, label, 0), 5 * SR, SR).astype(float)
        rest = clip - (clip @ noise) / (noise @ noise) * noise
        _, calls = synth_clips.make_clip(label, synth_clips.clip_rng(seed, label, 0), SR, 5 * SR)
        if label == synth.BACKGROUND:
            assert not calls
            assert np.abs(rest).max() < 1e-5 * np.abs(clip).max()
        else:
            assert calls[0].label == label and 1 <= len(calls) <= 2
            # a faint call in a narrow band (fin whale at -5 dB) is little of the clip
            assert np.sum(rest ** 2) > 1e-5 * np.sum(clip ** 2)
            assert _in_bands(rest, SR, [synth.CALL_BANDS[c.label] for c in calls]) > 0.9


def test_clip_length_follows_parameters():
    assert synth.example_clip("minke_whale", sample_rate=16000, clip_seconds=3.0).shape == (48000,)
    # a blue whale call (10-20 s) fills a short clip: the clip lies inside the call
    assert synth.example_clip("blue_whale", clip_seconds=2.0).shape == (2 * SR,)


def test_layout_and_manifest_agree(dataset):
    manifest = pd.read_csv(dataset / "manifest.csv", keep_default_na=False, dtype=str)
    assert list(manifest.columns) == ["path", "label", "split", "recording", "call_start_s",
                                      "call_end_s", "snr_db"]
    on_disk = {path.relative_to(dataset).as_posix()
               for split in ("train", "val", "test") for path in (dataset / split).rglob("*")
               if path.is_file()}
    assert set(manifest.path) == on_disk and manifest.path.is_unique
    assert len(manifest) == 3 * len(synth.LABELS)
    for row in manifest.itertuples():
        split, folder, name = row.path.split("/")
        assert split == row.split and name == f"{row.recording}.wav"
        assert folder == (row.label.split(";")[0] or synth.BACKGROUND)  # its own class first
        assert name.startswith(f"{folder}_") and len(Path(name).stem.split("_")[-1]) == 4
    folders = manifest.path.str.split("/").str[1]
    counts = manifest.groupby([folders, "split"]).size().unstack()
    assert (counts == 1).all().all() and set(counts.columns) == {"train", "val", "test"}
    assert set(folders) == set(synth.LABELS)
    assert {label for text in manifest.label for label in text.split(";")} == {*synth.SPECIES, ""}


@pytest.mark.slow
def test_manifest_says_where_each_clip_s_call_is(larger):
    manifest = pd.read_csv(larger / "manifest.csv", keep_default_na=False, dtype=str)
    background = manifest[manifest.label == ""]
    assert len(background) == 40
    assert (background[["call_start_s", "call_end_s", "snr_db"]] == "").all().all()
    calls = _calls(manifest)
    starts, ends = calls.start, calls.end
    assert ((0 <= starts) & (starts < ends) & (ends <= 5.0)).all()
    assert (starts.round(4) == starts).all() and (ends.round(4) == ends).all()
    ratios = []
    for row in calls[(calls.calls == 1) & (calls.snr_db >= 0)].itertuples():
        samples, _ = soundfile.read(str(larger / row.path), dtype="float64")
        begin, end = int(row.start * SR), int(row.end * SR)
        if len(samples) - (end - begin) < SR // 2:
            continue  # a call (blue whale) that fills the clip leaves no outside to compare
        band = synth.CALL_BANDS[row.label]
        # where the noise is as loud under the call as around it (no ship passing close,
        # no stretch of sensor noise alone: then the SNR is against the quieter noise)
        label, index = row.path.split("/")[1], int(row.recording.split("_")[-1])
        noise = synth.noise_bed(synth_clips.clip_rng(0, label, index), 5 * SR, SR)
        steady = band_power(noise[begin:end], SR, *band) / band_power(
            np.concatenate([noise[:begin], noise[end:]]), SR, *band)
        if not 0.5 < steady < 2:
            continue
        inside = band_power(samples[begin:end], SR, *band)
        outside = band_power(np.concatenate([samples[:begin], samples[end:]]), SR, *band)
        ratios.append(inside / outside)
        assert inside > 1.2 * outside, row  # even at 0 dB over the noise in the call's box
    assert len(ratios) >= 80 and np.median(ratios) > 4
    # the reader turns them into spans: every clip knows where its calls are
    index = load_index(larger)
    assert index.strong().all()
    for clip in index.clips:
        assert sorted({label for label, _, _ in clip.spans}) == list(clip.labels)
        assert len(clip.spans) == len(calls[calls.path == Path(clip.path).relative_to(
            larger.resolve()).as_posix()])


@pytest.mark.slow
def test_snr_column_matches_the_generator_and_the_audio(larger):
    """Each call's SNR as generated; re-derived from the file where the call is alone."""
    manifest = pd.read_csv(larger / "manifest.csv", keep_default_na=False, dtype=str)
    calls = _calls(manifest)
    derived = 0
    for row in manifest[manifest.label != ""].itertuples():
        label, index = row.path.split("/")[1], int(row.recording.split("_")[-1])
        _, placed = synth_clips.make_clip(label, synth_clips.clip_rng(0, label, index), SR,
                                          5 * SR)
        mine = calls[calls.path == row.path]
        assert [(c.label, c.start_s, c.end_s, c.snr_db) for c in placed] == list(
            zip(mine.label, mine.start, mine.end, mine.snr_db))
        if len(placed) > 1:
            continue
        call = placed[0]
        first, last = round(call.start_s * SR), round(call.end_s * SR)
        outside = np.r_[0:first, last:5 * SR]
        if len(outside) < SR // 10:
            continue  # the call fills the clip: no noise alone to measure the level by
        samples, _ = soundfile.read(str(larger / row.path), dtype="float64")
        noise = synth.noise_bed(synth_clips.clip_rng(0, label, index), 5 * SR, SR).astype(float)
        level = (samples[outside] @ noise[outside]) / (noise[outside] @ noise[outside])
        sound = samples / level - noise
        snr = 10 * np.log10(band_power(sound[first:last], SR, call.low_hz, call.high_hz)
                            / band_power(noise[first:last], SR, call.low_hz, call.high_hz))
        assert snr == pytest.approx(call.snr_db, abs=0.05), (row.path, snr)
        derived += 1
    assert derived >= 150


def test_shares_of_faint_two_call_and_cut_clips_are_as_documented(larger):
    manifest = pd.read_csv(larger / "manifest.csv", keep_default_na=False, dtype=str)
    calls = _calls(manifest)
    # SNR: the documented ranges, and LOW_SNR_SHARE faint (below 0 dB) among the species
    # whose faint range lies below 0 dB, in every split
    for label, group in calls.groupby("label"):
        (floor, _), (_, top) = SNR_DB[label]
        assert floor <= group.snr_db.min() and group.snr_db.max() <= top, label
    assert calls.snr_db.min() < -8 and (calls.snr_db < -5).any()
    can_be_faint = calls.label.map(lambda label: SNR_DB[label][0][1] <= 0)
    faint = np.mean(calls.snr_db[can_be_faint] < 0)
    assert LOW_SNR_SHARE - 0.06 <= faint <= LOW_SNR_SHARE + 0.06, faint
    for split in ("train", "val", "test"):
        in_split = can_be_faint & (calls.split == split)
        assert 0.05 <= np.mean(calls.snr_db[in_split] < 0) <= 0.3, split
    # two calls in a clip: of two classes (two labels) or of one class twice
    clips = manifest[manifest.label != ""]
    two = clips.label.str.count(";") == 1
    share = two.mean()
    assert synth_clips.TWO_CALL_SHARE - 0.08 <= share <= synth_clips.TWO_CALL_SHARE + 0.08
    pairs = clips.label[two].str.split(";")
    same = pairs.map(lambda pair: pair[0] == pair[1])
    assert 0.25 <= same.mean() <= 0.75 and not any(
        pair == ["blue_whale", "blue_whale"] for pair in pairs)
    assert {split for split in clips.split[two]} == {"train", "val", "test"}
    # calls cut by the clip's edge (blue whale calls outlast the clip: always at an edge)
    short = calls[calls.label != "blue_whale"]
    cut = (short.start == 0) | (short.end == 5.0)
    assert synth_clips.EDGE_CUT_SHARE - 0.08 <= cut.mean() <= synth_clips.EDGE_CUT_SHARE + 0.1
    assert len(set(short.split[cut])) >= 2  # (the val split of 40 clips a class may draw none)


def test_humpback_and_killer_whale_calls_overlap_in_band():
    """Confusable pairs: high humpback phrases in the killer whale band, low killer calls."""
    high_humpback = low_killer = 0
    for seed in range(200):
        humpback = synth.render_call("humpback_whale", np.random.default_rng(seed), SR)
        high_humpback += humpback.low_hz >= synth.CALL_BANDS["killer_whale"][0]
        killer = synth.call("killer_whale", np.random.default_rng(seed), SR)
        spectrum = np.abs(np.fft.rfft(killer)) ** 2
        frequency = np.fft.rfftfreq(len(killer), 1 / SR)
        low_killer += spectrum[frequency < 1500].sum() > 0.8 * spectrum.sum()
    assert 0.2 <= high_humpback / 200 <= 0.45 and 0.2 <= low_killer / 200 <= 0.6


@pytest.mark.parametrize("label", synth.SPECIES)
def test_the_written_span_holds_the_whole_call_and_nothing_else(label):
    checked = 0
    for seed in range(4):
        for seconds in (2.0, 5.0):
            samples = int(seconds * SR)
            clip, calls = synth_clips.make_clip(label, synth_clips.clip_rng(seed, label, 0), SR,
                                                samples)
            spans = [(round(c.start_s * SR), round(c.end_s * SR)) for c in calls]
            for placed, (first, last) in zip(calls, spans):
                assert (round(placed.start_s, 4), round(placed.end_s, 4)) == (
                    placed.start_s, placed.end_s)
                assert 0 <= first < last <= samples
            inside = np.zeros(samples, bool)
            for first, last in spans:
                inside[first:last] = True
            outside = np.flatnonzero(~inside)
            if len(outside) < SR // 10:
                continue  # the calls fill the clip
            # outside the spans the clip is the same draws' noise alone, scaled to the level
            noise = synth.noise_bed(synth_clips.clip_rng(seed, label, 0), samples,
                                    SR).astype(float)
            level = (clip[outside] @ noise[outside]) / (noise[outside] @ noise[outside])
            call = clip - level * noise
            leak = np.mean(call[outside] ** 2)
            assert leak < 1e-9 * np.mean(clip ** 2), (seed, seconds)
            # and the calls are heard up to both edges of each span (no silence inside them)
            edge = SR * 3 // 10
            for first, last in spans:
                assert np.mean(call[first:first + edge] ** 2) > 1e4 * leak, (seed, seconds)
                assert np.mean(call[last - edge:last] ** 2) > 1e4 * leak, (seed, seconds)
            checked += 1
    assert checked >= (0 if label == "blue_whale" else 4)


def test_no_file_names_the_generator_s_bands(dataset):
    """The bands are the generator's constants: no oracle file; the data sets' own
    annotations (the long recordings' Raven tables) lie inside them."""
    assert not list(dataset.rglob("bands.json"))
    assert read_bands(dataset) == {}
    for species, (low, high) in synth.CALL_BANDS.items():
        for seed in SEEDS:
            sound = synth.render_call(species, np.random.default_rng(seed), SR)
            assert low <= sound.low_hz < sound.high_hz <= high, (species, seed, sound[1:])
    for part in ("val", "test"):
        estimated = annotated_bands(dataset / "long" / part)
        assert set(estimated) <= set(synth.SPECIES) and estimated
        events = pd.concat([read_raven(table) for table in (dataset / "long" / part).glob(
            "*.selections.txt")])
        assert len(events) > 0
        for event in events.itertuples():
            band = synth.CALL_BANDS[event.label]
            assert band[0] <= event.low_hz < event.high_hz <= band[1]


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
    # only the call-free recording's empty table, which no seed changes (the manifest
    # differs too now: every call's SNR is drawn)
    assert agreeing == {"long/test/no_calls_000.selections.txt"}


def test_command_line_twice_gives_identical_files(tmp_path):
    arguments = ["synth", "--profile", "smoke", "--per-class", "3", "--seed", "4"]
    assert main([*arguments, "--out", str(tmp_path / "a")]) == 0
    assert main([*arguments, "--out", str(tmp_path / "b")]) == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_rewriting_with_fewer_clips_removes_only_synth_s_own_stale_files(tmp_path):
    synth.make_dataset(tmp_path, profile="smoke", seed=0, per_class=6, progress=False)
    recorded = json.loads((tmp_path / synth_dataset.RECORD_NAME).read_text())["outputs"]
    assert "train/blue_whale/blue_whale_0003.wav" in recorded and "manifest.csv" in recorded
    # files of the user's, some named as synth names its own
    for name in ("long/long_000.wav", "long/val/long_005.wav", "bands.json", "long/notes.txt",
                 "train/blue_whale/blue_whale_9999.wav"):
        (tmp_path / name).write_text("a user's file stays")
    synth.make_dataset(tmp_path, profile="smoke", seed=0, per_class=3, progress=False)
    manifest = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    clips = {p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*/*.wav")
             if not p.is_relative_to(tmp_path / "long")
             and p.read_bytes() != b"a user's file stays"}
    assert clips == set(manifest.path)  # the 6-per-class set's other clips are gone
    assert sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "long").rglob("*")
                  if p.is_file()) == [
        "long/long_000.wav", "long/notes.txt", "long/test/long_000.selections.txt",
        "long/test/long_000.wav", "long/test/no_calls_000.selections.txt",
        "long/test/no_calls_000.wav", "long/val/long_000.selections.txt",
        "long/val/long_000.wav", "long/val/long_005.wav"]
    assert (tmp_path / "bands.json").read_text() == "a user's file stays"
    recorded = json.loads((tmp_path / synth_dataset.RECORD_NAME).read_text())["outputs"]
    assert sorted(recorded) == sorted([*manifest.path, "manifest.csv", *(
        f"long/{part}/{name}_000.{suffix}" for part, name in (
            ("val", "long"), ("test", "long"), ("test", "no_calls"))
        for suffix in ("wav", "selections.txt"))])
    fresh = synth.make_dataset(tmp_path / "fresh", profile="smoke", seed=0, per_class=3,
                               progress=False)
    assert {name: digest for name, digest in _digest(tmp_path).items() if name in recorded
            or name == synth_dataset.RECORD_NAME} == _digest(fresh)


def test_synth_over_a_folder_of_the_user_s_data_deletes_and_overwrites_none_of_it(
        tmp_path, capsys):
    data = tmp_path / "MYDATA"
    for name in ("bands.json", "long/val/long_000.wav", "long/val/long_007.selections.txt",
                 "train/blue_whale/blue_whale_0000.wav", "train/fin_whale/fin_whale_0042.wav"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(f"the user's {name}")
    before = _digest(data)
    arguments = ["synth", "--profile", "smoke", "--per-class", "3", "--out", str(data)]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"whalelab: {data}: holds files that whalelab has no record")
    assert "--force" in error and error.count("\n") == 1
    assert main([*arguments, "--force"]) == 2  # synth would write over two of them
    error = capsys.readouterr().err
    assert error.startswith(f"whalelab: {data / 'train/blue_whale/blue_whale_0000.wav'}: "
                            f"synth would write this file and 1 more")
    assert _digest(data) == before
    for name in ("long/val/long_000.wav", "train/blue_whale/blue_whale_0000.wav"):
        (data / name).unlink()
        del before[name]
    assert main([*arguments, "--force"]) == 0  # beside them
    assert {name: digest for name, digest in _digest(data).items() if name in before} == before
    assert (data / "manifest.csv").is_file()


def test_synth_into_a_file_or_a_read_only_folder_is_one_line(tmp_path, monkeypatch, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main(["synth", "--profile", "smoke", "--per-class", "3", "--out", str(taken)]) == 2
    assert capsys.readouterr().err == (f"whalelab: {taken}: is a file, not a folder; give --out "
                                       f"a folder (new or one whalelab wrote)\n")
    locked = tmp_path / "read-only"  # simulated: the tests run as root, whom chmod does not stop
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *args, **kwargs: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path)))
        if str(path).startswith(str(locked)) else real_open(path, *args, **kwargs))
    assert main(["synth", "--profile", "smoke", "--per-class", "3", "--out", str(locked)]) == 2
    assert capsys.readouterr().err == f"whalelab: permission denied while writing in {locked}\n"


def test_long_recordings_match_their_raven_tables(dataset):
    profile = resolve_profile("smoke")
    seconds = 60 * profile.long_recording_minutes
    audio_of = {}
    for part, folder, stem, make in synth_dataset.RECORDINGS:
        count = 1 if part == "call_free" else profile.long_recordings
        recordings = sorted((dataset / "long" / folder).glob(f"{stem}_*.wav"))
        assert [path.name for path in recordings] == [
            f"{stem}_{number:03d}.wav" for number in range(count)]
        for number, path in enumerate(recordings):
            info = soundfile.info(str(path))
            assert info.samplerate == SR
            assert info.frames == seconds * SR
            table = read_raven(path.with_name(f"{path.stem}.selections.txt"))
            audio, intended = make(synth_recordings.recording_rng(0, part, number),
                                   sample_rate=SR, seconds=seconds)
            assert len(table) == len(intended)
            assert (len(table) == 0) == (part == "call_free")  # call-free: empty tables
            for column in ("begin_s", "end_s", "low_hz", "high_hz"):
                np.testing.assert_allclose(table[column], intended[column], atol=1e-6)
            assert table.label.tolist() == intended.label.tolist()
            assert set(table.begin_file) <= {path.name}
            samples, _ = soundfile.read(str(path), dtype="float32")
            np.testing.assert_allclose(samples, audio, atol=1 / 32768)
            audio_of[part, number] = samples
    # validation, test and call-free recordings are different audio
    for first, second in [(("val", 0), ("test", 0)), (("val", 0), ("call_free", 0)),
                          (("test", 0), ("call_free", 0))]:
        assert np.corrcoef(audio_of[first], audio_of[second])[0, 1] < 0.1


def test_call_free_recordings_hold_a_ship_and_shrimp():
    audio, events = synth.call_free_recording(np.random.default_rng(0), sample_rate=SR,
                                              seconds=20.0)
    assert audio.shape == (20 * SR,) and events.empty
    assert list(events.columns) == ["begin_s", "end_s", "low_hz", "high_hz", "label"]
    # snapping shrimp: heavy-tailed clicks far above the noise's typical sample
    assert np.abs(audio).max() > 6 * np.median(np.abs(audio))


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
    # the same draws without the calls: what is left is the calls, each in its box and at
    # a signal-to-noise ratio of the clips' mixture
    noise = synth.noise_bed(np.random.default_rng(seed), len(audio), SR).astype(float)
    quiet = np.ones(len(audio), bool)
    for event in events.itertuples():
        quiet[round(event.begin_s * SR):round(event.end_s * SR)] = False
    level = (audio[quiet] @ noise[quiet]) / (noise[quiet] @ noise[quiet])
    calls = audio / level - noise
    for event in events.itertuples():
        assert synth.CALL_BANDS[event.label][0] <= event.low_hz < event.high_hz
        assert event.high_hz <= synth.CALL_BANDS[event.label][1]
        begin, end = round(event.begin_s * SR), round(event.end_s * SR)
        snr = 10 * np.log10(band_power(calls[begin:end], SR, event.low_hz, event.high_hz)
                            / band_power(noise[begin:end], SR, event.low_hz, event.high_hz))
        (floor, _), (_, top) = SNR_DB[event.label]
        assert floor - 0.5 <= snr <= top + 0.5, event
        between = np.r_[max(0, begin - 2 * SR):begin]
        assert np.mean(calls[between] ** 2) < 1e-3 * np.mean(calls[begin:end] ** 2), event


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


def test_extra_validation_and_test_clips_leave_the_others_byte_identical(tmp_path, monkeypatch):
    plain = synth.make_dataset(tmp_path / "plain", profile="smoke", per_class=3, progress=False)
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(
        PROFILES["smoke"], extra_val_clips=1, extra_test_clips=2))
    more = synth.make_dataset(tmp_path / "more", profile="smoke", per_class=3, progress=False)
    counts = pd.read_csv(more / "manifest.csv").groupby("split").size().to_dict()
    classes = len(synth.LABELS)
    assert counts == {"train": classes, "val": 2 * classes, "test": 3 * classes}
    for row in pd.read_csv(plain / "manifest.csv").itertuples():
        assert (more / row.path).read_bytes() == (plain / row.path).read_bytes(), row.path


@pytest.mark.parametrize("label", synth.SPECIES)
def test_the_clearest_clip_is_the_loudest_lone_call_of_the_first_clips(label):
    candidates = [synth_clips.make_clip(label, synth_clips.clip_rng(3, label, index), SR, 5 * SR)
                  for index in range(8)]
    lone = [(audio, calls) for audio, calls in candidates if len(calls) == 1]
    inside = [(audio, calls) for audio, calls in lone
              if 0 < calls[0].start_s and calls[0].end_s < 5.0] or lone
    audio, calls = synth.clearest_clip(label, seed=3, candidates=8)
    assert len(calls) == 1 and calls[0].snr_db == max(c[0].snr_db for _, c in inside)
    assert any(np.array_equal(audio, other) for other, _ in inside)
    first, _ = synth.clearest_clip("background", seed=3)
    np.testing.assert_array_equal(first, synth.example_clip("background", seed=3))
    with pytest.raises(ConfigError, match="candidates"):
        synth.clearest_clip(label, candidates=0)
