"""Calibrate the abstention threshold on MTRAG-UN's answerability labels.

Superseded for the served rule: abstention is now a logistic model over several features,
calibrated and cross-validated by benchmarks/abstention_cv.py. This script still reports how
well single features separate the labels (in-sample) and the old single-feature rule
(``ABSTAIN_THRESHOLD``, now the relevance floor of the baseline composer), and its
``load`` and ``pool_engine`` are shared with the CV script.

Each MTRAG-UN generation task is a conversation whose last user question is labelled
ANSWERABLE, PARTIAL, UNANSWERABLE or UNDERSPECIFIED (left out here: it calls for a clarifying
question, not for abstention). The pool is every gold context of every task (717 passages of
ClapNQ, IBM Cloud and FiQA). Relevance features per task:

* ``engine_conversation`` (the run-time feature): the real engine over an index of the pool
  (built once under var/cache/abstention_mtrag/index with the index package) retrieves
  evidence for the last user turn *in its conversation* (the earlier user turns and agent
  answers), exactly as ``Engine.answer`` does, and the feature is the best candidate-sentence
  score of that evidence (``ExtractiveComposer.prepare(...).best``);
* ``engine_last_turn``: the same without the conversation;
* for comparison, over the top ``--top-k`` pool passages by dense cosine with the last turn:
  ``passage_cosine`` (best passage cosine), ``sentence_cosine`` (best sentence cosine) and
  ``sentence_relevance`` (best :func:`answer.compose.relevance`).

A task is predicted unanswerable when the feature is below a threshold. For each feature the
F1-best and F0.5-best thresholds for "UNANSWERABLE" are reported; the run-time feature's
F0.5-best threshold is the abstention threshold. The weak-evidence threshold is the F1-best cut
(not below the abstention one) for "not fully answerable" (UNANSWERABLE or PARTIAL). Results
go to var/results/abstention.json.

Embeddings and the pool index are cached under var/cache/abstention_mtrag/ (about 10 minutes
the first time on this busy machine, then about 3); run with ``nice``.

Usage:
    nice python benchmarks/abstention_mtrag.py [--top-k 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from answer.abstain import ABSTAIN_THRESHOLD, WEAK_THRESHOLD  # noqa: E402
from answer.compose import SEMANTIC_WEIGHT, relevance  # noqa: E402
from answer.engine import IndexEngine, build_engine  # noqa: E402
from answer.sentences import SentenceBank  # noqa: E402
from answer.settings import Settings  # noqa: E402
from answer.terms import content_terms, overlap  # noqa: E402
from corpus.types import Document, EvidenceTier, Passage, passage_id  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embedder import MODEL_NAME, SentenceTransformerEmbedder  # noqa: E402
from index.encoders import backend_of  # noqa: E402
from index.types import Embedder  # noqa: E402
from retriever.types import Conversation, Turn  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "mtrag" / "reference.jsonl"
CACHE = ROOT / "var" / "cache" / "abstention_mtrag"
RESULTS = ROOT / "var" / "results" / "abstention.json"
LABELS = ("ANSWERABLE", "PARTIAL", "UNANSWERABLE")
# F-beta for the abstention threshold: beta 0.5 counts precision twice. A wrong abstention
# withholds evidence the index has; a wrong answer still quotes real, cited sentences under a
# weak-evidence notice, so the cost of the two errors is not equal.
BETA = 0.5
# The feature the engine computes at run time: the best sentence score of the evidence that the
# real engine retrieves for the question in its conversation.
RUNTIME_FEATURE = "engine_conversation"

log = logging.getLogger("abstention_mtrag")


@dataclass(frozen=True)
class Task:
    task_id: str
    query: str
    label: str
    history: tuple[Turn, ...] = ()  # the earlier turns: user question and agent answer


def load(path: Path) -> tuple[list[Task], list[Passage]]:
    """Tasks with a usable label, and the pool of all gold contexts (first text per id)."""
    tasks: list[Task] = []
    pool: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for context in row["contexts"]:
                pool.setdefault(context["document_id"], context["text"])
            label = row["answerability"][0]
            if label not in LABELS:
                continue
            turns = row["input"]
            users = [turn["text"] for turn in turns if turn["speaker"] == "user"]
            history: list[Turn] = []
            for turn in turns[:-1]:
                if turn["speaker"] == "user":
                    history.append(Turn(question=turn["text"]))
                elif history:
                    history[-1] = Turn(question=history[-1].question, answer=turn["text"])
            tasks.append(Task(row["task_id"], users[-1], label, tuple(history)))
    passages = [
        Passage(
            id=passage_id(doc_id, 0, len(text)),
            document_id=doc_id,
            text=text,
            start=0,
            end=len(text),
            section="",
            title="",
            tier=EvidenceTier.OTHER,
            source="MTRAG",
            licence="Apache-2.0",
            dataset="mtrag",
        )
        for doc_id, text in sorted(pool.items())
    ]
    return tasks, passages


def cached_encode(
    kind: str, texts: Sequence[str], embedder: SentenceTransformerEmbedder, *, query: bool
) -> np.ndarray:
    """Encode ``texts`` once; the file name carries a hash of the model and the texts."""
    digest = hashlib.sha256(embedder.model_name.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    path = CACHE / f"{kind}-{digest.hexdigest()[:16]}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path, allow_pickle=False)
        return cached
    started = time.perf_counter()
    encode = embedder.encode_queries if query else embedder.encode_documents
    vectors = encode(list(texts))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    log.info("encoded %d %s in %.0f s -> %s", len(texts), kind, time.perf_counter() - started, path)
    return vectors


def f_beta(precision: float, recall: float, beta: float) -> float:
    """F-beta: beta < 1 weighs precision more (beta = 0.5: precision counts twice)."""
    if precision == 0 and recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def pool_engine(pool: Sequence[Passage], embedder: Embedder, threads: int) -> IndexEngine:
    """The real engine over an index of the pool (built once under var/cache), so the feature
    is computed exactly as at run time: hybrid retrieval, evidence policy, sentence scoring."""
    path = CACHE / (
        "index" if embedder.model_name == MODEL_NAME else f"index-{backend_of(embedder.model_name)}"
    )
    if not (path / "manifest.json").is_file():
        documents = [
            Document(
                id=p.document_id,
                title="",
                text=p.text,
                tier=EvidenceTier.OTHER,
                source="MTRAG",
                licence="Apache-2.0",
                dataset="mtrag",
            )
            for p in pool
            if p.text.strip()
        ]
        build_index(documents, path, embedder, progress=True)
    return build_engine(
        Settings.model_validate(
            {
                "index": {"path": path},
                "embedder": {"threads": threads},
                "answer": {"sentence_cache_dir": CACHE},
            }
        )
    )


def sweep(scores: np.ndarray, positive: np.ndarray, beta: float = 1.0) -> dict[str, float]:
    """The F-beta-best threshold for predicting ``positive`` when ``score < threshold``."""
    best = {"threshold": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "f_beta": 0.0}
    for threshold in np.unique(np.round(scores, 3)):
        cut = float(threshold) + 0.0005  # "below" includes the value itself
        predicted = scores < cut
        tp = int(np.sum(predicted & positive))
        if tp == 0:
            continue
        precision = tp / int(np.sum(predicted))
        recall = tp / int(np.sum(positive))
        f1 = 2 * precision * recall / (precision + recall)
        score = f_beta(precision, recall, beta)
        if score > best["f_beta"] + 1e-12:
            best = {
                "threshold": round(cut, 3),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "f_beta": score,
            }
    return best


def at(scores: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of ``score < threshold`` as a predictor of ``positive``."""
    predicted = scores < threshold
    tp = int(np.sum(predicted & positive))
    precision = tp / max(1, int(np.sum(predicted)))
    recall = tp / max(1, int(np.sum(positive)))
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1}


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive scores *below* a random negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    below = (pos[:, None] < neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(below / (len(pos) * len(neg)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top-k", type=int, default=8, help="passages per query (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--data", type=Path, default=DATA, help="MTRAG reference.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    tasks, pool = load(args.data)
    embedder = SentenceTransformerEmbedder.load(threads=args.threads)
    passage_vectors = cached_encode(
        "passages", [p.text.strip() for p in pool], embedder, query=False
    )
    query_vectors = cached_encode("queries", [t.query for t in tasks], embedder, query=True)

    bank = SentenceBank(embedder)
    bank_path = CACHE / "sentences.npz"
    bank.load(bank_path)
    if bank.warm(pool, progress=True):
        bank.save(bank_path)
    entries = bank.entries(pool)

    features: dict[str, list[float]] = {
        "passage_cosine": [],
        "sentence_cosine": [],
        "sentence_relevance": [],
    }
    engine = pool_engine(pool, embedder, args.threads)
    for task in tasks:
        for name, conversation in (
            ("engine_last_turn", None),
            ("engine_conversation", Conversation(task.history)),
        ):
            evidence = engine.retrieve(task.query, conversation=conversation)
            top_score = engine.composer.prepare(evidence).best
            features.setdefault(name, []).append(-1.0 if top_score is None else top_score)

    for task, query_vector in zip(tasks, query_vectors, strict=True):
        cosines = passage_vectors @ query_vector
        top = np.argsort(-cosines, kind="stable")[: args.top_k]
        query_terms = content_terms(task.query)
        best_cos, best_rel = -1.0, -1.0
        for row in top.tolist():
            entry = entries[row]
            if not entry.spans:
                continue
            sentence_cosines = (entry.vectors @ query_vector).tolist()
            for span, cosine in zip(entry.spans, sentence_cosines, strict=True):
                best_cos = max(best_cos, cosine)
                rel = relevance(cosine, overlap(query_terms, content_terms(span.text)))
                best_rel = max(best_rel, rel)
        features["passage_cosine"].append(float(cosines[top[0]]))
        features["sentence_cosine"].append(best_cos)
        features["sentence_relevance"].append(best_rel)

    labels = np.array([t.label for t in tasks])
    unanswerable = labels == "UNANSWERABLE"
    not_full = labels != "ANSWERABLE"
    counts = {label: int(np.sum(labels == label)) for label in LABELS}
    print(
        f"MTRAG-UN tasks: {counts} (UNDERSPECIFIED left out); pool {len(pool)} passages; "
        f"top-{args.top_k} by dense cosine; query = last user turn"
    )
    print()
    print("abstain = feature below threshold; positive class = UNANSWERABLE")
    header = (
        f"{'feature':<20} {'AUC':>6} {'criterion':>9} {'threshold':>9} {'P':>6} {'R':>6} {'F1':>6}"
    )
    print(header)
    report: dict[str, object] = {"features": {}}
    for name, values in features.items():
        scores = np.array(values)
        area = auc(scores, unanswerable)
        row_report: dict[str, object] = {"auc": area}
        for criterion, beta in (("F1", 1.0), ("F0.5", BETA)):
            best = sweep(scores, unanswerable, beta)
            row_report[criterion] = best
            print(
                f"{name:<20} {area:6.3f} {criterion:>9} {best['threshold']:9.3f} "
                f"{best['precision']:6.3f} {best['recall']:6.3f} {best['f1']:6.3f}"
            )
        report["features"][name] = row_report  # type: ignore[index]

    runtime = np.array(features[RUNTIME_FEATURE])
    chosen = sweep(runtime, unanswerable, BETA)
    masked = np.where(runtime < chosen["threshold"], -1.0, runtime)
    weak = sweep(masked, not_full)
    weak_threshold = max(weak["threshold"], chosen["threshold"])
    in_force = at(runtime, unanswerable, ABSTAIN_THRESHOLD)
    answerable = labels == "ANSWERABLE"
    false_abstentions = float(np.mean(runtime[answerable] < ABSTAIN_THRESHOLD))
    weak_share = float(
        np.mean((runtime[answerable] >= ABSTAIN_THRESHOLD) & (runtime[answerable] < WEAK_THRESHOLD))
    )
    print()
    print(f"run-time feature: {RUNTIME_FEATURE} (semantic weight {SEMANTIC_WEIGHT});")
    print(f"criterion F{BETA:g} (precision counts twice: abstaining withholds real evidence)")
    print(
        f"  calibrated: abstain below {chosen['threshold']:.3f} (P {chosen['precision']:.3f}, "
        f"R {chosen['recall']:.3f}, F1 {chosen['f1']:.3f}); weak notice below "
        f"{weak_threshold:.3f} (F1 {weak['f1']:.3f} for UNANSWERABLE or PARTIAL)"
    )
    print(
        f"  old rule (answer/abstain.py): ABSTAIN_THRESHOLD={ABSTAIN_THRESHOLD}, "
        f"WEAK_THRESHOLD={WEAK_THRESHOLD}: abstention P {in_force['precision']:.3f}, "
        f"R {in_force['recall']:.3f}, F1 {in_force['f1']:.3f}; ANSWERABLE tasks abstained "
        f"{false_abstentions:.1%}, flagged weak {weak_share:.1%}"
    )
    for label in LABELS:
        values = runtime[labels == label]
        quartiles = ", ".join(f"{q:.3f}" for q in np.percentile(values, [25, 50, 75]))
        print(f"  {label:<13} {RUNTIME_FEATURE} quartiles: {quartiles}")

    report.update(
        {
            "command": "nice python benchmarks/abstention_mtrag.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "data": "../shared/data/mtrag/reference.jsonl",
            "tasks": counts,
            "pool_passages": len(pool),
            "top_k": args.top_k,
            "query": "last user turn",
            "model": embedder.model_name,
            "semantic_weight": SEMANTIC_WEIGHT,
            "chosen_feature": RUNTIME_FEATURE,
            "criterion": f"F{BETA:g}",
            "calibrated": {
                "abstain_threshold": chosen["threshold"],
                "weak_threshold": weak_threshold,
                "abstention": chosen,
            },
            "in_force": {
                "abstain_threshold": ABSTAIN_THRESHOLD,
                "weak_threshold": WEAK_THRESHOLD,
                "abstention": in_force,
                "answerable_abstained": false_abstentions,
                "answerable_flagged_weak": weak_share,
            },
            "per_task": [
                {"task_id": t.task_id, "label": t.label}
                | {name: round(values[i], 4) for name, values in features.items()}
                for i, t in enumerate(tasks)
            ],
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
