"""Clip indexes from every layout, splits by recording, the Dataset, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from whalelab.audio import write_audio
from whalelab.config import RunConfig
from whalelab.data import (BACKGROUND, Clip, ClipCache, ClipDataset, ClipIndex, balanced_sampler,
                           class_weights, frame_targets, load_index, parse_labels,
                           rotate_validation, split_by_recording)
from whalelab.data import dataset as dataset_module
from whalelab.errors import DataError, WhaleLabError
from whalelab.features import logmel_pipeline
from whalelab.model import build_model
from whalelab.raven import write_raven

RATE = 8000


def _tone(frequency: float, seconds: float, sample_rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _class_tree(root, classes=("fin", "minke"), files=5, split=None, seconds=1.0,
                background=(BACKGROUND,)):
    for k, name in enumerate([*classes, *background]):
        folder = root / split / name if split else root / name
        for i in range(files):
            offset = 10 * ("", "train", "val", "test").index(split or "")  # no copies across splits
            write_audio(folder / f"{name}_{i}.wav", _tone(200 + 100 * k + i + offset, seconds),
                        RATE)
    return root


def test_folder_per_class_without_splits_is_split_by_seed(tmp_path):
    index = load_index(_class_tree(tmp_path, files=10), seed=3)
    assert index.classes == ["fin", "minke"]  # background is the absence of a class
    counts = index.counts()
    assert counts.loc[BACKGROUND, "total"] == 10
    assert set(counts.columns) == {"train", "val", "test", "total"}
    assert (counts[["train", "val", "test"]] > 0).all().all()
    again = load_index(tmp_path, seed=3).to_frame()
    other = load_index(tmp_path, seed=4).to_frame()
    pd.testing.assert_frame_equal(index.to_frame(), again)
    assert not index.to_frame()["split"].equals(other["split"])


def test_targets_are_multi_hot_in_class_order(tmp_path):
    index = load_index(_class_tree(tmp_path), seed=0)
    targets = index.targets()
    for clip, row in zip(index.clips, targets, strict=True):
        expected = [float(name in clip.labels) for name in index.classes]
        assert row.tolist() == expected
        assert (row.sum() == 0) == (BACKGROUND in clip.path.split("/")[-2])


def test_split_level_is_kept_and_checked(tmp_path):
    for split in ("train", "val", "test"):
        _class_tree(tmp_path, files=2, split=split)
    index = load_index(tmp_path)
    assert {clip.split for clip in index.clips} == {"train", "val", "test"}
    assert all(f"/{clip.split}/" in clip.path for clip in index.clips)
    write_audio(tmp_path / "test" / "orca" / "o.wav", _tone(900, 1.0), RATE)
    with pytest.raises(DataError, match="orca.*never in train"):
        load_index(tmp_path)


def test_recordings_never_fall_on_both_sides_of_a_split():
    clips = [Clip(f"{r}_{i}.wav", labels=(label,), recording=f"{label}{r}")
             for label in "abc" for r in range(8) for i in range(4)]
    split = split_by_recording(clips, seed=1)
    sides: dict[str, set] = {}
    for clip in split:
        sides.setdefault(clip.recording, set()).add(clip.split)
    assert all(len(s) == 1 for s in sides.values())
    for label in "abc":  # stratified: every class on every side
        assert {c.split for c in split if c.labels == (label,)} == {"train", "val", "test"}


def _recordings(clips: list[Clip], split: str) -> set[str]:
    return {clip.recording for clip in clips if clip.split == split}


def test_rotated_validation_folds_are_disjoint_and_every_member_trains_on_each_class():
    clips = [Clip(f"{label}{r}_{i}.wav", labels=(label,), recording=f"{label}{r}")
             for label in "abc" for r in range(10) for i in range(2)]
    split = split_by_recording(clips, seed=1, val_fraction=0.2, test_fraction=0.2)
    folds = [rotate_validation(split, fold=k, seed=5) for k in range(4)]
    assert folds[0] == split
    held = [_recordings(fold, "val") for fold in folds]
    assert all(len(recordings) == len(held[0]) == 6 for recordings in held)  # 2 a class
    assert all(held[j].isdisjoint(held[k]) for j in range(4) for k in range(j + 1, 4))
    for fold, recordings in zip(folds, held, strict=True):
        assert _recordings(fold, "test") == _recordings(split, "test")  # never moves
        assert _recordings(fold, "train").isdisjoint(recordings)
        assert _recordings(fold, "train") | recordings == \
            _recordings(split, "train") | _recordings(split, "val")
        for label in "abc":
            assert {c.split for c in fold if c.labels == (label,)} == {"train", "val", "test"}
    assert rotate_validation(split, fold=2, seed=5) == folds[2]  # the seed decides
    assert _recordings(rotate_validation(split, fold=1, seed=6), "val") != held[1]


def test_a_label_with_too_few_training_recordings_keeps_its_validation():
    clips = [Clip(f"{label}{r}.wav", labels=(label,), recording=f"{label}{r}",
                  split="val" if r == 0 else "train")
             for label, count in (("a", 3), ("b", 8)) for r in range(count)]
    rotated = rotate_validation(clips, fold=3, seed=0)  # "a" has 2 training recordings
    assert _recordings(rotated, "val") & {"a0", "a1", "a2"} == {"a0"}
    assert "b0" not in _recordings(rotated, "val") and len(_recordings(rotated, "val")) == 2
    with pytest.raises(DataError, match="fold"):
        rotate_validation(clips, fold=-1, seed=0)


@pytest.mark.parametrize("make_problem, message", [
    (lambda root: (root / "humpback").mkdir(), "humpback: class folder holds no audio"),
    (lambda root: (root / "fin" / "fin_2.wav").write_bytes(b"RIFF0000WAVEjunk"), "fin_2.wav"),
    (lambda root: write_audio(root / "fin" / "silent.wav", np.zeros(0, np.float32), RATE),
     "silent.wav"),
])
def test_bad_folders_and_files_are_named(tmp_path, make_problem, message):
    _class_tree(tmp_path)
    make_problem(tmp_path)
    with pytest.raises(WhaleLabError, match=message):
        load_index(tmp_path)


def test_skip_leaves_out_the_corrupt_file_with_a_counted_warning(tmp_path):
    _class_tree(tmp_path)
    (tmp_path / "fin" / "fin_2.wav").write_bytes(b"not audio at all")
    with pytest.warns(UserWarning, match=r"1 file\(s\) or row\(s\) could not be used"):
        index = load_index(tmp_path, on_error="skip")
    assert len(index) == 14 and len(index.skipped) == 1
    assert "fin_2.wav" in index.skipped[0]
    assert not any(clip.path.endswith("fin_2.wav") for clip in index.clips)


def test_manifest_with_multi_labels_background_and_time_ranges(tmp_path):
    write_audio(tmp_path / "audio" / "long.wav", _tone(300, 10.0), RATE)
    write_audio(tmp_path / "audio" / "quiet.wav", _tone(300, 2.0) * 0, RATE)
    rows = ["path,label,start_s,end_s,split",
            "audio/long.wav,fin;minke,0,4,train",
            "audio/long.wav,fin,4,8,val",
            "audio/quiet.wav,,,,train",
            "audio/long.wav,minke,8,,test"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    index = load_index(tmp_path / "m.csv")
    assert index.classes == ["fin", "minke"]
    assert index.targets().tolist() == [[1, 1], [1, 0], [0, 0], [0, 1]]
    assert [(c.start_s, c.duration_s) for c in index.clips] == [
        (0.0, 4.0), (4.0, 4.0), (0.0, None), (8.0, None)]
    waveforms = ClipDataset(index, sample_rate=RATE, clip_seconds=4.0)
    np.testing.assert_allclose(waveforms.waveform(1), _tone(300, 10.0)[4 * RATE:8 * RATE],
                               atol=1e-4)
    assert len(waveforms.waveform(3)) == 2 * RATE  # to the end of the file


@pytest.mark.parametrize("row, message", [
    ("audio/missing.wav,fin", "line 3.*missing.wav"),
    ("audio/a.wav,fin,5,2", "line 3: end_s 2.0 is not after"),
    ("audio/a.wav,fin,soon,", "line 3: start_s 'soon' is not a number"),
    ("audio/a.wav,fin,99,", "line 3: start_s 99.0 is past the end"),
])
def test_bad_manifest_rows_are_named(tmp_path, row, message):
    write_audio(tmp_path / "audio" / "a.wav", _tone(300, 3.0), RATE)
    (tmp_path / "m.csv").write_text(f"path,label,start_s,end_s\naudio/a.wav,fin,,\n{row}\n")
    with pytest.raises(DataError, match=message):
        load_index(tmp_path / "m.csv")


def test_manifest_needs_path_and_label(tmp_path):
    (tmp_path / "m.csv").write_text("file,species\nx.wav,fin\n")
    with pytest.raises(DataError, match="m.csv: manifest lacks the column"):
        load_index(tmp_path / "m.csv")


def _annotated_recording(folder, name="long", seconds=120.0):
    events = pd.DataFrame({"begin_s": [10.0, 31.0, 62.0], "end_s": [11.0, 32.0, 63.5],
                           "low_hz": [50.0] * 3, "high_hz": [200.0] * 3,
                           "label": ["right", "fin", "right"]})
    write_audio(folder / f"{name}.flac", _tone(100, seconds), RATE, subtype="PCM_24")
    write_raven(events, folder / f"{name}.selections.txt")
    return events


def test_raven_annotated_recording_is_cut_into_labelled_windows(tmp_path):
    events = _annotated_recording(tmp_path)
    index = load_index(tmp_path, window_s=5.0, hop_s=1.0, min_call_fraction=0.5,
                       background_cap=1.0)
    assert index.classes == ["fin", "right"]
    for clip in index.clips:
        end = clip.start_s + clip.duration_s
        overlap = (np.minimum(events.end_s, end) - np.maximum(events.begin_s, clip.start_s)
                   ).clip(lower=0) / (events.end_s - events.begin_s)
        assert set(clip.labels) == set(events.label[overlap >= 0.5])
        assert clip.labels or overlap.max() == 0  # grazing windows are left out
        assert int(clip.start_s // 60) == int((end - 1e-9) // 60)  # never straddles a block
    window_at_9 = [c for c in index.clips if c.start_s == 9.0]
    assert window_at_9 and window_at_9[0].labels == ("right",)
    assert {c.recording for c in index.clips} == {"long#0", "long#1"}


def test_background_windows_are_capped(tmp_path):
    _annotated_recording(tmp_path)
    index = load_index(tmp_path, window_s=5.0, hop_s=1.0, background_cap=0.25, seed=0,
                       val_fraction=0.0, test_fraction=0.0)
    labelled = sum(bool(c.labels) for c in index.clips)
    background = len(index) - labelled
    assert 0 < background <= labelled / 3 + 1


def test_raven_folder_problems_are_named(tmp_path):
    _annotated_recording(tmp_path)
    write_audio(tmp_path / "orphan.wav", _tone(100, 10.0), RATE)
    with pytest.raises(DataError, match="orphan.wav: no Raven table"):
        load_index(tmp_path)
    (tmp_path / "orphan.wav").unlink()
    (tmp_path / "long.selections.txt").write_text(
        "Selection\tBegin Time (s)\tEnd Time (s)\tSpecies\n1\t3\t4\tfin\n")
    with pytest.raises(DataError, match="long.selections.txt.*Low Freq"):
        load_index(tmp_path)


def test_a_raven_selection_past_the_end_of_its_recording_is_cut_there_with_a_warning(
        tmp_path):
    """A 10 s recording whose table's one call runs 8-14 s: its last window holds 2 s of it,
    all there is, and is a call; read as 6 s long, the call would grace it too little."""
    write_audio(tmp_path / "r.wav", _tone(100, 10.0), RATE)
    write_raven(pd.DataFrame({"begin_s": [8.0], "end_s": [14.0], "low_hz": [50.0],
                              "high_hz": [200.0], "label": ["fin"]}),
                tmp_path / "r.selections.txt")
    with pytest.warns(UserWarning, match=r"r.selections.txt: 1 selection\(s\) run past the end "
                                         r"of its recording \(10 s\), first selection 1 at 8-14"):
        index = load_index(tmp_path, window_s=5.0, hop_s=2.5, background_cap=1.0,
                           val_fraction=0.0, test_fraction=0.0)
    last = [clip for clip in index.clips if clip.start_s == 5.0]
    assert last and last[0].labels == ("fin",) and list(last[0].spans) == [("fin", 3.0, 5.0)]


NO_CALL = [("noise",), ("noise", "ambient")]


@pytest.mark.parametrize("no_call", NO_CALL)
def test_class_folders_named_as_background_are_no_call(tmp_path, no_call):
    _class_tree(tmp_path, background=no_call)
    assert load_index(tmp_path).classes == sorted(["fin", "minke", *no_call])  # by default
    index = load_index(tmp_path, background_labels=no_call)
    assert index.classes == ["fin", "minke"]
    silent = [clip.path.split("/")[-2] in no_call for clip in index.clips]
    assert sum(silent) == 5 * len(no_call)
    assert ((index.targets().sum(axis=1) == 0) == silent).all()
    assert index.counts().loc[BACKGROUND, "total"] == 5 * len(no_call)


@pytest.mark.parametrize("no_call", NO_CALL)
def test_manifest_labels_named_as_background_are_no_call(tmp_path, no_call):
    write_audio(tmp_path / "a.wav", _tone(300, 2.0), RATE)
    rows = ["path,label,split", "a.wav,fin,train", f"a.wav,fin;{no_call[-1]},train",
            *[f"a.wav,{label},train" for label in no_call], "a.wav,,train"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    index = load_index(tmp_path / "m.csv", background_labels=no_call)
    assert index.classes == ["fin"]
    assert index.targets().tolist() == [[1], [1], *[[0]] * len(no_call), [0]]
    default = load_index(tmp_path / "m.csv")
    assert default.classes == sorted(["fin", *no_call])


@pytest.mark.parametrize("no_call", NO_CALL)
def test_raven_boxes_labelled_as_background_make_no_call_windows(tmp_path, no_call):
    calls = _annotated_recording(tmp_path)
    boxes = pd.DataFrame({"begin_s": [45.0, 85.0], "end_s": [47.0, 87.0], "low_hz": [10.0] * 2,
                          "high_hz": [500.0] * 2, "label": [no_call[0], no_call[-1]]})
    write_raven(pd.concat([calls, boxes], ignore_index=True), tmp_path / "long.selections.txt")
    assert load_index(tmp_path, background_cap=1.0).classes == sorted(
        ["fin", "right", *no_call])  # by default
    index = load_index(tmp_path, window_s=5.0, hop_s=1.0, background_cap=1.0,
                       background_labels=no_call)
    assert index.classes == ["fin", "right"]
    over_boxes = [clip for clip in index.clips if clip.start_s in (44.0, 84.0)]
    assert len(over_boxes) == 2 and all(clip.labels == () for clip in over_boxes)
    assert [c.labels for c in index.clips if c.start_s == 9.0] == [("right",)]


def test_background_labels_must_be_a_sequence_of_labels(tmp_path):
    _class_tree(tmp_path)
    with pytest.raises(DataError, match="background_labels.*'noise'"):
        load_index(tmp_path, background_labels="noise")


def test_labels_are_parsed_sorted_without_background():
    assert parse_labels(" minke;fin;;background") == ("fin", "minke")
    assert parse_labels("background;noise", background_labels=("noise",)) == ("background",)
    assert parse_labels("noise", background_labels=()) == ("noise",)


def test_mixed_formats_rates_depths_and_channels_give_one_api(tmp_path):
    recipes = [("fin", "a.wav", 6000, "PCM_16", 1), ("fin", "b.flac", 16000, "PCM_24", 2),
               ("fin", "c.wav", 8000, "FLOAT", 1), ("minke", "d.flac", 6000, "PCM_16", 2),
               ("minke", "e.wav", 16000, "PCM_24", 1), ("minke", "f.aiff", 8000, "PCM_16", 1),
               ("fin", "g.ogg", 16000, "VORBIS", 1), ("minke", "h.wav", 44100, "PCM_16", 1)]
    for label, name, rate, subtype, channels in recipes:
        signal = _tone(440, 1.5, rate)
        (tmp_path / label).mkdir(exist_ok=True)
        soundfile.write(tmp_path / label / name,
                        np.stack([signal] * channels, axis=1) if channels > 1 else signal,
                        rate, subtype=subtype)
    index = load_index(tmp_path, val_fraction=0.0, test_fraction=0.0)
    dataset = ClipDataset(index, sample_rate=RATE, clip_seconds=2.0)
    for item in range(len(dataset)):
        waveform, target = dataset[item].waveform, dataset[item].target
        assert waveform.shape == (2 * RATE,) and waveform.dtype == torch.float32
        assert target.shape == (2,) and target.sum() == 1
        spectrum = np.abs(np.fft.rfft(waveform.numpy()))
        assert abs(np.argmax(spectrum) * RATE / (2 * 2 * RATE) * 2 - 440) < 2


def test_dataset_crops_and_tiles_centred_in_eval_random_in_training():
    long_clip = np.arange(10, dtype=np.float32)
    short_clip = np.arange(1, 4, dtype=np.float32)
    index = ClipIndex([Clip("long.wav", labels=("a",)), Clip("short.wav")], ["a"])
    cache = ClipCache()
    cache._waveforms.update({("long.wav", 0.0, None, 4): long_clip,
                             ("short.wav", 0.0, None, 4): short_clip})
    evaluation = ClipDataset(index, sample_rate=4, clip_seconds=1.5, cache=cache)
    assert evaluation[0].waveform.tolist() == [2, 3, 4, 5, 6, 7]
    assert evaluation[1].waveform.tolist() == [3, 1, 2, 3, 1, 2]  # repeated, one copy centred
    training = ClipDataset(index, sample_rate=4, clip_seconds=1.5, train=True, cache=cache)
    starts = {int(training[0].waveform[0]) for _ in range(60)}
    assert starts == {0, 1, 2, 3, 4}
    torch.manual_seed(5)
    first = [training[1].waveform.tolist() for _ in range(5)]
    torch.manual_seed(5)
    assert first == [training[1].waveform.tolist() for _ in range(5)]


def test_cache_decodes_each_clip_once(tmp_path, monkeypatch):
    index = load_index(_class_tree(tmp_path, files=3), val_fraction=0, test_fraction=0)
    calls = []
    decode = dataset_module._decode
    monkeypatch.setattr(dataset_module, "_decode", lambda *a: calls.append(a) or decode(*a))
    dataset = ClipDataset(index, sample_rate=RATE, clip_seconds=1.0, train=True,
                          cache=ClipCache())
    dataset.preload(progress=False)
    for _ in range(3):
        [dataset[i] for i in range(len(dataset))]
    assert len(calls) == len(dataset) == 9


def test_index_csv_round_trip(tmp_path):
    index = load_index(_class_tree(tmp_path / "d"), seed=2)
    index.save_csv(tmp_path / "splits.csv")
    back = ClipIndex.load_csv(tmp_path / "splits.csv")
    assert back.classes == index.classes and back.clips == index.clips
    (tmp_path / "other.csv").write_text("path,label\n")
    with pytest.raises(DataError, match="other.csv"):
        ClipIndex.load_csv(tmp_path / "other.csv")
    named = ClipIndex([Clip("a.wav", labels=(BACKGROUND,), split="train")], [BACKGROUND])
    named.save_csv(tmp_path / "named.csv")  # a class called background, where noise is no call
    assert ClipIndex.load_csv(tmp_path / "named.csv").clips == named.clips


def test_imbalance_helpers_favour_the_rare_class():
    clips = [Clip(f"{i}", labels=("common",)) for i in range(30)] + \
            [Clip(f"r{i}", labels=("rare",)) for i in range(3)]
    index = ClipIndex(clips, ["common", "rare"])
    weights = class_weights(index)
    assert weights[1] == pytest.approx(30 / 3) and weights[0] == pytest.approx(1.0)
    drawn = [clips[i].labels[0] for i in balanced_sampler(index, seed=0)] * 10
    assert 0.3 < drawn.count("rare") / len(drawn) < 0.7


def test_one_call_stored_at_two_rates_gets_near_equal_predictions(tmp_path):
    """A model must not be able to tell the recorder from the resampled audio."""
    for rate in (48000, 6000):  # one upsweep with a harmonic, recorded at two rates
        t = np.arange(int(5.0 * rate)) / rate
        phase = 2 * np.pi * (60 * t + 40 * t**2)
        call = (np.sin(phase) + 0.5 * np.sin(2 * phase)) * 0.3 * np.exp(-((t - 2.5) ** 2))
        write_audio(tmp_path / "call" / f"{rate}.wav", call.astype(np.float32), rate)
    index = load_index(tmp_path, val_fraction=0, test_fraction=0)
    dataset = ClipDataset(index, sample_rate=RATE, clip_seconds=5.0)
    waveforms = torch.stack([dataset[0].waveform, dataset[1].waveform])
    assert waveforms.shape == (2, 5 * RATE)
    config = RunConfig.from_profile("smoke", data=str(tmp_path), classes=["a", "b", "c"])
    torch.manual_seed(0)
    model = build_model(config).eval()
    with torch.no_grad():
        logmel = model.logmel_features(waveforms)[:, 0]
        probabilities = model(waveforms)["clipwise_output"]
    assert (logmel[0] - logmel[1]).abs().max() < 1.0  # dB
    assert (probabilities[0] - probabilities[1]).abs().max() < 0.05


# ---------------------------------------------------------------------------- strong labels


def test_clip_spans_are_sorted_and_background_always_knows_it_holds_no_call():
    clip = Clip("a.wav", labels=("fin", "minke"),
                spans=[("minke", 2, 3.5), ("fin", np.float64(0.25), 1)])
    assert clip.spans == (("fin", 0.25, 1.0), ("minke", 2.0, 3.5))
    assert all(type(value) is float for span in clip.spans for value in span[1:])
    assert Clip("b.wav").spans == () and Clip("b.wav", spans=()).spans == ()
    assert Clip("c.wav", labels=("fin",)).spans is None
    assert Clip("d.wav", labels=("fin",), spans=()).spans == ()
    index = ClipIndex([clip, Clip("b.wav"), Clip("c.wav", labels=("fin",))], ["fin", "minke"])
    assert index.strong().tolist() == [True, True, False] and index.strong().dtype == bool


@pytest.mark.parametrize("labels, spans, message", [
    (("fin",), [("minke", 0, 1)], "a.wav: a call span names 'minke'.*fin"),
    ((), [("fin", 0, 1)], "names 'fin'.*none"),
    (("fin",), [("fin", 2, 2)], "call span 2.0-2.0 s of 'fin'"),
    (("fin",), [("fin", -1, 2)], "call span -1.0-2.0 s"),
    (("fin",), [("fin", float("nan"), 2)], "call span nan-2.0 s"),
])
def test_impossible_clip_spans_are_named(labels, spans, message):
    with pytest.raises(DataError, match=message):
        Clip("a.wav", labels=labels, spans=spans)


def test_index_csv_round_trips_spans_exactly(tmp_path):
    clips = [Clip("a.wav", labels=("fin", "minke"), split="train",
                  spans=(("fin", 0.1 + 0.2, 1.61), ("minke", 1e-05, 1 / 3), ("fin", 2, 3))),
             Clip("b.wav", labels=("fin",), split="val"),
             Clip("c.wav", labels=("fin",), split="val", spans=()),
             Clip("d.wav", start_s=4.0, duration_s=5.0, split="test"),
             Clip("e@x.wav", labels=("fin@home",), split="train",
                  spans=(("fin@home", 123456789.125, 1e20),))]
    index = ClipIndex(clips, ["fin", "fin@home", "minke"])
    index.save_csv(tmp_path / "splits.csv")
    frame = pd.read_csv(tmp_path / "splits.csv", skiprows=1, keep_default_na=False)
    assert frame.strong.tolist() == [1, 0, 1, 1, 1]
    assert frame.spans[1:4].tolist() == ["", "", ""]
    assert frame.spans[0] == ("minke@0.00001-0.3333333333333333;"
                              "fin@0.30000000000000004-1.61;fin@2-3")
    back = ClipIndex.load_csv(tmp_path / "splits.csv")
    assert back.clips == index.clips and back.classes == index.classes
    assert [clip.spans for clip in back.clips] == [clip.spans for clip in clips]
    assert back.strong().tolist() == [True, False, True, True, True]


def test_index_csv_written_before_spans_still_loads(tmp_path):
    (tmp_path / "old.csv").write_text(
        "# classes: fin\npath,start_s,duration_s,labels,recording,split\n"
        "a.wav,0.0,,fin,a,train\nb.wav,1.5,2.0,,b,val\n")
    back = ClipIndex.load_csv(tmp_path / "old.csv")
    assert [(clip.labels, clip.spans) for clip in back.clips] == [(("fin",), None), ((), ())]
    (tmp_path / "bad.csv").write_text(
        "# classes: fin\npath,start_s,duration_s,labels,recording,split,strong,spans\n"
        "a.wav,0.0,,fin,a,train,1,fin@soon\n")
    with pytest.raises(DataError, match="bad.csv line 3: call span 'fin@soon'"):
        ClipIndex.load_csv(tmp_path / "bad.csv")


def test_class_tree_clips_have_unknown_spans_and_background_none(tmp_path):
    index = load_index(_class_tree(tmp_path), seed=0)
    assert all((clip.spans is None) == bool(clip.labels) for clip in index.clips)
    assert all(clip.spans == () for clip in index.clips if not clip.labels)


def test_manifest_call_times_give_spans_in_the_order_of_the_labels(tmp_path):
    write_audio(tmp_path / "a.wav", _tone(300, 6.0), RATE)
    rows = ["path,label,start_s,end_s,split,call_start_s,call_end_s",
            "a.wav,minke;fin,,,train,2.5;0.5,3;1.25",
            "a.wav,fin;fin,1,5,train,0;2,1;3.5",       # two calls of one class
            "a.wav,fin;noise,,,train, 1 ; 2 ,1.5;4",  # a no-call box: no span
            "a.wav,fin,,,train,,",                     # known to be a call, not where
            "a.wav,noise,,,train,0,1",
            "a.wav,,,,train,,"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    index = load_index(tmp_path / "m.csv", background_labels=("noise",))
    assert [clip.spans for clip in index.clips] == [
        (("fin", 0.5, 1.25), ("minke", 2.5, 3.0)),
        (("fin", 0.0, 1.0), ("fin", 2.0, 3.5)),
        (("fin", 1.0, 1.5),),
        None, (), ()]
    assert index.strong().tolist() == [True, True, True, False, True, True]
    without = tmp_path / "plain.csv"
    without.write_text("path,label,split\na.wav,fin,train\na.wav,,train\n")
    assert [clip.spans for clip in load_index(without).clips] == [None, ()]


@pytest.mark.parametrize("label, starts, ends, message", [
    ("fin", "soon", "2", "line 3: call_start_s 'soon' is not a number"),
    ("fin", "1", "2;3", r"line 3: call_end_s '2;3' gives 2 time\(s\) for 1 label"),
    ("fin;minke", "1", "2", r"line 3: call_start_s '1' gives 1 time\(s\) for 2 label"),
    ("fin", "1", "", r"line 3: call_end_s '' gives 0 time\(s\)"),
    ("fin;minke", "1;", "2;3", "line 3: call_start_s '1;' has an empty time"),
    ("fin", "2", "1.5", "line 3: call_end_s 1.5 of 'fin' is not after call_start_s 2.0"),
    ("fin", "2", "2", "line 3: call_end_s 2.0 of 'fin' is not after"),
    ("fin", "-1", "2", "line 3: call_start_s must be a finite time >= 0, not '-1'"),
    ("fin", "1", "inf", "line 3: call_end_s must be a finite time"),
    ("fin", "3.5", "4", r"line 3: call_start_s 3.5 of 'fin' is past the end of the clip"),
    ("", "1", "2", r"line 3: call_start_s '1' gives 1 time\(s\) for 0 label"),
])
def test_bad_manifest_call_times_are_named(tmp_path, label, starts, ends, message):
    write_audio(tmp_path / "a.wav", _tone(300, 3.0), RATE)
    (tmp_path / "m.csv").write_text("path,label,call_start_s,call_end_s\na.wav,fin,,\n"
                                    f"a.wav,{label},{starts},{ends}\n")
    with pytest.raises(DataError, match=f"m.csv {message}"):
        load_index(tmp_path / "m.csv")


def test_raven_windows_carry_the_spans_of_their_calls_clipped(tmp_path):
    events = _annotated_recording(tmp_path)
    # a second, overlapping fin call that only grazes some windows
    events = pd.concat([events, pd.DataFrame({"begin_s": [33.5], "end_s": [36.0],
                                              "low_hz": [50.0], "high_hz": [200.0],
                                              "label": ["fin"]})], ignore_index=True)
    write_raven(events, tmp_path / "long.selections.txt")
    index = load_index(tmp_path, window_s=5.0, hop_s=0.5, background_cap=1.0)
    assert index.strong().all()
    for clip in index.clips:
        if not clip.labels:
            assert clip.spans == ()
            continue
        expected = []
        for call in events.itertuples():
            begin, end = max(call.begin_s, clip.start_s), min(call.end_s, clip.start_s + 5.0)
            if call.label in clip.labels and end > begin:
                expected.append((call.label, begin - clip.start_s, end - clip.start_s))
        assert len(clip.spans) == len(expected) > 0
        for (label, start, end), (name, begin, finish) in zip(clip.spans, sorted(
                expected, key=lambda span: span[1]), strict=True):
            assert label == name and start == pytest.approx(begin) and end == pytest.approx(finish)
            assert 0 <= start < end <= 5.0
    window_at_9 = [c for c in index.clips if c.start_s == 9.0][0]
    assert window_at_9.spans == (("right", 1.0, 2.0),)
    window_at_30 = [c for c in index.clips if c.start_s == 30.0][0]
    assert window_at_30.spans == (("fin", 1.0, 2.0), ("fin", 3.5, 5.0))
    window_at_62 = [c for c in index.clips if c.start_s == 62.5][0]  # call began before it
    assert window_at_62.spans == (("right", 0.0, 1.0),)


def _call_index(seconds: float, call: tuple[float, float], rate: int, spans=True):
    """One clip of ``seconds`` of silence with a constant 'call' over ``call`` (seconds)."""
    audio = np.zeros(int(seconds * rate), np.float32)
    audio[int(call[0] * rate):int(call[1] * rate)] = 1.0
    clip = Clip("c.wav", labels=("b",), spans=(("b", *call),) if spans else None)
    cache = ClipCache()
    cache._waveforms[("c.wav", 0.0, None, rate)] = audio
    return ClipIndex([clip], ["a", "b"]), cache


@pytest.mark.parametrize("seconds", [3.0, 1.0, 2.0])  # cropped, padded, as it is
@pytest.mark.parametrize("train", [True, False])
def test_frame_targets_follow_the_call_wherever_crop_or_pad_puts_it(seconds, train):
    rate, hop = 100, 5
    index, cache = _call_index(seconds, (seconds / 2 - 0.3, seconds / 2 + 0.25), rate)
    dataset = ClipDataset(index, sample_rate=rate, clip_seconds=2.0, train=train, cache=cache,
                          hop_length=hop)
    torch.manual_seed(0)
    placements = set()
    for _ in range(20 if train else 1):
        waveform, target, frame_target, strong = dataset[0]
        assert waveform.shape == (200,) and target.tolist() == [0.0, 1.0]
        assert frame_target.shape == (1 + 200 // hop, 2) and frame_target.dtype == torch.float32
        assert strong.shape == () and strong.dtype == torch.float32 and strong == 1.0
        at_frames = torch.cat([waveform, torch.zeros(hop)])[::hop][:len(frame_target)]
        assert frame_target[:, 1].tolist() == (at_frames != 0).float().tolist()
        assert frame_target[:, 0].sum() == 0 and frame_target[:, 1].sum() > 0
        onsets = np.flatnonzero(np.diff(frame_target[:, 1].numpy()) > 0) + 1
        placements.add(int(onsets[0]))  # the first call that begins inside the window
    assert len(placements) > (1 if train and seconds != 2.0 else 0)
    if not train:  # centred: the call moves by half the difference in length
        assert placements == {round(0.7 * rate / hop)}


def test_frame_targets_are_clipped_to_the_window_and_zero_where_unknown():
    rate, hop = 100, 10
    index, cache = _call_index(3.0, (0.0, 3.0), rate)  # the call fills the clip
    eval_items = ClipDataset(index, sample_rate=rate, clip_seconds=2.0, cache=cache,
                             hop_length=hop)
    frame_target = eval_items[0].frame_target[:, 1]
    assert frame_target.tolist() == [1.0] * 20 + [0.0]  # the last frame is the window's end
    index, cache = _call_index(1.0, (0.6, 1.5), rate)  # a span past the clip's audio
    padded = ClipDataset(index, sample_rate=rate, clip_seconds=2.0, cache=cache,
                         hop_length=hop)[0].frame_target[:, 1]
    # the call repeats where its audio does (0.5 s before and after), never past its end
    assert padded.tolist() == [0.0] + [1.0] * 4 + [0.0] * 6 + [1.0] * 4 + [0.0] * 6
    index, cache = _call_index(1.0, (0.2, 0.4), rate, spans=False)
    unknown = ClipDataset(index, sample_rate=rate, clip_seconds=2.0, cache=cache,
                          hop_length=hop)[0]
    assert unknown.frame_target.shape == (21, 2) and unknown.frame_target.sum() == 0 \
        and unknown.strong == 0.0
    assert frame_targets([("b", 0.2, 0.4), ("a", 0.5, 0.7)], ["a", "b"], frames=10, hop_s=0.1,
                         offset_s=-0.2, end_s=0.9)[:4].tolist() == [
        [0, 1], [0, 1], [0, 0], [1, 0]]


def test_frame_targets_leave_the_random_crops_as_they_were():
    rate = 100
    index, cache = _call_index(3.0, (0.8, 1.3), rate)
    weak = ClipDataset(index, sample_rate=rate, clip_seconds=2.0, train=True, cache=cache)
    strong = ClipDataset(index, sample_rate=rate, clip_seconds=2.0, train=True, cache=cache,
                         hop_length=4)
    assert weak[0].frame_target.shape == (0, 2)  # clip labels only: no frame targets
    torch.manual_seed(3)
    first = [weak[0].waveform for _ in range(5)]
    torch.manual_seed(3)
    second = [strong[0].waveform for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    waveforms, targets, frame_target, known = next(iter(torch.utils.data.DataLoader(
        strong, batch_size=1)))
    assert (waveforms.shape, targets.shape, frame_target.shape, known.shape) == (
        (1, 200), (1, 2), (1, 51, 2), (1,))


RAVEN_HEADER = ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
                "High Freq (Hz)\tSpecies\n")


def _table_with_an_empty_label(folder):
    write_audio(folder / "long.flac", _tone(100, 40.0), RATE, subtype="PCM_24")
    (folder / "long.selections.txt").write_text(
        RAVEN_HEADER + "3\tSpectrogram 1\t1\t2\t3\t50\t200\tfin\n"
        "7\tSpectrogram 1\t1\t21\t22\t50\t200\t \n"
        "9\tSpectrogram 1\t1\t31\t32\t50\t200\tright\n")


def test_an_empty_raven_label_is_named_unless_the_user_says_what_it_means(tmp_path):
    _table_with_an_empty_label(tmp_path)
    with pytest.raises(DataError, match=r"long\.selections\.txt: 1 selection\(s\) have an "
                                        r"empty Species, first selection 7 at 21-22 s"):
        load_index(tmp_path, window_s=5.0, hop_s=1.0, background_cap=1.0)
    with pytest.warns(UserWarning, match="1 file"):  # skip: the whole table, not the row
        with pytest.raises(DataError, match="no usable audio clips"):
            load_index(tmp_path, window_s=5.0, hop_s=1.0, on_error="skip")

    def at(index, start):
        return [clip.labels for clip in index.clips if clip.start_s == start]

    as_background = load_index(tmp_path, window_s=5.0, hop_s=1.0, background_cap=1.0,
                               val_fraction=0, test_fraction=0, empty_label=BACKGROUND)
    assert as_background.classes == ["fin", "right"]
    assert at(as_background, 19.0) == [()]  # the unlabelled box: no call
    as_class = load_index(tmp_path, window_s=5.0, hop_s=1.0, background_cap=1.0,
                          val_fraction=0, test_fraction=0, empty_label="unknown_call")
    assert as_class.classes == ["fin", "right", "unknown_call"]
    assert at(as_class, 19.0) == [("unknown_call",)]


def test_byte_identical_clips_in_the_splits_the_data_gives_are_dropped_from_the_later(tmp_path):
    for split, shift in (("train", 0), ("val", 7), ("test", 13)):
        for k, name in enumerate(("fin", "minke")):
            for i in range(2):
                write_audio(tmp_path / split / name / f"{name}_{i}.wav",
                            _tone(200 + 100 * k + 10 * i + shift, 1.0), RATE)
    original = tmp_path / "train" / "fin" / "fin_0.wav"
    (tmp_path / "test" / "minke" / "copy.wav").write_bytes(original.read_bytes())
    (tmp_path / "val" / "fin" / "copy.wav").write_bytes(original.read_bytes())
    with pytest.warns(UserWarning, match=r"2 clip\(s\) hold byte-identical audio .* dropped .*"
                                         r"val/fin/copy\.wav \(val; same as .*train/fin/fin_0"
                                         r"\.wav in train\); .*test/minke/copy\.wav \(test"):
        index = load_index(tmp_path)
    assert not any(clip.path.endswith("copy.wav") for clip in index.clips)
    assert len(index) == 12 and {clip.split for clip in index.clips} == {"train", "val", "test"}


def test_byte_identical_clips_split_by_seed_are_moved_to_the_first_side(tmp_path):
    _class_tree(tmp_path, files=10)
    for i in range(10):  # the same audio filed again under another class's folder
        (tmp_path / BACKGROUND / f"copy_{i}.wav").write_bytes(
            (tmp_path / "fin" / f"fin_{i}.wav").read_bytes())
    with pytest.warns(UserWarning, match=r"clip\(s\) hold byte-identical audio .* moved"):
        index = load_index(tmp_path, seed=0)
    split_of = {clip.path.rsplit("/", 1)[1]: clip.split for clip in index.clips}
    assert len(index) == 40
    for i in range(10):
        assert split_of[f"copy_{i}.wav"] == split_of[f"fin_{i}.wav"]


def test_windows_of_two_copies_of_a_recording_share_a_split(tmp_path):
    _annotated_recording(tmp_path, name="a")
    _annotated_recording(tmp_path, name="b")
    with pytest.warns(UserWarning, match="byte-identical audio"):
        index = load_index(tmp_path, window_s=5.0, hop_s=5.0, background_cap=1.0, seed=1)
    split_of = {(clip.path.rsplit("/", 1)[1], clip.start_s): clip.split for clip in index.clips}
    for (name, start), split in split_of.items():
        assert split == split_of["a.flac" if name == "b.flac" else "b.flac", start]


# ------------------------------------------------------------- padding and sample rates


def _pink_noise(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Noise whose power falls as 1/f, as ocean ambient noise does."""
    samples = int(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(samples))
    frequency = np.fft.rfftfreq(samples, 1 / rate)
    spectrum[0], spectrum[1:] = 0, spectrum[1:] / np.sqrt(frequency[1:])
    noise = np.fft.irfft(spectrum, samples)
    return (0.1 * noise / noise.std()).astype(np.float32)


