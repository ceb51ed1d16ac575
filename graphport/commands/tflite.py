"""`graphport tflite`: convert a frozen graph or SavedModel to TFLite in any post-training mode,
then report op by op what the model became and how far its numbers moved."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from graphport.convert.calibration import Calibration, load_calibration
from graphport.convert.carried import carried_input_stats
from graphport.convert.compact import compact_model
from graphport.convert.converter import ID_OUTPUTS_NOTE, REROLL_PASSES, convert, fitted_io
from graphport.convert.op_report import mark_chosen, op_rows, rows_json, summarize, zipped_size
from graphport.convert.reference import evaluate, load_eval, quant_samples, reference_samples
from graphport.convert.source import RUNTIME_CUSTOM_OPS, SourceModel, source_model
from graphport.errors import ConversionError, GraphportError, UserError, api_errors
from graphport.graph import load
from graphport.graph.anatomy import decoded_tensors, find_inputs
from graphport.graph.fake_quant import FAKE_QUANT_OPS
from graphport.graph.nodes import parse_input
from graphport.graph.row_order import unordered_outputs
from graphport.graph.tflite_model import parse_tflite
from graphport.graph.vendor_ops import FIX_NEURON
from graphport.outputs import FILE, check_target, output_path, write_together
from graphport.passes.pipeline import available
from graphport.progress import Progress, or_silent
from graphport.quant.int8 import QuantOptions, quantize_int8
from graphport.quant.prune import PruneSpec, Pruning, pruned_source, pruning_costs
from graphport.report.numbers import kb
from graphport.spec.io_types import IoTypes
from graphport.spec.modes import MODES, calibrated
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec
from graphport.spec.signature import signature_key
from graphport.verify.detections import judge_detections
from graphport.verify.parity import (
    DEGRADED,
    MISMATCH,
    ORDER,
    PASSING,
    TOLERANCES,
    UNVERIFIED,
    OutputAgreement,
    agreement,
    parity_warnings,
    worst,
)
from graphport.verify.tflite_runner import (
    REGULAR_NMS_NOTE,
    STATE_NOTE,
    TFLiteRunner,
    has_variable_tensors,
    output_producers,
    output_steps,
    regular_nms_classes,
)

# Parity samples when the user names no count: up to 16, within a time budget of a quarter
# of the conversion (2 s at least, loading the source into TensorFlow included), so checking
# never dominates the default run.
DEFAULT_PARITY_SAMPLES = 16
PARITY_BUDGET_SHARE, PARITY_BUDGET_MIN = 0.25, 2.0


@dataclass
class TFLiteResult:
    path: str
    mode: str
    io: IoTypes | None
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
    notes: list[str] = field(default_factory=list)  # how the source was read
    prune: dict[str, Any] | None = None  # --prune: layers, sparsity, unpruned sizes
    # "model" (float32 itself), "estimated" (from this model's constants), "converted"
    # (--exact-size-ratio), "given" (compare's float variant), None (no ratio)
    float_size_source: str | None = None
    zipped_estimated: bool = False  # sampled (models over 16 MB)
    compacted_bytes: int = 0  # what storing names, tables and buffers once saved

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_name(model: Path, mode: str, io: IoTypes | None) -> str:
    """``model.pb`` -> ``model.int8.tflite`` (``model.int8-uint8io.tflite`` with integer I/O,
    ``model.int8-uint8in.tflite`` with an integer input alone)."""
    suffix = mode + (f"-{io.suffix}" if io else "")
    stem = model.name if model.is_dir() else model.stem
    return f"{stem}.{suffix}.tflite"


# ------------------------------------------------------------------ the command

def check_mode(mode: str, io: IoTypes | None, strict: bool, calib: str | None,
               quant: QuantOptions | None = None, carried: bool = False) -> None:
    """Reject option combinations that mean nothing, before any slow work. ``carried``: the
    graph carries its ranges (fake-quant points), so int8 needs no calibration data."""
    if quant:
        quant.check(mode, strict)
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
    if io and mode != "int8":
        option = "--io" if io.both else "--input-type/--output-type"
        raise UserError(f"{option} needs --int8", "integer input/output exists only for full "
                                                  "int8")
    if strict and mode != "int8":
        raise UserError("--strict needs --int8")
    if calibrated(mode) and not calib and not carried:
        raise UserError(f"--mode {mode} needs calibration data: --calib DIR|FILE.npy|FILE.npz"
                        if mode != "int8" else
                        "--int8 needs calibration data: --calib DIR|FILE.npy|FILE.npz",
                        "a folder of the images the model will see, or arrays; --calib random "
                        "only to try the route (its ranges fit no real input)")


def carries_ranges(model: Path) -> bool:
    """Does a frozen graph carry fake-quant points? (Read without TensorFlow; a SavedModel or
    checkpoint is not looked into.)"""
    if load.detect_format(model) not in (load.GRAPHDEF, load.GRAPHDEF_TEXT):
        return False
    try:
        graph = load.read_graph_def(model)
    except GraphportError:
        return False  # the real read reports it
    return any(n.op in FAKE_QUANT_OPS or n.op == FIX_NEURON for n in graph.node)


def _carried_report(source: SourceModel) -> dict[str, Any]:
    """Where a QAT graph's int8 ranges came from, as the calibration entry of the report."""
    points = sum(n.op in FAKE_QUANT_OPS for n in source.graph_def.node)
    stats = carried_input_stats(source)
    given = "--input-stats" if source.carried.input_stats else "the first fake-quant point"
    inputs = ", ".join(f"{k} mean {v[0]:g} std {v[1]:g}" for k, v in stats.items() if v)
    extra = (f"; tensors without a range: {source.carried.default_ranges} (--default-ranges)"
             if source.carried.default_ranges else "")
    return {"source": "graph", "samples": 0,
            "description": f"ranges carried by the graph's {points} fake-quant points, no "
                           f"calibration data (inputs from {given}: {inputs}){extra}"}


