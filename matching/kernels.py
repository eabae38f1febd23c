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
    log_cap: np.ndarray,
    query_cut: np.ndarray,
    member_cut: np.ndarray,
    query_per_chord: np.ndarray,
    member_per_chord: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query position r, member position c) with ``table[query_sig[r], member_sig[c]]``
    non-zero and squared chord in (max(query_inner2[r], member_inner2[c]), query_reach2[r]],
    row by row. Members in signature order are visited without sorting them.

    Of those, only the pairs whose score bound reaches their cut: ``log_cap`` (per cell of
    ``table``) minus the log distance decay, ``(query_per_chord[r] + member_per_chord[c]) ×
    chord``, at least ``min(query_cut[r], member_cut[c])`` (cuts of -inf keep every pair).

    Returns (r, c, the table entry, the squared chord). Its NumPy meaning::

        cells = table[query_sig][:, member_sig]
        d2 = (qx[:, None] - mx) ** 2 + (qy[:, None] - my) ** 2 + (qz[:, None] - mz) ** 2
        inner2 = np.maximum(query_inner2[:, None], member_inner2)
        bound = log_cap[query_sig][:, member_sig] - np.sqrt(d2) * (
            query_per_chord[:, None] + member_per_chord
        )
        cut = np.minimum(query_cut[:, None], member_cut)
        r, c = np.nonzero(
            (cells != 0) & (d2 > inner2) & (d2 <= query_reach2[:, None]) & (bound >= cut)
        )
    """
    # Members grouped by signature: a row visits only the groups it shares a key with. The
    # engine passes them in signature order already (its blocks are stored that way and the
    # ball query sorts its answer); anything else is sorted here.
    m = member_sig.size
    order = np.arange(m)
    for c in range(1, m):
        if member_sig[c] < member_sig[c - 1]:
            order = np.argsort(member_sig, kind="mergesort")
            break
    sig = member_sig[order]
    starts = np.empty(m + 1, dtype=np.int64)
    groups = 0
    for c in range(m):
        if c == 0 or sig[c] != sig[c - 1]:
            starts[groups] = c
            groups += 1
    starts[groups] = m
    # One pass, into buffers that double when full.
    size = max(1024, 2 * m)
    rows = np.empty(size, dtype=np.int64)
    cols = np.empty(size, dtype=np.int64)
    enc = np.empty(size, dtype=np.int64)
    dist2 = np.empty(size, dtype=np.float64)
    k = 0
    for r in range(query_sig.size):
        row, caps = table[query_sig[r]], log_cap[query_sig[r]]
        x, y, z, reach2, inner2 = qx[r], qy[r], qz[r], query_reach2[r], query_inner2[r]
        cut, per_chord = query_cut[r], query_per_chord[r]
        for g in range(groups):
            e = row[sig[starts[g]]]
            if e != 0:
                cap = caps[sig[starts[g]]]
                for p in range(starts[g], starts[g + 1]):
                    c = order[p]
                    d2 = (x - mx[c]) ** 2 + (y - my[c]) ** 2 + (z - mz[c]) ** 2
                    if d2 <= reach2 and d2 > inner2 and d2 > member_inner2[c]:
                        decay = np.sqrt(d2) * (per_chord + member_per_chord[c])
                        if cap - decay < min(cut, member_cut[c]):
                            continue
                        if k == size:
                            size *= 2
                            rows, cols = _grown(rows, size), _grown(cols, size)
                            enc, dist2 = _grown(enc, size), _grown(dist2, size)
                        rows[k], cols[k], enc[k], dist2[k] = r, c, e, d2
                        k += 1
    return rows[:k].copy(), cols[:k].copy(), enc[:k].copy(), dist2[:k].copy()


@njit(cache=True, nogil=True)
def _grown(values: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    bigger = np.empty(size, dtype=values.dtype)
    bigger[: values.size] = values
    return bigger


@njit(cache=True, nogil=True)
def sparse_row_dots(  # pragma: no cover - compiled; its NumPy meaning is tested
    a_ptr: np.ndarray,
    a_index: np.ndarray,
    a_value: np.ndarray,
    a_rows: np.ndarray,
    b_ptr: np.ndarray,
    b_index: np.ndarray,
    b_value: np.ndarray,
    b_rows: np.ndarray,
) -> np.ndarray:
    """The dot product of row ``a_rows[p]`` of CSR matrix a with row ``b_rows[p]`` of b, for
    every p (column indices sorted within each row). Its NumPy meaning::

        (a[a_rows].multiply(b[b_rows])).sum(axis=1)

    without building the two gathered matrices and their product: a merge of the two rows.
    """
    out = np.zeros(a_rows.size)
    for p in range(a_rows.size):
        x, x_end = a_ptr[a_rows[p]], a_ptr[a_rows[p] + 1]
        y, y_end = b_ptr[b_rows[p]], b_ptr[b_rows[p] + 1]
        total = 0.0
        while x < x_end and y < y_end:
            column_a, column_b = a_index[x], b_index[y]
            if column_a == column_b:
                total += a_value[x] * b_value[y]
                x += 1
                y += 1
            elif column_a < column_b:
                x += 1
            else:
                y += 1
        out[p] = total
    return out
