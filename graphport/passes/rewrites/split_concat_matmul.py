"""MatMul(Concat(x, h), W) -> MatMul(x, W_x) + MatMul(h, W_h): each operand keeps its own scale.

Every TF1 RNN cell (BasicLSTMCell, LSTMCell, GRUCell, BasicRNNCell) multiplies the
concatenation of its input and its state by one kernel. In full int8 a concatenation has one
scale for all its operands, so an MFCC input spanning -250..35 puts the state, which lives in
-1..1, on a grid of about 1.1: the state is rounded to -1, 0 or 1 every step and the
keyword spotters' top-1 fell to 42-79% (measured). Split, the product is the same sum in float
(to rounding) and each operand is quantized on its own range. Matched by structure: a MatMul
of a ConcatV2 along the last axis by a constant (loop-invariant through a while's Enter),
inside or outside a while loop; operand widths come from TensorFlow's shape inference on the
graph as the loop passes left it (one unknown width is what the kernel's rows leave).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graphport.graph.edit import add_node
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import constant_value
from graphport.graph.types import GraphProto
from graphport.passes.base import TFLITE, GraphPass, PassContext, PassResult
from graphport.passes.graph_util import anchored_const, unique_name


@dataclass
class _Product:
    matmul: Any
    pieces: list[str]
    kernel: np.ndarray  # [rows, columns] as the MatMul multiplies (transpose_b applied)


class SplitConcatMatmul(GraphPass):
    summary = ("MatMul(Concat(x, h), W) -> MatMul(x, W_x) + MatMul(h, W_h): an RNN cell's "
               "input and state keep their own int8 scales")
    targets = frozenset({TFLITE})
    _widths: dict[str, int]

    def matches(self, index: NodeIndex) -> list[Any]:
        by_name = index.nodes
        found = []
        for node in index.graph.node:
            if node.op != "MatMul" or node.attr["transpose_a"].b:
                continue
            concat = by_name.get(parse_input(node.input[0])[0])
            if concat is None or concat.op != "ConcatV2" or parse_input(node.input[0])[1]:
                continue
            data = [i for i in concat.input if not i.startswith("^")]
            axis = constant_value(data[-1], by_name)  # through a loop's Enter: invariant
            kernel = constant_value(node.input[1], by_name)
            if axis is None or int(axis) not in (1, -1) or kernel is None or kernel.ndim != 2 \
                    or len(data) < 3:
                continue
            if node.attr["transpose_b"].b:
                kernel = kernel.T
            found.append(_Product(node, data[:-1], kernel))
        return found

    def run(self, graph: GraphProto, matches: list[Any], context: PassContext) -> PassResult:
        self._widths = _widths(graph, [p for m in matches for p in m.pieces])
        return super().run(graph, matches, context)

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        widths = [self._widths.get(piece) for piece in match.pieces]
        rows = match.kernel.shape[0]
        unknown = [i for i, w in enumerate(widths) if w is None]
        if len(unknown) == 1:
            widths[unknown[0]] = rows - sum(w for w in widths if w is not None)
        if len(unknown) > 1 or sum(w for w in widths if w is not None) != rows or \
                any(w is None or w < 0 for w in widths):
            context.note(f"{match.matmul.name}: the widths of its concatenated operands are "
                         "not static; left as it was")
            return False
        product = match.matmul
        dtype = product.attr["T"].type
        partial: list[str] = []
        start = 0
        for piece, width in zip(match.pieces, widths, strict=True):
            assert width is not None
            if width == 0:
                continue
            base = f"{product.name}/graphport_split_{len(partial)}"
            weights = anchored_const(graph, f"{base}/kernel",
                                     np.ascontiguousarray(match.kernel[start:start + width]),
                                     piece)
            partial.append(add_node(graph, unique_name(graph, base), "MatMul",
                                    [piece, weights], types={"T": dtype}).name)
            start += width
        total = partial[0]
        for n, term in enumerate(partial[1:-1], 1):
            total = add_node(graph, unique_name(graph, f"{product.name}/graphport_sum_{n}"),
                             "AddV2", [total, term], types={"T": dtype}).name
        # the MatMul's own node gives the sum, so its readers are untouched
        controls = [i for i in product.input if i.startswith("^")]
        product.op = "AddV2" if len(partial) > 1 else "Identity"
        del product.input[:]
        product.input.extend([total, *partial[1:][-1:], *controls])
        product.ClearField("attr")
        product.attr["T"].type = dtype
        return True


def _widths(graph: GraphProto, tensors: list[str]) -> dict[str, int]:
    """The static last dimension of each tensor, from TensorFlow's shape inference."""
    from graphport.backend.tf_graph import get_tensor, import_graph, to_tf

    if not tensors:
        return {}
    tf_graph = import_graph(to_tf(graph))
    found = {}
    for tensor in tensors:
        shape = get_tensor(tf_graph, tensor).shape
        if shape.rank == 2 and shape[-1] is not None:
            found[tensor] = int(shape[-1])
    return found
