"""The packaged op list (used by inspect without TensorFlow) matches the installed TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from graphport.graph.op_registry import is_stateful, op_list, registered_ops

pytestmark = pytest.mark.tf



def test_op_list_matches_installed_tensorflow() -> None:
    # A fresh process: importing the TFLite converter registers extra ops in this one.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import make_op_list; "
            "print('\\n'.join(make_op_list.op_lines()))")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "scripts")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line.split() for line in result.stdout.splitlines()]
    assert registered_ops() == frozenset(name for name, *_ in lines)
    assert {op for op in registered_ops() if is_stateful(op)} == \
        {name for name, *marks in lines if "stateful" in marks}
    assert "CropAndResize" in registered_ops()
    assert is_stateful("RandomUniform") and not is_stateful("Add")
    assert op_list()["Conv2D"].required_attrs == ("T", "padding", "strides")
