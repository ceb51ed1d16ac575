"""Run graph repairs in order, by name, pruning what each pass left dead."""

from __future__ import annotations

import importlib
from typing import Any

from graphport.errors import UserError
from graphport.graph.edit import prune
from graphport.passes.base import REGISTRY, PassContext, PassResult

# Importing a pass module registers it; the order here is the default pipeline's order:
# leftovers first (dropout masks need keep_prob folded, so fold runs before and after),
# then the op repairs.
_MODULES = ("strip_leftovers", "fold_constants", "nms_v4", "crop_and_resize", "tensor_array",
            "branch_constants")
DEFAULT_PIPELINE = ("fold_constants", "strip_training_leftovers", "tensor_array_to_concat",
                    "nms_v4", "crop_and_resize", "fold_constants", "branch_constants")


def available() -> dict[str, Any]:
    """All registered passes by name."""
    for module in _MODULES:
        importlib.import_module(f"graphport.passes.{module}")
    return dict(REGISTRY)


def resolve(names: list[str] | None) -> list[str]:
    """The passes to run: the default pipeline, or the user's list checked against the registry."""
    passes = available()
    if names is None:
        return list(DEFAULT_PIPELINE)
    unknown = [n for n in names if n not in passes]
    if unknown:
        raise UserError(f"--passes: unknown {', '.join(unknown)}",
                        f"available: {', '.join(sorted(passes))}")
    return names


def run_pipeline(graph: Any, names: list[str], fetch_nodes: list[str]
                 ) -> tuple[Any, list[PassResult]]:
    """Apply the named passes in order; returns the repaired graph and what each pass did."""
    passes = available()
    context = PassContext(fetch_nodes)
    results = []
    for name in names:
        result = passes[name]().run(graph, context)
        result.notes.extend(context.take_notes())
        results.append(result)
        graph = prune(graph, fetch_nodes)
    return graph, results


def needs_repair(graph: Any, names: list[str]) -> bool:
    """Cheap check before copying a graph: does any of the passes match anything?"""
    passes = available()
    return any(passes[name]().matches(graph) for name in dict.fromkeys(names))


def repairing_pass(op: str) -> str | None:
    """The pass that removes ``op``, if one exists (for "needs Select ops" errors)."""
    return next((name for name, cls in available().items() if op in cls.repairs), None)
