"""reroll_loop (issue 27): an RNN that TensorFlow's own static_rnn unrolled with a cell no fused
op computes (GRUCell, LSTMCell with peepholes, projection and clipping, a BasicLSTMCell started
from a state input) becomes one while loop over one step: the numbers stay (the graph is run by
TensorFlow before and after), every step's output stays readable, and the TFLite model is a
WHILE with the weights stored once. A structure that is not one recurrence is left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import freeze_v1, run_cli
from test_reroll_lstm import FEATURES, STEPS, UNITS, _static_rnn

from graphport.backend.tf_graph import run_graph, to_tf
from graphport.graph import edit
from graphport.graph.index import NodeIndex
from graphport.passes.pipeline import PassCall, run_pipeline
from graphport.passes.rewrites.reroll_loop import RerollLoop

pytestmark = pytest.mark.tf


def _feeds(graph: Any, batch: int = 3) -> dict[str, np.ndarray]:
    """Random values for every placeholder: x [batch, STEPS, FEATURES], states [batch, UNITS]."""
    rng = np.random.default_rng(5)
    return {f"{n.name}:0": rng.normal(size=(batch, STEPS, FEATURES) if n.name == "x"
                                      else (batch, UNITS)).astype(np.float32)
            for n in graph.node if n.op == "Placeholder"}


def _same_numbers(before: Any, after: Any, fetches: list[str]) -> None:
    feeds = _feeds(before)
    names = [f"{f}:0" for f in fetches]
    for got, expected in zip(run_graph(to_tf(after), feeds, names),
                             run_graph(to_tf(before), feeds, names), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("cell", "options"), [
    ("GRUCell", {}),
    ("peephole", {}),  # LSTMCell(use_peepholes=True, num_proj, cell_clip)
    ("BasicLSTMCell", {"state_in": True, "state_out": True}),
])
def test_an_unrolled_rnn_becomes_one_loop_with_the_same_numbers(cell: str, options: Any
                                                                ) -> None:
    graph, fetches = _static_rnn(cell, **options)
    after, results = run_pipeline(edit.copy_graph(graph), [PassCall("reroll_loop")], fetches)
    result = results[-1]
    assert (result.matched, result.changed, result.error) == (1, 1, None), result
    assert f"x {STEPS} steps" in result.notes[0]
    loops = [n for n in after.node if n.op in ("While", "StatelessWhile")]
    assert len(loops) == 1 and len(after.node) < len(graph.node) / 10
    assert not any(n.op == "MatMul" for n in after.node)  # the cells live in the loop body
    _same_numbers(graph, after, fetches)


def _every_step_graph(batch: int | None = 3) -> tuple[Any, list[str]]:
    """A GRU whose every step's output is read (stacked), as a sequence tagger's is."""
    import tensorflow as tf
    from tensorflow.python.ops import rnn as rnn_ops
    from tensorflow.python.ops import rnn_cell_impl as rnn

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(23)
        x = v1.placeholder(tf.float32, [batch, STEPS, FEATURES], name="x")
        outputs, state = rnn_ops.static_rnn(rnn.GRUCell(UNITS), tf.unstack(x, axis=1),
                                            dtype=tf.float32)
        tf.stack(outputs, axis=1, name="y")
        tf.identity(state, name="h")
    return freeze_v1(graph, ["y", "h"]), ["y", "h"]


def test_every_step_read_outside_is_read_from_the_loop() -> None:
    """The steps' outputs are stacked in the loop (a TensorList): folding constants after it
    leaves the list's handle alone."""
    graph, fetches = _every_step_graph()
    calls = [PassCall("reroll_loop"), PassCall("fold_constants")]
    after, results = run_pipeline(edit.copy_graph(graph), calls, fetches)
    assert results[0].changed == 1, results[0]
    assert results[1].error is None, results[1]
    gathers = [n for n in after.node if n.op == "GatherV2"]
    assert len(gathers) == STEPS  # y's Pack reads step t of the stacked outputs
    _same_numbers(graph, after, fetches)


def test_every_step_read_converts_to_one_while(tmp_path: Path) -> None:
    """The stacked outputs are a TensorList with a static element shape, which the converter
    lowers to builtins."""
    graph, _ = _every_step_graph(batch=1)
    model = tmp_path / "tagger.pb"
    model.write_bytes(graph.SerializeToString())
    floats = _convert(model, tmp_path / "t.tflite")
    assert floats["parity"]["verdict"] == "match", floats["parity"]
    ops = [op["op"] for op in floats["operators"]]
    assert "WHILE" in ops and not floats["summary"]["flex_ops"], ops


def test_every_step_read_with_an_open_batch_stays_unrolled_with_the_reason() -> None:
    """The converter stacks the steps' outputs only with a static shape: an open batch leaves
    the graph as it was (it converts unrolled), and says how to pin it."""
    graph, fetches = _every_step_graph(batch=None)
    after, results = run_pipeline(edit.copy_graph(graph), [PassCall("reroll_loop")], fetches)
    assert results[0].changed == 0 and "--input-shapes pins it" in results[0].notes[0]
    assert len(after.node) == len(graph.node)


