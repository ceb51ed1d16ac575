"""Quantization debugging: per-layer error, chosen float layers, and auto-tuning to a target.

The digits_outlier fixture is digits_cnn with one massive activation in fc1 (float results
identical); digits_cnn itself is the control with nothing wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

from graphport.commands.tflite import convert_tflite
from graphport.errors import UserError
from graphport.quant.int8 import QuantOptions, TargetNotMet
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec
from graphport.verify.tflite_runner import TFLiteRunner

pytestmark = pytest.mark.tf

OUTLIER = FIXTURES / "digits_outlier.pb"
DIGITS = FIXTURES / "digits_cnn.pb"
CALIB = FIXTURES / "digits_calib.npz"
TEST = FIXTURES / "digits_test.npz"


def _int8(model: Path, target: Path, quant: QuantOptions | None = None, **options: object
          ) -> object:
    return convert_tflite(model, target, mode="int8", calibration=CalibrationSpec(str(CALIB)),
                          verify=VerifySpec(eval_file=TEST), size_ratio=False, quant=quant,
                          **options)


def _accuracy(path: str | Path) -> tuple[float, np.ndarray]:
    """Accuracy of a written .tflite on the test split, run here, not taken from the report."""
    data = np.load(TEST)
    runner = TFLiteRunner(Path(path).read_bytes())
    predictions = runner({"input": data["x"]})["probs"].argmax(1)
    return float(np.mean(predictions == data["y"])), predictions


def _is_fc(tensor: str, scope: str) -> bool:
    return any(part.startswith(f"{scope}/") for part in tensor.split(";"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> object:
    return _int8(OUTLIER, tmp_path_factory.mktemp("plain") / "m.tflite")


@pytest.fixture(scope="module")
def debugged(tmp_path_factory: pytest.TempPathFactory) -> object:
    return _int8(OUTLIER, tmp_path_factory.mktemp("debug") / "m.tflite",
                 QuantOptions(debug=True))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> object:
    return _int8(OUTLIER, tmp_path_factory.mktemp("tuned") / "m.tflite",
                 QuantOptions(target_agreement=0.99))


def test_outlier_fixture_loses_accuracy_in_int8_only(plain: object) -> None:
    sidecar = json.loads((FIXTURES / "digits_outlier.json").read_text())
    control = json.loads((FIXTURES / "digits_cnn.json").read_text())
    assert sidecar["test_accuracy"] == control["test_accuracy"]  # float: the same function
    accuracy, _ = _accuracy(plain.path)
    assert plain.eval["source_accuracy"] == pytest.approx(control["test_accuracy"], abs=1e-4)
    assert accuracy == pytest.approx(plain.eval["tflite_accuracy"])
    assert accuracy < control["test_accuracy"] - 0.03  # a real loss, from one layer's range


def test_debug_table_ranks_the_outlier_layer_worst(debugged: object) -> None:
    layers = debugged.quant["layers"]
    assert debugged.quant["measured_on"] == "360 --eval samples"
    worst, runner_up = layers[0], layers[1]
    assert worst["op"] == "FULLY_CONNECTED" and _is_fc(worst["tensor"], "fc1")
    assert worst["sensitive"] and worst["noise_to_signal"] > 10 * runner_up["noise_to_signal"]
    # Rounding alone is fine in fc1 (error/scale well under 1): its scale is the problem,
    # which is why layers are ranked by noise-to-signal, not by error/scale.
    assert worst["error_per_scale"] < 0.5
    assert worst["scale"] > 50 * min(r["scale"] for r in layers if r["op"] == "CONV_2D")
    values = {r["op"]: r for r in layers}
    assert values["SOFTMAX"]["error_per_scale"] == pytest.approx(1 / np.sqrt(12), abs=0.05)
    assert values["RESHAPE"]["rms_error"] < 1e-5  # same-scale ops add no error
    noise = [r["noise_to_signal"] for r in layers]
    assert noise == sorted(noise, reverse=True)


def test_debug_quant_does_not_change_the_model(plain: object, debugged: object) -> None:
    """--debug-quant goes through calibrate-then-quantize; the model is the plain --int8 one."""
    assert debugged.size_bytes == plain.size_bytes
    assert np.array_equal(_accuracy(debugged.path)[1], _accuracy(plain.path)[1])
    data = np.load(TEST)["x"][:32]
    a = TFLiteRunner(Path(plain.path).read_bytes())({"input": data})["probs"]
    b = TFLiteRunner(Path(debugged.path).read_bytes())({"input": data})["probs"]
    assert np.array_equal(a, b)


def test_control_model_has_no_layer_like_the_outlier(tmp_path: Path, debugged: object) -> None:
    """digits_cnn is digits_outlier without the massive activation: its worst layer is the
    first conv (sparse ReLU output, mildly sensitive in both) and far from fc1's number."""
    control = _int8(DIGITS, tmp_path / "d.tflite", QuantOptions(debug=True)).quant["layers"]
    assert control[0]["op"] == "CONV_2D" and control[0]["noise_to_signal"] < 0.05
    fc1 = [r for r in control if _is_fc(r["tensor"], "fc1") or "Relu_2" in r["tensor"]]
    assert len(fc1) == 1 and fc1[0]["noise_to_signal"] < 0.01
    assert debugged.quant["layers"][0]["noise_to_signal"] > 10 * control[0]["noise_to_signal"]


