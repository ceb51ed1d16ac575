"""Compare two runs of the same model output by output, and give every comparison a verdict.

NaN and Inf are compared by position: a non-finite value where the source has the same one is a
match, anywhere else a mismatch; errors are measured on the finite values only, so a NaN can
never hide in a "max abs err nan". A verdict is one of ``match`` (float rounding),
``within tolerance`` (the mode's tolerance), ``degraded``, ``mismatch``, or ``unverified`` (no
evidence: every output empty, or the source itself gives only NaN/Inf); only the first two pass.

Outputs whose rows an NMS or top-k chose are compared as sets (rows matched first:
verify/row_sets.py), and top-1 agreement leaves out samples the source itself cannot tell apart
(top-2 margin below the mode's ``tie_margin``), counting them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATCH = "match"
WITHIN = "within tolerance"
DEGRADED = "degraded"
UNVERIFIED = "unverified"
MISMATCH = "mismatch"
ORDER = (MATCH, WITHIN, DEGRADED, UNVERIFIED, MISMATCH)  # best first
PASSING = (MATCH, WITHIN)


@dataclass(frozen=True)
class Tolerance:
    """What each verdict needs in one conversion mode. ``match``: every value within
    ``atol + rtol * |source|``. ``within tolerance``: cosine and top-1 agreement at least
    ``cosine`` and ``top1``, and no sample whose output shapes changed. ``degraded``: at least
    ``degraded_cosine``/``degraded_top1``, and shapes changed in at most half the samples."""

    rtol: float
    atol: float
    cosine: float
    top1: float
    degraded_cosine: float | None  # None: a result that is not within tolerance is a mismatch
    degraded_top1: float | None
    tie_margin: float = 0.0  # source top-2 margins below this are near-ties, not judged


# float32 and fp16 must reproduce the source (a difference is a bug, and fails the command);
# weight and full-integer quantization move numbers by design, within bounds.
TOLERANCES = {
    "savedmodel": Tolerance(1e-5, 1e-5, 1.0, 1.0, None, None),
    "float32": Tolerance(1e-4, 1e-4, 0.99999, 0.999, None, None, 1e-4),
    "fp16": Tolerance(1e-4, 1e-4, 0.999, 0.99, None, None, 2e-3),
    "dynamic": Tolerance(1e-4, 1e-4, 0.99, 0.98, 0.9, 0.9, 1e-2),
    "int8": Tolerance(1e-4, 1e-4, 0.99, 0.98, 0.9, 0.9, 2e-2),
    "int16x8": Tolerance(1e-4, 1e-4, 0.999, 0.99, 0.95, 0.95, 1e-2),
}
ONLY_NONFINITE = "the source gives only NaN/Inf on these inputs"
EMPTY = "every output was empty on these inputs"


def worst(verdicts: list[str]) -> str:
    """The overall verdict of several outputs; ``unverified`` for none."""
    return max(verdicts, key=ORDER.index) if verdicts else UNVERIFIED


def parity_warnings(rows: list[OutputParity] | list[OutputAgreement]) -> list[str]:
    """What a reader must know about a comparison beyond its numbers."""
    warnings = []
    unverified = [r for r in rows if r.verdict == UNVERIFIED]
    if unverified:
        reasons = "; ".join(sorted({r.reason or EMPTY for r in unverified}))
        what = "verification compared no values" if len(unverified) == len(rows) else \
            f"not verified: {', '.join(r.key for r in unverified)}"
        warnings.append(f"{what}: {reasons}; give real inputs with --sample NAME=FILE")
    bad = [f"{r.key} ({r.source_nonfinite})" for r in rows
           if r.source_nonfinite and r.reason != ONLY_NONFINITE]
    if bad:
        warnings.append("the source itself produces NaN/Inf on the verification inputs: "
                        f"{', '.join(bad)}; they were compared by position")
    return warnings


def _nonfinite(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(mask of positions where both are finite, positions where the two differ in being
    NaN/+Inf/-Inf, non-finite values in the source)."""
    finite_ref, finite_got = np.isfinite(ref), np.isfinite(got)
    same_kind = (np.isnan(ref) & np.isnan(got)) | (np.isposinf(ref) & np.isposinf(got)) | \
        (np.isneginf(ref) & np.isneginf(got))
    differs = (~finite_ref | ~finite_got) & ~same_kind
    return finite_ref & finite_got, int(differs.sum()), int((~finite_ref).sum())


