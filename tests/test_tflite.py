"""`graphport tflite`: every mode, the per-op report against the interpreter's own view,
calibration sources, parity, accuracy, Select-op errors and the Flex 'not runnable' verdict."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

from graphport.backend.runtime import tensorflow
from graphport.commands.tflite import convert_tflite, default_name
from graphport.errors import ConversionError, UserError
from graphport.spec.io_types import IoTypes
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec

pytestmark = pytest.mark.tf

DIGITS = FIXTURES / "digits_cnn.pb"
CALIB = FIXTURES / "digits_calib.npz"
TEST = FIXTURES / "digits_test.npz"
MTCNN_SPEC = GraphSpec(["input", "thresholds"], set_values={"min_size": "40", "factor": "0.709"})
NO_REPAIRS = GraphSpec(passes=[])


def _interpreter(path: str) -> object:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # without XNNPACK, whose DELEGATE nodes would replace the model's own operators
    interpreter = Interpreter(model_path=path, experimental_op_resolver_type=(
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    interpreter.allocate_tensors()
    return interpreter



def _check_report_against_interpreter(result: object) -> None:
    """Operator names and every operator's tensor dtypes, as the interpreter sees them."""
    interpreter = _interpreter(result.path)
    ops = interpreter._get_ops_details()
    tensors = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    assert [row["op"] for row in result.operators] == [op["op_name"] for op in ops]
    for row, op in zip(result.operators, ops, strict=True):
        assert row["inputs"] == [tensors[i] for i in op["inputs"] if i >= 0], row
        assert row["outputs"] == [tensors[i] for i in op["outputs"]], row
    assert result.size_bytes == Path(result.path).stat().st_size
    assert 0 < result.zipped_bytes < result.size_bytes


