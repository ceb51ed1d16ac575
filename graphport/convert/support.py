"""`inspect --check-tflite`: run the real TFLite converter and say, per TF op type, whether it
converts to builtin ops, needs TF Select (Flex) ops, or blocks conversion, first for the graph as
it is, then (frozen graphs) after graphport's default repairs.

Uses the same source preparation and converter call as `graphport tflite` (default signature);
converting runs no graph ops, but a graph with unsafe ops is still not handed to TensorFlow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphport.convert.converter import convert
from graphport.convert.source import source_model
from graphport.errors import ConversionError, GraphportError
from graphport.graph.tflite_model import parse_tflite
from graphport.passes.pipeline import repairing_pass
from graphport.spec.options import GraphSpec

BUILTIN = "builtin"
SELECT = "needs TF Select"
FAILED = "fails"


def _select_ops(source: Any, path: Path) -> tuple[bool, str | None, set[str] | None]:
    """(builtin only?, converter message, Flex op types or None when even Select fails)."""
    try:
        convert(source, "float32")
        return True, None, set()
    except ConversionError as error:
        message = error.message
    try:
        model = parse_tflite(convert(source, "float32", select_ops=True), path)
    except ConversionError as error:
        return False, error.message, None
    return False, message, {op.op.removeprefix("Flex") for op in model.operators
                            if op.kind == "flex"}


def check_tflite_support(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Per op type of the graph: BUILTIN, SELECT or FAILED, the pass that repairs each Select
    op, and whether the default repairs make the whole graph builtin-only."""

    tf_ops = sorted(set(data["ops"]) | set(data.get("function_ops", {})))
    path = Path(path)
    try:
        with source_model(path, GraphSpec(passes=[])) as source:
            builtin_only, message, flex = _select_ops(source, path)
        if flex is None:
            failed = set(re.findall(r"\b([A-Z]\w+)\b", message or "")) & set(tf_ops)
            ops = {op: FAILED if op in failed else "unknown" for op in tf_ops}
        else:
            ops = {op: SELECT if op in flex else BUILTIN for op in tf_ops}
        report: dict[str, Any] = {"builtin_only": builtin_only, "error": message, "ops": ops,
                  "repairs": {op: repairing_pass(op) for op, s in ops.items() if s != BUILTIN}}
        if not builtin_only and data["format"] != "saved_model":
            with source_model(path, GraphSpec()) as repaired:
                after, after_message, after_flex = _select_ops(repaired, path)
            report["after_repairs"] = {
                "builtin_only": after, "error": after_message,
                "select_ops": sorted(after_flex) if after_flex is not None else None,
                "passes": [{"name": r.name, "changed": r.changed} for r in repaired.rewrites]}
        return report
    except GraphportError as error:
        return {"builtin_only": False, "error": f"not checked: {error.message}", "ops": {}}