@dataclass
class OutputParity:
    """One output of a SavedModel against the original graph."""

    key: str
    shape: list[int]
    dtype: str
    other_shape: list[int]
    other_dtype: str
    max_abs: float | None
    max_rel: float | None
    nonfinite_mismatches: int
    source_nonfinite: int
    verdict: str
    ok: bool  # the verdict passes
    reason: str | None = None  # why it is unverified


def compare_outputs(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray],
                    tolerance: Tolerance = TOLERANCES["savedmodel"]) -> list[OutputParity]:
    """Per output: equal shape and dtype, and values equal up to float rounding."""
    rows = []
    for key, ref in reference.items():
        got = np.asarray(candidate[key])
        ref = np.asarray(ref)
        same_layout = ref.shape == got.shape and ref.dtype == got.dtype
        max_abs = max_rel = None
        mismatched = source_bad = 0
        verdict, reason = MISMATCH, None
        if same_layout and ref.dtype.kind in "biufc":
            r, g = ref.astype(np.float64), got.astype(np.float64)
            finite, mismatched, source_bad = _nonfinite(r, g)
            diff = np.abs(r[finite] - g[finite])
            scale = np.maximum(np.abs(r[finite]), 1e-12)
            max_abs = float(diff.max()) if diff.size else None
            max_rel = float((diff / scale).max()) if diff.size else None
            close = bool(np.all(diff <= tolerance.atol + tolerance.rtol * np.abs(r[finite])))
            if ref.size == 0:
                verdict, reason = UNVERIFIED, EMPTY
            elif not finite.any() and source_bad == ref.size:
                verdict, reason = UNVERIFIED, ONLY_NONFINITE
            elif close and not mismatched:
                verdict = MATCH
        elif same_layout:  # strings: exact match only
            verdict = MATCH if np.array_equal(got, ref) and ref.size else \
                UNVERIFIED if not ref.size else MISMATCH
        rows.append(OutputParity(key, list(ref.shape), str(ref.dtype), list(got.shape),
                                 str(got.dtype), max_abs, max_rel, mismatched, source_bad,
                                 verdict, verdict in PASSING, reason))
    return rows


@dataclass
class OutputAgreement:
    """How far a converted model's output moved from the source over all samples."""

    key: str
    compared: int  # finite values compared (0 when every sample gave an empty output)
    shape_mismatches: int  # samples whose output shapes differ (e.g. a different box count)
    max_abs: float | None
    mean_abs: float | None
    cosine: float | None
    top1_agreement: float | None  # class-probability outputs only (see _is_distribution)
    nonfinite_mismatches: int = 0  # NaN/Inf where the source has none, or the reverse
    source_nonfinite: int = 0  # NaN/Inf in the source's own output
    verdict: str = UNVERIFIED
    near_ties: int = 0  # samples left out of top-1: the source's own top-2 margin was a tie
    compared_as_set: bool = False  # rows chosen by NMS/top-k: matched before measuring
    reordered: bool = False  # ... and they came in another order in some sample
    reason: str | None = None  # why it is unverified
    max_lsb: float | None = None  # max_abs in steps of the output's quantization (int8 modes)
    # The source's values span less than one such step in every sample: no integer output
    # can tell them apart (a softmax over 1,000 near-equal classes against int8's 1/256).
    finer_than_step: bool = False


def _is_distribution(array: np.ndarray) -> bool:
    """[N, C] rows that are probability distributions (softmax outputs): top-1 means something
    there; for boxes or landmarks it would not."""
    return array.ndim == 2 and array.shape[0] > 0 and array.shape[1] > 1 and \
        bool(np.isfinite(array).all()) and bool((array >= -1e-6).all()) and \
        bool(np.allclose(array.sum(1), 1.0, atol=1e-3))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else float(np.array_equal(a, b))


