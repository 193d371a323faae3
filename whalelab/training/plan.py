"""Planning a run: its configuration, its clips and splits, and its classes' bands.

:func:`plan_run` turns a profile, the user's settings and a data set into the
:class:`~whalelab.config.RunConfig` and clip index that :func:`whalelab.training.train`
needs (with the audio settings the data implies for a profile that follows the data,
:func:`advised_settings`); :func:`prepare_splits` checks the clips once
(:func:`check_trainable`) and keeps them as the run's ``splits.csv``; :func:`run_bands`
gives each class the frequency band that detection trims events to.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from whalelab.advise import advise
from whalelab.atomic import output_folder
from whalelab.backbones import BACKBONES
from whalelab.bands import (Band, class_bands, dataset_bands, estimate_bands,
                            warn_of_thin_estimates)
from whalelab.config import (DataConfig, FeatureConfig, ModelConfig, RunConfig, TrainConfig,
                             profile_values)
from whalelab.data import BACKGROUND, Clip, ClipIndex, read_data
from whalelab.data.layouts import file_identities
from whalelab.errors import ConfigError, DataError
from whalelab.profiles import resolve_profile

#: the fewest train and val clips of each class that training accepts: a class needs
#: clips to learn from and at least one to be validated on (see :func:`check_trainable`)
MIN_TRAIN_CLIPS = 2
MIN_VAL_CLIPS = 1
#: what a run folder holds once training has begun in it: the files that make it a run
RUN_RECORDS = ("config.json", "splits.csv", "last.pt", "members")


def open_run_folder(run_dir: str | Path) -> Path:
    """``run_dir`` made (where missing) as a folder training may write a run into.

    Raises
    ------
    StorageError
        ``run_dir`` is a file, cannot be written in, or holds files but no run
        (none of :data:`RUN_RECORDS`): training never writes among files it did not make.
    """
    return output_folder(run_dir, records=RUN_RECORDS, flag=None)


def check_trainable(index: ClipIndex, source: str | Path) -> None:
    """Refuse data that training cannot learn or validate: fewer than two classes counting
    background in the train split, or a class with fewer than :data:`MIN_TRAIN_CLIPS`
    train clips or :data:`MIN_VAL_CLIPS` val clips; warn where the same audio appears
    under different labels (byte-identical files over the same stretch).

    Raises
    ------
    DataError
        Naming ``source`` (the data set) and the classes at fault, with their counts.

    Examples
    --------
    >>> from whalelab.data import Clip
    >>> clips = [Clip(f"{i}.wav", labels=("fin",), split="train") for i in range(3)]
    >>> check_trainable(ClipIndex(clips, ["fin"]), "calls/")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    whalelab.errors.DataError: calls/: training needs at least two classes ... only fin; ...
    """
    background = any(not clip.labels for clip in index.subset("train").clips)
    seen = [*index.classes, *([BACKGROUND] if background else [])]
    if len(seen) < 2:
        raise DataError(f"{source}: training needs at least two classes counting background, "
                        f"but the train split holds only {', '.join(seen) or 'nothing'}; add "
                        f"background (call-free) clips or another class")
    train_counts, val_counts = (index.subset(split).targets().sum(axis=0)
                                for split in ("train", "val"))
    few = [f"{name} ({int(train)} train, {int(val)} val)"
           for name, train, val in zip(index.classes, train_counts, val_counts, strict=True)
           if train < MIN_TRAIN_CLIPS or val < MIN_VAL_CLIPS]
    if few:
        raise DataError(f"{source}: too few clips to train and validate {', '.join(few)}; each "
                        f"class needs at least {MIN_TRAIN_CLIPS} train clips and "
                        f"{MIN_VAL_CLIPS} val clip(s): add clips, or leave the class out")
    _warn_of_relabelled_copies(index, source)


def _clip_name(clip: Clip) -> str:
    """A clip as a message names it: its file, its start where it is a stretch of one, and
    its labels (``background`` for none)."""
    where = f"{clip.path} at {clip.start_s:g} s" if clip.start_s or clip.duration_s else clip.path
    return f"{where} ({', '.join(clip.labels) or BACKGROUND})"


def _warn_of_relabelled_copies(index: ClipIndex, source: str | Path) -> None:
    """Warn where clips hold the same audio under different labels: byte-identical files
    (:func:`whalelab.data.layouts.file_identities`, which reads whole only the files whose
    size and beginning agree) over the same stretch, whose labels disagree, so that
    training would be told both answers for one sound. Names the first few pairs."""
    groups: dict[tuple, list[Clip]] = {}
    for clip, identity in zip(index.clips, file_identities(index.clips), strict=True):
        groups.setdefault((identity, clip.start_s, clip.duration_s), []).append(clip)
    pairs = []
    for first, *others in groups.values():
        other = next((clip for clip in others if set(clip.labels) != set(first.labels)), None)
        if other is not None:
            pairs.append(f"{_clip_name(first)} and {_clip_name(other)}")
    if pairs:
        warnings.warn(f"{source}: {len(pairs)} clip(s) hold the same audio as another under "
                      f"different labels, so training is told both: {'; '.join(pairs[:3])}"
                      f"{'; ...' if len(pairs) > 3 else ''}; correct the labels or remove the "
                      f"copies", stacklevel=3)


def prepare_splits(config: RunConfig, run_dir: Path, index: ClipIndex | None) -> ClipIndex:
    """The run's clip index with its splits, written to ``splits.csv`` once and reused after.

    A new index is checked first (:func:`check_trainable`), so that data training cannot
    use never becomes a run's ``splits.csv``.
    """
    splits_path = run_dir / "splits.csv"
    if splits_path.is_file():
        return ClipIndex.load_csv(splits_path)
    if index is None:
        raise DataError(f"{run_dir}: no splits.csv and no data index given")
    check_trainable(index, config.data.path or run_dir)
    index.save_csv(splits_path)
    return index

def plan_run(run_dir: str | Path, *, data: str | Path, profile: str = "auto",
             device: str = "auto", resume: bool = False, on_error: str = "raise",
             **requested: Any) -> tuple[RunConfig, ClipIndex | None]:
    """The configuration and clips :func:`train` needs for ``run_dir``.

    A new run: the profile's settings with ``requested`` overrides (field names of
    :mod:`whalelab.config`; None keeps the profile's), and ``data`` read with the
    data settings among them; a profile that ``follows_data`` (``field``) takes the audio
    settings the data implies (:func:`advised_settings`) under ``requested``. Resuming a
    run folder that has a ``config.json``: the saved configuration and ``splits.csv``; a
    requested setting (or a named profile) that differs from the saved one is a
    :class:`ConfigError` listing each, never silently ignored.
    """
    saved = open_run_folder(run_dir) / "config.json"
    if resume and saved.is_file():
        config = RunConfig.load(saved)
        conflicts = config.conflicts(path=data, **requested)
        if profile != "auto" and profile != config.profile:
            conflicts.insert(0, f"profile: {config.profile!r} -> {profile!r}")
        if conflicts:
            raise ConfigError(f"{saved}: --resume continues the saved run, but these settings "
                              f"differ from it: {'; '.join(conflicts)}. Resume without them, "
                              f"or train into a new folder")
        splits = Path(run_dir) / "splits.csv"
        return config, ClipIndex.load_csv(splits) if splits.is_file() else None
    if resolve_profile(profile, device=device).follows_data:
        requested = advised_settings(data, profile=profile, device=device, on_error=on_error,
                                     requested=requested)
    name, values = profile_values(profile, data=data, device=device, **requested)
    index = read_data(DataConfig(**values["data"]), seed=TrainConfig(**values["train"]).seed,
                      window_s=FeatureConfig(**values["features"]).clip_seconds,
                      on_error=on_error)
    return RunConfig.from_profile(name, data=data, classes=index.classes, device=device,
                                  **requested), index

def advised_settings(data: str | Path, *, profile: str, device: str, on_error: str,
                     requested: dict[str, Any]) -> dict[str, Any]:
    """``requested`` over the settings :func:`whalelab.advise.advise` picks for ``data``
    (read with the run's data settings and seed); the settings taken are printed."""
    values = profile_values(profile, data=data, device=device, **requested)[1]
    advice = advise(data, settings=DataConfig(**values["data"]),
                    seed=TrainConfig(**values["train"]).seed, on_error=on_error)
    backbone = requested.get("backbone") or values["model"].get("backbone",
                                                                ModelConfig.backbone)
    frozen = BACKBONES[backbone].frozen  # a pretrained embedder's: its own rate and speeds
    if frozen and requested.get("sample_rate") is None:
        requested = {**requested, "sample_rate": advice.probe_sample_rate}
    merged = advice.overrides(requested)
    shown = list(advice.settings())
    if frozen and merged.get("speed") is None:
        merged["speed"], merged["extra_speeds"] = advice.speed, advice.extra_speeds
        shown.append("speed")
    if frozen and merged.get("learning_rate") is None and advice.probe_learning_rate:
        merged["learning_rate"] = advice.probe_learning_rate
        shown.append("learning_rate")
    extra = "".join(f" (and {speed:g})" for speed in merged.get("extra_speeds") or ())
    tqdm.write(f"{data}: settings from the data (whalelab advise): " + ", ".join(
        f"{name} {merged[name]:g}{extra if name == 'speed' else ''}" for name in shown
        if merged.get(name) is not None))
    return merged

def run_bands(config: RunConfig, index: ClipIndex,
              progress: bool | None = None) -> dict[str, Band]:
    """Each class's frequency band for ``classes.json``: what detection trims events to.

    What the data set states (:func:`whalelab.bands.dataset_bands`: its Raven
    annotations or a ``bands.json`` beside it), else estimated from the training split's
    clips (:func:`whalelab.bands.estimate_bands`; with a warning for a class of fewer than
    :data:`whalelab.bands.MIN_BAND_CLIPS` of them), else the whole ``fmin``-``fmax`` range.
    """
    known = dataset_bands(config.data.path, label_column=config.data.label_column) \
        if config.data.path else {}
    unknown = [name for name in config.classes if name not in known]
    if unknown:
        train = index.subset("train")
        warn_of_thin_estimates(train, unknown, source=config.data.path or "the data")
        known = {**estimate_bands(train, config.features, progress=progress), **known}
    return class_bands(config.classes, known, fmin=config.features.fmin,
                       fmax=config.features.fmax)
