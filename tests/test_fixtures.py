"""scripts/make_fixtures.py reproduces the committed fixtures, and the trained one is real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, ROOT

from graphport.backend.tf_graph import run_graph, to_tf
from graphport.graph.load import read_graph_def


@pytest.mark.tf
def test_fixtures_script_reproduces_committed_files(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_fixtures.py"),
                             "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*")
                       if p.is_file())
    assert made == committed
    for name in made:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name


def test_committed_fixtures_are_small() -> None:
    for path in FIXTURES.rglob("*"):
        assert path.stat().st_size < 512 * 1024, path


@pytest.mark.tf
def test_digits_model_is_trained_on_real_data() -> None:
    """Accuracy on the held-out split, computed here from the labels, matches the sidecar."""
    data = np.load(FIXTURES / "digits_test.npz")
    x, y = data["x"], data["y"]
    assert x.shape == (len(y), 28, 28, 1) and len(y) >= 300
    assert sorted(set(y.tolist())) == list(range(10))
    probs = run_graph(to_tf(read_graph_def(FIXTURES / "digits_cnn.pb")), {"input:0": x},
                      ["probs:0"])[0]
    accuracy = float(np.mean(np.argmax(probs, 1) == y))
    sidecar = json.loads((FIXTURES / "digits_cnn.json").read_text())
    assert abs(accuracy - sidecar["test_accuracy"]) < 1e-4
    assert accuracy > 0.9
