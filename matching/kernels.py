"""Compiled inner loops of the matching engine (Numba).

The engine's candidate search (``engine._ball_pairs``) looks, for a few dozen listings at a
time, at every listing of the other side inside a ball around them: does the pair share a
material key, and is it within the listing's own radius? In NumPy that meant a dense
rows × ball matrix, a ``nonzero`` over it and a distance for every survivor: a third of the
engine's time in a full rematch. Here it is one pass over the ball, visiting only the members
whose signature shares a key with the row, with nothing allocated but the answer.

Pure: NumPy and Numba, no Django. Compiled on first use and cached beside the module
(``cache=True``); ``tests/matching/test_kernels.py`` holds each kernel to its NumPy meaning.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ball_pairs(  # pragma: no cover - compiled; its NumPy meaning is tested
    query_sig: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    qz: np.ndarray,
    query_reach2: np.ndarray,
    query_inner2: np.ndarray,
    member_sig: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    mz: np.ndarray,
    member_inner2: np.ndarray,
    table: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query position r, member position c) with ``table[query_sig[r], member_sig[c]]``
    non-zero and squared chord in (max(query_inner2[r], member_inner2[c]), query_reach2[r]],
    row by row (members in no set order).

    Returns (r, c, the table entry, the squared chord). Its NumPy meaning::

        cells = table[query_sig][:, member_sig]
        d2 = (qx[:, None] - mx) ** 2 + (qy[:, None] - my) ** 2 + (qz[:, None] - mz) ** 2
        inner2 = np.maximum(query_inner2[:, None], member_inner2)
        r, c = np.nonzero((cells != 0) & (d2 > inner2) & (d2 <= query_reach2[:, None]))
    """
    # Members grouped by signature: a row visits only the groups it shares a key with.
    order = np.argsort(member_sig, kind="mergesort")
    sig = member_sig[order]
    m = sig.size
    starts = np.empty(m + 1, dtype=np.int64)
    groups = 0
    for c in range(m):
        if c == 0 or sig[c] != sig[c - 1]:
            starts[groups] = c
            groups += 1
    starts[groups] = m
    count = 0
    for r in range(query_sig.size):
        row = table[query_sig[r]]
        x, y, z, reach2, inner2 = qx[r], qy[r], qz[r], query_reach2[r], query_inner2[r]
        for g in range(groups):
            if row[sig[starts[g]]] != 0:
                for p in range(starts[g], starts[g + 1]):
                    c = order[p]
                    d2 = (x - mx[c]) ** 2 + (y - my[c]) ** 2 + (z - mz[c]) ** 2
                    if d2 <= reach2 and d2 > inner2 and d2 > member_inner2[c]:
                        count += 1
    rows = np.empty(count, dtype=np.int64)
    cols = np.empty(count, dtype=np.int64)
    enc = np.empty(count, dtype=np.int64)
    dist2 = np.empty(count, dtype=np.float64)
    k = 0
    for r in range(query_sig.size):
        row = table[query_sig[r]]
        x, y, z, reach2, inner2 = qx[r], qy[r], qz[r], query_reach2[r], query_inner2[r]
        for g in range(groups):
            e = row[sig[starts[g]]]
            if e != 0:
                for p in range(starts[g], starts[g + 1]):
                    c = order[p]
                    d2 = (x - mx[c]) ** 2 + (y - my[c]) ** 2 + (z - mz[c]) ** 2
                    if d2 <= reach2 and d2 > inner2 and d2 > member_inner2[c]:
                        rows[k], cols[k], enc[k], dist2[k] = r, c, e, d2
                        k += 1
    return rows, cols, enc, dist2
