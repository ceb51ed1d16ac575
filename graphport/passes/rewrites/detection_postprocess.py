"""TF Object Detection API SSD postprocessing -> TFLite_Detection_PostProcess.

An Object Detection API export (`frozen_inference_graph.pb`) ends in
`BatchMultiClassNonMaxSuppression`: a TF1 while loop over the batch (a `tf.map_fn`, TensorArray
scatter/read/gather) running per-class NonMaxSuppression (V2 to V5) on decoded boxes, and usually
starts with a preprocessing loop of the same form. Both need TF Select ops. This pass recognises
the pattern by its ops and data flow, not by names: the while frame holding NonMaxSuppression
ops, the boxes `[1, N, 1, 4]` and scores `[1, N, C]` scattered into it, the NMS thresholds and
limits inside it, and the outputs it computes (boxes `[1, M, 4]`, scores and classes `[1, M]`,
the count `[1]`; per-detection extras such as TF 1.15's multiclass scores are left out and
said). Shapes come from TensorFlow's inference, and where a preprocessing `map_fn` erased them
(dynamic-input exports), from one run of the graph on a sample at the resize size. It replaces
the loop by LiteRT's builtin-resolved custom op with the graph's own IoU and score thresholds
and limits, regular (per-class) NMS by default.

The op decodes boxes from anchors itself and does not clip. So the pass feeds it the graph's own
decoded boxes re-encoded against unit anchors with unit scales (the op's decoding is then
exact); where the graph clips to the window before NMS (2017-2018 exports) they are clipped
first and the scores of boxes clipped to nothing zeroed, where it clips what NMS kept (later
exports) the op's boxes are clipped: the detections match the graph's to float rounding. A
preprocessing loop fed from the image input is cut: the image input takes the (already resized)
pixels directly, batch 1, so the arithmetic after it stays in the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from graphport.graph.edit import add_node, make_const
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import ROOT_FRAME, frames
from graphport.graph.loops import tensor_array_loops
from graphport.graph.nodes import parse_input
from graphport.graph.oplists import NMS_OPS
from graphport.graph.spatial import placeholder_sizes, spatial_size
from graphport.graph.tensors import (
    behind_identities,
    constant_value,
    dtype_enum,
    shape_list,
    tensor_to_numpy,
)
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.element_shapes import placeholders_of, sample_feed
from graphport.passes.graph_util import unique_name
from graphport.passes.splice import add_subgraph

OP = "TFLite_Detection_PostProcess"
_NMS = NMS_OPS
# Ops a score threshold's comparison reaches the scores through (no arithmetic on the way).
_SCORE_PATH = ("Identity", "Reshape", "Squeeze", "StridedSlice", "Slice", "Unpack", "Gather",
               "GatherV2", "TensorArrayReadV3")


@dataclass
class _Outputs:
    boxes: Any
    scores: Any
    classes: Any
    num: Any
    label_offset: float


def _nms_loops(index: NodeIndex) -> dict[str, list[Any]]:
    """TF1 while frames that hold NonMaxSuppression ops and read or write TensorArrays (the
    map_fn of BatchMultiClassNonMaxSuppression), with those NMS ops."""
    if not any(n.op in _NMS for n in index.graph.node):
        return {}
    frame_of, _ = frames(index)
    loops = {loop.frame for loop in tensor_array_loops(index.graph, index)}
    found: dict[str, list[Any]] = {}
    for node in index.graph.node:
        frame = frame_of.get(node.name)
        if node.op in _NMS and frame not in (None, ROOT_FRAME) and frame in loops:
            found.setdefault(frame, []).append(node)
    return found


def _constant(name: str, by_name: dict[str, Any]) -> float | None:
    """A scalar constant behind ``name``, through Identity and Enter; for ``Minimum`` (the
    per-class limit capped by the box count), its constant operand."""
    node = behind_identities(name, by_name)
    if node is None:
        return None
    if node.op == "Minimum":
        values = [_constant(i, by_name) for i in node.input[:2]]
        return next((v for v in values if v is not None), None)
    value = tensor_to_numpy(node.attr["value"].tensor) if node.op == "Const" else None
    return float(value.ravel()[0]) if value is not None and value.size == 1 else None


def _score_threshold(nms: list[Any], frame: set[str], index: NodeIndex) -> float:
    """V3+ carry it as an input; V2 graphs filter with ``Greater(scores, t)`` in the loop."""
    by_name = index.nodes
    given = [v for n in nms if len(n.input) > 4
             if (v := _constant(n.input[4], by_name)) is not None]
    if given:
        return min(given)
    found = []
    for node in index.graph.node:
        if node.name not in frame or node.op not in ("Greater", "GreaterEqual"):
            continue
        threshold = _constant(node.input[1], by_name)
        current = by_name.get(parse_input(node.input[0])[0])
        for _ in range(8):  # reaches the loop's read of the scores through reshapes only
            if current is None or current.op not in _SCORE_PATH:
                current = None
                break
            if current.op == "TensorArrayReadV3":
                break
            current = by_name.get(parse_input(current.input[0])[0])
        if threshold is not None and current is not None:
            found.append(threshold)
    return float(min(found)) if found else float(np.finfo(np.float32).min)


def _outputs(fetches: list[Any], shapes: dict[str, list[int] | None], by_name: dict[str, Any]
             ) -> tuple[_Outputs | None, list[Any]]:
    """The detection outputs the NMS loop gives, by shape: boxes [1, M, 4], the count [1], and
    scores and classes [1, M] (classes computed as x + offset); and the others it gives per
    detection [1, M, K] (the TF 1.15 exporter's multiclass scores), which the TFLite op does
    not. (None, []) when they are not that."""
    def rank(node: Any) -> int | None:
        shape = shapes.get(node.name)
        return None if shape is None else len(shape)

    boxes = [n for n in fetches if rank(n) == 3 and (shapes[n.name] or [0])[-1] == 4]
    num = [n for n in fetches if rank(n) == 1]
    pairs = [n for n in fetches if rank(n) == 2]
    per_detection = [n for n in fetches if rank(n) == 3 and n not in boxes]
    if len(boxes) != 1 or len(num) != 1 or len(pairs) != 2 or \
            len(per_detection) + 4 != len(fetches):
        return None, []
    classes, offset = None, 0.0
    for node in pairs:
        source = node
        while source is not None and source.op == "Identity" and source.input:
            source = by_name.get(parse_input(source.input[0])[0])
        if source is not None and source.op in ("Add", "AddV2"):
            value = next((_constant(i, by_name) for i in source.input[:2]
                          if _constant(i, by_name) is not None), None)
            if value is not None:
                classes, offset = node, value
    if classes is None:
        return None, []
    scores = next(n for n in pairs if n is not classes)
    return _Outputs(boxes[0], scores, classes, num[0], offset), per_detection


def _box_scales(graph: Any, index: NodeIndex) -> list[float] | None:
    """The box coder's (y, x, h, w) scales: the constants the unstacked encodings are divided
    by in the decoding (``div`` in one export, ``truediv`` in another)."""
    for node in graph.node:
        if node.op != "Unpack" or node.attr["num"].i != 4:
            continue
        scales: dict[int, float] = {}
        for reader in index.readers(node.name):
            if reader.node.op in ("RealDiv", "Div") and reader.position == 0:
                value = _constant(reader.node.input[1], index.nodes)
                if value is not None:
                    scales[reader.output] = value
        if len(scales) == 4:
            return [scales[k] for k in range(4)]
    return None


def describe(graph: Any, index: NodeIndex | None = None) -> dict[str, Any] | None:
    """The anatomy of an Object Detection API SSD export, without TensorFlow (for inspect):
    None when the graph is not one."""
    index = index or NodeIndex.of(graph)
    written_for_tflite = next((n for n in graph.node if n.op == OP), None)
    if written_for_tflite is not None:
        return _describe_tflite_graph(written_for_tflite, index)
    if not any(n.op in _NMS for n in graph.node):
        return None
    found = list(_nms_loops(index).items())
    if len(found) != 1:
        return None
    frame, nms = found[0]
    loops = {loop.frame: loop for loop in tensor_array_loops(graph, index)}
    frame_of, _ = frames(index)
    in_frame = {name for name, f in frame_of.items() if f == frame}
    conversion, converted = None, None
    for tensor in loops[frame].cut:
        node = index.nodes.get(parse_input(tensor)[0])
        for _ in range(4):
            if node is None or node.op in ("Sigmoid", "Softmax"):
                break
            node = index.nodes.get(parse_input(node.input[0])[0]) if node.input else None
        if node is not None and node.op in ("Sigmoid", "Softmax"):
            conversion, converted = node.op.lower(), node
    scales = _box_scales(graph, index)
    if conversion is None or scales is None:
        return None  # NMS in a loop, but no SSD box decoding and score conversion before it
    images = [n for n in graph.node if n.op == "Placeholder"]
    size = None
    for other in loops:
        if other != frame:
            size = _resize(other, index, frame_of)[0] or size
    image = shape_list(images[0].attr["shape"].shape) if len(images) == 1 else None
    limits = [_constant(n.input[2], index.nodes) for n in nms if len(n.input) > 2]
    iou = _constant(nms[0].input[3], index.nodes) if len(nms[0].input) > 3 else None
    known = placeholder_sizes(index)
    mapped = size or (image[1:3] if image and len(image) == 4 and min(image[1:3]) > 0 else None)
    if mapped:  # the preprocessing map's images: at the resize size, else the input's
        known.update({n.name: (mapped[0], mapped[1]) for n in graph.node
                      if n.op == "TensorArrayGatherV3" and frame_of.get(n.name) == ROOT_FRAME})
    return {
        "family": "Object Detection API SSD export",
        "image": images[0].name if len(images) == 1 else None,
        "image_size": (f"dynamic, resized to {size[0]}x{size[1]} inside" if size and
                       image is not None and any(d < 0 for d in image[1:3]) else
                       f"{image[1]}x{image[2]}" if image and len(image) == 4 else None),
        "nms": sorted({n.op for n in nms}),
        "classes": len(nms),  # the API runs one NMS per class
        "iou_threshold": None if iou is None else float(f"{iou:.6g}"),
        "score_threshold": float(f"{_score_threshold(nms, in_frame, index):.6g}"),
        "per_class": int(min(v for v in limits if v is not None)) if any(
            v is not None for v in limits) else None,
        "score_conversion": conversion,
        "box_scales": scales,
        "anchors": _anchor_count(converted, len(nms), index, known),
    }


def _anchor_count(converted: Any, classes: int, index: NodeIndex,
                  known: dict[str, tuple[int, int]]) -> int | None:
    """Anchors = the class predictors' height x width x predictions per cell, their sizes
    carried from the image (graph/spatial.py): found without running the graph."""
    convs, seen = [], set()
    stack = [parse_input(i)[0] for i in converted.input]
    while stack:  # from the score conversion back to the class predictor convolutions
        node = index.nodes.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op == "Conv2D":
            convs.append(node)
        elif node.op in _TO_PREDICTOR:
            stack.extend(parse_input(i)[0] for i in node.input if not i.startswith("^"))
    total = 0
    for conv in convs:
        weights = index.nodes.get(parse_input(conv.input[1])[0])
        while weights is not None and weights.op in ("Identity", "FakeQuantWithMinMaxVars",
                                                     "FakeQuantWithMinMaxArgs"):
            weights = index.nodes.get(parse_input(weights.input[0])[0])
        depth = shape_list(weights.attr["value"].tensor.tensor_shape) if weights is not None \
            and weights.op == "Const" else None
        found = spatial_size(conv.name, index, known)
        if not depth or found is None:
            return None
        per_anchor = classes + 1 if depth[-1] % (classes + 1) == 0 else classes
        total += found[0] * found[1] * depth[-1] // per_anchor
    return total or None


# Ops between the class predictor convolutions and the score conversion of an SSD.
_TO_PREDICTOR = ("Reshape", "ConcatV2", "Identity", "BiasAdd", "Add", "AddV2", "Sub", "Mul",
                 "RealDiv", "Slice", "StridedSlice", "Squeeze", "ExpandDims", "Transpose",
                 "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxArgs")


def _describe_tflite_graph(op: Any, index: NodeIndex) -> dict[str, Any]:
    """A graph export_tflite_ssd_graph.py wrote: the detection op's own settings."""
    attr = op.attr
    anchors = index.nodes.get(parse_input(op.input[2])[0]) if len(op.input) > 2 else None
    count = shape_list(anchors.attr["value"].tensor.tensor_shape) if anchors is not None and \
        anchors.op == "Const" else None
    images = [n for n in index.graph.node if n.op == "Placeholder"]
    image = shape_list(images[0].attr["shape"].shape) if len(images) == 1 else None
    source = index.nodes.get(parse_input(op.input[1])[0]) if len(op.input) > 1 else None
    for _ in range(4):  # through the fake-quant and Identity after the score conversion
        if source is None or source.op in ("Sigmoid", "Softmax") or not source.input:
            break
        source = index.nodes.get(parse_input(source.input[0])[0])
    return {
        "family": f"SSD graph written for TFLite (export_tflite_ssd_graph.py, {OP})",
        "image": images[0].name if len(images) == 1 else None,
        "image_size": f"{image[1]}x{image[2]}" if image and len(image) == 4 else None,
        "nms": ["regular" if attr["use_regular_nms"].b else "fast"],
        "classes": attr["num_classes"].i,
        "iou_threshold": float(f"{attr['nms_iou_threshold'].f:.6g}"),
        "score_threshold": float(f"{attr['nms_score_threshold'].f:.6g}"),
        "per_class": attr["detections_per_class"].i,
        "score_conversion": source.op.lower() if source is not None and source.op in (
            "Sigmoid", "Softmax") else None,
        "box_scales": [attr[k].f for k in ("y_scale", "x_scale", "h_scale", "w_scale")],
        "anchors": count[0] if count else None,
    }


class DetectionPostprocess(GraphPass):
    summary = ("Object Detection API SSD postprocessing (NMS while loop) -> "
               "TFLite_Detection_PostProcess, with the graph's thresholds and limits")
    targets = frozenset({TFLITE})
    repairs = frozenset({"NonMaxSuppressionV2", "NonMaxSuppressionV3", "TensorArrayV3",
                         "TensorArrayScatterV3", "TensorArrayReadV3", "TensorArrayWriteV3",
                         "TensorArrayGatherV3", "TensorArraySizeV3"})
    # nms: "regular" (per class, as the Object Detection API does) or "fast" (class-agnostic);
    # max_detections: 0 keeps the graph's; classes: "graph" keeps the graph's label offset
    # (1-based), "tflite" gives the standard 0-based layout of TFLite detection models.
    params: ClassVar[dict[str, Any]] = {"nms": "regular", "max_detections": 0,
                                        "classes": "graph"}

    def matches(self, index: NodeIndex) -> list[Any]:
        return list(_nms_loops(index))

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        nms_mode, classes_layout = context.params["nms"], context.params["classes"]
        if nms_mode not in ("regular", "fast") or classes_layout not in ("graph", "tflite"):
            context.note(f"{match}: not repairable (nms must be regular or fast, classes graph "
                         "or tflite)")
            return False
        index = NodeIndex.of(graph)
        frame_of, _ = frames(index)
        in_frame = {name for name, frame in frame_of.items() if frame == match}
        nms = _nms_loops(index)[match]
        loops = {loop.frame: loop for loop in tensor_array_loops(graph)}
        fetches = [n for n in graph.node if not index.readers(n.name)
                   and not index.control_readers(n.name) and n.op == "Identity"]
        size = next((found for frame in loops if frame != match
                     if (found := _resize(frame, index, frame_of)[0])), None)
        # A preprocessing map_fn erases every static shape after it, so the shapes come from
        # TensorFlow's inference where it knows them and from one run on a sample otherwise.
        shape = _shapes(graph, [*loops[match].cut, *(n.name for n in fetches),
                                *_preprocessing_gathers(match, loops, index, frame_of)], size)
        cut = {tensor: known for tensor in loops[match].cut
               if (known := shape(tensor)) is not None}
        boxes = [t for t, s in cut.items() if s and len(s) == 4 and s[-1] == 4]
        scores = [t for t, s in cut.items() if s and len(s) == 3]
        why = None
        if size is None and any(len(d) == 4 and min(d[1:3]) < 0 for d in (
                shape_list(n.attr["shape"].shape) or [] for n in graph.node
                if n.op == "Placeholder")):
            why = "the image size is open and nothing inside resizes it: the anchors depend " \
                  "on it (fix it with --input-shapes)"
        elif len(boxes) != 1 or len(scores) != 1:
            why = "no boxes [B, N, 1, 4] and scores [B, N, C] enter the NMS loop"
        elif cut[boxes[0]][2] != 1:
            why = "class-specific boxes (q > 1): not an SSD box predictor"
        elif cut[boxes[0]][0] != 1 or cut[scores[0]][0] != 1:
            why = "batch size other than 1 (fix it with --input-shapes)"
        elif any(d < 0 for d in cut[scores[0]][1:]):
            why = "the number of anchors or classes is not static (fix the image size)"
        from_nms = [n for n in fetches if _reads_frame(n.name, match, index, frame_of)]
        outputs, extra = (None, []) if why else _outputs(
            from_nms, {n.name: shape(n.name) for n in from_nms}, index.nodes)
        if not why and outputs is None:
            why = "the outputs are not detection boxes [1, M, 4], scores and classes [1, M] " \
                  "and a count [1]"
        ious = {_constant(n.input[3], index.nodes) for n in nms if len(n.input) > 3}
        limits = [_constant(n.input[2], index.nodes) for n in nms if len(n.input) > 2]
        if not why and (len(ious) != 1 or None in ious or None in limits or not limits):
            why = "NMS thresholds are not constants shared by every class"
        sigmas = [_constant(n.input[5], index.nodes) for n in nms if len(n.input) > 5]
        if not why and any(s is None or s > 0 for s in sigmas):
            why = "soft-NMS (NonMaxSuppressionV5 with a sigma), which the TFLite op lacks"
        if why:
            context.note(f"{match}: not repairable ({why})")
            return False
        assert outputs is not None
        anchors, classes = cut[scores[0]][1], cut[scores[0]][2]
        max_detections = context.params["max_detections"] or \
            (shape(outputs.boxes.name) or [0, 0])[1]
        if max_detections <= 0:
            context.note(f"{match}: not repairable (the number of detections is not static: "
                         "give it with --passes 'detection_postprocess(max_detections=N)')")
            return False
        per_class = int(min(v for v in limits if v is not None))
        iou = float(next(v for v in ious if v is not None))
        threshold = _score_threshold(nms, in_frame, index)

        clip_first = _clips_before_nms(nms, index)
        encoded = self._clip_and_encode(graph, boxes[0], scores[0], anchors, classes,
                                        clip_first)
        unit = graph.node.add(name=unique_name(graph, "graphport/detection/anchors"))
        make_const(unit, np.tile(np.array([[0.0, 0.0, 1.0, 1.0]], np.float32), (anchors, 1)))
        op = add_node(graph, unique_name(graph, "graphport/detection/postprocess"), OP,
                      [encoded[0], encoded[1], unit.name])
        op.attr["_output_types"].list.type.extend([dtype_enum("float")] * 4)
        op.attr["_output_quantized"].b = True
        op.attr["_support_output_type_float_in_quantized_op"].b = True
        for key, value in (("max_detections", max_detections), ("max_classes_per_detection", 1),
                           ("detections_per_class", per_class), ("num_classes", classes)):
            op.attr[key].i = int(value)
        op.attr["use_regular_nms"].b = nms_mode == "regular"
        op.attr["nms_score_threshold"].f = threshold
        op.attr["nms_iou_threshold"].f = iou
        for key in ("y_scale", "x_scale", "h_scale", "w_scale"):
            op.attr[key].f = 1.0
        self._rewire(graph, op.name, outputs, classes_layout, clip_first)
        for node in extra:  # per-detection outputs the op does not give
            graph.node.remove(node)
            context.drop_output(node.name)
        image = self._cut_preprocessing(graph, match, loops, shape, size) or _pin_batch(graph)
        context.note(
            f"SSD postprocessing: {anchors} anchors, {classes} classes, {nms_mode} NMS "
            f"(IoU > {iou:g} suppressed, score >= {threshold:g} kept, {per_class} per class, "
            f"{max_detections} in all), boxes clipped to [0, 1] "
            + (f"and re-encoded before {OP}; " if clip_first else
               f"after {OP} (the graph clips what NMS kept); ")
            + f"classes {'as the graph numbers them' if classes_layout == 'graph' else '0-based'}"
            + (f"; input {image}" if image else "")
            + (f"; left out: {', '.join(n.name for n in extra)} ({OP} gives no per-detection "
               "values beyond boxes, scores and classes)" if extra else ""))
        return True

    @staticmethod
    def _clip_and_encode(graph: Any, boxes: str, scores: str, anchors: int, classes: int,
                         clip: bool) -> list[str]:
        """The graph's decoded boxes (clipped to the window first when ``clip``) encoded
        against unit anchors ([ycenter, xcenter, log h, log w]), and the scores with boxes of
        no area zeroed."""
        from graphport.backend.runtime import tensorflow

        tf = tensorflow()

        def build(decoded: Any, probabilities: Any) -> list[Any]:
            corners = tf.reshape(decoded, [anchors, 4])
            if clip:
                corners = tf.clip_by_value(corners, 0.0, 1.0)
            ymin, xmin, ymax, xmax = (corners[:, k] for k in range(4))
            height, width = ymax - ymin, xmax - xmin
            alive = tf.cast(tf.logical_and(height > 0.0, width > 0.0), tf.float32)
            encoded = tf.stack([(ymin + ymax) / 2.0, (xmin + xmax) / 2.0,
                                tf.math.log(tf.maximum(height, 1e-8)),
                                tf.math.log(tf.maximum(width, 1e-8))], 1)
            return [tf.reshape(encoded, [1, anchors, 4]),
                    probabilities * tf.reshape(alive, [1, anchors, 1])]

        scope = unique_name(graph, "graphport/detection/encode")
        float32 = dtype_enum("float")
        add_subgraph(graph, [boxes, scores], [(float32, [1, anchors, 1, 4]),
                                              (float32, [1, anchors, classes])], build, scope)
        return [f"{scope}/out_0", f"{scope}/out_1"]

    @staticmethod
    def _rewire(graph: Any, op: str, outputs: _Outputs, layout: str, clipped: bool) -> None:
        """The graph's output nodes read the op: the same names and meaning by default; boxes
        clipped to the window here when the graph clips after NMS."""
        outputs.boxes.input[0] = f"{op}:0"
        if not clipped:
            bounds = []
            for value in (1.0, 0.0):
                bound = graph.node.add(name=unique_name(graph, f"{op}/window_{value:g}"))
                make_const(bound, np.float32(value))
                bounds.append(bound.name)
            below = add_node(graph, unique_name(graph, f"{op}/clip_max"), "Minimum",
                             [f"{op}:0", bounds[0]], types={"T": "float"})
            outputs.boxes.input[0] = add_node(graph, unique_name(graph, f"{op}/clip"),
                                              "Maximum", [below.name, bounds[1]],
                                              types={"T": "float"}).name
        outputs.scores.input[0] = f"{op}:2"
        outputs.num.input[0] = f"{op}:3"
        if layout == "tflite" or not outputs.label_offset:
            outputs.classes.input[0] = f"{op}:1"
            return
        offset = graph.node.add(name=unique_name(graph, f"{op}/label_offset"))
        make_const(offset, np.float32(outputs.label_offset))
        shifted = add_node(graph, unique_name(graph, f"{op}/classes"), "AddV2",
                           [f"{op}:1", offset.name], types={"T": "float"})
        outputs.classes.input[0] = shifted.name

    @staticmethod
    def _cut_preprocessing(graph: Any, nms_frame: str, loops: dict[str, Any],
                           shape: Any, size: list[int] | None) -> str | None:
        """A preprocessing loop between the image input and the network: the network reads
        the image input directly instead, as float pixels of the loop's output shape."""
        index = NodeIndex.of(graph)
        frame_of, _ = frames(index)
        placeholders = {n.name: n for n in graph.node if n.op == "Placeholder"}
        all_gathers = [n for n in graph.node if n.op == "TensorArrayGatherV3"]
        for frame, loop in loops.items():
            if frame == nms_frame:
                continue
            sources = set()
            for tensor in loop.cut:
                node = index.nodes.get(parse_input(tensor)[0])
                while node is not None and node.op in ("Cast", "Identity") and node.input:
                    node = index.nodes.get(parse_input(node.input[0])[0])
                if node is not None and node.name in placeholders:
                    sources.add(node.name)
            # the images (rank 4); an export's map also returns each true image shape
            gathers = [g for g in all_gathers if _exits_frame(g, frame, index, frame_of)
                       and len(shape(g.name) or [0] * 4) == 4]
            if len(sources) != 1 or len(gathers) != 1:
                continue
            image = placeholders[sources.pop()]
            method = _resize(frame, index, frame_of)[1]
            resized = shape(gathers[0].name) or [-1, -1, -1, -1]
            if len(resized) == 4 and any(d < 0 for d in resized[1:3]):
                given = shape_list(image.attr["shape"].shape) or [-1] * 4
                resized[1:3] = size or given[1:3]
            if len(resized) == 4 and resized[3] < 0:
                channels = shape_list(image.attr["shape"].shape) or [-1]
                resized[3] = channels[-1]
            if len(resized) != 4 or any(d < 0 for d in resized[1:]):
                continue
            for reader in index.readers(gathers[0].name):
                reader.node.input[reader.position] = image.name
            image.attr["dtype"].type = dtype_enum("float")
            image.attr["shape"].shape.Clear()
            for d in [1, *resized[1:]]:
                image.attr["shape"].shape.dim.add(size=d)
            caller = f" (the graph resized inside, {method}: the caller now resizes)" \
                if method else ""
            return (f"{image.name}: float pixels [1, {resized[1]}, {resized[2]}, {resized[3]}]"
                    f"{caller}")
        return None


def _shapes(graph: Any, tensors: list[str], size: list[int] | None
            ) -> Callable[[str], list[int] | None]:
    """Each tensor's shape ([-1] for an unknown dimension): TensorFlow's static inference, and
    where that leaves a dimension open, one run of the graph on a sample (batch 1, images at
    the preprocessing loop's ``size``). Without a run (an input it cannot sample), static."""
    from graphport.backend.tf_graph import import_graph, session, to_tf

    tf_graph = import_graph(to_tf(graph))

    def static(tensor: str) -> list[int] | None:
        found = tf_graph.get_tensor_by_name(tensor if ":" in tensor else f"{tensor}:0").shape
        return None if found.rank is None else [-1 if d is None else d for d in found]

    known = {t: static(t) for t in tensors}
    open_tensors = [t for t, s in known.items() if s is None or -1 in s]
    inputs = placeholders_of(graph, open_tensors)
    dims = {n.name: shape_list(n.attr["shape"].shape) or [] for n in inputs}
    images = [n for n in inputs if len(dims[n.name]) == 4]
    if size is None and any(min(dims[n.name][1:3]) < 0 for n in images):
        # an image of open size and no resize inside: a sample would say nothing about the
        # sizes the model will see (the pass then asks for a fixed image size)
        return lambda tensor: known[tensor] if tensor in known else static(tensor)
    sizes = {(n.name, k): size[k - 1] for n in images if size is not None for k in (1, 2)}
    try:
        with session(tf_graph) as running:
            feeds = {tf_graph.get_tensor_by_name(f"{n.name}:0"): sample_feed(n, sizes, 0)
                     for n in inputs}
            values = running.run([tf_graph.get_tensor_by_name(t if ":" in t else f"{t}:0")
                                  for t in open_tensors], feeds) if open_tensors else []
        known.update({t: list(np.shape(v)) for t, v in zip(open_tensors, values, strict=True)})
    except Exception:  # an input it cannot sample, a run the graph refuses: static only
        pass
    return lambda tensor: known[tensor] if tensor in known else static(tensor)


def _clips_before_nms(nms: list[Any], index: NodeIndex) -> bool:
    """Do the boxes reach NMS clipped (Minimum/Maximum on the way, as 2017-2018 exports clip
    each class's boxes to the window first)? Later exports clip what NMS kept."""
    for op in nms:
        stack, seen = [parse_input(op.input[0])[0]], set()
        while stack:
            name = stack.pop()
            node = index.nodes.get(name)
            if node is None or name in seen or node.op in ("Enter", "TensorArrayReadV3"):
                continue
            seen.add(name)
            if node.op in ("Minimum", "Maximum", "ClipByValue"):
                return True
            stack.extend(parse_input(i)[0] for i in node.input if not i.startswith("^"))
    return False


def _reads_frame(name: str, frame: str, index: NodeIndex, frame_of: dict[str, str]) -> bool:
    """Does node ``name`` compute from what the while frame ``frame`` returns?"""
    stack, seen = [name], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if frame_of.get(current) == frame:
            return True
        node = index.nodes.get(current)
        if node is not None:
            stack.extend(parse_input(i)[0] for i in node.input if not i.startswith("^"))
    return False


def _preprocessing_gathers(nms_frame: str, loops: dict[str, Any], index: NodeIndex,
                           frame_of: dict[str, str]) -> list[str]:
    """The TensorArray gathers that leave every other loop (a preprocessing map_fn's images)."""
    return [n.name for n in index.graph.node if n.op == "TensorArrayGatherV3" and any(
        _exits_frame(n, frame, index, frame_of) for frame in loops if frame != nms_frame)]


def _pin_batch(graph: Any) -> str | None:
    """An image input with an open batch takes one image (the TFLite op's batch is 1)."""
    for node in graph.node:
        dims = shape_list(node.attr["shape"].shape) if node.op == "Placeholder" else None
        if dims is not None and len(dims) == 4 and dims[0] < 0:
            node.attr["shape"].shape.dim[0].size = 1
            return f"{node.name}: batch 1 (the detection op takes one image)"
    return None


_RESIZE_METHODS = {"ResizeBilinear": "bilinear", "ResizeNearestNeighbor": "nearest neighbour",
                   "ResizeBicubic": "bicubic", "ResizeArea": "area"}


def _resize(frame: str, index: NodeIndex, frame_of: dict[str, str]
            ) -> tuple[list[int] | None, str | None]:
    """[height, width] (if constant) and method of the image resize inside the
    preprocessing loop ``frame``; (None, None) without one."""
    method = None
    for node in index.graph.node:
        if not node.op.startswith("Resize") or frame_of.get(node.name) != frame:
            continue
        method = method or _RESIZE_METHODS.get(node.op, node.op)
        size = constant_value(node.input[1], index.nodes) if len(node.input) > 1 else None
        if size is not None and size.size == 2:
            return [int(d) for d in size], method
    return None, method


def _exits_frame(gather: Any, frame: str, index: NodeIndex, frame_of: dict[str, str]) -> bool:
    """Whether the flow ``gather`` reads leaves the while frame ``frame``."""
    flow = index.nodes.get(parse_input(gather.input[2])[0]) if len(gather.input) > 2 else None
    if flow is None or flow.op not in ("Exit", "RefExit") or not flow.input:
        return False
    inner = index.nodes.get(parse_input(flow.input[0])[0])
    return inner is not None and frame_of.get(inner.name) == frame
