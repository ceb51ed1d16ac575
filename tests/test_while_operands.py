"""while_operands: an int8 loop body that quantizes a read-only float operand (a whole input
sequence) in every iteration gets it int8 before the loop; the outputs stay bit for bit. The
model is converted here by TensorFlow's own converter from a tf.while_loop over a sequence,
as re-rolled RNNs and TF1 loops become."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from graphport.backend import compat
from graphport.convert.while_calibration import unalias_while_bodies
from graphport.convert.while_operands import quantize_loop_operands
from graphport.graph.tflite_model import builtin_code

pytestmark = pytest.mark.tf

STEPS, WIDTH = 40, 16


def _int8_loop_model() -> bytes:
    """h_t = tanh(x_t W + h_{t-1} U) over a [STEPS, 1, WIDTH] sequence, full int8."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w = tf.constant(rng.normal(size=(WIDTH, WIDTH)) / 4, tf.float32)
    u = tf.constant(rng.normal(size=(WIDTH, WIDTH)) / 4, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([STEPS, 1, WIDTH], tf.float32)])
    def rnn(sequence: Any) -> Any:
        def step(t: Any, h: Any, xs: Any) -> tuple[Any, ...]:
            return t + 1, tf.tanh(tf.matmul(xs[t], w) + tf.matmul(h, u)), xs

        _, h, _ = tf.while_loop(lambda t, *_: t < STEPS, step,
                                (tf.constant(0), tf.zeros([1, WIDTH]), sequence))
        return h

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [rnn.get_concrete_function()], rnn)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.normal(size=(STEPS, 1, WIDTH)).astype(np.float32)] for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # the calibrator crashes on a loop body it shares between two WHILEs: as graphport runs it
    with compat.calibrator_input(lambda m: unalias_while_bodies(m)[0]):
        return bytes(converter.convert())


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _while_operands(model: bytes) -> tuple[list[int], int]:
    """The WHILE's operand types, and the QUANTIZE ops in its body."""
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    codes = [builtin_code(c) for c in tree.operatorCodes]
    graph = tree.subgraphs[0]
    loop = next(op for op in graph.operators
                if codes[op.opcodeIndex] == schema.BuiltinOperator.WHILE)
    body = tree.subgraphs[loop.builtinOptions.bodySubgraphIndex]
    quantizes = sum(codes[op.opcodeIndex] == schema.BuiltinOperator.QUANTIZE
                    for op in body.operators)
    return [graph.tensors[i].type for i in loop.inputs], quantizes


def test_a_read_only_sequence_is_quantized_once_before_the_loop() -> None:
    model = _int8_loop_model()
    types, quantizes = _while_operands(model)
    assert schema.TensorType.INT8 not in types and quantizes >= 2  # the sequence and h
    mended = quantize_loop_operands(model)
    new_types, new_quantizes = _while_operands(mended)
    assert new_types.count(schema.TensorType.INT8) == 1 and new_quantizes == quantizes - 1
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=(STEPS, 1, WIDTH)).astype(np.float32)
        np.testing.assert_array_equal(_run(mended, x), _run(model, x))


def test_a_model_without_a_loop_is_returned_as_it_is() -> None:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def double(x: Any) -> Any:
        return x * 2.0

    model = bytes(tf.lite.TFLiteConverter.from_concrete_functions(
        [double.get_concrete_function()], double).convert())
    assert quantize_loop_operands(model) is model