def calibration_hint(model: Path, spec: GraphSpec) -> str | None:
    """What --calib a frozen graph needs, named: its image input's folder and each other
    input's --sample (read without TensorFlow); None when it cannot tell."""
    if load.detect_format(model) not in (load.GRAPHDEF, load.GRAPHDEF_TEXT):
        return None
    chosen = set(spec.inputs or [])
    inputs = [i for i in find_inputs(load.read_graph_def(model))
              if (i.name in chosen if chosen else not i.training_knob
                  and i.op != "PlaceholderWithDefault" and i.name not in spec.set_values)]
    images = [i for i in inputs if i.shape is not None and len(i.shape) in (3, 4)
              and i.shape[-1] in (1, 3) and i.dtype not in ("string", "bool")]
    if len(images) != 1:
        names = ", ".join(i.name for i in inputs)
        return f"--calib FILE.npz with one array per input ({names}), samples stacked"
    others = " ".join(f"--sample {i.name}=<value>" for i in inputs if i is not images[0])
    return (f"--calib <folder of images like those it will see> {others}".strip()
            + " (add --bgr for a model trained on BGR)")


def _build(
    source: SourceModel,
    target: Path,
    mode: str = "float32",
    io: IoTypes | None = None,
    strict: bool = False,
    select_ops: bool = False,
    calibration: Calibration | None = None,
    verify: VerifySpec | None = None,
    overwrite: bool = False,
    float_size: int | None = None,
    size_ratio: bool | str = True,
    quant: QuantOptions | None = None,
    progress: Progress | None = None,
    pruning: Pruning | None = None,
    retry_follows: bool = False,
) -> tuple[TFLiteResult, bytes]:
    """Convert an opened source in one mode, report and check it; the result and the model's
    bytes, nothing written. ``retry_follows``: a failed --require-parity is left to the retry.

    ``float_size``: bytes of the float32 model when known; else ``size_ratio`` True
    estimates it from this model's constants (no second conversion), "exact" converts float32
    for it, False reports no ratio;
    ``quant`` (int8) keeps layers in float, measures layer errors or tunes to a target;
    ``pruning``: the unpruned source and what pruning did, when ``source`` is pruned."""
    step = or_silent(progress)
    check = verify or VerifySpec()
    timings: dict[str, float] = {}
    warnings = [f"calibrated on {calibration.description}"] if (
        calibration is not None and calibration.is_random) else []
    eval_data = load_eval(check.eval_file, source) if check.eval_file else None
    parity_inputs, described = reference_samples(
        source, calibration, check.count or DEFAULT_PARITY_SAMPLES, check.given, check.bgr
    ) if check.enabled else ([], "")
    started = time.perf_counter()
    step(f"converting ({mode}{', calibrating' if calibration else ''})")
    outcome = None
    if quant and quant.active and calibration is not None:
        measured_on, measured_as, reference = quant_samples(source, calibration, eval_data)
        outcome = quantize_int8(source, calibration, quant, io, select_ops, measured_on,
                                measured_as, reference, step)
        data = outcome.data
    else:
        data = convert(source, mode, io, strict, select_ops, calibration, step)
    conversion_s = time.perf_counter() - started
    prune_json = None
    if pruning is not None:
        costs = pruning_costs(pruning, source, data, mode, io, select_ops, calibration, step)
        data = costs.pop("sparse_data") or data
        prune_json = {**asdict(pruning.report), "sparsity": pruning.report.sparsity, **costs}

    report_start = time.perf_counter()
    step("building the report")
    parsed = parse_tflite(data, target)
    rows = op_rows(parsed)
    if outcome is not None:
        mark_chosen(rows, outcome.keep.covers)
    summary = summarize(rows, int8_mode=calibrated(mode))
    if mode == "int8" and calibration is None and summary["float_fallback"]:
        # the carried route: an op whose tensors no fake-quant point covers stays float
        listing = ", ".join(f"{f['op']} ({', '.join(f['tf_nodes'][:2])})"
                            for f in summary["float_fallback"][:4])
        more = len(summary["float_fallback"]) - 4
        warnings.append(f"no fake-quant range covers these ops' tensors, so they stay in float: "
                        f"{listing}{f' and {more} more' if more > 0 else ''}; --default-ranges "
                        "MIN,MAX or --calib quantizes them")
    if strict and summary["float_fallback"]:
        # The converter keeps some float-only ops (RANDOM_UNIFORM, ...) even when told
        # TFLITE_BUILTINS_INT8 alone, so --strict is enforced on the result.
        listing = "; ".join(f"{f['op']} ({', '.join(f['tf_nodes'][:2])})"
                            for f in summary["float_fallback"])
        raise ConversionError(f"--strict: ops without an int8 kernel stay in float: "
                              f"{listing}; nothing was written",
                              "drop --strict to allow the float fallback")
    data, compacted = compact_model(data)
    if compacted:  # the size report describes the model as written
        parsed = parse_tflite(data, target)
    report_s = time.perf_counter() - report_start
    timings["conversion_s"] = conversion_s
    report_start = time.perf_counter()
    zipped, zipped_estimated = zipped_size(data)
    float_source = "given" if float_size is not None else None
    if mode == "float32":
        float_size, float_source = len(data), "model"
    elif float_size is None and (size_ratio == "exact" or (size_ratio and not
                                 estimate_is_sure(parsed))):
        step("converting float32 for the size ratio")
        float_size = len(compact_model(convert(source, "float32", select_ops=select_ops))[0])
        float_source = "converted"
    elif float_size is None and size_ratio:
        float_size, float_source = parsed.params["float_estimate_bytes"], "estimated"
    if float_size and mode != "float32" and len(data) > float_size:
        warnings.append(_larger_than_float(mode, len(data), float_size, float_source, parsed))
    timings["report_s"] = report_s + time.perf_counter() - report_start

    if regular_nms_classes(data) > 1:
        warnings.append(REGULAR_NMS_NOTE)
    if has_variable_tensors(data):
        warnings.append(STATE_NOTE)
    parity_report: dict[str, Any] = {"status": "skipped", "verdict": None}
    eval_report = None
    if summary["flex"] or set(summary["custom_ops"]) - RUNTIME_CUSTOM_OPS:
        parity_report = {"status": "not runnable", "verdict": UNVERIFIED,
                         "reason": f"needs Flex/custom ops {', '.join(summary['flex_ops'])}: "
                                   "neither ai-edge-litert nor tf.lite can run it in Python "
                                   "(no Flex delegate), so it was not verified"}
        warnings.append(parity_report["reason"])
        if check.require:
            raise ConversionError(f"--require-parity: {parity_report['reason']}; nothing was "
                                  "written", "drop --select-ops, or the flag")
    elif check.enabled or eval_data:
        parity_start = time.perf_counter()
        runner = TFLiteRunner(data)
        if check.enabled:
            # A repair that changes the numbers by design (an eightbit graph's float twin,
            # fake-quant removed): judged as a quantized model is, reported, not failed.
            changed = [r.name for r in source.rewrites if r.changed and not r.error
                       and available()[r.name].changes_numbers]
            eightbit = bool(changed)
            tolerance = TOLERANCES["int8" if changed and mode in ("float32", "fp16")
                                   else mode]
            if changed:
                judged = (", judged with int8 tolerances" if mode in ("float32", "fp16")
                          else "")
                source.notes.append(f"{' and '.join(changed)} changed what the source computes "
                                    f"(8-bit rounding in the graph, none in its float twin): "
                                    f"the {mode} model is made from the float twin{judged}")
            budget = None if check.count is not None else max(
                PARITY_BUDGET_MIN, PARITY_BUDGET_SHARE * conversion_s)
            expected, converted = _paired_runs(source, runner, parity_inputs, budget, step)
            if len(expected) < len(parity_inputs):
                described = (f"{len(expected)} of {described} (the rest skipped: the time "
                             f"budget of a default run; --parity-samples N checks N)")
            outputs = agreement(expected, converted, tolerance, _unordered(source))
            if calibrated(mode):  # errors in steps of the int8 output (LSB)
                steps = output_steps(data)
                for row in outputs:
                    if row.key in steps and row.max_abs is not None:
                        row.max_lsb = row.max_abs / steps[row.key]
                        row.finer_than_step = all(
                            np.ptp(np.asarray(e[row.key], np.float64)) < steps[row.key]
                            for e in expected if np.size(e[row.key]))
            detections = judge_detections(expected, converted, outputs)
            verdict = worst([o.verdict for o in outputs])
            parity_report = {"status": "checked", "verdict": verdict, "samples": described,
                             "tolerance": asdict(tolerance),
                             "outputs": [asdict(r) for r in outputs],
                             "detections": detections}
            warnings += parity_warnings(outputs)
            _judge(mode, verdict, outputs, check.require and not retry_follows, warnings,
                   lossy="pruned" if pruning is not None else
                   "float twin's" if eightbit else None)
        if eval_data:
            step("evaluating accuracy")
            eval_report = evaluate(eval_data, source, runner)
        timings["parity_s"] = time.perf_counter() - parity_start

    result = TFLiteResult(
        path=str(target), mode=mode, io=io, size_bytes=len(data),
        zipped_bytes=zipped, float_size_bytes=float_size,
        ratio_to_float=len(data) / float_size if float_size else None,
        float_size_source=float_source, zipped_estimated=zipped_estimated,
        compacted_bytes=compacted,
        summary=summary, operators=rows_json(rows),
        calibration=_carried_report(source) if calibration is None and mode == "int8" else
        None if calibration is None else {
            "source": calibration.source, "samples": len(calibration.samples),
            "description": calibration.description},
        rewrites=[asdict(r) for r in source.rewrites],
        parity=parity_report, eval=eval_report,
        quant=None if outcome is None else outcome.to_json(), timings=timings, warnings=warnings,
        notes=source.notes, prune=prune_json)
    return result, data


