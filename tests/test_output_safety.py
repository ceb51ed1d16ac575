"""graphport is trusted with people's only copy of a model and the folders around it: it never
deletes what it did not write, writes nothing until a command has succeeded, bounds the memory
of what it generates, refuses malformed graphs by name, and keeps its human views short."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, limited_memory, malformed_graphs, memory_bound, run_cli

from graphport.errors import ConversionError, UserError
from graphport.graph.edit import add_node
from graphport.graph.schema import GraphDef
from graphport.outputs import (
    DIRECTORY,
    FILE,
    atomic_path,
    check_target,
    marked_files,
    output_path,
    write_together,
)
from graphport.spec.signature import SignatureTensor
from graphport.verify import samples

DIGITS = FIXTURES / "digits_cnn.pb"


def _snapshot(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` with a hash of its bytes (directories as entries)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(directory.rglob("*"))}


def _user_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    keep = tmp_path / "keep"
    (keep / "sub").mkdir(parents=True)
    (keep / "notes.txt").write_text("x\n")
    (keep / "sub" / "data.bin").write_bytes(os.urandom(64))
    return keep, _snapshot(keep)


# ------------------------------------------------------------------ --overwrite and -o

def test_overwrite_replaces_only_what_graphport_writes(tmp_path: Path) -> None:
    """Recognised by the marker graphport writes, never by file names (issue 26, item 2)."""
    keep, before = _user_folder(tmp_path)
    with pytest.raises(UserError, match="left untouched"):
        check_target(keep, overwrite=True, kind=DIRECTORY)
    assert _snapshot(keep) == before
    # The user's own models and SavedModel: look like graphport's, are not.
    models = tmp_path / "my_models"
    models.mkdir()
    (models / "a.tflite").write_bytes(b"mine")
    (models / "b.tflite").write_bytes(b"mine too")
    saved = tmp_path / "sm"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    for theirs in (models, saved):
        with pytest.raises(UserError, match=r"no \.graphport marker"):
            check_target(theirs, overwrite=True, kind=DIRECTORY)
    # What graphport wrote (through atomic_path) may be replaced ...
    variants = tmp_path / "variants"
    with atomic_path(variants, overwrite=False, directory=True) as building:
        (building / "m.float.tflite").write_bytes(b"")
    assert marked_files(variants) == {"m.float.tflite"}
    assert check_target(variants, overwrite=True, kind=DIRECTORY) == variants
    # ... until the user puts a file of their own in it.
    (variants / "NOTES.md").write_text("mine")
    with pytest.raises(UserError, match=r"NOTES\.md"):
        check_target(variants, overwrite=True, kind=DIRECTORY)
    (tmp_path / "model.tflite").write_bytes(b"old")
    assert check_target(tmp_path / "model.tflite", overwrite=True) == tmp_path / "model.tflite"
    with pytest.raises(UserError, match="already exists"):
        check_target(tmp_path / "model.tflite", overwrite=False)


def test_file_output_into_an_existing_directory_and_default_in_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert output_path(tmp_path, "m.float32.tflite", FILE) == tmp_path / "m.float32.tflite"
    assert output_path(tmp_path / "x.tflite", "m.float32.tflite", FILE) == tmp_path / "x.tflite"
    assert output_path(tmp_path, "m_savedmodel", DIRECTORY) == tmp_path
    monkeypatch.chdir(tmp_path)
    assert output_path(None, "m_savedmodel", DIRECTORY) == tmp_path / "m_savedmodel"


@pytest.mark.tf
def test_cli_overwrite_keeps_a_users_folder(tmp_path: Path) -> None:
    keep, before = _user_folder(tmp_path)
    converted = run_cli("tflite", DIGITS, "-o", keep, "--overwrite", "--no-verify",
                        "--no-size-ratio")
    assert converted.returncode == 0, converted.stderr
    written = keep / "digits_cnn.float32.tflite"
    assert written.stat().st_size > 1000 and f"wrote {written}" in converted.stdout
    assert {k: v for k, v in _snapshot(keep).items() if k != written.name} == before
    refused = run_cli("to-savedmodel", DIGITS, "-o", keep, "--overwrite")
    assert refused.returncode == 2 and "left untouched" in refused.stderr
    assert {k: v for k, v in _snapshot(keep).items() if k != written.name} == before


@pytest.mark.tf
def test_compare_overwrite_keeps_a_folder_of_the_users_models(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.tflite").write_bytes(b"mine")
    (models / "b.tflite").write_bytes(b"mine too")
    before = _snapshot(models)
    refused = run_cli("compare", DIGITS, "-o", models, "--overwrite", "--variants", "float")
    assert refused.returncode == 2 and "left untouched" in refused.stderr, refused.stderr
    assert _snapshot(models) == before
    made = run_cli("compare", DIGITS, "-o", tmp_path / "cmp", "--variants", "float",
                   "--no-verify", "--runs", "1")
    assert made.returncode == 0, made.stderr
    again = run_cli("compare", DIGITS, "-o", tmp_path / "cmp", "--overwrite", "--variants",
                    "float", "--no-verify", "--runs", "1")
    assert again.returncode == 0, again.stderr
    assert marked_files(tmp_path / "cmp") == {p.name for p in (tmp_path / "cmp").glob("*.tflite")}


@pytest.mark.tf
def test_default_outputs_go_to_the_current_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("tflite", DIGITS, "--no-verify", "--no-size-ratio", cwd=work)
    assert result.returncode == 0, result.stderr
    assert (work / "digits_cnn.float32.tflite").is_file()
    assert not (FIXTURES / "digits_cnn.float32.tflite").exists()
    assert f"wrote {work / 'digits_cnn.float32.tflite'}" in result.stdout


def test_unwritable_output_is_a_clean_error() -> None:
    result = run_cli("rewrite", DIGITS, "-o", "/proc/x.pb")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: -o: cannot write to /proc")
    assert "internal error" not in result.stderr


# ------------------------------------------------------------------ nothing before success

@pytest.mark.tf
def test_a_bad_sample_fails_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "m.tflite"
    target.write_bytes(b"previous model")
    result = run_cli("tflite", DIGITS, "--sample", "input=1,2,3", "-o", target, "--overwrite")
    assert result.returncode == 2 and "--sample input" in result.stderr
    assert target.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


@pytest.mark.tf
def test_interrupted_parity_leaves_the_previous_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from graphport.commands import tflite

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tflite, "agreement", interrupted)
    target = tmp_path / "m.tflite"
    target.write_bytes(b"previous model")
    with pytest.raises(KeyboardInterrupt):
        tflite.convert_tflite(DIGITS, target, overwrite=True, size_ratio=False)
    assert target.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


@pytest.mark.tf
def test_compare_with_every_variant_failing_leaves_no_directory(tmp_path: Path) -> None:
    from graphport.commands.compare import compare_variants

    with pytest.raises(ConversionError, match="every variant failed"):
        compare_variants(DIGITS, ["int8", "int8-io"], tmp_path / "v", runs=1, warmup=0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tf
def test_ctrl_c_says_so(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "graphport", "tflite", FIXTURES / "resnet_v2_small.pb", "--int8",
         "--calib", "random", "--calib-samples", "3000", "-o", "r.tflite"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    assert process.poll() is None, "finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130
    assert "interrupted; nothing written" in stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_after_success_keeps_the_success(tmp_path: Path) -> None:
    """A SIGINT that arrives once the outputs are in place (while the report prints) must not
    turn a finished command into exit 130."""
    code = ("import os, signal, sys, time\n"
            "from graphport.report import export_view\n"
            "render = export_view.render_rewrites\n"
            "def interrupted(*args):\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    time.sleep(0.2)\n"
            "    render(*args)\n"
            "export_view.render_rewrites = interrupted\n"
            f"sys.argv = ['graphport', 'rewrite', {str(FIXTURES / 'cond_training.pb')!r}, "
            "'--passes', 'strip_training_leftovers', '-o', 'r.pb']\n"
            "from graphport.cli.app import main\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and (tmp_path / "r.pb").is_file()


def test_option_ranges_are_usage_errors() -> None:
    for args in (["bench", "x.tflite", "--threads", "-1"], ["bench", "x.tflite", "--runs", "0"],
                 ["tflite", DIGITS, "--parity-samples", "0"],
                 ["tflite", DIGITS, "--int8", "--calib", "random", "--calib-samples", "0"]):
        result = run_cli(*args)
        assert result.returncode == 2 and "Invalid value" in result.stderr, (args, result.stderr)


# ------------------------------------------------------------------ memory

def test_generated_inputs_are_estimated_before_they_are_made() -> None:
    wide = SignatureTensor("x", "x:0", "x:0", "float", [100000, 784])
    with memory_bound(1 << 30), pytest.raises(UserError) as caught:
        samples.sample_inputs([wide], count=16)
    assert "about 4.7 GB (16 x x [100000,784])" in caught.value.message
    assert "--parity-samples" in caught.value.hint and "--no-verify" in caught.value.hint
    one = samples.sample_inputs([SignatureTensor("x", "x:0", "x:0", "float", [1000, 784])])[0]
    assert one["x"].dtype == np.float32


def test_generated_floats_never_pass_through_float64() -> None:
    import tracemalloc

    tensor = SignatureTensor("x", "x:0", "x:0", "float", [2000, 1000])
    tracemalloc.start()
    samples.sample_inputs([tensor])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.5 * 2000 * 1000 * 4  # a float64 draw alone would be 2x the result


@pytest.mark.tf
def test_huge_declared_input_shapes_are_refused_with_an_estimate(tmp_path: Path) -> None:
    graph = GraphDef()
    graph.versions.producer = 27
    x = add_node(graph, "x", "Placeholder", types={"dtype": "float"})
    x.attr["shape"].shape.dim.add(size=-1)
    x.attr["shape"].shape.dim.add(size=784)
    add_node(graph, "y", "Relu", ["x"], types={"T": "float"})
    model = tmp_path / "wide.pb"
    model.write_bytes(graph.SerializeToString())
    # tflite checks 16 samples, to-savedmodel one: 16 x 313 MB, and 1 x 6.3 GB
    for command, rows in ((["tflite", "-o", "w.tflite"], 100000),
                          (["to-savedmodel", "-o", "sm"], 2000000)):
        result = subprocess.run(
            [sys.executable, "-m", "graphport", command[0], model, "--input-shapes",
             f"x:{rows},784", *command[1:]], cwd=tmp_path, capture_output=True, text=True,
            timeout=300, preexec_fn=limited_memory(12 << 30))
        assert result.returncode == 2, result.stderr
        assert "would take about" in result.stderr and "--no-verify" in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.pb"]


# ------------------------------------------------------------------ malformed graphs

def test_inspect_names_the_nodes_of_a_malformed_graph(tmp_path: Path) -> None:
    for name, (path, node) in malformed_graphs(tmp_path).items():
        result = run_cli("inspect", "--json", path)
        assert result.returncode == 0, (name, result.stderr)
        data = json.loads(result.stdout)
        assert [p["node"] for p in data["invalid_graph"]] == [node], (name, data["invalid_graph"])
        assert data["warnings"][0]["code"] == "invalid_graph"
        assert data["next_command"] is None
        table = run_cli("inspect", path)
        assert "malformed graph" in table.stdout and "next:" not in table.stdout


def test_every_command_refuses_a_malformed_graph(tmp_path: Path) -> None:
    kinds = {"cycle": "in a cycle", "dangling": "names no node",
             "missing_attr": "without its required attr 'dtype'",
             "huge_constant": "declares 1,000,000,000,000 elements"}
    for name, (path, node) in malformed_graphs(tmp_path / "graphs").items():
        for command in (["to-savedmodel", "-o", "sm"], ["tflite", "-o", "m.tflite"],
                        ["rewrite", "-o", "r.pb"]):
            result = run_cli(command[0], path, *command[1:], cwd=tmp_path)
            assert result.returncode == 2, (name, command, result.stderr)
            first = result.stderr.splitlines()[0]
            assert first.startswith("error: the graph is malformed") and node in first
            assert kinds[name] in first and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graphs"]


# ------------------------------------------------------------------ huge graphs, human view

def test_huge_graphs_get_short_human_views(tmp_path: Path) -> None:
    graph = GraphDef()
    graph.versions.producer = 27
    for i in range(3000):
        add_node(graph, f"in_{i}", "Placeholder", types={"dtype": "float"})
        add_node(graph, f"out_{i}", "Relu", [f"in_{i}"], types={"T": "float"})
    path = tmp_path / "wide.pb"
    path.write_bytes(graph.SerializeToString())
    as_json = json.loads(run_cli("inspect", "--json", path).stdout)
    assert len(as_json["inputs"]) == 3000 and len(as_json["outputs"]) == 3000
    table = run_cli("inspect", path).stdout
    assert table.count("… 2960 more (use --json)") == 3  # inputs, outputs, next: needs
    assert len(table) < 30000 and len(table.splitlines()) < 400
    assert "more characters (use --json)" in table  # the next: line is cut too


def test_files_written_together_are_all_or_nothing(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename failing part way (the disk filled up) undoes the ones already made."""
    model, report = tmp_path / "m.tflite", tmp_path / "m.json"
    model.write_bytes(b"previous model")
    real_replace = os.replace
    calls = {"n": 0}

    def second_fails(source: Any, target: Any) -> None:
        calls["n"] += 1
        if str(target) == str(report):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(ConversionError, match="nothing was written"):
        write_together({model: lambda: b"new model", report: lambda: "{}"})
    monkeypatch.setattr(os, "replace", real_replace)
    assert model.read_bytes() == b"previous model" and not report.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]  # no temporaries left


@pytest.mark.tf
def test_a_report_that_cannot_be_written_takes_the_model_with_it(tmp_path: Path) -> None:
    """issue 26, item 7: the model and its side files land together or not at all."""
    from graphport.commands import tflite
    from graphport.report.tflite_view import report_text
    from graphport.spec.options import VerifySpec

    target = tmp_path / "m.tflite"
    target.write_bytes(b"previous")

    def disk_full(_: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ConversionError, match="nothing was written"):
        tflite.convert_tflite(DIGITS, target, overwrite=True, size_ratio=False,
                              verify=VerifySpec(False), side_outputs={
                                  tmp_path / "m.json": report_text,
                                  tmp_path / "m.html": disk_full})
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
    result = tflite.convert_tflite(DIGITS, target, overwrite=True, size_ratio=False,
                                   verify=VerifySpec(False),
                                   side_outputs={tmp_path / "m.json": report_text})
    assert json.loads((tmp_path / "m.json").read_text())["size_bytes"] == result.size_bytes
