"""Legacy eightbit graphs (TensorFlow's ``quantize_nodes`` graph transform, 2016-2018) -> the
float graph they were made from, which every TFLite mode converts (int8 with calibration too).

``quantize_nodes`` replaced float ops by quantized kernels that carry each tensor as a triple
(quint8 or qint32 values, float min, float max): ``QuantizeV2`` in, ``QuantizedMatMul`` /
``QuantizedConv2D`` / ``QuantizedRelu`` / ..., ``RequantizationRange`` + ``Requantize`` to narrow
32-bit results, ``Dequantize`` out, and weights stored as quint8 constants with their ranges.
TensorFlow's converter cannot type ``qint32`` ("Failed to convert element type"). Each quantized
op becomes its float twin in place (same name, same attributes), reading the float view of its
operands: a ``QuantizeV2``'s float input, a rewritten op's output, or ``Dequantize(MIN_FIRST)``
of a quantized constant (folded into float weights by the next ``fold_constants``). A
``Dequantize`` becomes an Identity; a ``Requantize`` to the range its ``RequantizationRange``
measured becomes an Identity, to a fixed range a clip to it. The graph computes in float what
the eightbit graph computed in 8 bits: the verdict against TensorFlow running the eightbit
graph shows the difference.
"""

from __future__ import annotations

from typing import Any

from graphport.graph.edit import add_node
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import dtype_enum, dtype_name
from graphport.passes.base import TFLITE, GraphPass, PassContext, PassResult
from graphport.passes.graph_util import topological, unique_name

_QUANTIZED_TYPES = {"quint8", "qint8", "qint32", "quint16", "qint16"}
# Quantized op -> (float op, [(operand position, its min position, its max position)], other
# inputs kept as they are, in the float op's order after the operands).
_TWINS: dict[str, tuple[str, list[tuple[int, int, int]], list[int]]] = {
    "QuantizedMatMul": ("MatMul", [(0, 2, 3), (1, 4, 5)], []),
    "QuantizedConv2D": ("Conv2D", [(0, 2, 3), (1, 4, 5)], []),
    "QuantizedBiasAdd": ("BiasAdd", [(0, 2, 3), (1, 4, 5)], []),
    "QuantizedAdd": ("AddV2", [(0, 2, 3), (1, 4, 5)], []),
    "QuantizedMul": ("Mul", [(0, 2, 3), (1, 4, 5)], []),
    "QuantizedRelu": ("Relu", [(0, 1, 2)], []),
    "QuantizedRelu6": ("Relu6", [(0, 1, 2)], []),
    "QuantizedReshape": ("Reshape", [(0, 2, 3)], [1]),
    "QuantizedMaxPool": ("MaxPool", [(0, 1, 2)], []),
    "QuantizedAvgPool": ("AvgPool", [(0, 1, 2)], []),
}
# Attributes of the quantized op the float twin keeps.
_KEPT_ATTRS = ("transpose_a", "transpose_b", "strides", "padding", "dilations", "ksize",
               "data_format")
_PASS_THROUGH = ("Dequantize", "Requantize", "QuantizedConcat", "QuantizeV2",
                 "RequantizationRange")


def _quantized(node: Any) -> bool:
    """Does ``node`` produce or take a quantized tensor?"""
    return any(k in node.attr and dtype_name(node.attr[k].type) in _QUANTIZED_TYPES
               for k in ("T", "T1", "T2", "Toutput", "Tinput", "out_type", "dtype"))


