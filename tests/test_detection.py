"""Object Detection API SSD exports to TFLite detection models (issue 14, the real graph): the
postprocessing loop becomes TFLite_Detection_PostProcess with the graph's own thresholds, and
the model finds the reference detections in ai-edge-litert."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import FACES, readme_table, run_cli

from graphport.backend.runtime import tensorflow
from graphport.verify.detections import DetectionKeys, match_detections

pytestmark = pytest.mark.tf

KEYS = DetectionKeys("detection_boxes", "detection_scores", "detection_classes",
                     "num_detections")


def _faces_256() -> np.ndarray:
    """faces.png as the shared README's reference: RGB, resized to 256x256 with TF2's
    bilinear resize, rounded to uint8."""
    tf = tensorflow()
    image = tf.io.decode_png(FACES.read_bytes(), channels=3)
    resized = tf.image.resize(tf.cast(image, tf.float32), (256, 256))
    return tf.cast(tf.round(resized), tf.uint8).numpy()[None]


def _run(path: Path, image: np.ndarray) -> dict[str, np.ndarray]:
    from graphport.verify.tflite_runner import TFLiteRunner

    return TFLiteRunner(path.read_bytes())({"image_tensor": image})


def test_float_model_finds_the_reference_detections(ssd: Path, tmp_path: Path) -> None:
    result = run_cli("tflite", ssd, "-o", tmp_path / "ssd.tflite", "--json", "--no-size-ratio",
                     "--sample", f"image_tensor={FACES}")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["flex"] == 0 and data["summary"]["custom_ops"] == [
        "TFLite_Detection_PostProcess"]
    assert data["summary"]["custom"] == 1
    assert data["parity"]["verdict"] == "match"  # all 100 detections, to float rounding
    step = next(r for r in data["rewrites"] if r["name"] == "detection_postprocess")
    assert step["changed"] == 1 and "IoU > 0.6" in step["notes"][0]
    assert "3 classes" in step["notes"][0] and "1278 anchors" in step["notes"][0]

    out = _run(tmp_path / "ssd.tflite", _faces_256())
    reference = np.array(readme_table("ssd_mobilenet_aiy_256.pb", 6))
    scores = out["detection_scores"][0]
    kept = scores >= 0.3
    assert kept.sum() == len(reference) == 8
    np.testing.assert_allclose(scores[kept], reference[:, 0], atol=1e-4)
    np.testing.assert_allclose(out["detection_boxes"][0][kept], reference[:, 1:], atol=1e-4)
    assert set(out["detection_classes"][0][kept].tolist()) == {1.0}  # persons, 1-based
    assert out["num_detections"][0] == 100


def test_int8_with_uint8_io_finds_the_same_detections(ssd: Path, tmp_path: Path) -> None:
    """300 detections in all (100 per class): the cats and dogs (classes 2, 3) come after
    the persons."""
    calib = tmp_path / "calib"
    calib.mkdir()
    shutil.copy(FACES, calib / "faces.png")
    target = tmp_path / "ssd8.tflite"
    result = run_cli("tflite", ssd, "--int8", "--calib", calib, "--io", "uint8", "-o", target,
                     "--json", "--sample", f"image_tensor={FACES}", "--max-detections", "300")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ratio_to_float"] < 0.5 and data["summary"]["flex"] == 0  # measured 0.47
    at_03 = data["parity"]["detections"][0]
    assert at_03["threshold"] == 0.3 and at_03["matched"] == at_03["reference"] == 8
    assert at_03["missing"] == 0 and at_03["extra"] == 0
    assert data["parity"]["verdict"] == "within tolerance"

    from graphport.verify.tflite_runner import TFLiteRunner

    runner = TFLiteRunner(target.read_bytes())
    assert np.dtype(runner.input_details["image_tensor"]["dtype"]) == np.uint8
    # class ids and the count stay float: at uint8's 1/255 steps classes 2 and 3 would read
    # as 1.0 (issue 24), so the outputs keep float32 and the report says why
    for key in ("detection_classes", "num_detections", "detection_boxes"):
        assert np.dtype(runner.output_details[key]["dtype"]) == np.float32, key
    assert any("class ids and a count" in note for note in data["notes"])
    image = _faces_256()
    reference = np.array(readme_table("ssd_mobilenet_aiy_256.pb", 6))
    expected = {"detection_boxes": reference[None, :, 1:],
                "detection_scores": reference[None, :, 0],
                "detection_classes": np.ones((1, 8)), "num_detections": np.array([8.0])}
    out = runner({"image_tensor": image})
    [found] = match_detections([expected], [out], KEYS, (0.3,))
    assert found.matched == 8  # IoU >= 0.5, same class
    ids = out["detection_classes"][0][:int(out["num_detections"][0])]
    assert sorted(set(ids.tolist())) == [1.0, 2.0, 3.0]  # persons, cats, dogs: ids intact


def test_output_type_is_refused_on_a_detector(ssd: Path, tmp_path: Path) -> None:
    """--output-type asks for integer class ids: refused, nothing written; --io keeps float
    outputs and says so (above)."""
    result = run_cli("tflite", ssd, "--int8", "--calib", "random", "--output-type", "uint8",
                     "-o", tmp_path / "m.tflite")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("error: --output-type uint8: this model "
                                                    "returns class ids")
    assert list(tmp_path.iterdir()) == []


def test_tflite_layout_gives_zero_based_classes(ssd: Path, tmp_path: Path) -> None:
    target = tmp_path / "ssd.tflite"
    result = run_cli("tflite", ssd, "-o", target, "--no-verify", "--no-size-ratio", "--passes",
                     "fold_constants,strip_training_leftovers,"
                     "detection_postprocess(classes=tflite,nms=fast,max_detections=10)")
    assert result.returncode == 0, result.stderr
    out = _run(target, _faces_256())
    assert out["detection_scores"].shape == (1, 10)
    assert out["detection_classes"][0][out["detection_scores"][0] >= 0.3].max() == 0.0


def test_savedmodel_export_keeps_the_original_graph(ssd: Path, tmp_path: Path) -> None:
    result = run_cli("to-savedmodel", ssd, "-o", tmp_path / "sm", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "match"
    assert [i["dtype"] for i in data["inputs"]] == ["uint8"]
    assert sorted(o["key"] for o in data["outputs"]) == [
        "detection_boxes", "detection_classes", "detection_scores", "num_detections"]
    assert all(r["name"] != "detection_postprocess" for r in data["rewrites"])


@pytest.mark.parametrize("name", ["ssd_nms_v3", "ssd_resize_inside", "ssd_sigmoid_first",
                                  "ssd_softmax"])
def test_other_export_shapes_convert_and_match(name: str, tmp_path: Path) -> None:
    """NMS V3 with its score threshold input, a dynamic input resized inside the preprocessing
    loop, sigmoid before the background slice, softmax scores: each becomes a builtin-only
    model plus the detection op, and finds the graph's detections on 16 images."""
    from conftest import FIXTURES

    result = run_cli("tflite", FIXTURES / f"{name}.pb", "-o", tmp_path / "m.tflite", "--json",
                     "--no-size-ratio")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["flex"] == 0
    assert data["summary"]["custom_ops"] == ["TFLite_Detection_PostProcess"]
    assert data["parity"]["verdict"] == "match"
    for at in data["parity"]["detections"]:
        assert at["reference"] > 0 and at["matched"] == at["reference"] and at["extra"] == 0
        assert at["worst_box"] < 1e-5
    note = next(r for r in data["rewrites"] if r["name"] == "detection_postprocess")["notes"][0]
    assert "2 classes" in note and "score >= 0.05 kept" in note and "5 per class" in note
    if name == "ssd_resize_inside":  # the caller resizes: the model takes the resized pixels
        assert "input image_tensor: float pixels [1, 32, 32, 3] (the graph resized inside, " \
            "bilinear" in note


