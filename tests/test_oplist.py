"""The packaged op list (used by inspect without TensorFlow) matches the installed TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from graphport.graph.anatomy import is_stateful, registered_ops

pytestmark = pytest.mark.tf



def test_op_list_matches_installed_tensorflow() -> None:
    # A fresh process: importing the TFLite converter registers extra ops in this one.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import make_op_list; "
            "print('\\n'.join(make_op_list.op_lines()))")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "scripts")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert registered_ops() == frozenset(line.split()[0] for line in lines)
    assert {op for op in registered_ops() if is_stateful(op)} == \
        {line.split()[0] for line in lines if line.endswith(" stateful")}
    assert "CropAndResize" in registered_ops()
    assert is_stateful("RandomUniform") and not is_stateful("Add")
