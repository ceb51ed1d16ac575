"""issue 26, item 17: from the installed package, the hints lead to a working int8 MTCNN in
two tries: the first names what calibration needs, the second (its placeholders filled in)
writes a model that finds the faces."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import FACES, MTCNN, run_cli, shared_file

pytestmark = pytest.mark.tf
VALUES = {"min_size": "40", "thresholds": "0.6,0.7,0.7", "factor": "0.709"}


def test_two_tries_to_a_working_int8_mtcnn(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(shared_file(FACES), images)
    first = run_cli("tflite", shared_file(MTCNN), "--int8", "-o", tmp_path / "m.tflite")
    assert first.returncode == 2 and "random" not in first.stderr.split("hint:")[1]
    hint = first.stderr.split("hint: ", 1)[1].split(" (add --bgr")[0]
    words = shlex.split(hint.replace("<folder of images like those it will see>",
                                     str(images)))
    filled = [w.split("=")[0] + "=" + VALUES[w.split("=")[0]] if w.endswith("=<value>") else w
              for w in words]
    assert "<" not in " ".join(filled), filled
    second = run_cli("tflite", MTCNN, "--int8", *filled, "--bgr", "-o", tmp_path / "m.tflite",
                     "--json", timeout=900)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["parity"]["verdict"] == "within tolerance"
    rows = {r["key"]: r for r in data["parity"]["outputs"]}
    assert rows["box"]["compared"] == 24 and rows["box"]["max_abs"] < 10  # 6 faces, in px
    assert any("kept in float" in w for w in data["warnings"])
    assert (tmp_path / "m.tflite").stat().st_size > 100_000
