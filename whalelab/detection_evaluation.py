"""How well detection does on annotated recordings, and the settings chosen to make it so.

Detection itself (:mod:`whalelab.detect`) turns a recording into events; this module
measures it against Raven tables and chooses its settings where they may be chosen:

- :func:`choose_detection_settings`: gating, trimming and threshold with the best event
  F1 on validation recordings;
- :func:`evaluate_recordings`: events of held-out recordings scored with intervals and
  false alarms per hour, beside the band-energy baseline (settings and baseline chosen
  on other recordings when ``validation`` is given);
- :func:`compare_gating_and_trimming`: what each of the two steps buys;
- :func:`detection_material`: which recordings a data set offers for all this, and what
  detection can be shown on when it offers none.

Every recording goes through :func:`whalelab.detect.detect_recording` (or its traces),
so what is scored here is what ``whalelab detect`` writes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whalelab.atomic import write_json
from whalelab.audio import audio_info, is_audio_file
from whalelab.baselines import event_baseline
from whalelab.checkpoint import TrainedModel, load_model, save_detection_settings
from whalelab.config import DetectConfig, RunConfig
from whalelab.data import ClipIndex, raven_pairs
from whalelab.detect import (TABLE_SUFFIX, detect_recording, detection_settings, hop_frames,
                             recording_traces)
from whalelab.errors import DataError
from whalelab.evaluate import held_out_split
from whalelab.event_scoring import score_events, threshold_sweep
from whalelab.events import find_file_events
from whalelab.raven import read_raven
from whalelab.runtime import progress_bar

#: detection thresholds tried on validation recordings
THRESHOLDS = tuple(np.round(np.arange(0.1, 0.95, 0.05), 2))
#: test clips detection is shown on when a data set has no long recordings
SHOWN_TEST_CLIPS = 12


def annotated_recordings(folder: str | Path) -> list[tuple[Path, Path]]:
    """``(audio, table)`` for each audio file in ``folder`` with a Raven table beside it.

    The table of ``NAME.wav`` is ``NAME.selections.txt``, ``NAME.Table.1.selections.txt``
    (Raven's own default) or ``NAME.txt``, as :mod:`whalelab.data` pairs them for
    training. An empty list means ``folder`` is not a folder of annotated recordings.
    """
    return raven_pairs(Path(folder))


def _recording_traces(trained: TrainedModel, pairs: Sequence[tuple[Path, Path]], *, gate: bool,
                      hop_s: float | None, batch_size: int,
                      progress: bool | None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``{file: (frames, classes)}`` detection scores (zero inside gaps) and band contrasts."""
    scores, contrasts = {}, {}
    for audio, _ in progress_bar(pairs, progress=progress, desc="traces", unit="file"):
        scores[str(audio)], contrasts[str(audio)] = recording_traces(
            trained, audio, gate=gate, hop_s=hop_s, batch_size=batch_size)
    return scores, contrasts


def _variants(trained: TrainedModel, pairs: Sequence[tuple[Path, Path]], *,
              order: tuple[bool, bool], batch_size: int, progress: bool | None
              ) -> Iterator[tuple[bool, bool, dict[str, np.ndarray], dict[str, np.ndarray] | None]]:
    """``(gate, trim, scores, contrasts or None)`` for each gating and trimming choice, in
    ``order``; the traces are computed once per gate."""
    for gate in order:
        scores, contrasts = _recording_traces(trained, pairs, gate=gate,
                                              hop_s=trained.config.detect.hop_s,
                                              batch_size=batch_size, progress=progress)
        for trim in order:
            yield gate, trim, scores, contrasts if trim else None


def _annotated_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """:func:`annotated_recordings` of ``folder``; none is a :class:`DataError`."""
    pairs = annotated_recordings(folder)
    if not pairs:
        raise DataError(f"{folder}: no audio files with a Raven table beside them "
                        f"(NAME.wav + NAME{TABLE_SUFFIX})")
    return pairs


def _truth(pairs: Sequence[tuple[Path, Path]], label_column: str) -> pd.DataFrame:
    """The Raven tables of ``pairs`` as one table with a ``file`` column."""
    return pd.concat([read_raven(table, label_column=label_column).assign(file=str(audio))
                      for audio, table in pairs], ignore_index=True)


def choose_detection_settings(model_source: str | Path, validation: str | Path, *,
                              thresholds: Sequence[float] = THRESHOLDS, iou: float = 0.3,
                              batch_size: int = 32, device: str = "auto",
                              progress: bool | None = None) -> tuple[DetectConfig, pd.DataFrame]:
    """The detection settings with the best overall event F1 on validation recordings.

    Every combination of ``gate`` (framewise x clipwise, or the bare framewise output),
    ``trim`` (by band contrast, or not) and ``threshold`` is scored on the recordings of
    ``validation`` (a folder of recordings with Raven tables, never the test folder);
    the other settings are the run's. Ties go to the simpler setting (no gate, no trim)
    and the higher threshold.

    Returns
    -------
    (DetectConfig, pandas.DataFrame)
        The chosen settings, and the sweep: ``gate, trim, threshold, precision, recall,
        f1, tp, fp, fn`` per combination.
    """
    pairs = _annotated_pairs(validation)
    trained = load_model(model_source, device=device)
    config, base = trained.config, trained.config.detect
    truth = _truth(pairs, config.data.label_column)
    rows = []
    for gate, trim, scores, contrasts in _variants(trained, pairs, order=(False, True),
                                                   batch_size=batch_size, progress=progress):
        sweep = threshold_sweep(scores, truth, config.classes,
                                frames_per_second=config.features.frames_per_second,
                                thresholds=thresholds, iou=iou, bands=trained.bands,
                                contrasts=contrasts, min_duration_s=base.min_duration_s,
                                merge_gap_s=base.merge_gap_s)
        rows.append(sweep.assign(gate=gate, trim=trim))
    table = pd.concat(rows, ignore_index=True)[["gate", "trim", "threshold", "precision",
                                                 "recall", "f1", "tp", "fp", "fn"]]
    best = table.sort_values(["f1", "gate", "trim", "threshold"],
                             ascending=[False, True, True, False], kind="stable").iloc[0]
    chosen = dataclasses.replace(base, gate=bool(best.gate), trim=bool(best.trim),
                                 threshold=float(best.threshold), low_threshold=None)
    return chosen, table


def compare_gating_and_trimming(model_source: str | Path, data: str | Path, *,
                                iou: float = 0.3, batch_size: int = 32, device: str = "auto",
                                progress: bool | None = None) -> pd.DataFrame:
    """Event scores on ``data`` with and without gating and trimming, the run's other
    detection settings (threshold included) kept: what each step buys.

    Returns
    -------
    pandas.DataFrame
        One row per ``(gate, trim)``: ``precision, recall, f1``, the F1 interval
        ``f1_low, f1_high`` and ``false_alarms_per_hour``.
    """
    pairs = _annotated_pairs(data)
    trained = load_model(model_source, device=device)
    config, base = trained.config, trained.config.detect
    truth = _truth(pairs, config.data.label_column)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in pairs}
    rows = []
    for gate, trim, scores, contrasts in _variants(trained, pairs, order=(True, False),
                                                   batch_size=batch_size, progress=progress):
        predicted = find_file_events(
            scores, config.classes, frames_per_second=config.features.frames_per_second,
            contrasts=contrasts, threshold=base.threshold, low_threshold=base.low_threshold,
            min_duration_s=base.min_duration_s, merge_gap_s=base.merge_gap_s,
            bands=trained.bands)
        scored = score_events(predicted, truth, config.classes, hours=hours, iou=iou,
                              seed=config.train.seed)
        rows.append({"gate": gate, "trim": trim,
                     **{name: scored["overall"][name] for name in ("precision", "recall", "f1")},
                     "f1_low": scored["intervals_95"]["f1"][0],
                     "f1_high": scored["intervals_95"]["f1"][1],
                     "false_alarms_per_hour": scored["false_alarms_per_hour"]})
    return pd.DataFrame(rows)


