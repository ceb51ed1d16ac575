"""`inspect --check-tflite`: run the real TFLite converter once and say, per TF op type, whether it
converts to builtin ops, needs TF Select (Flex) ops, or blocks conversion.

Uses the same source preparation and converter call as `graphport tflite` (default signature);
converting runs no graph ops, but a graph with unsafe ops is still not handed to TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphport.errors import ConversionError, GraphportError

BUILTIN = "builtin"
SELECT = "needs TF Select"
FAILED = "fails"


def check_tflite_support(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Per op type of the graph: BUILTIN, SELECT or FAILED, with the converter's own message."""
    from graphport.convert.source import source_model
    from graphport.convert.tflite import convert
    from graphport.graph.tflite_model import parse_tflite

    tf_ops = sorted(set(data["ops"]) | set(data.get("function_ops", {})))
    try:
        with source_model(Path(path), {}, allow_unsafe_ops=False) as source:
            try:
                convert(source, "float32")
                return {"builtin_only": True, "error": None,
                        "ops": dict.fromkeys(tf_ops, BUILTIN)}
            except ConversionError as error:
                builtin_error = error.message
            try:
                model = parse_tflite(convert(source, "float32", select_ops=True), Path(path))
            except ConversionError as error:
                failed = {op for op in tf_ops if op in error.message}
                return {"builtin_only": False, "error": error.message,
                        "ops": {op: FAILED if op in failed else "unknown" for op in tf_ops}}
    except GraphportError as error:
        return {"builtin_only": False, "error": f"not checked: {error.message}", "ops": {}}
    flex = {op.op.removeprefix("Flex") for op in model.operators if op.kind == "flex"}
    return {"builtin_only": False, "error": builtin_error,
            "ops": {op: SELECT if op in flex else BUILTIN for op in tf_ops}}
