"""Which recordings a data set offers detection: where its settings are chosen and scored,
and what detection is shown on.

:func:`detection_material` finds annotated validation and test recordings (audio with a
Raven table beside it) in a data set's layout, and the recordings notebook 05 shows
detection on when the data set has none.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from whalelab.audio import audio_files_under
from whalelab.config import RunConfig
from whalelab.data import ClipIndex, raven_pairs
from whalelab.errors import DataError
from whalelab.evaluate import held_out_split
from whalelab.raven import read_raven

#: test clips detection is shown on when a data set has no long recordings
SHOWN_TEST_CLIPS = 12


def annotated_recordings(folder: str | Path) -> list[tuple[Path, Path]]:
    """``(audio, table)`` for each audio file in ``folder`` with a Raven table beside it.

    The table of ``NAME.wav`` is ``NAME.selections.txt``, ``NAME.Table.1.selections.txt``
    (Raven's own default) or ``NAME.txt``, as :mod:`whalelab.data` pairs them for
    training. An empty list means ``folder`` is not a folder of annotated recordings.
    """
    return raven_pairs(Path(folder))


def annotated_truth(pairs: Sequence[tuple[Path, Path]], label_column: str) -> pd.DataFrame:
    """The Raven tables of ``(audio, table)`` pairs as one table with a ``file`` column."""
    return pd.concat([read_raven(table, label_column=label_column).assign(file=str(audio))
                      for audio, table in pairs], ignore_index=True)


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
            found += audio_files_under(item)
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
    truth = annotated_truth(pairs, config.data.label_column) if pairs else \
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
