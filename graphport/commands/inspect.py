"""`graphport inspect`: one JSON-ready report for a frozen graph, a SavedModel or a .tflite file.

All formats share the top-level keys ``format, inputs, outputs, ops, params, control_flow,
unsafe_ops, warnings`` (documented in the README); each adds what only it has. Only
``check_tflite=True`` imports TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphport.errors import UserError, api_errors
from graphport.graph import load, oplists
from graphport.graph.anatomy import (
    Finding,
    analyze_graph,
    needs_pin,
    shell_quote,
    unsafe_finding,
)
from graphport.graph.checkpoint_files import TRAINING_GRAPH
from graphport.graph.edge_cuts import EDGE_OPS, edge_cut
from graphport.graph.fake_quant import fake_quant_points
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import check_graph
from graphport.graph.side_effects import BLOCKING, find_unsafe_ops
from graphport.graph.tensors import dtype_name, shape_list
from graphport.graph.vendor_ops import translate_vendor_ops
from graphport.results import JsonResult

# Graphs TensorFlow cannot load as they are get no suggested command: it would fail.
_NO_NEXT = frozenset({"invalid_graph", "unregistered_ops", "not_frozen"})
# Consumers that tell an unknown-rank input's layout.
_RANK_HINTS = {"Conv2D": "<batch>,<height>,<width>,<channels>",
               "DepthwiseConv2dNative": "<batch>,<height>,<width>,<channels>",
               "MaxPool": "<batch>,<height>,<width>,<channels>",
               "AvgPool": "<batch>,<height>,<width>,<channels>",
               "MatMul": "<batch>,<features>"}


def suggested_options(data: dict[str, Any]) -> dict[str, Any]:
    """What inspect knows a run needs and can fill in itself: training switches pinned to
    their inference values (``set``) and, with no placeholder, the cut after a baked-in input
    pipeline (``inputs``). migrate applies these; next: shows them."""
    pins = {item["name"]: item["inference_value"] for item in data["inputs"]
            if item["training_knob"] and needs_pin(item["default"], item["inference_value"])}
    cut = data["cut_points"][:1] if not data["inputs"] and data["cut_points"] else []
    return {**({"inputs": cut} if cut else {}), **({"set": pins} if pins else {})}


def suggest_next(path: Path, data: dict[str, Any], index: NodeIndex
                 ) -> tuple[str | None, list[str]]:
    """The to-savedmodel command to run next, and what in it only the user can supply (shown
    as <...> placeholders). None when TensorFlow could not load the graph as it is."""
    if {w["code"] for w in data["warnings"]} & _NO_NEXT:
        return None, []
    if any(u["kind"] != BLOCKING for u in data["unsafe_ops"]):
        return None, []  # every command refuses it; the finding says why
    parts = ["graphport", "to-savedmodel", shell_quote(str(path))]
    needs: list[str] = []
    suggested = suggested_options(data)
    pins = [f"{name}={value}" for name, value in suggested.get("set", {}).items()]
    inputs: list[str] = []
    samples, shapes = [], []
    for item in data["inputs"]:
        if item["training_knob"]:
            continue  # pinned, or a switch with the inference value as default keeps it
        if item["op"] == "PlaceholderWithDefault":
            continue  # optional: keeps its default (name it in --inputs to feed it)
        inputs.append(item["name"])
        if item["dtype"] == "string":
            samples.append(f"{item['name']}=@<file>")
            needs.append(f"{item['name']} is a string input: give a file whose bytes it takes "
                         "(--sample NAME=@FILE)")
        elif item["shape"] is None and item["example_shape"] is None:
            readers = {r.node.op for r in index.readers(item["name"])}
            layout = next((_RANK_HINTS[op] for op in sorted(readers) if op in _RANK_HINTS),
                          "<d0>,<d1>,...")
            shapes.append(f"{item['name']}:{layout}")
            needs.append(f"{item['name']} has an unknown rank: give its shape "
                         "(--input-shapes NAME:d0,d1,...)")
    inputs = suggested.get("inputs", inputs)
    if inputs:
        parts += ["--inputs", shell_quote(",".join(inputs))]
    if data["outputs"]:
        parts += ["--outputs", shell_quote(",".join(o["name"] for o in data["outputs"]))]
    for pin in pins:
        parts += ["--set", shell_quote(pin)]
    for shape in shapes:
        parts += ["--input-shapes", shell_quote(shape)]
    for sample in samples:
        parts += ["--sample", shell_quote(sample)]
    return " ".join(parts), needs


def _edge_cut(path: Path, data: dict[str, Any], index: NodeIndex
              ) -> tuple[dict[str, Any] | None, str | None]:
    """Ops with no TFLite builtin at the graph's edges (graph/edge_cuts.py), the cut that leaves
    them out, and the tflite command converting the rest; to-savedmodel keeps the whole."""
    blockers = {n.name for n in index.graph.node if n.op in EDGE_OPS}
    outputs = [o["name"] for o in data["outputs"]]
    cut = edge_cut(index, blockers, outputs)
    if not cut or data["next_command"] is None:
        return None, None
    short = [t.removesuffix(":0") for t in cut.inputs]
    parts = ["graphport", "tflite", shell_quote(str(path))]
    if short:
        parts += ["--inputs", shell_quote(",".join(short))]
    parts += ["--outputs", shell_quote(",".join([t.removesuffix(":0") for t in cut.outputs]
                                                or outputs))]
    return {"inputs": short, "outputs": [t.removesuffix(":0") for t in cut.outputs],
            "cut_before": cut.head, "cut_after": cut.tail}, " ".join(parts)


def _size(path: Path) -> int:
    """Bytes of a file, or of every file of a checkpoint or directory."""
    if path.is_file():
        return path.stat().st_size
    from graphport.graph.checkpoint_files import find_checkpoint

    files = find_checkpoint(path)
    if files is None:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in [files.index, *files.data_files(), files.meta]
               if p is not None)


def _read(path: Path, kind: str) -> tuple[Any, list[str]]:
    """The graph to inspect: a checkpoint is frozen (nothing run) with its meta graph."""
    if kind != load.CHECKPOINT:
        return load.read_graph_def(path), []
    from graphport.checkpoint.freeze import describe, freeze_checkpoint

    frozen = freeze_checkpoint(path, for_inspection=True)
    return frozen.graph, [describe(frozen), *frozen.notes]


def _inspect_graph_def(path: Path, kind: str) -> dict[str, Any]:
    graph, notes = _read(path, kind)
    vendor = translate_vendor_ops(graph)
    index = NodeIndex.of(graph)  # one index for the anatomy, the checks, next:, the detector
    anatomy = analyze_graph(graph, index)
    data = {"format": kind, "path": str(path), "size_bytes": _size(path),
            **anatomy.to_json()}
    if notes:
        data["checkpoint"] = notes
    problems = check_graph(graph, index)
    data["invalid_graph"] = [vars(p) for p in problems]
    if problems:
        listed = "; ".join(str(p) for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        data["warnings"].insert(0, {"level": "error", "code": "invalid_graph",
                                    "message": f"malformed graph: {listed}{more}"})
    optional = [i["name"] for i in data["inputs"]
                if i["op"] == "PlaceholderWithDefault" and not i["training_knob"]]
    if optional:
        data["warnings"].append({
            "level": "info", "code": "optional_inputs",
            "message": f"optional inputs keep their defaults: {', '.join(optional)}; to feed "
                       "one, name it in --inputs with the others"})
    data["next_command"], data["next_needs"] = suggest_next(path, data, index)
    if any(note.startswith(TRAINING_GRAPH) for note in notes):
        # Its outputs mix the model's with the loss: a command naming them all would be
        # refused, so none is suggested; the note says what to name.
        data["next_command"], data["next_needs"] = None, []
    data["suggested_options"] = suggested_options(data)
    data["edge_cut"], data["next_tflite_command"] = _edge_cut(path, data, index)
    data["warnings"].extend({"level": "info", "code": "vendor_ops", "message": note}
                            for note in vendor)
    points = fake_quant_points(graph, index)
    if points:
        open_points = [p.name for p in points if p.low is None]
        kinds = ", ".join(sorted({index.nodes[p.name].op for p in points}))
        unranged = (f"; {len(open_points)} without a constant range: "
                    f"{', '.join(open_points[:3])}" if open_points else "")
        data["warnings"].append({
            "level": "info", "code": "quantization_aware",
            "message": f"quantization-aware trained: {len(points)} fake-quant points ({kinds})"
                       f"{unranged}; graphport tflite --int8 takes the ranges from the graph "
                       "(no calibration data; --io uint8 for uint8 input and output)"})
    detector = _detector(graph, index)
    data["object_detection"] = detector
    if detector is not None:
        data["warnings"].append({
            "level": "info", "code": "object_detection",
            "message": f"{detector['family']}: image {detector['image_size'] or '?'}, "
                       f"{detector['anchors'] or '?'} anchors, "
                       f"{detector['classes']} classes, {', '.join(detector['nms'])} "
                       f"(IoU {detector['iou_threshold']}, score threshold "
                       f"{detector['score_threshold']:g}, {detector['per_class']} per class), "
                       f"scores by {detector['score_conversion'] or '?'}, box scales "
                       f"{detector['box_scales']}; graphport tflite builds a TFLite detection "
                       "model (TFLite_Detection_PostProcess)"})
        if data["next_command"] is not None and not data["next_needs"]:
            data["next_command"] = f"graphport tflite {shell_quote(str(path))}"
    return data


def _detector(graph: Any, index: NodeIndex) -> dict[str, Any] | None:
    """The detector's anatomy when the graph holds NMS or a runtime detection op; the pass
    that knows it (and what it imports) is loaded only then, inspect's fast path stays light."""
    if not any(n.op in oplists.NMS_OPS or n.op in oplists.RUNTIME_CUSTOM_OPS
               for n in graph.node):
        return None
    from graphport.passes.rewrites.detection_postprocess import describe

    return describe(graph, index)


