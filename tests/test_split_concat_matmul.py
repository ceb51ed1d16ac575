"""split_concat_matmul: an RNN cell's MatMul(Concat(x, h), W) becomes MatMul(x, W_x) +
MatMul(h, W_h), on graphs TensorFlow's own dynamic_rnn wrote (LSTMCell with peepholes and a
projection, bidirectional GRUCells with sequence lengths, a BasicLSTMCell with its state in
and out) the numbers stay (what it does for int8 is tested on ARM's keyword spotters in
test_loops.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIXTURES

from graphport.backend.tf_graph import run_graph, to_tf
from graphport.graph import edit
from graphport.graph.index import NodeIndex
from graphport.graph.load import read_graph_def
from graphport.graph.nodes import parse_input
from graphport.passes.pipeline import PassCall, run_pipeline
from graphport.spec.signature import prepare_graph

pytestmark = pytest.mark.tf

RNG = np.random.default_rng(0)
CASES = {  # fixture -> (feeds, products of a concatenation: one per cell kernel)
    "rnn_lstm_peephole.pb": ({"x:0": RNG.normal(size=(2, 7, 12))}, 1),
    "rnn_bidi_lengths.pb": ({"sequences:0": RNG.normal(size=(3, 6, 6)),
                             "lengths:0": np.array([6, 2, 4], np.int32)}, 4),
    "rnn_state_io.pb": ({"obs:0": RNG.normal(size=(2, 5, 8)),
                         "lstm_state_in:0": RNG.normal(size=(2, 64))}, 1),
}


def _concat_products(graph: object) -> int:
    index = NodeIndex.of(graph)
    return sum(1 for n in index.graph.node if n.op == "MatMul" and
               index.nodes[parse_input(n.input[0])[0]].op == "ConcatV2")


@pytest.mark.parametrize("name", sorted(CASES))
def test_split_keeps_the_numbers(name: str) -> None:
    feeds, products = CASES[name]
    feeds = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in feeds.items()}
    prepared = prepare_graph(read_graph_def(FIXTURES / name))
    assert _concat_products(prepared.graph) == products  # the fixture has the pattern
    fetches = [parse_input(t.tensor)[0] for t in prepared.outputs]
    after, results = run_pipeline(edit.copy_graph(prepared.graph),
                                  [PassCall("split_concat_matmul")], fetches)
    assert results[-1].changed == products and results[-1].error is None, results
    assert _concat_products(after) == 0
    tensors = [f"{f}:0" for f in fetches]
    expected = run_graph(to_tf(prepared.graph), feeds, tensors)
    for fetch, e, g in zip(fetches, expected, run_graph(to_tf(after), feeds, tensors),
                           strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5, err_msg=fetch)

