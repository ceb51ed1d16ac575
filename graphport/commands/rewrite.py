"""`graphport rewrite`: repair a frozen graph and write the result as a frozen graph again."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from graphport.graph.load import read_graph_def
from graphport.outputs import FILE, atomic_path, check_target, output_path
from graphport.passes.base import TFLITE
from graphport.passes.frontend import prepare_for_export
from graphport.passes.pipeline import DEFAULT_PIPELINE, available
from graphport.progress import Progress, or_silent
from graphport.spec.options import GraphSpec


def list_passes() -> list[dict[str, Any]]:
    """Every registered pass: name, summary, targets, parameters, in the default pipeline."""
    return [{"name": name, "summary": cls.summary, "targets": sorted(cls.targets),
             "params": dict(cls.params), "default": name in DEFAULT_PIPELINE}
            for name, cls in sorted(available().items())]


def rewrite_graph(graph_path: str | os.PathLike[str], output: str | os.PathLike[str],
                  graph: GraphSpec | None = None, target: str = TFLITE,
                  overwrite: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Run the passes for ``target`` (the default pipeline unless ``graph.passes`` names
    others) and write the repaired GraphDef atomically."""
    step = or_silent(progress)
    name = f"{Path(graph_path).stem}.repaired.pb"
    target_path = check_target(output_path(output, name, FILE), overwrite)
    step("reading graph")
    original = read_graph_def(graph_path)
    before = len(original.node)
    step("repairing")
    prepared = prepare_for_export(original, graph or GraphSpec(), target,
                                  action="repair this graph (constant folding runs parts of it)")
    with atomic_path(target_path, overwrite, directory=False) as temp:
        temp.write_bytes(prepared.graph.SerializeToString(deterministic=True))
    return {"path": str(target_path), "nodes_before": before,
            "nodes_after": len(prepared.graph.node),
            "inputs": [t.key for t in prepared.inputs],
            "outputs": [t.key for t in prepared.outputs],
            "rewrites": [asdict(r) for r in prepared.rewrites]}