def _tensor_info_json(key: str, info: Any) -> dict[str, Any]:
    return {"key": key, "name": info.name, "dtype": dtype_name(info.dtype),
            "shape": shape_list(info.tensor_shape) if info.HasField("tensor_shape") else None}


def _directory_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def _inspect_saved_model(path: Path, signature: str | None = None,
                         tag_set: str | None = None) -> dict[str, Any]:
    saved = load.read_saved_model(path)
    meta_graphs = []
    for meta in saved.meta_graphs:
        signatures = {}
        for key in sorted(meta.signature_def):
            sig = meta.signature_def[key]
            signatures[key] = {
                "method": sig.method_name,
                "inputs": [_tensor_info_json(k, sig.inputs[k]) for k in sorted(sig.inputs)],
                "outputs": [_tensor_info_json(k, sig.outputs[k]) for k in sorted(sig.outputs)],
            }
        meta_graphs.append({"tags": list(meta.meta_info_def.tags), "signatures": signatures,
                            "tensorflow_version": meta.meta_info_def.tensorflow_version})
    first = load.pick_meta_graph(saved, tag_set, path)
    chosen_tags = list(first.meta_info_def.tags)
    anatomy = analyze_graph(first.graph_def)
    sigs = next(m["signatures"] for m in meta_graphs if m["tags"] == chosen_tags)
    main_key = load.main_signature(sigs, signature, path)
    # A SavedModel's top-level graph holds variables, loader placeholders and checkpoint ops by
    # design; only what the signatures run is worth a finding.
    findings = [f for f in anatomy.findings if f.code in ("unregistered_ops", "tf1_control_flow")]
    unsafe = find_unsafe_ops(first.graph_def, ignore=oplists.CHECKPOINT_OPS)
    if unsafe:
        findings.insert(0, unsafe_finding(unsafe, []))
    if main_key is None:
        findings.insert(0, Finding("warning", "no_signature",
                                   "no signature: serving tools and the TFLite converter need one"))
    variables = path / "variables"
    return {
        "format": load.SAVED_MODEL,
        "path": str(path),
        "size_bytes": _directory_bytes(path),
        "signature": main_key,
        "inputs": sigs[main_key]["inputs"] if main_key else [],
        "outputs": sigs[main_key]["outputs"] if main_key else [],
        "meta_graphs": meta_graphs,
        "ops": anatomy.ops,
        "function_ops": anatomy.function_ops,
        "params": {"variables_bytes": _directory_bytes(variables) if variables.is_dir() else 0,
                   **anatomy.params},
        "control_flow": anatomy.control_flow,
        "unsafe_ops": [u.to_json() for u in unsafe],
        "unregistered_ops": anatomy.unregistered_ops,
        "warnings": [vars(f) for f in findings],
        "tag_set": chosen_tags,
        "next_command": None if main_key is None else " ".join(
            [f"graphport tflite {shell_quote(str(path))}"]
            + ([f"--signature {shell_quote(main_key)}"] if main_key != "serving_default" else [])
            + ([f"--tag-set {shell_quote(','.join(chosen_tags))}"] if tag_set else [])),
    }


