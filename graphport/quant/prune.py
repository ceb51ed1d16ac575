"""Magnitude pruning of a frozen graph's conv and dense kernels, before conversion.

Each kernel (the constant weight input of Conv2D, DepthwiseConv2dNative, Conv3D,
Conv2DBackpropInput or MatMul, through Identity) gets its smallest-magnitude fraction set to
zero, per layer. Without retraining nothing makes up for what is removed: the report says how
far the outputs moved, so the trade-off is measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from graphport.convert.calibration import Calibration
from graphport.convert.converter import configured_converter, convert, run_converter, with_signature
from graphport.convert.op_report import zipped_size
from graphport.convert.source import SourceModel
from graphport.errors import ConversionError, UserError
from graphport.graph import edit
from graphport.graph.nodes import parse_input
from graphport.graph.schema import GraphDef
from graphport.graph.tensors import tensor_to_numpy
from graphport.graph.types import GraphProto
from graphport.progress import Progress
from graphport.spec.io_types import IoTypes
from graphport.verify.latency import measure, tflite_inputs
from graphport.verify.tflite_runner import NotRunnable, TFLiteRunner

# op -> index of its weight input
KERNEL_INPUT = {"Conv2D": 1, "DepthwiseConv2dNative": 1, "Conv3D": 1,
                "Conv2DBackpropInput": 1, "MatMul": 1}
MIN_ELEMENTS = 64  # kernels smaller than this are left whole (biases-sized, nothing to gain)


@dataclass(frozen=True)
class PruneSpec:
    """``sparsity`` for every kernel, ``layers``: a node name or scope -> its own sparsity."""

    sparsity: float
    layers: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def parse(text: str, option: str = "--prune") -> PruneSpec:
        """``0.5`` or ``0.5,conv1=0.3,fc2=0.8``."""
        default: float | None = None
        layers: dict[str, float] = {}
        for item in (part.strip() for part in text.split(",")):
            name, _, value = item.rpartition("=")
            try:
                number = float(value)
            except ValueError:
                raise UserError(f"{option} {text}: {value!r} is not a fraction",
                                "write 0.5, or 0.5,LAYER=0.8 for a layer's own") from None
            if not 0 <= number < 1:
                raise UserError(f"{option} {text}: {number:g} is not in [0, 1)",
                                "the share of each kernel's weights set to zero, e.g. 0.5")
            if name:
                layers[name] = number
            elif default is None:
                default = number
            else:
                raise UserError(f"{option} {text}: two default sparsities",
                                "name the layer of the second: LAYER=0.8")
        return PruneSpec(0.0 if default is None else default, layers)

    def for_layer(self, names: list[str]) -> float:
        """The sparsity of the layer whose nodes are ``names`` (its own wins)."""
        for key, value in self.layers.items():
            if any(n == key or n.startswith(f"{key}/") for n in names):
                return value
        return self.sparsity


@dataclass
class PrunedLayer:
    layer: str  # the conv/dense node
    op: str
    weights: str  # the constant holding its kernel
    elements: int
    target: float
    sparsity: float  # zeros after pruning (ties and existing zeros included)


@dataclass
class PruneReport:
    spec: dict[str, Any]
    layers: list[PrunedLayer]

    @property
    def sparsity(self) -> float:
        """Zeros over all pruned kernels' weights."""
        total = sum(layer.elements for layer in self.layers)
        return sum(layer.sparsity * layer.elements for layer in self.layers) / total \
            if total else 0.0


def _kernel_const(nodes: dict[str, Any], name: str) -> Any:
    node = nodes.get(name)
    while node is not None and node.op == "Identity":
        node = nodes.get(parse_input(node.input[0])[0])
    return node if node is not None and node.op == "Const" else None


def kernels(graph: GraphProto) -> list[tuple[Any, Any]]:
    """(layer node, weight Const) for every conv/dense kernel that is a constant; a constant
    shared by several layers is listed once."""
    nodes = {n.name: n for n in graph.node}
    found, seen = [], set()
    for node in graph.node:
        index = KERNEL_INPUT.get(node.op)
        if index is None or len(node.input) <= index:
            continue
        const = _kernel_const(nodes, parse_input(node.input[index])[0])
        if const is None and node.op == "MatMul":  # x @ W written as W^T-first
            const = _kernel_const(nodes, parse_input(node.input[0])[0])
        if const is None or const.name in seen:
            continue
        if const.attr["value"].tensor.dtype not in (1, 2, 19):  # float, double, half
            continue
        seen.add(const.name)
        found.append((node, const))
    return found


