"""A trained model as an ONNX file, and that file run by ONNX Runtime.

``whalelab export RUN --format onnx`` writes ``RUN/model.onnx`` (``X.onnx`` beside a
model file ``X.pt``): the whole model, STFT and log-mel included, so that the file
alone turns audio at the run's sample rate into the model's four outputs, in any
program that has ONNX Runtime and no PyTorch:

- input ``waveform``: float32 ``(batch, clip_samples)``, any batch size;
- outputs ``clipwise_output (batch, classes)``, ``segmentwise_output (batch, segments,
  classes)``, ``framewise_output (batch, frames, classes)`` and ``norm_att (batch,
  classes, segments)``.

The file's metadata names the classes, sample rate, clip length, thresholds, the
whalelab version and the SHA-256 of the checkpoint it was made from (so a retrained run
is exported again rather than detected with stale weights). Every export is checked
against PyTorch on a fixed batch (:func:`parity_batch`), and the largest absolute
difference of each output is returned; an existing file is checked the same way before
detection uses it (:func:`onnx_model`), so that an edited or forged one is refused.

:class:`OnnxModel` wraps an exported file as a module with WhaleSED's call signature,
so that detection runs on it unchanged (``whalelab detect --engine onnx``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

import whalelab
from whalelab.atomic import atomic_write
from whalelab.backbones import BACKBONES
from whalelab.checkpoint import TrainedModel, checkpoint_sha256, load_model
from whalelab.config import ENGINES, RunConfig
from whalelab.errors import CheckpointError, ConfigError

#: the outputs an exported model gives, in this order
ONNX_OUTPUTS = ("clipwise_output", "segmentwise_output", "framewise_output", "norm_att")


class _OrderedOutputs(nn.Module):
    """The model with its output dict as a tuple in :data:`ONNX_OUTPUTS` order."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output = self.model(waveform)
        return tuple(output[name] for name in ONNX_OUTPUTS)


@dataclasses.dataclass
class ExportResult:
    """An export: the file, its largest absolute difference from PyTorch per output on
    :func:`parity_batch`, and the seconds it took (export and check)."""

    path: Path
    max_abs_difference: dict[str, float]
    seconds: float

    def summary(self) -> str:
        worst = max(self.max_abs_difference.values())
        each = ", ".join(f"{name} {value:.1e}"
                         for name, value in self.max_abs_difference.items())
        return (f"{self.path}: ONNX export checked against PyTorch on a batch of "
                f"{PARITY_CLIPS} clips, largest absolute difference {worst:.1e} ({each}); "
                f"{self.seconds:.0f} s")


#: clips of :func:`parity_batch`
PARITY_CLIPS = 4
#: the largest absolute difference from PyTorch, on :func:`parity_batch`, of an ONNX file
#: that holds the same model: float rounding keeps DenseNet121's exports below 1e-4
#: (outputs are probabilities), while other weights differ by far more
PARITY_TOLERANCE = 1e-3


def parity_batch(config: RunConfig, *, seed: int = 0) -> np.ndarray:
    """A fixed batch to compare engines on: float32 ``(4, clip_samples)`` holding loud
    white noise, a faint one, a rising tone in faint noise, and near-silence."""
    features = config.features
    rng = np.random.default_rng(seed)
    samples = features.clip_samples
    time_s = np.arange(samples) / features.sample_rate
    low, high = features.fmin + 0.1 * (features.fmax - features.fmin), 0.8 * features.fmax
    sweep = np.sin(2 * np.pi * (low * time_s + (high - low) * time_s ** 2
                                / (2 * features.clip_seconds)))
    noise = rng.standard_normal((PARITY_CLIPS, samples))
    return np.stack([0.5 * noise[0], 0.01 * noise[1], 0.3 * sweep + 0.01 * noise[2],
                     1e-6 * noise[3]]).astype(np.float32)


def onnx_path(source: str | Path) -> Path:
    """Where the ONNX export of a run folder (``RUN/model.onnx``) or of a model file
    (``X.pt`` -> ``X.onnx``) goes."""
    source = Path(source)
    return source / "model.onnx" if source.is_dir() else source.with_suffix(".onnx")


def _metadata(trained: TrainedModel) -> dict[str, str]:
    return {"source_sha256": checkpoint_sha256(trained.source),
            "thresholds": json.dumps([float(value) for value in trained.thresholds])}


def _write_onnx(model: nn.Module, config: RunConfig, metadata: Mapping[str, str],
                temporary: Path) -> None:
    import onnx

    example = torch.from_numpy(parity_batch(config))
    with warnings.catch_warnings():  # the exporter's progress notes are not the user's concern
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _OrderedOutputs(model).eval(), (example,), dynamo=True, input_names=["waveform"],
            output_names=list(ONNX_OUTPUTS), verbose=False,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    proto = program.model_proto
    described = {"whalelab_version": whalelab.__version__, "classes": json.dumps(config.classes),
                 "sample_rate": str(config.features.sample_rate),
                 "clip_samples": str(config.features.clip_samples),
                 "config": json.dumps(config.to_dict()), **metadata}
    for key, value in described.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(temporary))