def _inspect_tflite(path: Path) -> dict[str, Any]:
    # Imported here: the flatbuffer schema module alone costs ~0.1 s, GraphDefs don't need it.
    from graphport.graph.tflite_model import control_flow_ops, read_tflite

    model = read_tflite(path)
    flex = sorted({op.op for op in model.operators if op.kind == "flex"})
    custom = sorted({op.op for op in model.operators if op.kind == "custom"})
    warnings = []
    if flex:
        warnings.append({"level": "warning", "code": "flex_ops",
                         "message": f"needs TF Select (Flex) ops {', '.join(flex)}: the Python "
                                    "interpreters (ai-edge-litert, tf.lite) cannot run it"})
    if custom:
        warnings.append({"level": "warning", "code": "custom_ops",
                         "message": f"custom ops {', '.join(custom)} need their kernels "
                                    "registered in the runtime"})
    return {
        "format": load.TFLITE,
        "path": str(path),
        "size_bytes": model.size_bytes,
        "inputs": [vars(t) for t in model.inputs],
        "outputs": [vars(t) for t in model.outputs],
        "signatures": model.signatures,
        "subgraphs": model.subgraph_count,
        "operators": len(model.operators),
        "ops": model.op_counts,
        "flex_ops": flex,
        "custom_ops": custom,
        "params": model.params,
        "control_flow": {"ops": control_flow_ops(model)},
        "unsafe_ops": [],
        "warnings": warnings,
    }


