"""Small GraphDef helpers the passes share: lookups, rewiring, constant values, node removal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

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


def unique_name(graph: Any, base: str) -> str:
    taken = {node.name for node in graph.node}
    name, n = base, 1
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name
