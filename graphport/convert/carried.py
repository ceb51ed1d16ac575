"""int8 from the ranges a graph carries (QAT fake-quant points, FixNeuron read as them): the
toco ``QUANTIZED_UINT8`` route, no calibration data. The inputs take the scale of the first
fake-quant point they go through, or the user's ``--input-stats``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graphport.backend.runtime import tensorflow
from graphport.convert.io_boundary import integer_boundary
from graphport.convert.source import SourceModel
from graphport.errors import ConversionError
from graphport.graph.fake_quant import input_point
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.schema import GraphDef
from graphport.spec.io_types import FLOAT, IoTypes


def carried_converter(source: SourceModel, io: IoTypes | None) -> Any:
    """A converter for the carried route, on the graph with any stated input scales."""
    converter = replace(source, graph_def=_stated_inputs(source)).converter() \
        if source.carried.input_stats else source.converter()
    _carried_ranges(converter, source, io)
    if io and io.input != io.output:
        return _OneSided(converter, io)
    return converter


class _OneSided:
    """The v1 converter with integer I/O on one side: it has one boundary type (the input's
    decides both), so it converts with float32 I/O and the integer side's boundary op is then
    removed. Settings pass through to the wrapped converter."""

    def __init__(self, converter: Any, io: IoTypes) -> None:
        converter.inference_input_type = tensorflow().float32
        object.__setattr__(self, "_converter", converter)
        object.__setattr__(self, "_io", io)

    def convert(self) -> bytes:
        return integer_boundary(bytes(self._converter.convert()), self._io.input != FLOAT,
                                self._io.output != FLOAT)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._converter, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._converter, name, value)


def carried_input_stats(source: SourceModel) -> dict[str, tuple[float, float] | None]:
    """Each input's (mean, std) from the first fake-quant point it goes through, overridden by
    the user's --input-stats; None where neither says."""
    graph = GraphDef.FromString(source.graph_def.SerializeToString())
    index = NodeIndex.of(graph)
    stats: dict[str, tuple[float, float] | None] = {}
    for tensor in source.inputs:
        found = input_point(index, tensor.tensor)
        stats[tensor.key] = source.carried.input_stats.get(
            tensor.key, source.carried.input_stats.get("", found.input_stats() if found
                                                       else None))
    return stats


def _stated_inputs(source: SourceModel) -> Any:
    """The graph with each input the user gave --input-stats for quantized as stated: a
    FakeQuantWithMinMaxArgs of the stated range right after its placeholder, so the input takes
    that scale and the graph's own first point requantizes it (what toco's --mean_values/
    --std_values did; TensorFlow's converter ignores input stats before a fake-quant point)."""
    tf = tensorflow()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.CopyFrom(source.graph_def)
    stated = source.carried.input_stats
    for tensor in source.inputs:
        stats = stated.get(tensor.key, stated.get(""))
        if stats is None:
            continue
        mean, std = stats
        placeholder = parse_input(tensor.tensor)[0]
        name = f"{placeholder}/graphport_input_stats"
        for node in graph_def.node:
            for i, item in enumerate(node.input):
                if parse_input(item)[:2] == (placeholder, 0) and not item.startswith("^"):
                    node.input[i] = name
        node = graph_def.node.add(name=name, op="FakeQuantWithMinMaxArgs", input=[placeholder])
        node.attr["min"].f = -mean / std
        node.attr["max"].f = (255 - mean) / std
        node.attr["num_bits"].i = 8
    return graph_def


def _carried_ranges(converter: Any, source: SourceModel, io: IoTypes | None) -> None:
    """The toco QUANTIZED_UINT8 route: every range from the graph's fake-quant points, the
    inputs' from their first point (or --input-stats), uint8 inside. QAT graphs of that era
    quantize weights asymmetrically, which LiteRT's int8 kernels refuse; uint8 runs them."""
    tf = tensorflow()
    if source.graph_def is None:
        raise ConversionError("--int8 without calibration data takes the ranges of a frozen "
                              "graph's fake-quant points; a SavedModel's are not read",
                              "pass --calib, or convert the frozen graph")
    if io and "int8" in (io.input, io.output):
        raise ConversionError(f"{io} with the graph's own ranges: they quantize weights "
                              "asymmetrically (the uint8 scheme), which LiteRT's int8 kernels "
                              "refuse", "use uint8 (--io uint8), float32, or --calib for int8")
    stats = carried_input_stats(source)
    missing = [name for name, value in stats.items() if value is None]
    if missing:
        raise ConversionError(f"input {', '.join(missing)} goes through no fake-quant point "
                              "with a constant range",
                              f"pass --input-stats {missing[0]}=MEAN,STD (real = (q - MEAN) / "
                              "STD), or --calib")
    converter.inference_type = tf.uint8
    converter.quantized_input_stats = {parse_input(t.tensor)[0]: stats[t.key]
                                       for t in source.inputs}
    converter.inference_input_type = tf.as_dtype(io.input if io else FLOAT)
    converter.inference_output_type = tf.as_dtype(io.output if io else FLOAT)
    if source.carried.default_ranges is not None:
        converter.default_ranges_stats = source.carried.default_ranges
