"""What a GraphDef is made of: real inputs and outputs, op mix, parameters, control flow, and
what will stop it from converting. Pure reading: nothing here executes or imports TensorFlow.

`to-savedmodel` and `tflite` use the same discovery of inputs and outputs, so a default export is
exactly what `inspect` shows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from graphport.graph import oplists
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import attr_dtype, parse_input, tensor_name
from graphport.graph.op_registry import registered_ops
from graphport.graph.side_effects import BLOCKING, UnsafeOp, find_unsafe_ops, summary
from graphport.graph.tensors import (
    dtype_name,
    num_elements,
    shape_list,
    tensor_nbytes,
    tensor_to_numpy,
)
from graphport.graph.training_knobs import dropout_inference_value

if TYPE_CHECKING:
    import numpy as np

_DEFAULT_SHOWN_ELEMENTS = 16
_DEFAULT_DECODED_ELEMENTS = 1 << 20  # larger defaults are described, not decoded


@dataclass
class InputInfo:
    name: str
    op: str
    dtype: str
    shape: list[int] | None
    default: Any = None
    training_knob: bool = False
    # A legacy `shape {}` input that only elementwise ops read: TensorFlow takes any shape, and
    # a scalar is the value graphport generates for it (verification, calibration).
    example_shape: list[int] | None = None
    inference_value: str | None = None  # a training switch's: "false", "1.0" (keep), "0.0"


@dataclass
class OutputInfo:
    name: str
    op: str
    dtype: str | None = None
    shape: list[int] | None = None


@dataclass
class Finding:
    level: str  # "error" | "warning" | "info"
    code: str
    message: str


@dataclass
class GraphAnatomy:
    """Everything `inspect` reports about a GraphDef."""

    inputs: list[InputInfo]
    outputs: list[OutputInfo]
    ops: dict[str, int]
    function_ops: dict[str, int]
    params: dict[str, Any]
    largest_constants: list[dict[str, Any]]
    producer: int | None
    control_flow: dict[str, Any]
    unsafe_ops: list[dict[str, str]]
    variables: list[str]
    unregistered_ops: list[str]
    cut_points: list[str]
    node_count: int
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = data.pop("findings")
        return data


def _knob_value(name: str, dtype: str, shape: list[int] | None,
                by_structure: str | None) -> str | None:
    """A training switch's inference value, or None for an ordinary input: a boolean scalar
    (is_training), a dropout knob found by what it feeds, or a scalar named like one."""
    if dtype == "bool" and shape == []:
        return "false"
    if by_structure is not None:
        return by_structure
    short = name.rsplit("/", 1)[-1].lower()
    if shape in ([], None) and any(word in short for word in oplists.TRAINING_KNOB_WORDS):
        return "false" if dtype == "bool" else "1.0" if "keep" in short else "0.0"
    return None


_INFERENCE_VALUES = {"false": False, "1.0": 1.0, "0.0": 0.0}


def needs_pin(default: Any, inference_value: str | None) -> bool:
    """Whether a training switch must be pinned to ``inference_value``: it has no default, or
    one other than that value (a default of keep_prob 1.0 or false is kept)."""
    return inference_value is not None and (
        default is None or default != _INFERENCE_VALUES[inference_value])


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype == object:
        return [v.decode("utf-8", "replace") for v in value.ravel()]
    if value.size > _DEFAULT_SHOWN_ELEMENTS:
        return f"<{value.dtype} array of shape {list(value.shape)}>"
    return value.tolist()


def _describe_default(tensor: Any) -> Any:
    """A default value for display; a huge or corrupt one is described instead of decoded."""
    shape = shape_list(tensor.tensor_shape)
    count = num_elements(shape)
    if count is None or count > _DEFAULT_DECODED_ELEMENTS:
        return f"<{dtype_name(tensor.dtype)} tensor of shape {shape}>"
    try:
        return _jsonable(tensor_to_numpy(tensor))
    except ValueError:
        return f"<corrupt {dtype_name(tensor.dtype)} tensor of shape {shape}>"


# GraphDefs of producer version 21 and older wrote `shape {}` for a placeholder whose shape was
# not given; TensorFlow still reads it as unknown for them (its Placeholder shape function),
# and as a scalar only from version 22 on.
LEGACY_SHAPE_PRODUCER = 21


def has_legacy_empty_shape(node: Any, producer: int) -> bool:
    """A placeholder whose empty ``shape {}`` means "unknown" (not "scalar")."""
    if producer > LEGACY_SHAPE_PRODUCER or node.op not in ("Placeholder", "PlaceholderV2") \
            or "shape" not in node.attr:
        return False
    shape = node.attr["shape"].shape
    return not shape.unknown_rank and not shape.dim


def _read_elementwise(name: str, readers: dict[str, list[Any]]) -> bool:
    """Whether every op reading ``name`` (through Enter/Identity) takes a scalar as well."""
    seen: set[str] = set()
    frontier = [name]
    found = False
    while frontier:
        current = frontier.pop()
        if current in seen:
            continue
        seen.add(current)
        for reader in readers.get(current, []):
            if reader.op in oplists.PASS_THROUGH_OPS:
                frontier.append(reader.name)
            elif reader.op in oplists.ELEMENTWISE_OPS:
                found = True
            else:
                return False
    return found


def _placeholder_shape(node: Any, producer: int) -> list[int] | None:
    if "shape" not in node.attr or has_legacy_empty_shape(node, producer):
        return None
    return shape_list(node.attr["shape"].shape)


PLACEHOLDER_OPS = ("Placeholder", "PlaceholderWithDefault", "PlaceholderV2")


def read_names(graph: Any) -> set[str]:
    """Every node name some node reads (data or control input)."""
    return {parse_input(item)[0] for node in graph.node for item in node.input}


def unread_placeholders(graph: Any, inputs: list[InputInfo]) -> list[str]:
    """Placeholders nothing reads: those ``find_inputs`` left out of ``inputs``."""
    listed = {i.name for i in inputs}
    return [n.name for n in graph.node if n.op in PLACEHOLDER_OPS and n.name not in listed]


def find_inputs(graph: Any) -> list[InputInfo]:
    """Placeholder and PlaceholderWithDefault nodes, in graph order, with defaults decoded."""
    by_name = {node.name: node for node in graph.node}
    readers: dict[str, list[Any]] = {}
    producer = graph.versions.producer
    if any(has_legacy_empty_shape(n, producer) or (
            n.op.startswith("Placeholder") and _placeholder_shape(n, producer) in ([], None))
           for n in graph.node):  # scalar-like inputs: what they feed is worth reading
        for node in graph.node:
            for item in node.input:
                if not item.startswith("^"):
                    readers.setdefault(parse_input(item)[0], []).append(node)
    inputs = []
    read = read_names(graph)
    for node in graph.node:
        if node.op not in PLACEHOLDER_OPS or node.name not in read:
            continue  # a placeholder nothing reads is no input (TF2's unused_control_flow_input)
        dtype = dtype_name(node.attr["dtype"].type) if "dtype" in node.attr else "unknown"
        shape = _placeholder_shape(node, graph.versions.producer)
        default = None
        if node.op == "PlaceholderWithDefault" and node.input:
            source = by_name.get(parse_input(node.input[0])[0])
            if source is not None and source.op == "Const":
                default = _describe_default(source.attr["value"].tensor)
            else:
                default = f"<computed by {node.input[0]}>"
        example: list[int] | None = [] if has_legacy_empty_shape(node, producer) and \
            _read_elementwise(node.name, readers) else None
        dropout = dropout_inference_value(node.name, readers, by_name) \
            if dtype.startswith("float") and shape in ([], None) else None
        value = _knob_value(node.name, dtype, shape if example is None else example, dropout)
        inputs.append(InputInfo(node.name, node.op, dtype, shape, default, value is not None,
                                example, value))
    return inputs


def _output_shape(node: Any) -> list[int] | None:
    shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
    return shape_list(shapes[0]) if shapes else None


def _is_output_candidate(node: Any) -> bool:
    op = node.op
    return not (op in oplists.NOT_OUTPUT_OPS or op in oplists.TF1_CONTROL_FLOW_OPS
                or oplists.is_training_op(op)
                or op in oplists.VARIABLE_OPS or op.startswith(("Save", "Restore"))
                or op.startswith("Placeholder"))


def find_outputs(graph: Any, index: NodeIndex | None = None) -> list[OutputInfo]:
    """Nodes nothing consumes, less constants, no-ops, asserts, save/restore and training ops;
    each output of a runtime custom op (a tflite_graph.pb's detection op has four)."""
    index = index or NodeIndex.of(graph)
    outputs: list[OutputInfo] = []
    for node in graph.node:
        if index.is_read(node.name) or not _is_output_candidate(node):
            continue
        if node.op in oplists.RUNTIME_CUSTOM_OPS:
            types = node.attr["_output_types"].list.type
            outputs.extend(OutputInfo(tensor_name(node.name, k), node.op, dtype_name(t), None)
                           for k, t in enumerate(types))
            continue
        dtype = attr_dtype(node)
        outputs.append(OutputInfo(node.name, node.op,
                                  dtype_name(dtype) if dtype is not None else None,
                                  _output_shape(node)))
    return outputs


def decoded_tensors(graph: Any, name: str) -> list[str]:
    """The tensors the graph decodes a string input ``name`` into (DecodeWav, DecodeJpeg,
    DecodeRaw, ParseExample, ...): where to cut to feed the network numbers instead."""
    used: dict[str, set[int]] = {}
    decoders = [n for n in graph.node if n.op.startswith(("Decode", "Parse")) and any(
        parse_input(i)[0] == name for i in n.input)]
    wanted = {n.name for n in decoders}
    for node in graph.node:
        for item in node.input:
            source, index, control = parse_input(item)
            if source in wanted and not control:
                used.setdefault(source, set()).add(index)
    return [tensor_name(n.name, i) for n in decoders for i in sorted(used.get(n.name, ()))]


def find_cut_points(graph: Any) -> list[str]:
    """Tensors where a baked-in input pipeline (queue, iterator, reader) hands data over."""
    used_outputs: dict[str, set[int]] = {}
    for node in graph.node:
        for item in node.input:
            source, index, control = parse_input(item)
            if not control:
                used_outputs.setdefault(source, set()).add(index)
    return [tensor_name(node.name, index)
            for node in graph.node if node.op in oplists.PIPELINE_OUTPUT_OPS
            for index in sorted(used_outputs.get(node.name, ()))]


def _all_nodes(graph: Any) -> list[Any]:
    return [*graph.node, *(n for f in graph.library.function for n in f.node_def)]


def constant_stats(graph: Any, top: int = 5) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Parameter count and bytes of all constants by dtype, and the largest constants."""
    count = 0
    by_dtype: dict[str, dict[str, int]] = {}
    sized = []
    for node in _all_nodes(graph):
        if node.op != "Const" or "value" not in node.attr:
            continue
        tensor = node.attr["value"].tensor
        dtype = dtype_name(tensor.dtype)
        shape = shape_list(tensor.tensor_shape)
        elements = num_elements(shape) or 0
        nbytes = tensor_nbytes(tensor)
        count += elements
        entry = by_dtype.setdefault(dtype, {"count": 0, "bytes": 0})
        entry["count"] += elements
        entry["bytes"] += nbytes
        sized.append((nbytes, node.name, dtype, shape))
    sized.sort(key=lambda item: (-item[0], item[1]))
    largest = [{"name": name, "dtype": dtype, "shape": shape, "bytes": nbytes}
               for nbytes, name, dtype, shape in sized[:top]]
    params = {"count": count, "bytes": sum(e["bytes"] for e in by_dtype.values()),
              "by_dtype": dict(sorted(by_dtype.items()))}
    return params, largest


def control_flow_summary(graph: Any) -> dict[str, Any]:
    """TF1 (Switch/Merge/Enter/Exit) or functional (While/If) control flow, and the functions."""
    ops = Counter(node.op for node in _all_nodes(graph))
    tf1 = {op: n for op, n in sorted(ops.items()) if op in oplists.TF1_CONTROL_FLOW_OPS}
    functional = {op: n for op, n in sorted(ops.items())
                  if op in oplists.FUNCTIONAL_CONTROL_FLOW_OPS}
    style = ("mixed" if tf1 and functional else "tf1" if tf1
             else "functional" if functional else "none")
    return {
        "style": style,
        "tf1_ops": tf1,
        "functional_ops": functional,
        "while_loops": ops["LoopCond"] + sum(n for op, n in functional.items() if "While" in op),
        "functions": sorted(f.signature.name for f in graph.library.function),
    }


def unsafe_finding(unsafe: list[UnsafeOp], cut_points: list[str]) -> Finding:
    """The finding for ops graphport will not run, naming the files and URLs they name."""
    if all(u.kind == BLOCKING for u in unsafe):
        cut = f" with --inputs {','.join(cut_points)}" if cut_points else ""
        return Finding("warning", "unsafe_ops",
                       f"ops that wait on an input pipeline: {summary(unsafe)}; graphport "
                       f"never runs them (nothing feeds them): cut the graph after them{cut}")
    return Finding("warning", "unsafe_ops",
                   f"ops with side effects: {summary(unsafe)}; graphport will not run "
                   "this graph without --allow-unsafe-ops")


def analyze_graph(graph: Any, index: NodeIndex | None = None) -> GraphAnatomy:
    """The full anatomy of a GraphDef, with findings ordered errors first. ``index``: one
    already built for the graph."""
    inputs = find_inputs(graph)
    outputs = find_outputs(graph, index)
    params, largest = constant_stats(graph)
    control_flow = control_flow_summary(graph)
    unsafe_nodes = find_unsafe_ops(graph)
    unsafe = [u.to_json() for u in unsafe_nodes]
    nodes = _all_nodes(graph)
    variables = [n.name for n in nodes if n.op in oplists.VARIABLE_OPS]
    function_names = {f.signature.name for f in graph.library.function}
    known = registered_ops()
    unregistered = sorted({n.op for n in nodes} - known - function_names
                          - oplists.RUNTIME_CUSTOM_OPS)
    cut_points = find_cut_points(graph) if not inputs else []

    findings: list[Finding] = []
    if variables:
        findings.append(Finding("error", "not_frozen",
                                f"not frozen: {len(variables)} variable op(s), e.g. "
                                f"{', '.join(variables[:3])}; freeze the graph first"))
    if unregistered:
        findings.append(Finding("error", "unregistered_ops",
                                "ops not registered in TensorFlow 2.21 (custom ops?): "
                                + ", ".join(unregistered)))
    if unsafe_nodes:
        findings.append(unsafe_finding(unsafe_nodes, find_cut_points(graph)))
    unread = unread_placeholders(graph, inputs)
    if unread:
        shown = ", ".join(unread[:4]) + (f" and {len(unread) - 4} more" if len(unread) > 4
                                         else "")
        findings.append(Finding("info", "unread_placeholders",
                                f"{len(unread)} placeholder(s) nothing reads, left out of the "
                                f"inputs: {shown}"))
    if not inputs:
        where = f"; candidate cut points: {', '.join(cut_points)}" if cut_points else ""
        findings.append(Finding("warning", "no_placeholder",
                                "no Placeholder: the input pipeline is baked in" + where))
    for info in inputs:
        if info.training_knob:
            findings.append(Finding("warning", "training_knob",
                                    f"input '{info.name}' is a training switch: exporters pin "
                                    f"it to {info.inference_value} (--set {info.name}=VALUE "
                                    "for another value, --inputs to feed it)"))
    if not outputs:
        findings.append(Finding("warning", "no_outputs", "no output found: every node is used"))
    if control_flow["style"] in ("tf1", "mixed"):
        findings.append(Finding("info", "tf1_control_flow",
                                "TF1 control flow (Switch/Merge/Enter/Exit): runs through "
                                "tf.compat.v1.wrap_function; TFLite needs it lowered"))
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order[f.level])

    versions = graph.versions if graph.HasField("versions") else None
    return GraphAnatomy(
        inputs=inputs,
        outputs=outputs,
        ops=dict(Counter(node.op for node in graph.node).most_common()),
        function_ops=dict(Counter(n.op for f in graph.library.function
                                  for n in f.node_def).most_common()),
        params=params,
        largest_constants=largest,
        producer=versions.producer if versions is not None else None,
        control_flow=control_flow,
        unsafe_ops=unsafe,
        variables=variables,
        unregistered_ops=unregistered,
        cut_points=cut_points,
        node_count=len(graph.node),
        findings=findings,
    )


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_./:,=@+-]+$")


def shell_quote(text: str) -> str:
    """Quote a name for a pasted command line only when it needs it."""
    return text if _SAFE_NAME.match(text) else "'" + text.replace("'", "'\\''") + "'"
