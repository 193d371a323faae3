"""Archive detection on a Dask cluster: a task a recording.

``whalelab detect RUN ARCHIVE... --out OUT --cluster local:4`` (or ``local``, or a running
scheduler's address: :func:`whalelab.cluster.connect`) hands every
recording without a table in OUT to a worker. The worker loads the model once, on its own
device (``--device``; ``auto``: its GPU where it has one), while the client, which may
have none (a login node), loads it on the CPU only to check it; the model file must be
readable there, on a shared file system, as OUT must be. The worker detects the recording
as :func:`whalelab.detection.detect_recording` does, and writes its gaps file and Raven
table atomically into OUT, the table last (with the writer that
:func:`whalelab.detection.detect_files` hands over, ``write_recording``). The client keeps
OUT's lock and record (:func:`whalelab.detection.detect_files`), counts hours of audio
done and the speed as a multiple of real time, reports a recording that fails with its
reason while the others go on (``on_error="skip"``), and puts ``events.csv`` together at
the end. The tables written are the journal: a rerun, after the client or a worker died,
detects only the recordings without one. Each recording's events are those of the serial
path (a test compares them file by file).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache
from pathlib import Path

from whalelab.audio import AudioSource
from whalelab.checkpoint import TrainedModel, load_model
from whalelab.cluster import results_on_cluster
from whalelab.config import DetectConfig
from whalelab.detection.recording import detect_recording
from whalelab.errors import AudioError, OnError
from whalelab.runtime import RealTime, audio_bar


@cache
def _worker_model(source: str, device: str, engine: str) -> TrainedModel:
    """The model as a worker loads it, once a worker process."""
    trained = load_model(source, device=device)
    if engine == "onnx":
        from whalelab.export import onnx_model
        trained = dataclasses.replace(trained, model=onnx_model(trained))
    return trained


def _detect_task(source: str, device: str, engine: str, audio: AudioSource, table: str,
                 settings: DetectConfig, batch_size: int, channel: int | None,
                 write: Callable[..., None]) -> str | None:
    """On a worker: detect one recording and ``write(table, audio, events, gaps)`` its
    outputs; the error's one line where it cannot be read."""
    trained = _worker_model(source, device, engine)
    try:
        found = detect_recording(trained, audio, settings=settings, batch_size=batch_size,
                                 channel=channel, progress=False)
    except AudioError as error:
        return str(error)
    write(Path(table), audio, found.events, found.gaps)
    return None


def detect_on_cluster(cluster: str, trained: TrainedModel,
                      pending: dict[AudioSource, tuple[Path, float]], failures: OnError, *,
                      write: Callable[..., None], settings: DetectConfig, engine: str,
                      batch_size: int, channel: int | None, progress: bool | None,
                      device: str) -> None:
    """Detect the ``pending`` recordings (``{audio: (table, seconds)}``) on ``cluster``
    (:func:`whalelab.cluster.connect`), a task each, whose outputs ``write(table, audio,
    events, gaps)`` puts in place; ``failures`` takes each recording that fails. Each
    worker loads the model on ``device`` (``auto``: its GPU where it has one)."""
    if not pending:
        return
    arguments = {audio: (str(trained.source), device, engine, audio, str(table), settings,
                         batch_size, channel, write) for audio, (table, _) in pending.items()}
    with audio_bar(sum(seconds for _, seconds in pending.values()), progress=progress,
                   desc="detect") as bar:
        advance = RealTime(bar)
        for audio, error in results_on_cluster(cluster, _detect_task, arguments,
                                               doing="detecting"):
            if error is not None:
                failures.fail(AudioError(error))
            advance(pending[audio][1])