def test_short_background_clips_keep_their_log_mel_statistics_where_zeros_would_not():
    features = RunConfig.from_profile("smoke", data="", classes=["a"]).features
    logmel = logmel_pipeline(features)
    full = _pink_noise(features.clip_seconds)

    def statistics(waveform: np.ndarray) -> np.ndarray:
        """Each mel band's mean and spread over time, dB: ``(2, mel)``."""
        frames = logmel(torch.as_tensor(waveform)[None])[0, 0].numpy()  # (time, mel)
        return np.stack([frames.mean(axis=0), frames.std(axis=0)])

    reference = statistics(full)
    for seconds in (1, 2, 5):
        cut = full[:seconds * RATE]
        cache = ClipCache()
        cache._waveforms[("bg.wav", 0.0, None, RATE)] = cut
        tiled = ClipDataset(ClipIndex([Clip("bg.wav")], ["a"]), sample_rate=RATE,
                            clip_seconds=features.clip_seconds, cache=cache)[0].waveform.numpy()
        assert tiled.shape == full.shape
        left = (len(full) - len(cut)) // 2
        np.testing.assert_array_equal(tiled[left:left + len(cut)], cut)  # the clip, centred
        assert np.abs(statistics(tiled) - reference).max() < 2.0  # dB, mean and spread
        if seconds < 5:
            zero_padded = np.pad(cut, (left, len(full) - len(cut) - left))
            mean_error, spread_error = np.abs(statistics(zero_padded) - reference).max(axis=1)
            assert mean_error > 20 and spread_error > 10


