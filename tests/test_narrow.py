"""No number or verdict is ever cut (issue 26, item 13): the compare, tflite and migrate views
rendered at 60, 80 and 120 columns and on a pipe show every number and verdict whole."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, run_cli
from rich.console import Console

from graphport.report.compare_view import render_compare
from graphport.report.migrate_view import render_migrate
from graphport.report.numbers import optional

WIDTHS = (60, 80, 120)


def _render(view: Any, data: Any, width: int) -> str:
    buffer = io.StringIO()
    view(Console(file=buffer, width=width, force_terminal=True, color_system=None), data)
    return buffer.getvalue()


def _whole(text: str, wanted: list[str]) -> None:
    """Nothing cut (no ellipsis), and every number with its unit and every word of a verdict
    whole on its line (a verdict may wrap between its words)."""
    assert "…" not in text, text
    words = set(re.split(r"[\s│┃|(),:]+", text))
    for token in wanted:
        parts = [token] if re.fullmatch(r"[\d.,]+ ?(KB|MB|s|ms|%)", token) else token.split()
        for part in parts:
            assert part in words or part in text, (part, text)


def test_migrate_summary_at_every_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    data = {"source": "models", "out": "out", "counts": {"migrated": 1, "failed": 1},
            "models": [
                {"model": "detectors/ssd_mobilenet_v1_coco_2018_01_28.pb", "status": "migrated",
                 "verdict": "within tolerance", "sizes": {"float32": 27_000_000, "dynamic":
                                                          7_100_000, "int8": 7_000_000},
                 "float_fallbacks": {"int8": 39}, "flex_ops": [], "seconds": 123.4,
                 "error": None, "hint": None, "next_command": None},
                {"model": "x.pbtxt", "status": "failed", "verdict": "mismatch", "sizes": {},
                 "float_fallbacks": {}, "flex_ops": ["FlexDecodeWav"], "seconds": 1.2,
                 "error": "savedmodel: boom", "hint": "try --outputs", "next_command": None}]}
    # Numbers with their units and verdicts stay whole; a long name may fold in its column.
    wanted = ["within tolerance", "mismatch", "25.75 MB", "6.77 MB", "6.68 MB", "39",
              "123.4 s", "1.2 s"]
    for width in WIDTHS:
        _whole(_render(render_migrate, data, width), wanted)


@pytest.mark.tf
def test_compare_table_at_every_width_and_on_a_pipe(tmp_path: Path) -> None:
    result = run_cli("compare", FIXTURES / "digits_cnn.pb", "--variants", "float,dynamic,int8",
                     "--calib", FIXTURES / "digits_calib.npz", "--runs", "3", "-o",
                     tmp_path / "cmp", "--json", timeout=600)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    wanted = [v["verdict"] for v in data["variants"] if v["verdict"]]
    wanted += [optional(v["cosine"], ".6f") for v in data["variants"]]
    wanted += [v["name"] for v in data["variants"]]
    for width in WIDTHS:
        _whole(_render(render_compare, data, width), wanted)
    piped = run_cli("compare", FIXTURES / "digits_cnn.pb", "--variants", "float", "--runs", "3",
                    "-o", tmp_path / "cmp2", env={"COLUMNS": ""})
    assert piped.returncode in (0, 1) and "…" not in piped.stdout, piped.stdout