@dataclass
class InspectReport(JsonResult):
    """What inspect found. The fields every format has are typed; ``data`` is the whole report
    as ``--json`` prints it (its keys depend on the format), also readable as ``report[key]``."""

    format: str
    path: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    next_command: str | None
    data: dict[str, Any] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return self.data


@api_errors
def inspect_model(path: str | os.PathLike[str], check_tflite: bool = False,
                  signature: str | None = None, tag_set: str | None = None) -> InspectReport:
    """Inspect a model file, SavedModel directory or checkpoint; raises UserError for
    unusable input. ``signature`` and ``tag_set`` choose what a SavedModel shows first."""
    path = Path(path)
    kind = load.detect_format(path)
    if (signature is not None or tag_set is not None) and kind != load.SAVED_MODEL:
        raise UserError("--signature and --tag-set choose within a SavedModel",
                        f"{path} is a {kind}: drop them")
    if kind == load.SAVED_MODEL:
        data = _inspect_saved_model(path, signature, tag_set)
    elif kind == load.TFLITE:
        data = _inspect_tflite(path)
    else:
        data = _inspect_graph_def(path, kind)
    if check_tflite and kind != load.TFLITE:
        from graphport.convert.support import check_tflite_support

        data["tflite_support"] = check_tflite_support(path, data)
    return InspectReport(data["format"], data["path"], data["inputs"], data["outputs"],
                         data["warnings"], data.get("next_command"), data)
