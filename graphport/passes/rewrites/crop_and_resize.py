"""CropAndResize (bilinear) decomposed into gathers and arithmetic that TFLite has as builtins.

Follows TensorFlow's kernel (crop_and_resize_op.cc) step by step, so the results match it to
float rounding: sample positions ``y1 * (H - 1) + i * (y2 - y1) * (H - 1) / (crop_h - 1)`` (the
box centre when ``crop_h == 1``), rows and columns outside the image take
``extrapolation_value``, and the four neighbours are blended top-left -> top-right, then top ->
bottom, in the kernel's order.
"""

from __future__ import annotations

from typing import Any

from graphport.graph.index import NodeIndex
from graphport.graph.tensors import dtype_enum
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.graph_util import const_value, input_node
from graphport.passes.splice import splice

_FLOAT = dtype_enum("float")
_INT32 = dtype_enum("int32")


class DecomposeCropAndResize(GraphPass):
    summary = "bilinear CropAndResize -> gathers and arithmetic (builtin-convertible)"
    repairs = frozenset({"CropAndResize"})
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        return [n for n in index.graph.node if n.op == "CropAndResize"]

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        method = match.attr["method"].s.decode() if "method" in match.attr else "bilinear"
        by_name = NodeIndex.of(graph).nodes
        crop = const_value(input_node(match, 3, by_name), by_name)
        if method != "bilinear" or crop is None:
            context.note(f"{match.name}: not repairable ("
                         f"{'method ' + method if method != 'bilinear' else 'crop size varies'})")
            return False
        crop_h, crop_w = (int(v) for v in crop.ravel())
        extrapolation = float(match.attr["extrapolation_value"].f) \
            if "extrapolation_value" in match.attr else 0.0
        image_type = match.attr["T"].type if "T" in match.attr else _FLOAT
        specs = [(image_type, [None, None, None, None]), (_FLOAT, [None, 4]),
                 (_INT32, [None]), (_INT32, [2])]

        def build(image: Any, boxes: Any, box_index: Any, _crop: Any) -> list[Any]:
            return [_crop_and_resize(image, boxes, box_index, crop_h, crop_w, extrapolation)]

        splice(graph, match, specs, build)
        return True


def _axis(start: Any, end: Any, size: Any, crop: int) -> tuple[Any, Any, Any, Any, Any]:
    """Sample positions along one axis for every box: [N, crop] floor/ceil indices, lerp, mask."""
    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    last = size - 1.0
    if crop > 1:
        scale = (end - start) * last / float(crop - 1)
        steps = tf.range(crop, dtype=tf.float32)
        position = start[:, None] * last + steps[None, :] * scale[:, None]
    else:
        position = (0.5 * (start + end) * last)[:, None]
    inside = tf.logical_and(position >= 0.0, position <= last)
    low = tf.floor(position)
    lerp = position - low
    top = tf.cast(tf.clip_by_value(low, 0.0, last), tf.int32)
    bottom = tf.cast(tf.clip_by_value(tf.math.ceil(position), 0.0, last), tf.int32)
    return top, bottom, lerp, inside, position


def _crop_and_resize(image: Any, boxes: Any, box_index: Any, crop_h: int, crop_w: int,
                     extrapolation: float) -> Any:
    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    # strided slices, not unstack: TFLite's UNPACK cannot take a tensor whose size is only
    # known at run time (boxes found by the graph itself)
    y1, x1, y2, x2 = (boxes[:, k] for k in range(4))
    top, bottom, y_lerp, y_inside, _ = _axis(y1, y2, tf.cast(height, tf.float32), crop_h)
    left, right, x_lerp, x_inside, _ = _axis(x1, x2, tf.cast(width, tf.float32), crop_w)
    flat = tf.reshape(image, [-1, channels])
    base = box_index[:, None, None] * height * width  # [N, 1, 1]

    def pixels(rows: Any, cols: Any) -> Any:
        return tf.gather(flat, base + rows[:, :, None] * width + cols[:, None, :])

    top_left, top_right = pixels(top, left), pixels(top, right)
    bottom_left, bottom_right = pixels(bottom, left), pixels(bottom, right)
    x_weight = x_lerp[:, None, :, None]
    upper = top_left + (top_right - top_left) * x_weight
    lower = bottom_left + (bottom_right - bottom_left) * x_weight
    result = upper + (lower - upper) * y_lerp[:, :, None, None]
    inside = tf.logical_and(y_inside[:, :, None], x_inside[:, None, :])[..., None]
    return tf.where(inside, result, tf.fill(tf.shape(result), extrapolation))
