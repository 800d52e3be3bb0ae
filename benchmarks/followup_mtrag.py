"""Follow-up retrieval on MTRAG: does the conversation help the last user turn find its passages?

Data: ../shared/data/mtrag/reference.jsonl (350 MTRAG-UN tasks). The pool is every gold context
passage of every task (717 unique document ids), indexed with the project's own
``index.store.build_index`` (default chunking; a document's score is its best passage's).
Scored tasks: later turns (``turn > 1``) with gold contexts; UNANSWERABLE tasks have none and
are skipped. The query is the last user turn. Two conditions, both through
``HybridRetriever.evidence``:

* ``alone``: the last turn without the conversation;
* ``conversation``: with the earlier turns (user questions and agent answers; the cited
  passages of earlier answers are not in the data, so carrying them forward is exercised only
  in the unit tests).

Recall@5 and recall@10 of the gold document ids (ir-measures ``R@5``/``R@10``) are reported
for all scored tasks and separately for MTRAG's Multi-Turn types (``N/A`` marks a question that
does not follow up on the conversation) and for the tasks the topic-shift detector flags.

``--tune`` runs a small grid over the follow-up knobs (this data set is the only one they are
tuned on) and prints the best settings; the defaults of ``FollowupConfig`` are its winners.

Usage:
    nice python benchmarks/followup_mtrag.py            # default config -> table + JSON
    nice python benchmarks/followup_mtrag.py --tune     # grid over the follow-up knobs

Writes var/results/followup_mtrag.json (and followup_mtrag_tune.json with ``--tune``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ir_measures  # noqa: E402
from ir_measures import R  # noqa: E402
from retrieval_data import DATA, RESULTS, ROOT, CachingEmbedder  # noqa: E402

from corpus.types import Document, EvidenceTier  # noqa: E402
from retriever.hybrid import HybridRetriever, RetrievalConfig  # noqa: E402
from retriever.policy import PolicyConfig  # noqa: E402
from retriever.types import Conversation, Turn  # noqa: E402

log = logging.getLogger("followup_mtrag")
INDEX_DIR = ROOT / "var" / "cache" / "mtrag" / "index"
DEPTH = 50  # fused passages kept per query: enough for recall@10 over documents


@dataclass(frozen=True)
class Task:
    id: str
    turn: int
    question: str
    conversation: Conversation
    gold: frozenset[str]
    multi_turn: str
    collection: str


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
    from index.store import PassageIndex, build_index

    if not (INDEX_DIR / "manifest.json").exists():
        INDEX_DIR.parent.mkdir(parents=True, exist_ok=True)
        build_index(documents, INDEX_DIR, embedder, progress=True)
    return PassageIndex.load(INDEX_DIR, expected_model=embedder.model_name)


def doc_run(evidence_fused) -> dict[str, float]:
    run: dict[str, float] = {}
    for rank, scored in enumerate(evidence_fused):
        run.setdefault(scored.passage.document_id, float(DEPTH * 2 - rank))
    return run


def evaluate(retriever: HybridRetriever, tasks: list[Task], use_conversation: bool):
    runs, shifts, used = {}, {}, {}
    for task in tasks:
        evidence = retriever.evidence(
            task.question, task.conversation if use_conversation else None
        )
        runs[task.id] = doc_run(evidence.fused)
        shifts[task.id] = evidence.topic_shift
        used[task.id] = evidence.used_context
    return runs, shifts, used


def recall(runs, tasks: Iterable[Task]) -> dict[str, float]:
    tasks = list(tasks)
    if not tasks:
        return {"R@5": float("nan"), "R@10": float("nan"), "n": 0}
    qrels = {t.id: {d: 1 for d in t.gold} for t in tasks}
    sub = {t.id: runs[t.id] for t in tasks}
    agg = ir_measures.calc_aggregate([R @ 5, R @ 10], qrels, sub)
    return {"R@5": agg[R @ 5], "R@10": agg[R @ 10], "n": len(tasks)}


def with_followup(base: RetrievalConfig, **changes) -> RetrievalConfig:
    return replace(base, followup=replace(base.followup, **changes))


def report(retriever: HybridRetriever, tasks: list[Task]) -> dict:
    alone, _, _ = evaluate(retriever, tasks, use_conversation=False)
    convo, shifts, used = evaluate(retriever, tasks, use_conversation=True)
    subsets = {
        "all later turns": tasks,
        "Multi-Turn = Follow-up": [t for t in tasks if t.multi_turn == "Follow-up"],
        "Multi-Turn = Clarification": [t for t in tasks if t.multi_turn == "Clarification"],
        "Multi-Turn = N/A (topic change)": [t for t in tasks if t.multi_turn == "N/A"],
        "detector: shift": [t for t in tasks if shifts[t.id]],
        "detector: no shift": [t for t in tasks if not shifts[t.id]],
    }
    rows = {}
    for name, subset in subsets.items():
        rows[name] = {"alone": recall(alone, subset), "conversation": recall(convo, subset)}
    na = subsets["Multi-Turn = N/A (topic change)"]
    detector = {
        "flagged": sum(shifts.values()),
        "flagged among N/A": sum(shifts[t.id] for t in na),
        "N/A": len(na),
        "flagged among Follow-up/Clarification": sum(
            shifts[t.id] for t in tasks if t.multi_turn != "N/A"
        ),
        "used context": sum(used.values()),
    }
    return {"rows": rows, "detector": detector}


def print_table(result: dict) -> None:
    print(
        f"{'subset':34s} {'n':>4s} | {'alone R@5':>9s} {'R@10':>6s} | {'conv R@5':>8s} {'R@10':>6s}"
    )
    for name, row in result["rows"].items():
        a, c = row["alone"], row["conversation"]
        print(
            f"{name:34s} {a['n']:4d} | {a['R@5']:9.4f} {a['R@10']:6.4f} | "
            f"{c['R@5']:8.4f} {c['R@10']:6.4f}"
        )
    print("detector:", result["detector"])


GRID = {
    "dense_weight": [0.3, 0.5, 1.0],
    "lexical_weight": [0.3, 0.6, 1.0],
    "decay": [0.5, 1.0],
    "answer_term_weight": [0.0, 0.5],
    "hard_shift_similarity": [0.0, 0.15],
}


def tune(index, embedder, tasks: list[Task], base: RetrievalConfig) -> list[dict]:
    results = []
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        changes = dict(zip(keys, values, strict=True))
        config = with_followup(base, **changes)
        runs, shifts, _ = evaluate(HybridRetriever(index, embedder, config), tasks, True)
        score = recall(runs, tasks)
        na = recall(runs, [t for t in tasks if t.multi_turn == "N/A"])
        results.append({**changes, **score, "N/A R@10": na["R@10"], "shifts": sum(shifts.values())})
        log.info("%s -> R@5 %.4f R@10 %.4f", changes, score["R@5"], score["R@10"])
    results.sort(key=lambda r: (-r["R@10"], -r["R@5"]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune", action="store_true", help="grid over the follow-up knobs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    documents, tasks = load_tasks(DATA / "mtrag" / "reference.jsonl")
    embedder = CachingEmbedder("mtrag")
    index = open_index(documents, embedder)
    base = RetrievalConfig()
    base = replace(base, policy=PolicyConfig(fused_k=DEPTH, guideline_k=0, research_k=0))
    # Encode every text once up front (cached on disk; later runs load no model).
    texts = {t.question for t in tasks} | {
        turn.question for t in tasks for turn in t.conversation.turns
    }
    embedder.encode_queries(sorted(texts))
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.tune:
        start = time.perf_counter()
        results = tune(index, embedder, tasks, base)
        print(
            f"{'rank':>4s} " + " ".join(f"{k:>18s}" for k in GRID) + "    R@5   R@10  N/A@10 shifts"
        )
        for rank, r in enumerate(results[:15], 1):
            print(
                f"{rank:4d} "
                + " ".join(f"{r[k]:18}" for k in GRID)
                + f" {r['R@5']:.4f} {r['R@10']:.4f} {r['N/A R@10']:.4f} {r['shifts']:4d}"
            )
        out = RESULTS / "followup_mtrag_tune.json"
        out.write_text(json.dumps({"grid": GRID, "results": results}, indent=1))
        print(f"{len(results)} settings in {time.perf_counter() - start:.0f}s; wrote {out}")
        return
    retriever = HybridRetriever(index, embedder, base)
    result = report(retriever, tasks)
    print_table(result)
    out = RESULTS / "followup_mtrag.json"
    payload = {
        "tasks_scored": len(tasks),
        "pool_documents": len(documents),
        "index_passages": len(index.passages),
        "config": json.loads(json.dumps(asdict(base), default=str)),
        "manifest": json.loads(index.manifest.to_json()),
        **result,
    }
    out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
