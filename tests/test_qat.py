"""Graphs that carry their own quantization (issue 24): a quantization-aware-trained graph
(fake_quant_with_min_max_vars at its input, weights and activations, trained here) converts to
a fully quantized model from the graph's own ranges, with no calibration data, the toco
QUANTIZED_UINT8 way; checked against TensorFlow running the fake-quant graph and against
TensorFlow's own inference_type=uint8 conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES

from graphport.backend.tf_graph import import_graph, run_graph, to_tf
from graphport.commands.inspect import inspect_model
from graphport.commands.tflite import convert_tflite
from graphport.errors import ConversionError, UserError
from graphport.graph.load import read_graph_def
from graphport.spec.io_types import IoTypes
from graphport.spec.options import CalibrationSpec, GraphSpec

QAT = FIXTURES / "digits_qat.pb"


def _test_images() -> tuple[np.ndarray, np.ndarray]:
    data = np.load(FIXTURES / "digits_test.npz")
    return data["x"].astype(np.float32), data["y"]


def _run(model: bytes | Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model) if isinstance(model, bytes) else \
        Interpreter(str(model))
    interpreter.allocate_tensors()
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    results = []
    for sample in x:
        value = sample[None]
        if source["dtype"] != np.float32:
            scale, zero = source["quantization"]
            value = np.round(value / scale + zero)
        interpreter.set_tensor(source["index"], value.astype(source["dtype"]))
        interpreter.invoke()
        results.append(interpreter.get_tensor(target["index"]))
    return np.concatenate(results)


def test_inspect_says_quantization_aware() -> None:
    warnings = {w["code"]: w["message"] for w in inspect_model(QAT).warnings}
    assert "7 fake-quant points (FakeQuantWithMinMaxVars)" in warnings["quantization_aware"]


@pytest.mark.tf
def test_int8_from_the_graphs_ranges_without_calibration(tmp_path: Path) -> None:
    result = convert_tflite(QAT, tmp_path / "q.tflite", mode="int8")
    assert result.calibration["source"] == "graph" and result.calibration["samples"] == 0
    assert "input mean 0 std 255" in result.calibration["description"]
    assert result.summary["int8"] >= 4 and result.summary["float"] == 0, result.summary
    assert result.parity["verdict"] in ("match", "within tolerance")
    # against TensorFlow running the fake-quant graph: in steps of the uint8 output (0.6
    # measured), and top-1
    [probs] = result.parity["outputs"]
    assert probs["max_lsb"] is not None and probs["max_lsb"] <= 1.0, probs
    assert probs["top1_agreement"] >= 0.99
    x, _ = _test_images()
    (expected,) = run_graph(to_tf(read_graph_def(QAT)), {"input:0": x}, ["probs:0"])
    got = _run(tmp_path / "q.tflite", x)
    assert np.mean(got.argmax(1) == expected.argmax(1)) >= 0.99


@pytest.mark.tf
def test_uint8_io_matches_tensorflows_own_uint8_route(tmp_path: Path) -> None:
    """--io uint8: uint8 in and out with the input scale the first fake-quant point implies
    ([0, 1] -> 1/255), and the same bytes as tf.compat.v1's inference_type=uint8 conversion
    within 1 LSB."""
    import tensorflow as tf

    convert_tflite(QAT, tmp_path / "q.tflite", mode="int8", io="uint8")
    graph_def = to_tf(read_graph_def(QAT))
    graph = import_graph(graph_def)
    converter = tf.compat.v1.lite.TFLiteConverter(
        graph_def, [graph.get_tensor_by_name("input:0")], [graph.get_tensor_by_name("probs:0")])
    converter.inference_type = tf.uint8
    converter.quantized_input_stats = {"input": (0.0, 255.0)}
    theirs = bytes(converter.convert())
    x, _ = _test_images()
    ours = _run(tmp_path / "q.tflite", x)
    assert ours.dtype == np.uint8
    difference = np.abs(ours.astype(int) - _run(theirs, x).astype(int))
    assert difference.max() <= 1 and np.mean(difference == 0) >= 0.95, difference.max()


@pytest.mark.tf
def test_input_stats_override_and_refusals(tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    convert_tflite(QAT, tmp_path / "q.tflite", mode="int8", io="uint8",
                   calibration=CalibrationSpec(input_stats={"input": (128.0, 127.5)}))
    scale, zero = Interpreter(str(tmp_path / "q.tflite")).get_input_details()[0]["quantization"]
    assert zero == 128 and scale == pytest.approx(1 / 127.5)
    for side, (in_type, out_type) in {"input_type": (np.uint8, np.float32),
                                      "output_type": (np.float32, np.uint8)}.items():
        # TensorFlow's v1 converter has one boundary type; each side is set apart here
        alone = convert_tflite(QAT, tmp_path / f"{side}.tflite", mode="int8",
                               io=IoTypes.parse(**{side: "uint8"}))
        interpreter = Interpreter(alone.path)
        assert interpreter.get_input_details()[0]["dtype"] == in_type
        assert interpreter.get_output_details()[0]["dtype"] == out_type
        assert alone.summary["quantize"] + alone.summary["dequantize"] == 1
        assert alone.parity["verdict"] in ("match", "within tolerance")
    with pytest.raises(ConversionError, match="asymmetrically") as refused:
        convert_tflite(QAT, tmp_path / "i.tflite", mode="int8", io="int8")
    assert "uint8" in (refused.value.hint or "")
    with pytest.raises(UserError, match="--input-stats"):
        convert_tflite(FIXTURES / "digits_cnn.pb", tmp_path / "d.tflite", mode="int8",
                       calibration=CalibrationSpec("random", input_stats={"": (0.0, 1.0)}))


@pytest.mark.tf
def test_float_modes_say_what_they_do_with_fake_quant(tmp_path: Path) -> None:
    kept = convert_tflite(QAT, tmp_path / "k.tflite")
    assert any("fake-quant points are kept" in n for n in kept.notes)
    assert kept.parity["verdict"] == "match"  # it rounds exactly as the graph does
    assert kept.summary["quantize"] >= 3
    stripped = convert_tflite(QAT, tmp_path / "s.tflite", graph=GraphSpec(
        passes=["+strip_fake_quant"]))
    assert stripped.summary["quantize"] == 0
    assert any("strip_fake_quant changed what the source computes" in n
               for n in stripped.notes)
    assert stripped.parity["verdict"] in ("match", "within tolerance")
    x, _ = _test_images()
    assert np.mean(_run(tmp_path / "s.tflite", x).argmax(1) ==
                   _run(tmp_path / "k.tflite", x).argmax(1)) >= 0.97


@pytest.mark.tf
def test_a_tensor_without_a_range_stays_float_and_is_named(tmp_path: Path) -> None:
    """One activation fake-quant point taken out: the ops it covered stay float and the report
    names them; --default-ranges gives them a range, as toco's --default_ranges_min/max did."""
    graph = read_graph_def(QAT)
    node = next(n for n in graph.node if n.name == "conv2/act_quant")
    value = node.input[0]
    node.op = "Identity"
    del node.input[:]
    node.input.append(value)
    node.ClearField("attr")
    node.attr["T"].type = 1  # DT_FLOAT
    missing = tmp_path / "missing.pb"
    missing.write_bytes(graph.SerializeToString())
    kept = convert_tflite(missing, tmp_path / "k.tflite", mode="int8")
    assert kept.summary["float"] >= 1
    warning = next(w for w in kept.warnings if w.startswith("no fake-quant range covers"))
    assert "CONV_2D" in warning and "--default-ranges" in warning
    ranged = convert_tflite(missing, tmp_path / "r.tflite", mode="int8",
                            calibration=CalibrationSpec(default_ranges=(0.0, 6.0)))
    assert ranged.summary["float"] == 0
    assert "--default-ranges" in ranged.calibration["description"]
    assert not any(w.startswith("no fake-quant range covers") for w in ranged.warnings)
