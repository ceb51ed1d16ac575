"""`graphport rewrite`: repair a frozen graph and write the result as a frozen graph again."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from graphport.errors import api_errors
from graphport.graph.load import read_graph_def
from graphport.graph.vendor_ops import translate_vendor_ops
from graphport.outputs import FILE, atomic_path, check_target, output_path
from graphport.passes.base import TFLITE
from graphport.passes.frontend import prepare_for_export
from graphport.passes.pipeline import DEFAULT_PIPELINE, available
from graphport.progress import Progress, or_silent
from graphport.results import JsonResult
from graphport.spec.options import GraphSpec


@dataclass
class RewriteResult(JsonResult):
    """The repaired graph written, and what each pass matched and changed."""

    path: str
    nodes_before: int
    nodes_after: int
    inputs: list[str]
    outputs: list[str]
    rewrites: list[dict[str, Any]]


def list_passes() -> list[dict[str, Any]]:
    """Every registered pass: name, summary, targets, parameters, in the default pipeline."""
    return [{"name": name, "summary": cls.summary, "targets": sorted(cls.targets),
             "params": dict(cls.params), "default": name in DEFAULT_PIPELINE}
            for name, cls in sorted(available().items())]


@api_errors
def rewrite_graph(graph_path: str | os.PathLike[str], output: str | os.PathLike[str],
                  graph: GraphSpec | None = None, target: str = TFLITE,
                  overwrite: bool = False, progress: Progress | None = None) -> RewriteResult:
    """Run the passes for ``target`` (the default pipeline unless ``graph.passes`` names
    others) and write the repaired GraphDef atomically."""
    step = or_silent(progress)
    name = f"{Path(graph_path).stem}.repaired.pb"
    target_path = check_target(output_path(output, name, FILE), overwrite)
    step("reading graph")
    original = read_graph_def(graph_path)
    translate_vendor_ops(original)
    before = len(original.node)
    step("repairing")
    prepared = prepare_for_export(original, graph or GraphSpec(), target,
                                  action="repair this graph (constant folding runs parts of it)")
    with atomic_path(target_path, overwrite, directory=False) as temp:
        temp.write_bytes(prepared.graph.SerializeToString(deterministic=True))
    return RewriteResult(str(target_path), before, len(prepared.graph.node),
                         [t.key for t in prepared.inputs], [t.key for t in prepared.outputs],
                         [asdict(r) for r in prepared.rewrites])
