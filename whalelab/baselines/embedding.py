"""The embedding peer: a logistic regression on each clip's mean BirdNET embedding.

What a researcher would run instead of whalelab, and what the probe backbone
(``birdnet``) must match: each clip (the run's rate, its ``speed`` applied) resampled to
BirdNET's 48 kHz, cut into 3-s windows at a 1.5-s hop (a clip shorter than 3 s tiled into
one) whose embeddings are averaged
(:meth:`whalelab.embeddings.BirdNetEmbedder.embed_waveforms`, kept in the embedding
cache, :class:`whalelab.embeddings.EmbeddingCache`), the means at each of the run's
speeds (``ModelConfig.speeds()``) side by side, as the probe hears them; then one
standardised L2 logistic regression per class
(:class:`~whalelab.baselines.clip.LogisticBaseline`) fitted on the run's training clips,
its own and its validation clips together, with ``C`` and the thresholds chosen by grouped
5-fold cross-validation on them, grouped by recording
(:meth:`~whalelab.baselines.clip.LogisticBaseline.fit_grouped`). It never consults the run's
validation split as the model does, so it learns from every training clip. Its gap to the
probe says what the attention head over the windows adds to the embeddings alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from whalelab.baselines.clip import C_GRID, LogisticBaseline, score_baseline
from whalelab.config import FeatureConfig, ModelConfig
from whalelab.embeddings import EmbeddingCache
from whalelab.embeddings.birdnet import BirdNetEmbedder
from whalelab.errors import DataError

EMBEDDING_METHOD = ("logistic regression on each clip's mean BirdNET V2.4 embedding "
                    "(3-s windows at a 1.5-s hop, at each of the run's speeds; C by 5-fold "
                    "cross-validation grouped by recording on the training clips)")
#: the hop between the peer's windows, in BirdNET's time
PEER_HOP_S = 1.5


def mean_embeddings(dataset: Dataset, *, sample_rate: int, speeds: Sequence[float],
                    cache: EmbeddingCache, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's BirdNET embeddings (3-s windows at :data:`PEER_HOP_S`) averaged at
    each of ``speeds``, with its targets; ``dataset`` serves ``(waveform (samples,) at
    sample_rate, target (classes,), ...)``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float32 ``(clips, 1024 * len(speeds))`` (each speed's means in turn) and targets
        ``(clips, classes)``.
    """
    embedders = [BirdNetEmbedder(speed=speed, hop_s=PEER_HOP_S) for speed in speeds]
    embeddings, targets = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        waveforms = batch.waveform.float().numpy()
        embeddings.append(np.concatenate([
            cache.embed_waveforms(embedder, waveforms, sample_rate=sample_rate)
            for embedder in embedders], axis=1))
        targets.append(batch.target.numpy())
    if not embeddings:
        raise DataError("the dataset holds no clips")
    return (np.concatenate(embeddings).astype(np.float32, copy=False),
            np.concatenate(targets).astype(np.float32, copy=False))


def recording_groups(dataset: Dataset) -> list[str]:
    """Each clip's recording (its file where the data names none): ``dataset.index``'s
    clips, in order."""
    return [clip.recording or str(clip.path) for clip in dataset.index.clips]


def embedding_baseline(train: Dataset, val: Dataset, test: Dataset, *,
                       features: FeatureConfig, model_config: ModelConfig,
                       classes: Sequence[str], seed: int = 0, grid: Sequence[float] = C_GRID,
                       bootstrap_rounds: int = 500,
                       model: tuple[np.ndarray, np.ndarray] | None = None,
                       snr_db: np.ndarray | None = None,
                       cache: EmbeddingCache | None = None) -> dict[str, Any]:
    """The embedding peer fitted on ``train`` and ``val`` together (grouped
    cross-validation by recording chooses ``C`` and the thresholds), scored on ``test``,
    at the run's rate and ``model_config.speeds()``. ``train``, ``val`` and ``test`` are
    :class:`whalelab.data.ClipDataset` (``train=False``); ``cache`` defaults to the
    embedding cache's folder. The other parameters and the result are
    :func:`whalelab.baselines.clip_baseline`'s, ``method`` naming these features and
    ``validation_macro_ap`` holding the out-of-fold macro AP of each ``C``.
    """
    cache = cache or EmbeddingCache()
    options = {"sample_rate": features.sample_rate, "speeds": model_config.speeds(),
               "cache": cache}
    fitted = [mean_embeddings(source, **options) for source in (train, val)]
    statistics = np.concatenate([embeddings for embeddings, _ in fitted])
    targets = np.concatenate([clip_targets for _, clip_targets in fitted])
    baseline = LogisticBaseline(grid=grid, seed=seed).fit_grouped(
        statistics, targets, recording_groups(train) + recording_groups(val))
    return score_baseline(baseline, *mean_embeddings(test, **options), classes=classes,
                          method=EMBEDDING_METHOD, seed=seed,
                          bootstrap_rounds=bootstrap_rounds, model=model, snr_db=snr_db)
