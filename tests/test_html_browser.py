"""The HTML reports in a real browser (issue 26, item 15): Debian's chromium renders the page
headless; the numbers it shows are the JSON's and the terminal's (one source: report/cells.py),
charts carry axis values, the per-layer chart ranks like its table, and a screenshot is kept
in out/ci-artifacts/. scripts/test installs chromium where it can; CI fails without it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_cli

from graphport.report.cells import (
    float_groups,
    layer_name,
    parity_cells,
    tuning_rows,
)

pytestmark = pytest.mark.tf
ARTIFACTS = ROOT / "out" / "ci-artifacts"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: scripts/test installs it with apt-get")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


def _browser(page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", *flags,
                           page.as_uri()], capture_output=True, text=True, timeout=120)


class _Text(HTMLParser):
    """The rendered DOM's visible text, cell by cell, and the chart's labels by class."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.classed: dict[str, list[str]] = {}
        self._in: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append((tag, dict(attrs).get("class")))

    def handle_endtag(self, tag: str) -> None:
        while self._in and self._in.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not self._in or not data.strip():
            return
        tag, cls = self._in[-1]
        if tag in ("td", "th", "span", "h2"):
            self.cells.append(data.strip())
        if cls:
            self.classed.setdefault(cls, []).append(data.strip())


def test_the_page_shows_what_the_terminal_and_the_json_say(tmp_path: Path) -> None:
    html, report = tmp_path / "report.html", tmp_path / "report.json"
    result = run_cli("tflite", FIXTURES / "digits_outlier.pb", "--int8", "--calib",
                     FIXTURES / "digits_calib.npz", "--target-agreement", "0.99", "--html",
                     html, "--report", report, "-o", tmp_path / "m.tflite",
                     env={"COLUMNS": "200"}, timeout=600)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    dom = _browser(html, "--dump-dom")
    assert dom.returncode == 0 and "<table>" in dom.stdout, dom.stderr[-500:]
    page = _Text()
    page.feed(dom.stdout)
    terminal = result.stdout
    for row in data["parity"]["outputs"]:  # every formatted number, in both places
        for cell in parity_cells(row):
            assert cell in page.cells, (cell, page.cells[:40])
            assert cell in terminal, cell
    for why, items in float_groups(data["summary"]):
        assert f"{why.capitalize()} ({len(items)})" in page.cells
    for _, cells in tuning_rows(data["quant"]["tuning"]):
        assert all(c in page.cells for c in cells), cells
        assert cells[0] in terminal
    layers = data["quant"]["layers"][:25]
    shown = [float(v) for v in page.classed.get("bar-value", [])]
    assert shown == sorted(shown, reverse=True) and len(shown) == len(layers)
    assert page.classed["bar-label"][0] == layer_name(layers[0]["tensor"])[:40]
    ticks = page.classed.get("tick", [])
    assert ticks and all(re.fullmatch(r"[-\d.e+]+", t) for t in ticks)
    assert "noise/signal (what the table ranks by)" in page.classed.get("axis", [])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "tflite-report.png"
    taken = _browser(html, f"--screenshot={shot}", "--window-size=1200,2400")
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-500:]
