"""Detections compared as detections: matched by class and IoU per score threshold, since a
detector's padded output arrays move element by element whenever two scores swap places."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from graphport.verify.parity import DEGRADED, MISMATCH, ORDER, WITHIN, OutputAgreement

THRESHOLDS = (0.3, 0.5)
MATCH_IOU = 0.5


@dataclass(frozen=True)
class DetectionKeys:
    """Which outputs hold the boxes [1, M, 4], scores and classes [1, M] and the count [1]."""

    boxes: str
    scores: str
    classes: str
    num: str


@dataclass
class DetectionMatch:
    """At one score threshold, over all samples: the source's detections found again."""

    threshold: float
    reference: int
    matched: int
    missing: int
    extra: int
    worst_box: float | None  # largest coordinate difference of a matched pair
    worst_score: float | None


def detection_keys(outputs: dict[str, np.ndarray]) -> DetectionKeys | None:
    """The detection outputs by shape and values (classes are whole numbers), or None."""
    shapes = {k: np.asarray(v).shape for k, v in outputs.items()}
    boxes = [k for k, s in shapes.items() if len(s) == 3 and s[0] == 1 and s[2] == 4]
    num = [k for k, s in shapes.items() if s == (1,)]
    if len(boxes) != 1 or len(num) != 1:
        return None
    pairs = [k for k, s in shapes.items() if s == (1, shapes[boxes[0]][1])]
    whole = [k for k in pairs if np.all(np.mod(np.asarray(outputs[k]), 1) == 0)]
    if len(pairs) != 2 or len(whole) < 1:
        return None
    classes = whole[0] if len(whole) == 1 else next(
        (k for k in whole if np.asarray(outputs[k]).max() > 1), whole[0])
    scores = next(k for k in pairs if k != classes)
    return DetectionKeys(boxes[0], scores, classes, num[0])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _detections(outputs: dict[str, np.ndarray], keys: DetectionKeys, threshold: float
                ) -> list[tuple[float, float, np.ndarray]]:
    count = int(np.asarray(outputs[keys.num]).ravel()[0])
    scores = np.asarray(outputs[keys.scores])[0][:count]
    classes = np.asarray(outputs[keys.classes])[0][:count]
    boxes = np.asarray(outputs[keys.boxes])[0][:count]
    return [(float(s), float(c), b) for s, c, b in zip(scores, classes, boxes, strict=True)
            if s >= threshold]


def match_detections(reference: list[dict[str, np.ndarray]],
                     candidate: list[dict[str, np.ndarray]], keys: DetectionKeys,
                     thresholds: tuple[float, ...] = THRESHOLDS) -> list[DetectionMatch]:
    """Per threshold: each source detection (best first) matched to the candidate's detection
    of the same class with the highest IoU (at least MATCH_IOU) not yet taken."""
    results = []
    for threshold in thresholds:
        total = matched = extra = 0
        worst_box: float | None = None
        worst_score: float | None = None
        for ref, got in zip(reference, candidate, strict=True):
            wanted = _detections(ref, keys, threshold)
            # a candidate just under the threshold still matches one just over it
            offered = _detections(got, keys, threshold * 0.5)
            taken: set[int] = set()
            for score, label, box in sorted(wanted, key=lambda d: -d[0]):
                best, best_iou = None, MATCH_IOU
                for k, (_, other_label, other_box) in enumerate(offered):
                    iou = _iou(box, other_box)
                    if k not in taken and other_label == label and iou >= best_iou:
                        best, best_iou = k, iou
                if best is None:
                    continue
                taken.add(best)
                matched += 1
                box_diff = float(np.abs(offered[best][2] - box).max())
                score_diff = abs(offered[best][0] - score)
                worst_box = box_diff if worst_box is None else max(worst_box, box_diff)
                worst_score = score_diff if worst_score is None else max(worst_score,
                                                                         score_diff)
            total += len(wanted)
            extra += sum(1 for k, d in enumerate(offered) if k not in taken and d[0] >= threshold)
        results.append(DetectionMatch(threshold, total, matched, total - matched, extra,
                                      worst_box, worst_score))
    return results


def judge_detections(reference: list[dict[str, np.ndarray]],
                     candidate: list[dict[str, np.ndarray]], rows: list[OutputAgreement]
                     ) -> list[dict[str, Any]] | None:
    """For detector outputs, the detections matched per threshold (None for other models),
    and each detection output's verdict at least what the matching shows: every detection
    found again, nothing extra, is within tolerance however the arrays moved."""
    keys = detection_keys(reference[0]) if reference else None
    if keys is None:
        return None
    matches = match_detections(reference, candidate, keys)
    if all(m.missing == 0 and m.extra == 0 for m in matches):
        found = WITHIN
    elif all(m.matched * 2 >= m.reference for m in matches):
        found = DEGRADED
    else:
        found = MISMATCH
    for row in rows:
        if row.key in (keys.boxes, keys.scores, keys.classes, keys.num) and \
                not row.nonfinite_mismatches:
            row.verdict = min(row.verdict, found, key=ORDER.index)
    return [asdict(m) for m in matches]
