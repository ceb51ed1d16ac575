"""TF2 TensorLists as data flow: each list a Reserve/EmptyTensorList/FromTensor creates, and the
list ops its handle reaches through the loop chain (Enter/Merge/Switch/Identity/NextIteration/
Exit) and through the ops that return an updated list (SetItem, PushBack). What TF2 control flow
lowered to a v1 loop (convert_variables_to_constants_v2) holds. No TensorFlow here."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphport.graph.index import NodeIndex
from graphport.graph.types import NodeProto

CREATE = frozenset({"TensorListReserve", "EmptyTensorList", "TensorListFromTensor"})
UPDATE = frozenset({"TensorListSetItem", "TensorListPushBack",
                    "TensorListScatterIntoExistingList"})
# Ops taking an element_shape input, and its position.
SHAPE_INPUT = {"TensorListReserve": 0, "EmptyTensorList": 0, "TensorListFromTensor": 1,
               "TensorListGetItem": 2, "TensorListStack": 1, "TensorListGather": 2}
LOOP_CHAIN = frozenset({"Enter", "RefEnter", "Merge", "Switch", "Identity", "NextIteration",
                        "Exit"})


@dataclass
class TensorList:
    """A list's creating node and every list op its handle reaches."""

    create: NodeProto
    ops: list[NodeProto] = field(default_factory=list)

    def of_type(self, *types: str) -> list[NodeProto]:
        return [op for op in self.ops if op.op in types]


def tensor_lists(index: NodeIndex) -> list[TensorList]:
    """Every list created in the graph, in graph order."""
    found = []
    for node in index.graph.node:
        if node.op not in CREATE:
            continue
        tensor_list = TensorList(node)
        frontier, seen = [node.name], {node.name}
        while frontier:
            for reader in index.readers(frontier.pop()):
                user = reader.node
                if user.name in seen:
                    continue
                if user.op in LOOP_CHAIN or (user.op in UPDATE and reader.position == 0):
                    seen.add(user.name)
                    frontier.append(user.name)
                    if user.op in UPDATE:
                        tensor_list.ops.append(user)
                elif user.op.startswith("TensorList") and reader.position == 0:
                    seen.add(user.name)
                    tensor_list.ops.append(user)
        found.append(tensor_list)
    return found