def prune_graph(graph: GraphProto, spec: PruneSpec) -> tuple[GraphProto, PruneReport]:
    """A copy of ``graph`` with each kernel's smallest weights zeroed, and what was done."""
    pruned = edit.copy_graph(graph)
    found = kernels(pruned)
    if not found:
        raise UserError("--prune: the graph has no constant conv or dense kernels to prune")
    known = {n for layer, const in found for n in (layer.name, const.name)}
    for key in spec.layers:
        if not any(n == key or n.startswith(f"{key}/") for n in known):
            examples = ", ".join(layer.name for layer, _ in found[:4])
            raise UserError(f"--prune {key}=...: no conv or dense layer of that name or scope",
                            f"its layers: {examples}")
    layers = []
    for layer, const in found:
        weights = tensor_to_numpy(const.attr["value"].tensor)
        target = spec.for_layer([layer.name, const.name]) if weights.size >= MIN_ELEMENTS \
            else 0.0
        if target > 0:
            count = int(np.floor(target * weights.size))
            flat = weights.ravel().copy()
            if count:
                flat[np.argpartition(np.abs(flat), count - 1)[:count]] = 0
            weights = flat.reshape(weights.shape)
            edit.make_const(const, weights)
        layers.append(PrunedLayer(layer.name, layer.op, const.name, int(weights.size), target,
                                  float(np.mean(weights == 0))))
    return pruned, PruneReport({"sparsity": spec.sparsity, "layers": spec.layers}, layers)


@dataclass
class Pruning:
    """A pruned conversion's context: the unpruned source and what pruning did;
    ``unpruned_data`` caches the unpruned model in this mode (a sweep converts it once)."""

    unpruned: SourceModel
    report: PruneReport
    unpruned_data: bytes | None = None


def pruned_source(source: SourceModel, spec: PruneSpec) -> tuple[SourceModel, PruneReport]:
    """The source with pruned kernels for conversion; parity still runs the unpruned graph,
    so the report measures what pruning moved."""
    from graphport.backend.tf_graph import to_tf

    if source.graph_def is None:
        raise UserError("--prune applies to frozen graphs: a SavedModel's weights are "
                        "variables", "prune the frozen graph it came from")
    graph = GraphDef.FromString(source.graph_def.SerializeToString())
    pruned, report = prune_graph(graph, spec)
    return replace(source, graph_def=to_tf(pruned),
                   unrepaired=source.unrepaired if source.unrepaired is not None else graph
                   ), report


def _latency_ms(data: bytes) -> float:
    runner = TFLiteRunner(data)
    sample = tflite_inputs(runner)
    return round(measure(lambda: runner(sample), runs=30, warmup=3).median_ms, 4)


def pruning_costs(pruning: Pruning, pruned: SourceModel, data: bytes, mode: str,
                  io: IoTypes | None, select_ops: bool, calibration: Calibration | None,
                  progress: Progress) -> dict[str, Any]:
    """Side by side with the unpruned model in the same mode: sizes raw and zipped, and
    TFLite's sparse weight encoding (EXPERIMENTAL_SPARSITY) with both latencies, used when it
    makes the file smaller."""
    from graphport.backend.runtime import tensorflow

    if pruning.unpruned_data is None:
        progress("converting the unpruned model for comparison")
        pruning.unpruned_data = convert(pruning.unpruned, mode, io, select_ops=select_ops,
                                        calibration=calibration)
    plain = pruning.unpruned_data
    progress("trying the sparse weight encoding")
    converter = configured_converter(pruned, mode, io, select_ops=select_ops,
                                     calibration=calibration)
    converter.optimizations = [*converter.optimizations,
                               tensorflow().lite.Optimize.EXPERIMENTAL_SPARSITY]
    sparse = with_signature(run_converter(converter, pruned, False, select_ops), pruned)
    costs: dict[str, Any] = {
        "unpruned": {"size_bytes": len(plain), "zipped_bytes": zipped_size(plain)[0]},
        "sparse_encoding": {"size_bytes": len(sparse), "used": len(sparse) < len(data)}}
    progress("timing dense and sparse")
    for key, model in (("latency_dense_ms", data), ("latency_sparse_ms", sparse)):
        try:
            costs["sparse_encoding"][key] = _latency_ms(model)
        except (NotRunnable, ConversionError) as error:
            if model is sparse:  # LiteRT cannot run every sparse kernel (int8 FC in XNNPACK)
                costs["sparse_encoding"].update(used=False, reason=error.message)
    costs["sparse_data"] = sparse if costs["sparse_encoding"]["used"] else None
    return costs