def test_a_file_below_the_runs_band_warns_or_is_refused_and_1_hz_always_is(tmp_path):
    low = tmp_path / "low.wav"
    write_audio(low, _tone(300, 1.0, 4000), 4000)
    write_audio(tmp_path / "ok.wav", _tone(300, 1.0), RATE)
    one_hz = tmp_path / "one_hz.wav"
    write_audio(one_hz, np.full(10, 0.1, np.float32), 1)
    index = ClipIndex([Clip(str(low)), Clip(str(tmp_path / "ok.wav")), Clip(str(low))], ["a"])
    with pytest.warns(UserWarning) as caught:
        dataset = ClipDataset(index, sample_rate=RATE, clip_seconds=1.0, band=(10.0, 4000.0))
    assert [str(warning.message) for warning in caught] == [
        f"{low}: sample rate 4000 Hz: its Nyquist frequency 2000 Hz is below the run's "
        f"fmax 4000 Hz"]  # one line per file
    assert dataset[0].waveform.shape == (RATE,)
    with pytest.raises(WhaleLabError, match=r"low\.wav: sample rate 4000 Hz cannot hold"):
        ClipDataset(index, sample_rate=RATE, clip_seconds=1.0, band=(10.0, 4000.0),
                    low_rate="refuse")
    ClipDataset(index, sample_rate=RATE, clip_seconds=1.0, band=(10.0, 2000.0),
                low_rate="refuse")  # a band it holds
    for low_rate in ("warn", "refuse"):
        with pytest.raises(WhaleLabError, match=r"one_hz\.wav: sample rate 1 Hz"):
            ClipDataset(ClipIndex([Clip(str(one_hz))], ["a"]), sample_rate=RATE,
                        clip_seconds=1.0, band=(10.0, 4000.0), low_rate=low_rate)
    with pytest.raises(WhaleLabError, match="low_rate must be one of warn, refuse"):
        ClipDataset(index, sample_rate=RATE, clip_seconds=1.0, low_rate="ignore")