@pytest.fixture(scope="module")
def digits_int8(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Without repairs: the legacy dropout's RandomUniform stays, a real float fallback."""
    return convert_tflite(DIGITS, tmp_path_factory.mktemp("i8") / "d.tflite", mode="int8",
                          calibration=CalibrationSpec(str(CALIB)),
                          verify=VerifySpec(eval_file=TEST), graph=NO_REPAIRS)


def test_float32(tmp_path: Path) -> None:
    result = convert_tflite(DIGITS, tmp_path / "f.tflite")
    _check_report_against_interpreter(result)
    assert result.summary["int8"] == 0 and result.summary["float"] > 0
    assert result.ratio_to_float == 1.0 and result.summary["float_fallback"] == []
    probs = result.parity["outputs"][0]
    assert result.parity["status"] == "checked" and "generated" in result.parity["samples"]
    assert probs["max_abs"] < 1e-5 and probs["cosine"] > 0.99999
    assert probs["top1_agreement"] == 1.0


def test_fp16_keeps_float16_weights(tmp_path: Path) -> None:
    result = convert_tflite(DIGITS, tmp_path / "h.tflite", mode="fp16")
    _check_report_against_interpreter(result)
    dtypes = Counter(np.dtype(t["dtype"]).name
                     for t in _interpreter(result.path).get_tensor_details())
    assert dtypes["float16"] >= 4 and result.summary["operators"] > 0
    assert 0.45 < result.ratio_to_float < 0.6
    assert any(row["op"] == "DEQUANTIZE" for row in result.operators)


def test_dynamic_range_has_int8_weights_and_float_compute(tmp_path: Path) -> None:
    result = convert_tflite(DIGITS, tmp_path / "dyn.tflite", mode="dynamic")
    _check_report_against_interpreter(result)
    fully_connected = [r for r in result.operators if r["op"] == "FULLY_CONNECTED"]
    assert fully_connected and all(r["compute"] == "hybrid" for r in fully_connected)
    assert all(r["inputs"][1] == "int8" for r in fully_connected)
    assert result.ratio_to_float < 0.35
    assert result.parity["outputs"][0]["top1_agreement"] >= 0.9


def test_int8_report_fallback_and_quality(digits_int8: object) -> None:
    result = digits_int8
    _check_report_against_interpreter(result)
    assert result.summary["int8"] >= 10
    fallback = result.summary["float_fallback"]
    assert [f["op"] for f in fallback] == ["RANDOM_UNIFORM"]  # dropout's RNG has no int8 kernel
    assert any("dropout" in node for node in fallback[0]["tf_nodes"])
    assert result.summary["quantize"] >= 1 and result.summary["dequantize"] >= 1
    assert result.calibration == {"source": "npz", "samples": 100,
                                  "description": f"100 samples from {CALIB}"}
    assert result.ratio_to_float < 0.28
    sidecar = json.loads((FIXTURES / "digits_cnn.json").read_text())
    assert result.eval["samples"] == 360
    assert abs(result.eval["source_accuracy"] - sidecar["test_accuracy"]) < 1e-4
    assert result.eval["source_accuracy"] - result.eval["tflite_accuracy"] <= 0.005
    assert result.eval["top1_agreement"] >= 0.99


def test_default_repairs_make_digits_fully_int8(tmp_path: Path) -> None:
    """The dropout pinned by keep_prob=1 is stripped, so nothing is left in float, and the
    model meets the size, agreement and accuracy targets."""
    result = convert_tflite(DIGITS, tmp_path / "d.tflite", mode="int8",
                            calibration=CalibrationSpec(str(CALIB)),
                            verify=VerifySpec(eval_file=TEST))
    assert result.summary["float_fallback"] == []
    assert not any(row["op"] == "RANDOM_UNIFORM" for row in result.operators)
    strip = next(r for r in result.rewrites if r["name"] == "strip_training_leftovers")
    assert strip["changed"] >= 1
    assert result.ratio_to_float <= 0.27
    assert result.eval["top1_agreement"] >= 0.99
    assert result.eval["source_accuracy"] - result.eval["tflite_accuracy"] <= 0.005


def test_int8_parity_numbers_are_real(digits_int8: object) -> None:
    """Recompute the first calibration sample by hand: its error is within the reported max."""
    tf = tensorflow()
    sample = np.load(CALIB)["input"][:1]
    interpreter = _interpreter(digits_int8.path)
    runner = interpreter.get_signature_runner()
    got = runner(input=sample)["probs"]
    from graphport.backend.tf_graph import run_graph, to_tf
    from graphport.graph.load import read_graph_def

    expected = run_graph(to_tf(read_graph_def(DIGITS)), {"input:0": sample}, ["probs:0"])[0]
    error = float(np.max(np.abs(got - expected)))
    reported = digits_int8.parity["outputs"][0]
    assert 0 < error <= reported["max_abs"] + 1e-7
    assert reported["max_abs"] < 0.05 and reported["cosine"] > 0.999
    assert tf is not None


@pytest.mark.parametrize("io", [IoTypes.parse("uint8"), IoTypes.parse("int8"),
                                IoTypes.parse(input_type="uint8"),
                                IoTypes.parse(input_type="int8", output_type="uint8"),
                                IoTypes.parse(output_type="int8")], ids=str)
def test_integer_io(tmp_path: Path, io: IoTypes) -> None:
    """--io sets both sides; --input-type and --output-type each one (issue 24)."""
    result = convert_tflite(DIGITS, tmp_path / "m.tflite", mode="int8", io=io,
                            calibration=CalibrationSpec(str(CALIB), samples=20),
                            verify=VerifySpec(count=8))
    interpreter = _interpreter(result.path)
    assert np.dtype(interpreter.get_input_details()[0]["dtype"]).name == io.input
    assert np.dtype(interpreter.get_output_details()[0]["dtype"]).name == io.output
    assert result.operators[0]["inputs"][0] == io.input
    assert result.io == io and result.to_json()["io"]["output"] == io.output
    assert result.parity["outputs"][0]["top1_agreement"] >= 0.85  # dequantized before compare


def test_io_options_name_file_and_refuse_mixing() -> None:
    assert default_name(Path("m.pb"), "int8", IoTypes.parse("uint8")) == "m.int8-uint8io.tflite"
    assert default_name(Path("m.pb"), "int8", IoTypes.parse(input_type="uint8")) == \
        "m.int8-uint8in.tflite"
    assert default_name(Path("m.pb"), "int8", IoTypes.parse(
        input_type="uint8", output_type="int8")) == "m.int8-uint8in-int8out.tflite"
    assert IoTypes.parse(input_type="float32", output_type="float32") is None
    assert str(IoTypes.parse(output_type="int8")) == "float32 input, int8 output"
    with pytest.raises(UserError, match="--io sets both"):
        IoTypes.parse("uint8", input_type="int8")
    with pytest.raises(UserError, match="--input-type int16: use uint8 or int8 or float32"):
        IoTypes.parse(input_type="int16")


def test_strict_fails_on_the_float_only_op(tmp_path: Path) -> None:
    target = tmp_path / "strict.tflite"
    with pytest.raises(ConversionError, match="RANDOM_UNIFORM") as caught:
        convert_tflite(DIGITS, target, mode="int8", calibration=CalibrationSpec(str(CALIB)),
                       strict=True, graph=NO_REPAIRS)
    assert "dropout/random_uniform" in caught.value.message
    assert not target.exists() and list(tmp_path.iterdir()) == []


def _write_pngs(directory: Path, count: int) -> None:
    tf = tensorflow()
    images = np.load(TEST)["x"][:count]
    directory.mkdir()
    for i, image in enumerate(images):
        png = tf.io.encode_png(np.round(image * 255).astype(np.uint8)).numpy()
        (directory / f"{i:03d}.png").write_bytes(png)


def test_calibration_sources(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "images", 12)
    from_images = convert_tflite(DIGITS, tmp_path / "img.tflite", mode="int8",
                                 calibration=CalibrationSpec(str(tmp_path / "images"), std=255.0),
                                 verify=VerifySpec(count=4))
    assert from_images.calibration["source"] == "images"
    assert from_images.calibration["samples"] == 12
    assert from_images.parity["outputs"][0]["top1_agreement"] >= 0.75
    np.save(tmp_path / "calib.npy", np.load(CALIB)["input"][:10])
    from_npy = convert_tflite(DIGITS, tmp_path / "npy.tflite", mode="int8",
                              calibration=CalibrationSpec(str(tmp_path / "calib.npy"), samples=5))
    assert from_npy.calibration["samples"] == 5
    random = convert_tflite(DIGITS, tmp_path / "rnd.tflite", mode="int8",
                            calibration=CalibrationSpec("random", samples=5),
                            verify=VerifySpec(count=2))
    assert random.calibration["source"] == "random"
    assert any("RANDOM data" in w for w in random.warnings)


def test_bad_calibration_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really")
    np.save(tmp_path / "wrong_shape.npy", np.zeros((4, 32, 32, 1), np.float32))
    np.save(tmp_path / "wrong_dtype.npy", np.array(["a", "b"]))
    cases = [(None, "needs calibration data"),
             (str(tmp_path / "empty"), "no images"),
             (str(tmp_path / "corrupt.npz"), "not a readable .npz"),
             (str(tmp_path / "wrong_shape.npy"), "[4, 32, 32, 1]"),
             (str(tmp_path / "wrong_dtype.npy"), "holds <U1"),
             (str(tmp_path / "missing"), "no such file")]
    for calib, message in cases:
        with pytest.raises(UserError) as caught:
            convert_tflite(DIGITS, tmp_path / "out.tflite", mode="int8",
                           calibration=CalibrationSpec(calib))
        assert message in caught.value.message, caught.value.message
    assert not (tmp_path / "out.tflite").exists()


def test_saved_model_directory_input(digits_savedmodel: Path, tmp_path: Path) -> None:
    result = convert_tflite(digits_savedmodel, tmp_path / "sm.tflite", mode="dynamic")
    _check_report_against_interpreter(result)
    assert result.parity["status"] == "checked"
    with pytest.raises(UserError, match="apply to frozen graphs"):
        convert_tflite(digits_savedmodel, tmp_path / "x.tflite", graph=GraphSpec(["input"]))


def test_mtcnn_needs_select_ops(mtcnn: Path, tmp_path: Path) -> None:
    target = tmp_path / "m.tflite"
    with pytest.raises(ConversionError) as caught:
        convert_tflite(mtcnn, target, graph=replace(MTCNN_SPEC, passes=[]))
    for op in ("CropAndResize", "NonMaxSuppressionV2", "TensorArrayV3", "TensorArrayWriteV3",
               "TensorArrayConcatV3", "pnet/TensorArray"):
        assert op in caught.value.text
    assert "[repair pass crop_and_resize would handle it; it did not run]" in \
        caught.value.text
    assert "While" not in caught.value.text  # loops themselves convert
    assert "select_ops=True" in caught.value.hint and not target.exists()  # API terms


def test_mtcnn_with_select_ops_is_reported_not_runnable(mtcnn: Path, tmp_path: Path) -> None:
    result = convert_tflite(mtcnn, tmp_path / "m.tflite", select_ops=True,
                            graph=replace(MTCNN_SPEC, passes=[]))
    assert result.summary["flex"] >= 5
    assert result.summary["flex_ops"] == ["FlexCropAndResize", "FlexNonMaxSuppressionV2",
                                          "FlexTensorArrayConcatV3", "FlexTensorArrayV3",
                                          "FlexTensorArrayWriteV3"]
    assert result.parity["status"] == "not runnable"
    assert "not verified" in result.parity["reason"]
    from ai_edge_litert.interpreter import Interpreter

    with pytest.raises((RuntimeError, ValueError)):  # the claim, checked: it really cannot run
        Interpreter(model_path=result.path).allocate_tensors()


def test_cli_report_and_json(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run_cli("tflite", DIGITS, "--dynamic", "-o", tmp_path / "d.tflite", "--report",
                     report, "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert json.loads(report.read_text()) == printed
    assert printed["mode"] == "dynamic" and printed["operators"][0]["op"]
    table = run_cli("tflite", DIGITS, "--int8", "--calib", CALIB, "--no-rewrite", "-o",
                    tmp_path / "i.tflite")
    assert table.returncode == 0, table.stderr
    assert "float fallback" in table.stdout and "RANDOM_UNIFORM" in table.stdout
    failed = run_cli("tflite", DIGITS, "--int8", "--calib", CALIB, "--strict", "--no-rewrite",
                     "-o", tmp_path / "s.tflite")
    assert failed.returncode == 1 and failed.stderr.startswith("error: --strict")
    both = run_cli("tflite", DIGITS, "--int8", "--fp16")
    assert both.returncode == 2 and "choose one mode" in both.stderr


def test_parity_budget_counts_loading_the_source() -> None:
    """A default run's check stops once loading and samples spent the budget (two samples at
    least): on a 179 MB graph, loading alone took most of it."""
    import time
    from types import SimpleNamespace

    from graphport.commands.tflite import _paired_runs

    def slow_runner() -> object:
        time.sleep(0.3)  # loading the source, longer than the budget below
        return lambda sample: {"y": sample["x"] * 2}

    source = SimpleNamespace(runner=slow_runner)
    samples = [{"x": np.full(2, float(i))} for i in range(5)]
    expected, converted = _paired_runs(source, lambda s: {"y": s["x"] * 2}, samples,  # type: ignore[arg-type]
                                       0.2, lambda _: None)
    assert len(expected) == len(converted) == 2
    assert expected[1]["y"].tolist() == [2.0, 2.0]
    assert len(_paired_runs(source, lambda s: s, samples, None,  # type: ignore[arg-type]
                            lambda _: None)[0]) == 5


def test_converter_by_names_writes_what_the_tensor_route_writes(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """A graph without functions, its inputs static placeholders, goes to the converter by
    names (no TensorFlow import of the graph, no Grappler pass): the model is the same, byte
    for byte, as the tensor route gives."""
    from conftest import freeze_v1

    from graphport.convert.converter import convert
    from graphport.convert.source import SourceModel, source_model

    tf = tensorflow()
    v1 = tf.compat.v1
    rng = np.random.default_rng(5)
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [1, 16, 16, 3], name="image")
        y = tf.nn.conv2d(x, rng.normal(size=(3, 3, 3, 8)).astype(np.float32), 1, "SAME")
        y = tf.nn.relu(tf.nn.bias_add(y, rng.normal(size=8).astype(np.float32)))
        tf.reduce_mean(y, [1, 2], name="features")
    model = tmp_path / "static.pb"
    model.write_bytes(freeze_v1(graph, ["features"]).SerializeToString())
    with source_model(model, GraphSpec()) as source:
        assert source._by_name
        by_name = convert(source, "float32")
        monkeypatch.setattr(SourceModel, "_by_name", property(lambda self: False))
        assert convert(source, "float32") == by_name
