"""The interface every graph rewrite implements.

Modelled on TensorFlow's graph_transforms (named transforms with parameters, run in order) and
tf2onnx's rewriters (one module per rewrite). A pass lives in its own module under
``passes/rewrites/`` and is named after it; ``matches`` finds where it applies without
TensorFlow, ``rewrite`` changes one match in place. The pipeline checks the graph after every
pass and rolls a pass back when it broke the graph.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from graphport.graph.index import NodeIndex
from graphport.graph.types import GraphProto

SAVEDMODEL = "savedmodel"
TFLITE = "tflite"
TARGETS = (SAVEDMODEL, TFLITE)


@dataclass
class PassResult:
    """What one pass did to one graph; ``error`` is set when its result was rolled back."""

    name: str
    matched: int = 0
    changed: int = 0
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    dropped_outputs: list[str] = field(default_factory=list)  # graph outputs it removed


@dataclass
class PassContext:
    """What a pass may use beyond the graph: its parameters, the graph's output nodes, and a
    place for notes."""

    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dropped_outputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def drop_output(self, node: str) -> None:
        """The pass removed graph output ``node`` (the export cannot compute it; say why in a
        note): it leaves the signature."""
        self.dropped_outputs.append(node)


class GraphPass(ABC):
    """A rewrite of graphport's GraphDef that keeps the numbers the graph computes.

    Class attributes: ``summary`` (one line for ``rewrite --list``); ``repairs``, the TF op
    types it removes when it fully applies (the converter's "needs Select ops" error names
    them); ``targets``, the exports it serves; ``params``, its parameters with defaults (set
    with ``--passes name(key=value)``)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    # True for a pass that changes what the graph computes by design (an eightbit graph's
    # float twin, fake-quant removed): results are judged as quantized ones are.
    changes_numbers: ClassVar[bool] = False
    repairs: ClassVar[frozenset[str]] = frozenset()
    targets: ClassVar[frozenset[str]] = frozenset(TARGETS)
    params: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__module__.rsplit(".", 1)[-1]

    @abstractmethod
    def matches(self, index: NodeIndex) -> list[Any]:
        """The places this pass may apply to (nodes or patterns). Must not import TensorFlow:
        the pipeline calls it to decide whether a graph needs copying at all."""

    @abstractmethod
    def rewrite(self, graph: GraphProto, match: Any, context: PassContext) -> bool:
        """Rewrite one match in place; False when it turned out not to apply."""

    def run(self, graph: GraphProto, matches: list[Any], context: PassContext) -> PassResult:
        """Rewrite each match (found on the graph as it was before this pass)."""
        result = PassResult(self.name)
        for match in matches:
            result.matched += 1
            if self.rewrite(graph, match, context):
                result.changed += 1
        return result