def test_keep_float_recovers_the_accuracy(tmp_path: Path, plain: object) -> None:
    result = _int8(OUTLIER, tmp_path / "k.tflite", QuantOptions(keep_float=["fc1"]))
    accuracy, _ = _accuracy(result.path)
    assert accuracy == pytest.approx(result.eval["source_accuracy"], abs=0.003)
    assert accuracy > _accuracy(plain.path)[0] + 0.03
    kept = result.quant["kept_float"]
    assert [_is_fc(n, "fc1") for n in kept["layers"]] == [True, False]
    assert len(kept["kept_as_readers"]) == 1 and _is_fc(kept["kept_as_readers"][0], "fc2")
    chosen = [f for f in result.summary["float_fallback"] if f["chosen"]]
    assert [f["op"] for f in chosen] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert result.summary["float_chosen"] == 2 == result.summary["float"]
    assert [r["op"] for r in result.operators if r["chosen"]] == ["FULLY_CONNECTED"] * 2


def test_keep_float_by_op_type(tmp_path: Path) -> None:
    result = _int8(OUTLIER, tmp_path / "t.tflite", QuantOptions(keep_float=["fully_connected"]))
    assert result.quant["kept_float"]["op_types"] == ["FULLY_CONNECTED"]
    assert {r["op"] for r in result.operators if r["compute"] == "float"} == {"FULLY_CONNECTED"}
    assert all(r["chosen"] for r in result.operators if r["compute"] == "float")


def test_chosen_and_forced_float_ops_are_told_apart(tmp_path: Path) -> None:
    """Without repairs the legacy dropout's RandomUniform has no int8 kernel: forced float."""
    result = _int8(OUTLIER, tmp_path / "f.tflite", QuantOptions(keep_float=["fc1"]),
                   graph=GraphSpec(passes=[]))
    fallback = result.summary["float_fallback"]
    forced = {f["op"] for f in fallback if not f["chosen"]}
    chosen = [f["op"] for f in fallback if f["chosen"]]
    assert "RANDOM_UNIFORM" in forced and "FULLY_CONNECTED" not in forced
    # fc1, the dropout's select that passes its output on (same range), and fc2 after it
    assert sorted(chosen) == ["FULLY_CONNECTED", "FULLY_CONNECTED", "SELECT_V2"]
    assert result.summary["float_chosen"] == 3 < len(fallback)
    assert result.eval["tflite_accuracy"] == pytest.approx(result.eval["source_accuracy"],
                                                           abs=0.003)


