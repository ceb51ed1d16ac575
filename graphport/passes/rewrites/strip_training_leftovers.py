"""Remove training and debugging leftovers that inference does not need and converters trip on:
CheckNumerics, Assert (and the control edges to it), Print/PrintV2, StopGradient/PreventGradient,
Identity chains, and dropout whose rate is pinned to 0 (keep_prob 1), whose random mask is then
always all-true."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.passes.base import GraphPass, PassContext
from graphport.passes.graph_util import (
    const_value,
    drop_control_edges,
    input_node,
    remove_nodes,
    rewire,
)

_PASS_THROUGH = ("CheckNumerics", "StopGradient", "PreventGradient", "Print")
_SIDE_EFFECT_ONLY = ("Assert", "PrintV2")
_CONTROL_FLOW = ("Switch", "RefSwitch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond")


def _is_uniform_01(node: Any, by_name: dict[str, Any]) -> bool:
    """RandomUniform (always in [0, 1)), possibly scaled by *1 and shifted by +0."""
    while node is not None and node.op in ("Mul", "Add", "AddV2"):
        neutral = 1.0 if node.op == "Mul" else 0.0
        operands = [by_name.get(parse_input(i)[0]) for i in node.input[:2]]
        constants = [const_value(o, by_name) for o in operands]
        if sum(c is not None for c in constants) != 1:
            return False
        k = 0 if constants[0] is not None else 1
        constant = constants[k]
        if constant is None or constant.size == 0 or not np.all(constant == neutral):
            return False
        node = operands[1 - k]
    return node is not None and node.op == "RandomUniform"


class StripTrainingLeftovers(GraphPass):
    summary = ("CheckNumerics, Assert, Print, StopGradient, Identity chains, dropout with "
               "rate 0")
    repairs = frozenset({"Assert", "Print", "PrintV2", "CheckNumerics"})

    def matches(self, index: NodeIndex) -> list[Any]:
        graph, by_name = index.graph, index.nodes
        found = [n for n in graph.node if n.op in _PASS_THROUGH]
        found += [n for n in graph.node if self._chained_identity(n, by_name)]
        found += [n for n in graph.node if self._always_true_mask(n, by_name)]
        # Removals last: deleting nodes rebuilds the node list, which detaches earlier matches.
        found += [n for n in graph.node if n.op in _SIDE_EFFECT_ONLY]
        return found

    @staticmethod
    def _chained_identity(node: Any, by_name: dict[str, Any]) -> bool:
        if node.op != "Identity" or not node.input or node.input[0].startswith("^"):
            return False
        inner = by_name.get(parse_input(node.input[0])[0])
        return inner is not None and inner.op == "Identity" and inner.input and \
            not any(i.startswith("^") for i in inner.input) and \
            by_name.get(parse_input(inner.input[0])[0]) is not None and \
            by_name[parse_input(inner.input[0])[0]].op not in _CONTROL_FLOW

    @staticmethod
    def _always_true_mask(node: Any, by_name: dict[str, Any]) -> bool:
        """``random >= rate`` with rate <= 0, or ``floor(keep_prob + random)`` with keep 1."""
        if node.op == "GreaterEqual":
            rate = const_value(input_node(node, 1, by_name), by_name)
            return rate is not None and rate.size > 0 and bool((rate <= 0).all()) and \
                _is_uniform_01(input_node(node, 0, by_name), by_name)
        if node.op == "Floor":
            total = input_node(node, 0, by_name)
            if total is None or total.op not in ("Add", "AddV2"):
                return False
            operands = [input_node(total, i, by_name) for i in (0, 1)]
            for k in (0, 1):
                keep = const_value(operands[k], by_name)
                if keep is not None and keep.size > 0 and bool((keep == 1).all()) and \
                        _is_uniform_01(operands[1 - k], by_name):
                    return True
        return False

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        if match.op in _PASS_THROUGH:
            dtype = match.attr["T"].type
            data = [i for i in match.input if not i.startswith("^")][:1]
            control = [i for i in match.input if i.startswith("^")]
            match.op = "Identity"
            del match.input[:]
            match.input.extend(data + control)
            match.ClearField("attr")
            match.attr["T"].type = dtype
            return True
        if match.op in _SIDE_EFFECT_ONLY:
            # tf.debugging.Assert wraps the op in a cond ("AssertGuard"); code waits on the
            # guard's Merge, so those control edges go too and the guard is pruned.
            guard = match.name.split("/AssertGuard/")[0] + "/AssertGuard/" \
                if "/AssertGuard/" in match.name else None
            drop_control_edges(graph, lambda name: name == match.name or
                               (guard is not None and name.startswith(guard)))
            remove_nodes(graph, {match.name})
            return True
        if match.op == "Identity":
            by_name = NodeIndex.of(graph).nodes
            match.input[0] = by_name[parse_input(match.input[0])[0]].input[0]
            return True
        return self._drop_mask(graph, match, context)

    @staticmethod
    def _drop_mask(graph: Any, mask: Any, context: PassContext) -> bool:
        """Bypass the consumers of an all-true (or all-one) dropout mask."""
        changed = 0
        for node in list(graph.node):
            data = [parse_input(i) for i in node.input if not i.startswith("^")]
            if not data:
                continue
            if node.op in ("Select", "SelectV2") and data[0][0] == mask.name:
                changed += rewire(graph, f"{node.name}:0", node.input[1])
            elif node.op == "Cast" and data[0][0] == mask.name:
                for user in list(graph.node):
                    if user.op == "Mul" and f"{node.name}" in [parse_input(i)[0]
                                                               for i in user.input[:2]]:
                        other = next(i for i in user.input[:2] if parse_input(i)[0] != node.name)
                        changed += rewire(graph, f"{user.name}:0", other)
            elif node.op == "Mul" and mask.op == "Floor" and \
                    mask.name in [d[0] for d in data[:2]]:
                other = next(i for i in node.input[:2] if parse_input(i)[0] != mask.name)
                changed += rewire(graph, f"{node.name}:0", other)
        if changed:
            context.note(f"{mask.name}: dropout mask is always kept (rate 0); bypassed")
        return changed > 0
