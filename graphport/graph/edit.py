"""GraphDef surgery without TensorFlow: pin inputs to constants, cut at a tensor, prune.

These are the graph edits every export makes before TensorFlow sees the graph, so the unsafe-op
check and the wrapper both work on exactly the graph that will run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphport.graph.nodes import parse_input
from graphport.graph.schema import DATA_TYPES, GraphDef
from graphport.graph.tensors import dtype_enum

_NUMPY_TO_DTYPE = {
    np.dtype(np.float32): "DT_FLOAT", np.dtype(np.float64): "DT_DOUBLE",
    np.dtype(np.int32): "DT_INT32", np.dtype(np.int64): "DT_INT64",
    np.dtype(np.uint8): "DT_UINT8", np.dtype(np.int8): "DT_INT8", np.dtype(np.int16): "DT_INT16",
    np.dtype(np.uint16): "DT_UINT16", np.dtype(np.bool_): "DT_BOOL",
    np.dtype(np.float16): "DT_HALF",
}


def copy_graph(graph: Any) -> Any:
    """A deep copy, so edits never touch the caller's graph."""
    clone = GraphDef()
    clone.CopyFrom(graph)
    return clone


def make_const(node: Any, value: np.ndarray) -> None:
    """Turn ``node`` (in place, keeping its name) into a Const holding ``value``."""
    node.op = "Const"
    del node.input[:]
    node.ClearField("attr")
    node.attr["dtype"].type = fill_tensor(node.attr["value"].tensor, value)


def fill_tensor(tensor: Any, value: np.ndarray) -> int:
    """Write ``value`` into an empty TensorProto; its DataType."""
    value = np.asarray(value, order="C")  # (ascontiguousarray would make a scalar 1-D)
    tensor.dtype = DATA_TYPES[_NUMPY_TO_DTYPE[value.dtype]]
    for d in value.shape:
        tensor.tensor_shape.dim.add(size=d)
    tensor.tensor_content = value.tobytes()
    return int(tensor.dtype)


def add_node(graph: Any, name: str, op: str, inputs: Iterable[str] = (),
             types: dict[str, str | int] | None = None, ints: dict[str, int] | None = None
             ) -> Any:
    """Append a node. ``types``: type attributes as dtype names (``float``) or DataType
    values taken from another node; ``ints``: integer attributes (``N``)."""
    node = graph.node.add(name=name, op=op, input=list(inputs))
    for key, dtype in (types or {}).items():
        node.attr[key].type = dtype_enum(dtype) if isinstance(dtype, str) else dtype
    for key, value in (ints or {}).items():
        node.attr[key].i = value
    return node


def pin_inputs(graph: Any, values: dict[str, np.ndarray]) -> None:
    """Replace placeholders by constants holding the user's ``--set`` values."""
    for node in graph.node:
        if node.name in values:
            make_const(node, values[node.name])


def defaults_to_identity(graph: Any, keep: set[str]) -> list[str]:
    """PlaceholderWithDefault nodes outside the signature become Identity of their default:
    the same value, and no stray input for converters to trip over."""
    changed = []
    for node in graph.node:
        if node.op == "PlaceholderWithDefault" and node.name not in keep:
            node.op = "Identity"
            dtype = node.attr["dtype"].type
            node.ClearField("attr")
            node.attr["T"].type = dtype
            changed.append(node.name)
    return changed


def set_unknown_shape(graph: Any, name: str) -> None:
    """Record a placeholder's shape as of unknown rank."""
    for node in graph.node:
        if node.name == name:
            node.attr["shape"].shape.Clear()
            node.attr["shape"].shape.unknown_rank = True
            return
    raise KeyError(name)


def set_placeholder_shape(graph: Any, name: str, shape: list[int]) -> None:
    """Fix a placeholder's recorded shape (-1 keeps a dimension unknown)."""
    for node in graph.node:
        if node.name == name:
            attr = node.attr["shape"].shape
            attr.ClearField("dim")
            attr.unknown_rank = False
            for d in shape:
                attr.dim.add(size=d)
            return
    raise KeyError(name)


def cut_at(graph: Any, tensor: str, placeholder: str, dtype: int, shape: list[int] | None) -> None:
    """Feed ``tensor`` (``node:k``) from a new Placeholder: every consumer is rewired to it."""
    source, index, _ = parse_input(tensor)
    for node in graph.node:
        for i, item in enumerate(node.input):
            name, k, control = parse_input(item)
            if not control and name == source and k == index:
                node.input[i] = placeholder
    new = graph.node.add(name=placeholder, op="Placeholder")
    new.attr["dtype"].type = dtype
    if shape is None:
        new.attr["shape"].shape.unknown_rank = True
    else:
        for d in shape:
            new.attr["shape"].shape.dim.add(size=d)


def prune(graph: Any, fetch_nodes: list[str]) -> Any:
    """Only the nodes the fetches need (data and control edges), in the original order; the
    graph itself when it needs nothing dropped."""
    by_name = {node.name: node for node in graph.node}
    needed: set[str] = set()
    queue = deque(fetch_nodes)
    while queue:
        name = queue.popleft()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        queue.extend(parse_input(item)[0] for item in by_name[name].input)
    if len(needed) == len(by_name):
        return graph  # nothing to drop: no copy of a possibly huge graph
    pruned = GraphDef()
    pruned.versions.CopyFrom(graph.versions)
    pruned.library.CopyFrom(graph.library)
    pruned.node.extend(node for node in graph.node if node.name in needed)
    _drop_colocation_with_missing(pruned, needed)
    return pruned


def _drop_colocation_with_missing(graph: Any, present: set[str]) -> None:
    """Colocation hints (``_class: loc:@node``) naming a node pruned away would stop TensorFlow
    from importing the graph; they only place ops on devices, so they go."""
    for node in graph.node:
        if "_class" not in node.attr:
            continue
        hints = node.attr["_class"].list.s
        kept = [h for h in hints if not h.startswith(b"loc:@") or
                h[len(b"loc:@"):].decode(errors="replace") in present]
        if len(kept) == len(hints):
            continue
        if kept:
            del hints[:]
            hints.extend(kept)
        else:
            del node.attr["_class"]
