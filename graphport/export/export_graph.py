"""The graph every exporter starts from: the signature resolved (prepare.py), the unsafe-ops
policy applied, then the repair passes run. Shared by to-savedmodel, tflite, compare and
inspect --check-tflite."""

from __future__ import annotations

from typing import Any

from graphport.export.prepare import PreparedGraph, prepare_graph
from graphport.graph import edit
from graphport.graph.nodes import parse_input
from graphport.safety import ensure_safe


def prepare_for_export(
    graph: Any,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    set_values: dict[str, str] | None = None,
    input_shapes: dict[str, str] | None = None,
    passes: list[str] | None = None,
    allow_unsafe_ops: bool = False,
    action: str = "export and run this graph",
) -> PreparedGraph:
    """Resolve the signature, refuse unsafe graphs, then repair: ``passes`` None runs the
    default pipeline, an empty list none. Imports TensorFlow only to cut at a non-placeholder
    tensor or to run passes."""
    tensor_info = None
    placeholders = {n.name for n in graph.node if n.op.startswith("Placeholder")}
    if inputs and any(parse_input(name)[0] not in placeholders or parse_input(name)[1] != 0
                      for name in inputs):
        from graphport.export.tf_graph import tensor_info_fn

        tensor_info = tensor_info_fn(graph)
    prepared = prepare_graph(graph, inputs, outputs, set_values, input_shapes, tensor_info)
    ensure_safe(prepared.graph, allow_unsafe_ops, action)
    from graphport.passes.base import PassResult
    from graphport.passes.pipeline import needs_repair, resolve, run_pipeline

    names = resolve(passes)
    if names:
        fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
        before = prepared.graph
        # Keep the unrepaired graph (parity runs it) only when some pass has work to do, so a
        # large graph that needs no repair is not copied.
        if needs_repair(before, names):
            prepared.graph, prepared.rewrites = run_pipeline(edit.copy_graph(before), names,
                                                             fetches)
            if any(r.changed for r in prepared.rewrites):
                prepared.unrepaired = before
        else:
            prepared.rewrites = [PassResult(name) for name in names]
    return prepared
