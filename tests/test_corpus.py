"""The corpus run: every graph we have (our fixtures and ../shared/graphs) through what a new
user would do: inspect, the `next:` command exactly as printed, then tflite in float32 and in
int8 on random calibration. Each step must end in success or in one clean, specific error, and
every success carries a verdict that is honest about how far the numbers moved."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED, run_cli, shared_file

from graphport.verify.parity import PASSING

pytestmark = pytest.mark.tf

GRAPHS = [*sorted(p for p in FIXTURES.iterdir() if p.suffix in (".pb", ".pbtxt")),
          SHARED / "mtcnn.pb", SHARED / "ssd_mobilenet_aiy_256.pb"]


def _clean(result: subprocess.CompletedProcess[str], step: str) -> bool:
    """True for a success; a failure must be one error line, its indented detail lines (a
    screenful at most) and a hint, nothing else."""
    if result.returncode == 0:
        return True
    lines = result.stderr.splitlines()
    assert result.returncode in (1, 2), (step, result.returncode, result.stderr[-2000:])
    assert lines and lines[0].startswith("error: "), (step, lines)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, step
    assert all(line.startswith(("error: ", "hint: ", "  ")) for line in lines), (step, lines)
    assert len(lines) <= 15 and sum(line.startswith("error: ") for line in lines) == 1, lines
    return False


def _honest(data: dict, step: str) -> None:
    parity = data["parity"]
    if parity["status"] == "checked":
        assert parity["verdict"] in PASSING or any(
            "moved from the source" in w or "compared no values" in w or "not verified: " in w
            for w in data["warnings"]), (step, parity["verdict"], data["warnings"])
    else:
        assert parity["status"] == "not runnable" and data["warnings"], step


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda p: p.name)
def test_every_graph_ends_in_success_or_a_clean_error(graph: Path, tmp_path: Path) -> None:
    if not graph.exists():
        shared_file(graph)  # fails in CI, skips on a machine without ../shared
    inspected = run_cli("inspect", "--json", graph)
    if not _clean(inspected, "inspect"):
        return
    data = json.loads(inspected.stdout)
    command = data["next_command"]
    if command is not None and not data["next_needs"]:  # as printed, verbatim
        pasted = run_cli(*shlex.split(command)[1:], cwd=tmp_path)
        _clean(pasted, f"next: {command}")
    elif command is not None:
        assert "<" in command  # what only the user can supply is an obvious placeholder
    for mode in ([], ["--int8", "--calib", "random", "--calib-samples", "2"]):
        step = f"tflite {' '.join(mode) or 'float32'}"
        result = run_cli("tflite", graph, *mode, "--parity-samples", "2", "--no-size-ratio",
                         "--json", "-o", tmp_path / f"m{len(mode)}.tflite")
        if _clean(result, step):
            _honest(json.loads(result.stdout), step)
        else:
            assert not (tmp_path / f"m{len(mode)}.tflite").exists(), step
