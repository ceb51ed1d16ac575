"""Per-layer quantization error, measured the way TFLite's debug mode defines it: each quantized
op also runs in float on the same (dequantized) inputs, so the difference is the error that op
adds by itself, not the error it inherits from the layers before it.

The numbers per layer, over all samples:
- max abs error, mean squared error and its root, in the layer's own units;
- RMS error / scale: rounding alone gives about 0.29 (uniform noise of one step); much more
  means the op's int8 kernel or ranges hurt;
- noise-to-signal: RMS error / RMS value per output channel, median over channels. A layer whose
  range is stretched by a few outlier channels rounds correctly (error / scale stays near 0.29)
  yet leaves its ordinary channels a handful of levels: this is the number that finds it, and
  the one layers are ranked by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphport.backend import compat
from graphport.graph.tflite_model import parse_tflite
from graphport.progress import Progress
from graphport.quant.layers import Layer, renamed_from
from graphport.verify.tflite_runner import TFLiteRunner

_VERIFY_OP = "NumericVerify"
SENSITIVE = 0.02


@dataclass
class LayerError:
    subgraph: int
    index: int  # op index in its subgraph of the calibrated model
    in_loop: bool  # measured on the last iteration of each run only (see layer_errors)
    op: str
    tensor: str
    tf_nodes: list[str]
    scale: float
    zero_point: int
    values: int
    max_abs: float
    mse: float
    rms_error: float
    error_per_scale: float
    noise_to_signal: float

    @property
    def sensitive(self) -> bool:
        """Noise above SENSITIVE of the typical channel's signal: int8 rounding of a tensor that
        uses its range well gives about 0.005-0.01, so this layer's range is stretched ~20x."""
        return self.noise_to_signal > SENSITIVE


class _Accumulator:
    """Running per-channel sums over samples (channels: the last axis)."""

    def __init__(self) -> None:
        self.error_sq: np.ndarray | None = None
        self.signal_sq: np.ndarray | None = None
        self.count = 0
        self.max_abs = 0.0

    def add(self, reference: np.ndarray, quantized: np.ndarray) -> None:
        channels = reference.shape[-1] if reference.ndim else 1
        if not reference.size or np.isnan(reference).all() or (
                self.error_sq is not None and self.error_sq.shape != (channels,)):
            return  # not run this time (still the NaN we wrote), or channels changed
        ref = reference.reshape(-1, channels).astype(np.float64)
        diff = quantized.reshape(-1, channels).astype(np.float64) - ref
        if self.error_sq is None:
            self.error_sq, self.signal_sq = np.zeros(channels), np.zeros(channels)
        assert self.signal_sq is not None
        self.error_sq += (diff ** 2).sum(0)
        self.signal_sq += (ref ** 2).sum(0)
        self.count += len(ref)
        if diff.size:
            self.max_abs = max(self.max_abs, float(np.abs(diff).max()))

    def result(self) -> tuple[int, float, float, float]:
        """(values, max abs, RMS error, median channel noise-to-signal)."""
        if self.error_sq is None or not self.count:
            return 0, 0.0, 0.0, 0.0
        assert self.signal_sq is not None
        rms = float(np.sqrt(self.error_sq.sum() / (self.count * len(self.error_sq))))
        live = self.signal_sq > 0  # channels that never carry signal say nothing
        ratios = np.sqrt(self.error_sq[live] / self.signal_sq[live])
        return (self.count * len(self.error_sq), self.max_abs, rms,
                float(np.median(ratios)) if ratios.size else 0.0)


def _layer_for(name: str, subgraph: int, layers: list[Layer]) -> Layer | None:
    """The calibrated-model layer a debug-model tensor belongs to: the debug model renames the
    quantized op's output by appending digits, so the longest name it extends that way."""
    found = [layer for layer in layers
             if layer.subgraph == subgraph and renamed_from(name, layer.tensor)]
    return max(found, key=lambda layer: len(layer.tensor), default=None)


def _read(interpreter: Any, index: int, subgraph: int) -> np.ndarray:
    try:
        return interpreter.get_tensor(index, subgraph)
    except ValueError:  # never allocated: its subgraph has not run
        return np.zeros(0, np.float32)


def _mark_unrun(interpreter: Any, index: int, subgraph: int) -> None:
    """Fill a body's tensor with NaN before a run: a while/if body that does not run keeps
    whatever it held (stale values, or garbage before its first run), so what is still NaN
    afterwards was not computed. LiteRT's Python API sets tensors of subgraph 0 only; its
    wrapper takes the subgraph."""
    current = _read(interpreter, index, subgraph)
    if current.size and current.dtype.kind == "f":
        compat.set_tensor(interpreter, index, np.full_like(current, np.nan), subgraph)


def layer_errors(debug_model: bytes, samples: Iterable[dict[str, np.ndarray]],
                 layers: list[Layer], progress: Progress | None = None
                 ) -> list[LayerError]:
    """Run the debug model on ``samples`` and rank its quantized layers, worst first.

    Ops in while/if bodies are read after each run, so a loop body contributes its last
    iteration of every run (LiteRT keeps no others), and a branch the runs that took it."""
    runner = TFLiteRunner(debug_model, keep_tensors=True)
    interpreter = runner.interpreter
    verify = [op for op in parse_tflite(debug_model, "debug model").operators
              if op.op == _VERIFY_OP]
    sums = {(op.subgraph, op.index): _Accumulator() for op in verify}
    bodies = [op for op in verify if op.subgraph]
    samples = list(samples)
    if bodies and samples:
        runner(samples[0])  # allocates every body's tensors, so they can be marked
    for count, sample in enumerate(samples, 1):
        for op in bodies:
            _mark_unrun(interpreter, op.inputs[1].index, op.subgraph)
        runner(sample)
        for op in verify:
            quantized_tensor, float_tensor = op.inputs[:2]
            quantized = _read(interpreter, quantized_tensor.index, op.subgraph)
            scale, zero_point = compat.tensor_quantization(interpreter, quantized_tensor.index,
                                                           op.subgraph)
            sums[op.subgraph, op.index].add(
                _read(interpreter, float_tensor.index, op.subgraph),
                (quantized.astype(np.float64) - zero_point) * scale)
        if progress and count % 10 == 0:
            progress(f"measuring layer errors ({count} batches)")
    rows = []
    for op in verify:
        quantized_tensor = op.inputs[0]
        layer = _layer_for(quantized_tensor.name, op.subgraph, layers)
        scale, zero_point = compat.tensor_quantization(interpreter, quantized_tensor.index,
                                                       op.subgraph)
        values, max_abs, rms, ratio = sums[op.subgraph, op.index].result()
        if not values:
            continue  # its subgraph never ran on these samples
        rows.append(LayerError(
            op.subgraph, layer.index if layer else -1, bool(layer and layer.in_loop),
            layer.op if layer else "?", layer.tensor if layer else quantized_tensor.name,
            layer.tf_nodes if layer else [], float(scale), int(zero_point), values, max_abs,
            rms ** 2, rms, rms / scale if scale else 0.0, ratio))
    return sorted(rows, key=lambda r: (-r.noise_to_signal, -r.error_per_scale, r.subgraph,
                                       r.index))
