"""Pruning: kernels' smallest weights zeroed per layer, reported next to the unpruned model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

from graphport.errors import UserError
from graphport.graph.load import read_graph_def
from graphport.graph.tensors import tensor_to_numpy
from graphport.quant.prune import PruneSpec, kernels, prune_graph

DIGITS = FIXTURES / "digits_cnn.pb"
EVAL = FIXTURES / "digits_test.npz"


def _weights(graph: object) -> dict[str, np.ndarray]:
    return {const.name: tensor_to_numpy(const.attr["value"].tensor)
            for _, const in kernels(graph)}


def test_each_kernel_loses_exactly_its_smallest_weights() -> None:
    graph = read_graph_def(DIGITS)
    before = _weights(graph)
    pruned, report = prune_graph(graph, PruneSpec.parse("0.5,fc1=0.9"))
    after = _weights(pruned)
    assert set(before) == {"conv1/weights", "conv2/weights", "fc1/weights", "fc2/weights"}
    for layer in report.layers:
        w, p = before[layer.weights], after[layer.weights]
        target = 0.9 if layer.weights.startswith("fc1/") else 0.5
        assert layer.target == target
        assert np.mean(p == 0) == pytest.approx(target, abs=1 / w.size)
        kept = p != 0
        np.testing.assert_array_equal(p[kept], w[kept])  # survivors untouched
        assert np.abs(w[~kept]).max() <= np.abs(w[kept]).min()  # the smallest went
    for name, w in _weights(graph).items():  # the caller's graph is not edited
        np.testing.assert_array_equal(w, before[name])


def test_spec_errors_are_clear() -> None:
    with pytest.raises(UserError, match="not in"):
        PruneSpec.parse("1.5")
    with pytest.raises(UserError, match="two default"):
        PruneSpec.parse("0.5,0.6")
    with pytest.raises(UserError, match="no conv or dense layer"):
        prune_graph(read_graph_def(DIGITS), PruneSpec.parse("0.5,nope=0.9"))


@pytest.mark.tf
def test_pruned_model_is_reported_side_by_side(tmp_path: Path) -> None:
    result = run_cli("tflite", str(DIGITS), "--prune", "0.5", "--eval", str(EVAL),
                     "-o", str(tmp_path / "p.tflite"), "--json")
    assert result.returncode == 0, result.stderr  # a pruned float model moved: said, not failed
    data = json.loads(result.stdout)
    prune = data["prune"]
    assert prune["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert data["zipped_bytes"] < 0.7 * prune["unpruned"]["zipped_bytes"]
    sparse = prune["sparse_encoding"]
    assert sparse["used"] == (sparse["size_bytes"] < prune["unpruned"]["size_bytes"])
    assert data["size_bytes"] == (sparse["size_bytes"] if sparse["used"]
                                  else prune["unpruned"]["size_bytes"])
    assert data["parity"]["verdict"] in ("degraded", "mismatch")  # measured against unpruned
    assert any("pruned float32" in w for w in data["warnings"])
    assert data["eval"]["source_accuracy"] > data["eval"]["tflite_accuracy"] > 0.8
    assert (tmp_path / "p.tflite").stat().st_size == data["size_bytes"]


@pytest.mark.tf
def test_sweep_prints_the_trade_off_and_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("tflite", str(DIGITS), "--prune-sweep", "0.25,0.75", "--eval", str(EVAL),
                     "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [r["target"] for r in rows] == [0.25, 0.75]
    assert rows[0]["zipped_bytes"] > rows[1]["zipped_bytes"]
    assert rows[0]["top1_agreement"] > rows[1]["top1_agreement"]
    assert list(tmp_path.iterdir()) == []
    refused = run_cli("tflite", str(DIGITS), "--prune-sweep", "0.5", "-o", "x.tflite",
                      cwd=tmp_path)
    assert refused.returncode == 2 and "writes nothing" in refused.stderr


@pytest.mark.tf
def test_savedmodel_cannot_be_pruned(digits_savedmodel: Path, tmp_path: Path) -> None:
    result = run_cli("tflite", str(digits_savedmodel), "--prune", "0.5",
                     "-o", str(tmp_path / "x.tflite"))
    assert result.returncode == 2 and "frozen graphs" in result.stderr
    assert not (tmp_path / "x.tflite").exists()
