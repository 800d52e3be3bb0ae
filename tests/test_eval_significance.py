"""eval.significance: exact randomisation p-values by hand, t-test against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from eval.significance import compare, compare_tables, paired_t, randomisation
from eval.types import MetricTable, TestKind


def test_exact_randomisation_by_hand() -> None:
    # d = b - a = [1, 2, 3]: the 8 sign assignments give sums 6, 4, 2, 0, 0, -2, -4, -6;
    # |sum| >= 6 in 2 of 8 -> p = 0.25.
    assert randomisation([0, 0, 0], [1, 2, 3]) == pytest.approx(0.25)
    # d = [0.2, 0.2, 0]: the zero difference is sign-free; of the 4 assignments of the two
    # others, ++ and -- reach |mean| = 0.4/3 -> p = 2/4.
    assert randomisation([0.2, 0.5, 0.1], [0.4, 0.7, 0.1]) == pytest.approx(0.5)
    assert randomisation([0.3, 0.3], [0.3, 0.3]) == 1.0


def test_paired_t_by_hand_and_against_scipy() -> None:
    # d = [1, 2, 3]: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641 with 2 df.
    # For 2 df, F(t) = 1/2 + t / (2 sqrt(2 + t^2)) = 1/2 + 3.4641 / 7.4833 = 0.96291,
    # so p = 2 (1 - 0.96291) = 0.07418.
    assert paired_t([0, 0, 0], [1, 2, 3]) == pytest.approx(0.07418, abs=1e-5)
    rng = np.random.default_rng(0)
    a = rng.random(50)
    b = a + rng.normal(0.05, 0.2, 50)
    assert paired_t(a, b) == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert paired_t([0.1, 0.2], [0.1, 0.2]) == 1.0
    assert paired_t([0.1, 0.2], [0.2, 0.3]) == 0.0  # a constant non-zero shift


def test_sampled_randomisation_is_seeded_and_agrees_with_t_on_many_queries() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(400)
    b = a + rng.normal(0.02, 0.2, 400)
    p1 = randomisation(a, b, permutations=4000)
    assert p1 == randomisation(a, b, permutations=4000)  # same seed, same p
    assert 1 / 4001 <= p1 <= 1
    assert p1 == pytest.approx(paired_t(a, b), abs=0.03)
    strong = a + 0.2
    assert randomisation(a, strong + rng.normal(0, 0.01, 400), permutations=2000) == 1 / 2001


def test_compare_counts_and_errors() -> None:
    c = compare("nDCG@10", "bm25", [0.2, 0.5, 0.1, 0.4], "dense", [0.4, 0.5, 0.0, 0.6])
    assert (c.wins, c.losses, c.n) == (2, 1, 4)
    assert c.mean_diff == pytest.approx((0.2 + 0 - 0.1 + 0.2) / 4)
    assert set(c.p_values) == {TestKind.T_TEST, TestKind.RANDOMISATION}
    with pytest.raises(ValueError, match="equal-length"):
        compare("m", "a", [1, 2], "b", [1, 2, 3])
    with pytest.raises(ValueError, match="at least 2"):
        randomisation([1.0], [2.0])


def test_compare_tables_uses_shared_queries_and_all_pairs() -> None:
    a = MetricTable(("AP",), {"AP": {"q1": 0.1, "q2": 0.2, "q3": 0.3}})
    b = MetricTable(("AP",), {"AP": {"q1": 0.3, "q2": 0.2, "q3": 0.5}})
    c = MetricTable(("AP",), {"AP": {"q1": 0.1, "q2": 0.1, "q3": 0.1}})
    out = compare_tables({"a": a, "b": b, "c": c})
    assert [(x.a, x.b) for x in out] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert out[0].mean_diff == pytest.approx(0.4 / 3)
    with pytest.raises(ValueError, match="unknown system"):
        compare_tables({"a": a}, pairs=[("a", "z")])
