"""`graphport inspect` on the real MTCNN graph, our fixtures, SavedModels and .tflite files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

from graphport.backend.runtime import tensorflow
from graphport.commands.inspect import inspect_model


def _io(entries: list[dict]) -> list[tuple]:
    return [(e["name"], e["dtype"], e["shape"]) for e in entries]


def test_mtcnn_inputs_and_outputs_exactly(mtcnn: Path) -> None:
    data = inspect_model(mtcnn)
    assert data["format"] == "graphdef"
    # producer 0: the scalars' `shape {}` is "unknown" to TensorFlow, and so to graphport; only
    # elementwise ops read them, so a scalar is what gets generated for them
    assert _io(data["inputs"]) == [("input", "float", [-1, -1, 3]), ("min_size", "float", None),
                                   ("thresholds", "float", [3]), ("factor", "float", None)]
    assert [i["example_shape"] for i in data["inputs"]] == [None, [], None, []]
    assert [o["name"] for o in data["outputs"]] == ["prob", "landmarks", "box"]
    assert all(o["op"] == "Identity" and o["dtype"] == "float" for o in data["outputs"])
    assert data["control_flow"]["style"] == "tf1"
    assert data["control_flow"]["while_loops"] == 1
    assert data["unsafe_ops"] == [] and data["unregistered_ops"] == []
    assert not any(w["level"] == "error" for w in data["warnings"])


@pytest.mark.tf
def test_mtcnn_counts_match_tensorflow(mtcnn: Path) -> None:
    """Op histogram and constant sizes against TensorFlow's own parser and tf.make_ndarray."""
    tf = tensorflow()
    graph = tf.compat.v1.GraphDef.FromString(mtcnn.read_bytes())
    data = inspect_model(mtcnn)
    assert data["ops"] == dict(Counter(n.op for n in graph.node))
    assert data["node_count"] == len(graph.node)
    consts = [tf.make_ndarray(n.attr["value"].tensor) for n in graph.node if n.op == "Const"]
    assert data["params"]["count"] == sum(c.size for c in consts)
    assert data["params"]["bytes"] == sum(c.nbytes for c in consts)
    float_bytes = sum(c.nbytes for c in consts if c.dtype == np.float32)
    assert data["params"]["by_dtype"]["float"]["bytes"] == float_bytes
    largest = max((c.nbytes, n.name) for c, n in zip(
        consts, [n for n in graph.node if n.op == "Const"], strict=True))
    assert data["largest_constants"][0]["name"] == largest[1] == "onet/conv5/weights"
    assert data["largest_constants"][0]["shape"] == [3, 3, 128, 256]


def test_digits_fixture_fields() -> None:
    data = inspect_model(FIXTURES / "digits_cnn.pb")
    sidecar = json.loads((FIXTURES / "digits_cnn.json").read_text())
    assert [i["name"] for i in data["inputs"]] == [i["name"] for i in sidecar["inputs"]]
    assert [o["name"] for o in data["outputs"]] == ["probs"]
    keep = next(i for i in data["inputs"] if i["name"] == "keep_prob")
    assert keep["op"] == "PlaceholderWithDefault"
    assert keep["default"] == 1.0 and keep["training_knob"]
    assert data["inputs"][0]["shape"] == [-1, 28, 28, 1]
    assert data["largest_constants"][0]["name"] == "fc1/weights"
    assert data["largest_constants"][0]["bytes"] == 784 * 128 * 4
    assert data["producer"] > 0
    assert data["control_flow"]["style"] == "none"
    assert any(w["code"] == "training_knob" for w in data["warnings"])
    assert data["next_command"].startswith("graphport to-savedmodel")


def test_pbtxt_is_detected_by_content_and_matches_pb(tmp_path: Path) -> None:
    text_copy = tmp_path / "pyramid.bin"  # the extension says nothing
    text_copy.write_bytes((FIXTURES / "pyramid.pbtxt").read_bytes())
    from_text = inspect_model(text_copy)
    from_binary = inspect_model(FIXTURES / "pyramid.pb")
    assert from_text["format"] == "graphdef_text"
    for key in ("inputs", "outputs", "ops", "params", "control_flow"):
        assert from_text[key] == from_binary[key]
    assert _io(from_binary["inputs"])[0] == ("image", "float", [-1, -1, 3])
    assert [o["name"] for o in from_binary["outputs"]] == ["pyramid", "count"]
    assert from_binary["control_flow"]["tf1_ops"]["LoopCond"] == 1


