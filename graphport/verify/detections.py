"""Detections compared as detections: matched by class and IoU per score threshold, since a
detector's padded output arrays move element by element whenever two scores swap places.

At each threshold the detections of both sides at or above it are matched one to one (the
Hungarian method on IoU, within a class, at least MATCH_IOU). What is left over is *missing*
(the source's) or *extra* (the candidate's), except a near-threshold case: a leftover whose
counterpart on the other side scored just under the threshold (down to half of it), which is
counted apart. With no detection on either side there is no evidence, and the verdict says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from graphport.verify.assignment import min_cost_matching
from graphport.verify.parity import (
    DEGRADED,
    MATCH,
    MISMATCH,
    ORDER,
    UNVERIFIED,
    WITHIN,
    OutputAgreement,
)

THRESHOLDS = (0.3, 0.5)
MATCH_IOU = 0.5
NO_DETECTIONS = ("no detection at any threshold on either side, so the detections were not "
                 "compared")


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
    near_threshold: int = 0  # leftovers whose counterpart scored just under the threshold
    found: int = 0  # the candidate's detections at or above the threshold


def detection_keys(outputs: dict[str, np.ndarray]) -> DetectionKeys | None:
    """The detection outputs by shape and values (classes are whole numbers), or None."""
    shapes = {k: np.asarray(v).shape for k, v in outputs.items()}
    num = [k for k, s in shapes.items() if s == (1,)]
    # boxes [1, M, 4] with scores and classes [1, M] beside them (the TF 1.15 exporter's raw
    # boxes [1, anchors, 4] have none)
    boxes = [k for k, s in shapes.items() if len(s) == 3 and s[0] == 1 and s[2] == 4
             and sum(1 for other in shapes.values() if other == (1, s[1])) == 2]
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


def _pairs(wanted: list[tuple[float, float, np.ndarray]],
           offered: list[tuple[float, float, np.ndarray]]) -> list[tuple[int, int]]:
    """One-to-one pairs of the same class with IoU >= MATCH_IOU, the most overlap in all."""
    if not wanted or not offered:
        return []
    iou = np.array([[_iou(a[2], b[2]) if a[1] == b[1] else 0.0 for b in offered]
                    for a in wanted])
    return [(i, j) for i, j in min_cost_matching(1.0 - iou) if iou[i, j] >= MATCH_IOU]


def match_detections(reference: list[dict[str, np.ndarray]],
                     candidate: list[dict[str, np.ndarray]], keys: DetectionKeys,
                     thresholds: tuple[float, ...] = THRESHOLDS) -> list[DetectionMatch]:
    """Per threshold, over all samples: the detections at or above it matched one to one;
    the leftovers that are near-threshold cases counted apart from missing and extra."""
    results = []
    for threshold in thresholds:
        match = DetectionMatch(threshold, 0, 0, 0, 0, None, None)
        for ref, got in zip(reference, candidate, strict=True):
            wanted, offered = _detections(ref, keys, threshold), _detections(got, keys, threshold)
            pairs = _pairs(wanted, offered)
            for i, j in pairs:
                box = float(np.abs(offered[j][2] - wanted[i][2]).max())
                score = abs(offered[j][0] - wanted[i][0])
                match.worst_box = box if match.worst_box is None else max(match.worst_box, box)
                match.worst_score = score if match.worst_score is None else max(
                    match.worst_score, score)
            lost = [wanted[i] for i in set(range(len(wanted))) - {i for i, _ in pairs}]
            new = [offered[j] for j in set(range(len(offered))) - {j for _, j in pairs}]
            below_got = [d for d in _detections(got, keys, threshold / 2) if d[0] < threshold]
            below_ref = [d for d in _detections(ref, keys, threshold / 2) if d[0] < threshold]
            near_lost, near_new = len(_pairs(lost, below_got)), len(_pairs(new, below_ref))
            match.reference += len(wanted)
            match.found += len(offered)
            match.matched += len(pairs)
            match.near_threshold += near_lost + near_new
            match.missing += len(lost) - near_lost
            match.extra += len(new) - near_new
        results.append(match)
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
    detection_rows = [r for r in rows if r.key in (keys.boxes, keys.scores, keys.classes,
                                                   keys.num) and not r.nonfinite_mismatches]
    if all(m.reference == 0 and m.found == 0 for m in matches):
        # Nothing detected on either side: the matching shows nothing, and elementwise
        # closeness of scores nobody reads is no evidence unless it is exact.
        for row in detection_rows:
            if row.verdict != MATCH:
                row.verdict, row.reason = UNVERIFIED, NO_DETECTIONS
        return [asdict(m) for m in matches]
    if all(m.missing == 0 and m.extra == 0 for m in matches):
        found = WITHIN
    elif all(m.matched * 2 >= m.reference for m in matches):
        found = DEGRADED
    else:
        found = MISMATCH
    for row in detection_rows:
        row.verdict = min(row.verdict, found, key=ORDER.index)
    return [asdict(m) for m in matches]
