"""One index over a GraphDef's nodes and edges, shared by the analyses and the passes, so no
module keeps its own name map or consumer table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from graphport.graph.nodes import parse_input
from graphport.graph.types import GraphProto, NodeProto


class Reader(NamedTuple):  # a tuple: an index of a 300k-node graph makes one per edge
    """One data input of ``node``: position ``position`` reads output ``output`` of a node."""

    node: NodeProto
    position: int
    output: int


@dataclass
class NodeIndex:
    """Nodes by name and who reads each node, built in one sweep. An index describes the graph
    as it was when built: a pass that edits the graph builds a new one (``NodeIndex.of``)."""

    graph: GraphProto
    nodes: dict[str, NodeProto] = field(default_factory=dict)
    _readers: dict[str, list[Reader]] = field(default_factory=dict)
    _control_readers: dict[str, list[NodeProto]] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: GraphProto) -> NodeIndex:
        index = cls(graph)
        for node in graph.node:
            index.nodes[node.name] = node
        for node in graph.node:
            for position, item in enumerate(node.input):
                name, output, control = parse_input(item)
                if control:
                    index._control_readers.setdefault(name, []).append(node)
                else:
                    index._readers.setdefault(name, []).append(Reader(node, position, output))
        return index

    def readers(self, name: str) -> list[Reader]:
        """Data inputs reading any output of node ``name``."""
        return self._readers.get(name, [])

    def control_readers(self, name: str) -> list[NodeProto]:
        """Nodes with a ``^name`` control input."""
        return self._control_readers.get(name, [])

    def is_read(self, name: str) -> bool:
        """Whether any node reads node ``name`` (data or control)."""
        return name in self._readers or name in self._control_readers

    def missing(self) -> set[str]:
        """Names that inputs refer to but no node has."""
        return (self._readers.keys() | self._control_readers.keys()) - self.nodes.keys()