def test_graph_without_placeholder_shows_cut_points() -> None:
    data = inspect_model(FIXTURES / "input_pipeline.pb")
    assert data["inputs"] == []
    assert data["cut_points"] == ["batch:0"]
    assert [o["name"] for o in data["outputs"]] == ["scores"]
    assert any(w["code"] == "no_placeholder" and "batch:0" in w["message"]
               for w in data["warnings"])
    assert "--inputs batch:0" in data["next_command"]


def test_unsafe_unfrozen_and_custom_ops_are_reported() -> None:
    unsafe = inspect_model(FIXTURES / "unsafe_writefile.pb")
    assert unsafe["unsafe_ops"] == [{"name": "write_marker", "op": "WriteFile", "kind": "file",
                                     "names": "filename='graphport_unsafe_marker.txt'"}]
    unfrozen = inspect_model(FIXTURES / "unfrozen.pb")
    assert unfrozen["variables"] and unfrozen["warnings"][0]["level"] == "error"
    assert unfrozen["warnings"][0]["code"] == "not_frozen"
    custom = inspect_model(FIXTURES / "custom_op.pbtxt")
    assert custom["unregistered_ops"] == ["GraphportTestCustomOp"]
    assert custom["warnings"][0]["code"] == "unregistered_ops"


def test_bool_switch_without_default_gets_a_set_suggestion() -> None:
    data = inspect_model(FIXTURES / "cond_training.pb")
    knob = next(i for i in data["inputs"] if i["name"] == "is_training")
    assert knob["training_knob"] and knob["dtype"] == "bool" and knob["shape"] == []
    assert "--set is_training=false" in data["next_command"]
    assert "--inputs x " in data["next_command"]


@pytest.mark.tf
def test_saved_model_directory(digits_savedmodel: Path) -> None:
    data = inspect_model(digits_savedmodel)
    assert data["format"] == "saved_model"
    assert data["signature"] == "serving_default"
    assert [(i["key"], i["dtype"], i["shape"]) for i in data["inputs"]] == [
        ("input", "float", [-1, 28, 28, 1])]
    assert [o["key"] for o in data["outputs"]] == ["probs"]
    assert data["meta_graphs"][0]["tags"] == ["serve"]
    assert data["unsafe_ops"] == []  # the loader's own SaveV2/RestoreV2 do not count
    assert data["next_command"] == f"graphport tflite {digits_savedmodel}"


