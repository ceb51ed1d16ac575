"""Every private TensorFlow / LiteRT API graphport uses (graphport/backend/compat.py), called
for real on a tiny model, so an upgrade that removes or changes one fails here, by name."""

from __future__ import annotations

import numpy as np
import pytest

from graphport.backend import compat
from graphport.backend.runtime import tensorflow
from graphport.convert.signature import add_signature
from graphport.graph.tflite_model import parse_tflite
from graphport.spec.signature import SignatureTensor

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def calibrated() -> bytes:
    """A two-layer float model carrying calibration statistics, not yet quantized."""
    tf = tensorflow()
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(size=(8, 16)).astype(np.float32))
    w2 = tf.constant(rng.normal(size=(16, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32, name="x")])
    def model(x: object) -> dict[str, object]:
        return {"y": tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.normal(size=(1, 8)).astype(np.float32)] for _ in range(8))
    return bytes(compat.calibrate_only(converter).convert())


def test_quantize_and_deduplicate(calibrated: bytes) -> None:
    tf = tensorflow()
    plain = compat.mlir_quantize(calibrated, tf.float32, tf.float32, False, None, None)
    debug = compat.mlir_quantize(calibrated, tf.float32, tf.float32, True, None, None)
    kept = compat.mlir_quantize(calibrated, tf.float32, tf.float32, False, ["FULLY_CONNECTED"],
                                None)
    assert b"NumericVerify" in debug and b"NumericVerify" not in plain

    def weights(model: bytes) -> list[str]:
        return [o.inputs[1].dtype for o in parse_tflite(model, "m").operators
                if o.op == "FULLY_CONNECTED"]

    assert weights(calibrated) == weights(kept) == ["float32", "float32"]  # denylisted
    assert weights(plain) == ["int8", "int8"]
    deduplicated = compat.deduplicate_buffers(plain)
    assert weights(deduplicated) == ["int8", "int8"]


def test_interpreter_internals(calibrated: bytes) -> None:
    from ai_edge_litert.interpreter import Interpreter

    tf = tensorflow()
    quantized = compat.mlir_quantize(calibrated, tf.float32, tf.float32, False, None, None)
    interpreter = Interpreter(model_content=add_signature(
        quantized, [SignatureTensor("x", "x", "x", "float", [1, 8])],
        [SignatureTensor("y", "y", "y", "float", [1, 4])]))
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner()
    assert compat.runner_subgraph(runner) == 0
    int8 = next(t for t in interpreter.get_tensor_details()
                if t["dtype"] == np.int8 and t["quantization"][0] > 0)
    scale, zero_point = compat.tensor_quantization(interpreter, int8["index"], 0)
    assert (scale, zero_point) == tuple(int8["quantization"])
    index = interpreter.get_input_details()[0]["index"]
    compat.set_tensor(interpreter, index, np.full((1, 8), 0.5, np.float32), 0)
    np.testing.assert_array_equal(interpreter.get_tensor(index), np.full((1, 8), 0.5))


def test_calibrator_input_and_tflite_objects(calibrated: bytes) -> None:
    """The hook sees the float model the converter calibrates; the object API round-trips."""
    tf = tensorflow()
    seen: list[bytes] = []

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def model(x: object) -> object:
        return tf.nn.relu(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [np.ones((1, 4), np.float32)] for _ in range(2))

    def record(data: bytes) -> bytes:
        seen.append(data)
        return data

    with compat.calibrator_input(record):
        converter.convert()
    assert len(seen) == 1 and parse_tflite(seen[0], "m").operators
    schema = compat.tflite_schema()
    assert schema.BuiltinOperator.WHILE > 0
    assert compat.tflite_bytes(compat.tflite_object(calibrated))[4:8] == b"TFL3"
