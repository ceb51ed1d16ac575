"""The serving signature graphport adds to a converted frozen graph: a new root table in
front of the converter's bytes, which stay as they were."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from graphport.backend.runtime import tensorflow
from graphport.convert.signature import add_signature
from graphport.graph.tflite_model import pack_model
from graphport.spec.signature import SignatureTensor

pytestmark = pytest.mark.tf

IN = [SignatureTensor("pixels", "x", "x", "float", [1, 8])]
OUT = [SignatureTensor("logits", "y", "y", "float", [1, 4])]
X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(1, 8)


@pytest.fixture(scope="module")
def converted() -> bytes:
    """A small model from TensorFlow's converter."""
    tf = tensorflow()
    weights = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    function = tf.function(lambda x: {"y": tf.nn.relu(tf.matmul(x, weights))}
                           ).get_concrete_function(tf.TensorSpec([1, 8], tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([function], None).convert()


def _run(model: bytes, **feeds: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=model).get_signature_runner()(**feeds)


def _invoke(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_signature_is_prefixed_and_replaces_one_there_was(converted: bytes) -> None:
    theirs = _invoke(converted, X)
    tree = schema.ModelT.InitFromPackedBuf(converted, 0)
    tree.signatureDefs = [schema.SignatureDefT(signatureKey="old", subgraphIndex=0)]
    converted = pack_model(tree)
    signed = add_signature(converted, IN, OUT)
    assert signed.endswith(converted) and len(signed) - len(converted) < 512
    before, after = (schema.ModelT.InitFromPackedBuf(m, 0) for m in (converted, signed))
    (signature,) = after.signatureDefs
    assert signature.signatureKey == b"serving_default"
    assert [m.name for m in signature.inputs] == [b"pixels"]
    assert [m.name for m in signature.outputs] == [b"logits"]
    assert after.version == before.version and len(after.buffers) == len(before.buffers)
    assert len(after.subgraphs[0].operators) == len(before.subgraphs[0].operators)
    np.testing.assert_array_equal(_run(signed, pixels=X)["logits"], theirs)
    assert theirs.any()


def test_signature_of_a_model_with_buffers_past_the_flatbuffer(converted: bytes) -> None:
    """A buffer addressed from the file's start (models over 2 GB) would move with a prefix:
    the model is rebuilt instead, its offsets kept."""
    tree = schema.ModelT.InitFromPackedBuf(converted, 0)
    tree.signatureDefs = None
    tree.buffers.append(schema.BufferT())
    tree.buffers[-1].offset, tree.buffers[-1].size = 4096, 16
    far = pack_model(tree)
    signed = schema.ModelT.InitFromPackedBuf(add_signature(far, IN, OUT), 0)
    assert signed.buffers[-1].offset == 4096
    assert signed.signatureDefs[0].inputs[0].name == b"pixels"
