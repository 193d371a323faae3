"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from whalelab import audio, runtime


def _write_tone_tree(root: Path, *, seed: int, rate: int = 8000) -> Path:
    """A folder per class under ``root``: ``low`` (500 Hz) and ``high`` (2 kHz) tones and
    ``background``, six one-second files each, over faint noise drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    t = np.arange(rate) / rate
    for name, frequency in (("low", 500.0), ("high", 2000.0), ("background", None)):
        (root / name).mkdir(parents=True)
        for i in range(6):
            tone = 0.0 if frequency is None else 0.3 * np.sin(2 * np.pi * frequency * t)
            soundfile.write(root / name / f"{name}_{i}.wav",
                            (tone + 0.02 * rng.standard_normal(rate)).astype(np.float32), rate)
    return root


def _train_tiny(tree: Path, out: Path, *, seed: int, split_seed: int = 0, **options):
    """Train a smoke run of the tiny backbone (1-s clips at 8 kHz, one epoch of batches of
    4 unless ``options`` say otherwise) on a tone tree into ``out``; returns the clip index
    it was trained on (split by ``split_seed``)."""
    from whalelab.config import RunConfig
    from whalelab.data import load_index
    from whalelab.training import train

    index = load_index(tree, seed=split_seed, window_s=1.0)
    settings = {"epochs": 1, "batch_size": 4, **options}
    config = RunConfig.from_profile("smoke", data=str(tree), classes=index.classes,
                                    clip_seconds=1.0, sample_rate=8000, device="cpu",
                                    backbone="tiny", seed=seed, **settings)
    train(config, out, index=index, progress=False)
    return index


@pytest.fixture(scope="session")
def train_tiny():
    """``train_tiny(tree, out, seed=, split_seed=0, **settings)``: a tiny-backbone smoke run
    of a tone tree (:func:`_train_tiny`); returns the clip index it was trained on."""
    return _train_tiny


@pytest.fixture(scope="session")
def tone_tree():
    """``tone_tree(root, seed=, rate=8000)``: write two tone classes and background, six
    one-second files each, as a folder per class under ``root``; returns ``root``."""
    return _write_tone_tree


@pytest.fixture
def no_cuda(monkeypatch):
    """Behave as on a machine without CUDA."""
    monkeypatch.setattr(runtime, "cuda_available", lambda: False)


@pytest.fixture
def with_cuda(monkeypatch):
    """Behave as on a machine with CUDA (nothing is run on it)."""
    monkeypatch.setattr(runtime, "cuda_available", lambda: True)


@pytest.fixture
def block_recorder(monkeypatch):
    """``record(module, seconds)``: make ``module`` read audio in blocks of ``seconds``
    through :func:`whalelab.audio.stream_audio` and return the list their lengths go to."""
    def record(module, seconds: float) -> list[int]:
        blocks: list[int] = []

        def recording_stream(*args, **kwargs):
            for block in audio.stream_audio(*args, **kwargs):
                blocks.append(len(block))
                yield block

        monkeypatch.setattr(module, "BLOCK_SECONDS", seconds)
        monkeypatch.setattr(module, "stream_audio", recording_stream)
        return blocks
    return record
