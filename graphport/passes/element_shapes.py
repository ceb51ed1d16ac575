"""The element shape of every TensorArray in a graph, as static as TFLite's lists need it.

First from the graph: the arrays' own attributes, the shapes TensorFlow infers for the values
scattered, written, read and gathered, iterated (a shape found for one array is written into
its attribute, so its reads, and what a loop body computes from them, get a shape on the next
import). Inference stops at a loop's Merge, so a value computed from loop state (an RNN's
output) stays partly unknown; those arrays are then measured: the graph runs on the inputs'
pinned shapes (open dimensions at 1) and the tensors outside the loops that hold whole arrays
(what is scattered in, what is gathered out) give the element shape. Two more kinds of runs say
whether that shape is really static: a second random input (a dimension that moves with the
values, as after NMS, is not) and, per open input dimension, the same run with that dimension
at 2 (an element dimension that follows it must be pinned: TFLite's lists are static).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphport.graph.edit import copy_graph
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import ROOT_FRAME, frames
from graphport.graph.nodes import parse_input
from graphport.graph.tensor_arrays import TensorArray
from graphport.graph.tensors import dtype_name, shape_list
from graphport.graph.types import GraphProto

Shape = list[int] | None
_ROUNDS = 4


@dataclass
class ElementShapes:
    """Element shapes by array name, why one is not static, and input dimensions to pin."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    pins: dict[str, dict[int, int]] = field(default_factory=dict)  # placeholder -> dim -> size
    notes: list[str] = field(default_factory=list)

    def of(self, array: str) -> Shape:
        return self.shapes.get(array)

    def why(self, array: str) -> str:
        return self.reasons.get(array, "the graph does not say and it could not be measured")

    def pin_inputs(self, graph: GraphProto) -> None:
        """Record the pinned dimensions in the placeholders' shapes. A pinned batch (dimension
        0) is pinned on every input whose dimension 0 is open too: the inputs of one model
        share it (an RNN's sequence lengths with its sequences), and verification feeds them
        together."""
        shared: dict[str, str] = {}  # input -> the input whose pinned batch it shares
        batch = next(((name, dims[0]) for name, dims in self.pins.items() if 0 in dims), None)
        if batch is not None:
            for node in graph.node:
                shape = shape_list(node.attr["shape"].shape) if node.op == "Placeholder" and \
                    "shape" in node.attr else None
                if shape and shape[0] < 0 and node.name not in self.pins:
                    self.pins[node.name] = {0: batch[1]}
                    shared[node.name] = batch[0]
        for node in graph.node:
            dims = self.pins.get(node.name)
            if not dims:
                continue
            shape = node.attr["shape"].shape
            for d, size in dims.items():
                shape.dim[d].size = size
            pinned = ", ".join(f"dimension {d} to {size}" for d, size in sorted(dims.items()))
            why = (f"the batch it shares with {shared[node.name]}" if node.name in shared else
                   "TensorArray elements in a loop follow it and TFLite needs them static")
            self.notes.append(f"input {node.name}: {pinned} ({why}; --input-shapes "
                              f"{node.name}:... sets another size)")


def merge(shapes: list[Shape]) -> tuple[Shape, bool]:
    """The most specific shape all of ``shapes`` agree with; False when two disagree."""
    merged: Shape = None
    for shape in shapes:
        if shape is None:
            continue
        if merged is None:
            merged = list(shape)
            continue
        if len(shape) != len(merged):
            return merged, False
        for i, (have, new) in enumerate(zip(merged, shape, strict=True)):
            if have < 0:
                merged[i] = new
            elif new >= 0 and new != have:
                return merged, False
    return merged, True


def _dims(shape: Any) -> Shape:
    return None if shape.rank is None else [-1 if d is None else int(d) for d in shape]


@dataclass
class Elements:
    """One TensorArray or TensorList: what says its element shape. ``holders`` are tensors
    holding elements, with the leading dimensions to drop (1 for a whole array); ``attr_node``
    is a TensorArrayV3 whose element_shape attribute, once set, sharpens inference."""

    name: str
    declared: list[Shape] = field(default_factory=list)
    holders: list[tuple[str, int]] = field(default_factory=list)
    attr_node: str | None = None


def array_elements(array: TensorArray) -> Elements:
    """What a TensorArray's attributes and ops say about its elements."""
    found = Elements(array.array.name, [shape_list(array.array.attr["element_shape"].shape)],
                     attr_node=array.array.name)
    for op in array.ops:
        if op.op == "TensorArrayGatherV3":
            found.declared.append(shape_list(op.attr["element_shape"].shape))
            found.holders.append((f"{op.name}:0", 1))
        elif op.op == "TensorArrayScatterV3":
            found.holders.append((op.input[2], 1))
        elif op.op == "TensorArrayWriteV3":
            found.holders.append((op.input[2], 0))
        elif op.op == "TensorArrayReadV3":
            found.holders.append((f"{op.name}:0", 0))
    return found


def _static(graph: GraphProto, items: list[Elements], result: ElementShapes) -> None:
    from graphport.backend.tf_graph import get_tensor, import_graph, to_tf

    scratch = copy_graph(graph)
    nodes = {n.name: n for n in scratch.node}
    for _ in range(_ROUNDS):
        tf_graph = import_graph(to_tf(scratch))
        changed = False
        for item in items:
            seen = [*item.declared]
            for tensor, drop in item.holders:
                dims = _dims(get_tensor(tf_graph, tensor).shape)
                seen.append(dims[drop:] if dims is not None else None)
            shape, agree = merge(seen)
            if not agree:
                result.reasons[item.name] = "its elements differ in shape"
            if shape is not None and shape != result.shapes.get(item.name):
                result.shapes[item.name] = shape
                if item.attr_node is not None:
                    changed = True
                    attr = nodes[item.attr_node].attr["element_shape"].shape
                    attr.Clear()
                    for d in shape:
                        attr.dim.add(size=d)
        if not changed:
            return


