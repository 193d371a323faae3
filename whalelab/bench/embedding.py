"""How fast the pretrained embedder runs: BirdNET V2.4 windows per second on this machine,
and what that means for a recording (times real time at a hop and speed factor).

Windows are 3 s of 48 kHz audio ``(batch, 144000)`` float32 in, ``(batch, 1024)`` out;
their content does not change the cost, so noise stands in for audio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from whalelab.bench.timing import Sizes, median_seconds
from whalelab.errors import ConfigError
from whalelab.pretrained import birdnet

#: seconds between window starts in the model's time, as BirdNET-Analyzer's 50 % overlap
HOP_S = 1.5
#: the speed factors whose real-time figures are reported (8: infrasonic calls)
SPEEDS = (1.0, 8.0)
BATCH = 16


def bench_embedding(*, sizes: Sizes, repeats: int) -> dict[str, Any]:
    """BirdNET's windows per second at batch :data:`BATCH` (median of ``repeats`` after a
    warm-up), and the recording seconds embedded per second at :data:`HOP_S` for each of
    :data:`SPEEDS` (a window at speed ``s`` covers ``3 s`` of the model's time, ``3 s``
    times ``s`` of the recording). Without the optional extra: ``{"installed": False}``
    and the reason.
    """
    try:
        model = birdnet.BirdNet()
    except ConfigError as error:
        return {"installed": False, "reason": str(error)}
    batch = min(BATCH, sizes.embed_windows)
    windows = (0.01 * np.random.default_rng(0).standard_normal(
        (batch, birdnet.WINDOW_SAMPLES))).astype(np.float32)  # (batch, 144000)
    seconds = median_seconds({"embed": lambda: model(windows)}, repeats=repeats)["embed"]
    windows_per_s = batch / seconds
    return {"installed": True, "model": f"{birdnet.NAME} {birdnet.VERSION}",
            "licence": birdnet.LICENCE, "batch_size": batch, "windows_per_s": windows_per_s,
            "hop_s": HOP_S,
            "times_real_time": {str(speed): windows_per_s * HOP_S * speed for speed in SPEEDS}}
