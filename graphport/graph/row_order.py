"""Which outputs are sets of rows rather than arrays: those an NMS or a top-k chose. Their row
order follows scores, so two runs whose scores differ in the last digits may list the same
boxes in another order; verification matches their rows before measuring (verify/row_sets.py).
Found by data flow, never by names or shapes."""

from __future__ import annotations

from graphport.graph.nodes import parse_input
from graphport.graph.types import GraphProto

# Ops that pick rows by score: whatever is gathered with their indices is ordered by score.
ROW_CHOOSERS = frozenset({
    "NonMaxSuppression", "NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4",
    "NonMaxSuppressionV5", "NonMaxSuppressionWithOverlaps", "CombinedNonMaxSuppression",
    "TopKV2", "TopK",
})


def unordered_outputs(graph: GraphProto, outputs: dict[str, str]) -> set[str]:
    """The keys of ``outputs`` (key -> tensor name) whose values depend on an op that chooses
    rows by score (data inputs only, through loops and conds alike)."""
    nodes = {n.name: n for n in graph.node}
    found: set[str] = set()
    clean: set[str] = set()  # nodes whose whole ancestry holds no chooser
    for key, tensor in outputs.items():
        start = parse_input(tensor)[0]
        stack, seen = [start], {start}
        while stack:
            node = nodes.get(stack.pop())
            if node is None or node.name in clean:
                continue
            if node.op in ROW_CHOOSERS:
                found.add(key)
                break
            for item in node.input:
                source, _, control = parse_input(item)
                if not control and source not in seen:
                    seen.add(source)
                    stack.append(source)
        else:
            clean |= seen
    return found
