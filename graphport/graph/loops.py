"""TF1 while loops that hold TensorArray patterns no repair covers (the `tf.map_fn` form:
scatter before the loop, read inside, gather after), and the nearest cut before each: the
tensors the loop's inputs are computed from, where a graph cut there would stop converting
nothing but the loop and what follows it."""

from __future__ import annotations

from dataclasses import dataclass

from graphport.graph.index import NodeIndex
from graphport.graph.integrity import ROOT_FRAME, frames
from graphport.graph.nodes import parse_input
from graphport.graph.types import GraphProto

_ENTER = ("Enter", "RefEnter")
_HANDLE_OPS = ("TensorArrayV3", "TensorArrayScatterV3", "TensorArrayWriteV3")


@dataclass
class LoopCut:
    """A while loop (by frame name), the TensorArray ops around it, and the tensors to cut at."""

    frame: str
    ops: list[str]
    cut: list[str]


def _is_constant(name: str, index: NodeIndex) -> bool:
    node = index.nodes.get(name)
    while node is not None and node.op == "Identity" and node.input:
        node = index.nodes.get(parse_input(node.input[0])[0])
    return node is not None and node.op == "Const"


def tensor_array_loops(graph: GraphProto, index: NodeIndex | None = None) -> list[LoopCut]:
    """Every top-level while frame that reads or writes a TensorArray, with the data tensors
    that enter it (directly, or scattered into a TensorArray it reads) as the cut."""
    index = index or NodeIndex.of(graph)
    frame_of, _ = frames(index)
    loops: dict[str, LoopCut] = {}
    for node in graph.node:
        if not node.op.startswith("TensorArray") or frame_of.get(node.name) in (None, ROOT_FRAME):
            continue
        frame = frame_of[node.name]
        loops.setdefault(frame, LoopCut(frame, [], []))
    for node in graph.node:  # what enters each loop from the root frame
        if node.op not in _ENTER or not node.input:
            continue
        frame = node.attr["frame_name"].s.decode(errors="replace")
        if frame not in loops or frame_of.get(node.name) != ROOT_FRAME:
            continue
        source = parse_input(node.input[0])[0]
        producer = index.nodes.get(source)
        if producer is None or _is_constant(source, index):
            continue
        if producer.op.startswith("TensorArray"):
            for op in [producer.op, *(r.node.op for r in index.readers(source)
                                      if r.node.op.startswith("TensorArray"))]:
                if op not in loops[frame].ops:
                    loops[frame].ops.append(op)
            # a TensorArray handle or flow: cut at the values scattered or written into it
            for writer in [r.node for r in index.readers(source)] + [producer]:
                if writer.op in _HANDLE_OPS[1:] and len(writer.input) >= 3:
                    value = writer.input[2]
                    if not _is_constant(parse_input(value)[0], index) and \
                            value not in loops[frame].cut:
                        loops[frame].cut.append(value)
            continue
        if node.input[0] not in loops[frame].cut:
            loops[frame].cut.append(node.input[0])
    for node in graph.node:
        inside = frame_of.get(node.name)
        if inside in loops and node.op.startswith("TensorArray") and \
                node.op not in loops[inside].ops:
            loops[inside].ops.append(node.op)
    for loop in loops.values():
        loop.ops.sort()
        loop.cut = [c for c in loop.cut if not c.startswith("^")]
    return list(loops.values())
