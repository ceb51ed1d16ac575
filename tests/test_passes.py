"""Graph repairs keep the numbers: every pass runs TensorFlow on the graph before and after on
random inputs (including TF1 cond branches and while frames), and the default pipeline takes the
real MTCNN graph to a builtin-only TFLite model that finds the reference faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, reference_faces, run_cli

from graphport.backend.tf_graph import run_graph, to_tf
from graphport.graph import edit
from graphport.graph.index import NodeIndex
from graphport.graph.load import read_graph_def
from graphport.graph.nodes import parse_input
from graphport.passes.base import TFLITE
from graphport.passes.pipeline import DEFAULT_PIPELINE, PassCall, available, resolve, run_pipeline
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec
from graphport.spec.signature import prepare_graph

pytestmark = pytest.mark.tf

LEGACY = FIXTURES / "legacy_ops.pb"


def _feeds(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    boxes = rng.uniform(-0.3, 1.3, (8, 4)).astype(np.float32)  # some outside: extrapolation
    return {"x:0": rng.normal(0, 1, (3, 4)).astype(np.float32),
            "image:0": rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32),
            "boxes:0": boxes, "scores:0": rng.random(8).astype(np.float32)}


def _outputs(graph: object, feeds: dict[str, np.ndarray], fetches: list[str]) -> list:
    return run_graph(to_tf(graph), feeds, [f"{f}:0" for f in fetches])


def _before_after(names: list[str]) -> tuple[object, object, list, list[str]]:
    prepared = prepare_graph(read_graph_def(LEGACY))
    fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
    after, results = run_pipeline(edit.copy_graph(prepared.graph), [PassCall(n) for n in names],
                                  fetches)
    return prepared.graph, after, results, fetches


@pytest.mark.parametrize("names, gone, exact", [
    (["fold_constants"], {"Dequantize"}, True),
    (["fold_constants", "strip_training_leftovers"],
     {"CheckNumerics", "Assert", "Print", "StopGradient", "RandomUniform", "Floor"}, True),
    (["nms_v4"], {"NonMaxSuppressionV2", "NonMaxSuppressionV3"}, True),
    (["crop_and_resize"], {"CropAndResize"}, False),
    (["tensor_array_to_concat"], {"TensorArrayV3", "TensorArrayWriteV3",
                                  "TensorArrayConcatV3"}, True),
])
def test_each_pass_keeps_the_numbers(names: list[str], gone: set[str], exact: bool) -> None:
    before, after, results, fetches = _before_after(names)
    assert results[-1].changed >= 1, results
    assert gone & {n.op for n in before.node} == gone  # the fixture really has them
    assert not gone & {n.op for n in after.node}
    for seed in range(4):
        expected = _outputs(before, _feeds(seed), fetches)
        got = _outputs(after, _feeds(seed), fetches)
        for name, e, g in zip(fetches, expected, got, strict=True):
            assert e.shape == g.shape and e.dtype == g.dtype, name
            if exact:
                np.testing.assert_array_equal(g, e, err_msg=name)
            else:
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-4, err_msg=name)


def test_crop_and_resize_extrapolates_like_tensorflow() -> None:
    """Boxes partly outside the image: the outside samples take extrapolation_value (-1)."""
    before, after, _, _ = _before_after(["crop_and_resize"])
    feeds = _feeds(9)
    feeds["boxes:0"][:] = [[-0.5, -0.5, 0.5, 0.5]] * 8
    expected = _outputs(before, feeds, ["crop_out"])[0]
    got = _outputs(after, feeds, ["crop_out"])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_tensor_array_with_unknown_element_shape_in_a_while_loop() -> None:
    """pyramid.pb writes [1, 2] rows to an infer_shape=False TensorArray inside a v1 loop."""
    prepared = prepare_graph(read_graph_def(FIXTURES / "pyramid.pb"))
    fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
    after, results = run_pipeline(edit.copy_graph(prepared.graph),
                                  [PassCall("tensor_array_to_concat")], fetches)
    assert results[0].changed == 1
    rng = np.random.default_rng(3)
    feeds = {"image:0": rng.random((40, 50, 3)).astype(np.float32),
             "min_size:0": np.float32(12), "factor:0": np.float32(0.7),
             "thresholds:0": np.array([0.1, 0.5, 0.5], np.float32)}
    expected = _outputs(prepared.graph, feeds, fetches)
    got = _outputs(after, feeds, fetches)
    assert expected[0].shape[0] >= 3
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("name, set_values, feeds", [
    ("digits_cnn.pb", {}, {"input:0": np.load(FIXTURES / "digits_test.npz")["x"][:20]}),
    ("resnet_v2_small.pb", {}, {"input:0": np.random.default_rng(1).random(
        (1, 64, 64, 3)).astype(np.float32)}),
    ("cond_training.pb", {"is_training": "false"},
     {"x:0": np.random.default_rng(2).random((5, 4)).astype(np.float32)}),
])
def test_default_pipeline_keeps_fixture_results(name: str, set_values: dict,
                                                feeds: dict) -> None:
    prepared = prepare_graph(read_graph_def(FIXTURES / name), GraphSpec(set_values=set_values))
    fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
    after, _ = run_pipeline(edit.copy_graph(prepared.graph),
                            [PassCall(n) for n in DEFAULT_PIPELINE], fetches)
    for e, g in zip(_outputs(prepared.graph, feeds, fetches), _outputs(after, feeds, fetches),
                    strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


def test_branch_constants_keeps_the_numbers_and_lets_cond_convs_quantize(
        tmp_path: Path) -> None:
    """cond_conv.pb: conv weights switched into a TF1 cond branch. Without the pass, full int8
    gives those convs asymmetric weights that LiteRT refuses; with it they quantize per
    channel and the model runs."""
    from graphport.commands.tflite import convert_tflite
    from graphport.errors import ConversionError

    model = FIXTURES / "cond_conv.pb"
    prepared = prepare_graph(read_graph_def(model))
    fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
    after, results = run_pipeline(edit.copy_graph(prepared.graph), [PassCall("branch_constants")],
                                  fetches)
    assert results[0].matched == results[0].changed == 3
    assert not available()["branch_constants"]().matches(NodeIndex.of(after))
    rng = np.random.default_rng(4)
    for x in (rng.uniform(0, 1, (1, 12, 12, 3)), -rng.uniform(0, 1, (1, 12, 12, 3))):
        feeds = {"input:0": x.astype(np.float32)}  # the second takes the other branch
        expected, got = _outputs(prepared.graph, feeds, fetches), _outputs(after, feeds, fetches)
        np.testing.assert_array_equal(got[0], expected[0])
    calib = tmp_path / "calib.npz"
    np.savez(calib, input=rng.uniform(0, 1, (20, 1, 12, 12, 3)).astype(np.float32))
    with pytest.raises(ConversionError, match="zero_point"):
        convert_tflite(model, tmp_path / "raw.tflite", mode="int8",
                       calibration=CalibrationSpec(str(calib)), graph=GraphSpec(passes=[]),
                       size_ratio=False)
    result = convert_tflite(model, tmp_path / "fixed.tflite", mode="int8",
                            calibration=CalibrationSpec(str(calib)), size_ratio=False)
    convs = [r for r in result.operators if r["op"] == "CONV_2D"]
    assert len(convs) == 2 and all(r["compute"] == "int8" and r["subgraph"] > 0 for r in convs)
    assert result.parity["outputs"][0]["cosine"] > 0.999


def test_registry_and_names() -> None:
    assert set(DEFAULT_PIPELINE) <= set(available())
    assert [c.name for c in resolve(None, TFLITE)] == list(DEFAULT_PIPELINE)
    from graphport.errors import UserError

    with pytest.raises(UserError, match="unknown nope"):
        resolve(["nope"], TFLITE)


def _mtcnn_faces(path: str, image: np.ndarray) -> dict[str, np.ndarray]:
    from graphport.verify.tflite_runner import TFLiteRunner

    runner = TFLiteRunner(Path(path).read_bytes())
    return runner({"input": image, "thresholds": np.array([0.6, 0.7, 0.7], np.float32)})


@pytest.mark.parametrize("shapes", [None, {"input": "310,498,3"}])
def test_mtcnn_becomes_builtin_only_and_finds_the_reference_faces(
        mtcnn: Path, faces_bgr: np.ndarray, tmp_path: Path, shapes: dict | None) -> None:
    from graphport.commands.tflite import convert_tflite

    result = convert_tflite(mtcnn, tmp_path / "mtcnn.tflite", graph=GraphSpec(
        ["input", "thresholds"], set_values={"min_size": "40", "factor": "0.709"},
        input_shapes=shapes or {}), verify=VerifySpec(enabled=False))
    assert result.summary["flex"] == 0 and result.summary["custom"] == 0
    assert {"WHILE", "NON_MAX_SUPPRESSION_V4", "GATHER"} <= {r["op"] for r in result.operators}
    out = _mtcnn_faces(result.path, faces_bgr)
    reference = np.array(reference_faces())
    assert out["prob"].shape == (6,)
    np.testing.assert_allclose(out["box"], reference[:, 1:], atol=1.0)
    np.testing.assert_allclose(out["prob"], reference[:, 0], atol=1e-4)



def test_rewrite_command_writes_a_repaired_graph(mtcnn: Path, tmp_path: Path) -> None:
    target = tmp_path / "repaired.pb"
    result = run_cli("rewrite", mtcnn, "-o", target, "--inputs", "input,thresholds", "--set",
                     "min_size=40", "--set", "factor=0.709", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    changed = {r["name"]: r["changed"] for r in data["rewrites"]}
    assert changed["tensor_array_to_concat"] == 3 and changed["nms_v4"] == 4
    assert changed["crop_and_resize"] == 2
    repaired = read_graph_def(target)
    assert not {"CropAndResize", "NonMaxSuppressionV2", "TensorArrayV3"} & \
        {n.op for n in repaired.node}
    table = run_cli("rewrite", mtcnn, "-o", target, "--overwrite", "--passes", "nms_v4",
                    "--set", "min_size=40", "--set", "factor=0.709")
    assert table.returncode == 0 and "nms_v4" in table.stdout and "Graph repairs" in table.stdout
