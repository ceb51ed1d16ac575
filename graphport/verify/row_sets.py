"""Outputs that are sets of rows (chosen by NMS or top-k: graph/row_order.py) compared as sets:
each sample's candidate rows are put in the source's order by a least-cost one-to-one match,
then measured like any output. The same order is applied to every set output of a sample with
as many rows (boxes, scores and landmarks of one face move together): it is taken from the
widest of them."""

from __future__ import annotations

import numpy as np

from graphport.verify.assignment import min_cost_matching


def _order(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray | None:
    ref = reference.reshape(len(reference), -1).astype(np.float64)
    got = candidate.reshape(len(candidate), -1).astype(np.float64)
    if not (np.isfinite(ref).all() and np.isfinite(got).all()):
        return None
    cost = np.abs(ref[:, None, :] - got[None, :, :]).sum(-1)
    order = np.arange(len(got))
    for row, column in min_cost_matching(cost):
        order[row] = column
    return order


def align_rows(reference: list[dict[str, np.ndarray]], candidate: list[dict[str, np.ndarray]],
               keys: set[str]) -> tuple[list[dict[str, np.ndarray]], set[str]]:
    """``candidate`` with the rows of ``keys`` reordered to match ``reference`` sample by
    sample, and the keys whose rows came in another order somewhere."""
    aligned: list[dict[str, np.ndarray]] = []
    moved: set[str] = set()
    for ref, got in zip(reference, candidate, strict=True):
        got = dict(got)
        groups: dict[int, list[str]] = {}
        for key in keys:
            r, c = np.asarray(ref[key]), np.asarray(got[key])
            if r.ndim >= 1 and r.shape == c.shape and len(r) > 1:
                groups.setdefault(len(r), []).append(key)
        for members in groups.values():
            anchor = max(members, key=lambda k: (np.asarray(ref[k])[0].size, k))
            order = _order(np.asarray(ref[anchor]), np.asarray(got[anchor]))
            if order is None or (order == np.arange(len(order))).all():
                continue
            for key in members:
                got[key] = np.asarray(got[key])[order]
                moved.add(key)
        aligned.append(got)
    return aligned, moved
