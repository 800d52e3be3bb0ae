"""Paired significance tests over per-query metric values.

Two systems evaluated on the same queries give paired values ``a_i`` and ``b_i``. Two tests are
run on the differences ``d_i = b_i - a_i``, both two-sided:

* **Paired t-test** (Student; ``scipy.stats.ttest_rel``). Assumes the mean difference is roughly
  normal, which holds for a few hundred queries; it is the test most IR papers report.
* **Paired randomisation (sign-flip permutation) test** (Fisher; see Smucker, Allan and
  Carterette, CIKM 2007, who recommend it for IR). Under the null hypothesis the two systems are
  exchangeable per query, so each ``d_i`` is equally likely to carry either sign. The p-value is
  the share of sign assignments whose ``|mean|`` is at least the observed ``|mean(d)|``. With
  up to :data:`EXACT_MAX_N` non-zero differences every assignment is enumerated (an exact test);
  beyond that :data:`PERMUTATIONS` random assignments are drawn from a seeded generator and the
  p-value is ``(hits + 1) / (PERMUTATIONS + 1)`` (never 0, as Phipson and Smyth 2010 advise).

No correction for multiple comparisons is applied; reports list every comparison so a reader
can apply one (Holm's, say) across the ones they care about.

Example:
    >>> comparison = compare("nDCG@10", "bm25", [0.2, 0.5, 0.1], "dense", [0.4, 0.5, 0.3])
    >>> round(comparison.mean_diff, 3), comparison.wins, comparison.losses
    (0.133, 2, 0)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

from eval.types import Comparison, MetricTable, TestKind

PERMUTATIONS = 10_000
"""Random sign assignments drawn when the test is not exact."""

EXACT_MAX_N = 16
"""Up to this many non-zero differences, all ``2**n`` sign assignments are enumerated."""

Values = Sequence[float] | npt.NDArray[np.float64]
"""Per-query values of one system, in query order."""

SEED = 20240601
"""Seed of the randomisation test, so a report's p-values are reproducible."""

# Floating-point slack when comparing a permuted |mean| with the observed one: equal means
# must count as "at least as extreme" even when summation order changes the last bit.
_EPS = 1e-12


def paired_t(a: Values, b: Values) -> float:
    """Two-sided p-value of Student's paired t-test; 1.0 when every difference is equal to 0.

    Raises:
        ValueError: the sequences differ in length or have fewer than 2 pairs.
    """
    x, y = _pairs(a, b)
    diffs = y - x
    if np.all(np.abs(diffs) <= _EPS):
        return 1.0
    if np.ptp(diffs) <= _EPS:  # identical non-zero differences: no variance, certain shift
        return 0.0
    return float(stats.ttest_rel(y, x).pvalue)


def randomisation(
    a: Values,
    b: Values,
    *,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
) -> float:
    """Two-sided p-value of the paired sign-flip randomisation test (see module docstring).

    Raises:
        ValueError: the sequences differ in length, have fewer than 2 pairs, or
            ``permutations`` is below 1.
    """
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1, got {permutations}")
    x, y = _pairs(a, b)
    diffs = y - x
    n = len(diffs)
    nonzero = diffs[np.abs(diffs) > _EPS]  # a zero difference is the same under either sign
    if len(nonzero) == 0:
        return 1.0
    observed = abs(nonzero.sum()) / n
    if len(nonzero) <= EXACT_MAX_N:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(nonzero))))
        means = np.abs(signs @ nonzero) / n
        return float(np.mean(means >= observed - _EPS))
    rng = np.random.default_rng(seed)
    hits = 0
    block = 1000  # keeps memory at block * n floats
    for start in range(0, permutations, block):
        size = min(block, permutations - start)
        signs = rng.choice((-1.0, 1.0), size=(size, len(nonzero)))
        hits += int(np.sum(np.abs(signs @ nonzero) / n >= observed - _EPS))
    return (hits + 1) / (permutations + 1)


def compare(
    measure: str,
    name_a: str,
    a: Values,
    name_b: str,
    b: Values,
    *,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
) -> Comparison:
    """Both paired tests of ``b`` against ``a`` on one measure (values paired by position)."""
    x, y = _pairs(a, b)
    p_values = {
        TestKind.T_TEST: paired_t(x, y),
        TestKind.RANDOMISATION: randomisation(x, y, permutations=permutations, seed=seed),
    }
    return Comparison(
        measure=measure,
        a=name_a,
        b=name_b,
        n=len(x),
        mean_a=float(np.mean(x)),
        mean_b=float(np.mean(y)),
        mean_diff=float(np.mean(y - x)),
        wins=int(np.sum(y > x)),
        losses=int(np.sum(y < x)),
        p_values=p_values,
    )


def compare_tables(
    tables: Mapping[str, MetricTable],
    *,
    measures: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
) -> list[Comparison]:
    """Paired comparisons between systems, over the queries every table shares.

    Args:
        tables: system name -> its metric table, in report order.
        measures: the measures to compare; default every measure of the first table.
        pairs: ``(a, b)`` system pairs; default every pair ``(earlier, later)`` in ``tables``
            order, so the first system acts as the baseline.
        permutations: random assignments for the randomisation test.
        seed: its seed.

    Raises:
        ValueError: a pair names an unknown system or the tables share no query.
    """
    names = list(tables)
    if pairs is None:
        pairs = list(itertools.combinations(names, 2))
    unknown = sorted({n for pair in pairs for n in pair} - set(names))
    if unknown:
        raise ValueError(f"unknown system(s) {unknown}; known: {names}")
    if not pairs:
        return []
    shared = sorted(set.intersection(*(set(tables[n].query_ids) for n in names)))
    if not shared:
        raise ValueError("the systems share no evaluated query")
    chosen = list(measures) if measures is not None else list(tables[names[0]].measures)
    out: list[Comparison] = []
    for measure in chosen:
        for name_a, name_b in pairs:
            a = [tables[name_a].per_query[measure][q] for q in shared]
            b = [tables[name_b].per_query[measure][q] for q in shared]
            out.append(compare(measure, name_a, a, name_b, b, permutations=permutations, seed=seed))
    return out


def _pairs(a: Values, b: Values) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired values must be two equal-length lists, got {x.shape}, {y.shape}")
    if len(x) < 2:
        raise ValueError(f"a paired test needs at least 2 pairs, got {len(x)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("paired values must be finite")
    return x, y


def stars(p: float) -> str:
    """A compact marker for tables: ``**`` for p < 0.01, ``*`` for p < 0.05, else ``""``."""
    if math.isnan(p):
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""
