"""Structural checks a graph must pass before TensorFlow will import or run it, done without
TensorFlow: every input names a node, no cycle outside TF1 loops' back edges, every node carries
the attributes its op requires, no constant declares more than protobuf could ever hold, and
every node is fed from one TF1 frame (the rule TensorFlow enforces with "has inputs from
different frames"). `inspect` reports them as ``invalid_graph``, every exporter refuses such a
graph, and the pass pipeline runs them after every pass, so a pass that breaks a graph is caught
and named, not shipped."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.op_registry import op_list
from graphport.graph.tensors import dtype_name, itemsize, num_elements, shape_list
from graphport.graph.types import GraphProto

ROOT_FRAME = ""
# A constant that declares more bytes than a protobuf message can hold (2 GiB) can only be a
# splat of a few stored values; materialising it is a memory bomb, not a model.
MAX_DECLARED_BYTES = 2**31
_ENTER = ("Enter", "RefEnter")
_EXIT = ("Exit", "RefExit")


@dataclass(frozen=True)
class Problem:
    """One defect: ``kind`` is ``dangling_input``, ``cycle``, ``missing_attr``,
    ``huge_constant`` or ``mixed_frames``."""

    kind: str
    node: str
    detail: str

    def __str__(self) -> str:
        return f"{self.node}: {self.detail}"


def dangling_inputs(index: NodeIndex) -> list[Problem]:
    """Inputs naming a node the graph does not have."""
    missing = index.missing()
    if not missing:
        return []
    return [Problem("dangling_input", node.name, f"input {item!r} names no node")
            for node in index.graph.node for item in node.input
            if parse_input(item)[0] in missing]


def missing_attrs(index: NodeIndex) -> list[Problem]:
    """Nodes of known ops without an attribute the op requires (one with no default)."""
    ops = op_list()
    problems = []
    for node in index.graph.node:
        info = ops.get(node.op)
        missing = [a for a in info.required_attrs if a not in node.attr] if info else []
        if missing:
            problems.append(Problem("missing_attr", node.name,
                                    f"{node.op} without its required attr "
                                    f"{', '.join(repr(a) for a in missing)}"))
    return problems


def huge_constants(index: NodeIndex) -> list[Problem]:
    """Constants whose declared shape holds more bytes than any real weight could."""
    problems = []
    for node in index.graph.node:
        if node.op != "Const" or "value" not in node.attr:
            continue
        tensor = node.attr["value"].tensor
        count = num_elements(shape_list(tensor.tensor_shape)) or 0
        size = count * max(itemsize(dtype_name(tensor.dtype)), 1)
        if size > MAX_DECLARED_BYTES:
            problems.append(Problem("huge_constant", node.name,
                                    f"constant declares {count:,} elements ({size:,} bytes)"))
    return problems


def cycles(index: NodeIndex) -> list[Problem]:
    """Nodes on a cycle that is not a TF1 loop (whose only back edge runs NextIteration ->
    Merge): Tarjan's strongly connected components, iteratively."""
    edges: dict[str, list[str]] = {}
    waiting: dict[str, int] = dict.fromkeys(index.nodes, 0)
    for source, node in index.nodes.items():
        loop_back = node.op in ("NextIteration", "RefNextIteration")
        targets = [r.node.name for r in index.readers(source)] + \
            [n.name for n in index.control_readers(source)]
        if loop_back:
            targets = [t for t in targets if index.nodes[t].op not in ("Merge", "RefMerge")]
        edges[source] = targets
        for target in targets:
            waiting[target] += 1
    # Kahn's order first: a graph whose every node gets ordered has no cycle, and the cost of
    # the component search below is paid only for what is left.
    ready = [name for name, count in waiting.items() if not count]
    while ready:
        for target in edges[ready.pop()]:
            waiting[target] -= 1
            if not waiting[target]:
                ready.append(target)
    left = {name for name, count in waiting.items() if count}
    if not left:
        return []
    edges = {name: [t for t in edges[name] if t in left] for name in left}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    problems = []
    for root in edges:
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            name, position = work.pop()
            if position == 0:
                order[name] = low[name] = len(order)
                stack.append(name)
                on_stack.add(name)
            successors = edges[name]
            if position < len(successors):
                work.append((name, position + 1))
                nxt = successors[position]
                if nxt not in order:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[name] = min(low[name], order[nxt])
                continue
            if low[name] == order[name]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == name:
                        break
                if len(members) > 1 or name in edges[name]:
                    listed = ", ".join(sorted(members)[:5])
                    more = f" and {len(members) - 5} more" if len(members) > 5 else ""
                    problems.append(Problem("cycle", min(members),
                                            f"{len(members)} node(s) in a cycle: {listed}{more}"))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
    return problems


def frames(index: NodeIndex) -> tuple[dict[str, str], list[Problem]]:
    """The TF1 frame of every node reachable from the graph's sources (TensorFlow's own
    propagation: an Enter's readers are in its ``frame_name``, an Exit's readers in the frame
    around its own), and the nodes fed from two frames."""
    if not any(node.op in _ENTER for node in index.graph.node):  # no TF1 loop: one frame
        exits = [Problem("mixed_frames", n.name, "exits a frame no Enter opened")
                 for n in index.graph.node if n.op in _EXIT]
        return dict.fromkeys(index.nodes, ROOT_FRAME), exits
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


def check_graph(graph: GraphProto, index: NodeIndex | None = None) -> list[Problem]:
    """Every defect above; an empty list for a sound graph. ``index``: one already built."""
    index = index or NodeIndex.of(graph)
    return (dangling_inputs(index) + cycles(index) + missing_attrs(index)
            + huge_constants(index) + frames(index)[1])