def test_an_unknown_on_error_is_a_configuration_error_naming_it(tmp_path):
    from whalelab.errors import ConfigError

    with pytest.raises(ConfigError, match="on_error.*'ignore'"):
        load_index(_class_tree(tmp_path), on_error="ignore")


def test_manifest_snr_keeps_the_faintest_call_and_survives_splits_csv(tmp_path):
    write_audio(tmp_path / "a.wav", _tone(300, 3.0), RATE)
    rows = ["path,label,split,snr_db",
            "a.wav,fin;minke,train,12.5;-3",
            "a.wav,fin,train,7",
            "a.wav,,train,"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    index = load_index(tmp_path / "m.csv")
    assert [clip.snr_db for clip in index.clips] == [-3.0, 7.0, None]
    np.testing.assert_array_equal(index.snr_db(), [-3.0, 7.0, np.nan])
    index.save_csv(tmp_path / "splits.csv")
    assert [clip.snr_db for clip in ClipIndex.load_csv(tmp_path / "splits.csv").clips] == \
        [-3.0, 7.0, None]
    (tmp_path / "bad.csv").write_text("path,label,snr_db\na.wav,fin,loud\n")
    with pytest.raises(DataError, match="bad.csv line 2: snr_db 'loud' is not a number"):
        load_index(tmp_path / "bad.csv")


def test_an_mp3_in_a_class_folder_is_read_and_formats_whalelab_cannot_read_are_counted(tmp_path):
    root = _class_tree(tmp_path / "data", files=4)
    soundfile.write(root / "fin" / "fin_mp3.mp3", _tone(230.0, 1.0), RATE, format="MP3")
    for name in ("fin/a.m4a", "minke/b.m4a", "minke/c.wma", "minke/.hidden.aac"):
        (root / name).write_bytes(b"not decodable here")
    with pytest.warns(UserWarning) as caught:
        index = load_index(root, seed=0)
    assert any(clip.path.endswith("fin_mp3.mp3") for clip in index.clips)
    assert [str(warning.message) for warning in caught
            if "left out" in str(warning.message)] == [
        f"{root}: 3 audio file(s) left out (.m4a, .wma), a format whalelab cannot read; "
        f"convert them (e.g. ffmpeg -i x.m4a x.flac) to use them"]
