"""migrate loses nothing and works as documented (issue 26, items 3-12; issue 28, items 2
and 10): a folder per source, the user's files and good outputs kept, a lock, resumable after
Ctrl-C, checked before any work, calibration only where used, a config checked when read,
inspect first and in the parent, failures not retried for nothing, inspect's pins and cuts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

from graphport.commands.migrate_config import load_config
from graphport.commands.migrate_folder import locked
from graphport.errors import UserError

DIGITS = FIXTURES / "digits_cnn.pb"


def _models(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    return {m["model"]: m for m in json.loads(result.stdout)["models"]}


# ------------------------------------------------------------------ TensorFlow-free


def test_config_is_checked_when_read_with_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "graphport.toml"
    cases = {
        '[model."a.pb"]\nmodes = ["float32"]\n': "graphport.toml:1: unknown table [model]",
        '[defaults]\nbgr = true\nskip = "no"\n': "graphport.toml:3: [defaults] skip takes "
                                                  "true or false",
        '[defaults]\n\nmodes = ["float33"]\n': "graphport.toml:3: [defaults] modes unknown "
                                               "mode 'float33'",
        '[models."a.pb"]\ncalib_samples = 0\n': "graphport.toml:2: [models.\"a.pb\"] "
                                                "calib_samples takes a positive integer",
        '[models."a.pb"]\ninput_shapes = [1, 2]\n': "graphport.toml:2",
    }
    for text, expected in cases.items():
        config.write_text(text)
        with pytest.raises(UserError) as raised:
            load_config(None, tmp_path)
        assert expected in raised.value.message, (text, raised.value.message)
    config.write_text('[defaults]\nmodes = "float32,int8"\n[models."a.pb"]\n'
                      'input_shapes = ["input:1,28,28,1"]\nset = { keep_prob = 1.0, '
                      'is_training = false, sizes = [1, 2] }\n')
    loaded = load_config(None, tmp_path)
    assert loaded.defaults["modes"] == ["float32", "int8"]  # not letter by letter
    assert loaded.models["a.pb"]["input_shapes"] == {"input": "1,28,28,1"}
    assert loaded.models["a.pb"]["set"] == {"keep_prob": "1.0", "is_training": "false",
                                            "sizes": "1,2"}


def test_a_second_run_into_the_same_out_says_who_holds_it(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(DIGITS, tmp_path / "models")
    with locked(tmp_path / "out"):
        second = run_cli("migrate", tmp_path / "models", "-o", tmp_path / "out")
    assert second.returncode == 2
    assert f"in use by another migrate (pid {os.getpid()}" in second.stderr
    assert "Traceback" not in second.stderr


def test_unwritable_out_is_a_clean_error_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(DIGITS, tmp_path / "models")
    for out in ("/proc/graphport-out", "/proc/self/graphport-out"):
        result = run_cli("migrate", tmp_path / "models", "-o", out)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: -o ") and "Traceback" not in result.stderr


def test_junk_stops_at_inspect_in_the_parent_and_is_not_retried(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for i in range(3):
        (models / f"junk{i}.pb").write_bytes(os.urandom(2000))
    started = time.perf_counter()
    first = run_cli("migrate", models, "-o", tmp_path / "out", "--json")
    took = time.perf_counter() - started
    assert first.returncode == 1
    entries = _models(first)
    assert all(e["error"].startswith("inspect: ") for e in entries.values())
    assert not list((tmp_path / "out" / ".logs").iterdir())  # no worker was started
    assert "tensorflow" not in first.stderr.lower() and took < 30
    again = _models(run_cli("migrate", models, "-o", tmp_path / "out", "--json"))
    assert all(e["reused"] for e in again.values())  # the same bytes fail the same way
    retried = _models(run_cli("migrate", models, "-o", tmp_path / "out", "--json",
                              "--retry-failed"))
    assert not any(e["reused"] for e in retried.values())


# ------------------------------------------------------------------ with workers


@pytest.mark.tf
def test_same_stem_sources_user_files_and_a_worse_rerun(tmp_path: Path) -> None:
    """x.pb and x.pbtxt get folders of their own; calibration applies to int8 only; a rerun
    that does worse keeps the earlier outputs; the user's notes survive every rerun."""
    from graphport.graph.load import read_graph_def

    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    shutil.copy(DIGITS, models / "x.pb")
    (models / "x.pbtxt").write_text(str(read_graph_def(DIGITS)))
    first = run_cli("migrate", models, "-o", out, "--modes", "float32,int8", "--calib",
                    FIXTURES / "digits_calib.npz", "--jobs", "2", "--json", timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    entries = _models(first)
    assert set(entries) == {"x.pb", "x.pbtxt"}
    for name in entries:
        assert entries[name]["status"] == "migrated", entries[name]
        assert (out / name / "x.float32.tflite").is_file()
        assert (out / name / "x.int8.tflite").is_file()
    good = (out / "x.pb" / "x.float32.tflite").read_bytes()
    (out / "x.pb" / "NOTES.md").write_text("my notes")
    (models / "graphport.toml").write_text('[models."x.pb"]\noutputs = ["no_such_node"]\n')
    worse = _models(run_cli("migrate", models, "-o", out, "--modes", "float32", "--json",
                            timeout=900))
    assert worse["x.pb"]["status"] == "failed" and worse["x.pb"]["kept_previous"]
    assert (out / "x.pb" / "x.float32.tflite").read_bytes() == good
    assert (out / "x.pb" / "NOTES.md").read_text() == "my notes"
    (models / "graphport.toml").unlink()
    better = _models(run_cli("migrate", models, "-o", out, "--modes", "float32", "--json",
                             timeout=900))
    assert better["x.pb"]["status"] == "migrated" and better["x.pb"]["kept_files"] == [
        "NOTES.md"]
    assert (out / "x.pb" / "NOTES.md").read_text() == "my notes"
    assert not (out / "x.pb" / "x.int8.tflite").exists()  # graphport's own old output went


@pytest.mark.tf
def test_inspects_pins_and_cuts_are_applied(tmp_path: Path) -> None:
    """A training switch is pinned and a queue-fed graph is cut as inspect says, each said in
    the summary; the queue is never run (no hang)."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(FIXTURES / "cond_training.pb", models)
    shutil.copy(FIXTURES / "input_pipeline.pb", models)
    result = run_cli("migrate", models, "-o", tmp_path / "out", "--json", "--jobs", "2",
                     "--timeout", "300", timeout=900)
    entries = _models(result)
    assert result.returncode == 0, json.dumps(entries, indent=1)[-3000:]
    assert any(a.startswith("--set ") for a in entries["cond_training.pb"]["applied"])
    assert entries["input_pipeline.pb"]["applied"][0].startswith("--inputs ")
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert entries["input_pipeline.pb"]["applied"][0] in markdown


@pytest.mark.tf
def test_ctrl_c_keeps_what_finished_and_a_rerun_resumes(tmp_path: Path) -> None:
    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    for name in ("a.pb", "b.pb"):
        shutil.copy(DIGITS, models / name)
    process = subprocess.Popen([sys.executable, "-m", "graphport", "migrate", str(models),
                                "-o", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            done = json.loads((out / "summary.json").read_text())["models"]
        except (OSError, ValueError, KeyError):
            done = []
        if any(m["status"] == "migrated" for m in done):
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: 1 of 2 models finished" in stderr and "rerun" in stderr
    assert "nothing written" not in stderr
    assert (out / "a.pb" / "a.float32.tflite").is_file()
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    rerun = run_cli("migrate", models, "-o", out, "--json", timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    entries = _models(rerun)
    assert entries["a.pb"]["reused"] and not entries["b.pb"]["reused"]
