"""Retrieval metrics from ir-measures, computed by pytrec_eval (trec_eval's own C code).

The default measures are ``nDCG@10``, ``R@10``, ``R@100``, ``RR@10`` (MRR@10) and ``AP`` (MAP),
named in ir-measures syntax; the aliases the field also uses (``ndcg@10``, ``recall@100``,
``mrr@10``, ``map``) are accepted.

Conventions, the same as trec_eval's (and so BEIR's), made explicit:

* The evaluated queries are those with at least one relevant document (relevance > 0) in the
  qrels. A query the system returned nothing for scores 0 on every measure; run entries for
  queries outside that set are ignored.
* Ties in score are ranked by document id in *descending* string order, as trec_eval does.
  :func:`trec_order` reproduces that order so that run files and cut-offs agree with it.
* ``RR@k``: pytrec_eval has no cut-off for reciprocal rank, and ir-measures would hand
  ``RR@10`` to its MS MARCO script, which breaks ties the other way. We compute it as
  pytrec_eval's ``recip_rank`` on each query's top ``k`` in :func:`trec_order`, so every
  measure sees the same ranking.

Inputs are never modified.

Example:
    >>> table = evaluate({"q1": {"d1": 1}}, {"q1": {"d0": 2.0, "d1": 1.0}})
    >>> table.mean("RR@10"), table.mean("R@10")
    (0.5, 1.0)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import ir_measures
from ir_measures import Measure

from eval.types import MetricTable, Qrels, Run

logger = logging.getLogger(__name__)

MEASURES: tuple[str, ...] = ("nDCG@10", "R@10", "R@100", "RR@10", "AP")
"""The default measures of a retrieval run, in report order."""

ALIASES: dict[str, str] = {
    "ndcg@10": "nDCG@10",
    "ndcg_cut_10": "nDCG@10",
    "recall@10": "R@10",
    "recall@100": "R@100",
    "mrr@10": "RR@10",
    "rr@10": "RR@10",
    "map": "AP",
}
"""Lower-case names used by BEIR, MTEB and trec_eval, mapped to ir-measures names."""

_PROVIDER = "pytrec_eval"


def canonical(name: str) -> str:
    """The ir-measures name of a measure, accepting the common aliases.

    Raises:
        ValueError: the name is not a measure pytrec_eval can compute here.
    """
    text = ALIASES.get(name.strip().lower(), name.strip())
    try:
        measure = ir_measures.parse_measure(text)
    except (ValueError, NameError, SyntaxError, TypeError):
        raise ValueError(f"unknown measure {name!r}; try one of: {', '.join(MEASURES)}") from None
    if not (_is_cut_rr(measure) or _provider().supports(measure)):
        raise ValueError(f"measure {name!r} is not computed by {_PROVIDER} here")
    return str(measure)


def relevant_queries(qrels: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Query ids with at least one relevant (relevance > 0) document, sorted."""
    return sorted(qid for qid, docs in qrels.items() if any(rel > 0 for rel in docs.values()))


def trec_order(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """``(doc id, score)`` pairs in trec_eval's ranking: score descending, ties by id descending."""
    return sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)


def cut(run: Mapping[str, Mapping[str, float]], depth: int) -> Run:
    """A new run holding each query's top ``depth`` documents in :func:`trec_order`."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    return {qid: dict(trec_order(docs)[:depth]) for qid, docs in run.items()}


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    measures: Sequence[str] = MEASURES,
) -> MetricTable:
    """Per-query values of ``measures`` for ``run`` against ``qrels``.

    Args:
        qrels: query id -> doc id -> relevance. Not modified.
        run: query id -> doc id -> score. Not modified.
        measures: names in ir-measures syntax or the aliases in :data:`ALIASES`.

    Returns:
        A :class:`MetricTable` over :func:`relevant_queries` of ``qrels``.

    Raises:
        ValueError: an unknown measure, or qrels without any relevant document.
    """
    names = [canonical(m) for m in measures]
    query_ids = relevant_queries(qrels)
    if not query_ids:
        raise ValueError("the qrels have no query with a relevant document")
    # Copies, restricted to the evaluated queries: the callers' dicts are never touched.
    q: Qrels = {qid: {d: int(r) for d, r in qrels[qid].items()} for qid in query_ids}
    r: Run = {qid: {d: float(s) for d, s in run.get(qid, {}).items()} for qid in query_ids}
    unretrieved = sum(1 for qid in query_ids if not r[qid])
    if unretrieved:
        logger.info("%d of %d queries have no results; they score 0", unretrieved, len(query_ids))
    per_query: dict[str, dict[str, float]] = {}
    plain = [n for n in names if not _is_cut_rr(ir_measures.parse_measure(n))]
    if plain:
        parsed = [ir_measures.parse_measure(n) for n in plain]
        per_query.update(_calc(parsed, q, r, plain))
    for name in names:
        measure = ir_measures.parse_measure(name)
        if _is_cut_rr(measure):
            rel = measure.params.get("rel", 1)
            uncut = ir_measures.parse_measure(f"RR(rel={rel})")
            per_query.update(_calc([uncut], q, cut(r, measure["cutoff"]), [name]))
    for name in names:
        for qid in query_ids:  # pytrec_eval leaves out queries with an empty ranking
            per_query[name].setdefault(qid, 0.0)
    return MetricTable(measures=tuple(names), per_query=per_query)


def _calc(
    measures: Sequence[Measure], qrels: Qrels, run: Run, names: Sequence[str]
) -> dict[str, dict[str, float]]:
    evaluator = _provider().evaluator(list(measures), qrels)
    by_measure = {str(m): name for m, name in zip(measures, names, strict=True)}
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    for metric in evaluator.iter_calc(run):
        out[by_measure[str(metric.measure)]][metric.query_id] = float(metric.value)
    return out


def _provider() -> ir_measures.providers.Provider:
    return ir_measures.providers.registry[_PROVIDER]


def _is_cut_rr(measure: Measure) -> bool:
    return bool(measure.NAME == "RR" and "cutoff" in measure.params)


def mean_table(tables: Iterable[MetricTable]) -> dict[str, list[float]]:
    """measure -> list of means, one per table (for side-by-side reports)."""
    out: dict[str, list[float]] = {}
    for table in tables:
        for name, value in table.aggregate().items():
            out.setdefault(name, []).append(value)
    return out
