"""Follow-up retrieval on MTRAG-format conversations: recall@k by turn, with and without context.

MTRAG's ``reference.jsonl`` holds tasks, each the conversation so far (``input``: alternating
user and agent turns, ending with the user's question), its gold passages (``contexts`` with
``document_id``) and labels. The passage corpora were not shipped with the snapshot, so the
retrieval pool is every gold passage of every task (deduplicated by collection and document
id): each question must find its own gold passages among those of all the other
conversations, many of them on neighbouring topics.

Each task is run twice per system:

* **no context**: the query is the last user turn alone;
* **with context**: the retriever's follow-up query building gets the last user turn and the
  earlier turns (user question, agent answer): it adds salient context words to the BM25
  query, blends the earlier questions into the query vector, and falls back to the question
  alone when it judges the topic to have shifted (``HybridRetriever.evidence``).

Recall@5 and recall@10 over the task's gold documents are reported by turn (the number of the
user turn that is asked; turn 1 has no earlier turns, so both conditions coincide there).
Tasks without gold passages (unanswerable ones) are not scored.

Example:
    >>> data = load_mtrag(Path("../shared/data/mtrag/reference.jsonl"))
    >>> len(data.pool), len(data.scored_tasks)
    (717, 252)
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from corpus.types import Document, EvidenceTier, Passage
from eval.metrics import evaluate
from eval.runs import HybridFactory, SystemKind, SystemSpec, maxp
from eval.types import MetricTable, Qrels, Run
from retriever.types import Conversation, EmptyQueryError, Evidence, Filters, Turn

logger = logging.getLogger(__name__)

DATASET = "mtrag"
LICENCE = "Apache-2.0"
MEASURES: tuple[str, ...] = ("R@5", "R@10")
PASSAGE_DEPTH = 50
"""Passages a run reads per task before MaxP (the evidence list is widened to this: an
answer's is ``retrieval.top_k`` long, too short for R@10). It does not change how deep the
legs search, which is the served configuration's."""
DOC_DEPTH = 10  # documents kept: the deepest cut-off reported


class Condition(str, enum.Enum):
    NO_CONTEXT = "no_context"
    WITH_CONTEXT = "with_context"


@dataclass(frozen=True)
class MtragTask:
    """One MTRAG task: the last user turn of a conversation, its history and gold documents."""

    task_id: str
    conversation_id: str
    turn: int
    question: str
    history: tuple[Turn, ...]
    gold: tuple[str, ...]  # pool document ids (see pool_id)
    collection: str
    answerability: str
    multi_turn: str

    @property
    def conversation(self) -> Conversation:
        return Conversation(self.history)


@dataclass(frozen=True)
class MtragData:
    tasks: tuple[MtragTask, ...]
    pool: tuple[Document, ...]

    @property
    def scored_tasks(self) -> tuple[MtragTask, ...]:
        """Tasks with at least one gold passage."""
        return tuple(t for t in self.tasks if t.gold)

    def qrels(self) -> Qrels:
        return {t.task_id: {d: 1 for d in t.gold} for t in self.scored_tasks}


def pool_id(collection: str, document_id: str) -> str:
    """The pool's document id: collection and MTRAG document id (ids repeat across collections)."""
    return f"{collection}/{document_id}"


def load_mtrag(path: Path | str) -> MtragData:
    """Read MTRAG ``reference.jsonl`` tasks and build the pool of gold passages.

    ``path`` may be the file or its folder.

    Raises:
        ValueError: a line is not a task (the message names the line), or a task does not end
            with a user turn.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "reference.jsonl"
    tasks: list[MtragTask] = []
    pool: dict[str, Document] = {}
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                tasks.append(_task(row, pool))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{file}:{number}: {error}") from None
    logger.info("%d MTRAG tasks, %d pool passages", len(tasks), len(pool))
    return MtragData(tuple(tasks), tuple(pool.values()))


def _label(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value or "")


def _task(row: Mapping[str, Any], pool: dict[str, Document]) -> MtragTask:
    turns = row["input"]
    if not turns or turns[-1]["speaker"] != "user":
        raise ValueError(f"task {row.get('task_id')!r} does not end with a user turn")
    collection = str(row.get("Collection") or "unknown")
    history: list[Turn] = []
    pending: str | None = None
    for item in turns[:-1]:
        if item["speaker"] == "user":
            if pending is not None:
                history.append(Turn(pending))
            pending = str(item["text"])
        elif pending is not None:
            history.append(Turn(pending, answer=str(item["text"]).strip()))
            pending = None
    if pending is not None:
        history.append(Turn(pending))
    gold: list[str] = []
    for context in row.get("contexts") or ():
        key = pool_id(collection, str(context["document_id"]))
        text = str(context["text"]).strip()
        if key not in pool and text:
            pool[key] = Document(
                id=key,
                title="",
                text=text,
                tier=EvidenceTier.OTHER,
                source=collection,
                licence=LICENCE,
                dataset=DATASET,
            )
        if key in pool and key not in gold:
            gold.append(key)
    return MtragTask(
        task_id=str(row["task_id"]),
        conversation_id=str(row.get("conversation_id", "")),
        turn=len(history) + 1,
        question=str(turns[-1]["text"]).strip(),
        history=tuple(history),
        gold=tuple(gold),
        collection=collection,
        answerability=_label(row.get("answerability")),
        multi_turn=_label(row.get("Multi-Turn")),
    )


def pool_doc_id(passage: Passage) -> str:
    """Pool passages keep their document id as is."""
    return passage.document_id


class ConversationalRetriever(Protocol):
    """What a follow-up run needs: evidence for a question, optionally in a conversation.

    ``retriever.hybrid.HybridRetriever`` is one; its ``evidence`` builds the follow-up query
    (context words, blended query vector, topic-shift check) from the conversation.
    """

    def evidence(
        self,
        question: str,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
    ) -> Evidence: ...


def followup_retriever(spec: SystemSpec, hybrid: HybridFactory) -> ConversationalRetriever:
    """The hybrid retriever (built by ``hybrid``) searching like ``spec``, its evidence list
    widened to :data:`PASSAGE_DEPTH` passages.

    Every system goes through the hybrid retriever's follow-up path, so the two conditions
    differ only in the conversation passed: ``bm25`` is the hybrid under weighted fusion with
    the dense leg's weight at 0, ``dense`` the one with the lexical leg's weight at 0 (adaptive
    fusion sets its own weights, so a single leg needs weighted fusion). MTRAG passages share
    one tier and have no year, so the evidence policy keeps relevance order.
    """
    leg = {
        SystemKind.BM25: {"fusion": "weighted", "dense_weight": 0.0},
        SystemKind.DENSE: {"fusion": "weighted", "lexical_weight": 0.0},
    }
    return hybrid({**leg.get(spec.kind, {}), "policy.fused_k": PASSAGE_DEPTH, **spec.options})


@dataclass(frozen=True)
class FollowupRun:
    """One system under one condition: its run, per-task recall and the queries it searched."""

    system: str
    condition: Condition
    run: Run
    metrics: MetricTable
    queries: Mapping[str, str]
    topic_shifts: int = 0
    used_context: int = 0


def run_followup(
    system: str,
    retriever: ConversationalRetriever,
    tasks: Sequence[MtragTask],
    condition: Condition,
    *,
    progress: bool = False,
) -> FollowupRun:
    """Search every task's question, with its conversation under ``WITH_CONTEXT``."""
    run: Run = {}
    queries: dict[str, str] = {}
    shifts = used = 0
    label = f"{system}/{condition.value}"
    for task in tqdm(tasks, desc=label, unit="task", disable=not progress):
        conversation = (
            task.conversation if condition is Condition.WITH_CONTEXT and task.history else None
        )
        try:
            evidence = retriever.evidence(task.question, conversation)
        except EmptyQueryError:
            logger.warning("task %s has an empty question; it retrieves nothing", task.task_id)
            run[task.task_id], queries[task.task_id] = {}, ""
            continue
        shifts += evidence.topic_shift
        used += evidence.used_context
        queries[task.task_id] = evidence.standalone_query
        run[task.task_id] = maxp(evidence.fused, pool_doc_id, DOC_DEPTH)
    qrels = {t.task_id: {d: 1 for d in t.gold} for t in tasks if t.gold}
    table = evaluate(qrels, run, MEASURES)
    return FollowupRun(system, condition, run, table, queries, shifts, used)


def by_turn(
    table: MetricTable, tasks: Sequence[MtragTask], *, max_turn: int | None = None
) -> dict[int, dict[str, float]]:
    """Mean of each measure by turn (``n`` = tasks in the turn); turns above ``max_turn`` are
    pooled into ``max_turn``."""
    turn_of = {t.task_id: t.turn for t in tasks}
    groups: dict[int, list[str]] = {}
    for qid in table.query_ids:
        turn = turn_of[qid]
        if max_turn is not None:
            turn = min(turn, max_turn)
        groups.setdefault(turn, []).append(qid)
    out: dict[int, dict[str, float]] = {}
    for turn in sorted(groups):
        qids = groups[turn]
        row = {
            m: math.fsum(table.per_query[m][q] for q in qids) / len(qids) for m in table.measures
        }
        row["n"] = float(len(qids))
        out[turn] = row
    return out
