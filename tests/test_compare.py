"""`graphport compare` and `graphport bench`: real files, real sizes, accuracy from the labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

from graphport.commands.compare import bench_tflite, compare_variants
from graphport.spec.options import CalibrationSpec, VerifySpec

pytestmark = pytest.mark.tf


DIGITS = FIXTURES / "digits_cnn.pb"
CALIB = FIXTURES / "digits_calib.npz"
TEST = FIXTURES / "digits_test.npz"


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("cmp") / "variants"
    return compare_variants(DIGITS, output_dir=out, calibration=CalibrationSpec(str(CALIB)),
                            verify=VerifySpec(count=8, eval_file=TEST), runs=5, warmup=1)


def test_all_five_variants_with_honest_numbers(compared: dict) -> None:
    rows = {r["name"]: r for r in compared["variants"]}
    assert list(rows) == ["float", "fp16", "dynamic", "int8", "int8-io"]
    for row in rows.values():
        assert row["error"] is None and row["runnable"]
        path = Path(row["path"])
        assert path.stat().st_size == row["size_bytes"]
        assert 0 < row["zipped_bytes"] < row["size_bytes"]
        assert row["latency_ms"]["p90"] >= row["latency_ms"]["median"] > 0
        assert row["ratio_to_float"] == pytest.approx(row["size_bytes"]
                                                      / rows["float"]["size_bytes"])
        assert row["top1_agreement"] >= 0.9
    assert rows["float"]["ratio_to_float"] == 1.0 and rows["float"]["ops"]["int8"] == 0
    assert rows["int8"]["ops"]["int8"] > 0 and rows["int8"]["ratio_to_float"] < 0.3
    assert rows["fp16"]["ratio_to_float"] < 0.6
    assert compared["source_latency_ms"]["median"] > 0
    assert compared["machine"]["cpus"] >= 1


def test_accuracy_is_computed_from_the_labels(compared: dict) -> None:
    from ai_edge_litert.interpreter import Interpreter

    data = np.load(TEST)
    row = next(r for r in compared["variants"] if r["name"] == "int8")
    runner = Interpreter(model_path=row["path"]).get_signature_runner()
    predictions = np.concatenate([runner(input=data["x"][i:i + 40])["probs"].argmax(1)
                                  for i in range(0, len(data["x"]), 40)])
    assert row["accuracy"] == pytest.approx(float(np.mean(predictions == data["y"])))
    sidecar = json.loads((FIXTURES / "digits_cnn.json").read_text())
    assert compared["source_accuracy"] == pytest.approx(sidecar["test_accuracy"], abs=1e-4)


def test_failing_variant_does_not_stop_the_others(tmp_path: Path) -> None:
    data = compare_variants(DIGITS, ["float", "int8", "dynamic"], tmp_path / "v", runs=2,
                            warmup=0, verify=VerifySpec(count=2))
    rows = {r["name"]: r for r in data["variants"]}
    assert rows["int8"]["error"] == "needs calibration data (--calib)"
    assert rows["int8"]["path"] is None
    assert rows["float"]["error"] is None and rows["dynamic"]["error"] is None
    assert sorted(p.name for p in (tmp_path / "v").iterdir() if p.name != ".graphport") == [
        "digits_cnn.dynamic.tflite", "digits_cnn.float.tflite"]


def test_cli_json_markdown_and_bench(tmp_path: Path) -> None:
    md = tmp_path / "table.md"
    result = run_cli("compare", DIGITS, "--variants", "float,dynamic", "--runs", "3", "-o",
                     tmp_path / "v", "--markdown", md, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for row in data["variants"]:
        for key in ("name", "path", "size_bytes", "zipped_bytes", "latency_ms"):
            assert key in row
    table = md.read_text()
    assert "| float |" in table and "| dynamic |" in table and "TensorFlow source" in table
    model = data["variants"][0]["path"]
    bench = run_cli("bench", model, "--runs", "5", "--threads", "1", "--json")
    assert bench.returncode == 0, bench.stderr
    measured = json.loads(bench.stdout)
    assert measured["latency_ms"]["runs"] == 5 and measured["threads"] == 1
    assert measured["inputs"] == {"input": [1, 28, 28, 1]}
    again = run_cli("compare", DIGITS, "-o", tmp_path / "v")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_bench_api_rejects_non_tflite() -> None:
    from graphport.errors import UserError

    with pytest.raises(UserError, match=r"not a \.tflite model"):
        bench_tflite(DIGITS)
    with pytest.raises(UserError, match="variants: unknown int4"):
        compare_variants(DIGITS, ["int4"])
