"""`graphport to-savedmodel`: signatures, pinned values, cuts, shapes, parity and safety."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, reference_faces, run_cli

from graphport.backend.runtime import tensorflow
from graphport.backend.tf_graph import run_graph, to_tf
from graphport.commands.to_savedmodel import run_saved_model, to_savedmodel
from graphport.errors import ConversionError, UserError
from graphport.graph import edit
from graphport.graph.load import read_graph_def
from graphport.spec.options import GraphSpec, VerifySpec

pytestmark = pytest.mark.tf

MTCNN_SPEC = GraphSpec(["input", "thresholds"], set_values={"min_size": "40", "factor": "0.709"})


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_mtcnn_returns_the_reference_faces(mtcnn: Path, faces_bgr: np.ndarray,
                                           tmp_path: Path) -> None:
    target = tmp_path / "mtcnn_sm"
    result = to_savedmodel(mtcnn, target, MTCNN_SPEC, VerifySpec(given={"input": str(
        _save(tmp_path / "faces.npy", faces_bgr))}))
    assert result.verified and all(p.ok for p in result.parity)
    assert [i["key"] for i in result.inputs] == ["input", "thresholds"]
    assert result.pinned == {"min_size": 40.0, "factor": 0.709}
    out = run_saved_model(target, "serving_default",
                          {"input": faces_bgr, "thresholds": np.array([0.6, 0.7, 0.7],
                                                                      np.float32)})
    reference = np.array(reference_faces())
    assert len(reference) == 6 and out["prob"].shape == (6,)
    np.testing.assert_allclose(out["box"], reference[:, 1:], atol=1e-3)
    np.testing.assert_allclose(out["prob"], reference[:, 0], atol=1e-6)
    assert out["landmarks"].shape == (6, 10)


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_mtcnn_signature_loads_everywhere(mtcnn: Path, tmp_path: Path) -> None:
    """tf.saved_model.load, saved_model_cli and the TFLite converter all accept the result."""
    tf = tensorflow()
    target = tmp_path / "sm"
    to_savedmodel(mtcnn, target, MTCNN_SPEC, VerifySpec(enabled=False))
    signature = tf.saved_model.load(str(target)).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["input", "thresholds"]
    assert sorted(signature.structured_outputs) == ["box", "landmarks", "prob"]
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run([str(cli), "show", "--dir", str(target), "--all"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "inputs['thresholds']" in shown.stdout and "outputs['box']" in shown.stdout
    converter = tf.lite.TFLiteConverter.from_saved_model(str(target))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    assert len(converter.convert()) > 1_000_000


def test_missing_values_are_named_with_flags(mtcnn: Path, tmp_path: Path) -> None:
    target = tmp_path / "sm"
    with pytest.raises(UserError) as caught:
        to_savedmodel(mtcnn, target, GraphSpec(["input", "thresholds"]))
    assert "min_size (float <unknown rank>)" in caught.value.message  # as TF reads producer 0
    assert "factor (float <unknown rank>)" in caught.value.message
    assert "GraphSpec.set_values min_size=... GraphSpec.set_values factor=..." in caught.value.hint
    assert not target.exists()
    result = run_cli("to-savedmodel", mtcnn, "--inputs", "input,thresholds", "-o", target)
    assert result.returncode == 2 and "--set min_size=" in result.stderr
    assert "Traceback" not in result.stderr and not target.exists()


def test_all_inputs_by_default_on_the_loop_graph(tmp_path: Path) -> None:
    result = to_savedmodel(FIXTURES / "pyramid.pb", tmp_path / "sm")
    assert [i["key"] for i in result.inputs] == ["image", "min_size", "factor", "thresholds"]
    assert [o["key"] for o in result.outputs] == ["pyramid", "count"]
    assert all(p.ok for p in result.parity)
    assert any("image: random float of shape [64, 64, 3]" in n for n in result.sample_notes)


def test_subset_with_scalar_list_and_npy_values(tmp_path: Path) -> None:
    thresholds = _save(tmp_path / "t.npy", np.array([0.01, 0.5, 0.5], np.float32))
    result = to_savedmodel(FIXTURES / "pyramid.pb", tmp_path / "sm", GraphSpec(
        ["image"], set_values={"min_size": "20", "factor": "0.5", "thresholds": f"@{thresholds}"}))
    assert result.pinned == {"min_size": 20.0, "factor": 0.5, "thresholds": [0.01, 0.5, 0.5]}
    image = np.random.default_rng(1).random((48, 40, 3)).astype(np.float32)
    got = run_saved_model(tmp_path / "sm", "serving_default", {"image": image})
    expected = run_graph(to_tf(read_graph_def(FIXTURES / "pyramid.pb")),
                         {"image:0": image, "min_size:0": np.float32(20),
                          "factor:0": np.float32(0.5),
                          "thresholds:0": np.array([0.01, 0.5, 0.5], np.float32)},
                         ["pyramid:0", "count:0"])
    np.testing.assert_array_equal(got["pyramid"], expected[0])
    assert got["count"] == expected[1]
    assert got["pyramid"].shape[0] >= 2  # the loop really ran more than once
    # a list value for thresholds works the same as the .npy
    listed = to_savedmodel(FIXTURES / "pyramid.pb", tmp_path / "sm2", GraphSpec(
        ["image"], set_values={"min_size": "20", "factor": "0.5", "thresholds": "0.01,0.5,0.5"}))
    assert listed.pinned["thresholds"] == [0.01, 0.5, 0.5]


def test_bool_switch_pinned_false_in_a_tf1_cond(tmp_path: Path) -> None:
    result = to_savedmodel(FIXTURES / "cond_training.pb", tmp_path / "sm",
                           GraphSpec(set_values={"is_training": "false"}))
    assert [i["key"] for i in result.inputs] == ["x"]
    assert result.pinned == {"is_training": False}
    x = np.random.default_rng(2).random((5, 4)).astype(np.float32)
    got = run_saved_model(tmp_path / "sm", "serving_default", {"x": x})["logits"]
    graph = to_tf(read_graph_def(FIXTURES / "cond_training.pb"))
    inference, training = (run_graph(graph, {"x:0": x, "is_training:0": flag}, ["logits:0"])[0]
                           for flag in (False, True))
    np.testing.assert_array_equal(got, inference)
    assert not np.allclose(got, training)  # the pin chose a branch that matters


def test_wrong_values_are_user_errors(tmp_path: Path) -> None:
    cases = [({"is_training": "maybe"}, "is not a bool"),
             ({"is_training": "true,false"}, "value has shape [2]"),
             ({"nope": "1"}, "no node named 'nope'")]
    for values, message in cases:
        with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
            to_savedmodel(FIXTURES / "cond_training.pb", tmp_path / "sm",
                          GraphSpec(set_values=values))
    with pytest.raises(UserError) as caught:
        to_savedmodel(FIXTURES / "cond_training.pb", tmp_path / "sm",
                      GraphSpec(["xx"], set_values={"is_training": "0"}))
    assert "did you mean x" in caught.value.hint
    assert _leftovers(tmp_path) == []


def test_cut_at_a_queue_output(tmp_path: Path) -> None:
    result = to_savedmodel(FIXTURES / "input_pipeline.pb", tmp_path / "sm", GraphSpec(["batch:0"]))
    assert result.inputs == [{"key": "batch", "tensor": "batch:0", "dtype": "float",
                              "shape": [2, 4]}]
    batch = np.random.default_rng(3).random((2, 4)).astype(np.float32)
    got = run_saved_model(tmp_path / "sm", "serving_default", {"batch": batch})["scores"]
    expected = run_graph(to_tf(read_graph_def(FIXTURES / "input_pipeline.pb")),
                         {"batch:0": batch}, ["scores:0"])[0]
    np.testing.assert_array_equal(got, expected)
    ops = json.loads(run_cli("inspect", "--json", tmp_path / "sm").stdout)["function_ops"]
    assert not any("Queue" in op for op in ops)  # the pipeline was dropped


def test_input_shapes_fix_and_contradict(mtcnn: Path, tmp_path: Path) -> None:
    result = to_savedmodel(mtcnn, tmp_path / "sm",
                           replace(MTCNN_SPEC, input_shapes={"input": "310,?,3"}),
                           VerifySpec(enabled=False))
    assert result.inputs[0]["shape"] == [310, -1, 3]
    tf = tensorflow()
    spec = tf.saved_model.load(str(tmp_path / "sm")).signatures[
        "serving_default"].structured_input_signature[1]["input"]
    assert spec.shape.as_list() == [310, None, 3]
    for shape, message in (("1,310,498,3", "rank 4 given"), ("310,498,4", "contradicts")):
        with pytest.raises(UserError, match=message):
            to_savedmodel(mtcnn, tmp_path / "bad",
                          replace(MTCNN_SPEC, input_shapes={"input": shape}))
    assert not (tmp_path / "bad").exists()


def test_parity_failure_is_caught_and_nothing_is_left(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real_prune = edit.prune

    def corrupting_prune(graph: object, fetches: list[str]) -> object:
        pruned = real_prune(graph, fetches)
        for node in pruned.node:  # a wrong edit: scale the first dense layer's weights
            if node.name == "fc1/weights":
                tensor = node.attr["value"].tensor
                values = np.frombuffer(tensor.tensor_content, np.float32) * 1.5
                tensor.tensor_content = values.astype(np.float32).tobytes()
        return pruned

    monkeypatch.setattr(edit, "prune", corrupting_prune)
    target = tmp_path / "sm"
    with pytest.raises(ConversionError, match=r"verification failed.*probs"):
        to_savedmodel(FIXTURES / "digits_cnn.pb", target)
    assert _leftovers(tmp_path) == []


def test_unsafe_graph_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "graphport_unsafe_marker.txt"
    for extra in ([], ["--no-verify"]):
        result = run_cli("to-savedmodel", FIXTURES / "unsafe_writefile.pb", "-o", "out", *extra,
                         cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "write_marker (WriteFile: file filename='graphport_unsafe_marker.txt')" \
            in result.stderr
        assert "--allow-unsafe-ops" in result.stderr
        assert not marker.exists() and not (tmp_path / "out").exists()
    allowed = run_cli("to-savedmodel", FIXTURES / "unsafe_writefile.pb", "-o", "out",
                      "--allow-unsafe-ops", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert marker.exists()  # the flag really lets it run (and proves the refusal mattered)


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "sm"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        to_savedmodel(FIXTURES / "resnet_v2_small.pb", target)
    assert (target / "keep.txt").exists()
    # a folder graphport did not write is never replaced, even with --overwrite
    with pytest.raises(UserError, match="left untouched"):
        to_savedmodel(FIXTURES / "resnet_v2_small.pb", target, overwrite=True)
    assert _leftovers(target) == ["keep.txt"]
    (target / "keep.txt").unlink()
    to_savedmodel(FIXTURES / "resnet_v2_small.pb", tmp_path / "sm2")
    to_savedmodel(FIXTURES / "resnet_v2_small.pb", tmp_path / "sm2", overwrite=True)  # its own
    assert (tmp_path / "sm2" / "saved_model.pb").exists()
    assert _leftovers(tmp_path) == ["sm", "sm2"]


def test_cli_json_summary(tmp_path: Path) -> None:
    result = run_cli("to-savedmodel", FIXTURES / "digits_cnn.pb", "-o", tmp_path / "sm",
                     "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["signature"] == "serving_default" and data["verified"]
    assert data["inputs"][0]["key"] == "input"
    assert any("keep_prob" in note for note in data["notes"])
    assert data["parity"][0]["key"] == "probs" and data["parity"][0]["ok"]


def test_image_sample_in_bgr_order(mtcnn: Path, tmp_path: Path) -> None:
    """--sample with an image file and --bgr feeds what MTCNN expects: 6 faces, else 5."""
    from conftest import FACES

    shapes = {}
    for bgr in (True, False):
        result = to_savedmodel(mtcnn, tmp_path / f"sm_{bgr}", MTCNN_SPEC, VerifySpec(
            given={"input": str(FACES), "thresholds": "0.6,0.7,0.7"}, bgr=bgr))
        assert all(p.ok for p in result.parity)
        shapes[bgr] = next(p.shape for p in result.parity if p.key == "prob")
    assert shapes == {True: [6], False: [5]}
