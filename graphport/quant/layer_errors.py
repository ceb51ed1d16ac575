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

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from graphport.quant.calibrated import Layer, renamed_from
from graphport.verify.tflite_runner import TFLiteRunner

_VERIFY_OP = "NumericVerify"
SENSITIVE = 0.02


@dataclass
class LayerError:
    index: int  # op index in the calibrated model
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
        ref = reference.reshape(-1, channels).astype(np.float64)
        diff = quantized.reshape(-1, channels).astype(np.float64) - ref
        if self.error_sq is None or self.error_sq.shape != (channels,):
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


def _layer_for(name: str, layers: list[Layer]) -> Layer | None:
    """The calibrated-model layer a debug-model tensor belongs to: the debug model renames the
    quantized op's output by appending digits, so the longest name it extends that way."""
    found = [layer for layer in layers if renamed_from(name, layer.tensor)]
    return max(found, key=lambda layer: len(layer.tensor), default=None)


def layer_errors(debug_model: bytes, samples: Iterable[dict[str, np.ndarray]],
                 layers: list[Layer], progress: Callable[[str], None] | None = None
                 ) -> list[LayerError]:
    """Run the debug model on ``samples`` and rank its quantized layers, worst first."""
    runner = TFLiteRunner(debug_model, keep_tensors=True)
    interpreter = runner.interpreter
    verify = [op for op in interpreter._get_ops_details() if op["op_name"] == _VERIFY_OP]
    sums = {op["index"]: _Accumulator() for op in verify}
    for count, sample in enumerate(samples, 1):
        runner(sample)
        for op in verify:
            quant_index, float_index = op["inputs"][:2]
            detail = interpreter._get_tensor_details(quant_index, 0)
            scale, zero_point = detail["quantization"]
            quantized = (interpreter.get_tensor(quant_index).astype(np.float64) - zero_point) \
                * scale
            sums[op["index"]].add(interpreter.get_tensor(float_index), quantized)
        if progress and count % 10 == 0:
            progress(f"measuring layer errors ({count} batches)")
    rows = []
    for op in verify:
        detail = interpreter._get_tensor_details(op["inputs"][0], 0)
        layer = _layer_for(detail["name"], layers)
        scale, zero_point = detail["quantization"]
        values, max_abs, rms, ratio = sums[op["index"]].result()
        rows.append(LayerError(
            layer.index if layer else -1, layer.op if layer else "?",
            layer.tensor if layer else detail["name"], layer.tf_nodes if layer else [],
            float(scale), int(zero_point), values, max_abs, rms ** 2, rms,
            rms / scale if scale else 0.0, ratio))
    return sorted(rows, key=lambda r: (-r.noise_to_signal, -r.error_per_scale, r.index))
