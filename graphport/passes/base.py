"""The interface every graph repair implements, and the registry that names them.

Modelled on TensorFlow's graph_transforms (named transforms run in order) and tf2onnx's
rewriters (one module per rewrite). A pass finds its matches, rewrites each one, and says how
many it matched and changed; the pipeline prunes dead nodes after every pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class PassResult:
    """What one pass did to one graph."""

    name: str
    matched: int = 0
    changed: int = 0
    notes: list[str] = field(default_factory=list)


class GraphPass(ABC):
    """A rewrite of graphport's GraphDef that keeps the numbers the graph computes."""

    name: ClassVar[str]
    summary: ClassVar[str]
    # TF op types this pass removes when it fully applies: the converter's "needs Select ops"
    # error names them, so graphport can say which pass would have been needed.
    repairs: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def matches(self, graph: Any) -> list[Any]:
        """The places in ``graph`` this pass applies to (nodes or patterns)."""

    @abstractmethod
    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        """Rewrite one match in place; False when it turned out not to apply."""

    def run(self, graph: Any, context: PassContext) -> PassResult:
        result = PassResult(self.name)
        for match in self.matches(graph):
            result.matched += 1
            if self.rewrite(graph, match, context):
                result.changed += 1
        return result


@dataclass
class PassContext:
    """What passes may need beyond the graph: the fetch nodes, and a place for notes."""

    fetches: list[str]
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def take_notes(self) -> list[str]:
        taken, self.notes = self.notes, []
        return taken


REGISTRY: dict[str, type[GraphPass]] = {}


def register(cls: type[GraphPass]) -> type[GraphPass]:
    """Class decorator: make a pass available by its name."""
    if cls.name in REGISTRY:
        raise ValueError(f"two passes named {cls.name}")
    REGISTRY[cls.name] = cls
    return cls
