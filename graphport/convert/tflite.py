"""`graphport tflite`: convert a frozen graph or SavedModel to TFLite in any post-training mode,
then report op by op what the model became and how far its numbers moved."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphport.convert.calibration import Calibration, load_calibration
from graphport.convert.converter import convert
from graphport.convert.op_report import mark_chosen, op_rows, rows_json, summarize, zipped_size
from graphport.convert.source import SourceModel, source_model
from graphport.errors import ConversionError, UserError
from graphport.graph.tflite_model import parse_tflite
from graphport.outputs import atomic_path, check_target
from graphport.quant.int8 import QuantOptions
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
    quant: dict[str, Any] | None = None  # --keep-float / --debug-quant / auto-tuning
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_output(model: Path, mode: str, io: str | None) -> Path:
    """``model.pb`` -> ``model.int8.tflite`` (``model.int8-uint8io.tflite`` with integer I/O)."""
    suffix = mode + (f"-{io}io" if io else "")
    stem = model.name if model.is_dir() else model.stem
    return model.with_name(f"{stem}.{suffix}.tflite")


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


@dataclass
class EvalData:
    """The ``--eval`` data, loaded once: batches keyed by the model's input, and their labels.
    The source's outputs on them are computed on first use and kept, since the accuracy check
    and auto-tuning both compare against them."""

    samples: list[dict[str, np.ndarray]]
    labels: np.ndarray
    _reference: list[dict[str, np.ndarray]] | None = field(default=None, repr=False)

    def source_outputs(self, source: SourceModel) -> list[dict[str, np.ndarray]]:
        if self._reference is None:
            self._reference = source.run(self.samples)
        return self._reference


def load_eval(eval_file: Path, source: SourceModel) -> EvalData:
    """The labelled data of ``--eval`` (arrays ``x``, ``y``) in batches the model accepts."""
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
    batches = _batches(x.astype(np.float32), source)
    if not batches:
        raise UserError(f"--eval {eval_file}: fewer samples than the model's batch size")
    return EvalData([{source.inputs[0].key: b} for b in batches], y)


def evaluate(data: EvalData, source: SourceModel, runner: Any) -> dict[str, Any]:
    """Accuracy of source and TFLite on labelled data (``x``, ``y``), like the seed's eval_model."""
    reference = data.source_outputs(source)
    converted = [runner(s) for s in data.samples]
    output = next(iter(reference[0]))
    sizes = [len(next(iter(s.values()))) for s in data.samples]
    labels = data.labels[: sum(sizes)]
    ref_pred = np.concatenate([np.asarray(r[output]).reshape(n, -1).argmax(1)
                               for r, n in zip(reference, sizes, strict=True)])
    got_pred = np.concatenate([np.asarray(c[output]).reshape(n, -1).argmax(1)
                               for c, n in zip(converted, sizes, strict=True)])
    return {"samples": len(labels), "output": output,
            "source_accuracy": float(np.mean(ref_pred == labels)),
            "tflite_accuracy": float(np.mean(got_pred == labels)),
            "top1_agreement": float(np.mean(ref_pred == got_pred))}


def quant_samples(source: SourceModel, calibration: Calibration, eval_data: EvalData | None
                  ) -> tuple[list[dict[str, np.ndarray]], str,
                             Callable[[], list[dict[str, np.ndarray]]]]:
    """What layer errors and auto-tuning are measured on: the --eval data when given (held out
    from calibration), else the calibration samples; and how to get the source's outputs."""
    if eval_data is not None:
        count = sum(len(next(iter(s.values()))) for s in eval_data.samples)
        return (eval_data.samples, f"{count} --eval samples",
                lambda: eval_data.source_outputs(source))
    return (calibration.samples, f"{len(calibration.samples)} calibration samples",
            lambda: source.run(calibration.samples))


# ------------------------------------------------------------------ the command

def check_mode(mode: str, io: str | None, strict: bool, calib: str | None,
               quant: QuantOptions | None = None) -> None:
    """Reject option combinations that mean nothing, before any slow work."""
    if quant:
        quant.check(mode, strict)
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
    quant: QuantOptions | None = None,
    progress: Progress | None = None,
) -> TFLiteResult:
    """Convert an opened source in one mode, write ``target`` atomically, report and check it.

    ``float_size`` (bytes of the float32 model) saves the reference conversion when known;
    ``quant`` (int8) keeps layers in float, measures layer errors or tunes to a target."""
    step = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    warnings = [f"calibrated on {calibration.description}"] if (
        calibration is not None and calibration.is_random) else []
    eval_data = load_eval(eval_file, source) if eval_file else None
    started = time.perf_counter()
    step(f"converting ({mode}{', calibrating' if calibration else ''})")
    outcome = None
    if quant and quant.active and calibration is not None:
        from graphport.quant.int8 import quantize_int8

        measured_on, described, reference = quant_samples(source, calibration, eval_data)
        outcome = quantize_int8(source, calibration, quant, io, select_ops, measured_on,
                                described, reference, step)
        data = outcome.data
    else:
        data = convert(source, mode, io, strict, select_ops, calibration)
    conversion_s = time.perf_counter() - started

    report_start = time.perf_counter()
    step("building the report")
    rows = op_rows(parse_tflite(data, target))
    if outcome is not None:
        mark_chosen(rows, outcome.keep.covers)
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
    elif parity or eval_data:
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
        if eval_data:
            step("evaluating accuracy")
            eval_report = evaluate(eval_data, source, runner)
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
        parity=parity_report, eval=eval_report,
        quant=None if outcome is None else outcome.to_json(), timings=timings, warnings=warnings)


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
    quant: QuantOptions | None = None,
    progress: Progress | None = None,
) -> TFLiteResult:
    """Convert ``model`` (frozen graph or SavedModel) to TFLite and report on the result.
    ``passes``: graph repairs for frozen graphs (None: the default pipeline; []: none).
    ``quant``: int8 with layers kept in float, per-layer errors, or tuning to a target."""
    step = progress or (lambda _message: None)
    model = Path(model)
    check_mode(mode, io, strict, calib, quant)
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
                                quant=quant, progress=step)
    result.timings["prepare_s"] = prepare_s
    return result
