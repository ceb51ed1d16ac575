"""The packaged op list (used by inspect without TensorFlow) matches the installed TensorFlow."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import ROOT

from graphport.graph.anatomy import registered_ops


def test_op_list_matches_installed_tensorflow() -> None:
    spec = importlib.util.spec_from_file_location("make_op_list",
                                                  ROOT / "scripts" / "make_op_list.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert registered_ops() == frozenset(module.registered_ops())
    assert "CropAndResize" in registered_ops()
    assert Path(module.OUT).is_file()
