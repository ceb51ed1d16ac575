"""GraphDef naming conventions: ``name:k`` tensors and ``^name`` control edges."""

from __future__ import annotations

from typing import Any


def parse_input(text: str) -> tuple[str, int, bool]:
    """Split a NodeDef input into (node name, output index, is control edge)."""
    if text.startswith("^"):
        return text[1:], -1, True
    if ":" not in text:  # the common case, kept cheap: graphs have an input per edge
        return text, 0, False
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
