"""The per-operator report of a converted model: what runs quantized, what stayed in float, what
needs Flex, and where the quantize/dequantize boundaries are. Built from the flatbuffer itself."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from graphport.graph.tflite_model import OperatorInfo, TFLiteModel

QUANTIZED_TYPES = frozenset({"int8", "uint8", "int16", "int4"})
BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


@dataclass
class OpRow:
    subgraph: int
    index: int
    op: str
    kind: str  # builtin | flex | custom
    compute: str  # int8 | float | hybrid | boundary | flex | custom | other
    inputs: list[str]
    outputs: list[str]
    tf_nodes: list[str]
    output_name: str = ""  # the first output tensor's name (';' joins the fused TF nodes)
    chosen: bool = False  # in float because the user or auto-tuning kept it there


def _compute(op: OperatorInfo) -> str:
    if op.kind != "builtin":
        return op.kind
    if op.op in BOUNDARY_OPS:
        return "boundary"
    activations = [t for t in op.inputs if not t.constant] + op.outputs
    if any(t.dtype in QUANTIZED_TYPES and t.quantized for t in activations):
        return "int8"
    if any(t.dtype in ("float32", "float16") for t in activations):
        weights = [t for t in op.inputs if t.constant]
        return "hybrid" if any(t.dtype in QUANTIZED_TYPES for t in weights) else "float"
    return "other"  # shapes, indices and booleans only


def _tf_nodes(op: OperatorInfo) -> list[str]:
    names: list[str] = []
    for tensor in op.outputs:
        for part in tensor.name.split(";"):
            if part and part not in names:
                names.append(part)
    return names


EXACT_ZIP_LIMIT = 16 << 20  # models up to this size are zipped whole
ZIP_SAMPLES, ZIP_SAMPLE_BYTES = 32, 256 << 10


def zipped_size(data: bytes) -> tuple[int, bool]:
    """Size of the model inside a deflated .zip, as shipped in an app bundle, and whether it
    is an estimate. Zipping 178 MB whole took 6.8 s; above 16 MB, 32 slices of 256 KB spread
    evenly over the file are deflated at zip's level and their ratio scales the whole
    (8 MB deflated, well under a second)."""
    if len(data) <= EXACT_ZIP_LIMIT:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:  # zip's level
            archive.writestr("model.tflite", data)
        return len(buffer.getvalue()), False
    step = (len(data) - ZIP_SAMPLE_BYTES) // (ZIP_SAMPLES - 1)
    view = memoryview(data)
    raw = packed = 0
    for k in range(ZIP_SAMPLES):
        piece = view[k * step:k * step + ZIP_SAMPLE_BYTES]
        raw += len(piece)
        packed += len(zlib.compress(piece, 6))
    return int(len(data) * packed / raw) + 150, True  # + the zip's headers


def op_rows(model: TFLiteModel) -> list[OpRow]:
    """Every operator across all subgraphs, in model order."""
    return [OpRow(op.subgraph, op.index, op.op, op.kind, _compute(op),
                  [t.dtype for t in op.inputs], [t.dtype for t in op.outputs], _tf_nodes(op),
                  op.outputs[0].name if op.outputs else "")
            for op in model.operators]


def mark_chosen(rows: list[OpRow], chosen: Callable[[str, str], bool]) -> None:
    """Flag float ops that ``chosen(op type, output name)`` says were kept in float on purpose,
    so the report tells them from ops the converter could not quantize."""
    for row in rows:
        row.chosen = row.compute in ("float", "hybrid") and chosen(row.op, row.output_name)


def summarize(rows: list[OpRow], int8_mode: bool) -> dict[str, Any]:
    """Counts by compute type, the float fallback list (int8 modes: chosen ones flagged) and
    the boundaries."""
    counts = Counter(row.compute for row in rows)
    fallback = [{"index": r.index, "subgraph": r.subgraph, "op": r.op, "tf_nodes": r.tf_nodes,
                 "chosen": r.chosen}
                for r in rows if int8_mode and r.compute in ("float", "hybrid")]
    return {
        "operators": len(rows),
        "int8": counts["int8"],
        "float": counts["float"] + counts["hybrid"],
        "hybrid": counts["hybrid"],
        "flex": counts["flex"],
        "custom": counts["custom"],
        "other": counts["other"],
        "quantize": sum(r.op == "QUANTIZE" for r in rows),
        "dequantize": sum(r.op == "DEQUANTIZE" for r in rows),
        "float_fallback": fallback,
        "float_chosen": sum(f["chosen"] for f in fallback),
        "flex_ops": sorted({r.op for r in rows if r.compute == "flex"}),
        "custom_ops": sorted({r.op for r in rows if r.compute == "custom"}),
    }


def rows_json(rows: list[OpRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]
