"""`graphport compare`: every deployment variant of one model, built once each from one prepared
source, measured side by side: size (raw, zipped, ratio), op mix, parity, accuracy, latency.

`graphport bench`: the latency part alone for an existing .tflite file."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from graphport.commands.tflite import convert_source
from graphport.convert.calibration import load_calibration
from graphport.convert.converter import convert
from graphport.convert.reference import reference_samples
from graphport.convert.source import RUNTIME_CUSTOM_OPS, source_model
from graphport.errors import ConversionError, GraphportError, UserError, api_errors
from graphport.graph import load
from graphport.outputs import DIRECTORY, atomic_path, check_target, output_path
from graphport.progress import Progress, or_silent
from graphport.results import JsonResult
from graphport.spec.io_types import IoTypes
from graphport.spec.modes import calibrated
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec
from graphport.verify.latency import Latency, measure, tflite_inputs
from graphport.verify.tflite_runner import TFLiteRunner, default_threads

# name -> (converter mode, integer I/O type)
VARIANTS: dict[str, tuple[str, IoTypes | None]] = {
    "float": ("float32", None), "fp16": ("fp16", None), "dynamic": ("dynamic", None),
    "int8": ("int8", None), "int8-io": ("int8", IoTypes.parse("uint8")),
    "int16x8": ("int16x8", None),
}
# What compare builds unless --variants says: int16x8 (16-bit activations) on request.
DEFAULT_VARIANTS = ("float", "fp16", "dynamic", "int8", "int8-io")


@dataclass
class VariantRow:
    name: str
    path: str | None = None
    error: str | None = None
    size_bytes: int | None = None
    zipped_bytes: int | None = None
    ratio_to_float: float | None = None
    ops: dict[str, int] = field(default_factory=dict)
    max_abs: float | None = None
    cosine: float | None = None
    top1_agreement: float | None = None
    verdict: str | None = None
    detections: dict[str, Any] | None = None  # detectors: found again at score >= 0.3
    accuracy: float | None = None
    latency_ms: dict[str, float] | None = None
    runnable: bool = True


@dataclass
class CompareReport(JsonResult):
    """Every variant of one model side by side, and the TensorFlow source's own figures."""

    model: str
    output_dir: str
    machine: dict[str, Any]
    threads: int | None
    source_latency_ms: dict[str, Any]
    source_accuracy: float | None
    variants: list[VariantRow]


def machine() -> dict[str, Any]:
    """What the latency numbers were measured on."""
    return {"platform": platform.platform(), "processor": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version()}


def _latency_json(latency: Latency) -> dict[str, float]:
    return {"median": latency.median_ms, "p90": latency.p90_ms, "mean": latency.mean_ms,
            "runs": latency.runs, "warmup": latency.warmup}


