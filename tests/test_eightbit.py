"""Legacy eightbit graphs (issue 24): the quantize_nodes ops become their float twins
(passes/rewrites/eightbit_to_float.py), so every TFLite mode converts. Judged on the real
uTensor MLP from ../shared/graphs/third-party against TensorFlow running the eightbit graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, SHARED, shared_file

from graphport.backend.tf_graph import run_graph, to_tf
from graphport.commands.tflite import convert_tflite
from graphport.graph.edit import copy_graph
from graphport.graph.load import read_graph_def
from graphport.passes.pipeline import resolve, run_pipeline
from graphport.spec.options import CalibrationSpec

pytestmark = pytest.mark.tf

EIGHTBIT = SHARED / "third-party" / "utensor_quant_mnist_eightbit.pb"


def _digits(name: str) -> np.ndarray:
    images = np.load(FIXTURES / name)
    array = images["x"] if "x" in images else images["input"]
    return array.reshape(len(array), -1).astype(np.float32)


def test_pass_leaves_no_quantized_op_and_keeps_the_labels() -> None:
    graph = read_graph_def(shared_file(EIGHTBIT))
    repaired, results = run_pipeline(
        copy_graph(graph), resolve(["eightbit_to_float", "fold_constants"], "tflite"),
        ["y_pred", "OuputLayer/logits"])
    # 3 x (QuantizedMatMul, Requantize, Dequantize) and 2 QuantizedRelu
    assert results[0].changed == 11 and not results[0].error
    left = sorted({n.op for n in repaired.node if n.op.startswith("Quantiz") or
                   n.op in ("Dequantize", "Requantize", "RequantizationRange")})
    assert left == []
    x = _digits("digits_test.npz")
    labels, logits = run_graph(to_tf(graph), {"x:0": x}, ["y_pred:0", "OuputLayer/logits:0"])
    (floats,) = run_graph(to_tf(repaired), {"x:0": x}, ["y_pred:0"])
    top2 = np.sort(logits, 1)
    clear = (top2[:, -1] - top2[:, -2]) > 0.5 * np.median(top2[:, -1] - top2[:, -2])
    assert np.mean(floats == labels) >= 0.97  # the rest are 8-bit near-ties
    assert np.array_equal(floats[clear], labels[clear])


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_eightbit_mlp_converts_builtin_only(mode: str, tmp_path: Path) -> None:
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=_digits("digits_calib.npz"))
    result = convert_tflite(shared_file(EIGHTBIT), tmp_path / "m.tflite", mode=mode,
                            calibration=CalibrationSpec(str(calib)) if mode == "int8" else None)
    assert result.summary["flex"] == 0 and result.summary["custom"] == 0
    assert result.parity["verdict"] in ("match", "within tolerance"), result.parity
    assert any("eightbit_to_float changed what the source computes" in note
               for note in result.notes)
    if mode == "int8":
        assert result.summary["int8"] >= 3
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(tmp_path / "m.tflite")).get_signature_runner()
    x = _digits("digits_test.npz")
    got = np.concatenate([runner(x=x[i:i + 1])["y_pred"] for i in range(len(x))])
    (labels,) = run_graph(to_tf(read_graph_def(EIGHTBIT)), {"x:0": x}, ["y_pred:0"])
    assert np.mean(got.reshape(-1) == labels) >= 0.95


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_eightbit_conv_model_converts(mode: str, tmp_path: Path) -> None:
    """QuantizedConv2D, QuantizedBiasAdd, QuantizedRelu, QuantizedMaxPool, QuantizedConcat,
    QuantizedReshape between MirrorPad, a v1 Gather from a second input and a uint8 output,
    in a producer-0 graph whose image input says `shape {}`."""
    from graphport.spec.options import GraphSpec, VerifySpec

    calib = tmp_path / "calib.npz"  # images, and a style index the table has
    np.savez(calib, image=np.random.RandomState(0).uniform(0, 1, (8, 1, 8, 8, 3)).astype(
        np.float32), style=np.full((8, 1), 2, np.int32))
    result = convert_tflite(
        FIXTURES / "eightbit_conv.pb", tmp_path / "m.tflite", mode=mode,
        graph=GraphSpec(input_shapes={"image": [1, 8, 8, 3]}),
        calibration=CalibrationSpec(str(calib)) if mode == "int8" else None,
        verify=VerifySpec(given={"style": "2"}))
    assert result.summary["flex"] == 0 and result.summary["custom"] == 0
    changed = next(r for r in result.rewrites if r["name"] == "eightbit_to_float")
    # conv, bias add, 2 requantize, relu, max pool, concat, reshape, dequantize
    assert changed["changed"] == 9
    if mode == "float32":  # uint8 image out: within 2 levels of the 8-bit graph's
        assert result.parity["verdict"] in ("match", "within tolerance"), result.parity
        assert result.parity["outputs"][0]["max_abs"] <= 2
    else:  # full int8 on 8 random images: measured degraded (cosine 0.98), and said so
        assert result.parity["outputs"][0]["cosine"] >= 0.9, result.parity