def _verdict(row: OutputAgreement, samples: int, close: bool, tolerance: Tolerance) -> str:
    if row.reason == ONLY_NONFINITE:
        return UNVERIFIED
    if row.nonfinite_mismatches:
        return MISMATCH
    if not row.compared:
        return UNVERIFIED if not row.shape_mismatches else MISMATCH
    cosine = row.cosine if row.cosine is not None else 1.0
    top1 = row.top1_agreement if row.top1_agreement is not None else 1.0
    if close and not row.shape_mismatches:
        return MATCH
    if cosine >= tolerance.cosine and top1 >= tolerance.top1 and not row.shape_mismatches:
        return WITHIN
    if tolerance.degraded_cosine is not None and tolerance.degraded_top1 is not None and \
            cosine >= tolerance.degraded_cosine and top1 >= tolerance.degraded_top1 and \
            row.shape_mismatches <= samples / 2:
        return DEGRADED
    return MISMATCH


def _top1(classified: list[tuple[np.ndarray, np.ndarray]], margin: float
          ) -> tuple[float | None, int]:
    """Top-1 agreement over the rows whose source top-2 margin is at least ``margin``, and
    how many rows were near-ties."""
    if not classified:
        return None, 0
    r2 = np.concatenate([r for r, _ in classified])
    c2 = np.concatenate([c for _, c in classified])
    top2 = np.sort(r2, 1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) >= margin
    ties = int((~clear).sum())
    if not clear.any():
        return None, ties
    return float(np.mean(np.argmax(r2[clear], 1) == np.argmax(c2[clear], 1))), ties


def agreement(reference: list[dict[str, np.ndarray]], candidate: list[dict[str, np.ndarray]],
              tolerance: Tolerance = TOLERANCES["float32"],
              unordered: set[str] | frozenset[str] = frozenset()) -> list[OutputAgreement]:
    """Per output, over paired runs with equal shapes: max and mean abs error, cosine, top-1
    agreement and the verdict; samples whose shapes differ are counted, not compared.
    ``unordered``: outputs whose rows are a set (NMS/top-k), compared after matching rows."""
    from graphport.verify.row_sets import align_rows

    candidate, reordered = align_rows(reference, candidate, set(unordered)) if unordered \
        else (candidate, set())
    rows = []
    for key in reference[0]:
        pairs = [(np.asarray(r[key], np.float64), np.asarray(c[key], np.float64))
                 for r, c in zip(reference, candidate, strict=True)]
        same = [(r, c) for r, c in pairs if r.shape == c.shape]
        flat_ref = np.concatenate([r.ravel() for r, _ in same]) if same else np.zeros(0)
        flat_got = np.concatenate([c.ravel() for _, c in same]) if same else np.zeros(0)
        finite, mismatched, source_bad = _nonfinite(flat_ref, flat_got)
        flat_ref, flat_got = flat_ref[finite], flat_got[finite]
        diff = np.abs(flat_ref - flat_got)
        close = bool(np.all(diff <= tolerance.atol + tolerance.rtol * np.abs(flat_ref)))
        top1, ties = _top1([(r, c) for r, c in same if _is_distribution(r)],
                           tolerance.tie_margin)
        row = OutputAgreement(
            key, int(diff.size), len(pairs) - len(same),
            float(diff.max()) if diff.size else None, float(diff.mean()) if diff.size else None,
            _cosine(flat_ref, flat_got) if diff.size else None, top1, mismatched, source_bad,
            near_ties=ties, compared_as_set=key in unordered, reordered=key in reordered)
        if source_bad and not finite.any() and source_bad == finite.size:
            row.reason = ONLY_NONFINITE
        elif not diff.size and not row.shape_mismatches:
            row.reason = EMPTY
        row.verdict = _verdict(row, len(pairs), close, tolerance)
        rows.append(row)
    return rows
