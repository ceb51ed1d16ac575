"""reroll_lstm (issue 27): an LSTM that TensorFlow's own static_rnn unrolled, one cell copy per
time step, becomes one fused UNIDIRECTIONAL_SEQUENCE_LSTM per layer: the numbers stay, the
int8 model is a fraction of the float one, and what cannot be re-rolled is left with the
reason. Graphs are built here with static_rnn and the real cells, frozen as freeze_graph did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, freeze_v1, run_cli

from graphport.backend.tf_graph import run_graph, to_tf
from graphport.graph import edit
from graphport.passes.pipeline import PassCall, run_pipeline

pytestmark = pytest.mark.tf

STEPS, UNITS, FEATURES = 12, 8, 5


def _static_rnn(cell: str, state_in: bool = False, state_out: bool = False,
                units: int = UNITS, head: bool = False) -> Any:
    """A 2-layer RNN of ``units`` over STEPS steps by static_rnn, open batch, frozen: ``y`` is
    the last output (through a dense layer with ``head``); ``state_in`` starts it from
    placeholders, ``state_out`` also returns the top layer's cell state."""
    import tensorflow as tf
    from tensorflow.python.ops import rnn as rnn_ops
    from tensorflow.python.ops import rnn_cell_impl as rnn

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(27)
        x = v1.placeholder(tf.float32, [None, STEPS, FEATURES], name="x")
        make = {"BasicLSTMCell": lambda: rnn.BasicLSTMCell(units, forget_bias=1.0),
                "LSTMCell": lambda: rnn.LSTMCell(units),
                "peephole": lambda: rnn.LSTMCell(units, use_peepholes=True, num_proj=units // 2,
                                                 cell_clip=3.0),
                "projected": lambda: rnn.LSTMCell(units, use_peepholes=True,
                                                  num_proj=units // 2),
                "GRUCell": lambda: rnn.GRUCell(units)}[cell]
        cells = rnn.MultiRNNCell([make() for _ in range(2)])
        initial = tuple(rnn.LSTMStateTuple(v1.placeholder(tf.float32, [None, units]),
                                           v1.placeholder(tf.float32, [None, units]))
                        for _ in range(2)) if state_in else None
        outputs, state = rnn_ops.static_rnn(cells, tf.unstack(x, axis=1), initial_state=initial,
                                            dtype=tf.float32)
        last = outputs[-1]
        if head:  # a dense layer alone reads the last step's h': no projection of the cell
            last = tf.matmul(last, tf.constant(np.full((last.shape[-1], 3), 0.1, np.float32)))
        tf.identity(last, name="y")
        fetches = ["y"]
        if state_out:
            tf.identity(state[-1].c, name="c")
            fetches.append("c")
    return freeze_v1(graph, fetches), fetches


@pytest.mark.parametrize(("cell", "head"), [("BasicLSTMCell", False), ("LSTMCell", False),
                                           ("BasicLSTMCell", True), ("projected", False)])
def test_rerolled_lstm_keeps_the_numbers(cell: str, head: bool) -> None:
    """LSTMCell "projected": peepholes and a projection; ``head``: a dense layer reads the
    last step, which is not taken for a projection."""
    graph, fetches = _static_rnn(cell, head=head)
    assert sum(n.op == "Split" for n in graph.node) == 2 * STEPS  # one cell copy per step
    after, results = run_pipeline(edit.copy_graph(graph), [PassCall("reroll_lstm")], fetches)
    result = results[-1]
    assert (result.matched, result.changed, result.error) == (2, 2, None), result
    assert "x: batch 1" in " ".join(result.notes)  # the fused op needs a fixed batch
    assert not any(n.op == "Split" for n in after.node)
    calls = [n for n in after.node if n.op == "PartitionedCall"]
    assert len(calls) == 2 and len(after.node) < len(graph.node) / 10
    implements = {f.attr["api_implements"].s.decode() for f in after.library.function
                  if "api_implements" in f.attr}
    assert len(implements) == 2 and all(i.startswith("lstm_") for i in implements)
    feeds = {"x:0": np.random.default_rng(0).normal(size=(1, STEPS, FEATURES)).astype(
        np.float32)}
    expected = run_graph(to_tf(graph), feeds, ["y:0"])
    got = run_graph(to_tf(after), feeds, ["y:0"])
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("kind", "reason"), [
    ("state_in", "start state is not zero"),
    ("state_out", "is read outside the cell"),
    ("gru", "not an LSTM cell the fused op computes"),
])
def test_an_rnn_it_cannot_fuse_stays_unrolled_with_the_reason(kind: str, reason: str) -> None:
    graph, fetches = _static_rnn("GRUCell") if kind == "gru" else \
        _static_rnn("BasicLSTMCell", **{kind: True})
    before = sum(n.op == "MatMul" for n in graph.node)
    after, results = run_pipeline(edit.copy_graph(graph), [PassCall("reroll_lstm")], fetches)
    result = results[-1]
    assert result.changed < result.matched and result.error is None
    assert any(reason in note for note in result.notes), result.notes
    if kind != "state_out":  # state_out: the lower layer is fused, the top one is not
        assert result.changed == 0
        assert sum(n.op == "MatMul" for n in after.node) == before


