"""Freeze a TF1 checkpoint into a GraphDef, as `freeze_graph` did (it is gone from TF 2), and
check the result: the frozen graph and the checkpoint restored into a session must agree.

Only what the outputs need is kept, so the saver, the initializers and the training ops fall
away. Both variable kinds are handled: ``VariableV2`` (read through ``Identity``) and resource
variables (``VarHandleOp`` read by ``ReadVariableOp`` / ``ResourceGather``). Checkpoint keys come
from the graph's own restore wiring (a Saver may store a variable under another name), else
from the variable's name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphport.backend.tf_graph import error_line
from graphport.errors import ConversionError, UserError
from graphport.graph import edit, load, oplists
from graphport.graph.anatomy import find_outputs
from graphport.graph.checkpoint_files import (
    TRAINING_GRAPH,
    CheckpointFiles,
    find_checkpoint,
    read_meta_graph,
)
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.safety import ensure_safe
from graphport.graph.tensors import shape_list, tensor_to_numpy
from graphport.graph.types import GraphProto
from graphport.verify.parity import MISMATCH, OutputParity, compare_outputs, worst

REF_VARIABLES = frozenset({"VariableV2", "Variable"})
RESOURCE_VARIABLES = frozenset({"VarHandleOp"})
# Ops that write variables or save them: what they lead to is never a model output.
_WRITERS = frozenset({"Assign", "AssignAdd", "AssignSub", "AssignVariableOp",
                      "AssignAddVariableOp", "AssignSubVariableOp"}) | oplists.CHECKPOINT_OPS
_APPLY = ("Apply", "ResourceApply", "ResourceSparseApply", "SparseApply")  # optimizer updates
_TF2_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclass
class FrozenCheckpoint:
    """The frozen graph and how it was made and checked."""

    graph: GraphProto
    checkpoint: str
    graph_source: str  # the .meta file or the --graph file
    outputs: list[str]
    variables: int
    parameters: int
    dropped_nodes: int
    verdict: str  # match / unverified / mismatch (see verify/parity.py)
    parity: list[OutputParity] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _is_writer(op: str) -> bool:
    return op in _WRITERS or op.startswith(_APPLY)


def _is_gradient_kernel(op: str) -> bool:
    return op.endswith(("Grad", "GradV2", "GradGrad")) or op == "BroadcastGradientArgs"


def _downstream(index: NodeIndex, start: list[str]) -> set[str]:
    """``start`` and every node that reads them, directly or not (data or control)."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(r.node.name for r in index.readers(name))
            stack.extend(n.name for n in index.control_readers(name))
    return seen


def model_outputs(index: NodeIndex, ambiguous_ok: bool = False) -> list[str]:
    """Outputs of the model in a checkpoint's graph: what nobody consumes, minus what only
    exists to save, restore, initialise or train (whatever a variable write or a gradient
    kernel leads to, shape queries, control-dependency tuples). A training graph still leaves
    its loss and gradient leftovers, which no pattern tells from a model output for sure: there
    the user names the outputs, as freeze_graph's --output_node_names always asked."""
    graph, nodes = index.graph, index.nodes
    training = _downstream(index, [n.name for n in graph.node
                                   if _is_writer(n.op) or _is_gradient_kernel(n.op)])
    found = [o.name for o in find_outputs(graph, index) if o.name not in training
             and nodes[o.name].op not in ("Shape", "ShapeN", "Size", "Rank")
             and not any(i.startswith("^") for i in nodes[o.name].input)]
    trains = any(n.op.startswith(_APPLY) for n in graph.node)
    if trains and len(found) > 1 and not ambiguous_ok:
        raise UserError(f"the checkpoint's graph is a training graph; its unconsumed tensors "
                        f"{', '.join(found[:6])}{' ...' if len(found) > 6 else ''} mix the "
                        "model's outputs with the loss",
                        f"name the model's outputs with --outputs (e.g. --outputs {found[0]})")
    return found


def checkpoint_keys(index: NodeIndex) -> dict[str, str]:
    """variable node -> checkpoint key, from ``Assign(var, RestoreV2:i)`` wiring."""
    nodes = index.nodes
    keys: dict[str, str] = {}
    for node in index.graph.node:
        if node.op not in ("Assign", "AssignVariableOp") or len(node.input) < 2:
            continue
        source, output, _ = parse_input(node.input[1])
        while source in nodes and nodes[source].op == "Identity":
            source, output, _ = parse_input(nodes[source].input[0])
        restore = nodes.get(source)
        if restore is None or restore.op != "RestoreV2":
            continue
        names = nodes.get(parse_input(restore.input[1])[0])
        if names is None or names.op != "Const":
            continue
        stored = tensor_to_numpy(names.attr["value"].tensor).ravel()
        keys[parse_input(node.input[0])[0]] = stored[output].decode()
    return keys