def evaluate_recordings(model_source: str | Path, data: str | Path, *,
                        validation: str | Path | None = None, out: str | Path | None = None,
                        iou: float = 0.3, onset_tolerance_s: float | None = None,
                        batch_size: int = 32, device: str = "auto",
                        progress: bool | None = None, **settings: Any) -> dict[str, Any]:
    """Event-level precision, recall and F1 of a run on long recordings with Raven tables.

    With ``validation`` (a folder of other recordings with tables), the detection
    settings are first chosen there (:func:`choose_detection_settings`) and saved as the
    run's own, and the band-energy baseline (:func:`whalelab.baselines.event_baseline`)
    is fitted there too; both are then scored on ``data``, which no setting has seen.
    Every recording of ``data`` is detected with :func:`detect_recording`, exactly as
    :func:`detect_files` does, and scored with :func:`whalelab.event_scoring.event_metrics`
    (events of different recordings never match), with bootstrap intervals over
    one-minute blocks. Recordings whose table is empty also give false alarms per hour.
    Truth is read with the run's label column. The result is written as JSON to ``out``
    (default ``RUN/event_metrics.json``, or beside a model file).

    Parameters
    ----------
    **settings
        Detection settings overriding the run's (see :func:`detect_files`); with
        ``validation`` they override the chosen ones.

    Returns
    -------
    dict
        :func:`whalelab.event_scoring.event_metrics`' dict plus ``intervals_95``,
        ``false_alarms_per_hour`` (None without call-free recordings), ``run``, ``data``,
        ``recordings``, ``audio_hours``, the detection ``settings``, and with
        ``validation`` the ``settings_sweep`` and ``baselines``.
    """
    pairs = _annotated_pairs(data)
    source = Path(model_source)
    extra: dict[str, Any] = {}
    if validation is not None:
        chosen, sweep = choose_detection_settings(model_source, validation, iou=iou,
                                                  batch_size=batch_size, device=device,
                                                  progress=progress)
        if source.is_dir():
            save_detection_settings(source, chosen)
        settings = {**dataclasses.asdict(chosen), **settings}
        extra["settings_sweep"] = sweep.to_dict(orient="records")
    trained = load_model(model_source, device=device)
    config = trained.config
    chosen = detection_settings(config, **settings)
    truth = _truth(pairs, config.data.label_column)
    hours = {str(audio): audio_info(audio).duration / 3600 for audio, _ in pairs}
    predicted = pd.concat([detect_recording(trained.model, config, audio, bands=trained.bands,
                                            settings=chosen, batch_size=batch_size)
                           .assign(file=str(audio))
                           for audio, _ in progress_bar(pairs, progress=progress,
                                                        desc="evaluate", unit="file")],
                          ignore_index=True)
    metrics = score_events(predicted, truth, config.classes, hours=hours, iou=iou,
                           onset_tolerance_s=onset_tolerance_s, seed=config.train.seed)
    if validation is not None:
        extra["baselines"] = {"band_energy": event_baseline(
            _annotated_pairs(validation), pairs, features=config.features,
            classes=config.classes, bands=trained.bands, label_column=config.data.label_column,
            iou=iou, onset_tolerance_s=onset_tolerance_s, min_duration_s=chosen.min_duration_s,
            merge_gap_s=chosen.merge_gap_s, seed=config.train.seed)}
    metrics.update({"run": str(model_source), "data": str(data), "recordings": len(pairs),
                    "audio_hours": sum(hours.values()),
                    "settings": {**dataclasses.asdict(chosen),
                                 "hop_s": hop_frames(config, chosen.hop_s)
                                 / config.features.frames_per_second}, **extra})
    write_json(out or (source if source.is_dir() else source.parent) / "event_metrics.json",
               metrics)
    return metrics


