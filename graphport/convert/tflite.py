"""`graphport tflite`: convert a frozen graph or SavedModel to TFLite in any post-training mode,
then report op by op what the model became and how far its numbers moved."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphport.convert.calibration import Calibration, load_calibration
from graphport.convert.op_report import op_rows, rows_json, summarize, zipped_size
from graphport.convert.signature import add_signature
from graphport.convert.source import SourceModel, source_model
from graphport.errors import ConversionError, UserError
from graphport.graph.tflite_model import parse_tflite
from graphport.outputs import atomic_path, check_target
from graphport.verify.parity import agreement
from graphport.verify.samples import sample_inputs

MODES = ("float32", "fp16", "dynamic", "int8")
IO_TYPES = ("uint8", "int8")
Progress = Callable[[str], None]


@dataclass
class TFLiteResult:
    path: str
    mode: str
    io: str | None
    size_bytes: int
    zipped_bytes: int
    float_size_bytes: int | None
    ratio_to_float: float | None
    summary: dict[str, Any]
    operators: list[dict[str, Any]]
    calibration: dict[str, Any] | None
    rewrites: list[dict[str, Any]]
    parity: dict[str, Any]
    eval: dict[str, Any] | None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_output(model: Path, mode: str, io: str | None) -> Path:
    """``model.pb`` -> ``model.int8.tflite`` (``model.int8-uint8io.tflite`` with integer I/O)."""
    suffix = mode + (f"-{io}io" if io else "")
    stem = model.name if model.is_dir() else model.stem
    return model.with_name(f"{stem}.{suffix}.tflite")


# ------------------------------------------------------------------ conversion

def _select_ops_in(message: str) -> dict[str, list[str]]:
    """TF op types (and node names) the converter said need Flex, from its error text."""
    ops = set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message))
    ops |= {op.strip() for line in re.findall(r"TF Select ops: ([^\n]+)", message)
            for op in line.split(",")}
    found: dict[str, list[str]] = {op: [] for op in sorted(ops) if op}
    for op, node in re.findall(r'loc\((?:callsite\()?fused\["(\w+):", "([^"@]+)', message):
        if op in found and node not in found[op]:
            found[op].append(node)
    return found


def convert(source: SourceModel, mode: str, io: str | None = None, strict: bool = False,
            select_ops: bool = False, calibration: Calibration | None = None) -> bytes:
    """Run the TFLite converter once with the settings of one mode."""
    from graphport.tf_runtime import tensorflow

    tf = tensorflow()
    converter = source.converter()
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        assert calibration is not None
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (source.representative(s)
                                                    for s in calibration.samples)
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8] + ([] if strict else ops)
        if io:
            converter.inference_input_type = tf.as_dtype(io)
            converter.inference_output_type = tf.as_dtype(io)
    if select_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    try:
        data = converter.convert()
    except Exception as error:  # ConverterError, and ValueError/RuntimeError from calibration
        message = str(error)
        needs = _select_ops_in(message)
        if needs and not select_ops:
            listing = "; ".join(f"{op} ({', '.join(nodes[:3]) or '?'}"
                                f"{', ...' if len(nodes) > 3 else ''}) {_repair_status(op, source)}"
                                for op, nodes in sorted(needs.items()))
            raise ConversionError(f"conversion needs TF Select ops: {listing}",
                                  "pass --select-ops to keep them as Flex ops (the Python "
                                  "interpreters cannot run those)") from None
        if strict:
            unquantizable = sorted(set(re.findall(r"'tfl?\.(\w+)'", message)) | set(needs))
            raise ConversionError("--strict: ops without an int8 kernel: "
                                  + (", ".join(unquantizable) or _first_line(message)),
                                  "drop --strict to let them fall back to float") from None
        raise ConversionError(f"the TFLite converter failed: {_first_line(message)}",
                              "rerun with --debug for the converter's full output") from None
    if source.graph_def is not None:
        data = add_signature(data, source.inputs, source.outputs)
    return data


def _repair_status(op: str, source: SourceModel) -> str:
    """Which repair pass covers ``op``, and whether it ran and why it did not help."""
    from graphport.passes.pipeline import repairing_pass

    name = repairing_pass(op)
    if name is None:
        return "[no graphport repair exists for it]"
    ran = [r for r in source.rewrites if r.name == name]
    if not ran:
        return f"[repair pass {name} would handle it; it did not run]"
    notes = [n for r in ran for n in r.notes if "not repairable" in n]
    return f"[pass {name} ran but could not repair it: {'; '.join(notes) or 'no match'}]"


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith("<unknown>"):
            return line[:300]
    errors = re.findall(r"error: [^\n]*?: (.+)", message)
    return errors[0][:300] if errors else "unknown error"


# ------------------------------------------------------------------ checks

def reference_samples(source: SourceModel, calibration: Calibration | None, count: int,
                      given: dict[str, str] | None = None, bgr: bool = False
                      ) -> tuple[list[dict[str, np.ndarray]], str]:
    """Inputs to compare source and TFLite on: the user's --sample, else real calibration data
    when there is some, else seeded random data (which may exercise little of a detector)."""
    if given:
        sample, notes = sample_inputs(source.inputs, given, bgr=bgr)
        generated = f"; generated: {'; '.join(notes)}" if notes else ""
        return [sample], f"the given sample{generated}"
    if calibration is not None and not calibration.is_random:
        return calibration.samples[:count], f"{min(count, len(calibration.samples))} " \
                                            f"calibration samples"
    samples = [sample_inputs(source.inputs, seed=seed)[0] for seed in range(count)]
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in samples[0].items())
    return samples, f"{count} generated samples (random, seeds 0..{count - 1}: {shapes})"


def _batches(x: np.ndarray, source: SourceModel, batch: int = 64) -> list[np.ndarray]:
    shape = source.inputs[0].shape
    if shape and shape[0] > 0:  # a fixed batch size (often 1): only whole batches fit
        return [x[i:i + shape[0]] for i in range(0, len(x) - shape[0] + 1, shape[0])]
    return [x[i:i + batch] for i in range(0, len(x), batch)]


def evaluate(eval_file: Path, source: SourceModel, runner: Any) -> dict[str, Any]:
    """Accuracy of source and TFLite on labelled data (``x``, ``y``), like the seed's eval_model."""
    try:
        with np.load(eval_file, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
    except KeyError:
        raise UserError(f"--eval {eval_file}: needs arrays 'x' and 'y'") from None
    except Exception as error:
        raise UserError(f"--eval {eval_file}: not a readable .npz ({type(error).__name__})"
                        ) from None
    if len(source.inputs) != 1:
        raise UserError("--eval works on single-input models")
    key = source.inputs[0].key
    batches = _batches(x.astype(np.float32), source)
    if not batches:
        raise UserError(f"--eval {eval_file}: fewer samples than the model's batch size")
    reference = source.run([{key: b} for b in batches])
    converted = [runner({key: b}) for b in batches]
    output = next(iter(reference[0]))
    labels = y[: sum(len(b) for b in batches)]
    ref_pred = np.concatenate([np.asarray(r[output]).reshape(len(b), -1).argmax(1)
                               for r, b in zip(reference, batches, strict=True)])
    got_pred = np.concatenate([np.asarray(c[output]).reshape(len(b), -1).argmax(1)
                               for c, b in zip(converted, batches, strict=True)])
    return {"samples": len(labels), "output": output,
            "source_accuracy": float(np.mean(ref_pred == labels)),
            "tflite_accuracy": float(np.mean(got_pred == labels)),
            "top1_agreement": float(np.mean(ref_pred == got_pred))}


# ------------------------------------------------------------------ the command

def check_mode(mode: str, io: str | None, strict: bool, calib: str | None) -> None:
    """Reject option combinations that mean nothing, before any slow work."""
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
    if io and mode != "int8":
        raise UserError("--io needs --int8", "integer input/output exists only for full int8")
    if io and io not in IO_TYPES:
        raise UserError(f"--io {io}: use uint8 or int8")
    if strict and mode != "int8":
        raise UserError("--strict needs --int8")
    if mode == "int8" and not calib:
        raise UserError("--int8 needs calibration data: --calib DIR|FILE.npy|FILE.npz",
                        "or --calib random to calibrate on random data (not recommended)")


def convert_source(
    source: SourceModel,
    target: Path,
    mode: str = "float32",
    io: str | None = None,
    strict: bool = False,
    select_ops: bool = False,
    calibration: Calibration | None = None,
    parity: bool = True,
    parity_samples: int = 16,
    eval_file: Path | None = None,
    overwrite: bool = False,
    float_size: int | None = None,
    size_ratio: bool = True,
    samples: dict[str, str] | None = None,
    bgr: bool = False,
    progress: Progress | None = None,
) -> TFLiteResult:
    """Convert an opened source in one mode, write ``target`` atomically, report and check it.

    ``float_size`` (bytes of the float32 model) saves the reference conversion when known."""
    step = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    warnings = [f"calibrated on {calibration.description}"] if (
        calibration is not None and calibration.is_random) else []
    started = time.perf_counter()
    step(f"converting ({mode}{', calibrating' if calibration else ''})")
    data = convert(source, mode, io, strict, select_ops, calibration)
    conversion_s = time.perf_counter() - started

    report_start = time.perf_counter()
    step("building the report")
    rows = op_rows(parse_tflite(data, target))
    summary = summarize(rows, int8_mode=mode == "int8")
    if strict and summary["float_fallback"]:
        # The converter keeps some float-only ops (RANDOM_UNIFORM, ...) even when told
        # TFLITE_BUILTINS_INT8 alone, so --strict is enforced on the result.
        listing = "; ".join(f"{f['op']} ({', '.join(f['tf_nodes'][:2])})"
                            for f in summary["float_fallback"])
        raise ConversionError(f"--strict: ops without an int8 kernel stay in float: "
                              f"{listing}; nothing was written",
                              "drop --strict to allow the float fallback")
    report_s = time.perf_counter() - report_start
    write_start = time.perf_counter()
    with atomic_path(target, overwrite, directory=False) as temp:
        temp.write_bytes(data)
    timings["conversion_s"] = conversion_s
    timings["write_s"] = time.perf_counter() - write_start
    report_start = time.perf_counter()
    zipped = zipped_size(data)
    if mode == "float32":
        float_size = len(data)
    elif float_size is None and size_ratio:
        step("converting float32 for the size ratio")
        float_size = len(convert(source, "float32", select_ops=select_ops))
    timings["report_s"] = report_s + time.perf_counter() - report_start

    parity_report: dict[str, Any] = {"status": "skipped"}
    eval_report = None
    if summary["flex"] or summary["custom"]:
        parity_report = {"status": "not runnable",
                         "reason": f"needs Flex/custom ops {', '.join(summary['flex_ops'])}: "
                                   "neither ai-edge-litert nor tf.lite can run it in Python "
                                   "(no Flex delegate), so it was not verified"}
        warnings.append(parity_report["reason"])
    elif parity or eval_file:
        parity_start = time.perf_counter()
        from graphport.verify.tflite_runner import TFLiteRunner

        runner = TFLiteRunner(data)
        if parity:
            step("checking parity with the source")
            inputs, described = reference_samples(source, calibration, parity_samples, samples,
                                                  bgr)
            outputs = agreement(source.run(inputs), [runner(s) for s in inputs])
            parity_report = {"status": "checked", "samples": described,
                             "outputs": [asdict(r) for r in outputs]}
            if not any(o.compared for o in outputs):
                warnings.append("parity compared no values: every output was empty on these "
                                "inputs; give real ones with --sample NAME=FILE")
        if eval_file:
            step("evaluating accuracy")
            eval_report = evaluate(eval_file, source, runner)
        timings["parity_s"] = time.perf_counter() - parity_start

    return TFLiteResult(
        path=str(target), mode=mode, io=io, size_bytes=len(data),
        zipped_bytes=zipped, float_size_bytes=float_size,
        ratio_to_float=len(data) / float_size if float_size else None,
        summary=summary, operators=rows_json(rows),
        calibration=None if calibration is None else {
            "source": calibration.source, "samples": len(calibration.samples),
            "description": calibration.description},
        rewrites=[asdict(r) for r in source.rewrites],
        parity=parity_report, eval=eval_report, timings=timings, warnings=warnings)


def convert_tflite(
    model: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    mode: str = "float32",
    io: str | None = None,
    strict: bool = False,
    select_ops: bool = False,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    set_values: dict[str, str] | None = None,
    input_shapes: dict[str, str] | None = None,
    allow_unsafe_ops: bool = False,
    calib: str | None = None,
    calib_samples: int = 100,
    mean: float = 0.0,
    std: float = 1.0,
    bgr: bool = False,
    parity: bool = True,
    parity_samples: int = 16,
    eval_file: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    size_ratio: bool = True,
    passes: list[str] | None = None,
    samples: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> TFLiteResult:
    """Convert ``model`` (frozen graph or SavedModel) to TFLite and report on the result.
    ``passes``: graph repairs for frozen graphs (None: the default pipeline; []: none)."""
    step = progress or (lambda _message: None)
    model = Path(model)
    check_mode(mode, io, strict, calib)
    if calib and mode != "int8":
        raise UserError("--calib is only used with --int8")
    target = Path(output) if output else default_output(model, mode, io)
    check_target(target, overwrite)
    graph_options = {"inputs": inputs, "outputs": outputs, "set_values": set_values,
                     "input_shapes": input_shapes, "passes": passes}
    step("preparing and repairing the model")
    started = time.perf_counter()
    with source_model(model, graph_options, allow_unsafe_ops) as source:
        calibration = None
        if mode == "int8":
            step("loading calibration data")
            calibration = load_calibration(calib, source.inputs, calib_samples, mean, std, bgr)
        prepare_s = time.perf_counter() - started
        result = convert_source(source, target, mode, io, strict, select_ops, calibration,
                                parity, parity_samples, Path(eval_file) if eval_file else None,
                                overwrite, size_ratio=size_ratio, samples=samples, bgr=bgr,
                                progress=step)
    result.timings["prepare_s"] = prepare_s
    return result
