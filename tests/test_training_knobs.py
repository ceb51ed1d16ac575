"""Training switches found by what they feed and pinned by default (issue 26, item 18): an
unnamed keep_prob placeholder of unknown rank feeding dropout, in TF 1.0-1.12's form and in
today's, is pinned to 1.0 and its random mask leaves the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from graphport.graph.tflite_model import read_tflite

pytestmark = pytest.mark.tf


def _dropout_graph(path: Path, kind: str) -> None:
    """A small classifier whose dropout knob is an unnamed placeholder of unknown rank."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 8], name="x")
        weights = np.random.RandomState(0).normal(size=(8, 4)).astype(np.float32)
        h = tf.matmul(x, tf.constant(weights))
        knob = v1.placeholder(tf.float32)
        if kind == "tf1.0":  # TF 1.0-1.12's tf.nn.dropout, op for op
            with tf.name_scope("dropout"):
                mask = tf.floor(knob + v1.random_uniform(tf.shape(h)))
                h = tf.math.divide(h, knob) * mask
        elif kind == "keep_prob":
            h = v1.nn.dropout(h, keep_prob=knob)
        else:
            h = tf.nn.dropout(h, rate=knob)
        tf.identity(tf.nn.softmax(h), name="probs")
    path.write_bytes(graph.as_graph_def().SerializeToString())


@pytest.mark.parametrize(("kind", "value"), [("tf1.0", "1.0"), ("keep_prob", "1.0"),
                                             ("rate", "0.0")])
def test_unnamed_dropout_knob_is_found_and_pinned(kind: str, value: str, tmp_path: Path
                                                  ) -> None:
    from graphport import inspect_model

    graph = tmp_path / "dropout.pb"
    _dropout_graph(graph, kind)
    report = inspect_model(graph)
    knob = next(i for i in report["inputs"] if i["name"] == "Placeholder")
    assert knob["training_knob"] and knob["inference_value"] == value
    assert report["suggested_options"] == {"set": {"Placeholder": value}}
    result = run_cli("tflite", graph, "-o", tmp_path / "m.tflite", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["parity"]["verdict"] == "match"
    assert any("Placeholder: a training switch, pinned to " + value in n for n in data["notes"])
    ops = {op.op for op in read_tflite(tmp_path / "m.tflite").operators}
    assert ops == {"FULLY_CONNECTED", "SOFTMAX"}, ops  # no RANDOM_UNIFORM, no mask
