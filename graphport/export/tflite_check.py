"""`inspect --check-tflite`: run the real TFLite converter once and say, per TF op type, whether it
converts to builtin ops, needs TF Select (Flex) ops, or blocks conversion."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphport.errors import GraphportError
from graphport.graph import load
from graphport.graph.tflite_model import parse_tflite
from graphport.tf_runtime import tensorflow

BUILTIN = "builtin"
SELECT = "needs TF Select"
FAILED = "fails"


def _converter(path: Path, data: dict[str, Any]) -> Any:
    tf = tensorflow()
    if data["format"] == load.SAVED_MODEL:
        return tf.lite.TFLiteConverter.from_saved_model(str(path))
    from graphport.export.savedmodel import prepare_for_export
    from graphport.export.tf_graph import concrete_function

    prepared = prepare_for_export(load.read_graph_def(path), None, None, None, None)
    function = concrete_function(prepared).get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([function])


def _convert(path: Path, data: dict[str, Any], select: bool) -> bytes:
    tf = tensorflow()
    converter = _converter(path, data)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if select else [])
    return converter.convert()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    select = re.search(r"TF Select ops: ([^\n]+)", text)
    if select:
        return f"needs TF Select ops: {select.group(1)}"
    return text.splitlines()[0][:300] if text else type(error).__name__


def check_tflite_support(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Per op type of the graph: BUILTIN, SELECT or FAILED, with the converter's own message."""
    tf_ops = sorted(set(data["ops"]) | set(data.get("function_ops", {})))
    try:
        _convert(path, data, select=False)
        return {"builtin_only": True, "error": None, "ops": dict.fromkeys(tf_ops, BUILTIN)}
    except GraphportError as error:
        return {"builtin_only": False, "error": f"not checked: {error.message}", "ops": {}}
    except Exception as error:  # the converter raises ConverterError and friends
        builtin_error = _first_line(error)
    try:
        model_bytes = _convert(path, data, select=True)
    except Exception as error:
        failed = set(re.findall(r"'tf\.(\w+)'", str(error))) | set(
            re.findall(r"\btf\.(\w+)\(", str(error)))
        return {"builtin_only": False, "error": _first_line(error),
                "ops": {op: FAILED if op in failed else "unknown" for op in tf_ops}}
    model = parse_tflite(model_bytes, Path(path))
    flex = {op.op.removeprefix("Flex") for op in model.operators if op.kind == "flex"}
    return {"builtin_only": False, "error": builtin_error,
            "ops": {op: SELECT if op in flex else BUILTIN for op in tf_ops}}
