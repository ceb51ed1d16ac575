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
    max_abs: float
    mean_abs: float
    cosine: float
    top1_agreement: float | None  # classifier-shaped outputs ([N, C], C > 1) only


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else float(np.array_equal(a, b))


def agreement(reference: list[dict[str, np.ndarray]], candidate: list[dict[str, np.ndarray]]
              ) -> list[OutputAgreement]:
    """Per output, over paired runs: max and mean abs error, cosine, top-1 agreement."""
    rows = []
    for key in reference[0]:
        ref = [np.asarray(r[key], np.float64) for r in reference]
        got = [np.asarray(c[key], np.float64) for c in candidate]
        if any(r.shape != g.shape for r, g in zip(ref, got, strict=True)):
            shapes = sorted({(r.shape, g.shape) for r, g in zip(ref, got, strict=True)})
            raise ValueError(f"output {key}: shapes differ between source and TFLite: {shapes}")
        flat_ref = np.concatenate([r.ravel() for r in ref])
        flat_got = np.concatenate([g.ravel() for g in got])
        diff = np.abs(flat_ref - flat_got)
        top1 = None
        if ref[0].ndim == 2 and ref[0].shape[-1] > 1:
            classes = ref[0].shape[-1]
            r2 = np.concatenate([r.reshape(-1, classes) for r in ref])
            g2 = np.concatenate([g.reshape(-1, classes) for g in got])
            top1 = float(np.mean(np.argmax(r2, 1) == np.argmax(g2, 1)))
        rows.append(OutputAgreement(key, float(diff.max()) if diff.size else 0.0,
                                    float(diff.mean()) if diff.size else 0.0,
                                    _cosine(flat_ref, flat_got), top1))
    return rows
