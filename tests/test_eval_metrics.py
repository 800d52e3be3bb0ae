"""eval.metrics: hand-computed values, and the same numbers from pytrec_eval called directly."""

from __future__ import annotations

import copy
import math
import random

import ir_measures
import pytest
import pytrec_eval

from eval.metrics import MEASURES, canonical, cut, evaluate, relevant_queries, trec_order

# q1: two relevant (d1, d2), d3 judged non-relevant.
# q2: graded: d4 has relevance 2, d5 relevance 1.
# q3: relevant d6, but the run returns nothing for q3 -> every measure is 0.
# q4: only a non-relevant judgement -> not evaluated (trec_eval convention).
QRELS = {
    "q1": {"d1": 1, "d2": 1, "d3": 0},
    "q2": {"d4": 2, "d5": 1},
    "q3": {"d6": 1},
    "q4": {"d7": 0},
}
# q2's ranking: n1, d5, n2..n10 (ranks 3-11), d4 at rank 12.
Q2 = {"n1": 0.95, "d5": 0.9, **{f"n{i}": 0.9 - 0.05 * (i - 1) for i in range(2, 11)}, "d4": 0.3}
RUN = {
    "q1": {"d1": 0.9, "x": 0.8, "d2": 0.7, "d3": 0.6},
    "q2": Q2,
    "q4": {"d7": 1.0},
    "q9": {"d1": 1.0},  # not judged: ignored
}

# q1: relevant at ranks 1 and 3 of 2 relevant.
#   nDCG@10 = (1/log2(2) + 1/log2(4)) / (1/log2(2) + 1/log2(3)) = 1.5 / 1.6309298 = 0.9197208
#   R@10 = R@100 = 2/2 = 1; RR@10 = 1/1; AP = (1/1 + 2/3) / 2 = 0.8333333
# q2: d5 (gain 1) at rank 2, d4 (gain 2) at rank 12.
#   nDCG@10 = (1/log2(3)) / (2/log2(2) + 1/log2(3)) = 0.6309298 / 2.6309298 = 0.2398113
#   R@10 = 1/2; R@100 = 2/2; RR@10 = 1/2; AP = (1/2 + 2/12) / 2 = 0.3333333
# q3: 0 everywhere. Means over the 3 evaluated queries:
EXPECTED_PER_QUERY = {
    "nDCG@10": {
        "q1": 1.5 / (1 + 1 / math.log2(3)),
        "q2": (1 / math.log2(3)) / (2 + 1 / math.log2(3)),
        "q3": 0.0,
    },
    "R@10": {"q1": 1.0, "q2": 0.5, "q3": 0.0},
    "R@100": {"q1": 1.0, "q2": 1.0, "q3": 0.0},
    "RR@10": {"q1": 1.0, "q2": 0.5, "q3": 0.0},
    "AP": {"q1": (1 + 2 / 3) / 2, "q2": (1 / 2 + 2 / 12) / 2, "q3": 0.0},
}
EXPECTED_MEAN = {
    "nDCG@10": (0.9197208 + 0.2398113 + 0) / 3,  # 0.3865107
    "R@10": (1 + 0.5 + 0) / 3,  # 0.5
    "R@100": (1 + 1 + 0) / 3,  # 0.6666667
    "RR@10": (1 + 0.5 + 0) / 3,  # 0.5
    "AP": (0.8333333 + 0.3333333 + 0) / 3,  # 0.3888889
}


def test_hand_computed_values() -> None:
    table = evaluate(QRELS, RUN)
    assert table.measures == MEASURES
    assert table.query_ids == ("q1", "q2", "q3")
    for measure, expected in EXPECTED_PER_QUERY.items():
        for qid, value in expected.items():
            assert table.per_query[measure][qid] == pytest.approx(value, abs=1e-6), (measure, qid)
        assert table.mean(measure) == pytest.approx(EXPECTED_MEAN[measure], abs=1e-6), measure