def test_auto_tuning_reaches_the_target_with_the_layers_needed(tuned: object,
                                                               tmp_path: Path) -> None:
    tuning = tuned.quant["tuning"]
    start, in_float, fc1_weights, fc2_weights = tuning["steps"]
    assert not start["met"] and start["top1_agreement"] < 0.99 and start["float_layers"] == 0
    # one pick: fc1, with fc2 that reads its output
    assert in_float["met"] and in_float["change"] == "float" and in_float["float_layers"] == 2
    assert _is_fc(in_float["added"][0], "fc1") and _is_fc(in_float["added"][1], "fc2")
    # fc1 keeps its accuracy on int8 weights; fc2 does not (its hybrid kernel quantizes its
    # input, fc1's output with the outlier, on the fly), so the search keeps fc2's float weights
    assert fc1_weights["met"] and fc1_weights["change"] == "int8 weights"
    assert fc1_weights["size_bytes"] < in_float["size_bytes"] / 3
    assert not fc2_weights["met"] and fc2_weights["top1_agreement"] < 0.99
    assert tuning["chosen"] == 2 and tuned.size_bytes == fc1_weights["size_bytes"]
    # what was written is what was measured, checked here against the float model
    data = np.load(TEST)["x"]
    source = TFLiteRunner(Path(_float_model(tmp_path)).read_bytes())({"input": data})
    _, predictions = _accuracy(tuned.path)
    assert np.mean(predictions == source["probs"].argmax(1)) >= 0.99
    computes = {r["output_name"].split(";")[0]: r["compute"] for r in tuned.operators
                if r["chosen"]}
    assert computes == {"fc1/MatMul": "hybrid", "fc2/MatMul1": "float"}
    # smaller than keeping every layer the debug table flags as sensitive
    every = tuning["all_sensitive"]
    assert every is not None and every["float_layers"] > fc1_weights["float_layers"]
    sensitive = [r["tensor"] for r in tuned.quant["layers"] if r["sensitive"]]
    assert len(sensitive) >= 2
    all_kept = _int8(OUTLIER, tmp_path / "all.tflite", QuantOptions(keep_float=sensitive))
    assert tuned.size_bytes < all_kept.size_bytes == every["size_bytes"]


def test_int8_weights_for_float_layers(tmp_path: Path) -> None:
    """The hybrid rewrite on its own: per-channel symmetric int8, within half a step."""
    from graphport.graph.tflite_model import parse_tflite
    from graphport.quant.int8_weights import int8_weights

    kept = _int8(DIGITS, tmp_path / "k.tflite", QuantOptions(keep_float=["FULLY_CONNECTED"]))
    model = Path(kept.path).read_bytes()
    hybrid, changed = int8_weights(model, lambda op, _name: op == "FULLY_CONNECTED")
    assert len(changed) == 2 and len(hybrid) < len(model) - 3 * 784 * 128
    from ai_edge_litert.interpreter import Interpreter

    before, after = Interpreter(model_content=model), Interpreter(model_content=hybrid)
    floats = {d["name"]: d for d in before.get_tensor_details() if d["dtype"] == np.float32
              and len(d["shape"]) == 2 and d["shape"][0] > 1}
    weights = {d["name"]: d for d in after.get_tensor_details() if d["dtype"] == np.int8
               and d["name"] in floats}
    assert len(weights) == 2 == len(floats)
    before.allocate_tensors()
    after.allocate_tensors()
    for name, detail in weights.items():
        scales = detail["quantization_parameters"]["scales"]
        assert len(scales) == detail["shape"][0]  # one scale per output channel
        assert not detail["quantization_parameters"]["zero_points"].any()
        original = before.get_tensor(floats[name]["index"])
        restored = after.get_tensor(detail["index"]).astype(np.float32) * scales[:, None]
        assert np.all(np.abs(restored - original) <= scales[:, None] / 2 + 1e-7)
    x = np.load(TEST)["x"]
    a = TFLiteRunner(model)({"input": x})["probs"]
    b = TFLiteRunner(hybrid)({"input": x})["probs"]
    assert np.mean(a.argmax(1) == b.argmax(1)) > 0.99 and np.abs(a - b).max() < 0.1
    assert [o.op for o in parse_tflite(hybrid, "h").operators] == \
        [o.op for o in parse_tflite(model, "m").operators]


def _float_model(tmp_path: Path) -> str:
    return convert_tflite(OUTLIER, tmp_path / "float.tflite",
                          verify=VerifySpec(enabled=False)).path


def test_target_error_is_met_with_more_float_layers(tmp_path: Path, tuned: object) -> None:
    result = _int8(OUTLIER, tmp_path / "e.tflite", QuantOptions(target_error=0.02))
    steps = result.quant["tuning"]["steps"]
    first_met = next(i for i, s in enumerate(steps) if s["met"])
    chosen = steps[result.quant["tuning"]["chosen"]]
    assert first_met >= 2 and chosen["max_abs"] <= 0.02 and chosen["float_layers"] >= 2
    assert all(s["change"] == "float" for s in steps[:first_met + 1])
    assert result.size_bytes == chosen["size_bytes"] == min(s["size_bytes"] for s in steps
                                                            if s["met"])


