"""No silent wrong answer (issue 28, items 3-7): detections matched one to one above the
threshold, no verdict without evidence, NMS rows compared as sets, near-ties left out of top-1,
one rule for an all-NaN source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FACES, FIXTURES, MTCNN, run_cli, shared_file

from graphport.verify.detections import NO_DETECTIONS, judge_detections, match_detections
from graphport.verify.parity import (
    MATCH,
    MISMATCH,
    ONLY_NONFINITE,
    TOLERANCES,
    UNVERIFIED,
    WITHIN,
    agreement,
    compare_outputs,
    parity_warnings,
)

KEYS = ("boxes", "scores", "classes", "num")


def _detector(dets: list[tuple[float, int, list[float]]], size: int = 10) -> dict:
    """Padded detection outputs as the Object Detection API writes them."""
    boxes, scores, classes = np.zeros((1, size, 4)), np.zeros((1, size)), np.zeros((1, size))
    for i, (score, label, box) in enumerate(sorted(dets, key=lambda d: -d[0])):
        boxes[0, i], scores[0, i], classes[0, i] = box, score, label
    return {"boxes": boxes.astype(np.float32), "scores": scores.astype(np.float32),
            "classes": classes.astype(np.float32), "num": np.array([len(dets)], np.float32)}


def test_a_low_duplicate_does_not_steal_a_real_match() -> None:
    """The source's box (0.9) has a duplicate in the candidate at 0.2 with IoU 1.0 and its true
    counterpart at 0.85 with IoU 0.9: matched above the threshold, nothing is extra."""
    box = [0.1, 0.1, 0.5, 0.5]
    reference = [_detector([(0.9, 3, box)])]
    candidate = [_detector([(0.85, 3, [0.1, 0.1, 0.48, 0.5]), (0.2, 3, box)])]
    from graphport.verify.detections import detection_keys

    keys = detection_keys(reference[0])
    assert keys is not None and (keys.boxes, keys.scores) == ("boxes", "scores")
    for m in match_detections(reference, candidate, keys):
        assert (m.reference, m.matched, m.missing, m.extra) == (1, 1, 0, 0), m


def test_near_threshold_cases_are_counted_apart() -> None:
    reference = [_detector([(0.31, 1, [0.1, 0.1, 0.3, 0.3]), (0.8, 2, [0.5, 0.5, 0.9, 0.9])])]
    candidate = [_detector([(0.29, 1, [0.1, 0.1, 0.3, 0.3]), (0.8, 2, [0.5, 0.5, 0.9, 0.9])])]
    from graphport.verify.detections import detection_keys

    keys = detection_keys(reference[0])
    assert keys is not None
    at_03 = match_detections(reference, candidate, keys)[0]
    assert (at_03.matched, at_03.missing, at_03.extra, at_03.near_threshold) == (1, 0, 0, 1)


def test_no_detections_on_either_side_is_unverified_with_the_hint() -> None:
    reference = [_detector([(0.1, 1, [0.1, 0.1, 0.3, 0.3])])]
    candidate = [_detector([(0.12, 1, [0.1, 0.1, 0.3, 0.31])])]
    rows = agreement(reference, candidate, TOLERANCES["int8"])
    assert {r.verdict for r in rows} != {UNVERIFIED}  # elementwise alone looks fine
    judge_detections(reference, candidate, rows)
    boxes = next(r for r in rows if r.key == "boxes")
    assert boxes.verdict == UNVERIFIED and boxes.reason == NO_DETECTIONS
    assert any("--sample" in w and "no detection" in w for w in parity_warnings(rows))


def test_nms_rows_are_compared_as_a_set() -> None:
    rng = np.random.default_rng(0)
    boxes = rng.uniform(0, 300, (6, 4))
    scores = rng.uniform(0.7, 1.0, 6)
    order = np.array([2, 0, 1, 5, 4, 3])
    reference = [{"box": boxes, "prob": scores}]
    candidate = [{"box": boxes[order] + 0.5, "prob": scores[order] + 1e-3}]
    plain = agreement(reference, candidate, TOLERANCES["dynamic"])
    assert next(r for r in plain if r.key == "box").verdict == MISMATCH  # the order alone
    as_set = agreement(reference, candidate, TOLERANCES["dynamic"], {"box", "prob"})
    assert {r.verdict for r in as_set} == {WITHIN}
    box = next(r for r in as_set if r.key == "box")
    assert box.compared_as_set and box.reordered and box.max_abs == pytest.approx(0.5)


def test_near_ties_are_left_out_of_top1() -> None:
    source = np.full((16, 10), 0.02)
    source[np.arange(16), np.arange(16) % 10] = 0.82  # clear winners
    source[0] = np.full(10, 0.05)
    source[0, 3], source[0, 7] = 0.3002, 0.2998  # a 0.0004 margin
    got = source.copy()
    got[0, 3], got[0, 7] = 0.2998, 0.3002  # the flip
    reference = [{"probs": row[None]} for row in source]
    candidate = [{"probs": row[None]} for row in got]
    row = agreement(reference, candidate, TOLERANCES["dynamic"])[0]
    assert row.near_ties == 1 and row.top1_agreement == 1.0 and row.verdict != MISMATCH
    assert row.verdict == WITHIN


def test_an_all_nan_source_is_unverified_in_both_comparisons() -> None:
    nan = {"y": np.full((2, 4), np.nan, np.float32)}
    saved = compare_outputs(nan, nan)[0]
    converted = agreement([nan], [nan])[0]
    assert saved.verdict == converted.verdict == UNVERIFIED
    assert saved.reason == converted.reason == ONLY_NONFINITE
    assert parity_warnings([saved]) == parity_warnings([converted])
    assert compare_outputs({"y": np.ones(3)}, {"y": np.ones(3)})[0].verdict == MATCH


@pytest.mark.tf
def test_all_nan_sample_same_verdict_and_message_in_both_commands(tmp_path: Path) -> None:
    sample = tmp_path / "x.npy"
    np.save(sample, np.zeros((1, 4), np.float32))  # log(0 - 0.5): NaN everywhere
    graph = FIXTURES / "makes_nan.pb"
    saved = run_cli("to-savedmodel", graph, "--sample", f"x={sample}", "-o", "sm", "--json",
                    cwd=tmp_path)
    converted = run_cli("tflite", graph, "--sample", f"x={sample}", "-o", "m.tflite", "--json",
                        cwd=tmp_path)
    assert saved.returncode == 0 and converted.returncode == 0, saved.stderr + converted.stderr
    a, b = json.loads(saved.stdout), json.loads(converted.stdout)
    assert a["verdict"] == b["parity"]["verdict"] == UNVERIFIED
    message = [w for w in a["warnings"] if ONLY_NONFINITE in w]
    assert message and message == [w for w in b["warnings"] if ONLY_NONFINITE in w]


@pytest.mark.tf
def test_mtcnn_dynamic_finds_the_same_faces_in_another_order(tmp_path: Path) -> None:
    result = run_cli("tflite", shared_file(MTCNN), "--inputs", "input,thresholds", "--set",
                     "min_size=40", "--set", "factor=0.709", "--sample",
                     f"input={shared_file(FACES)}", "--bgr", "--sample",
                     "thresholds=0.6,0.7,0.7", "--dynamic", "-o", "m.tflite", "--json",
                     cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    parity = json.loads(result.stdout)["parity"]
    rows = {r["key"]: r for r in parity["outputs"]}
    assert all(r["compared_as_set"] for r in rows.values())
    assert rows["box"]["max_abs"] < 5  # pixels, once rows are matched (was 316 by order)
    assert parity["verdict"] in (MATCH, WITHIN)