class _Reader:
    """The checkpoint's values, with one clear error for each way a checkpoint can be bad."""

    def __init__(self, files: CheckpointFiles) -> None:
        from graphport.backend.runtime import tensorflow

        tf = tensorflow()
        self.files = files
        try:
            self.reader = tf.train.load_checkpoint(str(files.prefix))
        except Exception as error:  # TF raises DataLossError/OpError for a bad index
            raise UserError(f"{files.index} is not a readable checkpoint index "
                            f"({error_line(error)})", "the checkpoint is damaged") from None
        self.shapes = self.reader.get_variable_to_shape_map()
        if _TF2_KEY in self.shapes:
            raise UserError(f"{files.prefix} is a TF2 object-based checkpoint "
                            "(tf.train.Checkpoint): it holds no graph to freeze",
                            "rebuild the model in Python, restore it, and save it with "
                            "tf.saved_model.save; graphport reads the SavedModel")
        shards = re.findall(r"\.data-\d{5}-of-(\d{5})$", " ".join(
            p.name for p in files.data_files()))
        expected = int(shards[0]) if shards else 1
        missing = [f"{files.prefix.name}.data-{i:05d}-of-{expected:05d}" for i in range(expected)
                   if not Path(f"{files.prefix}.data-{i:05d}-of-{expected:05d}").is_file()]
        if missing:
            raise UserError(f"checkpoint {files.prefix}: data file {missing[0]} is missing "
                            f"beside {files.index.name}",
                            "copy the .data-* files together with the .index file")

    def value(self, key: str, node: Any) -> np.ndarray:
        if key not in self.shapes:
            close = [k for k in self.shapes if k.endswith(key.split("/")[-1])][:3]
            raise UserError(f"variable {node.name} (checkpoint key {key!r}) is not in "
                            f"checkpoint {self.files.prefix}",
                            f"it holds {', '.join(close or sorted(self.shapes)[:3])}...; is this "
                            "the checkpoint of this graph?")
        try:
            value = np.asarray(self.reader.get_tensor(key))
        except Exception as error:  # DataLossError: truncated or mismatched .data file
            raise UserError(f"checkpoint {self.files.prefix}: cannot read {key!r} "
                            f"({error_line(error)})",
                            "the .data file is damaged or belongs to another checkpoint"
                            ) from None
        declared = shape_list(node.attr["shape"].shape) if "shape" in node.attr else None
        if declared is not None and not _fits(value.shape, declared):
            raise UserError(f"variable {node.name} is {declared} in the graph but "
                            f"{list(value.shape)} in checkpoint {self.files.prefix}",
                            "the graph and the checkpoint come from different models")
        return value


def _fits(shape: tuple[int, ...], declared: list[int]) -> bool:
    return len(shape) == len(declared) and all(d < 0 or d == s
                                               for s, d in zip(shape, declared, strict=True))


def _source_graph(files: CheckpointFiles, graph_path: Path | None) -> tuple[GraphProto, str]:
    if graph_path is not None:
        return load.read_graph_def(graph_path), str(graph_path)
    if files.meta is None:
        raise UserError(f"checkpoint {files.prefix} has no .meta graph beside it",
                        f"give the model's graph: graphport freeze {files.prefix} "
                        "--graph GRAPH.pbtxt -o frozen.pb")
    return read_meta_graph(files), str(files.meta)


def _freeze_nodes(graph: GraphProto, values: dict[str, np.ndarray]) -> None:
    """Variables become constants; resource reads become Identity/GatherV2 on them."""
    resources = {n.name for n in graph.node if n.op in RESOURCE_VARIABLES}
    for node in list(graph.node):
        if node.name in values:
            edit.make_const(node, values[node.name])
            continue
        reads = [parse_input(i)[0] for i in node.input if parse_input(i)[0] in resources]
        if not reads:
            continue
        dtype = node.attr["dtype"].type
        if node.op == "ReadVariableOp":
            node.op = "Identity"
            node.ClearField("attr")
            node.attr["T"].type = dtype
        elif node.op == "ResourceGather" and node.attr["batch_dims"].i == 0:
            axis = graph.node.add(name=f"{node.name}/axis")
            edit.make_const(axis, np.array(0, np.int32))
            index_type = node.attr["Tindices"].type
            node.op = "GatherV2"
            node.ClearField("attr")
            node.attr["Tparams"].type = dtype
            node.attr["Tindices"].type = index_type
            node.attr["Taxis"].type = 3  # DT_INT32
            node.input.insert(2, axis.name)
        else:
            raise UserError(f"{node.name} ({node.op}) reads variable {reads[0]} in a way "
                            "graphport cannot freeze",
                            "pick --outputs that do not depend on it")


