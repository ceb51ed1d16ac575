"""Decide an export's signature and make the graph that serves it.

Shared by `to-savedmodel` and `tflite`: inputs default to the placeholders `inspect` finds, outputs
to the outputs it finds; every other placeholder must be pinned by `--set` or have a default.
All edits happen on graphport's own GraphDef before TensorFlow is involved.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphport.errors import UserError
from graphport.graph import edit, oplists
from graphport.graph.anatomy import (
    InputInfo,
    find_inputs,
    find_outputs,
    has_legacy_empty_shape,
    needs_pin,
)
from graphport.graph.integrity import check_graph
from graphport.graph.nodes import parse_input, tensor_name
from graphport.graph.op_registry import registered_ops
from graphport.graph.tensors import dtype_name, tensor_to_numpy
from graphport.graph.types import GraphProto
from graphport.spec import values as vals
from graphport.spec.options import GraphSpec

# (tensor name) -> (DataType enum, shape or None); needs TensorFlow, so it is passed in.
TensorInfoFn = Callable[[str], tuple[int, "list[int] | None"]]


@dataclass
class SignatureTensor:
    key: str  # signature key, e.g. "input"
    tensor: str  # tensor in the prepared graph, e.g. "input:0"
    source: str  # tensor in the original graph
    dtype: str
    shape: list[int] | None
    example_shape: list[int] | None = None  # what to generate when ``shape`` is unknown


@dataclass
class PreparedGraph:
    """The edited graph plus what the signature feeds, fetches and pins."""

    graph: GraphProto
    inputs: list[SignatureTensor]
    outputs: list[SignatureTensor]
    pinned: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def signature_key(name: str, taken: set[str]) -> str:
    """``scope/x:0`` -> ``scope_x``; ``x:1`` -> ``x_1``; unique within ``taken``."""
    node, index, _ = parse_input(name)
    base = node if index == 0 else f"{node}_{index}"
    key = re.sub(r"[^A-Za-z0-9_]", "_", base)
    if not re.match(r"[A-Za-z]", key):
        key = f"t_{key}"
    unique, n = key, 2
    while unique in taken:
        unique, n = f"{key}_{n}", n + 1
    taken.add(unique)
    return unique


def _unknown_name(option: str, name: str, candidates: list[str]) -> UserError:
    close = difflib.get_close_matches(name, list(dict.fromkeys(candidates)), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "run graphport inspect to see them"
    return UserError(f"{option}: no node named {name!r} in the graph", hint)


def _check_tensor(option: str, name: str, nodes: dict[str, Any], preferred: list[str]) -> str:
    node, index, control = parse_input(name)
    if control or node not in nodes:
        raise _unknown_name(option, node, preferred + sorted(nodes))
    return tensor_name(node, index)


def queue_output_shape(graph: Any, tensor: str) -> list[int] | None:
    """Shape of a queue dequeue's output from the queue's ``shapes`` attr (TF cannot infer it on
    import): ``tf.train.batch`` graphs feed the network from ``batch:0`` this way."""
    nodes = {node.name: node for node in graph.node}
    name, index, _ = parse_input(tensor)
    node = nodes.get(name)
    if node is None or not node.op.startswith("QueueDequeue") or not node.input:
        return None
    queue = nodes.get(parse_input(node.input[0])[0])
    shapes = queue.attr["shapes"].list.shape if queue is not None and "shapes" in queue.attr \
        else []
    if index >= len(shapes) or shapes[index].unknown_rank:
        return None
    component = [int(d.size) for d in shapes[index].dim]
    if node.op.startswith(("QueueDequeueMany", "QueueDequeueUpTo")):
        count = nodes.get(parse_input(node.input[1])[0]) if len(node.input) > 1 else None
        many = -1
        if node.op.startswith("QueueDequeueMany") and count is not None and count.op == "Const":
            many = int(tensor_to_numpy(count.attr["value"].tensor))
        return [many, *component]
    return component


def _missing_values_error(missing: list[Any]) -> UserError:
    listing = "; ".join(f"{i.name} ({i.dtype} {vals.format_shape(i.shape)})" for i in missing)
    flags = " ".join(f"--set {i.name}=..." for i in missing)
    return UserError(f"placeholders outside --inputs need a value: {listing}",
                     f"add {flags} (a number, a list like 0.6,0.7,0.7, true/false or @file.npy)")


def _check_runnable(graph: Any) -> None:
    """Refuse graphs TensorFlow cannot run: unfrozen variables, ops it does not know."""
    variables = [n.name for n in graph.node if n.op in oplists.VARIABLE_OPS]
    if variables:
        raise UserError(f"the graph is not frozen: {len(variables)} variable op(s) such as "
                        f"{', '.join(variables[:3])}",
                        "freeze it with its checkpoint: "
                        "graphport freeze CKPT --graph GRAPH -o frozen.pb")
    functions = {f.signature.name for f in graph.library.function}
    unknown = sorted({n.op for n in graph.node} - registered_ops() - functions
                     - oplists.RUNTIME_CUSTOM_OPS)
    if unknown:
        raise UserError(f"the graph uses ops this TensorFlow does not know: {', '.join(unknown)}",
                        "load the library that defines them, or cut them away with --outputs")


def _training_pins(placeholders: dict[str, InputInfo], inputs: list[str] | None,
                   set_values: dict[str, str]) -> dict[str, str]:
    """Inference values for the training switches the user neither feeds nor pins; a
    PlaceholderWithDefault whose default already is that value keeps it."""
    named = {parse_input(n)[0] for n in inputs or []}
    pins = {}
    for name, info in placeholders.items():
        if info.training_knob and info.inference_value is not None and name not in named \
                and name not in set_values and needs_pin(info.default, info.inference_value):
            pins[name] = info.inference_value
    return pins


def prepare_graph(graph: GraphProto, spec: GraphSpec | None = None,
                  tensor_info: TensorInfoFn | None = None) -> PreparedGraph:
    """Resolve names, pin values, cut and prune; raise UserError for anything the user must fix."""
    problems = check_graph(graph)
    if problems:
        listed = "; ".join(str(p) for p in problems[:3])
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise UserError(f"the graph is malformed: {listed}{more}",
                        "the file is damaged or not a graph TensorFlow wrote; graphport "
                        "inspect lists every problem")
    spec = spec or GraphSpec()
    inputs, outputs = spec.inputs, spec.outputs
    set_values, input_shapes = spec.set_values, spec.input_shapes
    nodes = {node.name: node for node in graph.node}
    placeholders = {i.name: i for i in find_inputs(graph)}
    # By default every placeholder is an input, except those pinned by --set and every
    # PlaceholderWithDefault, which keeps its default (a side input fed from inside the graph,
    # or a training switch like keep_prob=1.0): feeding it random values would skip the path
    # that computes it.
    # Training switches (is_training, dropout's keep_prob or rate, found by what they feed)
    # are pinned to their inference values unless named in --inputs or --set.
    switches = _training_pins(placeholders, inputs, set_values)
    set_values = {**switches, **set_values}
    chosen_inputs = inputs if inputs is not None else [
        name for name, info in placeholders.items() if name not in set_values
        and info.op != "PlaceholderWithDefault"]
    chosen_outputs = outputs if outputs is not None else [o.name for o in find_outputs(graph)]
    if not chosen_outputs:
        raise UserError("the graph has no output nodes to export", "name them with --outputs")

    input_tensors = [_check_tensor("--inputs", n, nodes, list(placeholders)) for n in chosen_inputs]
    output_tensors = [_check_tensor("--outputs", n, nodes, []) for n in chosen_outputs]
    fed_nodes = {parse_input(t)[0] for t in input_tensors}
    for name in set_values:
        if name not in placeholders:
            raise _unknown_name("--set", name, list(placeholders))
        if name in fed_nodes:
            raise UserError(f"--set {name}: {name} is also a signature input",
                            "drop it from --inputs or from --set")
    for name in input_shapes:
        if name not in fed_nodes:
            raise UserError(f"--input-shapes {name}: not one of the signature inputs",
                            f"the inputs are {', '.join(chosen_inputs)}")

    # Edits go to a copy (the caller keeps the original to verify against); a graph that
    # needs none is shared, so a large one is not held twice for nothing.
    legacy = [n.name for n in graph.node if has_legacy_empty_shape(n, graph.versions.producer)]
    needs_edit = bool(set_values) or bool(input_shapes) or bool(legacy) or any(
        parse_input(t)[0] not in placeholders or parse_input(t)[1] != 0 for t in input_tensors
    ) or any(i.op == "PlaceholderWithDefault" and i.name not in fed_nodes
             for i in placeholders.values())
    edited = edit.copy_graph(graph) if needs_edit else graph
    for name in legacy:  # say "unknown" the way every reader understands, as TF reads it
        edit.set_unknown_shape(edited, name)
    prepared = PreparedGraph(edited, [], [])
    taken: set[str] = set()
    node_names = set(nodes)
    for tensor in input_tensors:
        node, index, _ = parse_input(tensor)
        key = signature_key(tensor, taken)
        example = None
        if node in placeholders and index == 0:
            info = placeholders[node]
            dtype, shape, feed, example = info.dtype, info.shape, tensor, info.example_shape
        else:
            if tensor_info is None:
                raise UserError(f"--inputs {tensor}: cutting at a tensor needs TensorFlow")
            dtype_enum, shape = tensor_info(tensor)
            dtype = dtype_name(dtype_enum)
            if shape is None:
                shape = queue_output_shape(graph, tensor)
            feed_node = key if key not in node_names else f"{key}_input"
            node_names.add(feed_node)
            edit.cut_at(edited, tensor, feed_node, dtype_enum, shape)
            feed = tensor_name(feed_node)
            prepared.notes.append(f"cut at {tensor}: fed by new placeholder {feed_node}")
        if node in input_shapes:
            shape = vals.merge_shape(node, shape, vals.parse_shape(input_shapes[node]))
            edit.set_placeholder_shape(edited, parse_input(feed)[0], shape)
        prepared.inputs.append(SignatureTensor(key, feed, tensor, dtype, shape,
                                               None if shape is not None else example))

    for name, text in set_values.items():
        info = placeholders[name]
        prepared.pinned[name] = vals.parse_value(name, text, info.dtype, info.shape)
        if name in switches:
            prepared.notes.append(f"{name}: a training switch, pinned to {text} (feed it by "
                                  "naming it in --inputs)")
    edit.pin_inputs(edited, prepared.pinned)
    for name in edit.defaults_to_identity(edited, fed_nodes):
        prepared.notes.append(f"{name}: PlaceholderWithDefault outside the signature uses its "
                              "default")

    for tensor in output_tensors:
        prepared.outputs.append(SignatureTensor(signature_key(tensor, taken), tensor, tensor,
                                                "", None))
    pruned = edit.prune(edited, [parse_input(t.tensor)[0] for t in prepared.outputs])
    feeds = {parse_input(t.tensor)[0] for t in prepared.inputs}
    missing = [placeholders[n.name] for n in pruned.node
               if n.op == "Placeholder" and n.name not in feeds and n.name in placeholders]
    if missing:
        raise _missing_values_error(missing)
    _check_runnable(pruned)
    prepared.graph = pruned
    return prepared
