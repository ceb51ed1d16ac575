"""The graph every exporter starts from: the signature resolved (spec/signature.py), the
unsafe-ops policy applied, then the repair passes for the export's target run. Shared by
to-savedmodel, tflite, compare, rewrite and inspect --check-tflite."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphport.graph import edit
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.safety import ensure_safe
from graphport.graph.tensors import shape_list
from graphport.graph.types import GraphProto
from graphport.passes.base import PassResult
from graphport.passes.pipeline import needs_repair, resolve, run_pipeline
from graphport.spec.options import GraphSpec
from graphport.spec.signature import PreparedGraph, prepare_graph


@dataclass
class RepairedGraph(PreparedGraph):
    """A prepared graph after the repairs: what each pass did, and the graph before them
    (kept only when a pass changed something: parity runs it as the reference)."""

    rewrites: list[PassResult] = field(default_factory=list)
    unrepaired: GraphProto = None


def prepare_for_export(graph: GraphProto, spec: GraphSpec, target: str,
                       action: str = "export and run this graph") -> RepairedGraph:
    """Resolve the signature, refuse unsafe graphs, then repair for ``target`` (``savedmodel``
    or ``tflite``). Imports TensorFlow only to cut at a non-placeholder tensor or to run
    passes."""
    tensor_info = None
    placeholders = {n.name for n in graph.node if n.op.startswith("Placeholder")}
    if spec.inputs and any(parse_input(name)[0] not in placeholders or parse_input(name)[1] != 0
                           for name in spec.inputs):
        from graphport.backend.tf_graph import tensor_info_fn

        tensor_info = tensor_info_fn(graph)
    prepared = RepairedGraph(**vars(prepare_graph(graph, spec, tensor_info)))
    ensure_safe(prepared.graph, spec.allow_unsafe_ops, action)
    calls = resolve(spec.passes, target, spec.pass_params)
    if calls:
        fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
        before = prepared.graph
        # Keep the unrepaired graph (parity runs it) only when some pass has work to do, so a
        # large graph that needs no repair is not copied.
        index = NodeIndex.of(before)
        if needs_repair(before, calls, index):
            untouched = edit.copy_graph(before)  # the passes edit the graph they are given
            prepared.graph, prepared.rewrites = run_pipeline(before, calls, fetches, index)
            if any(r.changed and not r.error for r in prepared.rewrites):
                prepared.unrepaired = untouched
                dropped = {n for r in prepared.rewrites for n in r.dropped_outputs}
                prepared.outputs = [t for t in prepared.outputs
                                    if parse_input(t.tensor)[0] not in dropped]
                _adopt_fixed_shapes(prepared)
        else:
            prepared.rewrites = [PassResult(c.name, params=c.params) for c in calls]
    return prepared


def _adopt_fixed_shapes(prepared: RepairedGraph) -> None:
    """An input a repair fixed in size (a detector's image, resized inside the graph before,
    taken at model size now; an RNN's batch, which its loop's lists need static) is verified
    at that size: the source accepts it too."""
    nodes = {n.name: n for n in prepared.graph.node}
    for tensor in prepared.inputs:
        node = nodes.get(parse_input(tensor.tensor)[0])
        if node is None or "shape" not in node.attr:
            continue
        fixed = shape_list(node.attr["shape"].shape)
        if fixed is None or tensor.shape is None or len(fixed) != len(tensor.shape):
            continue
        if all(t < 0 or f < 0 or t == f for t, f in zip(tensor.shape, fixed, strict=True)):
            tensor.shape = [f if f >= 0 else t for t, f in zip(tensor.shape, fixed, strict=True)]
