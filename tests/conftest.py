"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest

from whalelab import runtime


@pytest.fixture
def no_cuda(monkeypatch):
    """Behave as on a machine without CUDA."""
    monkeypatch.setattr(runtime, "cuda_available", lambda: False)


@pytest.fixture
def with_cuda(monkeypatch):
    """Behave as on a machine with CUDA (nothing is run on it)."""
    monkeypatch.setattr(runtime, "cuda_available", lambda: True)
