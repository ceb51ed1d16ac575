"""The one unsafe-ops policy: a graph that touches files, network or Python is never run or
exported unless the user says --allow-unsafe-ops. Inspection never runs anything, so it is exempt.
"""

from __future__ import annotations

from typing import Any

from graphport.errors import UserError
from graphport.graph.anatomy import find_unsafe_ops


def ensure_safe(graph: Any, allow_unsafe_ops: bool, action: str,
                ignore: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """Raise UserError if ``graph`` holds unsafe ops and they were not allowed; return them.
    ``ignore`` names op types that are part of the container (a SavedModel's checkpoint ops)."""
    unsafe = find_unsafe_ops(graph, ignore)
    if unsafe and not allow_unsafe_ops:
        listed = ", ".join(f"{u['name']} ({u['op']}: {u['kind']})" for u in unsafe[:6])
        more = f" and {len(unsafe) - 6} more" if len(unsafe) > 6 else ""
        raise UserError(
            f"refusing to {action}: the graph has ops that touch files, network or Python: "
            f"{listed}{more}",
            "pass --allow-unsafe-ops only if you trust this file; "
            "or cut them away with --inputs/--outputs",
        )
    return unsafe
