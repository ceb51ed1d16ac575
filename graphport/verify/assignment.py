"""One-to-one matching at the least total cost (the Hungarian method), for comparing things
that have no order: detections by IoU, rows an NMS emitted. numpy only: SciPy's
linear_sum_assignment is not worth a dependency for matrices of a few hundred rows."""

from __future__ import annotations

import numpy as np


def min_cost_matching(cost: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, column) covering min(rows, columns) of a cost matrix with the least total
    cost. O(n^3) potentials form of the Hungarian method."""
    cost = np.asarray(cost, np.float64)
    if cost.size == 0:
        return []
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    rows, cols = cost.shape
    u, v = np.zeros(rows + 1), np.zeros(cols + 1)
    match = np.zeros(cols + 1, dtype=np.int64)  # column -> row (1-based; 0: free)
    for i in range(1, rows + 1):
        match[0] = i
        j0 = 0
        minv = np.full(cols + 1, np.inf)
        used = np.zeros(cols + 1, dtype=bool)
        way = np.zeros(cols + 1, dtype=np.int64)
        while True:
            used[j0] = True
            i0 = match[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[match[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    pairs = [(int(match[j]) - 1, j - 1) for j in range(1, cols + 1) if match[j]]
    return sorted((c, r) if transposed else (r, c) for r, c in pairs)
