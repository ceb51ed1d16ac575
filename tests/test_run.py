"""`graphport run`: every format graphport reads, run on real inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FACES, FIXTURES, reference_faces, run_cli

from graphport.commands.run import run_model
from graphport.commands.tflite import convert_tflite
from graphport.errors import UserError
from graphport.spec.options import GraphSpec, VerifySpec

pytestmark = pytest.mark.tf
MTCNN_KNOBS = {"min_size": "40", "thresholds": "0.6,0.7,0.7", "factor": "0.709"}


def _boxes_match_reference(prob: np.ndarray, box: np.ndarray, atol: float) -> None:
    reference = np.array(reference_faces())
    assert prob.shape == (6,) and box.shape == (6, 4)
    order = np.argsort(-prob)
    np.testing.assert_allclose(prob[order], reference[:, 0], atol=1e-4)
    np.testing.assert_allclose(box[order], reference[:, 1:], atol=atol)


def test_mtcnn_on_faces_finds_the_six_reference_faces(mtcnn: Path, tmp_path: Path) -> None:
    result = run_model(mtcnn, {"input": str(FACES), **MTCNN_KNOBS}, bgr=True,
                       output=tmp_path / "faces.npz")
    assert result.kind == "frozen graph"
    outputs = result.arrays()
    _boxes_match_reference(outputs["prob"], outputs["box"], atol=1e-3)
    saved = np.load(tmp_path / "faces.npz")
    assert sorted(saved.files) == ["box", "landmarks", "prob"]
    np.testing.assert_array_equal(saved["box"], outputs["box"])


def test_the_converted_mtcnn_tflite_finds_them_too(mtcnn: Path, tmp_path: Path) -> None:
    """The CLI, as a user checks a converted model on their own image."""
    model = tmp_path / "mtcnn.tflite"
    convert_tflite(mtcnn, model, verify=VerifySpec(enabled=False), size_ratio=False)
    args = [f"--input={k}={v}" for k, v in MTCNN_KNOBS.items()]
    result = run_cli("run", str(model), "--input", f"input={FACES}", "--bgr", *args, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "TFLite"
    outputs = {o["key"]: np.array(o["values"], np.float32) for o in data["outputs"]}
    _boxes_match_reference(outputs["prob"], outputs["box"], atol=0.05)


def test_savedmodel_and_frozen_graph_agree_on_an_image(digits_savedmodel: Path) -> None:
    frozen = run_model(FIXTURES / "digits_cnn.pb", {"input": str(FACES)})
    saved = run_model(digits_savedmodel, {"input": str(FACES)})
    assert saved.kind == "SavedModel"
    assert any("resized to 28x28" in n for n in frozen.notes)
    assert frozen.inputs[0]["shape"] == [1, 28, 28, 1]
    np.testing.assert_allclose(saved.arrays()["probs"], frozen.arrays()["probs"], atol=1e-6)


def test_api_takes_arrays_and_scales_images() -> None:
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    result = run_model(FIXTURES / "digits_cnn.pb", {"input": x})
    probs = result.arrays()["probs"]
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    plain = run_model(FIXTURES / "digits_cnn.pb", {"input": str(FACES)})
    scaled = run_model(FIXTURES / "digits_cnn.pb", {"input": str(FACES)}, mean=127.5, std=127.5)
    assert not np.allclose(plain.arrays()["probs"], scaled.arrays()["probs"])


def test_pins_and_flat_lists_fill_the_shape() -> None:
    result = run_model(FIXTURES / "cond_training.pb", {"x": "1,2,3,4"},
                       GraphSpec(set_values={"is_training": "false"}))
    assert result.inputs == [{"key": "x", "dtype": "float", "shape": [1, 4]}]
    assert result.outputs[0].shape == [1, 3]


def test_missing_and_unknown_inputs_are_clear_errors() -> None:
    with pytest.raises(UserError, match="no value for input x"):
        run_model(FIXTURES / "cond_training.pb", {}, GraphSpec(set_values={
            "is_training": "false"}))
    with pytest.raises(UserError, match="inputs nope: not an input"):
        run_model(FIXTURES / "digits_cnn.pb", {"nope": "1"})


def test_unsafe_graphs_do_not_run(tmp_path: Path) -> None:
    result = run_cli("run", str(FIXTURES / "unsafe_writefile.pb"), "--input", "x=1",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "WriteFile" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "graphport_unsafe_marker.txt").exists()
    allowed = run_cli("run", str(FIXTURES / "unsafe_writefile.pb"), "--input", "x=1",
                      "--allow-unsafe-ops", "--json", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["outputs"][0]["values"] == 2.0
