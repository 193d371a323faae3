"""The detection score of a window, and a recording's traces with its gaps zeroed.

Detection stitches two traces per class instead of the model's bare framewise output
(:func:`detection_score`): the framewise probability times the window's clipwise
probability, which events are found in, and the band contrast of
:mod:`whalelab.band_contrast`, which trims each event to where the call's energy is.
Once every window of a recording is stitched, :func:`gapped_traces` zeroes the scores
inside its gaps (runs of silence or of a stuck value): a gap holds no call, yet a model
scores it like anything else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from whalelab.audio import audio_info
from whalelab.band_contrast import BandContrast
from whalelab.config import RunConfig
from whalelab.detection.streaming import Score, StitchedRecording


def detection_score(model: torch.nn.Module, config: RunConfig,
                    bands: Mapping[str, tuple[float, float]], *, gate: bool = True) -> Score:
    """``(batch, samples)`` -> ``(batch, frames, 2 * classes)``: detection scores, then contrast.

    With ``gate`` (the default), the detection score of a frame is its framewise
    probability times the window's clipwise probability: a model trained on clip labels
    alone keeps its cla scores high for a second or so around a call and even in windows
    without one, while the clipwise output says whether the window holds the class at
    all. Without it, the score is the bare framewise output. The contrast is
    :class:`whalelab.band_contrast.BandContrast` of ``bands``, on the model's device.
    """
    contrast = BandContrast(config.features, bands, config.classes).to(
        next(model.parameters()).device)

    def score(waveform: torch.Tensor) -> torch.Tensor:
        output = model(waveform)
        gated = output["framewise_output"] * output["clipwise_output"][:, None, :] if gate \
            else output["framewise_output"]
        with torch.autocast(waveform.device.type, enabled=False):  # dB in float32
            band_contrast = contrast(waveform.float())  # (batch, frames, classes)
        return torch.cat([gated.float(), band_contrast], dim=2)
    return score


@dataclasses.dataclass(frozen=True)
class RecordingTraces:
    """What a recording's events are found in.

    Attributes
    ----------
    scores : numpy.ndarray
        float32 ``(frames, classes)`` detection scores (:func:`detection_score`), zero
        on the frames inside a gap; frame ``f`` at ``f / frames_per_second`` seconds.
    contrast : numpy.ndarray
        float32 ``(frames, classes)`` dB of each class's band above its noise floor.
    gaps : pandas.DataFrame
        ``begin_s, end_s, kind`` (``silence`` or ``flat``), in time order.
    duration_s : float
        The recording's length in seconds: no event ends after it.
    """

    scores: np.ndarray
    contrast: np.ndarray
    gaps: pd.DataFrame
    duration_s: float


def gapped_traces(recording: StitchedRecording, config: RunConfig) -> RecordingTraces:
    """The traces of a finished recording scored by :func:`detection_score` with gaps.

    Its stitched traces are ``(frames, 2 * classes)``. The scores of the frames ``f``
    whose span ``[f, f + 1)`` hops lies inside a gap are zero, so that a window that is
    mostly gap spreads nothing into its neighbours.
    """
    features, found = config.features, recording.silence.gaps
    scores, contrast = np.split(recording.traces(), 2, axis=1)  # (frames, classes) each
    step = features.hop_length
    for begin, end, _ in found:
        scores[-(-begin // step):end // step] = 0
    spans = np.asarray([gap[:2] for gap in found], dtype=float).reshape(-1, 2)
    spans /= features.sample_rate
    gaps = pd.DataFrame({"begin_s": spans[:, 0], "end_s": spans[:, 1],
                         "kind": [kind for *_, kind in found]})
    return RecordingTraces(scores=scores, contrast=contrast, gaps=gaps,
                           duration_s=audio_info(recording.path).duration)
