"""`graphport freeze`: a TF1 checkpoint (meta graph, or a graph file given beside it) to a
frozen GraphDef, verified against the checkpoint restored in a session."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graphport.checkpoint.freeze import freeze_checkpoint
from graphport.errors import api_errors
from graphport.graph.checkpoint_files import find_checkpoint
from graphport.outputs import FILE, atomic_path, check_target, output_path
from graphport.progress import Progress, or_silent
from graphport.verify.parity import OutputParity


@dataclass
class FreezeResult:
    path: str
    checkpoint: str
    graph: str
    outputs: list[str]
    variables: int
    parameters: int
    nodes: int
    dropped_nodes: int
    verdict: str
    parity: list[OutputParity] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@api_errors
def freeze(checkpoint: str | os.PathLike[str], output: str | os.PathLike[str] | None = None,
           graph: str | os.PathLike[str] | None = None, outputs: list[str] | None = None,
           verify: bool = True, allow_unsafe_ops: bool = False, overwrite: bool = False,
           progress: Progress | None = None) -> FreezeResult:
    """Write the frozen graph (binary, or text when ``output`` ends in .pbtxt); nothing is
    written unless freezing and its check succeeded."""
    step = or_silent(progress)
    files = find_checkpoint(Path(checkpoint))
    name = f"{files.prefix.name if files else Path(checkpoint).name}.frozen.pb"
    target = check_target(output_path(output, name, FILE), overwrite)
    step("freezing and checking against the restored checkpoint")
    frozen = freeze_checkpoint(checkpoint, graph, outputs, verify, allow_unsafe_ops)
    with atomic_path(target, overwrite, directory=False) as temp:
        if target.suffix == ".pbtxt":
            from google.protobuf import text_format

            temp.write_text(text_format.MessageToString(frozen.graph))
        else:
            temp.write_bytes(frozen.graph.SerializeToString(deterministic=True))
    return FreezeResult(str(target), frozen.checkpoint, frozen.graph_source, frozen.outputs,
                        frozen.variables, frozen.parameters, len(frozen.graph.node),
                        frozen.dropped_nodes, frozen.verdict, frozen.parity, frozen.notes)
