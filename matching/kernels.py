"""Compiled inner loops of the matching engine (Numba).

The engine's candidate search (``engine._ball_pairs``) looks, for a few dozen listings at a
time, at every listing of the other side inside a ball around them: does the pair share a
material key, and is it within the listing's own radius? In NumPy that meant a dense
rows × ball matrix, a ``nonzero`` over it and a distance for every survivor: a third of the
engine's time in a full rematch. Here it is one pass over the ball, visiting only the members
whose signature shares a key with the row, and keeping only the pairs whose score bound can
still reach their floors.

Two more loops the engine runs over millions of entries: the top k of each listing
(``top_k_positions``, a heap per listing instead of sorts) and the text similarity of scattered
pairs (``sparse_row_dots``, a dot product of two sparse rows without gathering either matrix).

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
    cap_values: np.ndarray,
    log_cap: np.ndarray,
    query_cut: np.ndarray,
    member_cut: np.ndarray,
    query_per_chord: np.ndarray,
    member_per_chord: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query position r, member position c) with ``table[query_sig[r], member_sig[c]]``
    non-zero and squared chord in (max(query_inner2[r], member_inner2[c]), query_reach2[r]],
    row by row. Members in signature order are visited without sorting them.

    Of those, only the pairs whose score bound reaches their cut: ``log_cap[v]`` for the cell's
    value ``cap_values[v]`` (``cap_values`` sorted, holding every non-zero value of ``table``;
    a few thousand values instead of a float per cell) minus the log distance decay,
    ``(query_per_chord[r] + member_per_chord[c]) × chord``, at least
    ``min(query_cut[r], member_cut[c])`` (cuts of -inf keep every pair).

    Returns (r, c, the table entry, the squared chord). Its NumPy meaning::

        cells = table[query_sig][:, member_sig]
        d2 = (qx[:, None] - mx) ** 2 + (qy[:, None] - my) ** 2 + (qz[:, None] - mz) ** 2
        inner2 = np.maximum(query_inner2[:, None], member_inner2)
        bound = log_cap[np.searchsorted(cap_values, cells)] - np.sqrt(d2) * (  # cells != 0
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
        row = table[query_sig[r]]
        x, y, z, reach2, inner2 = qx[r], qy[r], qz[r], query_reach2[r], query_inner2[r]
        cut, per_chord = query_cut[r], query_per_chord[r]
        for g in range(groups):
            e = row[sig[starts[g]]]
            if e != 0:
                cap = log_cap[np.searchsorted(cap_values, e)]
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
    n_columns: int,
) -> np.ndarray:
    """The dot product of row ``a_rows[p]`` of CSR matrix a with row ``b_rows[p]`` of b, for
    every p (both with ``n_columns`` columns). Its NumPy meaning::

        (a[a_rows].multiply(b[b_rows])).sum(axis=1)

    without building the two gathered matrices and their product: the a row is spread into
    a dense vector once for a run of pairs that share it (pass them grouped by a row), and
    each b row gathers from it.
    """
    out = np.zeros(a_rows.size)
    dense = np.zeros(n_columns)
    current = -1
    for p in range(a_rows.size):
        row = a_rows[p]
        if row != current:
            if current >= 0:
                for x in range(a_ptr[current], a_ptr[current + 1]):
                    dense[a_index[x]] = 0.0
            for x in range(a_ptr[row], a_ptr[row + 1]):
                dense[a_index[x]] = a_value[x]
            current = row
        total = 0.0
        for y in range(b_ptr[b_rows[p]], b_ptr[b_rows[p] + 1]):
            total += dense[b_index[y]] * b_value[y]
        out[p] = total
    return out


@njit(cache=True, nogil=True)
def _worse(s1: float, t1: int, p1: int, s2: float, t2: int, p2: int) -> bool:  # pragma: no cover
    """Whether entry 1 ranks below entry 2: lower score, then larger tie, then later."""
    if s1 != s2:
        return s1 < s2
    if t1 != t2:
        return t1 > t2
    return p1 > p2


@njit(cache=True, nogil=True)
def top_k_positions(  # pragma: no cover - compiled; its NumPy meaning is tested
    group: np.ndarray, score: np.ndarray, tie: np.ndarray, k: int, n_groups: int
) -> np.ndarray:
    """Positions of the k best entries of each group (groups 0..n_groups-1): score
    descending, then ``tie`` ascending, then position. Its NumPy meaning::

        order = np.lexsort((tie, -score, group))
        rank = position of each entry of ``order`` within its group
        positions = order[rank < k]

    (returned in no set order), in one pass: each group keeps a heap of its k best so far,
    its worst on top, so that most entries cost one comparison.
    """
    heap = np.empty(n_groups * k, dtype=np.int64)  # positions
    size = np.zeros(n_groups, dtype=np.int64)
    for p in range(group.size):
        g = group[p]
        base, n = g * k, size[g]
        if n < k:  # room: add it and sift it up towards the worst
            i = n
            size[g] = n + 1
            while i > 0:
                parent = (i - 1) // 2
                q = heap[base + parent]
                if _worse(score[p], tie[p], p, score[q], tie[q], q):
                    heap[base + i] = q
                    i = parent
                else:
                    break
            heap[base + i] = p
            continue
        top = heap[base]
        if not _worse(score[top], tie[top], top, score[p], tie[p], p):
            continue  # no better than the group's k-th best
        i = 0  # replace the worst and sift it down
        while True:
            child = 2 * i + 1
            if child >= k:
                break
            q = heap[base + child]
            if child + 1 < k:
                r = heap[base + child + 1]
                if _worse(score[r], tie[r], r, score[q], tie[q], q):
                    child, q = child + 1, r
            if _worse(score[q], tie[q], q, score[p], tie[p], p):
                heap[base + i] = q
                i = child
            else:
                break
        heap[base + i] = p
    total = 0
    for g in range(n_groups):
        total += size[g]
    out = np.empty(total, dtype=np.int64)
    n = 0
    for g in range(n_groups):
        for i in range(size[g]):
            out[n] = heap[g * k + i]
            n += 1
    return out
