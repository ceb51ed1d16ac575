"""Calibrate once, quantize many times.

TensorFlow's converter calibrates (runs the representative data through the float model) and
quantizes in one call. Keeping layers in float, building a debug model and auto-tuning all need
several quantizations of the same calibrated model, so graphport stops the converter after
calibration and runs the quantizer itself, as tf.lite.experimental.QuantizationDebugger does.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Protocol

from graphport.backend import compat
from graphport.backend.runtime import tensorflow
from graphport.convert.calibration import Calibration
from graphport.convert.converter import (
    configured_converter,
    fitted_io,
    run_converter,
    with_signature,
)
from graphport.convert.source import SourceModel
from graphport.convert.while_operands import quantize_loop_operands
from graphport.graph.tflite_model import CONTROL_FLOW_OPS, parse_tflite
from graphport.quant.int8_weights import int8_weights
from graphport.quant.layers import Layer, renamed_from
from graphport.spec.io_types import FLOAT, IoTypes


class FloatChoice(Protocol):
    """What the quantizer needs of a --keep-float choice (quant/keep_float.py's KeepFloat)."""

    @property
    def ops(self) -> tuple[str, ...]: ...
    @property
    def nodes(self) -> tuple[str, ...]: ...
    @property
    def int8_weights(self) -> tuple[str, ...]: ...
    def __bool__(self) -> bool: ...

# Ops that only convert between float and int8, or run other subgraphs: never layers.
_NO_COMPUTE = frozenset({"QUANTIZE", "DEQUANTIZE"}) | CONTROL_FLOW_OPS
# Ops whose int8 output shares its input's scale: a range problem passes straight through them.
_SAME_SCALE = frozenset({
    "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "PADV2", "SLICE",
    "STRIDED_SLICE", "GATHER", "SPLIT", "SPLIT_V", "CONCATENATION", "DEPTH_TO_SPACE",
    "SPACE_TO_DEPTH", "RESIZE_NEAREST_NEIGHBOR", "TILE", "BROADCAST_TO", "PACK", "UNPACK",
    "SELECT", "SELECT_V2"})


class CalibratedModel:
    """A float TFLite model carrying calibration ranges, ready to quantize any number of ways."""

    def __init__(self, data: bytes, source: SourceModel) -> None:
        self.data = data
        self.source = source

    @cached_property
    def _parsed(self) -> Any:
        return parse_tflite(self.data, "calibrated model")

    @cached_property
    def op_types(self) -> list[str]:
        """Builtin op types in any subgraph (control-flow bodies included)."""
        return sorted({op.op for op in self._parsed.operators
                       if op.kind == "builtin" and op.op not in _NO_COMPUTE})

    @cached_property
    def layers(self) -> list[Layer]:
        """Every op that computes on float activations, main graph and control-flow bodies."""
        operators = self._parsed.operators
        looped: set[int] = set()
        calls: dict[int, set[int]] = {op.subgraph: set() for op in operators}
        for op in operators:
            calls[op.subgraph].update(op.calls)
            if op.loops:
                looped.update(op.calls)
        frontier = list(looped)
        while frontier:  # what a loop body calls runs once per iteration too
            for callee in calls.get(frontier.pop(), ()):
                if callee not in looped:
                    looped.add(callee)
                    frontier.append(callee)
        return [Layer(op.subgraph, op.index, op.op, op.outputs[0].name,
                      tuple(t.name for t in op.inputs if not t.constant), op.subgraph in looped)
                for op in operators
                if op.kind == "builtin" and op.op not in _NO_COMPUTE and op.outputs
                and op.outputs[0].dtype == "float32"]

    def kept_with_readers(self, layer: Layer) -> list[Layer]:
        """``layer`` and the layers that read its output: keeping only the layer in float would
        quantize its output again at the next int8 op, with the same range and the same loss.
        Same-scale ops (pooling, reshapes, ...) pass the range on, so they are followed."""
        kept = [layer]
        frontier = [layer]
        while frontier:
            tensor = frontier.pop().tensor
            for reader in self.layers:
                if reader.subgraph == layer.subgraph and tensor in reader.reads and \
                        reader not in kept:
                    kept.append(reader)
                    if reader.op in _SAME_SCALE:
                        frontier.append(reader)
        return kept

    def quantize(self, keep: FloatChoice | None = None, io: IoTypes | None = None,
                 debug: bool = False) -> bytes:
        """Full int8 with ``keep`` left in float; ``io`` makes inputs/outputs integer;
        ``debug`` adds a NumericVerify op after each quantized op (layer error measurement)."""
        tf = tensorflow()
        io = fitted_io(self.source, io)
        data = compat.mlir_quantize(self.data, tf.as_dtype(io.input if io else FLOAT),
                                    tf.as_dtype(io.output if io else FLOAT), debug,
                                    list(keep.ops) if keep else None,
                                    list(keep.nodes) if keep else None)
        # What the converter does after quantizing: shared constant buffers stored once; and
        # what graphport's conversion does: loop operands quantized once, before the loop.
        data = compat.deduplicate_buffers(data)
        if not debug:
            data = quantize_loop_operands(data)
        if keep and keep.int8_weights and not debug:
            chosen = keep.int8_weights
            data, _ = int8_weights(data, lambda _op, name: any(renamed_from(name, node)
                                                               for node in chosen))
        return with_signature(data, self.source)


def calibrate(source: SourceModel, calibration: Calibration, select_ops: bool = False
              ) -> CalibratedModel:
    """Run the converter up to calibration: conversion and representative data, no quantizing."""
    converter = compat.calibrate_only(configured_converter(source, "int8", select_ops=select_ops,
                                                           calibration=calibration))
    return CalibratedModel(run_converter(converter, source, False, select_ops), source)