def test_target_that_cannot_be_met_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "never.tflite"
    with pytest.raises(TargetNotMet, match="cannot be met") as caught:
        _int8(OUTLIER, target, QuantOptions(target_error=1e-9))
    assert not target.exists() and not list(tmp_path.iterdir())
    steps = caught.value.outcome.tuning.steps
    assert len(steps) > 2 and all(not s.met for s in steps)
    assert min(s.max_abs for s in steps) > 1e-9


def test_cli_flags_tables_and_exit_codes(tmp_path: Path) -> None:
    target = tmp_path / "cli.tflite"
    done = run_cli("tflite", OUTLIER, "--int8", "--calib", CALIB, "--eval", TEST, "-o", target,
                   "--debug-quant", "--keep-float", "fc1", "--no-size-ratio")
    assert done.returncode == 0, done.stderr
    assert "Per-layer quantization error" in done.stdout and "(chosen)" in done.stdout
    assert "kept in float by choice" in done.stdout
    never = tmp_path / "never.tflite"
    failed = run_cli("tflite", OUTLIER, "--int8", "--calib", CALIB, "-o", never,
                     "--target-error", "1e-9", "--no-size-ratio")
    assert failed.returncode == 1 and not never.exists()
    assert "Auto-tuning to max abs error <= 1e-09" in failed.stdout
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot be met" in errors[0] and "Traceback" not in failed.stderr
    report = run_cli("tflite", OUTLIER, "--int8", "--calib", CALIB, "-o", tmp_path / "j.tflite",
                     "--target-agreement", "0.99", "--no-size-ratio", "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["quant"]["tuning"]["chosen"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--keep-float", "fc1"], "need --int8"),
    (["--int8", "--calib", str(CALIB), "--keep-float", "CONV_3D"], "no CONV_3D op"),
    (["--int8", "--calib", str(CALIB), "--keep-float", "nosuch/node"], "no op type or TF node"),
    (["--int8", "--calib", str(CALIB), "--target-agreement", "1.5"], "a fraction in (0, 1]"),
    (["--int8", "--calib", str(CALIB), "--target-error", "0"], "must be above 0"),
    (["--int8", "--calib", str(CALIB), "--target-error", "0.1", "--target-agreement", "0.9"],
     "give one target"),
    (["--int8", "--calib", str(CALIB), "--strict", "--keep-float", "fc1"], "--strict forbids"),
])
def test_bad_quant_options(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_cli("tflite", OUTLIER, "-o", tmp_path / "x.tflite", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())


def test_agreement_target_needs_a_probability_output(tmp_path: Path) -> None:
    """digits logits (fc2's output) are not probabilities: top-1 agreement is not defined."""
    with pytest.raises(UserError, match="class-probability output"):
        _int8(OUTLIER, tmp_path / "l.tflite", QuantOptions(target_agreement=0.99),
              graph=GraphSpec(outputs=["fc2/add"]))


def test_savedmodel_source(digits_savedmodel: Path, tmp_path: Path) -> None:
    """A SavedModel calibrates through TF's v2 converter; its signature survives quantizing."""
    result = convert_tflite(digits_savedmodel, tmp_path / "s.tflite", mode="int8",
                            calibration=CalibrationSpec(str(CALIB)), size_ratio=False,
                            quant=QuantOptions(keep_float=["FULLY_CONNECTED"], debug=True))
    assert result.summary["float_chosen"] == 2 == result.summary["float"]
    assert {r["op"] for r in result.quant["layers"]} >= {"CONV_2D", "SOFTMAX"}
    assert result.parity["status"] == "checked"
    assert result.parity["outputs"][0]["top1_agreement"] == 1.0


def _mtcnn_int8(mtcnn: Path, image: np.ndarray, tmp_path: Path, quant: QuantOptions
                ) -> object:
    """MTCNN in full int8, calibrated on faces.png (BGR) itself, the one image we have."""
    np.savez(tmp_path / "calib.npz", input=image[None],
             thresholds=np.array([[0.6, 0.7, 0.7]], np.float32))
    return convert_tflite(mtcnn, tmp_path / "m.tflite", mode="int8",
                          calibration=CalibrationSpec(str(tmp_path / "calib.npz")),
                          size_ratio=False, verify=VerifySpec(enabled=False),
                          graph=GraphSpec(["input", "thresholds"],
                                          set_values={"min_size": "40", "factor": "0.709"}),
                          quant=quant)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return float(inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter))


