"""Clip-level probabilities for audio files, window by window, read as a stream.

A file is read block by block (:func:`whalelab.audio.stream_audio`, ``BLOCK_SECONDS``
at a time) and cut into windows of the run's clip length with 50 % overlap by
:class:`whalelab.audio.Windows`, the window cutter detection uses too (the last window
ends at the file's end), so memory stays flat whatever the file's length: one block,
one window and one batch of windows, plus a row of scores per window. A file shorter
than the clip length is tiled, never padded: repeated end to end into one window, one
copy centred (:func:`whalelab.audio.tile`, as training serves short clips): digital
silence around a short clip is a picture no recording has, and a model scores it as a
call. The model runs in the precision the run trained in
(:func:`whalelab.runtime.autocast`). Every window's scores are returned too
(``return_windows``; ``whalelab predict --windows``): for a long file, they are the
answer.

**A class in a file.** A file of at most :data:`FEW_WINDOWS` windows (a clip up to
twice its length) scores each class by its best window. A longer file has many
windows, and the best of many is high by chance alone: a model that gives a window of
white noise a score above a threshold one time in a thousand gives one of the 2879
windows of two hours of noise such a score three times over. A call, though, lies in
two overlapping windows (each point of a file lies in two neighbouring windows, at 50 %
overlap), and both hear it. So a longer file scores each class by its best pair of
neighbouring windows, the lower score of the two: the class is called present (clears
its threshold) only where two neighbouring windows both clear it. A chance high score
of one window, unlike a call, is seldom matched by its neighbour's; the row keeps the
count of windows above each class's threshold (``windows_above_<class>``) for a reader
to judge. An unscored (silent) neighbour neither confirms nor denies: a window beside
one counts alone.

Input the model cannot answer for is named, not scored, by the one rule of what audio a
run reads (:class:`whalelab.audio.AudioRule`, as detection and training apply it):

- a file shorter than one STFT window (``n_fft`` samples at the run's rate) holds no
  spectrum frame: :class:`~whalelab.errors.AudioError` naming it;
- a file whose sample rate cannot hold the run's band: refused when its Nyquist
  frequency is at or below ``fmin``; below ``fmax``, one warning naming the file, its
  rate and ``fmax`` (``low_rate="warn"``, the reason also in the row's ``note``) or
  refused (``low_rate="refuse"``);
- a file of more than two channels read without ``channel``: its channels are mixed,
  with a warning naming the file, the count and ``--channel`` (the note says so too);
- silence: a run of at least ``MIN_GAP_S`` samples each exactly zero or within
  ``FLAT_TOLERANCE`` of the one before (a dropout, a dead channel, a DC level, a
  clipped flat line: :mod:`whalelab.silence`, whose runs are detection's gaps). Lone
  repeated values are not silence: a quiet 16-bit or an 8-bit recording repeats its
  quantised values all the time. A window more than ``SILENT_FRACTION`` inside such
  runs is not scored (NaN scores, the reason in its ``note``); a file more than
  ``SILENT_FRACTION`` inside them, or whose every window is, gets ``top_class``
  ``"silence"`` (never a class), NaN scores and the reason in its ``note``.

With ``on_error="skip"`` (:class:`whalelab.errors.OnError`), a file that is refused or
cannot be read is reported as a warning naming it and left out; the other files keep
their rows, and the number of skipped files is reported at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from whalelab.audio import BLOCK_SECONDS, AudioRule, Windows, audio_info, stream_audio
from whalelab.checkpoint import TrainedModel, load_model
from whalelab.errors import AudioError, ConfigError, OnError
from whalelab.metrics.clips import BACKGROUND, single_label
from whalelab.runtime import autocast, progress_bar
from whalelab.silence import MIN_GAP_S, SILENT_FRACTION, Silence, silent_samples

#: ``top_class`` of a file that is mostly silence
SILENCE = "silence"
#: files of more windows than this call a class only where two neighbouring windows clear it
FEW_WINDOWS = 3


def file_scores(scores: np.ndarray) -> np.ndarray:
    """A file's score per class from its windows' ``(windows, classes)``: ``(classes,)``.

    The best window's for a file of at most :data:`FEW_WINDOWS` windows; else the best
    pair of neighbouring windows' lower score (NaN, an unscored window, neither
    confirms nor denies: its neighbour counts alone).

    Examples
    --------
    >>> scores = np.array([[0.1], [0.9], [0.2], [0.7], [0.8], [0.1]])
    >>> file_scores(scores), file_scores(scores[:3])
    (array([0.7]), array([0.9]))
    """
    if len(scores) <= FEW_WINDOWS:
        return np.nanmax(scores, axis=0)
    return np.nanmax(np.fmin(scores[:-1], scores[1:]), axis=0)


def _clipwise(trained: TrainedModel, windows: list[np.ndarray]) -> np.ndarray:
    """``clipwise_output`` of a list of ``(samples,)`` windows: ``(windows, classes)``."""
    batch = torch.from_numpy(np.stack(windows)).to(trained.device)  # (windows, samples)
    with torch.inference_mode(), autocast(trained.device, trained.config.train.amp):
        return trained.model(batch)["clipwise_output"].float().cpu().numpy()


def _silence_note(fraction: float) -> str:
    return (f"silence: {fraction:.0%} of the samples are runs of exact zeros or a flat line "
            f"of {MIN_GAP_S:g} s or more")


def _score_file(trained: TrainedModel, path: str | Path, *, batch_size: int,
                rule: AudioRule) -> tuple[dict, list[dict]]:
    """One file's row and its windows' rows; raises :class:`AudioError` for refused files."""
    features, classes = trained.config.features, trained.config.classes
    rate, clip = features.sample_rate, features.clip_samples
    notes = [rule.check(audio_info(path), stacklevel=3)]
    min_gap = round(MIN_GAP_S * rate)
    silence = Silence(min_gap=min_gap)
    cut = Windows(silence.watch(stream_audio(path, rate, block_seconds=BLOCK_SECONDS,
                                             channel=rule.channel)),
                  clip=clip, hop=clip // 2)
    windows, scores, pending = [], [], {}  # pending: {row: window} not scored yet

    def score_pending() -> None:
        for row, score in zip(pending, _clipwise(trained, list(pending.values())), strict=True):
            scores[row] = score
        pending.clear()

    for start, window, _ in cut:
        silent = float(silent_samples(window, min_run=min_gap).mean())
        windows.append({"file": str(path), "start_s": max(start, 0) / rate,
                        "end_s": min(start + clip, cut.samples) / rate,
                        "note": _silence_note(silent) if silent > SILENT_FRACTION else ""})
        scores.append(np.full(len(classes), np.nan, dtype=np.float32))
        if silent <= SILENT_FRACTION:
            pending[len(scores) - 1] = window
        if len(pending) == batch_size:
            score_pending()
    if pending:
        score_pending()
    scores = np.stack(scores)  # (windows, classes)
    above = (scores >= trained.thresholds).sum(axis=0)  # (classes,); NaN is never above
    if silence.fraction > SILENT_FRACTION or np.isnan(scores).all():
        scored = np.full(len(classes), np.nan)
        top_class = SILENCE
        notes.append(_silence_note(silence.fraction) if silence.fraction > SILENT_FRACTION
                     else "silence: every window is more than half runs of exact zeros or a "
                          "flat line")
    else:
        scored = file_scores(scores)  # (classes,)
        top = single_label(scored[None], trained.thresholds)[0]
        top_class = classes[top] if top < len(classes) else BACKGROUND
    row = {"file": str(path), "duration_s": cut.samples / rate, "windows": len(windows),
           "top_class": top_class, **dict(zip(classes, map(float, scored), strict=True)),
           **{f"windows_above_{name}": int(count) for name, count in zip(classes, above,
                                                                        strict=True)},
           "note": "; ".join(note for note in notes if note)}
    for window, score in zip(windows, scores, strict=True):
        window.update(zip(classes, map(float, score), strict=True))
    return row, windows


def predict_files(model_source: str | Path, files: Sequence[str | Path], *, device: str = "auto",
                  batch_size: int = 32, on_error: str = "raise", low_rate: str | None = None,
                  channel: int | None = None, return_windows: bool = False,
                  progress: bool | None = None
                  ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per file: duration, windows, the top class (or background) and each class's score.

    Parameters
    ----------
    model_source : path
        A trained run folder or a model file (``RUN/best.pt``), which works alone.
    files : sequence of paths
        Audio files of any supported format, rate and channel count.
    batch_size : int
        Windows per forward pass.
    on_error : {"raise", "skip"}
        What a file that cannot be read or is refused (too short, too low a rate, without
        ``channel``) does: stop with an :class:`~whalelab.errors.AudioError` naming it, or
        warn, leave it out and report how many were left out.
    low_rate : {"warn", "refuse"} or None
        What a file whose Nyquist frequency lies below the run's ``fmax`` does; None
        follows the run's ``data.low_rate``.
    channel : int or None
        Read this channel (0-based) of every file; None mixes the channels (a file of
        more than two is warned of).
    return_windows : bool
        Also return every window's scores.

    Returns
    -------
    pandas.DataFrame
        ``file, duration_s, windows, top_class``, one column per class (the file's score,
        :func:`file_scores`), ``windows_above_<class>`` per class (windows whose score
        clears the class's threshold), ``note``: the top class is a class, ``background``
        or ``silence`` (NaN scores; the note says why). With ``return_windows``, also the
        windows: ``file, start_s, end_s``, one column per class (NaN for a silent
        window), ``note``.
    """
    failures = OnError(on_error)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    trained = load_model(model_source, device=device)
    rule = AudioRule.for_scoring(trained.config, low_rate=low_rate, channel=channel)
    classes = trained.config.classes
    rows, windows = [], []
    for path in progress_bar(files, progress=progress, desc="predict"):
        try:
            row, file_windows = _score_file(trained, path, batch_size=batch_size, rule=rule)
        except AudioError as error:
            failures.fail(error)
            continue
        rows.append(row)
        windows.extend(file_windows)
    failures.summary(total=len(files))
    table = pd.DataFrame(rows, columns=["file", "duration_s", "windows", "top_class", *classes,
                                        *(f"windows_above_{name}" for name in classes), "note"])
    if not return_windows:
        return table
    return table, pd.DataFrame(windows, columns=["file", "start_s", "end_s", *classes, "note"])
