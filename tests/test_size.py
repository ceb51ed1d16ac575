"""Model size (issue 19): quantized models of unrolled graphs not bloated by what the converter
stores per tensor, a warning with the reason when a quantized model is still larger than float,
the default run converting once, and the zipped size cheap on big models."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, run_cli

from graphport.convert.op_report import zipped_size

LSTM = FIXTURES / "lstm_unrolled.pb"


def test_zipped_size_is_exact_when_small_and_a_close_estimate_when_large() -> None:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 4, 1 << 20, dtype=np.uint8).tobytes()
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.tflite", small)
    assert zipped_size(small) == (len(buffer.getvalue()), False)
    # 24 MB like weights: random int8 blocks, some zeroed (pruned), some constant
    blocks = [rng.integers(-128, 128, 1 << 20, dtype=np.int8).tobytes() if i % 3 else
              bytes(1 << 20) for i in range(24)]
    large = b"".join(blocks)
    estimate, estimated = zipped_size(large)
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.tflite", large)
    assert estimated and abs(estimate / len(buffer.getvalue()) - 1) < 0.05


@pytest.mark.tf
def test_unrolled_lstm_int8_is_not_larger_than_float(tmp_path: Path) -> None:
    from graphport.backend.runtime import tensorflow
    from graphport.convert.calibration import load_calibration
    from graphport.convert.compact import compact_model
    from graphport.convert.converter import convert
    from graphport.convert.source import source_model
    from graphport.graph.tflite_model import parse_tflite
    from graphport.spec.options import CalibrationSpec, GraphSpec
    from graphport.verify.tflite_runner import TFLiteRunner

    tensorflow()
    # the unrolled structure itself (re-rolling, the default, leaves none of it)
    with source_model(LSTM, GraphSpec(passes=["split_concat_matmul"])) as source:
        raw_float = convert(source, "float32")
        calibration = load_calibration(CalibrationSpec("random", 4), source.inputs)
        raw_int8 = convert(source, "int8", calibration=calibration)
    # what the converter gives, the bug: 1.32x measured (1.58x before split_concat_matmul
    # gave each step's input and state kernels apart)
    assert len(raw_int8) > 1.2 * len(raw_float)
    int8, saved = compact_model(raw_int8)
    float32, _ = compact_model(raw_float)
    assert saved > 0 and len(int8) <= len(float32)
    sample = {"x": np.random.default_rng(1).random((1, 64, 16), dtype=np.float32)}
    for before, after in ((raw_int8, int8), (raw_float, float32)):  # numbers untouched
        a, b = TFLiteRunner(before)(sample), TFLiteRunner(after)(sample)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    names = [t.name for op in parse_tflite(int8, "m").operators for t in op.outputs]
    assert max(len(n) for n in names) < 100  # no joined name per time step left
    longest = max(len(n) for op in parse_tflite(raw_int8, "m").operators for n in
                  (t.name for t in op.outputs))
    assert longest > 500


@pytest.mark.tf
def test_default_run_converts_once_and_estimates_the_float_size(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    import graphport.commands.tflite as tflite
    from graphport.spec.options import CalibrationSpec, VerifySpec

    calls: list[str] = []
    real = tflite.convert

    def counting(source: object, mode: str, *args: object, **kwargs: object) -> bytes:
        calls.append(mode)
        return real(source, mode, *args, **kwargs)

    monkeypatch.setattr(tflite, "convert", counting)
    result = tflite.convert_tflite(FIXTURES / "digits_cnn.pb", tmp_path / "d.tflite", "dynamic",
                                   verify=VerifySpec(enabled=False))
    assert calls == ["dynamic"] and result.float_size_source == "estimated"
    exact = tflite.convert_tflite(FIXTURES / "digits_cnn.pb", tmp_path / "e.tflite", "dynamic",
                                  verify=VerifySpec(enabled=False), size_ratio="exact")
    assert calls == ["dynamic", "dynamic", "float32"] and exact.float_size_source == "converted"
    # the estimate, from the model's own constants, lands within 1% of the real float model
    assert abs(result.float_size_bytes / exact.float_size_bytes - 1) < 0.01
    int8 = tflite.convert_tflite(FIXTURES / "digits_cnn.pb", tmp_path / "i.tflite", "int8",
                                 calibration=CalibrationSpec(str(FIXTURES / "digits_calib.npz")),
                                 verify=VerifySpec(enabled=False))
    assert calls[-1] == "int8" and len(calls) == 4 and int8.ratio_to_float < 0.3


@pytest.mark.tf
def test_a_quantized_model_larger_than_float_is_a_warning_with_the_reason(tmp_path: Path
                                                                         ) -> None:
    """A 4x3 dense layer: int8 adds QUANTIZE ops and a scale per tensor to almost no weights."""
    result = run_cli("tflite", str(FIXTURES / "cond_training.pb"), "--int8", "--calib",
                     "random", "--set", "is_training=false", "--exact-size-ratio", "--json",
                     "-o", str(tmp_path / "q.tflite"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["size_bytes"] > data["float_size_bytes"] and data["float_size_source"] == \
        "converted"
    warning = next(w for w in data["warnings"] if "larger than float32" in w)
    assert "its size is its structure" in warning and "quantization parameters" in warning


@pytest.mark.tf
@pytest.mark.parametrize(("graph", "mode", "spec"), [
    ("lstm_unrolled.pb", "int8", {}),
    ("cond_training.pb", "int8", {"set_values": {"is_training": "false"}}),
    ("cond_training.pb", "dynamic", {"set_values": {"is_training": "false"}}),
    ("pyramid.pb", "fp16", {}),
    ("digits_cnn.pb", "int8", {}),
    ("mtcnn.pb", "dynamic", {"inputs": ["input", "thresholds"],
                             "set_values": {"min_size": "40", "factor": "0.709"}}),
])
def test_the_size_ratio_is_within_two_percent_of_the_files(graph: str, mode: str,
                                                           spec: dict, tmp_path: Path) -> None:
    """issue 28, item 8: the default ratio (estimated, or converted where structure makes the
    estimate unsure) against float32 converted for real."""
    from conftest import SHARED, shared_file

    from graphport.commands.tflite import convert_tflite
    from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec

    path = shared_file(SHARED / graph) if graph == "mtcnn.pb" else FIXTURES / graph
    options = {"graph": GraphSpec(**spec), "verify": VerifySpec(enabled=False),
               "calibration": CalibrationSpec("random", 4) if mode == "int8" else None}
    default = convert_tflite(path, tmp_path / "d.tflite", mode, **options)
    assert default.float_size_source in ("estimated", "converted")
    if default.float_size_source == "converted":
        assert graph in ("lstm_unrolled.pb", "cond_training.pb", "pyramid.pb")
        return
    exact = convert_tflite(path, tmp_path / "e.tflite", mode, size_ratio="exact", **options)
    assert abs(default.ratio_to_float / exact.ratio_to_float - 1) < 0.02
