"""The one unsafe-ops policy at the point of running: a graph that holds an op the policy
(graph/side_effects.py) will not run is refused unless the user says --allow-unsafe-ops, and a
graph that would wait on a queue, reader or iterator is refused even then: nothing feeds it, so
it would hang. Inspection never runs anything, so it is exempt.
"""

from __future__ import annotations

from typing import Any

from graphport.errors import UserError
from graphport.graph.anatomy import find_cut_points
from graphport.graph.side_effects import BLOCKING, UnsafeOp, find_unsafe_ops, summary


def ensure_safe(graph: Any, allow_unsafe_ops: bool, action: str,
                ignore: frozenset[str] = frozenset()) -> list[UnsafeOp]:
    """Raise UserError if ``graph`` holds ops the policy will not run; return those allowed.
    ``ignore`` names op types that are part of the container (a SavedModel's checkpoint ops)."""
    unsafe = find_unsafe_ops(graph, ignore)
    blocking = [u for u in unsafe if u.kind == BLOCKING]
    if blocking:
        cuts = find_cut_points(graph)
        raise UserError(
            f"refusing to {action}: the graph reads from an input pipeline that nothing "
            f"feeds, so running it would wait for ever: {summary(blocking)}",
            f"cut the pipeline off: --inputs {','.join(cuts)}" if cuts else
            "cut the pipeline off: name the network's first tensors with --inputs")
    if unsafe and not allow_unsafe_ops:
        raise UserError(
            f"refusing to {action}: the graph has ops with side effects (files, network, "
            f"Python or other state outside the graph): {summary(unsafe)}",
            "pass --allow-unsafe-ops only if you trust this file; "
            "or cut them away with --inputs/--outputs")
    return unsafe
