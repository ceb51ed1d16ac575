"""`graphport migrate`: a folder of good, bad and unsafe models, one process per model,
resumable, with a summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED, run_cli, shared_file

from graphport.commands.migrate import find_models
from graphport.commands.migrate_config import load_config
from graphport.commands.migrate_folder import check_out
from graphport.errors import UserError

pytestmark = pytest.mark.tf


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Good (frozen graph, checkpoint with a config), bad (truncated, custom op), unsafe."""
    root = tmp_path / "models"
    (root / "nested").mkdir(parents=True)
    shutil.copy(FIXTURES / "digits_cnn.pb", root / "nested" / "digits.pb")
    shutil.copy(FIXTURES / "custom_op.pbtxt", root)
    shutil.copy(FIXTURES / "unsafe_writefile.pb", root)
    (root / "truncated.pb").write_bytes((FIXTURES / "resnet_v2_small.pb").read_bytes()[:3000])
    shutil.copytree(FIXTURES / "checkpoints" / "dense_v1", root / "ckpt")
    (root / "graphport.toml").write_text('[models."ckpt"]\noutputs = ["probs"]\n')
    return root


def test_good_models_migrate_bad_ones_are_reported_and_a_rerun_skips(
        folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("migrate", str(folder), "-o", str(out), "--modes", "float32,dynamic",
                    "--jobs", "2", "--json", cwd=tmp_path, timeout=600)
    assert first.returncode == 1, first.stderr  # not every model migrated
    data = json.loads(first.stdout)
    status = {m["model"]: m for m in data["models"]}
    assert set(status) == {"nested/digits.pb", "custom_op.pbtxt", "unsafe_writefile.pb",
                           "truncated.pb", "ckpt"}
    for good in ("nested/digits.pb", "ckpt"):
        assert status[good]["status"] == "migrated", status[good]
        assert set(status[good]["sizes"]) == {"float32", "dynamic"}
        assert status[good]["verdict"] in ("match", "within tolerance")
    assert (out / "nested" / "digits.pb" / "saved_model" / "saved_model.pb").is_file()
    assert (out / "nested" / "digits.pb" / "digits.dynamic.tflite").is_file()
    assert (out / "ckpt" / "frozen.pb").is_file()
    assert "not a TensorFlow GraphDef" in status["truncated.pb"]["error"]
    assert "GraphportTestCustomOp" in status["custom_op.pbtxt"]["error"]
    # CLI terms under the CLI, and no try: line that would fail the same way (issue 26.14)
    assert "--outputs" in status["custom_op.pbtxt"]["hint"]
    assert "GraphSpec" not in first.stdout + first.stderr
    assert "will not run (WriteFile)" in status["unsafe_writefile.pb"]["error"]
    assert not (tmp_path / "graphport_unsafe_marker.txt").exists()
    markdown = (out / "summary.md").read_text()
    assert "| nested/digits.pb | migrated |" in markdown and "## Not migrated" in markdown
    assert json.loads((out / "summary.json").read_text())["counts"] == {"migrated": 2,
                                                                         "failed": 3}

    (folder / "truncated.pb").unlink()
    second = run_cli("migrate", str(folder), "-o", str(out), "--modes", "float32,dynamic",
                     "--json", cwd=tmp_path, timeout=600)
    again = {m["model"]: m for m in json.loads(second.stdout)["models"]}
    assert again["nested/digits.pb"]["reused"] and again["ckpt"]["reused"]
    assert again["custom_op.pbtxt"]["reused"]  # the same bytes fail the same way
    assert "truncated.pb" not in again
    third = run_cli("migrate", str(folder), "-o", str(out), "--modes", "float32", "--json",
                    cwd=tmp_path, timeout=600)
    redone = {m["model"]: m for m in json.loads(third.stdout)["models"]}
    assert not redone["nested/digits.pb"]["reused"]  # other options: migrated again
    assert set(redone["nested/digits.pb"]["sizes"]) == {"float32"}


def test_a_crashing_model_stops_only_itself(folder: Path, tmp_path: Path) -> None:
    """A memory limit the worker cannot live with: that model fails, the batch finishes."""
    for extra in ("custom_op.pbtxt", "unsafe_writefile.pb", "truncated.pb"):
        (folder / extra).unlink()
    shutil.rmtree(folder / "ckpt")
    (folder / "graphport.toml").unlink()
    result = run_cli("migrate", str(folder), "-o", str(tmp_path / "out"), "--memory-limit",
                     "0.5", "--json", cwd=tmp_path, timeout=600)
    assert result.returncode == 1
    entry = json.loads(result.stdout)["models"][0]
    assert entry["status"] == "failed" and entry["error"]
    assert "Traceback" not in result.stderr


def test_output_folder_and_config_are_checked(folder: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="did not write"):
        check_out(foreign, folder)
    assert (foreign / "notes.txt").read_text() == "mine"
    (folder / "graphport.toml").write_text('[models."ckpt"]\noutput = ["probs"]\n')
    with pytest.raises(UserError, match="unknown key 'output'"):
        load_config(None, folder)
    (folder / "graphport.toml").write_text('[models."ckpt"\n')
    with pytest.raises(UserError, match="invalid TOML"):
        load_config(None, folder)
    kinds = {str(p.relative_to(folder)): k for p, k in find_models(folder)}
    assert kinds["ckpt"] == "checkpoint" and kinds["nested/digits.pb"] == "graph"
    assert not any(name.startswith("ckpt/") for name in kinds)  # its pbtxt is part of it


def test_mtcnn_with_a_config_migrates(tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    shutil.copy(shared_file(SHARED / "mtcnn.pb"), root)
    shutil.copy(shared_file(SHARED / "faces.png"), root)
    (root / "graphport.toml").write_text(
        '[models."mtcnn.pb"]\nset = { min_size = 40, factor = 0.709, thresholds = '
        '"0.6,0.7,0.7" }\nsamples = { input = "faces.png" }\nbgr = true\n')
    result = run_cli("migrate", str(root), "-o", str(tmp_path / "out"), "--json", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    entry = json.loads(result.stdout)["models"][0]
    assert entry["status"] == "migrated" and entry["verdict"] in ("match", "within tolerance")
    assert entry["flex_ops"] == []
