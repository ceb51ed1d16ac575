"""The graph behind any model path a graph command takes: a frozen GraphDef as it is, or a
checkpoint frozen on the fly (verified against the restored checkpoint), said in a note."""

from __future__ import annotations

from pathlib import Path

from graphport.checkpoint.freeze import describe, freeze_checkpoint
from graphport.graph import load
from graphport.graph.types import GraphProto
from graphport.graph.vendor_ops import translate_vendor_ops


def read_graph(path: Path, outputs: list[str] | None = None, allow_unsafe_ops: bool = False,
               notes: list[str] | None = None) -> GraphProto:
    """``path``'s GraphDef; a checkpoint is frozen keeping what ``outputs`` need."""
    if load.detect_format(path) != load.CHECKPOINT:
        graph = load.read_graph_def(path)
        translated = translate_vendor_ops(graph)
        if notes is not None:
            notes.extend(translated)
        return graph
    frozen = freeze_checkpoint(path, outputs=outputs, allow_unsafe_ops=allow_unsafe_ops)
    if notes is not None:
        notes.append(describe(frozen))
        notes.extend(frozen.notes)
    return frozen.graph
