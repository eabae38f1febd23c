"""The compiled kernels against their NumPy meaning (``matching.kernels``)."""

from __future__ import annotations

import numpy as np
import pytest

from matching import kernels


@pytest.mark.parametrize("seed", range(20))
def test_ball_pairs_is_its_numpy_meaning(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, sq, sm = rng.integers(0, 40), rng.integers(0, 300), 6, 9
    table = (rng.random((sq, sm)) < 0.3) * rng.integers(1, 1000, (sq, sm))
    table = table.astype(np.int32)
    query_sig, member_sig = rng.integers(0, sq, n), rng.integers(0, sm, m)
    qx, qy, qz = (rng.random(n) for _ in range(3))
    mx, my, mz = (rng.random(m) for _ in range(3))
    reach2 = rng.random(n) * 0.8
    inner2 = np.where(rng.random(n) < 0.5, -1.0, rng.random(n) * 0.2)
    member_inner2 = np.where(rng.random(m) < 0.5, -1.0, rng.random(m) * 0.3)
    if seed % 2:  # members in signature order, as the engine passes them
        member_sig = np.sort(member_sig)
    cap_values = np.unique(table[table != 0])  # a log cap per distinct non-zero value
    log_cap = np.log(rng.random(cap_values.size))
    # Half the seeds cut nothing (no floors yet), the others cut on floors of both sides.
    cuts = (rng.random(n) * -2, rng.random(m) * -2) if seed % 4 >= 2 else (None, None)
    query_cut = np.full(n, -np.inf) if cuts[0] is None else cuts[0]
    member_cut = np.full(m, -np.inf) if cuts[1] is None else cuts[1]
    query_per_chord, member_per_chord = rng.random(n) * 3, np.zeros(m)

    r, c, enc, d2 = kernels.ball_pairs(
        query_sig, qx, qy, qz, reach2, inner2, member_sig, mx, my, mz, member_inner2, table,
        cap_values, log_cap, query_cut, member_cut, query_per_chord, member_per_chord,
    )  # fmt: skip

    cells = table[query_sig][:, member_sig]
    dist2 = (qx[:, None] - mx) ** 2 + (qy[:, None] - my) ** 2 + (qz[:, None] - mz) ** 2
    ring = (dist2 > np.maximum(inner2[:, None], member_inner2)) & (dist2 <= reach2[:, None])
    at = np.minimum(np.searchsorted(cap_values, cells), max(cap_values.size - 1, 0))
    bound = (log_cap[at] if cap_values.size else np.zeros(cells.shape)) - np.sqrt(dist2) * (
        query_per_chord[:, None] + member_per_chord
    )
    ring &= bound >= np.minimum(query_cut[:, None], member_cut)
    want_r, want_c = np.nonzero((cells != 0) & ring)
    assert sorted(zip(r.tolist(), c.tolist(), strict=True)) == sorted(
        zip(want_r.tolist(), want_c.tolist(), strict=True)
    )
    assert np.array_equal(enc, cells[r, c])
    assert np.allclose(d2, dist2[r, c])


@pytest.mark.parametrize("seed", range(10))
def test_sparse_row_dots_is_its_numpy_meaning(seed: int) -> None:
    from scipy import sparse

    rng = np.random.default_rng(seed)
    a = sparse.random(30, 50, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    b = sparse.random(40, 50, density=0.3, format="csr", random_state=seed + 1, dtype=np.float32)
    pairs = rng.integers(0, 400)
    a_rows, b_rows = rng.integers(0, 30, pairs), rng.integers(0, 40, pairs)

    if seed % 2:  # grouped by a row, as the engine passes them
        order = np.argsort(a_rows, kind="stable")
        a_rows, b_rows = a_rows[order], b_rows[order]
    got = kernels.sparse_row_dots(
        a.indptr, a.indices, a.data, a_rows, b.indptr, b.indices, b.data, b_rows, 50
    )

    want = np.asarray(a[a_rows].multiply(b[b_rows]).sum(axis=1), dtype=np.float64).ravel()
    assert got.shape == (pairs,)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-7)
    assert pairs == 0 or np.any(got > 0)  # the random rows do overlap


@pytest.mark.parametrize("seed", range(20))
def test_top_k_positions_is_its_numpy_meaning(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_groups, k = rng.integers(0, 2000), rng.integers(1, 50), rng.integers(1, 12)
    group = rng.integers(0, n_groups, n)
    # Few distinct scores and ties, so that both tie-breaks are exercised.
    score = rng.integers(0, 6, n) / 5.0
    tie = rng.integers(0, 4, n)

    got = kernels.top_k_positions(group, score, tie, int(k), int(n_groups))

    order = np.lexsort((tie, -score, group))
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]]) if n else order
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) if n else order
    assert sorted(got.tolist()) == sorted(order[rank < k].tolist())
