"""Follow-up retrieval on MTRAG, cross-validated: does the conversation help later turns?

Data: ../shared/data/mtrag/reference.jsonl (350 MTRAG-UN tasks). The pool is every gold context
passage of every task (717 unique document ids), indexed with the project's own
``index.build.build_index`` (default chunking; a document's score is its best passage's).
Scored tasks: later turns (``turn > 1``) with gold contexts (222, one per conversation);
UNANSWERABLE tasks have none and are skipped. Every system goes through the same
``HybridRetriever.evidence`` over the same index:

* **Baselines** get no conversation; their query text is built here, and searched verbatim
  (``FollowupConfig.rewrite`` off): ``last turn`` (the question alone), ``last two turns``
  (the previous user question and the question, concatenated) and ``all turns`` (every user
  question so far, concatenated).
* **Systems** get the question and the earlier turns (user questions and agent answers; cited
  passages are not in the data, so carrying them is exercised only in the unit tests) and
  build the query with :mod:`retriever.followup`. :data:`GRID` is the candidate set: search the
  rewriter's standalone question or the question as typed, who decides a topic shift
  (:class:`retriever.followup.ShiftRule`), and the two context weights.

**Cross-validation.** The 222 tasks are split into :data:`FOLDS` folds by conversation id
(seeded shuffle, :data:`SEED`). For each fold the candidate with the best nDCG@10 on the other
folds is chosen, among those that do not lose to ``last turn`` on the other folds' topic-change
tasks (MTRAG's Multi-Turn label ``N/A``); it is scored on the held-out fold. The ``CV`` row
pools the held-out scores of all folds: a figure for the *selection procedure*, never scored on
the tasks it was chosen on. The same procedure on all tasks gives the recommended defaults,
which must equal ``FollowupConfig()``'s (checked and printed). Fixed rows (baselines and named
systems) involve no selection here, so their figures are the plain means over all tasks.

Measures (ir-measures, binary relevance of gold document ids): ``nDCG@10`` and ``R@10``, for
all later turns and for the topic-change tasks. Paired tests (eval.significance: t-test and
sign-flip randomisation) compare the CV row with the best baseline on all later turns and with
``last turn`` on the topic-change tasks.

Usage:
    nice python benchmarks/followup_mtrag.py      # baselines, systems, CV -> table + JSON

Writes var/results/followup_mtrag.json (every row's per-query values, the folds, each fold's
choice, the comparisons, the configuration and the index manifest).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ir_measures  # noqa: E402
import numpy as np  # noqa: E402
from ir_measures import R, nDCG  # noqa: E402
from retrieval_data import DATA, RESULTS, ROOT, CachingEmbedder  # noqa: E402

from corpus.types import Document, EvidenceTier  # noqa: E402
from eval.significance import compare  # noqa: E402
from retriever.followup import ShiftRule  # noqa: E402
from retriever.hybrid import HybridRetriever, RetrievalConfig  # noqa: E402
from retriever.policy import PolicyConfig  # noqa: E402
from retriever.types import Conversation, Turn  # noqa: E402

log = logging.getLogger("followup_mtrag")
INDEX_DIR = ROOT / "var" / "cache" / "mtrag" / "index"
DEPTH = 50  # fused passages kept per query: enough for nDCG@10 and R@10 over documents
MEASURES = {"nDCG@10": nDCG @ 10, "R@10": R @ 10}
SELECT_BY = "nDCG@10"
FOLDS = 5
SEED = 20240601
TOPIC_CHANGE = "N/A"  # MTRAG's Multi-Turn label of a question that does not follow up
LAST_TURN = "last turn"

# Candidates of the cross-validated choice: FollowupConfig changes, named. The rewriter's shift
# rules only apply when the standalone question is searched, so "typed" has one rule. The
# defaults are chosen among the candidates that honour an explicit substitution (see
# honours_substitution); the CV over the whole grid is reported beside it.
GRID: dict[str, Any] = {
    "query": {
        "typed": {"rewrite": False, "shift_rule": ShiftRule.EMBEDDING},
        "standalone/embedding": {"rewrite": True, "shift_rule": ShiftRule.EMBEDDING},
        "standalone/substitution": {"rewrite": True, "shift_rule": ShiftRule.SUBSTITUTION},
        "standalone/recognised": {"rewrite": True, "shift_rule": ShiftRule.RECOGNISED},
        "standalone/rewriter": {"rewrite": True, "shift_rule": ShiftRule.REWRITER},
    },
    "dense_weight": [0.3, 0.5, 1.0],
    "lexical_weight": [0.3, 0.6, 1.0],
}

# Named systems reported as fixed rows (the weights at the current defaults).
NAMED: dict[str, dict[str, Any]] = {
    "typed question (no rewrite)": {"rewrite": False},
    "standalone, rewriter decides shifts": {"rewrite": True, "shift_rule": ShiftRule.REWRITER},
    "standalone, embedding rule": {"rewrite": True, "shift_rule": ShiftRule.EMBEDDING},
    "standalone, embedding + substitution": {
        "rewrite": True,
        "shift_rule": ShiftRule.SUBSTITUTION,
    },
    "standalone, embedding + substitution + recognised": {
        "rewrite": True,
        "shift_rule": ShiftRule.RECOGNISED,
    },
}


@dataclass(frozen=True)
class Task:
    id: str
    conversation_id: str
    turn: int
    question: str
    conversation: Conversation
    gold: frozenset[str]
    multi_turn: str
    collection: str


@dataclass(frozen=True)
class Scores:
    """Per-query values of one row, by measure, and how often it dropped the context."""

    per_query: dict[str, dict[str, float]]  # measure -> task id -> value
    shifts: int = 0
    used_context: int = 0

    def mean(self, measure: str, ids: Sequence[str]) -> float:
        return float(np.mean([self.per_query[measure][i] for i in ids])) if ids else float("nan")


def load_tasks(path: Path) -> tuple[list[Document], list[Task]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    texts: dict[str, tuple[str, str]] = {}
    tasks = []
    for row in rows:
        for ctx in row["contexts"]:
            texts.setdefault(ctx["document_id"], (ctx["text"].strip(), row["Collection"]))
        turns = row["input"]
        if not row["contexts"] or int(row["turn"]) <= 1:
            continue
        earlier: list[Turn] = []
        for i, item in enumerate(turns[:-1]):
            if item["speaker"] == "user":
                answer = turns[i + 1]["text"] if turns[i + 1]["speaker"] == "agent" else ""
                earlier.append(Turn(item["text"].strip(), answer=answer.strip()))
        tasks.append(
            Task(
                id=row["task_id"],
                conversation_id=row["conversation_id"],
                turn=int(row["turn"]),
                question=turns[-1]["text"].strip(),
                conversation=Conversation(tuple(earlier)),
                gold=frozenset(c["document_id"] for c in row["contexts"]),
                multi_turn=row["Multi-Turn"][0],
                collection=row["Collection"],
            )
        )
    documents = [
        Document(
            id=doc_id,
            title="",
            text=text,
            tier=EvidenceTier.OTHER,
            source=collection,
            licence="Apache-2.0",
            dataset="mtrag",
        )
        for doc_id, (text, collection) in sorted(texts.items())
    ]
    return documents, tasks


def open_index(documents: list[Document], embedder: CachingEmbedder):
    from index.build import build_index
    from index.load import PassageIndex

    if not (INDEX_DIR / "manifest.json").exists():
        INDEX_DIR.parent.mkdir(parents=True, exist_ok=True)
        build_index(documents, INDEX_DIR, embedder, progress=True)
    return PassageIndex.load(INDEX_DIR, expected_model=embedder.model_name)


def doc_run(evidence_fused) -> dict[str, float]:
    run: dict[str, float] = {}
    for rank, scored in enumerate(evidence_fused):
        run.setdefault(scored.passage.document_id, float(DEPTH * 2 - rank))
    return run


def measure(runs: Mapping[str, dict[str, float]], tasks: Sequence[Task]) -> dict:
    qrels = {t.id: {d: 1 for d in t.gold} for t in tasks}
    per_query: dict[str, dict[str, float]] = {name: {} for name in MEASURES}
    names = {m: name for name, m in MEASURES.items()}
    for row in ir_measures.iter_calc(list(MEASURES.values()), qrels, dict(runs)):
        per_query[names[row.measure]][row.query_id] = float(row.value)
    for values in per_query.values():  # a task with an empty run scores 0
        values.update({t.id: 0.0 for t in tasks if t.id not in values})
    return per_query


# ----------------------------------------------------------------------------- the rows


BASELINES: dict[str, Callable[[Task], str]] = {
    LAST_TURN: lambda t: t.question,
    "last two turns": lambda t: f"{t.conversation.turns[-1].question} {t.question}",
    "all turns": lambda t: " ".join([x.question for x in t.conversation.turns] + [t.question]),
}


def with_followup(base: RetrievalConfig, **changes: Any) -> RetrievalConfig:
    return replace(base, followup=replace(base.followup, **changes))


def run_baseline(index, embedder, base: RetrievalConfig, text: Callable[[Task], str], tasks):
    retriever = HybridRetriever(index, embedder, with_followup(base, rewrite=False))
    runs = {t.id: doc_run(retriever.evidence(text(t)).fused) for t in tasks}
    return Scores(measure(runs, tasks))


def run_system(index, embedder, config: RetrievalConfig, tasks: Sequence[Task]) -> Scores:
    retriever = HybridRetriever(index, embedder, config)
    runs, shifts, used = {}, 0, 0
    for task in tasks:
        evidence = retriever.evidence(task.question, task.conversation)
        runs[task.id] = doc_run(evidence.fused)
        shifts += evidence.topic_shift
        used += evidence.used_context
    return Scores(measure(runs, tasks), shifts, used)


def grid() -> dict[str, dict[str, Any]]:
    """Candidate name -> FollowupConfig changes, in :data:`GRID` order."""
    out = {}
    for (query, changes), dense, lexical in itertools.product(
        GRID["query"].items(), GRID["dense_weight"], GRID["lexical_weight"]
    ):
        name = f"{query} dense={dense} lexical={lexical}"
        out[name] = {**changes, "dense_weight": dense, "lexical_weight": lexical}
    return out


def honours_substitution(changes: Mapping[str, Any]) -> bool:
    """Whether a candidate never drags an explicitly substituted focus back.

    "And for B12?" after "How is iron deficiency treated?" is searched as "How is vitamin B12
    deficiency treated?"; with the embedding rule (or the typed question) "iron" and the iron
    question still join the query, because the two questions are close. MTRAG has only four
    such substitutions (all open-domain), too few to measure this, so it is a requirement
    (tests/test_retriever_followup.py), not a tuned choice.
    """
    return bool(changes["rewrite"]) and changes["shift_rule"] is not ShiftRule.EMBEDDING


# ----------------------------------------------------------------------------- selection


def folds(tasks: Sequence[Task], k: int = FOLDS, seed: int = SEED) -> list[list[str]]:
    """Task ids in ``k`` folds; all tasks of a conversation share a fold."""
    conversations = sorted({t.conversation_id for t in tasks})
    order = np.random.default_rng(seed).permutation(len(conversations))
    fold_of = {conversations[i]: rank % k for rank, i in enumerate(order)}
    return [[t.id for t in tasks if fold_of[t.conversation_id] == f] for f in range(k)]


def select(
    candidates: Mapping[str, Scores],
    last_turn: Scores,
    ids: Sequence[str],
    topic_change: Sequence[str],
) -> str:
    """The candidate with the best mean :data:`SELECT_BY` (then R@10, then grid order) on
    ``ids``, among those at least as good as ``last_turn`` on the ``topic_change`` ids among
    them (all candidates if none is)."""
    changes = [i for i in ids if i in set(topic_change)]
    floor = last_turn.mean(SELECT_BY, changes) if changes else float("-inf")
    safe = [n for n, s in candidates.items() if not changes or s.mean(SELECT_BY, changes) >= floor]
    pool = safe or list(candidates)
    return max(
        pool,
        key=lambda n: (candidates[n].mean(SELECT_BY, ids), candidates[n].mean("R@10", ids)),
    )  # max keeps the first of equal keys: grid order breaks ties


def cross_validate(
    candidates: Mapping[str, Scores],
    last_turn: Scores,
    split: Sequence[Sequence[str]],
    topic_change: Sequence[str],
) -> tuple[Scores, list[str]]:
    """Held-out per-query values of the selection procedure, and each fold's choice."""
    per_query: dict[str, dict[str, float]] = {m: {} for m in MEASURES}
    chosen = []
    for held_out in split:
        training = [i for fold in split if fold is not held_out for i in fold]
        name = select(candidates, last_turn, training, topic_change)
        chosen.append(name)
        for m in MEASURES:
            per_query[m].update({i: candidates[name].per_query[m][i] for i in held_out})
    return Scores(per_query), chosen