def test_detection_options_on_the_command_line(ssd: Path, tmp_path: Path) -> None:
    target = tmp_path / "fast.tflite"
    result = run_cli("tflite", ssd, "-o", target, "--no-verify", "--no-size-ratio", "--nms",
                     "fast", "--max-detections", "10", "--detection-classes", "tflite",
                     "--json")
    assert result.returncode == 0, result.stderr
    note = next(r for r in json.loads(result.stdout)["rewrites"]
                if r["name"] == "detection_postprocess")["notes"][0]
    assert "fast NMS" in note and "10 in all" in note and "0-based" in note
    out = _run(target, _faces_256())
    assert out["detection_scores"].shape == (1, 10)
    from conftest import FIXTURES

    ignored = run_cli("tflite", FIXTURES / "digits_cnn.pb", "-o", tmp_path / "d.tflite",
                      "--nms", "fast", "--no-verify", "--no-size-ratio", "--json")
    assert ignored.returncode == 0, ignored.stderr
    assert any("had no effect" in w for w in json.loads(ignored.stdout)["warnings"])


# ------------------------------------------------ Object Detection API exports of other vintages

OD_VINTAGES = {"od_ssd_v3_dynamic": [], "od_ssd_v5_dynamic": ["raw_detection_boxes",
                                                              "raw_detection_scores"]}