@pytest.mark.tf
def test_tflite_file_against_the_interpreter(digits_tflite: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    data = inspect_model(digits_tflite)
    interpreter = Interpreter(model_path=str(digits_tflite))
    ops = Counter(op["op_name"] for op in interpreter._get_ops_details())
    assert data["format"] == "tflite"
    assert data["ops"] == dict(ops)
    details = interpreter.get_input_details()[0]
    assert data["inputs"][0]["shape"] == [int(d) for d in details["shape_signature"]]
    assert data["inputs"][0]["dtype"] == "float32"
    assert data["flex_ops"] == [] and data["size_bytes"] == digits_tflite.stat().st_size
    assert list(data["signatures"]) == ["serving_default"]


@pytest.mark.tf
def test_check_tflite_on_mtcnn_names_the_select_ops(mtcnn: Path) -> None:
    support = inspect_model(mtcnn, check_tflite=True)["tflite_support"]
    assert not support["builtin_only"]
    select = sorted(op for op, status in support["ops"].items() if status == "needs TF Select")
    assert select == ["CropAndResize", "NonMaxSuppressionV2", "TensorArrayConcatV3",
                      "TensorArrayV3", "TensorArrayWriteV3"]
    assert support["ops"]["Conv2D"] == "builtin"
    assert support["repairs"]["CropAndResize"] == "crop_and_resize"
    assert support["repairs"]["TensorArrayV3"] == "tensor_array_to_concat"
    assert support["after_repairs"]["builtin_only"]


@pytest.mark.tf
def test_check_tflite_on_a_builtin_graph() -> None:
    support = inspect_model(FIXTURES / "resnet_v2_small.pb", check_tflite=True)["tflite_support"]
    assert support["builtin_only"] and support["error"] is None
    assert set(support["ops"].values()) == {"builtin"}


def test_cli_json_has_the_documented_keys(mtcnn: Path) -> None:
    result = run_cli("inspect", "--json", mtcnn)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("format", "inputs", "outputs", "ops", "params", "control_flow", "unsafe_ops",
                "warnings"):
        assert key in data


def test_cli_tables(mtcnn: Path) -> None:
    result = run_cli("inspect", mtcnn)
    assert result.returncode == 0
    for text in ("Inputs", "thresholds", "Outputs", "landmarks", "NonMaxSuppressionV2",
                 "onet/conv5/weights", "graphport to-savedmodel"):
        assert text in result.stdout


# ------------------------------------------------------------------ bad input

def _bad_files(tmp: Path, mtcnn: Path, saved_model: Path) -> list[tuple[Path, str]]:
    data = mtcnn.read_bytes()
    rng = np.random.default_rng(7)
    cases = [(tmp / "empty.pb", b"", "is empty"),
             (tmp / "random.pb", rng.bytes(4096), "not a TensorFlow GraphDef")]
    for fraction in (0.1, 0.5, 0.9, 0.999):
        cases.append((tmp / f"truncated_{fraction}.pb", data[: int(len(data) * fraction)],
                      "not a TensorFlow GraphDef"))
    cases.append((tmp / "syntax.pbtxt", b'node { name: "x" op: ', "invalid text GraphDef"))
    written = []
    for path, content, message in cases:
        path.write_bytes(content)
        written.append((path, message))
    written.append((saved_model / "saved_model.pb", "pass the SavedModel directory"))
    written.append((tmp, "not a SavedModel"))
    written.append((tmp / "missing.pb", "no such file"))
    return written


@pytest.mark.tf
def test_bad_inputs_get_one_line_errors(tmp_path: Path, mtcnn: Path,
                                        digits_savedmodel: Path) -> None:
    for path, message in _bad_files(tmp_path, mtcnn, digits_savedmodel):
        result = run_cli("inspect", path)
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert lines[0].startswith("error: ") and str(path) in lines[0], (path, lines)
        assert len(lines) <= 2 and message in result.stderr, (path, lines)
        assert all(line.startswith(("error: ", "hint: ")) for line in lines)


def test_unreadable_file(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    path = tmp_path / "secret.pb"
    path.write_bytes((FIXTURES / "pyramid.pb").read_bytes())
    path.chmod(0)
    command = [sys.executable, "-m", "graphport", "inspect", str(path)]
    if os.geteuid() == 0:  # root reads anything: drop to nobody, as a real user would be
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test permissions as root"
        command = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        tmp_path.chmod(0o755)
        for parent in tmp_path.parents:
            if parent == Path("/tmp") or parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "permission denied" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["digits_cnn.pb", "pyramid.pb", "resnet_v2_small.pb"])
def test_fixture_sidecars_agree_with_inspect(name: str) -> None:
    data = inspect_model(FIXTURES / name)
    sidecar = json.loads((FIXTURES / name.replace(".pb", ".json")).read_text())
    assert [o["name"] for o in data["outputs"]] == [o["name"] for o in sidecar["outputs"]]
    assert [i["name"] for i in data["inputs"]] == [i["name"] for i in sidecar["inputs"]]


def test_object_detection_exports_are_recognised_by_pattern(ssd: Path) -> None:
    data = inspect_model(ssd)
    assert data["object_detection"] == {
        "family": "Object Detection API SSD export", "image": "image_tensor",
        "image_size": "256x256", "nms": ["NonMaxSuppressionV2"], "classes": 3,
        "iou_threshold": 0.6, "score_threshold": 1e-08, "per_class": 100,
        "score_conversion": "sigmoid", "box_scales": [10.0, 10.0, 5.0, 5.0], "anchors": 1278}
    assert data["next_command"] == f"graphport tflite {ssd}"
    resized = inspect_model(FIXTURES / "ssd_resize_inside.pb")["object_detection"]
    assert resized["image_size"] == "dynamic, resized to 32x32 inside"
    assert inspect_model(FIXTURES / "ssd_softmax.pb")["object_detection"][
        "score_conversion"] == "softmax"
    assert inspect_model(FIXTURES / "map_fn_nms.pb")["object_detection"] is None  # NMS alone


@pytest.mark.parametrize("name, nms, anchors", [
    ("od_ssd_v3_dynamic", ["NonMaxSuppressionV3"], 160),
    ("od_ssd_v5_dynamic", ["NonMaxSuppressionV5"], 160),
    ("tflite_graph_qat", ["fast"], 160)])
def test_every_detector_vintage_gives_its_anchor_count(name: str, nms: list[str],
                                                       anchors: int) -> None:
    """Without TensorFlow and without running: the dynamic exports' sizes are carried from
    the resize inside their preprocessing loop through the convolutions (graph/spatial.py);
    a tflite_graph.pb holds its anchors as a constant (the conversions measure the same 160)."""
    data = inspect_model(FIXTURES / f"{name}.pb")
    found = data["object_detection"]
    assert found["anchors"] == anchors and found["nms"] == nms and found["classes"] == 3
    assert data["next_command"] == f"graphport tflite {FIXTURES / f'{name}.pb'}"
    assert any("160 anchors" in w["message"] for w in data["warnings"])
