"""What counts as silence: one rule for a still sample, the runs of them, and their share.

A sample is **still** when it is exactly zero, or within :data:`FLAT_TOLERANCE` of the
sample before it. (The first sample of a flat line at a value other than zero is where
the line starts, not yet still; the ones that repeat it are.) A **silent** stretch is a
run of at least :data:`MIN_GAP_S` still samples: a dropout (digital silence), a dead
channel, a DC level, a stuck converter, a clipped flat line. Such audio holds no call,
yet a model scores it like anything else: digital silence looks like a quiet blue
whale band.

Only runs count, never lone still samples: a quiet recording repeats its quantised
values all the time (a call at -66 dBFS in 16-bit, or any 8-bit recording, moves by
less than one step between many of its samples), yet the level of a recording is its
own (judged against its own noise by the model's per-clip normalisation), and a run of
half a second of identical samples is a stopped signal at any level.

Both users of the rule watch the same streamed blocks with :class:`Silence`:

- prediction counts the silent share of a file (:attr:`Silence.fraction`, the samples
  inside gaps) and of each window (:func:`silent_samples`), and leaves one more than
  :data:`SILENT_FRACTION` silent unscored;
- detection takes the **gaps**, the silent runs (``silence`` when every sample is
  zero, else ``flat``), sets their scores to zero and cuts events at their edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

#: a sample this close to the one before it continues a flat line
FLAT_TOLERANCE = 1e-6
#: share of silent samples above which prediction calls a window or a file silence
SILENT_FRACTION = 0.5
#: seconds of still samples in a row that are silent: a gap in detection
MIN_GAP_S = 0.5


def still_samples(samples: np.ndarray, *, previous: float | None = None) -> np.ndarray:
    """Bool ``(n,)``: each sample exactly zero or within :data:`FLAT_TOLERANCE` of the one
    before it.

    ``previous`` is the sample before the first (from the block before), if any.

    Examples
    --------
    >>> still_samples(np.array([0.5, 0.5, 0.0, 0.2, -0.1])).tolist()
    [False, True, True, False, False]
    """
    before = np.concatenate([[np.nan if previous is None else previous], samples[:-1]])
    return (samples == 0) | (np.abs(samples - before) <= FLAT_TOLERANCE)


def silent_samples(samples: np.ndarray, *, min_run: int) -> np.ndarray:
    """Bool ``(n,)``: each sample inside a run of at least ``min_run`` still samples
    (:func:`still_samples`) within ``samples``.

    Examples
    --------
    >>> silent_samples(np.array([0.5, 0.5, 0.5, 0.0, 0.2, 0.2, -0.1]), min_run=3).tolist()
    [False, True, True, True, False, False, False]
    """
    flags = np.concatenate([[False], still_samples(samples), [False]])
    edges = np.flatnonzero(flags[1:] != flags[:-1])  # begins and ends of the runs
    begins, ends = edges[::2], edges[1::2]
    depth = np.zeros(len(samples) + 1, dtype=int)
    long = ends - begins >= max(1, min_run)
    np.add.at(depth, begins[long], 1)
    np.add.at(depth, ends[long], -1)
    return np.cumsum(depth[:-1]) > 0


class Silence:
    """The silent runs of a signal read as blocks (its gaps), and their share.

    Pass the blocks through :meth:`watch`; the blocks come out unchanged, and a run may
    span any number of them. Once they are all seen, :attr:`gaps` holds the runs of at
    least ``min_gap`` still samples.

    Parameters
    ----------
    min_gap : int
        Still samples in a row that make a gap (``round(MIN_GAP_S * sample_rate)``).

    Attributes
    ----------
    samples, silent : int
        Samples seen, and how many of them lie in gaps (in gaps closed so far).
    gaps : list of (int, int, str)
        ``(begin, end, kind)`` sample spans (``end`` exclusive) in signal order, ``kind``
        ``silence`` for a run of zeros and ``flat`` for any other.

    Examples
    --------
    >>> silence = Silence(min_gap=3)
    >>> blocks = [np.array(block, "f4") for block in ([1, 0, 0], [0, 0, 2, 5, 5], [5, 5])]
    >>> sum(len(block) for block in silence.watch(blocks)), silence.gaps  # 5 starts a flat line
    (10, [(1, 5, 'silence'), (7, 10, 'flat')])
    >>> silence.silent, silence.fraction
    (7, 0.7)
    >>> quiet = Silence(min_gap=3)  # repeated values, never three in a row: no gap
    >>> _ = list(quiet.watch([np.array([1, 1, 2, 2, 1, 1, 2], "f4")]))
    >>> quiet.gaps, quiet.silent
    ([], 0)
    """

    def __init__(self, *, min_gap: int) -> None:
        self.min_gap = max(1, min_gap)
        self.samples, self.silent = 0, 0
        self.gaps: list[tuple[int, int, str]] = []
        self._previous: float | None = None  # the last sample seen
        self._begin: int | None = None  # where the open run began (None: no run is open)
        self._zeros = True  # the open run holds zeros only

    @property
    def fraction(self) -> float:
        """The share of the samples seen that lie in gaps (0 before any)."""
        return self.silent / max(self.samples, 1)

    def watch(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield ``blocks`` unchanged, counting their silent samples and finding the gaps."""
        for block in blocks:
            self._add(block)
            yield block
        if self._begin is not None:
            self._close(self.samples)

    def _close(self, end: int) -> None:
        if end - self._begin >= self.min_gap:
            self.gaps.append((self._begin, end, "silence" if self._zeros else "flat"))
            self.silent += end - self._begin
        self._begin = None

    def _add(self, block: np.ndarray) -> None:
        if not len(block):
            return
        still = still_samples(block, previous=self._previous)
        # where runs of still samples begin or end, as positions in the block
        flags = np.concatenate([[self._begin is not None], still, [False]])
        edges = np.flatnonzero(flags[1:] != flags[:-1])
        if self._begin is not None:  # the run open since an earlier block goes on
            end, edges = int(edges[0]), edges[1:]
            self._zeros = self._zeros and not block[:end].any()
            if end < len(block):
                self._close(self.samples + end)
        begins, ends = edges[::2], edges[1::2]
        for k in np.flatnonzero((ends - begins >= self.min_gap) | (ends == len(block))):
            begin, end = int(begins[k]), int(ends[k])
            self._begin, self._zeros = self.samples + begin, not block[begin:end].any()
            if end < len(block):
                self._close(self.samples + end)
        self.samples += len(block)
        self._previous = float(block[-1])