def test_mtcnn_int8_finds_the_faces_with_box_arithmetic_in_float(
        mtcnn: Path, faces_bgr: np.ndarray, tmp_path: Path) -> None:
    """The real graph in full int8: the networks (convs in while/if bodies, reached by op type)
    quantized, the pixel-coordinate arithmetic (MUL, SUB, ADD) kept in float."""
    from conftest import reference_faces

    result = _mtcnn_int8(mtcnn, faces_bgr, tmp_path,
                         QuantOptions(keep_float=["MUL", "SUB", "ADD"]))
    convs = [r for r in result.operators if r["op"] == "CONV_2D"]
    assert len(convs) >= 8 and {r["subgraph"] for r in convs} != {0}
    assert all(r["compute"] == "int8" for r in convs)
    assert {r["op"] for r in result.operators if r["chosen"]} == {"MUL", "SUB", "ADD"}
    assert result.summary["flex"] == 0 == result.summary["custom"]
    out = TFLiteRunner(Path(result.path).read_bytes())(
        {"input": faces_bgr, "thresholds": np.array([0.6, 0.7, 0.7], np.float32)})
    reference = np.array(reference_faces())
    assert out["prob"].shape == (6,) and (out["prob"] > 0.99).all()
    for face in reference:  # the same faces, in any order
        assert max(_iou(face[1:], box) for box in out["box"]) > 0.5  # PASCAL VOC match


def test_layer_error_matches_an_independent_computation(plain: object, debugged: object) -> None:
    """fc1's error recomputed from the plain int8 model: its int8 input and output, dequantized,
    against float fc1 (the graph's own weights) on that same input."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from graphport.graph.load import read_graph_def
    from graphport.graph.tensors import tensor_to_numpy

    consts = {n.name: tensor_to_numpy(n.attr["value"].tensor)
              for n in read_graph_def(OUTLIER).node if n.op == "Const"}
    interpreter = Interpreter(
        model_path=plain.path, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    fc1 = next(op for op in interpreter._get_ops_details() if op["op_name"] == "FULLY_CONNECTED"
               and interpreter._get_tensor_details(op["outputs"][0], 0)["name"].startswith("fc1/"))
    runner = interpreter.get_signature_runner()
    x = np.load(TEST)["x"]

    def dequantized(index: int) -> np.ndarray:
        scale, zero_point = interpreter._get_tensor_details(index, 0)["quantization"]
        return (interpreter.get_tensor(index).astype(np.float64) - zero_point) * scale

    errors = []
    for start in range(0, len(x), 64):
        runner(input=x[start:start + 64])
        inputs = dequantized(fc1["inputs"][0])
        expected = np.maximum(inputs @ consts["fc1/weights"] + consts["fc1/biases"], 0)
        errors.append(dequantized(fc1["outputs"][0]) - expected)
    error = np.concatenate(errors)
    reported = debugged.quant["layers"][0]
    assert _is_fc(reported["tensor"], "fc1")
    assert reported["rms_error"] == pytest.approx(np.sqrt(np.mean(error ** 2)), rel=0.02)
    assert reported["max_abs"] == pytest.approx(np.abs(error).max(), rel=0.05)
    assert reported["values"] == error.size


def test_cond_branch_layers_count_only_the_runs_that_took_the_branch(tmp_path: Path) -> None:
    """cond_conv.pb: two convs in a cond branch. Calibration samples with a negative maximum
    take the other branch; a branch that does not run keeps stale (or, before its first run,
    garbage) tensors in LiteRT, which must not be counted."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (20, 1, 12, 12, 3)).astype(np.float32)
    taken = np.ones(20, bool)
    taken[[0, 3, 5, 9, 10, 15, 16, 19]] = False  # the very first sample skips the branch
    x[~taken] *= -1
    np.savez(tmp_path / "calib.npz", input=x)
    model = FIXTURES / "cond_conv.pb"
    options = {"mode": "int8", "calibration": CalibrationSpec(str(tmp_path / "calib.npz")),
               "size_ratio": False}
    result = convert_tflite(model, tmp_path / "d.tflite", quant=QuantOptions(debug=True),
                            **options)
    convs = [r for r in result.quant["layers"] if r["op"] == "CONV_2D"]
    assert len(convs) == 2 and all(r["subgraph"] > 0 and not r["in_loop"] for r in convs)
    assert sorted(r["values"] for r in convs) == [taken.sum() * 144 * 4, taken.sum() * 144 * 8]
    assert all(r["noise_to_signal"] < 0.05 and 0.1 < r["error_per_scale"] < 1 for r in convs)
    kept = convert_tflite(model, tmp_path / "k.tflite",
                          quant=QuantOptions(keep_float=["cond/Conv2D_1"]), **options)
    computes = sorted((r["compute"], r["chosen"]) for r in kept.operators
                      if r["op"] == "CONV_2D")
    assert computes == [("float", True), ("int8", False)]