@pytest.mark.parametrize("name", sorted(OD_VINTAGES))
def test_dynamic_input_exports_convert_with_no_options(name: str, tmp_path: Path) -> None:
    """image_tensor uint8 [?, ?, ?, 3] resized in a Preprocessor map_fn that erases every
    static shape after it (issue 25): the shapes come from a run, the loop is cut, NMS V3 /
    V5 become the detection op, and the float model finds the graph's detections. The TF 1.15
    exporter's raw boxes and scores stay; its multiclass scores are left out and said."""
    from conftest import FIXTURES

    result = run_cli("tflite", FIXTURES / f"{name}.pb", "-o", tmp_path / "m.tflite", "--json",
                     "--no-size-ratio")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["summary"]["flex"] == 0
    assert data["summary"]["custom_ops"] == ["TFLite_Detection_PostProcess"]
    assert data["parity"]["verdict"] == "match"
    for at in data["parity"]["detections"]:
        assert at["reference"] >= 100 and at["matched"] == at["reference"] and at["extra"] == 0
        assert at["worst_box"] < 1e-4
    keys = sorted(o["key"] for o in data["parity"]["outputs"])
    assert keys == sorted(["detection_boxes", "detection_classes", "detection_scores",
                           "num_detections", *OD_VINTAGES[name]])
    note = next(r for r in data["rewrites"] if r["name"] == "detection_postprocess")["notes"][0]
    assert "160 anchors, 3 classes" in note and "10 per class" in note
    assert "input image_tensor: float pixels [1, 64, 64, 3]" in note
    assert ("left out: detection_multiclass_scores" in note) == (name == "od_ssd_v5_dynamic")
    assert any("on one thread" in w for w in data["warnings"])


def test_dynamic_export_int8_with_uint8_io_keeps_the_objects(tmp_path: Path) -> None:
    from conftest import FIXTURES

    pixels = np.random.default_rng(5).integers(0, 256, (8, 1, 64, 64, 3)).astype(np.uint8)
    np.savez(tmp_path / "calib.npz", image_tensor=pixels)
    result = run_cli("tflite", FIXTURES / "od_ssd_v5_dynamic.pb", "--int8", "--calib",
                     tmp_path / "calib.npz", "--io", "uint8", "-o", tmp_path / "m.tflite",
                     "--json", "--no-size-ratio")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    at_05 = data["parity"]["detections"][1]
    assert at_05["reference"] >= 8 and at_05["matched"] >= 0.9 * at_05["reference"], at_05
    from graphport.verify.tflite_runner import TFLiteRunner

    runner = TFLiteRunner((tmp_path / "m.tflite").read_bytes())
    assert np.dtype(runner.input_details["image_tensor"]["dtype"]) == np.uint8
    assert np.dtype(runner.output_details["detection_classes"]["dtype"]) == np.float32


def test_litert_regular_nms_skips_a_class_on_threads(ssd: Path, tmp_path: Path) -> None:
    """Why graphport runs regular-NMS detection models on one thread: LiteRT's worker loop
    skips the class numbered by the thread count. When this fails, LiteRT has fixed it and
    REGULAR_NMS_NOTE and the one-thread rule can go."""
    from ai_edge_litert.interpreter import Interpreter

    from graphport.verify.tflite_runner import regular_nms_classes

    target = tmp_path / "ssd.tflite"
    result = run_cli("tflite", ssd, "-o", target, "--no-verify", "--no-size-ratio",
                     "--max-detections", "300")
    assert result.returncode == 0, result.stderr
    assert regular_nms_classes(target.read_bytes()) == 3
    found = {}
    for threads in (1, 2):
        interpreter = Interpreter(str(target), num_threads=threads)
        runner = interpreter.get_signature_runner()
        out = runner(image_tensor=_faces_256().astype(np.float32))
        found[threads] = set(out["detection_classes"][0][:int(out["num_detections"][0])])
    assert found[1] == {1.0, 2.0, 3.0} and found[2] == {1.0, 2.0}  # class index 2 lost


# ------------------------------------------------ tflite_graph.pb (export_tflite_ssd_graph.py)

def test_tflite_graph_converts_and_matches_a_reference_of_its_op(tmp_path: Path) -> None:
    """A graph that already holds TFLite_Detection_PostProcess: TensorFlow does not know the
    op, so the source runs with its TensorFlow twin (passes/detection_reference.py) and the
    four outputs are compared with it."""
    from conftest import FIXTURES

    result = run_cli("tflite", FIXTURES / "tflite_graph.pb", "-o", tmp_path / "m.tflite",
                     "--json", "--no-size-ratio")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["summary"]["custom_ops"] == ["TFLite_Detection_PostProcess"]
    assert data["parity"]["verdict"] == "match"
    at_03 = data["parity"]["detections"][0]
    assert at_03["reference"] >= 100 and at_03["matched"] == at_03["reference"]