@dataclasses.dataclass(frozen=True)
class DetectionMaterial:
    """What a data set offers detection (:func:`detection_material`).

    Attributes
    ----------
    validation, test : Path or None
        Folders of annotated recordings (audio with a Raven table beside it): where the
        detection settings are chosen, and where they are scored. None where the data
        set has none.
    recordings : list of Path
        The audio files detection is shown on.
    truth : pandas.DataFrame
        The annotated calls of ``recordings`` (``file`` as in ``recordings``, ``begin_s,
        end_s, low_hz, high_hz, label``); empty where none are known.
    labels : dict
        ``{file: "label; label"}``: the true labels of each of ``recordings`` that is a
        test clip (background: ``"background"``).
    notes : list of str
        What was found and what the detection notebook does with it, a line each.
    """

    validation: Path | None
    test: Path | None
    recordings: list[Path]
    truth: pd.DataFrame
    labels: dict[str, str]
    notes: list[str]

    @property
    def scored(self) -> bool:
        """Whether event-level scores can be given: validation and test recordings."""
        return self.validation is not None and self.test is not None


def _audio_under(inputs: Sequence[str | Path]) -> list[Path]:
    """The audio files among ``inputs`` and under its folders (searched recursively)."""
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(path for path in item.rglob("*") if is_audio_file(path)
                            and not path.name.startswith("."))
        elif item.is_file():
            found.append(item)
        else:
            raise DataError(f"{item}: no such audio file or folder to detect in")
    if not found:
        raise DataError(f"{', '.join(map(str, inputs))}: no audio files to detect in")
    return found


