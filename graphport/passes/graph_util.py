"""Small GraphDef helpers the passes share: lookups, rewiring, constant values, node removal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphport.graph.edit import add_node, make_const
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import frames
from graphport.graph.nodes import parse_input
from graphport.graph.schema import GraphDef
from graphport.graph.tensors import tensor_to_numpy


def const_value(node: Any, by_name: dict[str, Any], depth: int = 4) -> np.ndarray | None:
    """The value of a Const, looking through Identity nodes; None if it is not constant."""
    while node is not None and node.op == "Identity" and depth > 0 and node.input and \
            not any(i.startswith("^") for i in node.input):
        node = by_name.get(parse_input(node.input[0])[0])
        depth -= 1
    if node is None or node.op != "Const":
        return None
    return tensor_to_numpy(node.attr["value"].tensor)


def is_counter_from_zero(index_node: Any, by_name: dict[str, Any]) -> bool:
    """Is ``index_node`` a while loop's counter 0, 1, 2, ...: Identity <- Switch <-
    Merge(Enter(Const 0), NextIteration(Add(Identity, 1)))?"""
    if index_node is None or index_node.op != "Identity":
        return False
    switch = by_name.get(parse_input(index_node.input[0])[0])
    merge = by_name.get(parse_input(switch.input[0])[0]) if switch is not None and \
        switch.op == "Switch" else None
    if merge is None or merge.op != "Merge" or len(merge.input) != 2:
        return False
    enter, next_iteration = (by_name.get(parse_input(i)[0]) for i in merge.input)
    if enter is None or enter.op != "Enter" or next_iteration is None:
        return False
    start = const_value(by_name.get(parse_input(enter.input[0])[0]), by_name)
    step = by_name.get(parse_input(next_iteration.input[0])[0])
    if start is None or start.size != 1 or int(start) != 0 or step is None or \
            step.op not in ("Add", "AddV2"):
        return False
    operands = [parse_input(i)[0] for i in step.input]
    other = [by_name.get(n) for n in operands if n != index_node.name]
    if len(other) != 1 or index_node.name not in operands:
        return False
    one = const_value(other[0], by_name)
    return one is not None and one.size == 1 and float(one) == 1


def input_node(node: Any, index: int, by_name: dict[str, Any]) -> Any:
    return by_name.get(parse_input(node.input[index])[0])


def rewire(graph: Any, old: str, new: str) -> int:
    """Point every data input reading tensor ``old`` (``name:k``) at ``new``; count them."""
    old_node, old_index, _ = parse_input(old)
    count = 0
    for node in graph.node:
        for i, item in enumerate(node.input):
            name, index, control = parse_input(item)
            if not control and name == old_node and index == old_index:
                node.input[i] = new
                count += 1
    return count


def loop_pivots(index: NodeIndex) -> dict[str, str]:
    """Each TF1 while frame's body pivot: the Identity of a loop variable's ``Switch:1``, which
    runs in every iteration (TensorFlow anchors a loop body's constants on it)."""
    frame_of, _ = frames(index)
    pivots: dict[str, str] = {}
    for node in index.graph.node:
        if node.op != "Switch" or len(node.input) < 2:
            continue
        predicate = index.nodes.get(parse_input(node.input[1])[0])
        frame = frame_of.get(node.name)
        if predicate is None or predicate.op != "LoopCond" or frame is None or frame in pivots:
            continue
        body = next((r.node.name for r in index.readers(node.name)
                     if r.output == 1 and r.node.op == "Identity"), None)
        if body is not None:
            pivots[frame] = body
    return pivots


def drop_control_edges(graph: Any, dropped: Callable[[str], bool]) -> None:
    """Remove every control input ``^name`` with ``dropped(name)``. A node that had nothing but
    such edges (a constant the edge kept inside a TF1 while frame) is anchored on that loop's
    body pivot instead, so it stays in its frame and runs in every iteration."""
    index = NodeIndex.of(graph)
    frame_of: dict[str, str] | None = None
    pivots: dict[str, str] = {}
    for node in graph.node:
        removed = [i for i in node.input if i.startswith("^") and dropped(i[1:])]
        if not removed:
            continue
        kept = [i for i in node.input if i not in removed]
        if not kept:
            if frame_of is None:
                frame_of, pivots = frames(index)[0], loop_pivots(index)
            frame = frame_of.get(node.name)
            if frame and frame in pivots:
                kept = [f"^{pivots[frame]}"]
        del node.input[:]
        node.input.extend(kept)


def remove_nodes(graph: Any, names: set[str]) -> None:
    """Delete nodes by name, keeping the order of the rest."""
    if not names:
        return
    kept = GraphDef()
    kept.node.extend(node for node in graph.node if node.name not in names)
    del graph.node[:]
    graph.node.extend(kept.node)


def frame_anchor(graph: Any, tensor: str) -> str:
    """A control input that puts a new constant in the TF1 while/cond frame of ``tensor``.

    A control edge from the node itself works, except from a Switch: a Switch is in the frame
    outside its branches, so the anchor is an Identity of the branch output (as TF1's cond
    pivots are)."""
    name, index, _ = parse_input(tensor)
    producer = next((n for n in graph.node if n.name == name), None)
    if producer is None or producer.op not in ("Switch", "RefSwitch"):
        return f"^{name}"
    pivot_name = f"{name}/graphport_pivot_{index}"
    if not any(n.name == pivot_name for n in graph.node):
        pivot = graph.node.add(name=pivot_name, op="Identity", input=[tensor])
        pivot.attr["T"].type = producer.attr["T"].type
    return f"^{pivot_name}"


def anchored_const(graph: Any, base: str, value: np.ndarray, near: str) -> str:
    """A new Const named after ``base`` holding ``value``, in the TF1 while/cond frame of
    tensor ``near`` (frame_anchor), so a loop body or branch can read it."""
    node = graph.node.add(name=unique_name(graph, base))
    make_const(node, value)
    node.input.append(frame_anchor(graph, near))
    return node.name


def runtime_zero(graph: Any, source: str, source_type: int, base: str) -> str:
    """An int32 [1] tensor holding 0 that the converter cannot compute ahead of time.

    The TFLite converter types a loop variable from its initial value and folds what it can,
    so an accumulator that starts empty from a constant (or from static shapes) is typed with
    zero rows forever. This count is min(rows(where(a == a)), 0) for the first element ``a`` of
    ``source``, a run-time value (a graph input or what is computed from one): always 0, but
    only known when the graph runs. Its nodes go in ``source``'s frame."""

    def const(suffix: str, value: np.ndarray) -> str:
        return anchored_const(graph, f"{base}/{suffix}", value, source)

    def op(suffix: str, kind: str, inputs: list[str], **types: str | int) -> str:
        return add_node(graph, unique_name(graph, f"{base}/{suffix}"), kind, inputs,
                        types=types).name

    int32 = "int32"
    flat = op("flat", "Reshape", [source, const("minus_one", np.array([-1], np.int32))],
              T=source_type, Tshape=int32)
    first = op("first", "Slice", [flat, const("begin", np.array([0], np.int32)),
                                  const("one", np.array([1], np.int32))],
               T=source_type, Index=int32)
    same = op("same", "Equal", [first, first], T=source_type)
    where = op("where", "Where", [same], T="bool")
    shape = op("shape", "Shape", [where], T="int64", out_type=int32)  # Where gives int64
    count = op("count", "Slice", [shape, const("zero_1d", np.array([0], np.int32)),
                                  const("one_1d", np.array([1], np.int32))],
               T=int32, Index=int32)
    return op("rows", "Minimum", [count, const("zero", np.array([0], np.int32))], T=int32)


def unique_name(graph: Any, base: str) -> str:
    taken = {node.name for node in graph.node}
    name, n = base, 1
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def topological(index: NodeIndex) -> list[Any]:
    """Nodes with every producer before its readers (a frozen graph is usually in order)."""
    order: list[Any] = []
    seen: set[str] = set()
    for root in index.graph.node:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if node.name in seen:
                continue
            seen.add(node.name)
            stack.append((node, True))
            for item in node.input:
                producer = index.nodes.get(parse_input(item)[0])
                if producer is not None and producer.name not in seen:
                    stack.append((producer, False))
    return order
