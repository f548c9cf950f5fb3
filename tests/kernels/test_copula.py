"""The Iman–Conover reorder: a permutation of each margin's years whose ranks follow the scores', so each
margin keeps exactly its values (hypothesis), checked against a plain-Python twin."""

import numpy as np
from hypothesis import given, settings, strategies as st

from techins.kernels.copula import iman_conover


def twin(values, scores):
    out = np.empty(values.shape, dtype=np.int64)
    for j in range(values.shape[0]):
        by_value = sorted(range(values.shape[1]), key=lambda y: (values[j, y], y))
        by_score = sorted(range(values.shape[1]), key=lambda y: (scores[j, y], y))
        for r, y in enumerate(by_value):
            out[j, y] = by_score[r]
    return out


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 3), st.integers(1, 40), st.integers(0, 2**32 - 1), st.booleans())
def test_reorder_is_a_permutation_that_follows_the_scores(m, n, seed, ties):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 3, (m, n)).astype(float) if ties else rng.lognormal(0, 1, (m, n))
    scores = rng.normal(size=(m, n))
    new_year = np.empty((m, n), dtype=np.int64)
    iman_conover(values, scores, new_year)
    assert np.array_equal(new_year, twin(values, scores))
    for j in range(m):
        assert np.array_equal(np.sort(new_year[j]), np.arange(n))  # a permutation
        moved = np.empty(n)
        moved[new_year[j]] = values[j]
        assert np.array_equal(np.sort(moved), np.sort(values[j]))  # the same multiset
        # ranks follow: where the score is larger, the moved value is not smaller
        order = np.argsort(scores[j], kind="stable")
        assert np.all(np.diff(moved[order]) >= 0)