# Elementwise arithmetic whose int8 error breaks coordinate and pixel computations (MTCNN's box
# arithmetic: full int8 finds no face, these kept in float find all six).
ARITHMETIC = ("MUL", "SUB", "ADD", "DIV")


def convert_source(
    source: SourceModel,
    target: Path,
    mode: str = "float32",
    io: IoTypes | None = None,
    strict: bool = False,
    select_ops: bool = False,
    calibration: Calibration | None = None,
    verify: VerifySpec | None = None,
    overwrite: bool = False,
    float_size: int | None = None,
    size_ratio: bool | str = True,
    quant: QuantOptions | None = None,
    progress: Progress | None = None,
    pruning: Pruning | None = None,
    side_outputs: Mapping[Path, Callable[[TFLiteResult], str]] | None = None,
    extra_warnings: list[str] | None = None,
    extra_timings: dict[str, float] | None = None,
) -> TFLiteResult:
    """Convert an opened source in one mode, report and check it, then write ``target``
    atomically: inputs are validated before any work and nothing is written unless everything
    before the write succeeded. ``side_outputs`` (a report, a page: path -> its text from the
    result) land with the model or not at all.

    A full int8 model calibrated on real data whose outputs do not match (verdict mismatch) is
    tried again with the elementwise arithmetic in float, and the better of the two is kept and
    said: the default never hands over a model that finds nothing when one that works is a
    retry away. Not when the outputs that failed vary less than one int8 step in the source
    (no layer kept in float can show them): that is said instead.
    ``float_size``, ``size_ratio``, ``quant``, ``pruning``: as ``_build`` takes them."""
    step = or_silent(progress)
    check = verify or VerifySpec()
    # Not on random calibration: its ranges fit no real input, and the answer there is data.
    may_retry = mode == "int8" and calibration is not None and not calibration.is_random \
        and not strict and check.enabled and not (quant and quant.active) and pruning is None
    args = (source, target, mode, io, strict, select_ops, calibration, check, overwrite,
            float_size, size_ratio)
    result, data = _build(*args, quant, progress, pruning, retry_follows=may_retry)
    verdict = result.parity.get("verdict")
    kept = sorted({row["op"] for row in result.operators if row["op"] in ARITHMETIC})
    retry = may_retry and verdict == MISMATCH and bool(kept)
    unshowable = _finer_than_int8(result, data, kept) if retry else None
    if unshowable:
        result.notes = [*result.notes, unshowable]
    elif retry:
        step(f"full int8 did not match: trying again with {', '.join(kept)} in float")
        retried, retried_data = _build(*args, QuantOptions(keep_float=kept), progress, pruning)
        again = retried.parity.get("verdict")
        if again is not None and ORDER.index(again) < ORDER.index(MISMATCH):
            retried.warnings.insert(0, f"full int8 did not match the source ({MISMATCH}); "
                                       f"with {', '.join(kept)} kept in float it is {again}, "
                                       "so that model was written (--strict for full int8, "
                                       "--keep-float to choose)")
            result, data = retried, retried_data
        else:
            result.notes = [*result.notes, f"tried again with {', '.join(kept)} in float: "
                            f"{again}, no better; the full int8 model was kept"]
    if check.require and result.parity.get("verdict") not in PASSING and may_retry:
        raise ConversionError(f"--require-parity: the result is {result.parity['verdict']}; "
                              "nothing was written",
                              "see --debug-quant for the layers that moved, or drop the flag")
    result.warnings += extra_warnings or []
    result.timings.update(extra_timings or {})
    timings = result.timings
    write_start = time.perf_counter()

    def rendered(make: Callable[[TFLiteResult], str]) -> str:
        # The model's temporary file is written first, so its time is known here and the
        # report holds it like the printed result does.
        timings.setdefault("write_s", time.perf_counter() - write_start)
        return make(result)

    files: dict[Path, Callable[[], bytes | str]] = {check_target(target, overwrite): lambda: data}
    for path, make in (side_outputs or {}).items():
        files[Path(path)] = partial(rendered, make)
    write_together(files)
    timings.setdefault("write_s", time.perf_counter() - write_start)
    return result


