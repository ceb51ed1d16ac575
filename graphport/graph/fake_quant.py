"""Fake-quant points a quantization-aware-trained graph carries (FakeQuantWithMinMaxVars/Args/
PerChannel, tf.contrib.quantize or Keras QAT): their ranges are what a fully quantized model
needs, so such a graph converts to int8 without calibration data. No TensorFlow here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import tensor_to_numpy
from graphport.graph.types import GraphProto, NodeProto

if TYPE_CHECKING:
    import numpy as np

FAKE_QUANT_OPS = frozenset({"FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxArgs",
                            "FakeQuantWithMinMaxVarsPerChannel"})
_PASSING = ("Identity", "Reshape", "ExpandDims", "Squeeze")


@dataclass(frozen=True)
class FakeQuantPoint:
    """One fake-quant node: its range (None when not constant) and bit width."""

    name: str
    low: float | None
    high: float | None
    bits: int
    narrow: bool

    def input_stats(self) -> tuple[float, float] | None:
        """(mean, std) in toco's sense for a uint8 input: real = (q - mean) / std."""
        if self.low is None or self.high is None or self.high <= self.low:
            return None
        levels = 2 ** self.bits - 1 - int(self.narrow)
        scale = (self.high - self.low) / levels
        return float(round(-self.low / scale)), float(1.0 / scale)


def _constant(name: str, index: NodeIndex) -> np.ndarray | None:
    node = index.nodes.get(parse_input(name)[0])
    while node is not None and node.op == "Identity" and node.input:
        node = index.nodes.get(parse_input(node.input[0])[0])
    return tensor_to_numpy(node.attr["value"].tensor) if node is not None and \
        node.op == "Const" else None


def point(node: NodeProto, index: NodeIndex) -> FakeQuantPoint:
    bits = node.attr["num_bits"].i if "num_bits" in node.attr else 8
    narrow = bool(node.attr["narrow_range"].b) if "narrow_range" in node.attr else False
    if node.op == "FakeQuantWithMinMaxArgs":
        return FakeQuantPoint(node.name, node.attr["min"].f, node.attr["max"].f, bits, narrow)
    low, high = (_constant(node.input[i], index) for i in (1, 2))
    if low is None or high is None:
        return FakeQuantPoint(node.name, None, None, bits, narrow)
    return FakeQuantPoint(node.name, float(low.min()), float(high.max()), bits, narrow)


def fake_quant_points(graph: GraphProto, index: NodeIndex | None = None) -> list[FakeQuantPoint]:
    index = index or NodeIndex.of(graph)
    return [point(n, index) for n in graph.node if n.op in FAKE_QUANT_OPS]


def input_point(index: NodeIndex, tensor: str) -> FakeQuantPoint | None:
    """The fake-quant point an input goes through first (directly or past reshapes)."""
    frontier = [parse_input(tensor)[0]]
    seen: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        for reader in index.readers(name):
            if reader.node.op in FAKE_QUANT_OPS and reader.position == 0:
                return point(reader.node, index)
            if reader.node.op in _PASSING and reader.position == 0:
                frontier.append(reader.node.name)
    return None