def _verify(unfrozen: GraphProto, frozen: GraphProto, values: dict[str, np.ndarray],
            outputs: list[str]) -> tuple[list[OutputParity], list[str]]:
    """Run the frozen graph and the unfrozen one with its variables restored from the
    checkpoint, on the same generated inputs."""
    from graphport.backend.runtime import tensorflow
    from graphport.backend.tf_graph import import_graph, session, to_tf
    from graphport.spec.options import GraphSpec
    from graphport.spec.signature import prepare_graph
    from graphport.verify.samples import sample_inputs

    tf = tensorflow()
    try:
        prepared = prepare_graph(frozen, GraphSpec(outputs=outputs))
        samples, notes = sample_inputs(prepared.inputs, count=1)
    except UserError as error:
        return [], [f"freezing not verified: {error.message}"]
    fetches = [f"{name}:0" if ":" not in name else name for name in outputs]
    feeds = {t.source: samples[t.key] for t in prepared.inputs}
    frozen_graph = import_graph(to_tf(prepared.graph))
    with session(frozen_graph) as running:
        got = running.run([t.tensor for t in prepared.outputs],
                          {t.tensor: samples[t.key] for t in prepared.inputs})
    graph = import_graph(to_tf(unfrozen))
    with graph.as_default():
        restore = []
        for name, value in values.items():
            handle = graph.get_tensor_by_name(f"{name}:0")
            if graph.get_operation_by_name(name).type in RESOURCE_VARIABLES:
                restore.append(tf.raw_ops.AssignVariableOp(resource=handle, value=value))
            else:
                restore.append(tf.compat.v1.assign(handle, value))
    with session(graph) as running:
        running.run(restore)
        want = running.run(fetches, feeds)
    keys = [t.key for t in prepared.outputs]
    return compare_outputs(dict(zip(keys, want, strict=True)),
                           dict(zip(keys, got, strict=True))), [f"freeze check input {note}"
                                                                for note in notes]


def freeze_checkpoint(path: str | os.PathLike[str],
                      graph_path: str | os.PathLike[str] | None = None,
                      outputs: list[str] | None = None, verify: bool = True,
                      allow_unsafe_ops: bool = False, for_inspection: bool = False
                      ) -> FrozenCheckpoint:
    """Freeze the checkpoint ``path`` names (prefix, any of its files, or its directory) with
    its meta graph or ``graph_path``, keeping what ``outputs`` need (default: the model's
    outputs, training and saving machinery left out). ``for_inspection``: run nothing, and
    keep every candidate output of a training graph rather than ask which."""
    files = find_checkpoint(Path(path))
    if files is None:
        raise UserError(f"{path} is not a checkpoint (no {Path(path).name}.index beside it)",
                        "pass the prefix (model.ckpt), one of its files or its directory")
    reader = _Reader(files)
    graph, graph_source = _source_graph(files, Path(graph_path) if graph_path else None)
    index = NodeIndex.of(graph)  # one index for the outputs, the keys and the name check
    names = [parse_input(o)[0] for o in outputs] if outputs else model_outputs(
        index, ambiguous_ok=for_inspection)
    if not names:
        raise UserError("found no model outputs in the checkpoint's graph",
                        "name them with --outputs")
    unknown = [n for n in names if n not in index.nodes]
    if unknown:
        raise UserError(f"--outputs: no node named {unknown[0]!r} in {graph_source}",
                        "graphport inspect on the frozen result lists the nodes")
    pruned = edit.copy_graph(edit.prune(graph, names))
    for node in pruned.node:
        node.device = ""
    if not (allow_unsafe_ops or for_inspection):
        ensure_safe(pruned, False, "freeze and verify this checkpoint")
    keys = checkpoint_keys(index)
    variables = [n for n in pruned.node if n.op in REF_VARIABLES | RESOURCE_VARIABLES]
    values = {}
    for node in variables:
        default = node.attr["shared_name"].s.decode() if node.op in RESOURCE_VARIABLES \
            and node.attr["shared_name"].s else node.name
        values[node.name] = reader.value(keys.get(node.name, default), node)
    frozen = edit.copy_graph(pruned)
    _freeze_nodes(frozen, values)
    left = sorted({n.op for n in frozen.node} & oplists.VARIABLE_OPS)
    if left:
        raise UserError(f"the graph still holds {', '.join(left)} after freezing",
                        "pick --outputs that do not depend on variable updates")
    parity: list[OutputParity] = []
    if for_inspection:
        notes = ["frozen for inspection only: nothing was run"]
        if not outputs and len(names) > 1 and any(n.op.startswith(_APPLY) for n in graph.node):
            notes.append(f"{TRAINING_GRAPH}: the outputs below mix the model's with its loss "
                         "and gradient leftovers; name the model's with --outputs")
    elif verify:
        parity, notes = _verify(pruned, frozen, values, names)
    else:
        notes = ["freezing not verified (--no-verify)"]
    if files.warning:
        notes.insert(0, f"warning: {files.warning}")
    verdict = worst([p.verdict for p in parity])
    if verdict == MISMATCH:
        failed = ", ".join(p.key for p in parity if p.verdict == MISMATCH)
        raise ConversionError(f"the frozen graph differs from the restored checkpoint on "
                              f"{failed}; nothing was written", "rerun with --debug and report it")
    return FrozenCheckpoint(
        frozen, str(files.prefix), graph_source, names, len(variables),
        int(sum(v.size for v in values.values())), len(graph.node) - len(frozen.node),
        verdict, parity, notes)


def describe(frozen: FrozenCheckpoint) -> str:
    """One line for a command that froze on the fly."""
    return (f"froze {frozen.checkpoint} ({frozen.variables} variables, {frozen.parameters:,} "
            f"parameters) with {Path(frozen.graph_source).name}: verdict {frozen.verdict}")
