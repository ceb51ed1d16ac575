"""TF1 TensorArray accumulation in a while loop -> a loop-carried tensor grown with ConcatV2.

A v1 `while_loop` that writes one element per iteration (`TensorArrayWriteV3` at the loop
counter) and reads the result after the loop with `TensorArrayConcatV3` needs TF Select ops in
TFLite. The TensorArray's float "flow" is already a loop variable (Enter -> Merge -> Switch ->
Identity -> Write -> NextIteration), so the rewrite makes that loop variable carry the data:

    flow init     -> Const of shape [0, *element_shape[1:]]
    Write(h, i, v, flow)  -> ConcatV2(flow, v, axis=0)
    Concat(h, exit_flow)  -> Identity(exit_flow)

Element order is kept because the writes go to the loop counter, which starts at 0 and steps by
1 (checked). Anything else (reads, gathers, several writes, other indices) is left alone and
reported as not repairable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graphport.graph.edit import add_node, make_const
from graphport.graph.index import NodeIndex, Reader
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import dtype_enum, dtype_name, shape_list
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.graph_util import (
    anchored_const,
    is_counter_from_zero,
    runtime_zero,
    unique_name,
)

_NUMPY = {"float": np.float32, "int32": np.int32, "int64": np.int64, "double": np.float64}
_LOOP_CHAIN = ("Enter", "Merge", "Switch", "Identity", "NextIteration", "Exit")


def _triples(readers: list[Reader]) -> list[tuple[Any, int, int]]:
    return [(r.node, r.position, r.output) for r in readers]


@dataclass
class _Accumulation:
    array: Any  # TensorArrayV3
    write: Any  # TensorArrayWriteV3 inside the loop
    concat: Any  # TensorArrayConcatV3 after the loop
    init_enter: Any  # Enter of the flow


def _reads_input_values(node: Any, by_name: dict[str, Any]) -> bool:
    """Does ``node`` depend on the values (not just the shapes) of a graph input? Only such a
    tensor is beyond the converter's constant folding."""
    seen: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if current.name in seen or current.op.startswith("TensorArray"):
            continue
        seen.add(current.name)
        if current.op in ("Placeholder", "PlaceholderV2"):
            return True
        if current.op in ("Shape", "ShapeN", "Size", "Rank"):
            continue  # reads only the shape
        stack.extend(by_name[parse_input(i)[0]] for i in current.input
                     if not i.startswith("^") and parse_input(i)[0] in by_name)
    return False


