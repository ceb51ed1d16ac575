"""`graphport rewrite`: repair a frozen graph and write the result as a frozen graph again."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from graphport.export.export_graph import prepare_for_export
from graphport.graph.load import read_graph_def
from graphport.outputs import atomic_path, check_target
from graphport.passes.pipeline import DEFAULT_PIPELINE, available


def list_passes() -> list[tuple[str, str, bool]]:
    """(name, summary, in the default pipeline) for every registered pass."""
    return [(name, cls.summary, name in DEFAULT_PIPELINE)
            for name, cls in sorted(available().items())]


def rewrite_graph(graph_path: str | os.PathLike[str], output: str | os.PathLike[str],
                  passes: list[str] | None = None, inputs: list[str] | None = None,
                  outputs: list[str] | None = None, set_values: dict[str, str] | None = None,
                  input_shapes: dict[str, str] | None = None, allow_unsafe_ops: bool = False,
                  overwrite: bool = False, progress: Any = None) -> dict[str, Any]:
    """Run the passes (default pipeline when None) and write the repaired GraphDef atomically."""
    step = progress or (lambda _message: None)
    target = check_target(Path(output), overwrite)
    step("reading graph")
    graph = read_graph_def(graph_path)
    before = len(graph.node)
    step("repairing")
    prepared = prepare_for_export(graph, inputs, outputs, set_values, input_shapes, passes,
                                  allow_unsafe_ops, action="repair this graph (constant "
                                  "folding runs parts of it)")
    with atomic_path(target, overwrite, directory=False) as temp:
        temp.write_bytes(prepared.graph.SerializeToString(deterministic=True))
    return {"path": str(target), "nodes_before": before, "nodes_after": len(prepared.graph.node),
            "inputs": [t.key for t in prepared.inputs],
            "outputs": [t.key for t in prepared.outputs],
            "rewrites": [asdict(r) for r in prepared.rewrites]}