def _held_out_folders(data: Path, run: Path) -> tuple[Path | None, Path | None, str]:
    """Validation and test folders of a Raven-layout data set's held-out recordings.

    A recording whose windows all lie in the run's val split (``splits.csv``) is a
    validation recording, one whose windows all lie in test a test recording; they are
    linked (symbolic links to the audio and its table) into ``RUN/recordings/val`` and
    ``RUN/recordings/test``. Recordings split between several splits (longer than a
    grouping block) are left out. Returns the folders (None where there is no such
    recording) and a line saying what was found.
    """
    splits = ClipIndex.load_csv(run / "splits.csv")
    seen: dict[str, set[str]] = {}
    for clip in splits.clips:
        seen.setdefault(str(Path(clip.path).resolve()), set()).add(clip.split)
    folders = []
    for split in ("val", "test"):
        folder = run / "recordings" / split
        if folder.is_dir():
            for link in folder.iterdir():
                if link.is_symlink():
                    link.unlink()
        pairs = [pair for pair in raven_pairs(data) if seen.get(str(pair[0].resolve())) == {split}]
        for source in (path for pair in pairs for path in pair):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / source.name).symlink_to(source.resolve())
        folders.append((folder, len(pairs)) if pairs else (None, 0))
    (validation, n_val), (test, n_test) = folders
    return validation, test, (f"{data}: recordings with Raven tables that the run kept wholly "
                              f"in its val split: {n_val}, wholly in its test split: {n_test} "
                              f"(linked under {run / 'recordings'}); a recording split across "
                              f"splits is never scored")


def detection_material(data: str | Path, run: str | Path, *,
                       detect: Sequence[str | Path] = ()) -> DetectionMaterial:
    """Which recordings a data set offers detection, and what detection is shown on.

    Annotated validation and test recordings are looked for as

    - ``long/val/`` and ``long/test/`` beside the data (the synthetic layout; beside a
      manifest CSV for a manifest), else
    - the data set's own recordings when it is a folder of long recordings with Raven
      tables: those whose windows the run (``RUN/splits.csv``) put wholly in val, or
      wholly in test (:func:`_held_out_folders`).

    Detection is shown on ``detect`` (audio files, or folders searched recursively) when
    given, else on the test recordings, else on up to :data:`SHOWN_TEST_CLIPS` of the
    run's test clips (validation clips for a run that keeps no test split), each label in turn.

    Parameters
    ----------
    data : path
        The data set the run was trained on (any layout of :mod:`whalelab.data`).
    run : path
        A trained run folder (its ``config.json`` and ``splits.csv``).
    detect : sequence of paths
        Recordings the user wants detection shown on.

    Raises
    ------
    DataError
        A ``detect`` path that does not exist or holds no audio.
    """
    data, run = Path(data), Path(run)
    config = RunConfig.load(run / "config.json")
    beside = (data if data.is_dir() else data.parent) / "long"
    validation, test = beside / "val", beside / "test"
    if all(folder.is_dir() and annotated_recordings(folder) for folder in (validation, test)):
        notes = [f"{beside}: long recordings with Raven tables for validation and test"]
    elif data.is_dir() and annotated_recordings(data):
        validation, test, note = _held_out_folders(data, run)
        notes = [note]
    else:
        validation = test = None
        notes = [f"{data}: no long recordings with Raven tables (neither {beside}/val and "
                 f"{beside}/test nor a folder of annotated recordings): no detection "
                 f"settings chosen, no event-level scores"]
    pairs = annotated_recordings(test) if test is not None else []
    truth = _truth(pairs, config.data.label_column) if pairs else \
        pd.DataFrame(columns=["file", "begin_s", "end_s", "low_hz", "high_hz", "label"])
    labels: dict[str, str] = {}
    if detect:
        recordings = _audio_under(detect)
        truth = truth[truth.file.isin(map(str, recordings))]
        notes.append(f"detection shown on {len(recordings)} recording(s) you named "
                     f"({', '.join(map(str, detect))})")
    elif pairs:
        recordings = [audio for audio, _ in pairs]
        notes.append(f"detection shown on the {len(recordings)} test recording(s)")
    else:
        split = held_out_split(run)  # a run that keeps no test split shows val clips
        clips = ClipIndex.load_csv(run / "splits.csv").subset(split).clips
        by_label: dict[tuple[str, ...], list[str]] = {}
        for clip in clips:
            by_label.setdefault(clip.labels, []).append(clip.path)
            labels.setdefault(clip.path, "; ".join(clip.labels) or "background")
        turns = itertools.zip_longest(*[sorted(set(paths)) for paths in by_label.values()])
        ordered = dict.fromkeys(path for turn in turns for path in turn if path)
        recordings = [Path(path) for path in ordered][:SHOWN_TEST_CLIPS]
        labels = {str(path): labels[str(path)] for path in recordings}
        notes.append(f"detection shown on {len(recordings)} of the run's "
                     f"{len({clip.path for clip in clips})} {split} clip file(s) instead, each "
                     f"label in turn")
    return DetectionMaterial(validation=validation, test=test, recordings=recordings,
                             truth=truth.reset_index(drop=True), labels=labels, notes=notes)