def _keras_unrolled(layer: str) -> Any:
    """A Keras RNN layer with ``unroll=True`` (batch 1, 10 steps) and a Dense head, frozen by
    convert_variables_to_constants_v2 as TF2 users froze them."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from graphport.graph.schema import GraphDef

    keras.utils.set_random_seed(4)
    rnn = getattr(keras.layers, layer)(16, unroll=True)
    model = keras.Sequential([keras.Input((10, 4), batch_size=1), rnn, keras.layers.Dense(3)])
    function = tf.function(lambda x: model(x)).get_concrete_function(
        tf.TensorSpec((1, 10, 4), tf.float32))
    frozen = convert_variables_to_constants_v2(function).graph.as_graph_def()
    return GraphDef.FromString(frozen.SerializeToString())


@pytest.mark.parametrize("layer", ["GRU", "SimpleRNN"])
def test_a_keras_rnn_unrolled_and_frozen_becomes_one_loop(layer: str) -> None:
    """Folding the constants first turns step 0's product of the zero start state into a
    constant, so step 0 differs from the rest: the loop runs from step 1."""
    graph = _keras_unrolled(layer)
    calls = [PassCall("fold_constants"), PassCall("reroll_loop")]
    after, results = run_pipeline(edit.copy_graph(graph), calls, ["Identity"])
    result = results[-1]
    assert (result.changed, result.error) == (1, None), result
    assert "x 9 steps" in result.notes[0] and "after step 0" in result.notes[0]
    x = np.random.default_rng(6).normal(size=(1, 10, 4)).astype(np.float32)
    got = run_graph(to_tf(after), {"x:0": x}, ["Identity:0"])[0]
    expected = run_graph(to_tf(graph), {"x:0": x}, ["Identity:0"])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_bidirectional_rnn_becomes_two_loops() -> None:
    """static_bidirectional_rnn concatenates each step's forward output with the backward
    RNN's output for the same time, which the backward RNN computes at the mirrored step: a
    map grown through that concatenation runs two ways; the strict map (readers join only
    when their other inputs are known) re-rolls each direction on its own. As the default
    pipeline runs it: after split_concat_matmul. Every step's outputs are read, so the batch
    is static (test_every_step_read_with_an_open_batch_...)."""
    import tensorflow as tf
    from tensorflow.python.ops import rnn as rnn_ops
    from tensorflow.python.ops import rnn_cell_impl as rnn

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(29)
        x = v1.placeholder(tf.float32, [3, STEPS, FEATURES], name="x")  # static: see below
        outputs, _, _ = rnn_ops.static_bidirectional_rnn(
            rnn.GRUCell(UNITS), rnn.GRUCell(UNITS), tf.unstack(x, axis=1), dtype=tf.float32)
        tf.stack(outputs, axis=1, name="y")
    frozen = freeze_v1(graph, ["y"])
    calls = [PassCall("split_concat_matmul"), PassCall("reroll_loop")]
    after, results = run_pipeline(edit.copy_graph(frozen), calls, ["y"])
    result = results[-1]
    assert (result.changed, result.error) == (2, None), result
    assert sum(n.op in ("While", "StatelessWhile") for n in after.node) == 2
    assert len(after.node) < len(frozen.node) / 2
    _same_numbers(frozen, after, ["y"])


def test_shared_weights_without_a_recurrence_are_left_alone() -> None:
    """One dense layer applied to four inputs side by side (a siamese tower) is no RNN."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        kernel = tf.constant(np.random.default_rng(1).normal(size=(FEATURES, UNITS)),
                             tf.float32)
        towers = [tf.tanh(tf.matmul(v1.placeholder(tf.float32, [None, FEATURES], f"x{k}"),
                                    kernel)) for k in range(4)]
        tf.concat(towers, axis=1, name="y")
    frozen = freeze_v1(graph, ["y"])
    assert not RerollLoop().matches(NodeIndex.of(frozen))


def test_steps_that_differ_are_left_unrolled_with_the_reason() -> None:
    """A hand-written recurrence whose step reads the input two steps back is no while loop
    over one step: left as it is, and the note says why."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, STEPS, FEATURES], name="x")
        kernel = tf.constant(np.random.default_rng(2).normal(size=(FEATURES, FEATURES)),
                             tf.float32)
        states = [tf.zeros_like(x[:, 0]), tf.zeros_like(x[:, 0])]
        for t in range(STEPS):
            states.append(tf.tanh(tf.matmul(states[-1] + states[-2], kernel) + x[:, t]))
        tf.identity(states[-1], name="y")
    frozen = freeze_v1(graph, ["y"])
    after, results = run_pipeline(edit.copy_graph(frozen), [PassCall("reroll_loop")], ["y"])
    result = results[-1]
    assert result.changed == 0 and result.matched == 1, result
    assert "not re-rolled" in result.notes[0] and "left unrolled" in result.notes[0]
    assert len(after.node) == len(frozen.node)


def _convert(model: Path, out: Path, *options: str) -> dict[str, Any]:
    result = run_cli("tflite", str(model), "--json", "-o", str(out), *options)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_unrolled_gru_converts_to_one_while_float_and_int8(tmp_path: Path) -> None:
    """By the default pipeline: builtin ops only, one step's ops and the weights once,
    float32 matching, int8 within tolerance and less than half the float size."""
    graph, _ = _static_rnn("GRUCell", units=48)
    model = tmp_path / "gru.pb"
    model.write_bytes(graph.SerializeToString())
    floats = _convert(model, tmp_path / "f.tflite")
    ops = [op["op"] for op in floats["operators"]]
    assert "WHILE" in ops and not floats["summary"]["flex_ops"], ops
    assert floats["parity"]["verdict"] == "match", floats["parity"]
    unrolled = _convert(model, tmp_path / "u.tflite", "--passes", "fold_constants")
    assert floats["size_bytes"] < unrolled["size_bytes"]
    assert len(unrolled["operators"]) > 5 * len(ops)  # one step in place of twelve
    int8 = _convert(model, tmp_path / "i.tflite", "--int8", "--calib", "random")
    assert int8["parity"]["verdict"] in ("match", "within tolerance"), int8["parity"]
    assert int8["size_bytes"] < 0.5 * floats["size_bytes"]
    notes = [note for r in floats["rewrites"] if r["name"] == "reroll_loop" for note in r["notes"]]
    assert notes and "one while loop over one step" in notes[0]
