"""GraphDef naming conventions: ``name:k`` tensors and ``^name`` control edges."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def parse_input(text: str) -> tuple[str, int, bool]:
    """Split a NodeDef input into (node name, output index, is control edge)."""
    if text.startswith("^"):
        return text[1:], -1, True
    name, sep, index = text.rpartition(":")
    if sep and index.isdigit():
        return name, int(index), False
    return text, 0, False


def tensor_name(node: str, index: int = 0) -> str:
    """The canonical ``node:index`` name of a node's output."""
    return f"{node}:{index}"


def canonical_tensor(name: str) -> str:
    """``x`` -> ``x:0``; ``x:1`` stays: the form ``get_tensor_by_name`` needs."""
    node, index, _ = parse_input(name)
    return tensor_name(node, index)


def consumers(nodes: Iterable[Any]) -> dict[str, set[str]]:
    """For each node name, the names of nodes that use any of its outputs or its control edge."""
    used: dict[str, set[str]] = {}
    for node in nodes:
        for item in node.input:
            source, _, _ = parse_input(item)
            used.setdefault(source, set()).add(node.name)
    return used


def attr_dtype(node: Any) -> int | None:
    """The DataType a node's first output carries, from the attributes that usually say it."""
    for key in ("dtype", "T", "out_type", "DstT", "output_type", "Tout"):
        if key in node.attr:
            value = node.attr[key]
            kind = value.WhichOneof("value")
            if kind == "type":
                return value.type
            if kind == "list" and value.list.type:
                return value.list.type[0]
    return None