def test_qat_tflite_graph_takes_the_toco_uint8_route(tmp_path: Path) -> None:
    """The 2019 notes' command (toco --inference_type=QUANTIZED_UINT8 --mean_values=128
    --std_values=128 --allow_custom_ops), reproduced: no calibration data, uint8 pixels in,
    float detections out, and the same detections as TensorFlow's own v1 converter gives."""
    import tensorflow as tf
    from conftest import FIXTURES

    graph = FIXTURES / "tflite_graph_qat.pb"
    result = run_cli("tflite", graph, "--int8", "--io", "uint8", "-o", tmp_path / "m.tflite",
                     "--json", "--no-size-ratio")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["summary"]["float"] == 0 and data["calibration"]["source"] == "graph"
    at_05 = data["parity"]["detections"][1]
    assert at_05["missing"] == 0 and at_05["extra"] == 0  # against the fake-quant graph
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(graph), ["normalized_input_image_tensor"],
        ["TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1",
         "TFLite_Detection_PostProcess:2", "TFLite_Detection_PostProcess:3"],
        {"normalized_input_image_tensor": [1, 64, 64, 3]})
    converter.inference_type = tf.uint8
    converter.quantized_input_stats = {"normalized_input_image_tensor": (127.5, 127.5)}
    converter.allow_custom_ops = True
    from ai_edge_litert.interpreter import Interpreter

    models = [Interpreter(str(tmp_path / "m.tflite"), num_threads=1),
              Interpreter(model_content=converter.convert(), num_threads=1)]
    for model in models:
        model.allocate_tensors()
        assert model.get_input_details()[0]["dtype"] == np.uint8
        scale, zero = model.get_input_details()[0]["quantization"]
        assert zero == 128 and scale == pytest.approx(1 / 127.5)  # mean and std 127.5
    keys = DetectionKeys("boxes", "scores", "classes", "count")
    runs: list[list[dict[str, np.ndarray]]] = [[], []]
    for seed in range(8):  # the uint8 codes themselves, as an app feeds them
        pixels = np.random.default_rng(seed).integers(0, 256, (1, 64, 64, 3)).astype(np.uint8)
        for model, found in zip(models, runs, strict=True):
            model.set_tensor(model.get_input_details()[0]["index"], pixels)
            model.invoke()
            found.append(dict(zip(("boxes", "classes", "scores", "count"),
                                  (model.get_tensor(d["index"])
                                   for d in model.get_output_details()), strict=True)))
    # measured: 77 of TensorFlow's 80 detections at 0.3 found again (the other 3 swapped for
    # near-equal ones), boxes within 0.011 and scores within 5/255
    [at_03] = match_detections(runs[1], runs[0], keys, (0.3,))
    assert at_03.reference >= 40 and at_03.matched >= 0.95 * at_03.reference, at_03
    assert at_03.worst_box is not None and at_03.worst_box < 0.02


def test_an_image_of_open_size_with_no_resize_inside_asks_for_one(tmp_path: Path) -> None:
    """No resize inside and an open image size: a sample run would fix anchors the model
    will not see at other sizes, so the pass stops and says to pin the size; pinned, it
    converts."""
    from conftest import FIXTURES

    from graphport.graph.load import read_graph_def

    graph = read_graph_def(FIXTURES / "ssd_nms_v3.pb")
    image = next(n for n in graph.node if n.name == "image_tensor")
    for k in (1, 2):
        image.attr["shape"].shape.dim[k].size = -1
    path = tmp_path / "open.pb"
    path.write_bytes(graph.SerializeToString())
    refused = run_cli("tflite", path, "-o", tmp_path / "m.tflite", "--no-verify")
    assert refused.returncode != 0 and not (tmp_path / "m.tflite").exists()
    repaired = run_cli("rewrite", path, "-o", tmp_path / "r.pb", "--json")
    notes = next(r for r in json.loads(repaired.stdout)["rewrites"]
                 if r["name"] == "detection_postprocess")["notes"]
    assert any("image size is open" in n and "--input-shapes" in n for n in notes), notes
    pinned = run_cli("tflite", path, "-o", tmp_path / "m.tflite", "--no-size-ratio", "--json",
                     "--input-shapes", "image_tensor:1,32,32,3")
    assert pinned.returncode == 0, pinned.stderr[-1500:]
    assert json.loads(pinned.stdout)["parity"]["verdict"] == "match"