def placeholders_of(graph: GraphProto, fetches: list[str]) -> list[Any]:
    """The placeholders the fetched tensors depend on."""
    index = NodeIndex.of(graph)
    seen: set[str] = set()
    stack = [parse_input(f)[0] for f in fetches]
    found = []
    while stack:
        name = stack.pop()
        if name in seen or name not in index.nodes:
            continue
        seen.add(name)
        node = index.nodes[name]
        if node.op == "Placeholder":
            found.append(node)
        stack.extend(parse_input(i)[0] for i in node.input)
    return found


class Unmeasurable(Exception):
    """A placeholder no sample can be made for (unknown rank, strings)."""


def sample_feed(node: Any, sizes: dict[tuple[str, int], int], seed: int) -> np.ndarray:
    """A random value for placeholder ``node``: open dimensions from ``sizes`` (placeholder,
    dimension) or 1."""
    dims = shape_list(node.attr["shape"].shape)
    dtype = dtype_name(node.attr["dtype"].type)
    if dims is None:
        raise Unmeasurable(f"input {node.name} has unknown rank")
    shape = [d if d >= 0 else sizes.get((node.name, i), 1) for i, d in enumerate(dims)]
    rng = np.random.RandomState(seed)
    if dtype in ("float", "double", "half"):
        return rng.uniform(-1, 1, shape).astype({"float": np.float32, "double": np.float64,
                                                  "half": np.float16}[dtype])
    if dtype in ("int32", "int64", "uint8", "int8"):
        return rng.randint(0, 2, shape).astype(dtype)
    if dtype == "bool":
        return np.zeros(shape, bool)
    raise Unmeasurable(f"input {node.name} is {dtype}")


def _measured(graph: GraphProto, items: list[Elements], result: ElementShapes) -> None:
    """Run the graph and read the element shapes off whole arrays outside the loops."""
    from graphport.backend.tf_graph import import_graph, session, to_tf

    frame_of, _ = frames(NodeIndex.of(graph))
    holders: dict[str, list[tuple[str, int]]] = {}  # name -> (tensor, leading dims to drop)
    for item in items:
        outside = [(t, drop) for t, drop in item.holders
                   if frame_of.get(parse_input(t)[0]) == ROOT_FRAME]
        if outside:
            holders[item.name] = outside
    unknown = [item.name for item in items if item.name not in holders]
    for name in unknown:
        result.reasons.setdefault(name, "it is never read or filled whole outside its loop, "
                                        "so it could not be measured")
    if not holders:
        return
    fetches = sorted({t for tensors in holders.values() for t, _ in tensors})
    inputs = placeholders_of(graph, fetches)
    open_dims = [(n.name, i) for n in inputs
                 for i, d in enumerate(shape_list(n.attr["shape"].shape) or []) if d < 0]
    tf_graph = import_graph(to_tf(graph))
    running = session(tf_graph)

    def shapes(sizes: dict[tuple[str, int], int], seed: int) -> dict[str, list[int]]:
        feeds = {tf_graph.get_tensor_by_name(f"{n.name}:0"): sample_feed(n, sizes, seed)
                 for n in inputs}
        values = running.run({t: tf_graph.get_tensor_by_name(t if ":" in t else f"{t}:0")
                              for t in fetches}, feeds)
        return {t: list(np.shape(v)) for t, v in values.items()}

    try:
        base = shapes({}, 1)
        other = shapes({}, 2)
    except Unmeasurable as error:
        for name in holders:
            result.reasons.setdefault(name, f"measuring it needs the inputs: {error}")
        return
    except Exception as error:  # the graph refused the probe input
        line = str(error).strip().splitlines()[0][:160]
        for name in holders:
            result.reasons.setdefault(name, f"a run to measure it failed ({line})")
        return
    follows: dict[str, set[tuple[str, int]]] = {}
    for dim in open_dims:
        try:
            grown = shapes({dim: 2}, 1)
        except Exception:  # the graph needs that dimension as it is: pin it
            grown = {}
        for name, tensors in holders.items():
            for tensor, drop in tensors:
                if grown.get(tensor, [None])[drop:] != base[tensor][drop:]:
                    follows.setdefault(name, set()).add(dim)
    for name, tensors in holders.items():
        measured, agree = merge([base[t][drop:] for t, drop in tensors])
        again, _ = merge([other[t][drop:] for t, drop in tensors])
        if not agree or measured != again:
            result.reasons[name] = "its element shape changes with the input values"
            continue
        static, fits = merge([result.shapes.get(name), measured])
        if not fits:
            result.reasons[name] = "the graph's own shapes and a run disagree"
            continue
        result.shapes[name] = static
        for placeholder, d in follows.get(name, ()):
            result.pins.setdefault(placeholder, {})[d] = 1


def element_shapes(graph: GraphProto, items: list[Elements]) -> ElementShapes:
    """Element shapes of ``items`` from the graph, measured where the graph does not say."""
    result = ElementShapes()
    _static(graph, items, result)
    partial = [item for item in items if item.name not in result.reasons and
               (result.of(item.name) is None or -1 in (result.of(item.name) or []))]
    if partial:
        _measured(graph, partial, result)
    return result