def test_mtcnn_debug_table_reaches_loop_and_branch_bodies(
        mtcnn: Path, faces_bgr: np.ndarray, tmp_path: Path) -> None:
    result = _mtcnn_int8(mtcnn, faces_bgr, tmp_path, QuantOptions(debug=True))
    convs = {r["tensor"].split("/")[0] + ("/loop" if r["in_loop"] else ""): r
             for r in result.quant["layers"] if r["op"] == "CONV_2D"}
    # PNet runs in the while loop, RNet in a cond; ONet's cond is never taken by the all-int8
    # debug model (its RNet passes no candidate on), so it has no rows rather than stale ones
    assert {"pnet/loop", "rnet"} <= set(convs) and "onet" not in convs
    assert all(r["values"] > 0 and r["subgraph"] > 0 for r in convs.values())
    # the pixel arithmetic of the main graph is among the sensitive layers
    sensitive = {r["tensor"] for r in result.quant["layers"] if r["sensitive"]}
    assert {"pnet/mul", "pnet/sub"} <= sensitive


def test_int8_output_finer_than_its_step_is_not_retried(tmp_path: Path) -> None:
    """A softmax over 1,000 near-equal classes (a classifier with untrained weights) spans
    less than int8's 1/256 step: the full int8 model shows zeros and does not match, and
    keeping the residual ADD in float cannot change that, so it is said, not tried."""
    import tensorflow as tf
    from conftest import freeze_v1

    from graphport.verify.tflite_runner import output_producers

    v1 = tf.compat.v1
    rng = np.random.default_rng(3)
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [1, 32], name="x")
        hidden = tf.nn.relu(tf.matmul(x, rng.normal(0, 0.3, (32, 32)).astype(np.float32)))
        residual = tf.add(hidden, x, name="residual")
        logits = tf.matmul(residual, rng.normal(0, 1e-3, (32, 1000)).astype(np.float32))
        tf.nn.softmax(logits, name="probs")
    model = tmp_path / "flat.pb"
    model.write_bytes(freeze_v1(graph, ["probs"]).SerializeToString())
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.normal(0, 1, (8, 1, 32)).astype(np.float32))
    said: list[str] = []
    result = convert_tflite(model, tmp_path / "flat.tflite", mode="int8",
                            calibration=CalibrationSpec(str(calib)), size_ratio=False,
                            progress=said.append)
    assert "ADD" in {r["op"] for r in result.operators}  # what a retry would keep in float
    (row,) = result.parity["outputs"]
    assert row["verdict"] == "mismatch" and row["finer_than_step"]
    assert output_producers(Path(result.path).read_bytes()) == {"probs": "SOFTMAX"}
    assert any("span less than one step of the int8 output" in n for n in result.notes)
    assert not any("trying again" in s for s in said)


def test_eval_data_as_rows_or_as_a_stack_of_inputs(tmp_path: Path) -> None:
    """--eval takes rows along the batch axis, or whole inputs stacked as --calib takes them
    (the same accuracy); anything else is one error naming the file, not a crash."""
    with np.load(TEST) as data:
        x, y = data["x"][:40], data["y"][:40]
    np.savez(tmp_path / "rows.npz", x=x, y=y)
    np.savez(tmp_path / "stack.npz", x=x[:, None], y=y)
    np.savez(tmp_path / "bad.npz", x=x[..., 0], y=y)
    accuracy = []
    for name in ("rows", "stack"):
        done = run_cli("tflite", DIGITS, "-o", tmp_path / f"{name}.tflite", "--eval",
                       tmp_path / f"{name}.npz", "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        accuracy.append(json.loads(done.stdout)["eval"])
    assert accuracy[0] == accuracy[1] and accuracy[0]["samples"] == 40
    failed = run_cli("tflite", DIGITS, "-o", tmp_path / "bad.tflite", "--eval",
                     tmp_path / "bad.npz")
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bad.npz: x has shape [40, 28, 28]" in errors[0], failed.stderr
    assert not (tmp_path / "bad.tflite").exists()
