"""Hints lead somewhere (issue 28, item 9): each one here is run as written."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

pytestmark = pytest.mark.tf


def _hint_options(stderr: str) -> list[str]:
    """The options a hint suggests, from its first ``--`` on, as a shell would split them."""
    hint = next(line for line in stderr.splitlines() if line.startswith("hint: "))
    return shlex.split(hint[hint.index("--"):].split(" (")[0])


def test_a_string_input_int8_hint_names_the_cut_and_the_arrays(tmp_path: Path) -> None:
    """--sample and --no-verify were given: the obstacle is calibrating a string input."""
    graph = FIXTURES / "string_input.pb"
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    refused = run_cli("tflite", graph, "--int8", "--calib", "random", "--sample",
                      f"wav_data=@{tmp_path / 'a.wav'}", "--no-verify", "-o", tmp_path / "m")
    assert refused.returncode == 2
    assert "--no-verify" not in refused.stderr and "--sample" not in refused.stderr
    options = _hint_options(refused.stderr)
    assert options[:2] == ["--inputs", "DecodeWav:0"] and options[2] == "--calib"
    assert "(arrays DecodeWav)" in refused.stderr
    calib = tmp_path / "calib.npz"
    np.savez(calib, DecodeWav=np.random.default_rng(0).uniform(
        -1, 1, (8, 160, 1)).astype(np.float32))
    followed = run_cli("tflite", graph, "--int8", *options[:2], "--calib", calib, "-o",
                       tmp_path / "m.tflite")
    assert followed.returncode == 0, followed.stderr