def test_inputs_are_not_modified() -> None:
    qrels, run = copy.deepcopy(QRELS), copy.deepcopy(RUN)
    evaluate(qrels, run)
    assert qrels == QRELS and run == RUN


def test_rr_cutoff_and_aliases() -> None:
    # The only relevant document is at rank 11: RR@10 = 0, but uncut RR = 1/11.
    run = {"q": {f"n{i:02d}": 1.0 - i / 100 for i in range(10)} | {"rel": 0.5}}
    table = evaluate({"q": {"rel": 1}}, run, ["mrr@10", "RR", "recall@10", "map", "ndcg@10"])
    assert table.measures == ("RR@10", "RR", "R@10", "AP", "nDCG@10")
    assert table.per_query["RR@10"]["q"] == 0.0
    assert table.per_query["RR"]["q"] == pytest.approx(1 / 11)
    assert table.per_query["AP"]["q"] == pytest.approx(1 / 11)
    with pytest.raises(ValueError, match="unknown measure"):
        canonical("ndgc@10")


def test_ties_follow_trec_eval_document_id_descending() -> None:
    # Three documents tie; trec_eval ranks them c, b, a (ids descending).
    run = {"q": {"a": 1.0, "b": 1.0, "c": 1.0}}
    assert [d for d, _ in trec_order(run["q"])] == ["c", "b", "a"]
    assert evaluate({"q": {"a": 1}}, run, ["RR@10"]).per_query["RR@10"]["q"] == pytest.approx(1 / 3)
    assert evaluate({"q": {"c": 1}}, run, ["RR@10"]).per_query["RR@10"]["q"] == 1.0
    # RR@2 keeps only c and b, so "a" is not found.
    assert evaluate({"q": {"a": 1}}, run, ["RR@2"]).per_query["RR@2"]["q"] == 0.0
    assert cut(run, 2) == {"q": {"c": 1.0, "b": 1.0}}


def test_no_relevant_document_is_an_error() -> None:
    assert relevant_queries({"q": {"d": 0}}) == []
    with pytest.raises(ValueError, match="no query with a relevant"):
        evaluate({"q": {"d": 0}}, {"q": {"d": 1.0}})


def _random_case(seed: int) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(300)]
    qrels = {
        f"q{q}": {d: rng.choice((1, 1, 2)) for d in rng.sample(docs, rng.randint(1, 8))}
        for q in range(40)
    }
    run = {}
    for q in qrels:
        ranked = rng.sample(docs, 150)
        # Distinct scores, so every implementation agrees on the ranking.
        run[q] = {d: 100.0 - i * 0.5 + rng.random() * 0.01 for i, d in enumerate(ranked)}
    return qrels, run


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_oracle_pytrec_eval_directly(seed: int) -> None:
    qrels, run = _random_case(seed)
    table = evaluate(qrels, run)
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.10", "recall.10", "recall.100", "map"}
    )
    direct = evaluator.evaluate(run)
    names = {"nDCG@10": "ndcg_cut_10", "R@10": "recall_10", "R@100": "recall_100", "AP": "map"}
    for ours, theirs in names.items():
        for qid in qrels:
            assert table.per_query[ours][qid] == pytest.approx(direct[qid][theirs], abs=1e-12)
    # RR@10 is pytrec_eval's recip_rank on the top 10; with distinct scores it must also equal
    # the MS MARCO MRR@10 that ir-measures would otherwise use.
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut(run, 10))
    msmarco = {
        m.query_id: m.value
        for m in ir_measures.providers.registry["msmarco"]
        .evaluator([ir_measures.RR @ 10], qrels)
        .iter_calc(run)
    }
    for qid in qrels:
        assert table.per_query["RR@10"][qid] == pytest.approx(rr[qid]["recip_rank"], abs=1e-12)
        assert table.per_query["RR@10"][qid] == pytest.approx(msmarco[qid], abs=1e-12)
    # The aggregate is the plain mean of the per-query values.
    assert table.mean("AP") == pytest.approx(sum(direct[q]["map"] for q in qrels) / len(qrels))