def _convert(model: Path, out: Path, *options: str) -> dict[str, Any]:
    result = run_cli("tflite", str(model), "--json", "-o", str(out), *options)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_unrolled_fixture_converts_to_two_fused_ops_float_and_int8(tmp_path: Path) -> None:
    """fixtures/lstm_unrolled.pb: 64 steps x 2 layers of BasicLSTMCell(48)."""
    from ai_edge_litert import schema_py_generated as schema

    from graphport.convert.lstm_state import FINEST
    from graphport.verify.tflite_runner import STATE_NOTE

    floats = _convert(FIXTURES / "lstm_unrolled.pb", tmp_path / "f.tflite")
    ops = [op["op"] for op in floats["operators"]]
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2 and len(ops) <= 5, ops
    assert floats["parity"]["verdict"] == "match"
    assert STATE_NOTE in floats["warnings"]
    int8 = _convert(FIXTURES / "lstm_unrolled.pb", tmp_path / "i.tflite", "--int8",
                    "--calib", "random")
    assert int8["parity"]["verdict"] in ("match", "within tolerance"), int8["parity"]
    assert int8["size_bytes"] <= 0.3 * floats["size_bytes"]
    tree = schema.ModelT.InitFromPackedBuf((tmp_path / "i.tflite").read_bytes(), 0)
    cells = [tree.subgraphs[0].tensors[op.inputs[19]] for op in tree.subgraphs[0].operators
             if len(op.inputs) > 19]
    assert len(cells) == 2 and all(c.quantization.scale[0] >= FINEST for c in cells)


def test_int16x8_converts_the_graph_unrolled_and_says_so(tmp_path: Path) -> None:
    """TensorFlow's 16x8 quantizer leaves a fused LSTM float with an int8-typed output that
    LiteRT refuses to prepare; int16x8 converts the graph without the LSTM passes."""
    data = _convert(FIXTURES / "lstm_unrolled.pb", tmp_path / "q.tflite", "--mode", "int16x8",
                    "--calib", "random", "--parity-samples", "4")
    ops = [op["op"] for op in data["operators"]]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops and len(ops) > 100
    assert data["parity"]["verdict"] in ("match", "within tolerance"), data["parity"]
    assert any("int16x8 converts the graph without" in n for n in data["notes"])


def test_litert_keeps_lstm_state_between_calls_and_the_runner_resets_it(tmp_path: Path
                                                                        ) -> None:
    """LiteRT's fused LSTM starts a call from the last call's final state (its states are
    variable tensors); TensorFlow starts every run from zero. The runner resets between
    calls, and the warning tells the app to; if LiteRT stops carrying state over, the first
    assertion fails and the warning can go."""
    from ai_edge_litert.interpreter import Interpreter

    from graphport.commands.tflite import convert_tflite
    from graphport.spec.options import VerifySpec
    from graphport.verify.tflite_runner import TFLiteRunner

    graph, _ = _static_rnn("BasicLSTMCell")
    source = tmp_path / "lstm.pb"
    source.write_bytes(graph.SerializeToString())
    convert_tflite(source, tmp_path / "m.tflite", "float32", verify=VerifySpec(enabled=False))
    model = (tmp_path / "m.tflite").read_bytes()
    rng = np.random.default_rng(1)
    a, b = (rng.normal(size=(1, STEPS, FEATURES)).astype(np.float32) for _ in range(2))
    interpreter = Interpreter(model_content=model)
    run = interpreter.get_signature_runner()
    first, _, again = (next(iter(run(x=x).values())) for x in (a, b, a))
    assert np.abs(first - again).max() > 1e-4  # state carried over from b
    runner = TFLiteRunner(model)
    first, _, again = (runner({"x": x})["y"] for x in (a, b, a))
    np.testing.assert_array_equal(first, again)


def test_cell_state_scales_below_what_the_kernel_computes_are_raised(tmp_path: Path) -> None:
    """LiteRT's integer LSTM has tanh kernels for a cell state of 2^-15 .. 2^-9: at 2^-16,
    which TensorFlow gives a cell state calibrated within +-0.5, the tanh is skipped and the
    output is near one constant whatever the input (measured: 0.25 for values within 0.2)."""
    from ai_edge_litert import schema_py_generated as schema

    from graphport.commands.tflite import convert_tflite
    from graphport.convert.lstm_state import FINEST, fix_lstm_states
    from graphport.graph.tflite_model import pack_model
    from graphport.spec.options import CalibrationSpec, VerifySpec
    from graphport.verify.tflite_runner import TFLiteRunner

    graph, _ = _static_rnn("BasicLSTMCell")
    source = tmp_path / "lstm.pb"
    source.write_bytes(graph.SerializeToString())
    convert_tflite(source, tmp_path / "q.tflite", "int8", calibration=CalibrationSpec(
        "random", 8), verify=VerifySpec(enabled=False))
    fixed = (tmp_path / "q.tflite").read_bytes()
    tree = schema.ModelT.InitFromPackedBuf(fixed, 0)
    main = tree.subgraphs[0]
    cells = [main.tensors[op.inputs[19]] for op in main.operators if len(op.inputs) > 19]
    assert len(cells) == 2
    for cell in cells:
        cell.quantization.scale = [FINEST / 2]
    broken = pack_model(tree)
    repaired = fix_lstm_states(broken)
    assert fix_lstm_states(repaired) is repaired  # nothing left to raise
    tree = schema.ModelT.InitFromPackedBuf(repaired, 0)
    assert [tree.subgraphs[0].tensors[op.inputs[19]].quantization.scale[0]
            for op in tree.subgraphs[0].operators if len(op.inputs) > 19] == [FINEST] * 2
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.random((1, STEPS, FEATURES), dtype=np.float32)
        expected = run_graph(to_tf(graph), {"x:0": x}, ["y:0"])[0]  # |y| < 0.2
        assert np.abs(TFLiteRunner(broken)({"x": x})["y"] - expected).max() > 0.2
        assert np.abs(TFLiteRunner(repaired)({"x": x})["y"] - expected).max() < 0.01
