"""Every private TensorFlow and LiteRT API graphport relies on, in one place.

Each is used because no public API does the job (named below); tests/test_compat.py calls each
one, so an upgrade that removes or renames it fails loudly there instead of deep in a command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def mlir_quantize(model: bytes, input_type: Any, output_type: Any, debug: bool,
                  denylisted_ops: list[str] | None, denylisted_nodes: list[str] | None) -> bytes:
    """Quantize a calibrated model (TF's quantizer entry point; the public converter only runs
    it inside ``convert()``, once, with no denylists by node)."""
    from tensorflow.lite.python import convert as tf_convert

    return bytes(tf_convert.mlir_quantize(
        model, input_data_type=input_type, output_data_type=output_type,
        enable_numeric_verify=debug, denylisted_ops=denylisted_ops,
        denylisted_nodes=denylisted_nodes))


def deduplicate_buffers(model: bytes) -> bytes:
    """Store identical constant buffers once, as ``convert()`` does after quantizing."""
    from tensorflow.lite.python.lite import _deduplicate_readonly_buffers

    return bytes(_deduplicate_readonly_buffers(model))


def calibrate_only(converter: Any) -> Any:
    """Make ``converter.convert()`` stop after calibration (the switch TF's
    QuantizationDebugger uses), so the quantizer can run many times on one calibration."""
    if not hasattr(converter, "_experimental_calibrate_only"):
        raise AttributeError("TFLiteConverter has no _experimental_calibrate_only")
    converter._experimental_calibrate_only = True
    return converter


def set_tensor(interpreter: Any, index: int, value: np.ndarray, subgraph: int) -> None:
    """Set a tensor of any subgraph (the public ``set_tensor`` reaches subgraph 0 only)."""
    interpreter._interpreter.SetTensor(index, value, subgraph)


def tensor_quantization(interpreter: Any, index: int, subgraph: int) -> tuple[float, int]:
    """(scale, zero point) of a tensor of any subgraph (the public details cover subgraph 0)."""
    scale, zero_point = interpreter._get_tensor_details(index, subgraph)["quantization"]
    return float(scale), int(zero_point)


def runner_subgraph(runner: Any) -> int:
    """The subgraph a signature runner calls (not exposed publicly)."""
    return int(runner._subgraph_index)


def frozen_function_graph(function: Any) -> tuple[Any, Any]:
    """(frozen concrete function, its GraphDef) of a SavedModel signature, variables folded
    into constants: how the TFLite converter itself sees a SavedModel, as a graph graphport's
    repairs can work on (no public API freezes a TF2 function)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )

    return convert_variables_to_constants_v2_as_graph(function, aggressive_inlining=True)


@contextmanager
def calibrator_input(patch: Callable[[bytes], bytes]) -> Iterator[None]:
    """Let ``patch`` rewrite the float model TensorFlow's converter hands its int8 calibrator
    (``convert()`` offers no hook between converting and calibrating)."""
    from tensorflow.lite.python.optimize import calibrator

    original = calibrator.Calibrator.__init__

    def patched(self: Any, model_content: bytes, *args: Any, **kwargs: Any) -> None:
        original(self, patch(bytes(model_content)), *args, **kwargs)

    calibrator.Calibrator.__init__ = patched
    try:
        yield
    finally:
        calibrator.Calibrator.__init__ = original


def tflite_object(data: bytes) -> Any:
    """A .tflite flatbuffer as TensorFlow's mutable object API (ModelT)."""
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(data))


def tflite_bytes(model: Any) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def tflite_schema() -> Any:
    """TensorFlow's generated .tflite schema module (op codes, option classes)."""
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated
