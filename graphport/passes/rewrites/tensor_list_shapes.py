"""TensorList loops (TF2 control flow lowered into a v1 graph) -> the same lists with static
element shapes, which TFLite's converter needs to lower them to a builtin WHILE.

convert_variables_to_constants_v2(lower_control_flow=True) writes a Keras RNN's lists with the
element shape TF2 traced, usually [-1, units] for a batch left open; the converter refuses
("requires element_shape to be static"). Element shapes come from the graph, then from a run
on the pinned input shapes, as for TensorArrays (passes/element_shapes); every element_shape
input of the list's ops is replaced by a constant of that shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphport.graph.edit import make_const
from graphport.graph.index import NodeIndex
from graphport.graph.tensor_lists import SHAPE_INPUT, TensorList, tensor_lists
from graphport.passes.base import TFLITE, GraphPass, PassContext, PassResult
from graphport.passes.element_shapes import Elements, Shape, element_shapes
from graphport.passes.graph_util import const_value, frame_anchor, unique_name


def _declared(op: Any, by_name: dict[str, Any]) -> Shape:
    """The element shape a constant element_shape input gives (-1: unknown; a scalar -1:
    unknown rank)."""
    value = const_value(by_name.get(op.input[SHAPE_INPUT[op.op]].split(":")[0]), by_name)
    if value is None or value.ndim != 1:
        return None
    return [int(d) for d in value]


def _elements(tensor_list: TensorList, by_name: dict[str, Any]) -> Elements:
    found = Elements(tensor_list.create.name)
    for op in [tensor_list.create, *tensor_list.ops]:
        if op.op in SHAPE_INPUT:
            found.declared.append(_declared(op, by_name))
        if op.op == "TensorListFromTensor":
            found.holders.append((op.input[0], 1))
        elif op.op in ("TensorListStack", "TensorListGather"):
            found.holders.append((f"{op.name}:0", 1))
        elif op.op == "TensorListGetItem":
            found.holders.append((f"{op.name}:0", 0))
        elif op.op == "TensorListSetItem":
            found.holders.append((op.input[2], 0))
        elif op.op == "TensorListPushBack":
            found.holders.append((op.input[1], 0))
    return found


def _static_everywhere(tensor_list: TensorList, by_name: dict[str, Any]) -> bool:
    shapes = [_declared(op, by_name) for op in [tensor_list.create, *tensor_list.ops]
              if op.op in SHAPE_INPUT]
    return all(s is not None and all(d >= 0 for d in s) for s in shapes)


class TensorListShapes(GraphPass):
    summary = "TensorList loops (TF2 lowered) -> static element shapes the converter lowers"
    repairs = frozenset({"TensorListReserve", "TensorListFromTensor", "TensorListGetItem",
                         "TensorListSetItem", "TensorListStack"})
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        return [t for t in tensor_lists(index) if not _static_everywhere(t, index.nodes)]

    def run(self, graph: Any, matches: list[Any], context: PassContext) -> PassResult:
        """Every list at once: one import and one run measure them all."""
        result = PassResult(self.name, matched=len(matches))
        by_name = NodeIndex.of(graph).nodes
        shapes = element_shapes(graph, [_elements(t, by_name) for t in matches])
        ready = []
        for tensor_list in matches:
            name = tensor_list.create.name
            element = shapes.of(name)
            if element is None or any(d < 0 for d in element):
                context.note(f"{name}: not repairable (element shape not static: "
                             f"{shapes.why(name)})")
            else:
                ready.append((tensor_list, element))
        if not ready:
            context.notes.extend(shapes.notes)
            return result
        shapes.pin_inputs(graph)
        context.notes.extend(shapes.notes)
        for tensor_list, element in ready:
            for op in [tensor_list.create, *tensor_list.ops]:
                if op.op in SHAPE_INPUT:
                    position = SHAPE_INPUT[op.op]
                    node = graph.node.add(name=unique_name(graph, f"{op.name}/static_shape"))
                    make_const(node, np.array(element, np.int32))
                    anchor = next((i for i in op.input if not i.startswith("^")
                                   and i != op.input[position]), None)
                    if anchor is not None:
                        node.input.append(frame_anchor(graph, anchor))
                    op.input[position] = node.name
            result.changed += 1
            context.note(f"{tensor_list.create.name}: elements "
                         f"[{', '.join(str(d) for d in element)}]")
        return result

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        raise NotImplementedError("run() sets every list's shape together")
