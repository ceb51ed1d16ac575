"""TF1 TensorArrays as data flow: each ``TensorArrayV3``, the ops that use its handle (directly or
through the Enter nodes that carry it into while frames) and the flow tensors that order them.

A TensorArray is a resource handle plus a float "flow" scalar that every write returns and every
read takes, so the order of operations is data flow on the flow. That is what makes the
TensorList rewrite local: the flow becomes the list, each op becomes its list twin. No
TensorFlow here: inspect uses it to say whether a loop can be repaired.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.types import NodeProto

# Position of the flow input of each op that reads a handle.
FLOW_INPUT = {"TensorArrayWriteV3": 3, "TensorArrayReadV3": 2, "TensorArrayScatterV3": 3,
              "TensorArrayGatherV3": 2, "TensorArraySizeV3": 1, "TensorArrayConcatV3": 1,
              "TensorArraySplitV3": 3}
CLOSE = "TensorArrayCloseV3"
HANDLE_CARRIERS = ("Enter", "RefEnter", "Identity")
OPS = frozenset({"TensorArrayV3", CLOSE, *FLOW_INPUT})


@dataclass
class TensorArray:
    """One ``TensorArrayV3`` and what uses it. ``others`` are readers of the handle that are no
    TensorArray op (a handle returned, fed to a function): such an array cannot be rewritten."""

    array: NodeProto
    ops: list[NodeProto] = field(default_factory=list)
    others: list[NodeProto] = field(default_factory=list)

    def of_type(self, *types: str) -> list[NodeProto]:
        return [op for op in self.ops if op.op in types]


def tensor_arrays(index: NodeIndex) -> list[TensorArray]:
    """Every TensorArrayV3 with the ops reading its handle, in graph order."""
    found = []
    for node in index.graph.node:
        if node.op != "TensorArrayV3":
            continue
        array = TensorArray(node)
        frontier, seen = [(node.name, 0)], set()
        while frontier:
            name, output = frontier.pop()
            if name in seen:
                continue
            seen.add(name)
            for reader in index.readers(name):
                if reader.output != output:
                    continue
                user = reader.node
                if user.op in HANDLE_CARRIERS and reader.position == 0:
                    frontier.append((user.name, 0))
                elif user.op in OPS and reader.position == 0:
                    array.ops.append(user)
                else:
                    array.others.append(user)
        found.append(array)
    return found


def flow_input(op: NodeProto) -> str:
    """The flow tensor an op on a TensorArray reads."""
    return op.input[FLOW_INPUT[op.op]]


def flow_producer(op: NodeProto) -> str:
    return parse_input(flow_input(op))[0]
