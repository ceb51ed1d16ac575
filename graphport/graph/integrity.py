"""Structural checks a graph must pass before TensorFlow will import or run it, done without
TensorFlow: every input names a node, and every node is fed from one TF1 frame (the rule
TensorFlow enforces with "has inputs from different frames"). The pass pipeline runs them after
every pass, so a pass that breaks a graph is caught and named, not shipped."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.types import GraphProto

ROOT_FRAME = ""
_ENTER = ("Enter", "RefEnter")
_EXIT = ("Exit", "RefExit")


@dataclass(frozen=True)
class Problem:
    """One defect: ``kind`` is ``dangling_input`` or ``mixed_frames``."""

    kind: str
    node: str
    detail: str

    def __str__(self) -> str:
        return f"{self.node}: {self.detail}"


def dangling_inputs(index: NodeIndex) -> list[Problem]:
    """Inputs naming a node the graph does not have."""
    return [Problem("dangling_input", node.name, f"input {item!r} names no node")
            for node in index.graph.node for item in node.input
            if parse_input(item)[0] not in index.nodes]


def frames(index: NodeIndex) -> tuple[dict[str, str], list[Problem]]:
    """The TF1 frame of every node reachable from the graph's sources (TensorFlow's own
    propagation: an Enter's readers are in its ``frame_name``, an Exit's readers in the frame
    around its own), and the nodes fed from two frames."""
    frame: dict[str, str] = {}
    parent: dict[str, str] = {}
    problems: list[Problem] = []
    queue = deque(node for node in index.graph.node if not node.input)
    for node in queue:
        frame[node.name] = ROOT_FRAME
    while queue:
        node = queue.popleft()
        here = frame[node.name]
        if node.op in _ENTER:
            out = node.attr["frame_name"].s.decode(errors="replace")
            parent.setdefault(out, here)
        elif node.op in _EXIT:
            if here not in parent:
                problems.append(Problem("mixed_frames", node.name,
                                        f"exits frame {here!r}, which no Enter opened"))
                continue
            out = parent[here]
        else:
            out = here
        readers = [r.node for r in index.readers(node.name)] + index.control_readers(node.name)
        for reader in readers:
            known = frame.get(reader.name)
            if known is None:
                frame[reader.name] = out
                queue.append(reader)
            elif known != out:
                problems.append(Problem(
                    "mixed_frames", reader.name,
                    f"has inputs from different frames: {node.name} is in {out or 'the root'!r}"
                    f", another input in {known or 'the root'!r}"))
    return frame, problems


def check_graph(graph: GraphProto) -> list[Problem]:
    """Every defect above, in graph order; an empty list for a sound graph."""
    index = NodeIndex.of(graph)
    return dangling_inputs(index) + frames(index)[1]
