"""Audio cut into clips of a fixed length: one clip (:func:`tile`) or streamed windows
(:class:`Windows`), each with one rule for audio that is too short."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np


def tile(waveform: np.ndarray, samples: int, *, offset: int) -> np.ndarray:
    """``(n,)`` -> ``(samples,)``: sample ``i`` is ``waveform[(i - offset) % n]``.

    The one way whalelab brings audio to a clip's length. A shorter waveform is
    repeated end to end, one copy starting at ``offset`` (``0 <= offset <= samples -
    n``; centred: ``(samples - n) // 2``), the others before and after it. A longer
    one with ``offset = -start`` (``0 <= start <= n - samples``) is cropped to
    ``waveform[start:start + samples]``. ``offset`` is always where the waveform's first
    sample lands in the result. The result is a new array.

    Examples
    --------
    >>> tile(np.arange(3.0), 7, offset=2)  # repeated, one copy at 2
    array([1., 2., 0., 1., 2., 0., 1.])
    >>> tile(np.arange(6.0), 3, offset=-2)  # cropped from 2
    array([2., 3., 4.])
    """
    n = len(waveform)
    if offset <= 0 and samples - offset <= n:  # a crop: one slice
        return waveform[-offset:samples - offset].copy()
    return np.resize(np.roll(waveform, offset % n), samples)  # copies, end to end


class Window(NamedTuple):
    """One window of :class:`Windows`.

    Attributes
    ----------
    start : int
        The signal's sample where the window begins; negative for a tiled short signal
        (its own copy then begins at ``-start`` in the window).
    samples : numpy.ndarray
        float32 ``(clip,)``.
    keep : slice
        The window's frames that belong to it in a stitched trace: frame ``j`` of the
        window, at its sample ``j * step``, is the signal's frame ``start // step + j``.
    """

    start: int
    samples: np.ndarray
    keep: slice


class Windows:
    """Cut a signal read as consecutive ``(n,)`` blocks into clip-length :class:`Window` s.

    The one window cutter of prediction, detection and the band-energy baseline. Only
    what the next window needs is held (at most one block plus one window), so a file
    of any length streams through in bounded memory.

    - **Regular windows** start every ``hop`` samples while they fit in the signal; each
      keeps its first ``keep`` frames (a window of ``clip`` samples holds ``1 + clip //
      step`` frames, one every ``step`` samples, at both its ends included).
    - **Tail**: when the regular windows' kept frames miss the signal's last frame (at
      sample ``samples // step * step``), one final window ends at the signal's end, its
      start rounded up to a whole ``step`` (so that it lies on the frame grid; the less
      than ``step`` samples it reaches past the end are zeros); it keeps all its frames.
      With ``step=1`` it ends exactly at the end.
    - **Short signal** (fewer than ``clip`` samples): one window of the signal repeated
      end to end (:func:`tile`), one copy centred, its start rounded down to a whole
      ``step``; :attr:`Window.start` is minus that offset, and the window keeps only
      the frames of that copy, ``1 + samples // step`` of them.

    Parameters
    ----------
    blocks : iterable of numpy.ndarray
        The signal, float32 ``(n,)`` blocks in order (:func:`stream_audio`).
    clip : int
        Window length in samples.
    hop : int
        Samples between regular windows' starts (a multiple of ``step`` for stitching).
    step : int
        The frame step (a log-mel's ``hop_length``); 1 when frames do not matter.
    keep : int or None
        Frames each regular window keeps; None: all ``1 + clip // step``.

    Attributes
    ----------
    samples : int
        The signal's length in samples read so far (all of it once iterated).

    Examples
    --------
    >>> blocks = [np.arange(6.0), np.arange(6.0, 11.0)]
    >>> [window.start for window in Windows(blocks, clip=4, hop=3)]
    [0, 3, 6, 7]
    >>> next(iter(Windows([np.array([1.0, 2.0])], clip=5, hop=2)))
    Window(start=-1, samples=array([2., 1., 2., 1., 2.]), keep=slice(1, 4, None))
    """

    def __init__(self, blocks: Iterable[np.ndarray], *, clip: int, hop: int, step: int = 1,
                 keep: int | None = None) -> None:
        self.blocks, self.clip, self.hop, self.step = blocks, clip, hop, step
        self.keep = 1 + clip // step if keep is None else keep
        self.samples = 0

    def __iter__(self) -> Iterator[Window]:
        clip, hop, step = self.clip, self.hop, self.step
        buffer, offset, start = np.zeros(0, dtype=np.float32), 0, 0  # buffer[0] is sample offset
        for block in self.blocks:
            buffer = np.concatenate([buffer, block])
            self.samples += len(block)
            while start + clip <= self.samples:
                yield Window(start, buffer[start - offset:start - offset + clip],
                             slice(0, self.keep))
                start += hop
            # keep what the next window needs, and the last clip for a final tail window
            keep_from = max(offset, min(start, self.samples - clip))
            buffer, offset = buffer[keep_from - offset:], keep_from
        if self.samples < clip:
            left = (clip - self.samples) // 2 // step * step
            yield Window(-left, tile(buffer, clip, offset=left),
                         slice(left // step, left // step + 1 + self.samples // step))
            return
        last_kept = (start - hop) // step + self.keep - 1  # the regular windows' last frame
        if last_kept < self.samples // step:
            tail = math.ceil((self.samples - clip) / step) * step
            window = buffer[tail - offset:tail - offset + clip]
            yield Window(tail, np.pad(window, (0, clip - len(window))), slice(0, None))
