"""One rule for silence: runs of still samples, their share (prediction) and detection's gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from whalelab import silence
from whalelab.silence import Silence, silent_samples, still_samples


def runs(mask: np.ndarray, at_least: int) -> list[tuple[int, int]]:
    """``(begin, end)`` of the runs of True in ``mask`` of ``at_least`` or more, by hand."""
    found, begin = [], None
    for position, value in enumerate([*mask, False]):
        if value and begin is None:
            begin = position
        elif not value and begin is not None:
            if position - begin >= at_least:
                found.append((begin, position))
            begin = None
    return found


def test_a_still_sample_is_zero_or_continues_a_flat_line_and_only_long_runs_are_silent():
    samples = np.array([0.3, 0.0, 0.0, 0.7, 0.7, 0.7 + 5e-7, 0.2, -0.0], dtype=np.float32)
    still = [False, True, True, False, True, True, False, True]
    assert still_samples(samples).tolist() == still
    assert still_samples(samples[1:], previous=0.3).tolist() == still[1:]
    assert silent_samples(samples, min_run=2).tolist() == [
        False, True, True, False, True, True, False, False]  # the lone -0.0 is no run
    assert not silent_samples(samples, min_run=3).any()


@pytest.mark.parametrize("seed", range(20))
def test_the_gaps_are_the_long_runs_of_the_silent_samples_however_the_blocks_fall(seed):
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([0.0, 0.25, -0.5, 0.1], dtype=np.float32), size=60)
    signal = np.repeat(values, rng.integers(1, 9, size=60))  # runs of zeros and flat lines
    signal[rng.random(len(signal)) < 0.2] = rng.normal(size=1)  # broken up here and there
    cuts = np.sort(rng.integers(0, len(signal), size=rng.integers(0, 8)))
    found = Silence(min_gap=5)
    assert sum(map(len, found.watch(np.split(signal, cuts)))) == len(signal)
    assert [gap[:2] for gap in found.gaps] == runs(still_samples(signal), 5)
    assert [gap[2] for gap in found.gaps] == [
        "silence" if not signal[begin:end].any() else "flat" for begin, end, _ in found.gaps]
    # prediction's share counts the samples in the same runs
    mask = silent_samples(signal, min_run=5)
    assert mask.sum() == sum(end - begin for begin, end, _ in found.gaps)
    assert found.silent == mask.sum() and found.fraction == pytest.approx(mask.mean())


def test_a_gap_spanning_blocks_is_found_whole_and_a_short_run_is_not_a_gap():
    signal = np.random.default_rng(0).uniform(-0.5, 0.5, 100).astype(np.float32)
    signal[10:50] = 0.0
    signal[60:64] = 0.0  # 4 < 5 samples
    signal[70:90] = -0.3  # a flat line: its first sample starts it, the others repeat it
    found = Silence(min_gap=5)
    list(found.watch(np.split(signal, [20, 21, 40, 75])))
    assert found.gaps == [(10, 50, "silence"), (71, 90, "flat")]


def test_the_readme_states_the_constants():
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert silence.MIN_GAP_S == 0.5 and "at least half a second (`whalelab.silence`" in readme
    assert f"within {silence.FLAT_TOLERANCE:.0e}".replace("e-0", "e-") in readme
