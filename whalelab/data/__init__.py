"""Labelled clips from any of the field's layouts, split by recording, served as tensors.

Three layouts give the same :class:`ClipIndex` (the README's "Your own data" section shows each):

- a folder per class, ``ROOT/<class>/<file>``, optionally under ``ROOT/{train,val,test}/``;
- a manifest CSV with ``path,label`` and optional ``split,recording,start_s,end_s``
  and ``call_start_s,call_end_s`` (where each label's call lies in the clip); a folder
  holding ``manifest.csv`` is read through it;
- a folder of long recordings, each with a Raven selection table beside it, cut into
  windows: a window carries a class when at least ``min_call_fraction`` of a call (or of
  the window, for calls longer than it) lies inside; windows that touch no call are
  background, windows that touch a call too little are left out as ambiguous.

Background is a role, not a name: the class folders and labels of ``background_labels``
(``background`` by default; ``noise``, ``ambient``... where a data set says so), and an
empty manifest label, mean no call. Where the data holds no split,
:func:`split_by_recording` makes one, stratified by class and grouped by recording, from
the seed; the run writes it to ``splits.csv`` so that evaluation scores the same test
clips.

One job per module, each building only on the ones before it:

- :mod:`whalelab.data.clips`: :class:`Clip` (with its call spans where known),
  :class:`ClipIndex` (targets, counts, its ``splits.csv``), label parsing;
- :mod:`whalelab.data.splits`: :func:`split_by_recording`, :func:`rotate_validation`;
- :mod:`whalelab.data.layouts`: :func:`load_index`, which reads the three layouts, and
  :func:`raven_pairs`;
- :mod:`whalelab.data.dataset`: :class:`ClipDataset` (decoding, crop and pad, frame
  targets; :meth:`ClipDataset.for_run`, a run's clips as its configuration reads them)
  serving named :class:`ClipItem`, :func:`frame_targets`, :class:`ClipCache`,
  :func:`class_weights`, :func:`balanced_sampler`.
"""

from whalelab.data.clips import BACKGROUND, SPLITS, Clip, ClipIndex, parse_labels
from whalelab.data.dataset import (ClipCache, ClipDataset, ClipItem, balanced_sampler,
                                   class_weights, frame_targets)
from whalelab.data.layouts import load_index, raven_pairs, read_data
from whalelab.data.splits import rotate_validation, split_by_recording

__all__ = [
    "BACKGROUND",
    "SPLITS",
    "Clip",
    "ClipCache",
    "ClipDataset",
    "ClipIndex",
    "ClipItem",
    "balanced_sampler",
    "class_weights",
    "frame_targets",
    "load_index",
    "parse_labels",
    "raven_pairs",
    "read_data",
    "rotate_validation",
    "split_by_recording",
]
