"""Fusion against hand-computed ranks and scores (arithmetic in the comments)."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from retriever.fusion import (
    ArrayRun,
    FusionMode,
    FusionUnit,
    Normalization,
    collapse,
    collapse_arrays,
    fuse,
    fuse_arrays,
    normalize,
    rrf,
    weighted,
)

LEXICAL = [("a", 12.0), ("b", 9.0), ("c", 3.0)]
DENSE = [("c", 0.9), ("d", 0.8), ("a", 0.5)]


def test_rrf_matches_hand_computed_scores() -> None:
    fused = dict(rrf([LEXICAL, DENSE]))
    # a: lexical rank 1, dense rank 3 -> 1/(60+1) + 1/(60+3) = 0.016393 + 0.015873 = 0.032266
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    # c: lexical rank 3, dense rank 1 -> 1/63 + 1/61, the same sum as a
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    # b: lexical rank 2 only -> 1/62 = 0.016129
    assert fused["b"] == pytest.approx(1 / 62)
    # d: dense rank 2 only -> 1/62
    assert fused["d"] == pytest.approx(1 / 62)


def test_rrf_order_breaks_ties_by_first_appearance() -> None:
    # a and c tie (1/61 + 1/63); a was seen first (lexical run, rank 1). b and d tie (1/62);
    # b was seen first (lexical run, rank 2), d only in the dense run.
    assert [key for key, _ in rrf([LEXICAL, DENSE])] == ["a", "c", "b", "d"]


def test_rrf_weights_and_k() -> None:
    # k = 10, weights (1, 2):
    # a: 1/(10+1) + 2/(10+3) = 0.090909 + 0.153846 = 0.244755
    # c: 1/(10+3) + 2/(10+1) = 0.076923 + 0.181818 = 0.258741
    # d: 2/(10+2) = 0.166667;  b: 1/(10+2) = 0.083333
    fused = rrf([LEXICAL, DENSE], k=10, weights=[1.0, 2.0])
    assert [key for key, _ in fused] == ["c", "a", "d", "b"]
    assert fused[0][1] == pytest.approx(1 / 13 + 2 / 11)
    assert fused[1][1] == pytest.approx(1 / 11 + 2 / 13)


def test_rrf_counts_a_repeated_key_once_at_its_best_rank() -> None:
    # x at ranks 1 and 3 of one run counts once: 1/61; y at rank 2: 1/62.
    fused = rrf([[("x", 3.0), ("y", 2.0), ("x", 1.0)]])
    assert fused == [("x", pytest.approx(1 / 61)), ("y", pytest.approx(1 / 62))]


def test_minmax_weighted_fusion_matches_hand_computed_scores() -> None:
    # Lexical 12, 9, 3 -> (s - 3) / 9: a 1.0, b 0.666667, c 0.0.
    # Dense 0.9, 0.8, 0.5 -> (s - 0.5) / 0.4: c 1.0, d 0.75, a 0.0.
    # Missing keys get 0 under min-max: b has dense 0, d lexical 0.
    # Weights (0.7, 0.3): a 0.7*1 + 0.3*0 = 0.7; b 0.7*0.666667 = 0.466667;
    # c 0.7*0 + 0.3*1 = 0.3; d 0.3*0.75 = 0.225.
    fused = weighted([LEXICAL, DENSE], weights=[0.7, 0.3])
    assert [key for key, _ in fused] == ["a", "b", "c", "d"]
    assert [score for _, score in fused] == pytest.approx([0.7, 0.7 * 2 / 3, 0.3, 0.225])


def test_minmax_guards_max_equal_min() -> None:
    # All scores equal: no division by zero, every key normalises to 1.0.
    assert normalize([("a", 2.0), ("b", 2.0)]) == [("a", 1.0), ("b", 1.0)]
    assert normalize([("a", 5.0)]) == [("a", 1.0)]
    assert normalize([]) == []


def test_minmax_missing_key_counts_zero_even_for_a_constant_run() -> None:
    # The one-key run normalises to 1.0; a key missing from it gets 0, not the run's minimum.
    # x: 1.0 * 1.0 (first run, max) + 0.5 * 1.0 = 1.5;  y: 1.0 * 0.0 (min) + 0.5 * 0 = 0.0
    fused = weighted([[("x", 3.0), ("y", 1.0)], [("x", 0.2)]], weights=[1.0, 0.5])
    assert fused == [("x", 1.5), ("y", 0.0)]
    # With the lone key on the weaker side, the bonus lifts it: y 0 + 0.5 = 0.5 > x 0.4?
    # x: 1.0*1.0 = 1.0 with weights (0.4, 0.5) -> 0.4;  y: 0.0*0.4 + 1.0*0.5 = 0.5
    fused = weighted([[("x", 3.0), ("y", 1.0)], [("y", 0.2)]], weights=[0.4, 0.5])
    assert [key for key, _ in fused] == ["y", "x"]


def test_per_run_normalisation() -> None:
    # Lexical z-scores as in test_zscore_weighted_fusion: a 1.069045, b 0.267261, c -1.336306.
    # Dense min-max: c 1.0, d 0.75, a 0.0; d's lexical floor is the lowest z, -1.336306;
    # b's dense floor is 0 (min-max).
    fused = dict(
        weighted([LEXICAL, DENSE], normalization=[Normalization.ZSCORE, Normalization.MINMAX])
    )
    assert fused["a"] == pytest.approx(1.069045, abs=1e-5)
    assert fused["b"] == pytest.approx(0.267261, abs=1e-5)
    assert fused["c"] == pytest.approx(-1.336306 + 1.0, abs=1e-5)
    assert fused["d"] == pytest.approx(-1.336306 + 0.75, abs=1e-5)
    with pytest.raises(ValueError, match="normalisations"):
        weighted([LEXICAL, DENSE], normalization=[Normalization.ZSCORE])


def test_collapse_max_pools_by_group() -> None:
    # Passages "d1#2" (0.9) and "d1#1" (0.4) belong to d1: d1 keeps 0.9, its best.
    run = [("d1#2", 0.9), ("d2#1", 0.7), ("d1#1", 0.4), ("d3#1", 0.7)]
    assert collapse(run, lambda key: key[:2]) == [("d1", 0.9), ("d2", 0.7), ("d3", 0.7)]
    assert collapse([], str) == []


def test_zscore_weighted_fusion() -> None:
    # Lexical 12, 9, 3: mean 8, population std sqrt((16 + 1 + 25) / 3) = sqrt(14) = 3.741657
    # -> a 1.069045, b 0.267261, c -1.336306.
    # Dense 0.9, 0.8, 0.5: mean 0.733333, std sqrt((0.027778 + 0.004444 + 0.054444) / 3)
    # = 0.169967 -> c 0.980581, d 0.392232, a -1.372813.
    # Missing: b gets dense floor -1.372813, d gets lexical floor -1.336306.
    fused = dict(weighted([LEXICAL, DENSE], normalization=Normalization.ZSCORE))
    assert fused["a"] == pytest.approx(1.069045 - 1.372813, abs=1e-5)
    assert fused["b"] == pytest.approx(0.267261 - 1.372813, abs=1e-5)
    assert fused["c"] == pytest.approx(-1.336306 + 0.980581, abs=1e-5)
    assert fused["d"] == pytest.approx(-1.336306 + 0.392232, abs=1e-5)


def test_fusion_never_mutates_its_inputs() -> None:
    runs = [list(LEXICAL), list(DENSE)]
    before = copy.deepcopy(runs)
    for mode in FusionMode:
        fuse(mode, runs, weights=[1.0, 0.5], top_k=2)
    weighted(runs, normalization=Normalization.ZSCORE)
    assert runs == before


def test_top_k_cuts_after_fusion() -> None:
    assert [key for key, _ in rrf([LEXICAL, DENSE], top_k=2)] == ["a", "c"]
    assert len(fuse(FusionMode.WEIGHTED, [LEXICAL, DENSE], top_k=1)) == 1


def test_fuse_dispatches_by_mode() -> None:
    assert fuse(FusionMode.RRF, [LEXICAL, DENSE]) == rrf([LEXICAL, DENSE])
    assert fuse(FusionMode.WEIGHTED, [LEXICAL, DENSE]) == weighted([LEXICAL, DENSE])


def test_empty_runs_fuse_to_nothing() -> None:
    assert rrf([[], []]) == []
    assert weighted([[], DENSE])[0][0] == "c"


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="2 weights for 1 runs|got 2 weights"):
        rrf([LEXICAL], weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        weighted([LEXICAL], weights=[-1.0])
    with pytest.raises(ValueError, match="k must be"):
        rrf([LEXICAL], k=-1)
    with pytest.raises(ValueError, match="rrf, weighted"):
        FusionMode.parse("borda")
    assert FusionMode.parse(" RRF ") is FusionMode.RRF
    assert FusionUnit.parse("Document") is FusionUnit.DOCUMENT


def _random_runs(seed: int) -> list[list[tuple[int, float]]]:
    rng = random.Random(seed)
    runs = []
    for _ in range(rng.randint(1, 3)):
        size = rng.randint(0, 30)
        keys = [rng.randint(0, 40) for _ in range(size)]  # repeats and overlaps on purpose
        # Scores on a coarse grid, so that ties occur; sorted best first.
        scores = sorted((round(rng.uniform(0, 3), 1) for _ in range(size)), reverse=True)
        runs.append(list(zip(keys, scores, strict=True)))
    return runs


@pytest.mark.parametrize("seed", range(40))
def test_array_fusion_equals_the_pure_functions(seed: int) -> None:
    # Oracle test of the fast path: same keys, same order (ties included), same scores.
    runs = _random_runs(seed)
    weights = [random.Random(seed).uniform(0, 2) for _ in runs]
    arrays = [ArrayRun.of([k for k, _ in run], [s for _, s in run]) for run in runs]
    cases = [(FusionMode.RRF, Normalization.MINMAX)] + [
        (FusionMode.WEIGHTED, method) for method in Normalization
    ]
    for mode, method in cases:
        expected = fuse(mode, runs, weights=weights, k=10, normalization=method)
        got = fuse_arrays(mode, arrays, weights=weights, k=10, normalization=method)
        assert got.scores.tolist() == pytest.approx([s for _, s in expected]), (mode, method)
        # Same order; among scores equal up to float rounding either order may come first.
        assert blocks(got.keys.tolist(), got.scores.tolist()) == blocks(
            [key for key, _ in expected], [s for _, s in expected]
        ), (mode, method)


def blocks(keys: list[int], scores: list[float]) -> list[set[int]]:
    """Keys grouped into runs of (nearly) equal consecutive scores."""
    out: list[set[int]] = []
    for i, key in enumerate(keys):
        if i and abs(scores[i] - scores[i - 1]) < 1e-9:
            out[-1].add(key)
        else:
            out.append({key})
    return out


@pytest.mark.parametrize("seed", range(20))
def test_array_collapse_equals_collapse(seed: int) -> None:
    run = _random_runs(seed)[0]
    group_of = np.array([key // 3 for key in range(41)], np.int64)
    expected = collapse(run, lambda key: key // 3)
    got = collapse_arrays(ArrayRun.of([k for k, _ in run], [s for _, s in run]), group_of)
    assert got.keys.tolist() == [group for group, _ in expected]
    assert got.scores.tolist() == pytest.approx([s for _, s in expected])
