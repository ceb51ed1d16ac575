"""TF1 TensorArrays (dynamic_rnn, map_fn, while_loop) -> TensorList ops with static element
shapes, which TensorFlow's TFLite converter lowers, loop and all, to a builtin WHILE.

TF2's own control flow keeps loop state in TensorLists; the converter's static-tensor-list
lowering turns them into plain tensors (Gather, DynamicUpdateSlice...) once every list's element
shape is static. A TensorArray carries the same information: its float "flow" tensor orders the
ops and travels through the loop's Enter/Merge/Switch/NextIteration/Exit chain, so the rewrite
makes the flow the list (graph/tensor_arrays.py finds the ops):

    TensorArrayV3(size)              -> TensorListReserve(element_shape, size)
    TensorArrayV3(dynamic_size)      -> EmptyTensorList, when every write goes to the loop
                                        counter 0, 1, 2, ...: the writes become PushBack
    Scatter(h, range(n), v, flow)    -> TensorListFromTensor(v, element_shape)   (fresh array)
    Scatter(h, idx, v, flow)         -> TensorListScatterIntoExistingList(flow, v, idx)
    Write(h, i, v, flow)             -> TensorListSetItem(flow, i, v)
    Read(h, i, flow)                 -> TensorListGetItem(flow, i, element_shape)
    Gather(h, range(size), flow)     -> TensorListStack(flow, element_shape)
    Gather(h, idx, flow)             -> GatherV2(TensorListStack(flow), idx, 0)
    Size(h, flow)                    -> TensorListLength(flow)
    Concat(h, flow)                  -> Reshape(TensorListStack(flow), [-1, *element[1:]])
    Close(h)                         -> removed

and retypes the flow's loop chain to variant. Element shapes come from the graph (attributes,
TensorFlow's shape inference, iterated so a read's shape reaches what the loop computes from
it), then from running the graph on the pinned input shapes (graph/element_probe), since shape
inference stops at a loop's Merge. When an element dimension follows an input dimension the user
left open (an RNN's batch), that input dimension is pinned to 1 (noted; --input-shapes chooses
another) because TFLite's lists need it static.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensor_arrays import CLOSE, FLOW_INPUT, TensorArray, flow_input, tensor_arrays
from graphport.graph.tensors import dtype_enum
from graphport.passes.base import TFLITE, GraphPass, PassContext, PassResult
from graphport.passes.element_shapes import array_elements, element_shapes
from graphport.passes.graph_util import (
    anchored_const,
    const_value,
    drop_control_edges,
    is_counter_from_zero,
    remove_nodes,
    rewire,
    unique_name,
)

_LOOP_CHAIN = ("Enter", "RefEnter", "Merge", "Switch", "Identity", "NextIteration", "Exit")
_VARIANT = dtype_enum("variant")
_INT32 = dtype_enum("int32")


@dataclass
class _Plan:
    """How one array is rewritten: the scatter that creates it from a tensor, if any, and the
    gathers that read all of it back in order."""

    array: TensorArray
    element: list[int]
    fresh_scatter: Any = None
    stacks: set[str] = field(default_factory=set)
    size: str = ""  # the list's length: the array's size, or a dynamic one's trip count
    ops: str = ""  # the op types it had, for the note


def _counts_from_zero(name: str, by_name: dict[str, Any], limit_ok: Any = None) -> bool:
    """Is tensor ``name`` 0, 1, 2, ...: a Range from 0 by 1 (whose limit node ``limit_ok``
    accepts, when given), or the constant such a Range was folded into (whose length
    ``limit_ok`` accepts as a constant)?"""
    node = by_name.get(parse_input(name)[0])
    folded = const_value(node, by_name)
    if folded is not None:
        counts = folded.ndim == 1 and np.array_equal(folded, np.arange(folded.size))
        return counts and (limit_ok is None or limit_ok(folded.size))
    if node is None or node.op != "Range" or len(node.input) < 3:
        return False
    start = const_value(by_name.get(parse_input(node.input[0])[0]), by_name)
    delta = const_value(by_name.get(parse_input(node.input[2])[0]), by_name)
    if start is None or delta is None or start.size != 1 or delta.size != 1 or \
            int(start) != 0 or int(delta) != 1:
        return False
    return limit_ok is None or limit_ok(by_name.get(parse_input(node.input[1])[0]))


class TensorArrayToList(GraphPass):
    summary = ("TF1 TensorArray loops (dynamic_rnn, map_fn, while_loop) -> TensorList ops "
               "the converter lowers to a builtin WHILE")
    repairs = frozenset({"TensorArrayV3", "TensorArrayWriteV3", "TensorArrayReadV3",
                         "TensorArrayScatterV3", "TensorArrayGatherV3", "TensorArraySizeV3",
                         "TensorArrayConcatV3", CLOSE})
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        return [node for node in index.graph.node if node.op == "TensorArrayV3"]

    def run(self, graph: Any, matches: list[Any], context: PassContext) -> PassResult:
        """All arrays at once: their element shapes are inferred together (one array's read
        gives the shapes another's writes take)."""
        result = PassResult(self.name, matched=len(matches))
        index = NodeIndex.of(graph)
        arrays = [a for a in tensor_arrays(index) if self._supported(a, index, context)]
        if not arrays:
            return result
        shapes = element_shapes(graph, [array_elements(a) for a in arrays])
        plans = []
        for array in arrays:
            element = shapes.of(array.array.name)
            if element is None or any(d < 0 for d in element):
                context.note(f"{array.array.name}: not repairable (element shape "
                             f"{_shape_text(element)} not static: {shapes.why(array.array.name)})")
                continue
            plan = self._plan(graph, array, element)
            if plan is None:
                context.note(f"{array.array.name}: not repairable (a dynamic-size TensorArray "
                             "whose loop runs a number of times known only at run time)")
            else:
                plans.append(plan)
        if plans:
            shapes.pin_inputs(graph)
        context.notes.extend(shapes.notes)
        if not plans:
            return result
        for plan in plans:
            self._rewrite(graph, plan)
            result.changed += 1
            context.note(f"{plan.array.array.name}: TensorList of {_shape_text(plan.element)} "
                         f"elements ({plan.ops})")
        return result

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        raise NotImplementedError("run() rewrites every array together")

    @staticmethod
    def _supported(array: TensorArray, index: NodeIndex, context: PassContext) -> bool:
        why = None
        if array.others:
            why = f"its handle also goes to {', '.join(sorted({o.op for o in array.others}))}"
        elif array.of_type("TensorArraySplitV3"):
            why = "TensorArraySplitV3 has no TensorList twin the converter lowers"
        elif any(r.output == 1 for concat in array.of_type("TensorArrayConcatV3")
                 for r in index.readers(concat.name)):
            why = "a TensorArrayConcatV3's lengths output is used"
        if why:
            context.note(f"{array.array.name}: not repairable ({why})")
        return why is None

    @staticmethod
    def _plan(graph: Any, array: TensorArray, element: list[int]) -> _Plan | None:
        """How to rewrite ``array``; None for a dynamic-size array whose length is not known
        before its loop runs (TFLite lowers no list that grows: TF2's own dynamic TensorArray
        fails to convert the same way)."""
        by_name = NodeIndex.of(graph).nodes
        plan = _Plan(array, element)
        for scatter in array.of_type("TensorArrayScatterV3"):
            if parse_input(flow_input(scatter))[:2] == (array.array.name, 1) and \
                    _counts_from_zero(scatter.input[1], by_name):
                plan.fresh_scatter = scatter
                break
        size_input = parse_input(array.array.input[0])[0]
        size = const_value(by_name.get(size_input), by_name)
        dynamic = array.array.attr["dynamic_size"].b
        for gather in array.of_type("TensorArrayGatherV3"):
            flow_in = gather.input[2]

            def whole(limit: Any, flow_in: str = flow_in) -> bool:
                """The gather's indices run up to the array's size."""
                if isinstance(limit, int):  # a folded range of this length
                    return not dynamic and size is not None and size.size == 1 and \
                        int(size) == limit
                if limit is None:
                    return False
                if limit.op == "TensorArraySizeV3":
                    return bool(limit.input[1] == flow_in)
                return limit.name == size_input and not dynamic

            if _counts_from_zero(gather.input[1], by_name, whole):
                plan.stacks.add(gather.name)
        plan.size = array.array.input[0]
        if dynamic:
            limit = _trip_limit(array.of_type("TensorArrayWriteV3"), by_name)
            if limit is None:
                return None
            plan.size = limit
        plan.ops = ", ".join(sorted({op.op for op in array.ops}))
        return plan

    def _rewrite(self, graph: Any, plan: _Plan) -> None:
        array = plan.array.array
        dtype = array.attr["dtype"].type
        element = np.array(plan.element, np.int32)
        index = NodeIndex.of(graph)
        list_outputs: list[str] = []

        def shape_const(op: Any, anchor_input: str) -> str:
            return anchored_const(graph, f"{op.name}/element_shape", element, anchor_input)

        flow_readers = [r for r in index.readers(array.name) if r.output == 1]
        if any(r.node is not plan.fresh_scatter for r in flow_readers):
            created = graph.node.add(name=unique_name(graph, f"{array.name}/list"),
                                     op="TensorListReserve")
            created.input.extend([shape_const(created, plan.size), plan.size])
            created.attr["element_dtype"].type = dtype
            created.attr["shape_type"].type = _INT32
            rewire(graph, f"{array.name}:1", created.name)
            list_outputs.append(created.name)
        closes = set()
        for op in plan.array.ops:
            inputs = list(op.input)
            flow = inputs[FLOW_INPUT[op.op]] if op.op in FLOW_INPUT else ""
            data = [i for i in inputs if not i.startswith("^")]
            controls = [i for i in inputs if i.startswith("^")]
            kind = op.op
            op.ClearField("attr")
            del op.input[:]
            if kind == CLOSE:
                closes.add(op.name)
                continue
            if kind == "TensorArrayScatterV3" and op is plan.fresh_scatter:
                op.op = "TensorListFromTensor"
                op.input.extend([data[2], shape_const(op, data[2])])
                op.attr["shape_type"].type = _INT32
                list_outputs.append(op.name)
            elif kind == "TensorArrayScatterV3":
                op.op = "TensorListScatterIntoExistingList"
                op.input.extend([flow, data[2], data[1]])
                list_outputs.append(op.name)
            elif kind == "TensorArrayWriteV3":
                op.op = "TensorListSetItem"
                op.input.extend([flow, data[1], data[2]])
                list_outputs.append(op.name)
            elif kind == "TensorArrayReadV3":
                op.op = "TensorListGetItem"
                op.input.extend([flow, data[1], shape_const(op, data[1])])
            elif kind == "TensorArrayGatherV3" and op.name in plan.stacks:
                op.op = "TensorListStack"
                op.input.extend([flow, shape_const(op, data[1])])
                op.attr["num_elements"].i = -1
            elif kind == "TensorArrayGatherV3":  # the converter lowers no TensorListGather
                stack = graph.node.add(name=unique_name(graph, f"{op.name}/stack"),
                                       op="TensorListStack")
                stack.input.extend([flow, shape_const(stack, data[1])])
                stack.attr["element_dtype"].type = dtype
                stack.attr["num_elements"].i = -1
                axis = anchored_const(graph, f"{op.name}/axis", np.array(0, np.int32),
                                      data[1])
                op.op = "GatherV2"
                op.input.extend([stack.name, data[1], axis, *controls])
                op.attr["Tparams"].type = dtype
                op.attr["Tindices"].type = _INT32
                op.attr["Taxis"].type = _INT32
                continue
            elif kind == "TensorArraySizeV3":
                op.op = "TensorListLength"
                op.input.extend([flow, *controls])
                continue
            elif kind == "TensorArrayConcatV3":
                stack = graph.node.add(name=unique_name(graph, f"{op.name}/stack"),
                                       op="TensorListStack")
                stack.input.extend([flow, shape_const(stack, flow)])
                stack.attr["element_dtype"].type = dtype
                stack.attr["num_elements"].i = -1
                rows = anchored_const(graph, f"{op.name}/rows",
                                      np.array([-1, *plan.element[1:]], np.int32), flow)
                op.op = "Reshape"
                op.input.extend([stack.name, rows])
                op.attr["T"].type = dtype
                op.attr["Tshape"].type = _INT32
                op.input.extend(controls)
                continue
            op.attr["element_dtype"].type = dtype
            op.input.extend(controls)
        if closes:
            remove_nodes(graph, closes)
            drop_control_edges(graph, closes.__contains__)
        drop_control_edges(graph, {array.name}.__contains__)
        _retype_flows(graph, list_outputs, _VARIANT)


def _retype_flows(graph: Any, starts: list[str], dtype: int) -> None:
    """The flow was a float scalar: every loop node carrying it now carries ``dtype``."""
    index = NodeIndex.of(graph)
    seen: set[str] = set()
    frontier = list(starts)
    while frontier:
        name = frontier.pop()
        for reader in index.readers(name):
            node = reader.node
            if node.op in _LOOP_CHAIN and node.name not in seen:
                seen.add(node.name)
                node.attr["T"].type = dtype
                frontier.append(node.name)


def _trip_limit(writes: list[Any], by_name: dict[str, Any]) -> str | None:
    """For writes at a loop counter 0, 1, 2, ... of a loop ``while counter < N`` with N
    constant: the tensor holding N, which bounds the writes (a dynamic-size array's length)."""
    limit = None
    for write in writes:
        counter = by_name.get(parse_input(write.input[1])[0])
        if counter is None or not is_counter_from_zero(counter, by_name):
            return None
        switch = by_name[parse_input(counter.input[0])[0]]
        merge = parse_input(switch.input[0])[0]
        condition = by_name.get(parse_input(switch.input[1])[0])
        less = by_name.get(parse_input(condition.input[0])[0]) if condition is not None \
            and condition.op == "LoopCond" else None
        if less is None or less.op != "Less" or parse_input(less.input[0])[0] != merge:
            return None
        enter = by_name.get(parse_input(less.input[1])[0])
        if enter is None or enter.op != "Enter":
            return None
        bound = const_value(by_name.get(parse_input(enter.input[0])[0]), by_name)
        if bound is None or bound.size != 1 or (limit is not None and limit != enter.input[0]):
            return None
        limit = enter.input[0]
    return limit


def _shape_text(shape: list[int] | None) -> str:
    if shape is None:
        return "of unknown rank"
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"
