"""Op-type lists the analysis and the safety policy share, kept in one place."""

from __future__ import annotations

# Ops known to touch files, the network or run Python, named with what they touch. The policy
# (graph/side_effects.py) is default-deny: these only give the finding its kind; any other
# stateful op is refused too.
UNSAFE_OPS: dict[str, str] = {
    **{op: "file" for op in (
        "ReadFile", "WriteFile", "MatchingFiles", "Save", "SaveV2", "SaveSlices", "Restore",
        "RestoreV2", "RestoreSlice", "MergeV2Checkpoints", "ImmutableConst",
        "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
        "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2", "LMDBReader", "IdentityReader", "IdentityReaderV2",
        "ReaderReadV2", "ReaderRead", "ReaderReadUpToV2", "ReaderReadUpTo",
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "SqlDataset",
        "LoadDataset", "SaveDataset", "SaveDatasetV2", "DatasetToTFRecord",
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
        "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
        "WriteRawProtoSummary", "ImportEvent", "FlushSummaryWriter",
        "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
        "DebugNumericSummary", "DebugNumericSummaryV2", "InitializeTableFromTextFile",
        "InitializeTableFromTextFileV2", "GenerateVocabRemapping", "LoadAndRemapMatrix",
        "FixedUnigramCandidateSampler", "RecordInput", "FileSystemSetConfiguration",
        "DumpTensor", "CloseSummaryWriter", "SummaryWriter", "StatsAggregatorSetSummaryWriter",
    )},
    **{op: "network" for op in (
        "_Send", "_Recv", "_HostSend", "_HostRecv", "CollectiveReduce", "CollectiveReduceV2",
        "CollectiveGather", "CollectiveGatherV2", "CollectiveBcastSend", "CollectiveBcastRecv",
        "CollectiveBcastSendV2", "CollectiveBcastRecvV2", "RpcCall", "Rpc", "TryRpc",
    )},
    **{op: "python" for op in ("PyFunc", "PyFuncStateless", "EagerPyFunc")},
}

# A SavedModel's loader restores variables with these; they are part of the format, not a payload.
CHECKPOINT_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints"})

# Ops that mean the graph still holds variables: it was never frozen.
VARIABLE_OPS = frozenset({
    "Variable", "VariableV2", "VarHandleOp", "_VarHandlesOp", "TemporaryVariable",
    "AutoReloadVariable", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp",
})

# Nodes nobody consumes that are still not model outputs.
NOT_OUTPUT_OPS = frozenset({
    "Const", "NoOp", "Assert", "Print", "PrintV2", "SaveV2", "Save", "SaveSlices",
    "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints", "Assign", "AssignAdd",
    "AssignSub", "AssignVariableOp", "VarIsInitializedOp", "ScalarSummary", "HistogramSummary",
    "ImageSummary", "AudioSummaryV2", "MergeSummary", "TensorSummaryV2", "ControlTrigger",
    "QueueEnqueue", "QueueEnqueueV2", "QueueEnqueueMany", "QueueEnqueueManyV2", "QueueClose",
    "QueueCloseV2",
})
# Optimizer update ops (ApplyAdam, ResourceApplyGradientDescent, ...) are training leftovers.
TRAINING_OP_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")

# Ops that hand data from a baked-in input pipeline to the network (candidate cut points).
PIPELINE_OUTPUT_OPS = frozenset({
    "QueueDequeue", "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2",
    "QueueDequeueUpTo", "QueueDequeueUpToV2", "IteratorGetNext", "IteratorGetNextSync",
    "IteratorGetNextAsOptional", "OptionalGetValue", "ReaderReadV2", "ReaderRead",
})

TF1_CONTROL_FLOW_OPS = frozenset({
    "Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
    "NextIteration", "RefNextIteration", "LoopCond",
})
FUNCTIONAL_CONTROL_FLOW_OPS = frozenset({
    "While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase",
})

# Ops that take a scalar operand as readily as any other shape (they broadcast or map elementwise).
ELEMENTWISE_OPS = frozenset({
    "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "FloorDiv", "Maximum", "Minimum", "Pow",
    "Cast", "Floor", "Ceil", "Round", "Sqrt", "Rsqrt", "Neg", "Abs", "Square", "Exp", "Log",
    "Reciprocal", "Sign", "Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual",
    "LogicalAnd", "LogicalOr", "LogicalNot", "Select", "SelectV2",
})
# Ops that pass a tensor on unchanged (a value entering a loop, a copy).
# Custom ops LiteRT's runtime ships (its builtin op resolver registers them): graphs written
# for TFLite hold them (export_tflite_ssd_graph.py's tflite_graph.pb) and a repair may add them.
# TensorFlow does not know them; they compute, touch nothing outside.
RUNTIME_CUSTOM_OPS = frozenset({"TFLite_Detection_PostProcess"})
# Non-max suppression, every version: a detector's postprocessing (inspect describes a graph
# holding one of these or a runtime detection op as a detector).
NMS_OPS = frozenset({"NonMaxSuppression", "NonMaxSuppressionV2", "NonMaxSuppressionV3",
                     "NonMaxSuppressionV4", "NonMaxSuppressionV5"})

PASS_THROUGH_OPS = frozenset({"Identity", "Enter", "RefEnter", "Switch", "Merge"})

# Input names that are usually training switches, to be pinned when exporting.
TRAINING_KNOB_WORDS = ("keep_prob", "dropout", "is_training", "phase_train", "training",
                       "learning_phase", "drop_rate")


def is_training_op(op: str) -> bool:
    """True for optimizer update ops, which never belong to an inference output."""
    return op.startswith(TRAINING_OP_PREFIXES)
