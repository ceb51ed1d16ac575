"""Interfaces people already know (issue 18): grouped help with examples, one name per idea,
one tensor-name grammar, JSON errors, a typed Python API, progress with counts, HTML reports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli
from rich.console import Console

import graphport
from graphport.errors import UserError
from graphport.graph.load import read_graph_def
from graphport.report.export_view import progress_reporter
from graphport.spec.names import split_shape
from graphport.spec.options import GraphSpec
from graphport.spec.signature import prepare_graph

COMMANDS = ["inspect", "to-savedmodel", "tflite", "compare", "rewrite", "bench", "run",
            "freeze", "migrate"]


def test_tflite_help_has_panels_choices_examples_and_a_plain_usage_line() -> None:
    result = run_cli("tflite", "-h", env={"COLUMNS": "120"})
    assert result.returncode == 0
    text = result.stdout
    assert "Usage: graphport tflite [OPTIONS] MODEL" in text and "{MODEL}" not in text
    for panel in ("Mode", "Graph", "Calibration", "Verification", "Quantization debugging",
                  "Object detection", "Pruning", "Output"):
        assert f"─ {panel} ─" in text, panel
    assert "<uint8|int8>" in text and "<float32|fp16|dynamic|int8|int16x8>" in text
    assert "Examples:" in text and "graphport tflite model.pb --int8 --calib" in text
    assert "--no-parity" not in text  # the old spelling works but is not advertised


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_examples_and_no_ungrouped_options(command: str) -> None:
    text = run_cli(command, "--help", env={"COLUMNS": "120"}).stdout
    assert "Examples:" in text and f"graphport {command}" in text.split("Examples:")[1]
    options_panel = text.split("─ Options ─")[1].split("╰")[0] if "─ Options ─" in text else ""
    assert "--help" in options_panel and options_panel.count("--") == 1  # only --help there


def test_completion_can_be_installed() -> None:
    assert "--install-completion" in run_cli("--help").stdout


def test_json_errors_are_objects_on_stdout() -> None:
    missing = run_cli("tflite", "nope.pb", "--json")
    assert missing.returncode == 2
    assert json.loads(missing.stdout) == {"error": "nope.pb: no such file or directory",
                                          "hint": "check the path", "exit_code": 2}
    assert missing.stderr.startswith("error: nope.pb")
    usage = run_cli("inspect", "--bogus", "--json")
    data = json.loads(usage.stdout)
    assert usage.returncode == 2 and "--bogus" in data["error"] and data["exit_code"] == 2


def test_one_tensor_name_grammar() -> None:
    assert split_shape("X:1,784") == ("X", "1,784")
    assert split_shape("X:0:1,784") == ("X:0", "1,784")
    assert split_shape("X[1,784]") == ("X", "1,784")
    assert split_shape("scope/X:0[?,784]") == ("scope/X:0", "?,784")
    spec = GraphSpec(set_values={"keep_prob:0": "1.0"}, input_shapes={"input:0": [None, 28, 28, 1]})
    assert spec.set_values == {"keep_prob": "1.0"}
    assert spec.input_shapes == {"input": "?,28,28,1"}
    with pytest.raises(UserError, match="a placeholder has one output"):
        GraphSpec(set_values={"keep_prob:1": "1.0"})
    prepared = prepare_graph(read_graph_def(FIXTURES / "digits_cnn.pb"), GraphSpec(
        set_values={"keep_prob:0": 1.0}, input_shapes={"input:0": [4, 28, 28, 1]}))
    assert float(prepared.pinned["keep_prob"]) == 1.0
    assert prepared.inputs[0].shape == [4, 28, 28, 1]


def test_suggestions_are_listed_once() -> None:
    with pytest.raises(UserError) as caught:
        prepare_graph(read_graph_def(FIXTURES / "digits_cnn.pb"), GraphSpec(inputs=["inpt"]))
    hint = caught.value.hint or ""
    names = hint.removeprefix("did you mean ").rstrip("?").split(", ")
    assert "input" in names and len(names) == len(set(names))


def test_api_takes_numbers_and_lists_and_speaks_api_terms(tmp_path: Path) -> None:
    prepared = prepare_graph(read_graph_def(FIXTURES / "pyramid.pb"), GraphSpec(
        set_values={"min_size": 40, "factor": 0.709, "thresholds": [0.6, 0.7, 0.7]}))
    assert prepared.pinned["thresholds"].tolist() == pytest.approx([0.6, 0.7, 0.7])
    existing = tmp_path / "model.tflite"
    existing.write_bytes(b"mine")
    with pytest.raises(UserError) as caught:
        graphport.convert_tflite(FIXTURES / "digits_cnn.pb", existing)
    assert caught.value.hint == "pass overwrite=True to replace it"
    assert caught.value.message.startswith("output ") and existing.read_bytes() == b"mine"
    with pytest.raises(UserError, match="mode='int8' needs calibration data"):
        graphport.convert_tflite(FIXTURES / "digits_cnn.pb", tmp_path / "x.tflite", mode="int8")


def test_inspect_returns_a_typed_report_that_reads_like_its_json() -> None:
    report = graphport.inspect_model(FIXTURES / "digits_cnn.pb")
    assert isinstance(report, graphport.InspectReport)
    assert report.format == "graphdef" and report["format"] == "graphdef"
    assert [i["name"] for i in report.inputs] == ["input", "keep_prob"]
    assert report.to_json()["outputs"] == report.outputs and "ops" in report
    assert json.loads(json.dumps(report.to_json(), default=str))["path"] == report.path


def test_the_package_says_what_it_offers() -> None:
    for name in ("inspect_model", "to_savedmodel", "convert_tflite", "compare_variants",
                 "rewrite_graph", "run_model", "freeze", "migrate", "prune_sweep",
                 "InspectReport", "CompareReport", "RewriteResult", "GraphSpec", "IoTypes"):
        assert name in graphport.__all__ and name in dir(graphport), name
    assert (Path(graphport.__file__).parent / "py.typed").is_file()


def test_progress_shows_counts_and_time_on_a_terminal_only() -> None:
    from graphport.convert.converter import counted

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    with progress_reporter(terminal) as step:
        assert list(counted([1, 2, 3], "parity sample", step)) == [1, 2, 3]
    shown = screen.getvalue()  # the last state is drawn once more as the display stops
    assert "parity sample 3/3" in shown and "0:00:0" in shown  # the elapsed-time column
    pipe = io.StringIO()
    with progress_reporter(Console(file=pipe, force_terminal=False)) as step:
        list(counted([1, 2], "sample", step))
    assert pipe.getvalue() == ""


class _Page(HTMLParser):
    """What a browser would load: tags, classes and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(1 for t, a in self.tags if t == tag and (cls is None or a.get("class") == cls))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    refs = [v for _, a in page.tags for k, v in a.items() if k in ("src", "href") and v]
    assert refs == [] and page.count("script") == 0  # self-contained: nothing to fetch
    return page