# The float32 size is estimated from the model's constants, which is exact for the weights;
# what it cannot see is how the structure (ops, tensors, names, QUANTIZE/DEQUANTIZE between
# layers) differs from the float model's. Where structure is more than this share of the
# model, float32 is converted instead. Measured (estimate vs converted): digits, ResNet and
# MTCNN dynamic (structure 0.8-4.6%) within 0.5%; an unrolled LSTM's int8 (72%) said 0.87 where
# the files said 1.03, a 4x3 dense layer (96%) 1.11 against 1.44.
SURE_STRUCTURE_SHARE = 0.05


def estimate_is_sure(parsed: Any) -> bool:
    """Whether the float32 size estimated from ``parsed``'s constants can be trusted."""
    params = parsed.params
    structure = parsed.size_bytes - params["bytes"] - params["quant_param_bytes"]
    return structure <= SURE_STRUCTURE_SHARE * params["float_estimate_bytes"]


def _check_calibratable(source: SourceModel) -> None:
    """int8 calibrates on numbers: a string input (audio or image bytes decoded inside the
    graph) cannot be calibrated, whatever --calib and --sample say; the way through is to
    cut after the decoder and calibrate the network."""
    strings = [t for t in source.inputs if t.dtype == "string"]
    if not strings:
        return
    cut = decoded_tensors(source.graph_def, parse_input(strings[0].tensor)[0]) \
        if source.graph_def is not None else []
    feeds = cut + [t.tensor for t in source.inputs if t.dtype != "string"]
    taken: set[str] = set()
    arrays = ", ".join(signature_key(t, taken) for t in feeds)
    raise UserError(
        f"--int8: input {strings[0].key} is a string, and int8 calibration runs the model on "
        "numbers; there is no calibration data for bytes decoded inside the graph",
        f"cut after the decoder and calibrate the network: --inputs {','.join(feeds)} "
        f"--calib FILE.npz (arrays {arrays})" if cut
        else "cut the decoding off with --inputs at the first numeric tensors, then calibrate")


