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
