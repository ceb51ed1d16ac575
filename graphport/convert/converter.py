"""Running TensorFlow's TFLite converter: its settings per mode, and its failures turned into
errors that name the ops and the flag that helps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphport.backend import compat
from graphport.backend.runtime import quiet_native, tensorflow
from graphport.convert.calibration import Calibration
from graphport.convert.carried import carried_converter
from graphport.convert.lstm_peepholes import add_peepholes, peephole_table
from graphport.convert.lstm_state import fix_lstm_states
from graphport.convert.signature import add_signature
from graphport.convert.source import RUNTIME_CUSTOM_OPS, SourceModel
from graphport.convert.while_calibration import unalias_while_bodies
from graphport.convert.while_operands import quantize_loop_operands
from graphport.errors import ConversionError, UserError
from graphport.graph.edge_cuts import edge_cut
from graphport.graph.index import NodeIndex
from graphport.graph.loops import tensor_array_loops
from graphport.graph.schema import GraphDef
from graphport.graph.tflite_model import parse_tflite
from graphport.passes.pipeline import repairing_passes
from graphport.progress import Progress
from graphport.spec.io_types import FLOAT, IoTypes


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


# TensorFlow's int16x8 quantizer leaves a fused LSTM float and types its output int8, which
# LiteRT refuses to run; it cannot quantize a WHILE (its condition's inputs get no ranges),
# whether an unfused loop or reroll_loop's: int16x8 converts the graph without these passes
# (measured on each).
REROLL_PASSES = frozenset({"reroll_lstm", "fuse_lstm_loop", "reroll_loop"})


def counted(items: list[Any], what: str, progress: Progress | None) -> Iterator[Any]:
    """``items`` one by one, saying ``what n/N`` as each starts."""
    for n, item in enumerate(items, 1):
        if progress is not None:
            progress(f"{what} {n}/{len(items)}")
        yield item


def configured_converter(source: SourceModel, mode: str, io: IoTypes | None = None,
                         strict: bool = False, select_ops: bool = False,
                         calibration: Calibration | None = None,
                         progress: Progress | None = None) -> Any:
    """A TFLiteConverter for ``source`` set up for one mode."""
    tf = tensorflow()
    io = fitted_io(source, io)
    if mode == "int8" and calibration is None:  # the ranges the graph carries
        return carried_converter(source, io)
    if mode == "int16x8":  # see REROLL_PASSES
        source = source.without(REROLL_PASSES)
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
        converter.representative_dataset = lambda: (source.representative(s) for s in counted(
            calibration.samples, "calibrating on sample", progress))
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8] + ([] if strict else ops)
        if io:
            converter.inference_input_type = tf.as_dtype(io.input)
            converter.inference_output_type = tf.as_dtype(io.output)
    elif mode == "int16x8":
        assert calibration is not None
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (source.representative(s) for s in counted(
            calibration.samples, "calibrating on sample", progress))
        ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
               *([] if strict else ops)]
    if select_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    return converter


ID_OUTPUTS_NOTE = ("outputs stay float32: the detection postprocess returns class ids and a "
                   "count, which uint8 would carry at 1/255 steps (class 3 as 1.0); the "
                   "input takes --io, as in Google's own quantized SSD models")


def id_outputs(source: SourceModel) -> bool:
    """Does the model return class ids and counts (a detection postprocess)? The converter's
    ``inference_output_type`` applies to every output, so with --io such a model keeps
    float outputs."""
    return "TFLite_Detection_PostProcess" in source.custom_ops


def fitted_io(source: SourceModel, io: IoTypes | None) -> IoTypes | None:
    """``io`` as this model can take it: a detector's outputs stay float32 under --io (class
    ids and counts are no quantized values); asked for by --output-type, that is refused."""
    if io is None or io.output == FLOAT or not id_outputs(source):
        return io
    if not io.both:
        raise UserError(f"--output-type {io.output}: this model returns class ids and a count "
                        f"(a detection postprocess), which {io.output} would carry at 1/255 "
                        "steps (class 3 as 1.0)",
                        "drop --output-type (outputs stay float32); --input-type sets the "
                        "input alone")
    return io.float_output()


def convert(source: SourceModel, mode: str, io: IoTypes | None = None, strict: bool = False,
            select_ops: bool = False, calibration: Calibration | None = None,
            progress: Progress | None = None) -> bytes:
    """Run the TFLite converter once with the settings of one mode."""
    converter = configured_converter(source, mode, io, strict, select_ops, calibration,
                                     progress)
    return with_signature(run_converter(converter, source, strict, select_ops), source)


def with_signature(data: bytes, source: SourceModel) -> bytes:
    """The converted model with the serving signature (frozen graphs get none from TF)."""
    return add_signature(data, source.inputs, source.outputs) if source.graph_def is not None \
        else data


def run_converter(converter: Any, source: SourceModel, strict: bool, select_ops: bool) -> bytes:
    """``converter.convert()``, its failures turned into one-line errors that say what to do.
    The calibrator gets loop bodies it does not crash on (convert/while_calibration.py); the
    result has its LSTM states and int8 loop operands mended (lstm_state, while_operands).
    Fused LSTMs of peephole cells get their peepholes before either (lstm_peepholes)."""
    table = peephole_table(source.graph_def)

    def calibrated(model: bytes) -> bytes:
        return unalias_while_bodies(add_peepholes(model, table))[0]

    try:
        with quiet_native(), compat.calibrator_input(calibrated):
            data = bytes(converter.convert())
    except Exception as error:  # ConverterError, and ValueError/RuntimeError from calibration
        message = str(error)
        needs = _select_ops_in(message)
        if needs and not select_ops:
            raise _needs_select_ops(needs, source) from None
        if strict:
            unquantizable = sorted(set(re.findall(r"'tfl?\.(\w+)'", message)) | set(needs))
            raise ConversionError("--strict: ops without an int8 kernel: "
                                  + (", ".join(unquantizable) or _first_line(message)),
                                  "drop --strict to let them fall back to float") from None
        raise ConversionError(f"the TFLite converter failed: {_first_line(message)}",
                              "rerun with --debug for the converter's full output") from None
    if source.custom_ops:
        _only_runtime_custom_ops(data, source, select_ops)
    return quantize_loop_operands(fix_lstm_states(add_peepholes(data, table)))


def _only_runtime_custom_ops(data: bytes, source: SourceModel, select_ops: bool) -> None:
    """With custom ops allowed (for the runtime's own), the converter would turn any other op
    it lacks into a custom op too: that is a conversion needing Select ops, said as such."""
    model = parse_tflite(data, "converted model")
    others = sorted({op.op for op in model.operators if op.kind == "custom"}
                    - RUNTIME_CUSTOM_OPS)
    if others:
        listing = "; ".join(f"{op} {_repair_status(op, source)}" for op in others)
        raise ConversionError(f"conversion needs TF Select ops: {listing}",
                              "pass --select-ops to keep them as Flex ops (the Python "
                              "interpreters cannot run those)" if not select_ops else
                              "these ops have no TFLite kernel, not even a Flex one")


def _needs_select_ops(needs: dict[str, list[str]], source: SourceModel) -> ConversionError:
    """One line per blocker group: each while loop whose TensorArray ops no pass repaired (its
    ops, why, and the cut before it), then each other op type; every node in ``details``."""
    graph = GraphDef.FromString(source.graph_def.SerializeToString()) \
        if source.graph_def is not None else None
    loops = [loop for loop in (tensor_array_loops(graph) if graph is not None else [])
             if set(loop.ops) & set(needs)]
    lines, grouped = [], set()
    for loop in loops:
        ops = [op for op in loop.ops if op in needs]
        grouped.update(ops)
        count = sum(len(needs[op]) for op in ops)
        lines.append(f"while loop {loop.frame!r}: {', '.join(ops)} ({count} nodes) "
                     f"{_repair_status(ops[0], source)}")
        if loop.cut:
            lines.append(f"  the nearest cut before it converts without it: "
                         f"--outputs {','.join(loop.cut)}")
    for op, nodes in sorted(needs.items()):
        if op not in grouped:
            shown = ", ".join(nodes[:2]) + (f" and {len(nodes) - 2} more" if len(nodes) > 2
                                            else "")
            lines.append(f"{op} ({shown or '?'}) {_repair_status(op, source)}")
    hint = "pass --select-ops to keep them as Flex ops (the Python interpreters cannot run those)"
    if graph is not None:
        index = NodeIndex.of(graph)
        blockers = {n.name for n in graph.node if n.op in needs and n.op not in grouped}
        cut = edge_cut(index, blockers, [t.tensor for t in source.outputs])
        if cut:
            options = (f"--inputs {','.join(cut.inputs)} " if cut.inputs else "") + \
                (f"--outputs {','.join(cut.outputs)}" if cut.outputs else "")
            lines.append(f"{', '.join([*cut.head, *cut.tail])} at the graph's edge: the cut "
                         f"that converts the rest is {options.strip()} (the app computes the "
                         "rest; to-savedmodel keeps the whole graph)")
            hint = f"convert up to the cut ({options.strip()}), or {hint}"
    where = f" in {len(loops)} while loop{'s' * (len(loops) > 1)}" if loops else ""
    error = ConversionError(f"conversion needs TF Select ops: {len(needs)} op type"
                            f"{'s' * (len(needs) > 1)}{where} ({', '.join(sorted(needs))})",
                            hint, lines)
    error.details = {"select_ops": needs,
                     "loops": [{"frame": loop.frame, "ops": loop.ops, "cut": loop.cut}
                               for loop in loops]}
    return error


def _repair_status(op: str, source: SourceModel) -> str:
    """Which repair pass covers ``op``, and whether it ran and why it did not help."""
    names = repairing_passes(op)
    if not names:
        return "[no graphport repair exists for it]"
    ran = [r for r in source.rewrites if r.name in names]
    idle = [n for n in names if n not in {r.name for r in ran}]
    unused = f"[repair pass {' or '.join(idle)} would handle it; it did not run]" if idle else ""
    if not ran:
        return unused
    notes = [n for r in ran for n in r.notes if "not repairable" in n]
    tried = (f"[pass {' and '.join(dict.fromkeys(r.name for r in ran))} ran but could not "
             f"repair it: {'; '.join(notes) or 'no match'}]")
    return f"{tried} {unused}".rstrip()


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = re.sub(r"^<unknown>:\d+: error: ", "", line.strip())
        if line and not line.startswith("<unknown>"):
            return line[:300]
    errors = re.findall(r"error: [^\n]*?: (.+)", message)
    return errors[0][:300] if errors else "unknown error"