def _unordered(source: SourceModel) -> set[str]:
    """The outputs whose rows an NMS or top-k chose, compared as sets."""
    graph = source.unrepaired if source.unrepaired is not None else source.graph_def
    if graph is None:
        return set()
    return unordered_outputs(graph, {t.key: t.tensor for t in source.outputs})


def _paired_runs(source: SourceModel, runner: TFLiteRunner, samples: list[dict[str, Any]],
                 budget: float | None, step: Progress
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Source and TFLite outputs, sample by sample. With a ``budget`` (seconds; the user
    asked for no count), samples stop once it is spent, loading the source included, two at
    least: 16 samples of a ResNet-v2-101 cost 6.7 s, most of a default run, where two already
    decide a float conversion element by element."""
    started = time.perf_counter()
    call = source.runner()
    expected, converted = [], []
    for n, sample in enumerate(samples, 1):
        if budget is not None and n > 2 and time.perf_counter() - started > budget:
            break
        step(f"parity sample {n}/{len(samples)}")
        try:
            expected.append(call(sample))
        except Exception as error:  # the graph's own checks (an Assert) refused the sample
            from graphport.backend.tf_graph import error_line

            shapes = ", ".join(f"{k} {list(np.shape(v))}" for k, v in sample.items())
            raise ConversionError(
                f"TensorFlow could not run the source on the verification sample ({shapes}): "
                f"{error_line(error)[:300]}; nothing was written",
                "give inputs that fit together with --sample NAME=FILE, or their shapes with "
                "--input-shapes") from None
        converted.append(runner(sample))
    return expected, converted


def _finer_than_int8(result: TFLiteResult, data: bytes, kept: list[str]) -> str | None:
    """Why keeping ``kept`` in float cannot make this int8 model match, when that is so: every
    output that does not match varies less in the source than one step of the integer output
    it is read from, and that output is not computed by one of ``kept`` (which would make it
    float). The retry would convert the model a second time for nothing."""
    rows = [r for r in result.parity.get("outputs", []) if r["verdict"] == MISMATCH]
    producers = output_producers(data)
    if not rows or not all(r["finer_than_step"] and producers.get(r["key"]) not in kept
                           for r in rows):
        return None
    keys = ", ".join(r["key"] for r in rows)
    return (f"{keys}: the source's values span less than one step of the int8 output in every "
            f"sample, so no int8 model can show them and keeping {', '.join(kept)} in float "
            "would not change that (not tried); take the tensor before the last op as the "
            "output (--outputs), or convert with --dynamic")


def _larger_than_float(mode: str, size: int, float_size: int, source: str | None,
                       model: Any) -> str:
    """Why a quantized model weighs more than its float32 twin, from what it holds."""
    constants, params = model.params["bytes"], model.params["quant_param_bytes"]
    rest = size - constants - params
    operators = len(model.operators)
    why = (f"its size is its structure ({operators} ops), not its weights, so quantizing "
           "adds QUANTIZE ops and a scale per tensor and saves little"
           if rest > constants else
           "its constants did not shrink: check which stayed float in the table above")
    return (f"the {mode} model is larger than float32 ({size / float_size:.2f}x; float32 size "
            f"{source or 'unknown'}): constants {kb(constants)}, quantization parameters "
            f"{kb(params)}, ops, tensors and names {kb(rest)}; {why}")


def _judge(mode: str, verdict: str, outputs: list[OutputAgreement], require: bool,
           warnings: list[str], lossy: str | None = None) -> None:
    """Fail a float conversion that does not match, or any result below a required pass;
    otherwise say loudly when the numbers moved more than the mode allows. ``lossy`` (what
    the model is): a change by design (pruning, an eightbit source's float twin), so a float
    model that moved is reported, not failed."""
    described = "; ".join(f"{o.key}: {o.verdict} (max abs {o.max_abs}, cosine {o.cosine}, "
                          f"NaN/Inf in other places {o.nonfinite_mismatches}, shape changes "
                          f"{o.shape_mismatches})" for o in outputs if o.verdict not in PASSING)
    if verdict == MISMATCH and mode in ("float32", "fp16") and not lossy:
        raise ConversionError(f"verification failed: the {mode} model does not match the "
                              f"source: {described}; nothing was written",
                              "rerun with --debug and report it")
    if require and verdict not in PASSING:
        raise ConversionError(f"--require-parity: the result is {verdict}: {described}; "
                              "nothing was written",
                              "see --debug-quant for the layers that moved, or drop the flag")
    if verdict in (DEGRADED, MISMATCH):
        what = f"{lossy} {mode}" if lossy else mode
        warnings.append(f"the {what} model's outputs moved from the source ({verdict}): "
                        f"{described}")


@api_errors
def convert_tflite(
    model: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    mode: str = "float32",
    io: str | IoTypes | None = None,
    strict: bool = False,
    select_ops: bool = False,
    graph: GraphSpec | None = None,
    calibration: CalibrationSpec | None = None,
    verify: VerifySpec | None = None,
    quant: QuantOptions | None = None,
    overwrite: bool = False,
    size_ratio: bool | str = True,
    progress: Progress | None = None,
    prune: PruneSpec | None = None,
    side_outputs: Mapping[Path, Callable[[TFLiteResult], str]] | None = None,
) -> TFLiteResult:
    """Convert ``model`` (frozen graph or SavedModel) to TFLite and report on the result.
    ``graph``: signature, pins and repairs of a frozen graph (default pipeline unless
    ``graph.passes`` says otherwise); ``calibration``: int8's representative data;
    ``quant``: int8 with layers kept in float, per-layer errors, or tuning to a target;
    ``io``: integer input and output types ("uint8" for both, or ``IoTypes``)."""
    step = or_silent(progress)
    model = Path(model)
    io = IoTypes.parse(io)
    calib = calibration or CalibrationSpec()
    carried = mode == "int8" and not calib.data and carries_ranges(model)
    try:
        check_mode(mode, io, strict, calib.data, quant, carried)
    except UserError as error:
        if mode == "int8" and not calib.data:
            error.hint = calibration_hint(model, graph or GraphSpec()) or error.hint
        raise
    if calib.data and not calibrated(mode):
        raise UserError("--calib is only used with --int8 (or --mode int16x8)")
    if (calib.input_stats or calib.default_ranges) and not carried:
        raise UserError("--input-stats and --default-ranges set the ranges of a graph that "
                        "carries them (fake-quant points), with --int8 and no --calib",
                        "drop them" if mode == "int8" else "add --int8")
    target = check_target(output_path(output, default_name(model, mode, io), FILE), overwrite)
    step("preparing and repairing the model")
    started = time.perf_counter()
    spec = graph or GraphSpec()
    with source_model(model, spec) as source:
        samples = None
        source.carried = calib
        if mode != "int8" and source.carries_ranges:
            source.notes.append("the graph's fake-quant points are kept (QUANTIZE/DEQUANTIZE "
                                f"pairs): the {mode} model rounds as the QAT graph does; "
                                "--passes +strip_fake_quant makes the true float model")
        if fitted_io(source, io) != io:  # refuses --output-type before any slow work
            source.notes.append(ID_OUTPUTS_NOTE)
        if mode == "int16x8" and source.changed_by(REROLL_PASSES):
            done = sorted(REROLL_PASSES)
            source.notes.append(f"int16x8 converts the graph without "
                                f"{', '.join(done[:-1])} and {done[-1]}: TensorFlow's "
                                "16x8 quantizer cannot quantize a fused LSTM (its model fails "
                                "to run) nor a while loop")
        if carried:
            step("reading the ranges the graph carries")
        elif calibrated(mode):
            _check_calibratable(source)
            step("loading calibration data")
            samples = load_calibration(calib, source.inputs,
                                       given=(verify or VerifySpec()).given)
        pruning = None
        if prune is not None:
            step("pruning")
            unpruned = source
            source, report = pruned_source(source, prune)
            pruning = Pruning(unpruned, report)
        unused = set(spec.pass_params) - {r.name for r in source.rewrites if r.changed}
        return convert_source(
            source, target, mode, io, strict, select_ops, samples, verify, overwrite,
            size_ratio=size_ratio, quant=quant, progress=step, pruning=pruning,
            side_outputs=side_outputs, extra_timings={
                "prepare_s": time.perf_counter() - started},
            extra_warnings=[f"options for {', '.join(sorted(unused))} had no effect: the pass "
                            "did not apply to this graph"] if unused else [])
