"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest

from whalelab import audio, runtime


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
