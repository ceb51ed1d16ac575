"""int16x8 (issue 24): 16-bit activations, 8-bit weights, with the same report, fallback list
and verdicts as int8, in tflite and compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

from graphport.commands.tflite import convert_tflite
from graphport.errors import UserError
from graphport.spec.options import CalibrationSpec, GraphSpec

pytestmark = pytest.mark.tf
DIGITS = FIXTURES / "digits_cnn.pb"
SPEC = GraphSpec(set_values={"keep_prob": 1.0})


def test_int16x8_quantizes_activations_to_16_bits(tmp_path: Path) -> None:
    calib = CalibrationSpec(str(FIXTURES / "digits_calib.npz"))
    wide = convert_tflite(DIGITS, tmp_path / "w.tflite", mode="int16x8", graph=SPEC,
                          calibration=calib)
    narrow = convert_tflite(DIGITS, tmp_path / "n.tflite", mode="int8", graph=SPEC,
                            calibration=calib)
    convs = [op for op in wide.operators if op["op"] == "CONV_2D"]
    assert convs and all(op["outputs"] == ["int16"] for op in convs)
    assert all("int8" in op["inputs"] for op in convs)  # 8-bit weights
    assert wide.summary["float"] == 0 and wide.summary["float_fallback"] == []
    assert wide.parity["verdict"] in ("match", "within tolerance")
    error = {o["key"]: o["max_abs"] for o in wide.parity["outputs"]}["probs"]
    int8_error = {o["key"]: o["max_abs"] for o in narrow.parity["outputs"]}["probs"]
    assert error < int8_error  # measured 0.00058 against 0.0039


def test_int16x8_needs_calibration_and_shows_in_compare(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="int16x8 needs calibration data"):
        convert_tflite(DIGITS, tmp_path / "x.tflite", mode="int16x8", graph=SPEC)
    result = run_cli("compare", DIGITS, "--set", "keep_prob=1", "--calib",
                     FIXTURES / "digits_calib.npz", "--variants", "float,int16x8", "--runs", "2",
                     "-o", tmp_path / "variants", "--json")
    assert result.returncode == 0, result.stderr[-1500:]
    rows = {row["name"]: row for row in json.loads(result.stdout)["variants"]}
    assert rows["int16x8"]["verdict"] in ("match", "within tolerance"), rows["int16x8"]
    assert rows["int16x8"]["ratio_to_float"] < 0.35
