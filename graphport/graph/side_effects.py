"""Which ops a graph may not run: the default-deny policy behind --allow-unsafe-ops.

A frozen graph is a program written by somebody else. A deny list of "bad" ops always misses
one (``tf.print(..., output_stream="file://...")`` wrote files through ``PrintV2``), so the rule
is the other way round: every op TensorFlow's own registry marks stateful is unsafe unless it is
on the reviewed list of harmless stateful ops below (random numbers, TensorArrays, in-memory
variables and tables, control flow, ``Assert``). On top of that, any op whose attributes name a
file or URL is unsafe whatever the registry says (``DebugIdentity.debug_urls``,
``DecodeProtoV2.descriptor_source``), and ops that wait on a queue, reader or iterator are
*blocking*: nothing feeds them, so running them would hang for ever, and no flag allows that.

Pure reading: nothing here imports TensorFlow or runs anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from graphport.graph import oplists
from graphport.graph.nodes import parse_input
from graphport.graph.op_registry import op_list
from graphport.graph.tensors import dtype_name

FILE = "file"
NETWORK = "network"
PYTHON = "python"
BLOCKING = "blocking"
PIPELINE = "input pipeline"
SIDE_EFFECT = "side effect"

# Stateful in TensorFlow's registry, reviewed harmless: they keep state in memory only (random
# generators, TensorArrays and stacks, variables and hash tables of the graph itself), call
# functions whose bodies are checked node by node, or only fail or print to the console.
HARMLESS_STATEFUL = frozenset({
    # random numbers
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "RandomGamma", "RandomPoisson", "RandomPoissonV2",
    "RandomShuffle", "RandomCrop", "Multinomial", "NonDeterministicInts",
    "SampleDistortedBoundingBox", "SampleDistortedBoundingBoxV2", "StatefulRandomBinomial",
    "StatefulStandardNormal", "StatefulStandardNormalV2", "StatefulTruncatedNormal",
    "StatefulUniform", "StatefulUniformFullInt", "StatefulUniformInt", "RngReadAndSkip",
    "RngSkip", "StatelessRandomGetAlg", "AnonymousSeedGenerator", "AnonymousRandomSeedGenerator",
    "DummySeedGenerator", "AllCandidateSampler", "LogUniformCandidateSampler",
    "UniformCandidateSampler", "LearnedUnigramCandidateSampler",
    "ThreadUnsafeUnigramCandidateSampler",
    # TensorArrays and stacks (TF1 loops)
    "TensorArray", "TensorArrayV2", "TensorArrayV3", "TensorArrayReadV3",
    "TensorArrayWriteV3", "TensorArrayGatherV3", "TensorArrayScatterV3", "TensorArrayConcatV3",
    "TensorArraySplitV3", "TensorArraySizeV3", "TensorArrayCloseV3", "TensorArrayGrad",
    "TensorArrayGradV2", "TensorArrayGradV3", "TensorArrayGradWithShape",
    "Stack", "StackV2", "StackPushV2", "StackPopV2", "StackCloseV2",
    # variables and hash tables held in memory
    "Variable", "VariableV2", "TemporaryVariable", "VarHandleOp", "_VarHandlesOp",
    "ReadVariableOp", "_ReadVariablesOp", "AssignVariableOp", "AssignAddVariableOp",
    "AssignSubVariableOp", "VarIsInitializedOp", "VariableShape", "DestroyResourceOp",
    "DisableCopyOnRead", "ResourceGather", "ResourceGatherNd", "ResourceScatterAdd",
    "ResourceScatterDiv", "ResourceScatterMax", "ResourceScatterMin", "ResourceScatterMul",
    "ResourceScatterSub", "ResourceScatterUpdate", "ResourceScatterNdAdd",
    "ResourceScatterNdSub", "ResourceScatterNdUpdate", "ResourceScatterNdMax",
    "ResourceScatterNdMin", "ResourceStridedSliceAssign", "ResourceCountUpTo",
    "HashTable", "HashTableV2", "MutableHashTable", "MutableHashTableV2",
    "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
    "MutableDenseHashTableV2", "AnonymousHashTable", "AnonymousMutableHashTable",
    "AnonymousMutableHashTableOfTensors", "AnonymousMutableDenseHashTable",
    "InitializeTableV2", "LookupTableFindV2", "LookupTableImportV2", "LookupTableInsertV2",
    "LookupTableRemoveV2", "LookupTableSizeV2", "LookupTableExportV2",
    # control flow and calls (the bodies are library functions, checked node by node)
    "While", "If", "Case", "StatefulPartitionedCall", "_While", "_If",
    # fail, print to the console, or compute
    "Assert", "CheckNumerics", "CheckNumericsV2", "Print", "Empty", "DeepCopy",
    "GuaranteeConst", "Timestamp", "GraphDefVersion", "DeviceIndex", "_Arg", "_Retval",
    "_ParallelConcatStart", "CudnnRNN", "CudnnRNNV2", "CudnnRNNV3",
})

# Where PrintV2 may write: the console and the log, never a file.
STANDARD_STREAMS = frozenset({"stderr", "stdout", "log(info)", "log(warning)", "log(error)"})

# Ops that wait for data something else must provide: queues, readers, iterators, staging
# areas, barriers, accumulators, infeeds and receives.
_BLOCKING = re.compile(
    r"^(Queue\w*|\w*QueueV?2?|Reader\w*|(MultiDevice)?Iterator\w*|OneShotIterator|"
    r"AnonymousIterator\w*|MakeIterator|Barrier\w*|Stage\w*|Unstage|(Ordered)?Map(Un)?[sS]tage\w*|"
    r"(Ordered)?MapPeek|(Resource|Sparse)?AccumulatorTakeGradient|Infeed\w*|Outfeed\w*|"
    r"_?Recv|_HostRecv|\w*Reader(V2)?)$")
# tf.data: sources read files or the network, caches and snapshots write them.
_PIPELINE = re.compile(r"^(\w*Dataset(V\d)?|Snapshot\w*|DatasetFromGraph|DatasetToGraph\w*|"
                       r"RegisterDataset\w*)$")
# Attributes whose string value is a path or URL by definition.
_PATH_ATTRS = frozenset({"debug_urls", "memory_region_name", "vocab_file", "file_pattern",
                         "filename", "logdir", "output_stream", "descriptor_source"})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SHOWN = 100  # characters of a named path or URL shown in a finding


@dataclass(frozen=True)
class UnsafeOp:
    """A node the policy will not run, and why."""

    name: str
    op: str
    kind: str  # file | network | python | blocking | input pipeline | side effect
    names: str = ""  # the files or URLs the node names, as written in the graph

    def describe(self) -> str:
        detail = f" {self.names}" if self.names else ""
        return f"{self.name} ({self.op}: {self.kind}{detail})"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "kind": self.kind, "names": self.names}


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN - 1] + "…"


def _attr_strings(node: Any) -> Iterator[tuple[str, str]]:
    for key, value in node.attr.items():
        kind = value.WhichOneof("value")
        if kind == "s":
            yield key, value.s.decode("utf-8", "replace")
        elif kind == "list":
            for item in value.list.s:
                yield key, item.decode("utf-8", "replace")


def _named_paths(node: Any, consts: dict[str, Any]) -> list[str]:
    """The paths and URLs a node names: in its attributes, or as string constants it reads
    (directly or through Identity), e.g. WriteFile's file name."""
    found = [f"{key}={_shown(text)}" for key, text in _attr_strings(node)
             if text and (key in _PATH_ATTRS or _URL.match(text))]
    for item in node.input:
        name, _, control = parse_input(item)
        source = consts.get(name.split(":")[0])
        while source is not None and source.op == "Identity" and source.input:
            source = consts.get(parse_input(source.input[0])[0].split(":")[0])
        if control or source is None or source.op != "Const":
            continue
        tensor = source.attr["value"].tensor
        if dtype_name(tensor.dtype) == "string":
            label = source.name.rsplit("/", 1)[-1]
            found += [f"{label}={_shown(s.decode('utf-8', 'replace'))!r}"
                      for s in tensor.string_val[:3]]
    return found


