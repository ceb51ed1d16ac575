"""NonMaxSuppression V2/V3 -> V4 with padding, sliced back to the valid count.

TFLite has NON_MAX_SUPPRESSION_V4 as a builtin but not V2/V3. V4 with
``pad_to_max_output_size`` returns a fixed-size index vector plus how many are valid; slicing
the first ``valid`` indices gives exactly V2/V3's output (same indices, same order). V2 has no
score threshold: V4 gets the lowest float, which keeps every box as V2 does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphport.graph.index import NodeIndex
from graphport.graph.tensors import dtype_enum
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.splice import splice

_FLOAT = dtype_enum("float")
_INT32 = dtype_enum("int32")


class NmsToV4(GraphPass):
    summary = "NonMaxSuppressionV2/V3 -> padded NonMaxSuppressionV4 + slice to the valid count"
    repairs = frozenset({"NonMaxSuppressionV2", "NonMaxSuppressionV3"})
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        return [n for n in index.graph.node if n.op in self.repairs]

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        from graphport.backend.runtime import tensorflow

        tf = tensorflow()
        box_type = match.attr["T"].type if "T" in match.attr else _FLOAT
        threshold_type = match.attr["T_threshold"].type if "T_threshold" in match.attr else _FLOAT
        has_score_threshold = match.op == "NonMaxSuppressionV3"
        specs = [(box_type, [None, 4]), (box_type, [None]), (_INT32, []), (threshold_type, [])]
        if has_score_threshold:
            specs.append((threshold_type, []))

        def build(boxes: Any, scores: Any, max_size: Any, iou: Any, *score: Any) -> list[Any]:
            # Reshapes that change nothing at run time but give the converter the ranks its
            # NON_MAX_SUPPRESSION_V4 needs (inside v1 loops the shapes are often unknown).
            boxes, scores = tf.reshape(boxes, [-1, 4]), tf.reshape(scores, [-1])
            lowest = tf.constant(np.finfo(np.float32).min, tf.as_dtype(threshold_type))
            indices, valid = tf.raw_ops.NonMaxSuppressionV4(
                boxes=boxes, scores=scores, max_output_size=max_size, iou_threshold=iou,
                score_threshold=score[0] if score else lowest, pad_to_max_output_size=True)
            return [tf.slice(indices, [0], tf.reshape(valid, [1]))]

        splice(graph, match, specs, build)
        return True
