"""Constant folding: every subgraph whose inputs are all constants is run through TensorFlow once
and replaced by its result; `Shape`, `Size` and `Rank` of tensors whose static shape is fully
known become constants too.

This covers legacy "quantized weights" graphs (`Dequantize` of quint8/qint8 constants), shapes
computed from constants, and arithmetic on constants. Only stateless ops are folded (TensorFlow's
op registry says which), never control flow, and only from constants without control inputs, so
nothing moves between TF1 while/cond frames; a folded static shape keeps a control edge from its
input for the same reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from graphport.graph import oplists
from graphport.graph.edit import make_const, prune
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.op_registry import is_stateful
from graphport.graph.tensors import dtype_enum
from graphport.passes.base import GraphPass, PassContext, PassResult
from graphport.passes.graph_util import frame_anchor, rewire, unique_name

# Static shapes need TensorFlow's shape inference over the whole graph; in graphs above this
# size without TF1 loops (where they matter for typing loop variables) the converter folds them.
STATIC_SHAPE_GRAPH_BYTES = 64 << 20
_SHAPE_OPS = ("Shape", "Size", "Rank")
_NOT_FOLDED = oplists.TF1_CONTROL_FLOW_OPS | oplists.FUNCTIONAL_CONTROL_FLOW_OPS | {
    "Placeholder", "PlaceholderWithDefault", "PlaceholderV2", "Const", "NoOp", "Identity"}
# Ops whose output is a list or array handle (a variant): no constant can hold it.
_HANDLE_OP_PREFIXES = ("TensorList", "EmptyTensorList", "TensorArray")
_FOLDABLE_DTYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64, np.uint8,
                                          np.int8, np.int16, np.uint16, np.bool_, np.float16)}


def _input_bytes(node: Any, by_name: dict[str, Any]) -> int:
    """Bytes of the constants a foldable node reads (directly or through foldable nodes)."""
    total, seen, stack = 0, set(), [node]
    while stack:
        current = stack.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        if current.op == "Const":
            total += len(current.attr["value"].tensor.tensor_content) or 8
            continue
        stack.extend(by_name[parse_input(i)[0]] for i in current.input
                     if parse_input(i)[0] in by_name)
    return total


def _folding_subgraph(graph: Any, frontier: list[Any]) -> Any:
    """Just the nodes the frontier is computed from (constants and foldable ops), so a large
    graph is not imported into TensorFlow to fold a few small tensors."""
    return prune(graph, [node.name for node in frontier])


def _wants_static_shapes(graph: Any) -> bool:
    if not any(n.op in _SHAPE_OPS for n in graph.node):
        return False
    return graph.ByteSize() <= STATIC_SHAPE_GRAPH_BYTES or \
        any(n.op in oplists.TF1_CONTROL_FLOW_OPS for n in graph.node)


class FoldConstants(GraphPass):
    summary = "fold all-constant subgraphs (Dequantize, arithmetic) and static shapes"
    repairs = frozenset({"Dequantize"})  # of constant weights: legacy quantized graphs
    # max_elements: no Fill/Tile becomes a giant constant. max_input_bytes: folding
    # re-materialises weights, so transforms of big constants (a conv kernel's Squeeze or
    # Transpose) are left to the TFLite converter, which folds them too; Dequantize of
    # quantized weights is the exception: it is why legacy graphs need this pass.
    params: ClassVar[dict[str, Any]] = {"max_elements": 1 << 24, "max_input_bytes": 1 << 22}

    def matches(self, index: NodeIndex) -> list[Any]:
        """Frontier nodes of all-constant subgraphs, then the Shape/Size/Rank nodes whose
        input's static shape may be known (TensorFlow's shape inference decides in run)."""
        frontier, _ = self._plan(index, self.params["max_input_bytes"])
        if not _wants_static_shapes(index.graph):
            return frontier
        folded = {n.name for n in frontier}
        return frontier + [n for n in index.graph.node if n.op in _SHAPE_OPS and n.input
                           and n.name not in folded]

    def run(self, graph: Any, matches: list[Any], context: PassContext) -> PassResult:
        """Evaluate every frontier node in one TensorFlow run, then rewrite them one by one."""
        from graphport.backend.runtime import tensorflow
        from graphport.backend.tf_graph import import_graph, to_tf

        tf = tensorflow()
        result = PassResult(self.name)
        frontier, outputs = self._plan(NodeIndex.of(graph), context.params["max_input_bytes"])
        static_shapes = _wants_static_shapes(graph)
        if not frontier and not static_shapes:
            return result  # nothing to fold: skip importing a possibly huge graph
        tf_graph = import_graph(to_tf(graph if static_shapes
                                      else _folding_subgraph(graph, frontier)))
        fetches = {f"{node.name}:{k}": tf_graph.get_tensor_by_name(f"{node.name}:{k}")
                   for node in frontier for k in outputs[node.name]}
        with tf.compat.v1.Session(graph=tf_graph) as session:
            values = session.run(fetches) if fetches else {}
        matches_with_values = [(node, {k: np.asarray(values[f"{node.name}:{k}"])
                                       for k in outputs[node.name]}, False)
                               for node in frontier]
        if static_shapes:
            matches_with_values += [(node, {0: value}, True) for node, value in
                         self._static_shapes(graph, tf_graph)]
        for folded in matches_with_values:
            result.matched += 1
            if self.rewrite(graph, folded, context):
                result.changed += 1
        return result

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        """Replace one node's read outputs by constants; ``match`` is (node, values, is_shape)."""
        node, values, is_shape = match
        limit = context.params["max_elements"]
        if not values or any(a.dtype not in _FOLDABLE_DTYPES or a.size > limit
                             for a in values.values()):
            return False
        if list(values) == [0]:
            anchor = frame_anchor(graph, node.input[0]) if is_shape else None
            make_const(node, values[0])
            if anchor:
                node.input.append(anchor)  # keep the while/cond frame of its input
            return True
        for k, array in values.items():
            const = graph.node.add(name=unique_name(graph, f"{node.name}/folded_{k}"))
            make_const(const, array)
            rewire(graph, f"{node.name}:{k}", const.name)
        return True

    @staticmethod
    def _plan(nodes: NodeIndex, max_input_bytes: int) -> tuple[list[Any], dict[str, list[int]]]:
        """The frontier of foldable nodes and, for each, the outputs other nodes read."""
        graph, by_name = nodes.graph, nodes.nodes
        pure = {n.name for n in graph.node if n.op == "Const"
                and not any(i.startswith("^") for i in n.input)}
        # Identity of a constant (a frozen variable's "read") passes the constant through:
        # folding it would only copy the weights, so it counts as constant but is never folded.
        grew = True
        while grew:
            grew = False
            for node in graph.node:
                if node.op == "Identity" and node.name not in pure and len(node.input) == 1 \
                        and parse_input(node.input[0])[0] in pure \
                        and not node.input[0].startswith("^"):
                    pure.add(node.name)
                    grew = True
        foldable: set[str] = set()
        changed = True
        while changed:
            changed = False
            for node in graph.node:
                if node.name in foldable or node.op in _NOT_FOLDED or not node.input or \
                        node.op.startswith(_HANDLE_OP_PREFIXES):
                    continue
                sources = [parse_input(i)[0] for i in node.input]
                if all(s in pure or s in foldable for s in sources) and not is_stateful(node.op):
                    foldable.add(node.name)
                    changed = True
        read: dict[str, set[int]] = {}
        for node in graph.node:
            for item in node.input:
                name, index, control = parse_input(item)
                if name in foldable and node.name not in foldable:
                    read.setdefault(name, set()).add(-1 if control else index)
        frontier = [by_name[name] for name in read
                    if _input_bytes(by_name[name], by_name) <= max_input_bytes
                    or by_name[name].op == "Dequantize"]
        return frontier, {n.name: sorted(i for i in read[n.name] if i >= 0) for n in frontier}

    @staticmethod
    def _static_shapes(graph: Any, tf_graph: Any) -> list[tuple[Any, np.ndarray]]:
        from graphport.backend.tf_graph import get_tensor

        found: list[tuple[Any, np.ndarray]] = []
        for node in graph.node:
            if node.op not in _SHAPE_OPS or not node.input:
                continue
            tensor = get_tensor(tf_graph, node.input[0])
            if not tensor.shape.is_fully_defined():
                continue
            dims = tensor.shape.as_list()
            out_type = np.int64 if "out_type" in node.attr and \
                node.attr["out_type"].type == dtype_enum("int64") else np.int32
            if node.op == "Shape":
                value = np.array(dims, out_type)
            elif node.op == "Size":
                value = np.array(np.prod(dims), out_type)
            else:
                value = np.array(len(dims), np.int32)
            found.append((node, value))
        return found