def write_onnx(model: nn.Module, config: RunConfig, path: str | Path, *,
               metadata: Mapping[str, str] | None = None) -> ExportResult:
    """Export ``model`` (a WhaleSED or WhaleEnsemble of ``config``, on the CPU) to ``path``
    (atomically) and check it against PyTorch on :func:`parity_batch`.

    ``metadata`` is added to what the file always names (classes, sample rate, clip
    length, configuration, whalelab version).
    """
    for part in config.model.parts():
        if BACKBONES[part.backbone].export_refusal is not None:
            raise ConfigError(BACKBONES[part.backbone].export_refusal)
    started = time.perf_counter()
    path = Path(path)
    model = model.float().cpu().eval()
    atomic_write(path, lambda temporary: _write_onnx(model, config, metadata or {}, temporary))
    return ExportResult(path=path, max_abs_difference=parity(OnnxModel(path), model, config),
                        seconds=time.perf_counter() - started)


def parity(exported: OnnxModel, model: nn.Module, config: RunConfig) -> dict[str, float]:
    """The largest absolute difference of each output of ``exported`` from ``model``'s
    (float32, on the CPU, in eval mode) on :func:`parity_batch`; infinite for an output
    whose shape differs (another class count or clip length)."""
    batch = torch.from_numpy(parity_batch(config))
    got = exported(batch)
    with torch.inference_mode():
        expected = model(batch)
    return {name: float((got[name] - expected[name]).abs().max())
            if got[name].shape == expected[name].shape else float("inf")
            for name in ONNX_OUTPUTS}


def export_onnx(source: str | Path, out: str | Path | None = None) -> ExportResult:
    """Export the trained model of ``source`` (run folder or model file) to ONNX and check
    it (:func:`write_onnx`); the file also carries the run's thresholds and the SHA-256
    of the weights it came from.

    Parameters
    ----------
    source : path
        A trained run folder, or a model file (``RUN/best.pt``).
    out : path or None
        The ``.onnx`` file to write; None is :func:`onnx_path` of ``source``.
    """
    trained = load_model(source, device="cpu")
    return write_onnx(trained.model, trained.config,
                      Path(out) if out is not None else onnx_path(source),
                      metadata=_metadata(trained))


class OnnxModel(nn.Module):
    """An exported model run by ONNX Runtime on the CPU, called like a WhaleSED.

    ``(batch, clip_samples)`` float32 tensor -> dict of the :data:`ONNX_OUTPUTS` as CPU
    tensors. It is a module only so that it goes where a WhaleSED goes: its one
    (empty) parameter says the device, the CPU; it has no weights to train.
    ``threads`` is ONNX Runtime's intra-op thread count (default: torch's).
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime

        self.path = Path(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own exception types
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CheckpointError(f"{self.path}: not a usable ONNX model ({reason})") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.device_marker = nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        values = self.session.run(list(ONNX_OUTPUTS), {
            "waveform": waveform.detach().float().cpu().contiguous().numpy()})
        return {name: torch.from_numpy(value) for name, value in zip(ONNX_OUTPUTS, values,
                                                                       strict=True)}


def _check_matches(exported: OnnxModel, trained: TrainedModel) -> None:
    """Refuse an ONNX file whose classes or behaviour differ from ``trained``'s: a file
    edited, or another model's with this one's checksum written into it."""
    weights = trained.source / "best.pt" if trained.source.is_dir() else trained.source
    remedy = f"delete it, or run `whalelab export {trained.source}` again"
    try:
        classes = json.loads(exported.metadata.get("classes", "null"))
    except json.JSONDecodeError:
        classes = exported.metadata.get("classes")
    if classes != trained.classes:
        raise CheckpointError(f"{exported.path}: does not match {weights}: its classes "
                              f"{classes} are not {trained.classes}; {remedy}")
    difference = parity(exported, trained.model, trained.config)
    worst = max(difference, key=difference.get)
    if difference[worst] > PARITY_TOLERANCE:
        found = ("another output shape" if difference[worst] == float("inf") else
                 f"a largest difference of {difference[worst]:.1e}")
        raise CheckpointError(f"{exported.path}: does not match {weights}: on "
                              f"{PARITY_CLIPS} test clips its {worst} has {found} from the "
                              f"model's (at most {PARITY_TOLERANCE:g} is float rounding); "
                              f"{remedy}")


def onnx_model(trained: TrainedModel, *, threads: int | None = None) -> OnnxModel:
    """``trained``'s ONNX export, run by ONNX Runtime: :func:`onnx_path` of its source,
    exported first (with a line saying so) where missing or made from other weights.

    An existing file made from these weights (by its metadata's checksum) is checked
    against them before it is used: its classes, and its outputs on
    :func:`parity_batch` against PyTorch's. One that differs was edited or forged and is
    refused (a :class:`~whalelab.errors.CheckpointError` naming it), never overwritten;
    so is a file without whalelab's metadata, which may be the user's own.
    """
    path = onnx_path(trained.source)
    current = checkpoint_sha256(trained.source)
    if path.is_file():
        model = OnnxModel(path, threads=threads)
        made_from = model.metadata.get("source_sha256")
        if made_from == current:
            _check_matches(model, trained)
            return model
        if made_from is None:
            raise CheckpointError(f"{path}: not a whalelab export (its metadata names no "
                                  f"checkpoint), so it is left alone; move it away, or run "
                                  f"`whalelab export {trained.source}` to replace it")
        reason = "its weights have changed since"
    else:
        reason = "none exists yet"
    print(f"{trained.source}: exporting to {path} for ONNX Runtime ({reason})", flush=True)
    export_onnx(trained.source, path)
    return OnnxModel(path, threads=threads)


def check_engine(engine: str, device: torch.device) -> None:
    """Refuse an unknown engine, or ONNX Runtime on a GPU (this build runs on the CPU)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "onnx" and device.type != "cpu":
        raise ConfigError(f"--engine onnx runs on the CPU (onnxruntime), not on {device}; "
                          f"use --device cpu, or --engine torch on the GPU")
