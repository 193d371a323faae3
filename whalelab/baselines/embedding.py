"""The embedding baseline: a logistic regression on each clip's mean BirdNET embedding.

The peer of the probe backbone (``birdnet``): the same BirdNET windows of the same clips
(:class:`whalelab.probe.BirdNetProbe`, with the run's speed and hop, so that the
embeddings the run computed are read back from the cache), averaged over each clip's
windows, standardised, and one L2 logistic regression per class with ``C`` and the
thresholds chosen on the run's validation clips (:class:`~whalelab.baselines.clip.
LogisticBaseline`, as the band-statistics baseline chooses its own). Its gap to the
probe says what the attention head over the windows adds to the embeddings alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from whalelab.baselines.clip import C_GRID, score_logistic
from whalelab.config import FeatureConfig, ModelConfig
from whalelab.errors import DataError
from whalelab.probe import BirdNetProbe, disk_cache

EMBEDDING_METHOD = "logistic regression on each clip's mean BirdNET V2.4 embedding"


def mean_embeddings(dataset: Dataset, probe: BirdNetProbe, *,
                    batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's BirdNET embeddings averaged over its windows, with its targets.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float32 ``(clips, 1024)`` and targets ``(clips, classes)``.
    """
    embeddings, targets = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        rows = np.ascontiguousarray(batch.waveform.float().numpy())
        embeddings.append(probe.embed(rows).mean(axis=1))  # (batch, 1024)
        targets.append(batch.target.numpy())
    if not embeddings:
        raise DataError("the dataset holds no clips")
    return (np.concatenate(embeddings).astype(np.float32, copy=False),
            np.concatenate(targets).astype(np.float32, copy=False))


def embedding_baseline(train: Dataset, val: Dataset, test: Dataset, *,
                       features: FeatureConfig, model_config: ModelConfig,
                       classes: Sequence[str], seed: int = 0, grid: Sequence[float] = C_GRID,
                       bootstrap_rounds: int = 500,
                       model: tuple[np.ndarray, np.ndarray] | None = None,
                       snr_db: np.ndarray | None = None) -> dict[str, Any]:
    """The embedding logistic regression fitted on ``train``, tuned on ``val``, scored on
    ``test``, with the BirdNET windows of ``model_config`` (its ``speed`` and
    ``embed_hop_s``); the embeddings are kept in the disk cache
    (:func:`whalelab.probe.disk_cache`). The other parameters and the result are
    :func:`whalelab.baselines.clip_baseline`'s, ``method`` naming these features.
    """
    probe = BirdNetProbe(features, model_config)
    with disk_cache(), torch.inference_mode():
        embeddings = {name: mean_embeddings(source, probe)
                      for name, source in (("train", train), ("val", val), ("test", test))}
    return score_logistic(embeddings, classes=classes, method=EMBEDDING_METHOD, seed=seed,
                          grid=grid, bootstrap_rounds=bootstrap_rounds, model=model,
                          snr_db=snr_db)