class TensorArrayToConcat(GraphPass):
    summary = "TF1 TensorArray write-per-iteration + concat -> loop-carried ConcatV2"
    repairs = frozenset({"TensorArrayV3", "TensorArrayWriteV3", "TensorArrayConcatV3"})
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        return [node for node in index.graph.node if node.op == "TensorArrayV3"]

    def _pattern(self, graph: Any, array: Any, context: PassContext) -> _Accumulation | None:
        nodes = NodeIndex.of(graph)
        by_name = nodes.nodes
        writes: list[Any] = []
        concats: list[Any] = []
        enters: list[Any] = []
        others: list[Any] = []
        for consumer, _position, index in _triples(nodes.readers(array.name)):
            if consumer.op == "Enter" and index == 0:
                for user, position, _ in _triples(nodes.readers(consumer.name)):
                    (writes if user.op == "TensorArrayWriteV3" and position == 0 else others
                     ).append(user)
            elif consumer.op == "Enter" and index == 1:
                enters.append(consumer)
            elif consumer.op == "TensorArrayConcatV3" and index == 0:
                concats.append(consumer)
            else:
                others.append(consumer)
        why = None
        if not concats:
            return None  # not this pass's pattern (tensor_array_to_list's, if any)
        if others:
            why = f"also used by {', '.join(sorted({o.op for o in others}))}"
        elif len(writes) != 1 or len(concats) != 1 or len(enters) != 1:
            why = "needs exactly one write in a loop and one concat after it"
        elif any(r.output == 1 for r in nodes.readers(concats[0].name)):
            why = "the concat's lengths output is used"
        elif not is_counter_from_zero(by_name.get(parse_input(writes[0].input[1])[0]),
                                       by_name):
            why = "writes do not go to a loop counter starting at 0"
        if why:
            context.note(f"{array.name}: not repairable ({why})")
            return None
        return _Accumulation(array, writes[0], concats[0], enters[0])

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        pattern = self._pattern(graph, match, context)
        if pattern is None:
            return False
        dtype = match.attr["dtype"].type
        np_type = _NUMPY.get(dtype_name(dtype))
        if np_type is None:
            context.note(f"{match.name}: not repairable (dtype {dtype_name(dtype)})")
            return False
        from graphport.backend.tf_graph import get_tensor, import_graph, to_tf

        tf_graph = import_graph(to_tf(graph))
        element = shape_list(match.attr["element_shape"].shape)
        if element is None:  # infer_shape=False arrays: take the written value's static shape
            value = pattern.write.input[2]
            shape = get_tensor(tf_graph, value).shape
            element = None if shape.rank is None else [-1 if d is None else d for d in shape]
        if element is None or len(element) == 0 or any(d < 0 for d in element[1:]):
            context.note(f"{match.name}: not repairable (element shape {element}: concat needs "
                         "rank >= 1 and known trailing dimensions)")
            return False
        tail = element[1:]

        init = self._empty_accumulator(graph, tf_graph, match, pattern.init_enter, dtype,
                                       np_type, tail, context)
        pattern.init_enter.input[0] = init
        self._retype_loop_chain(graph, pattern.init_enter, dtype)

        write = pattern.write
        flow_in, value = write.input[3], write.input[2]
        axis = anchored_const(graph, f"{write.name}/axis", np.array(0, np.int32), flow_in)
        write.op = "ConcatV2"
        del write.input[:]
        write.input.extend([flow_in, value, axis])
        write.ClearField("attr")
        write.attr["T"].type = dtype
        write.attr["N"].i = 2
        write.attr["Tidx"].type = dtype_enum("int32")

        concat = pattern.concat
        exit_flow = concat.input[1]
        concat.op = "Identity"
        del concat.input[:]
        concat.input.append(exit_flow)
        concat.ClearField("attr")
        concat.attr["T"].type = dtype
        context.note(f"{match.name}: accumulates in a loop-carried tensor "
                     f"[?{''.join(f', {d}' for d in tail)}]")
        return True

    @staticmethod
    def _empty_accumulator(graph: Any, tf_graph: Any, array: Any, enter: Any, dtype: int,
                           np_type: Any, tail: list[int], context: PassContext) -> str:
        """An empty [0, *tail] tensor whose first dimension the converter cannot know
        (graph_util.runtime_zero, from a run-time value that enters the same loop)."""
        from graphport.backend.tf_graph import get_tensor

        frame = enter.attr["frame_name"].s
        by_name = NodeIndex.of(graph).nodes
        source = None
        for node in graph.node:
            if node.op == "Enter" and node.attr["frame_name"].s == frame and node is not enter:
                producer = by_name.get(parse_input(node.input[0])[0])
                if producer is None or not _reads_input_values(producer, by_name):
                    continue
                tensor = get_tensor(tf_graph, node.input[0])
                empty = tensor.shape.is_fully_defined() and tensor.shape.num_elements() == 0
                if tensor.dtype.is_numpy_compatible and not empty and \
                        "/accumulator/" not in producer.name:
                    source = node.input[0]
                    break
        base = f"{array.name}/accumulator"
        if source is None:
            empty = graph.node.add(name=unique_name(graph, f"{base}_empty"))
            make_const(empty, np.zeros([0, *tail], np_type))
            context.note(f"{array.name}: only constants enter the loop; the accumulator starts "
                         "as a constant and converters may keep it empty")
            return empty.name
        rows = runtime_zero(graph, source, get_tensor(tf_graph, source).dtype.as_datatype_enum,
                            base)

        def const(suffix: str, value: np.ndarray) -> str:
            return anchored_const(graph, f"{base}/{suffix}", value, source)

        int32 = "int32"
        dims = add_node(graph, unique_name(graph, f"{base}/dims"), "ConcatV2",
                        [rows, const("tail", np.array(tail, np.int32)),
                         const("axis", np.array(0, np.int32))],
                        types={"T": int32, "Tidx": int32}, ints={"N": 2}).name
        return add_node(graph, unique_name(graph, f"{base}/init"), "Fill",
                        [dims, const("value", np.array(0, np_type))],
                        types={"T": dtype, "index_type": int32}).name

    @staticmethod
    def _retype_loop_chain(graph: Any, enter: Any, dtype: int) -> None:
        """The flow was a float scalar: give its Enter/Merge/Switch/... chain the data dtype."""
        users = NodeIndex.of(graph)
        seen: set[str] = set()
        frontier = [enter]
        while frontier:
            node = frontier.pop()
            if node.name in seen or node.op not in _LOOP_CHAIN:
                continue
            seen.add(node.name)
            if "T" in node.attr:
                node.attr["T"].type = dtype
            frontier.extend(reader.node for reader in users.readers(node.name))