def _worst(parity: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    outputs = parity.get("outputs") or []
    if not outputs:
        return None, None, None
    def worst(key: str, pick: Any) -> float | None:
        values = [o[key] for o in outputs if o[key] is not None]
        return pick(values) if values else None

    return worst("max_abs", max), worst("cosine", min), worst("top1_agreement", min)


@api_errors
def compare_variants(
    model: str | os.PathLike[str],
    variants: list[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    graph: GraphSpec | None = None,
    calibration: CalibrationSpec | None = None,
    verify: VerifySpec | None = None,
    threads: int | None = None,
    runs: int = 50,
    warmup: int = 5,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> CompareReport:
    """Build and measure each variant; a variant that fails is reported in its row."""
    step = or_silent(progress)
    model = Path(model)
    calib = calibration or CalibrationSpec()
    check = verify or VerifySpec()
    names = variants or list(DEFAULT_VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise UserError(f"--variants: unknown {', '.join(unknown)}",
                        f"choose from {', '.join(VARIANTS)}")
    if runs < 1:
        raise UserError("--runs must be at least 1")
    stem = model.name if model.is_dir() else model.stem
    directory = check_target(output_path(output_dir, f"{stem}_variants", DIRECTORY), overwrite,
                             kind=DIRECTORY)
    step("preparing the model")
    with source_model(model, graph or GraphSpec()) as source, \
            atomic_path(directory, overwrite, directory=True) as building:
        samples = None
        if calib.data:
            step("loading calibration data")
            samples = load_calibration(calib, source.inputs, given=check.given)
        sample = reference_samples(source, samples, 1, check.given, check.bgr)[0][0]
        step("timing the TensorFlow source")
        source_call = source.runner()
        source_latency = measure(lambda: source_call(sample), runs, warmup)
        float_size = None
        if "float" not in names:
            float_size = len(convert(source, "float32"))
        rows = []
        source_accuracy = None
        ordered = sorted(names, key=list(VARIANTS).index)  # float first: its size is the base
        for n, name in enumerate(ordered, 1):
            mode, io = VARIANTS[name]
            row = VariantRow(name)
            rows.append(row)
            step(f"variant {n}/{len(ordered)}: building {name}")
            try:
                if calibrated(mode) and samples is None:
                    raise UserError("needs calibration data (--calib)")
                result = convert_source(
                    source, building / f"{stem}.{name}.tflite", mode, io,
                    calibration=samples if calibrated(mode) else None, verify=check,
                    overwrite=True, float_size=float_size)
            except GraphportError as error:
                row.error = error.message
                continue
            if name == "float":
                float_size = result.size_bytes
            summary = result.summary
            row.path = str(directory / Path(result.path).name)
            row.size_bytes, row.zipped_bytes = result.size_bytes, result.zipped_bytes
            row.ratio_to_float = result.size_bytes / float_size if float_size else None
            row.ops = {"int8": summary["int8"], "float": summary["float"],
                       "flex": summary["flex"] + sum(  # custom ops the runtime lacks
                           1 for op in result.operators if op["compute"] == "custom"
                           and op["op"] not in RUNTIME_CUSTOM_OPS)}
            row.max_abs, row.cosine, row.top1_agreement = _worst(result.parity)
            row.verdict = result.parity["verdict"]
            row.detections = (result.parity.get("detections") or [None])[0]
            if result.eval:
                row.accuracy = result.eval["tflite_accuracy"]
                source_accuracy = result.eval["source_accuracy"]
            row.runnable = result.parity["status"] != "not runnable"
            if row.runnable:
                step(f"variant {n}/{len(ordered)}: timing {name}")
                runner = TFLiteRunner(Path(result.path).read_bytes(), threads=threads)
                row.latency_ms = _latency_json(measure(partial(runner, sample), runs, warmup))
        if not any(row.path for row in rows):
            raise ConversionError("every variant failed: " + "; ".join(
                f"{row.name}: {row.error}" for row in rows) + "; nothing was written")
    return CompareReport(str(model), str(directory), machine(), threads or default_threads(),
                         _latency_json(source_latency), source_accuracy, rows)


@api_errors
def bench_tflite(path: str | os.PathLike[str], threads: int | None = None, runs: int = 50,
                 warmup: int = 5) -> dict[str, Any]:
    """Latency of one .tflite model with ai-edge-litert on random inputs of its own shapes."""
    path = Path(path)
    if load.detect_format(path) != load.TFLITE:
        raise UserError(f"{path} is not a .tflite model", "bench takes a TFLite flatbuffer")
    if runs < 1:
        raise UserError("--runs must be at least 1")
    runner = TFLiteRunner(path.read_bytes(), threads=threads)
    sample = tflite_inputs(runner)
    latency = measure(lambda: runner.runner(**sample), runs, warmup)
    return {"model": str(path), "threads": threads or default_threads(), "machine": machine(),
            "inputs": {k: list(v.shape) for k, v in sample.items()},
            "latency_ms": _latency_json(latency)}