class EightbitToFloat(GraphPass):
    summary = "legacy eightbit graphs (quantize_nodes: QuantizedMatMul, Requantize...) -> float"
    repairs = frozenset({"QuantizeV2", "Dequantize", "Requantize", "RequantizationRange",
                         "QuantizedConcat", *_TWINS})
    targets = frozenset({TFLITE})
    changes_numbers = True

    def matches(self, index: NodeIndex) -> list[Any]:
        return [n for n in index.graph.node if n.op in _TWINS or n.op in _PASS_THROUGH[:3]]

    def run(self, graph: Any, matches: list[Any], context: PassContext) -> PassResult:
        """The whole graph at once: a quantized tensor's float view depends on its producer."""
        result = PassResult(self.name, matched=len(matches))
        index = NodeIndex.of(graph)
        unknown = sorted({n.op for n in graph.node if _quantized(n) and n.op != "Const"
                          and n.op not in _TWINS and n.op not in _PASS_THROUGH})
        if unknown:
            context.note(f"not repairable: no float twin for {', '.join(unknown)}")
            return result
        views: dict[str, str] = {}  # quantized tensor -> its float view

        def view(tensor: str, low: str, high: str) -> str:
            name, output, _ = parse_input(tensor)
            key = f"{name}:{output}"
            if key in views:
                return views[key]
            producer = index.nodes[name]
            if producer.op == "QuantizeV2" and output == 0:
                views[key] = producer.input[0]
            else:  # a quantized constant or input: its values as the kernels read them
                node = add_node(graph, unique_name(graph, f"{name}/float"), "Dequantize",
                                [tensor, low, high], types={"T": producer.attr[
                                    "dtype" if producer.op == "Const" else "T"].type})
                node.attr["mode"].s = b"MIN_FIRST"
                views[key] = node.name
            return views[key]

        for node in topological(index):
            inputs = [i for i in node.input if not i.startswith("^")]
            controls = [i for i in node.input if i.startswith("^")]
            if node.op in _TWINS:
                twin, operands, kept = _TWINS[node.op]
                floats = [view(inputs[d], inputs[lo], inputs[hi]) for d, lo, hi in operands]
                self._become(node, twin, [*floats, *(inputs[k] for k in kept)], controls)
            elif node.op == "QuantizedConcat":
                count = node.attr["N"].i
                values = [view(inputs[1 + i], inputs[1 + count + i], inputs[1 + 2 * count + i])
                          for i in range(count)]
                self._become(node, "ConcatV2", [*values, inputs[0]], controls)
                node.attr["N"].i = count
                node.attr["Tidx"].type = dtype_enum("int32")
            elif node.op == "Dequantize" and _quantized(node):
                self._become(node, "Identity", [view(*inputs[:3])], controls)
            elif node.op == "Requantize":
                value = view(*inputs[:3])
                ranged = index.nodes.get(parse_input(inputs[3])[0])
                measured = ranged is not None and ranged.op == "RequantizationRange" and \
                    parse_input(ranged.input[0])[0] == parse_input(inputs[0])[0]
                if measured:
                    self._become(node, "Identity", [value], controls)
                else:  # a fixed range: what falls outside is clipped, as in 8 bits
                    low = add_node(graph, unique_name(graph, f"{node.name}/low"), "Maximum",
                                   [value, inputs[3]], types={"T": "float"}).name
                    self._become(node, "Minimum", [low, inputs[4]], controls)
            else:
                continue
            views[f"{node.name}:0"] = node.name
            result.changed += 1
        context.note(f"{result.changed} quantized ops computed in float (weights dequantized)")
        return result

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        raise NotImplementedError("run() rewrites the quantized graph as a whole")

    @staticmethod
    def _become(node: Any, op: str, inputs: list[str], controls: list[str]) -> None:
        kept = {k: node.attr[k] for k in _KEPT_ATTRS if k in node.attr}
        saved = {k: type(v)() for k, v in kept.items()}
        for key, value in kept.items():
            saved[key].CopyFrom(value)
        node.op = op
        del node.input[:]
        node.input.extend([*inputs, *controls])
        node.ClearField("attr")
        for key, value in saved.items():
            node.attr[key].CopyFrom(value)
        node.attr["T"].type = dtype_enum("float")
        if op == "Reshape":
            node.attr["Tshape"].type = dtype_enum("int32")
