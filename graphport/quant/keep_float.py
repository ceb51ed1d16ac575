"""`--keep-float`: which ops the quantizer must leave in float, given as TFLite op types
(FULLY_CONNECTED) or TF node names, checked against the model before any quantizing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphport.errors import UserError
from graphport.quant.calibrated import CalibratedModel
from graphport.quant.layers import Layer, renamed_from

_OP_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class KeepFloat:
    """Op types and layers (by the tensor names the quantizer matches) to keep in float;
    ``readers`` are the layers kept because they read a kept layer's output; ``int8_weights``
    the kept layers that compute in float on int8 weights (auto-tuning's choice)."""

    ops: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()
    int8_weights: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ops or self.nodes)

    def plus(self, model: CalibratedModel, layer: Layer) -> KeepFloat:
        """This set and ``layer`` with the layers reading its output."""
        first, *rest = model.kept_with_readers(layer)
        nodes = list(self.nodes)
        for kept in (first, *rest):
            if kept.tensor not in nodes:
                nodes.append(kept.tensor)
        added = tuple(r.tensor for r in rest if r.tensor not in self.nodes)
        return KeepFloat(self.ops, tuple(nodes), self.readers + added, self.int8_weights)

    def with_int8_weights(self, node: str) -> KeepFloat:
        return KeepFloat(self.ops, self.nodes, self.readers, (*self.int8_weights, node))

    def covers(self, op: str, tensor: str) -> bool:
        """Whether an op of a quantized model (by op type and output tensor name) is in float
        because this set asked for it."""
        return op in self.ops or any(renamed_from(tensor, node) for node in self.nodes)

    def to_json(self) -> dict[str, list[str]]:
        return {"op_types": list(self.ops), "layers": list(self.nodes),
                "kept_as_readers": list(self.readers), "int8_weights": list(self.int8_weights)}


def _names(item: str, layer: Layer) -> bool:
    """``item`` names the layer: its full tensor name, one of its TF nodes (the converter may
    have appended digits), or a name scope (``fc1`` for fc1/MatMul)."""
    return item == layer.tensor or any(
        renamed_from(node, item) or node.startswith(item.rstrip("/") + "/")
        for node in layer.tf_nodes)


def resolve_keep_float(items: list[str], model: CalibratedModel) -> KeepFloat:
    """Each item is an op type present in the model, or a layer named as `_names` allows (kept
    with the layers reading its output); anything else is an error naming what exists."""
    layers = model.layers
    keep = KeepFloat()
    ops: list[str] = []
    present = model.op_types
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item.upper() in present:
            ops.append(item.upper())
            continue
        matches = [layer for layer in layers if _names(item, layer)]
        for layer in matches:
            keep = keep.plus(model, layer)
        if matches:
            continue
        if _OP_TYPE.match(item):
            raise UserError(f"--keep-float {item}: the model has no {item} op",
                            f"its quantizable op types: {', '.join(present)}")
        examples = ", ".join(layer.tf_nodes[0] for layer in layers[:4])
        raise UserError(f"--keep-float {item}: no op type or TF node of that name in the model",
                        f"use an op type ({', '.join(present[:6])}) or a node name shown by "
                        f"--debug-quant (e.g. {examples})")
    return KeepFloat(tuple(dict.fromkeys(ops)), keep.nodes, keep.readers)
