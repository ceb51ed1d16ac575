"""LiteRT's TFLite_Detection_PostProcess written in TensorFlow ops, so TensorFlow can run a graph
that holds it (export_tflite_ssd_graph.py's tflite_graph.pb) as the reference a conversion is
verified against.

It follows the kernel (tensorflow/lite/kernels/detection_postprocess.cc): boxes decoded from
the anchors (ycenter, xcenter, h, w) with the node's scales; class scores after the background
column when there is one; regular NMS per class (at most min(detections_per_class,
max_detections) each, IoU above the threshold suppressed, scores at the threshold kept) merged
by score, or fast NMS on each anchor's best class; the top max_detections, padded with zeros;
classes 0-based; the count as float.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphport.backend.runtime import tensorflow
from graphport.graph.oplists import RUNTIME_CUSTOM_OPS
from graphport.graph.tensors import dtype_enum
from graphport.passes.splice import splice


def with_detection_reference(graph: Any) -> Any:
    """``graph`` (graphport's GraphDef, changed in place and returned) with each detection op
    replaced by its TensorFlow twin under the same name."""
    float32 = dtype_enum("float")
    for node in [n for n in graph.node if n.op in RUNTIME_CUSTOM_OPS]:
        splice(graph, node, [(float32, None)] * 3, _reference(node))
    return graph


def _reference(node: Any) -> Any:
    attr = node.attr
    classes, limit = attr["num_classes"].i, attr["max_detections"].i
    per_class = min(attr["detections_per_class"].i or 100, limit)
    iou, threshold = attr["nms_iou_threshold"].f, attr["nms_score_threshold"].f
    scales = [attr[k].f for k in ("y_scale", "x_scale", "h_scale", "w_scale")]
    regular = attr["use_regular_nms"].b

    def build(encodings: Any, predictions: Any, anchors: Any) -> list[Any]:
        tf = tensorflow()
        e, a = encodings[0], anchors
        ycenter = e[:, 0] / scales[0] * a[:, 2] + a[:, 0]
        xcenter = e[:, 1] / scales[1] * a[:, 3] + a[:, 1]
        half_h = tf.exp(e[:, 2] / scales[2]) * a[:, 2] / 2.0
        half_w = tf.exp(e[:, 3] / scales[3]) * a[:, 3] / 2.0
        boxes = tf.stack([ycenter - half_h, xcenter - half_w, ycenter + half_h,
                          xcenter + half_w], 1)
        scores = predictions[0][:, -classes:]  # after the background column, if any
        # at the threshold kept, as the kernel keeps it (TF's NMS keeps only above it)
        below = float(np.nextafter(np.float32(threshold), np.float32(-1.0)))
        if regular:
            found = []
            for label in range(classes):
                chosen = tf.image.non_max_suppression(boxes, scores[:, label], per_class, iou,
                                                      below)
                found.append((tf.gather(boxes, chosen), tf.gather(scores[:, label], chosen),
                              tf.fill(tf.shape(chosen), float(label))))
            all_boxes, all_scores, all_classes = (tf.concat([f[k] for f in found], 0)
                                                  for k in range(3))
        else:
            best = tf.reduce_max(scores, 1)
            chosen = tf.image.non_max_suppression(boxes, best, limit, iou, below)
            all_boxes, all_scores = tf.gather(boxes, chosen), tf.gather(best, chosen)
            all_classes = tf.cast(tf.gather(tf.argmax(scores, 1), chosen), tf.float32)
        count = tf.minimum(tf.shape(all_scores)[0], limit)
        order = tf.nn.top_k(all_scores, count).indices
        pad = limit - count
        return [tf.reshape(tf.pad(tf.gather(all_boxes, order), [[0, pad], [0, 0]]),
                           [1, limit, 4]),
                tf.reshape(tf.pad(tf.gather(all_classes, order), [[0, pad]]), [1, limit]),
                tf.reshape(tf.pad(tf.gather(all_scores, order), [[0, pad]]), [1, limit]),
                tf.reshape(tf.cast(count, tf.float32), [1])]

    return build