# ----------------------------------------------------------------------------- report


def row(scores: Scores, everything: Sequence[str], changes: Sequence[str]) -> dict[str, float]:
    return {
        "nDCG@10": scores.mean("nDCG@10", everything),
        "R@10": scores.mean("R@10", everything),
        "topic change nDCG@10": scores.mean("nDCG@10", changes),
        "topic change R@10": scores.mean("R@10", changes),
        "shifts": scores.shifts,
        "used context": scores.used_context,
    }


def print_rows(rows: Mapping[str, dict[str, float]], n: int, n_changes: int) -> None:
    print(
        f"{'row':48s} | {f'later turns (n={n})':>19s} | {f'topic change (n={n_changes})':>19s}"
        f" | shifts"
    )
    print(f"{'':48s} | {'nDCG@10':>9s} {'R@10':>9s} | {'nDCG@10':>9s} {'R@10':>9s} |")
    for name, r in rows.items():
        shifts = "-" if name.startswith("CV") else str(r["shifts"])
        print(
            f"{name:48s} | {r['nDCG@10']:9.4f} {r['R@10']:9.4f} | "
            f"{r['topic change nDCG@10']:9.4f} {r['topic change R@10']:9.4f} | {shifts:>6s}"
        )


def comparison(name_a: str, a: Scores, name_b: str, b: Scores, ids: Sequence[str]) -> list[dict]:
    out = []
    for m in MEASURES:
        result = compare(
            m, name_a, [a.per_query[m][i] for i in ids], name_b, [b.per_query[m][i] for i in ids]
        ).to_dict()
        out.append(result)
        p = result["p_values"]
        print(
            f"  {m:8s} {name_b} - {name_a}: {result['mean_diff']:+.4f} "
            f"({result['wins']} better, {result['losses']} worse, n={result['n']}); "
            f"p t-test {p['paired_t']:.4f}, randomisation {p['randomisation']:.4f}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    documents, tasks = load_tasks(DATA / "mtrag" / "reference.jsonl")
    embedder = CachingEmbedder("mtrag")
    index = open_index(documents, embedder)
    base = RetrievalConfig()
    base = replace(base, policy=PolicyConfig(fused_k=DEPTH, guideline_k=0, research_k=0))
    everything = [t.id for t in tasks]
    changes = [t.id for t in tasks if t.multi_turn == TOPIC_CHANGE]

    baselines = {
        name: run_baseline(index, embedder, base, text, tasks) for name, text in BASELINES.items()
    }
    named = {
        name: run_system(index, embedder, with_followup(base, **changes_), tasks)
        for name, changes_ in NAMED.items()
    }
    candidates_changes = grid()
    candidates = {}
    for name, changes_ in candidates_changes.items():
        candidates[name] = run_system(index, embedder, with_followup(base, **changes_), tasks)
        log.info("%-50s nDCG@10 %.4f", name, candidates[name].mean(SELECT_BY, everything))
    last_turn = baselines[LAST_TURN]
    allowed = {n: s for n, s in candidates.items() if honours_substitution(candidates_changes[n])}
    split = folds(tasks)
    cv, chosen = cross_validate(allowed, last_turn, split, changes)
    cv_all, chosen_all = cross_validate(candidates, last_turn, split, changes)
    in_sample = select(allowed, last_turn, everything, changes)
    default = run_system(index, embedder, base, tasks)

    rows = {f"baseline: {name}": row(s, everything, changes) for name, s in baselines.items()}
    rows |= {name: row(s, everything, changes) for name, s in named.items()}
    rows["FollowupConfig() defaults (in-sample)"] = row(default, everything, changes)
    rows[f"CV: {FOLDS}-fold held-out, {len(allowed)} candidates"] = row(cv, everything, changes)
    rows[f"CV: {FOLDS}-fold held-out, all {len(candidates)} candidates"] = row(
        cv_all, everything, changes
    )
    print_rows(rows, len(everything), len(changes))
    for title, names in (("chosen per fold", chosen), ("chosen per fold, all", chosen_all)):
        print(f"{title}:", *(f"  fold {i + 1}: {n}" for i, n in enumerate(names)), sep="\n")
    print(f"chosen on all tasks: {in_sample}")
    expected = replace(base.followup, **candidates_changes[in_sample])
    if expected != base.followup:
        print(f"WARNING: FollowupConfig() differs from the selection: {expected}")

    best_baseline = max(baselines, key=lambda n: baselines[n].mean(SELECT_BY, everything))
    print(f"paired tests, later turns: CV vs the best baseline ({best_baseline})")
    tests = comparison(best_baseline, baselines[best_baseline], "CV", cv, everything)
    print(f"paired tests, topic-change tasks: CV vs {LAST_TURN}")
    tests += comparison(LAST_TURN, last_turn, "CV", cv, changes)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "followup_mtrag.json"
    payload = {
        "tasks_scored": len(tasks),
        "topic_change_tasks": len(changes),
        "pool_documents": len(documents),
        "index_passages": len(index.passages),
        "folds": split,
        "seed": SEED,
        "chosen_per_fold": chosen,
        "chosen_per_fold_all_candidates": chosen_all,
        "candidates_honouring_substitution": list(allowed),
        "chosen_on_all_tasks": in_sample,
        "grid": json.loads(json.dumps(candidates_changes, default=str)),
        "rows": rows,
        "candidates": {name: row(s, everything, changes) for name, s in candidates.items()},
        "comparisons": tests,
        "per_query": {
            name: s.per_query
            for name, s in {
                **baselines,
                **named,
                "CV": cv,
                "CV all candidates": cv_all,
                "defaults": default,
            }.items()
        },
        "config": json.loads(json.dumps(asdict(base), default=str)),
        "manifest": json.loads(index.manifest.to_json()),
    }
    out.write_text(json.dumps(payload, indent=1))
    print(
        f"{len(candidates) + len(named) + len(baselines) + 1} rows in "
        f"{time.perf_counter() - start:.0f}s; wrote {out}"
    )


if __name__ == "__main__":
    main()
