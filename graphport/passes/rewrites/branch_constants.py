"""Give TF1 cond branches their own copies of the constants they read.

A frozen TF1 graph passes a weight into a `tf.cond` branch through a Switch (the variable lived
outside the cond). After conversion the weight is an argument of the IF branch, not a constant
in it, so full-int8 quantization treats it as an activation: per-tensor, asymmetric. LiteRT's
int8 CONV_2D requires symmetric weights and refuses to run (MTCNN's RNet and ONet: "zero_point
!= 0"). A Const inside the branch (anchored like TF1's own branch constants) is quantized as the
weight it is, per channel. Float results do not change: the values are the same.
"""

from __future__ import annotations

from typing import Any

from graphport.graph.edit import add_node
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.graph_util import const_value, input_node, unique_name

_SWITCH = ("Switch", "RefSwitch")


class BranchConstants(GraphPass):
    summary = "constants switched into a TF1 cond branch become constants of that branch"
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        by_name = index.nodes
        return [n for n in index.graph.node if n.op in _SWITCH and n.input
                and const_value(input_node(n, 0, by_name), by_name) is not None]

    def rewrite(self, graph: Any, switch: Any, context: PassContext) -> bool:
        index = NodeIndex.of(graph)
        source = input_node(switch, 0, index.nodes)
        while source.op == "Identity":  # const_value looked through these
            source = input_node(source, 0, index.nodes)
        readers: dict[int, list[tuple[Any, int]]] = {}
        for reader in index.readers(switch.name):
            readers.setdefault(reader.output, []).append((reader.node, reader.position))
        for branch, uses in readers.items():
            name = unique_name(graph, f"{switch.name}/graphport_const_{branch}")
            copy = graph.node.add(name=name, op="Const")
            copy.attr["dtype"].CopyFrom(source.attr["dtype"])
            copy.attr["value"].CopyFrom(source.attr["value"])
            copy.input.append(_pivot(graph, switch.input[1], branch))
            for node, position in uses:
                node.input[position] = copy.name
        return bool(readers)


def _pivot(graph: Any, predicate: str, branch: int) -> str:
    """A control input that is live only in one branch of the cond on ``predicate``: TF1's own
    construction, Identity of Switch(pred, pred), so the weight's Switch is left unread."""
    base = parse_input(predicate)[0]
    switch, pivot = f"{base}/graphport_switch", f"{base}/graphport_pivot_{branch}"
    names = {n.name for n in graph.node}
    if switch not in names:
        add_node(graph, switch, "Switch", [predicate, predicate], types={"T": "bool"})
    if pivot not in names:
        add_node(graph, pivot, "Identity", [f"{switch}:{branch}"], types={"T": "bool"})
    return f"^{pivot}"
