"""SavedModels as users have them (issue 26, item 16): every signature and tag-set listed,
--signature and --tag-set wherever a SavedModel is read, a next: that works without
serving_default, and the graph repairs applied when converting one."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from conftest import FACES, MTCNN, run_cli, shared_file

from graphport.errors import UserError

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def no_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF2 SavedModel with two signatures, neither serving_default, saved by TF itself."""
    import tensorflow as tf

    class Scaler(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3) / 10)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def predict(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"scores": tf.nn.softmax(tf.matmul(x, self.w))}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def logits(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"logits": tf.matmul(x, self.w)}

    module = Scaler()
    path = tmp_path_factory.mktemp("sm") / "scaler"
    tf.saved_model.save(module, str(path), signatures={"predict": module.predict,
                                                      "logits": module.logits})
    return path


def test_without_serving_default_every_signature_is_listed_and_next_works(
        no_default: Path, tmp_path: Path) -> None:
    from graphport import inspect_model

    report = inspect_model(no_default)
    assert report["signature"] == "logits"  # the first of the model's, not the init op
    signatures = report["meta_graphs"][0]["signatures"]
    assert {"predict", "logits"} <= set(signatures)
    assert report["tag_set"] == ["serve"]
    assert "--signature logits" in report["next_command"]
    chosen = inspect_model(no_default, signature="predict")
    assert [o["key"] for o in chosen["outputs"]] == ["scores"]
    with pytest.raises(UserError, match="no such signature"):
        inspect_model(no_default, signature="serving_default")
    with pytest.raises(UserError, match="no such tag-set") as raised:
        inspect_model(no_default, tag_set="serve,gpu")
    assert raised.value.hint == "its tag-sets are: serve"
    command = [*shlex.split(report["next_command"])[1:], "-o", str(tmp_path / "m.tflite")]
    result = run_cli(*command, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parity"]["verdict"] == "match"
    tagged = run_cli("tflite", no_default, "--signature", "predict", "--tag-set", "serve",
                     "-o", tmp_path / "p.tflite", "--json")
    assert tagged.returncode == 0, tagged.stderr
    listed = run_cli("inspect", no_default, "--signature", "predict")
    assert listed.returncode == 0 and "predict" in listed.stdout and "logits" in listed.stdout


def test_graphports_own_mtcnn_savedmodel_converts_with_builtin_ops_only(tmp_path: Path
                                                                        ) -> None:
    saved = tmp_path / "mtcnn_sm"
    made = run_cli("to-savedmodel", shared_file(MTCNN), "--inputs", "input,thresholds",
                   "--set", "min_size=40", "--set", "factor=0.709", "-o", saved, "--no-verify")
    assert made.returncode == 0, made.stderr
    result = run_cli("tflite", saved, "-o", tmp_path / "m.tflite", "--sample",
                     f"input={shared_file(FACES)}", "--bgr", "--sample",
                     "thresholds=0.6,0.7,0.7", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["flex_ops"] == [] and data["parity"]["verdict"] == "match"
    assert any(r["name"] == "tensor_array_to_concat" and r["changed"] for r in data["rewrites"])
    assert {o["key"] for o in data["parity"]["outputs"]} == {"box", "prob", "landmarks"}
    assert data["parity"]["outputs"][0]["compared"] > 0  # faces were found and compared