def _kind(node: Any) -> str | None:
    """Why ``node`` may not run, or None when it may."""
    op = node.op
    if _BLOCKING.match(op) and op in op_list():
        return BLOCKING
    if op in oplists.UNSAFE_OPS:
        return oplists.UNSAFE_OPS[op]
    if _PIPELINE.match(op) and op in op_list():
        return PIPELINE
    if op == "PrintV2":
        stream = node.attr["output_stream"].s.decode() if "output_stream" in node.attr \
            else "stderr"
        return None if stream in STANDARD_STREAMS else FILE
    if op in ("DecodeProtoV2", "EncodeProto") and "descriptor_source" in node.attr and \
            node.attr["descriptor_source"].s not in (b"", b"local://"):
        return FILE
    if op.startswith("Debug"):
        return FILE
    if any(_URL.match(text) for _, text in _attr_strings(node)):
        return NETWORK
    info = op_list().get(op)
    if info is not None and info.stateful and op not in HARMLESS_STATEFUL:
        return SIDE_EFFECT
    return None


def _scopes(graph: Any) -> Iterable[list[Any]]:
    yield list(graph.node)
    for function in graph.library.function:
        yield list(function.node_def)


def find_unsafe_ops(graph: Any, ignore: frozenset[str] = frozenset()) -> list[UnsafeOp]:
    """Every node, top level or in a library function, that the policy will not run.
    ``ignore``: op types that belong to the container (a SavedModel's checkpoint ops)."""
    found = []
    for nodes in _scopes(graph):
        consts = {n.name: n for n in nodes if n.op in ("Const", "Identity")}
        for node in nodes:
            if node.op in ignore:
                continue
            kind = _kind(node)
            if kind is not None:
                found.append(UnsafeOp(node.name, node.op, kind,
                                      ", ".join(_named_paths(node, consts))))
    return found


def summary(unsafe: list[UnsafeOp], shown: int = 4) -> str:
    """One line for a finding or an error: the first few nodes with what they name."""
    listed = "; ".join(u.describe() for u in unsafe[:shown])
    more = f"; and {len(unsafe) - shown} more" if len(unsafe) > shown else ""
    return listed + more
