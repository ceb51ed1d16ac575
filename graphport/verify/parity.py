"""Compare two runs of the same model output by output: shapes, dtypes and error sizes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class OutputParity:
    key: str
    shape: list[int]
    dtype: str
    other_shape: list[int]
    other_dtype: str
    max_abs: float | None
    max_rel: float | None
    ok: bool


def compare_outputs(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray],
                    rtol: float = 1e-5, atol: float = 1e-5) -> list[OutputParity]:
    """Per output: equal shape and dtype, and values equal up to float rounding."""
    rows = []
    for key, ref in reference.items():
        got = np.asarray(candidate[key])
        ref = np.asarray(ref)
        same_layout = ref.shape == got.shape and ref.dtype == got.dtype
        max_abs = max_rel = None
        ok = same_layout
        if same_layout and ref.dtype.kind in "biufc":
            diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
            scale = np.maximum(np.abs(ref.astype(np.float64)), 1e-12)
            max_abs = float(diff.max()) if diff.size else 0.0
            max_rel = float((diff / scale).max()) if diff.size else 0.0
            ok = bool(np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)
                      if ref.dtype.kind in "fc" else np.array_equal(got, ref))
        elif same_layout:  # strings: exact match only
            ok = bool(np.array_equal(got, ref))
        rows.append(OutputParity(key, list(ref.shape), str(ref.dtype), list(got.shape),
                                 str(got.dtype), max_abs, max_rel, ok))
    return rows


@dataclass
class OutputAgreement:
    """How far a converted model's output moved from the source over all samples."""

    key: str
    compared: int  # values compared (0 when every sample gave an empty output)
    shape_mismatches: int  # samples whose output shapes differ (e.g. a different box count)
    max_abs: float | None
    mean_abs: float | None
    cosine: float | None
    top1_agreement: float | None  # class-probability outputs only (see _is_distribution)


def _is_distribution(array: np.ndarray) -> bool:
    """[N, C] rows that are probability distributions (softmax outputs): top-1 means something
    there; for boxes or landmarks it would not."""
    return array.ndim == 2 and array.shape[0] > 0 and array.shape[1] > 1 and \
        bool((array >= -1e-6).all()) and bool(np.allclose(array.sum(1), 1.0, atol=1e-3))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else float(np.array_equal(a, b))


def agreement(reference: list[dict[str, np.ndarray]], candidate: list[dict[str, np.ndarray]]
              ) -> list[OutputAgreement]:
    """Per output, over paired runs with equal shapes: max and mean abs error, cosine, top-1
    agreement; samples whose shapes differ are counted, not compared."""
    rows = []
    for key in reference[0]:
        pairs = [(np.asarray(r[key], np.float64), np.asarray(c[key], np.float64))
                 for r, c in zip(reference, candidate, strict=True)]
        same = [(r, c) for r, c in pairs if r.shape == c.shape]
        flat_ref = np.concatenate([r.ravel() for r, _ in same]) if same else np.zeros(0)
        flat_got = np.concatenate([c.ravel() for _, c in same]) if same else np.zeros(0)
        diff = np.abs(flat_ref - flat_got)
        top1 = None
        classified = [(r, c) for r, c in same if _is_distribution(r)]
        if classified:
            r2 = np.concatenate([r for r, _ in classified])
            c2 = np.concatenate([c for _, c in classified])
            top1 = float(np.mean(np.argmax(r2, 1) == np.argmax(c2, 1)))
        rows.append(OutputAgreement(
            key, int(diff.size), len(pairs) - len(same),
            float(diff.max()) if diff.size else None, float(diff.mean()) if diff.size else None,
            _cosine(flat_ref, flat_got) if diff.size else None, top1))
    return rows