@pytest.mark.tf
def test_tflite_html_report_shows_ops_errors_and_tuning(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = run_cli("tflite", str(FIXTURES / "digits_outlier.pb"), "--int8", "--calib",
                     str(FIXTURES / "digits_calib.npz"), "--eval",
                     str(FIXTURES / "digits_test.npz"), "--target-agreement", "0.99",
                     "--html", str(html), "--json", "-o", str(tmp_path / "m.tflite"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    page = _parse(html)
    text = " ".join(page.text)
    rows = data["operators"]
    chosen = sum(r["chosen"] for r in rows)
    assert page.count("tr", "chosen") == chosen > 0
    assert page.count("tr", "int8") == sum(r["compute"] == "int8" and not r["chosen"]
                                            for r in rows)
    assert page.count("rect", "bar") == min(25, len(data["quant"]["layers"]))
    assert page.count("circle", "point") == len(data["quant"]["tuning"]["steps"])
    assert "Per-layer quantization error" in text and "within tolerance" in text
    fallback = [f for f in data["summary"]["float_fallback"] if not f["chosen"]]
    assert f"Float fallback ({len(fallback)})" in text  # as the terminal counts them
    assert f"Kept in float by choice ({len(data['summary']['float_fallback']) - len(fallback)})" \
        in text


@pytest.mark.tf
def test_compare_html_and_report(tmp_path: Path) -> None:
    html, report = tmp_path / "c.html", tmp_path / "c.json"
    result = run_cli("compare", str(FIXTURES / "digits_cnn.pb"), "--variants", "float,dynamic",
                     "--runs", "3", "--html", str(html), "--report", str(report), "--no-verify",
                     "-o", str(tmp_path / "variants"))
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert [v["name"] for v in data["variants"]] == ["float", "dynamic"]
    assert all(v["verdict"] in (None, "unverified") for v in data["variants"])  # --no-verify
    assert _parse(html).count("circle", "point") == 2


@pytest.mark.tf
def test_options_that_mean_nothing_for_the_input_are_refused(digits_savedmodel: Path,
                                                            tmp_path: Path) -> None:
    for args, needle in (((str(digits_savedmodel), "--no-rewrite"), "apply to frozen graphs"),
                         ((str(digits_savedmodel), "--nms", "fast"), "object-detection"),
                         ((str(FIXTURES / "digits_cnn.pb"), "--signature", "x"),
                          "a frozen graph has neither"),
                         ((str(FIXTURES / "digits_cnn.pb"), "--tag-set", "serve"),
                          "a frozen graph has neither"),
                         ((str(digits_savedmodel), "--signature", "nope"),
                          "--signature nope: "),
                         ((str(digits_savedmodel), "--tag-set", "train"),
                          "no such tag-set")):
        result = run_cli("tflite", *args, "-o", str(tmp_path / "x.tflite"))
        assert result.returncode == 2 and needle in result.stderr, (args, result.stderr)
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.tf
def test_notebook_use_keeps_native_logs_quiet(tmp_path: Path) -> None:
    code = ("import graphport\n"
            f"graphport.convert_tflite({str(FIXTURES / 'digits_cnn.pb')!r}, "
            f"{str(tmp_path / 'm.tflite')!r}, mode='dynamic')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
