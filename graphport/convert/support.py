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
from graphport.passes.pipeline import repairing_passes
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


def _family(op: str) -> str:
    """``NonMaxSuppressionV4`` -> ``NonMaxSuppression``: the converter may name an op of the
    graph in a version it lowered it to."""
    return re.sub(r"V\d+$", "", op)


def _graph_ops(converter_ops: set[str], tf_ops: list[str]) -> dict[str, list[str]]:
    """Each op the converter named -> the graph's op types it stands for (itself, or the
    same op in another version)."""
    return {op: [op] if op in tf_ops else [t for t in tf_ops if _family(t) == _family(op)]
            for op in converter_ops}


def _statuses(tf_ops: list[str], flex: set[str] | None, message: str | None
              ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Per graph op: builtin, needs Select, fails or unknown; and the converter's op names
    that stand for graph ops of another name."""
    if flex is None:
        named = set(re.findall(r"\b([A-Z]\w+)\b", message or ""))
        failed = {g for ops in _graph_ops(named, tf_ops).values() for g in ops}
        return {op: FAILED if op in failed else "unknown" for op in tf_ops}, {}
    mapping = _graph_ops(flex, tf_ops)
    select = {g for ops in mapping.values() for g in ops}
    renamed = {op: ops for op, ops in mapping.items() if ops and op not in tf_ops}
    return {op: SELECT if op in select else BUILTIN for op in tf_ops}, renamed


def check_tflite_support(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Per op type of the graph: BUILTIN, SELECT or FAILED as it is, and (frozen graphs) the
    same measurement after the default repairs, so the table, the pass that handles each op and
    the verdict after repairs all come from the two converter runs and agree."""
    tf_ops = sorted(set(data["ops"]) | set(data.get("function_ops", {})))
    path = Path(path)
    try:
        with source_model(path, GraphSpec(passes=[])) as source:
            builtin_only, message, flex = _select_ops(source, path)
        ops, renamed = _statuses(tf_ops, flex, message)
        report: dict[str, Any] = {"builtin_only": builtin_only, "error": message, "ops": ops,
                                  "converter_names": renamed, "repairs": {}}
        if builtin_only or data["format"] == "saved_model":
            return report
        with source_model(path, GraphSpec()) as repaired:
            after, after_message, after_flex = _select_ops(repaired, path)
            passes = repaired.rewrites
        after_ops, _ = _statuses(tf_ops, after_flex, after_message)
        changed = list(dict.fromkeys(r.name for r in passes if r.changed and not r.error))
        for op, status in ops.items():
            if status == BUILTIN:
                continue
            declared = [name for name in repairing_passes(op) if name in changed]
            if after_ops[op] == BUILTIN:  # gone or converting now: the passes that did it
                report["repairs"][op] = declared[0] if declared else ", ".join(changed) or None
            else:
                report["repairs"][op] = None
        report["after_repairs"] = {
            "builtin_only": after, "error": after_message,
            "ops": {op: after_ops[op] for op, status in ops.items() if status != BUILTIN},
            "select_ops": sorted(after_flex) if after_flex is not None else None,
            "passes": [{"name": r.name, "changed": r.changed, "error": r.error}
                       for r in passes]}
        return report
    except GraphportError as error:
        return {"builtin_only": False, "error": f"not checked: {error.message}", "ops": {}}
