"""The answer-quality benchmark: composers and passage baselines side by side on one question set.

Each *composer* system is the real engine (``build_engine`` with ``answer.composer`` set) asking
every question of a :class:`eval.quality_data.QualitySet`; a conversation's turns are asked in
order, each with the conversation of that system's own earlier answers
(:func:`answer.engine.as_turn`). Two *passage* baselines are built from the retrieval of the
first composer's engine, with that composer's conversation:

* ``top1-passage``: the best fused passage's text, cut to the composed answer's length in words;
* ``top3-passages``: the three best passages' texts in order, cut the same way.

A baseline is scored as an answer whose lead (bottom line) is the first sentence of its text
and whose quotes are the pieces of each passage, so every measure of
:mod:`eval.quality_metrics` applies unchanged. When the composed answer is empty (it abstained)
the baselines are empty too: the comparison is at equal length.

Example:
    >>> data = load_quality_set(Path("eval/data/conversations.jsonl"))
    >>> answers = answer_all(engine, data)  # doctest: +SKIP
    >>> scores = score_system("focused", data, answers)  # doctest: +SKIP
    >>> summarise(scores)["pass_rate"]  # doctest: +SKIP
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Protocol

from tqdm import tqdm

from answer.assemble import reference_for
from answer.render import plain_text
from answer.schema import Answer, AnswerSection, SectionKind, Sentence
from corpus.types import Passage
from eval.quality_data import (
    QualityItem,
    QualitySet,
    TurnCheck,
    check_turn,
    load_quality_set,
)
from eval.quality_metrics import (
    Coverage,
    QuestionView,
    RougeScores,
    analyse,
    anaphoric_quotes,
    coverage,
    first_sentence,
    has_amount,
    juxtapositions,
    lead_opens_with_gap,
    lead_text,
    quotes,
    repeated_quotes,
    rouge,
    type_fit,
)
from eval.significance import compare
from eval.types import Comparison
from retriever.types import Conversation, Evidence

__all__ = [
    "BASELINE_DEPTHS",
    "ItemScore",
    "QualityEngine",
    "SystemKind",
    "answer_all",
    "load_quality_set",
    "passage_answer",
    "passage_baselines",
    "relative_gain",
    "rouge_comparisons",
    "score_system",
    "summarise",
]

logger = logging.getLogger(__name__)

BASELINE_DEPTHS: Mapping[str, int] = {"top1-passage": 1, "top3-passages": 3}
"""Passage baselines: name -> how many of the best fused passages are concatenated."""

GAIN_TARGET = 0.25
"""The focused composer should beat the top-1 passage by this much in ROUGE-1 recall."""


class SystemKind(str, enum.Enum):
    COMPOSER = "composer"  # the engine's answer
    PASSAGES = "passages"  # retrieved passage text cut to the composed answer's length


class QualityEngine(Protocol):
    """What the benchmark needs from an engine (:class:`answer.engine.Engine` is one)."""

    def answer(self, question: str, *, conversation: Conversation | None = None) -> Answer: ...

    def retrieve(self, question: str, *, conversation: Conversation | None = None) -> Evidence: ...


def _conversation(earlier: Sequence[Answer]) -> Conversation | None:
    from answer.engine import as_turn

    return Conversation(tuple(as_turn(a) for a in earlier)) if earlier else None


def answer_all(
    engine: QualityEngine, data: QualitySet, *, progress: bool = False, label: str = "answers"
) -> dict[str, Answer]:
    """Every item's answer, each turn asked in the conversation of the earlier answers."""
    answers: dict[str, Answer] = {}
    bar = tqdm(total=len(data.items), desc=label, unit="q", disable=not progress)
    for turns in data.conversations:
        earlier: list[Answer] = []
        for item in turns:
            answer = engine.answer(item.question, conversation=_conversation(earlier))
            answers[item.id] = answer
            earlier.append(answer)
            bar.update()
    bar.close()
    return answers


def word_count(text: str) -> int:
    return len(text.split())


def passage_answer(
    question: str, standalone_query: str, passages: Sequence[Passage], words: int
) -> Answer:
    """A baseline answer: the passages' texts in order, cut to ``words`` words in all.

    The lead is the first sentence of the cut text; each passage's piece is one quote citing it.

    Example:
        >>> passage_answer("q", "q", [passage], 5).sections[0].sentences[0].citations
        [1]
    """
    pieces: list[tuple[Passage, str]] = []
    left = words
    for passage in passages:
        if left <= 0:
            break
        taken = passage.text.split()[:left]
        left -= len(taken)
        if taken:
            pieces.append((passage, " ".join(taken)))
    if not pieces:
        return Answer(
            question=question,
            standalone_query=standalone_query,
            abstained=True,
            sections=[],
            references=[],
        )
    references = [reference_for(n, p) for n, (p, _) in enumerate(pieces, start=1)]
    head = first_sentence(pieces[0][1])
    rest = [(1, pieces[0][1][len(head) :].strip())] + [
        (n, text) for n, (_, text) in enumerate(pieces[1:], start=2)
    ]
    sections = [
        AnswerSection(
            kind=SectionKind.BOTTOM_LINE,
            title="Bottom line",
            sentences=[Sentence(text=head, citations=[1])],
        )
    ]
    body = [Sentence(text=text, citations=[n]) for n, text in rest if text]
    if body:
        sections.append(
            AnswerSection(kind=SectionKind.GUIDELINES, title="Passages", sentences=body)
        )
    return Answer(
        question=question,
        standalone_query=standalone_query,
        generator="passages",
        sections=sections,
        references=references,
    )


def passage_baselines(
    engine: QualityEngine,
    data: QualitySet,
    composed: Mapping[str, Answer],
    *,
    depths: Mapping[str, int] = BASELINE_DEPTHS,
    progress: bool = False,
) -> dict[str, dict[str, Answer]]:
    """The passage baselines: name -> item id -> answer, at the length of ``composed``.

    Retrieval is asked with the conversation of ``composed`` (the composer's own earlier
    answers), as the composer was.
    """
    out: dict[str, dict[str, Answer]] = {name: {} for name in depths}
    bar = tqdm(total=len(data.items), desc="baselines", unit="q", disable=not progress)
    for turns in data.conversations:
        earlier: list[Answer] = []
        for item in turns:
            evidence = engine.retrieve(item.question, conversation=_conversation(earlier))
            reference = composed[item.id]
            words = word_count(plain_text(reference))
            for name, k in depths.items():
                passages = [s.passage for s in evidence.fused[:k]]
                out[name][item.id] = passage_answer(
                    item.question, evidence.standalone_query, passages, words
                )
            earlier.append(reference)
            bar.update()
    bar.close()
    return out


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ItemScore:
    """Every measure of one system's answer to one item."""

    item_id: str
    system: str
    question: str
    standalone_query: str
    abstained: bool
    topic_shift: bool
    words: int
    lead: str
    rouge: RougeScores | None
    coverage: Coverage | None
    focus_source: str  # "gold", "analyser" or "" (no focus)
    type_fit: bool | None
    quotes: int
    anaphoric: tuple[str, ...]
    juxtapositions: int
    repeated: tuple[str, ...]
    check: TurnCheck | None = None
    turn: int = 1

    def to_dict(self) -> dict[str, Any]:
        cov = self.coverage
        return {
            "id": self.item_id,
            "system": self.system,
            "turn": self.turn,
            "question": self.question,
            "standalone_query": self.standalone_query,
            "abstained": self.abstained,
            "topic_shift": self.topic_shift,
            "words": self.words,
            "lead": self.lead,
            "rouge1_recall": self.rouge.rouge1_recall if self.rouge else None,
            "rougeL_f1": self.rouge.rougeL_f1 if self.rouge else None,
            "focus": list(cov.focus) if cov else [],
            "focus_source": self.focus_source,
            "focus_covered_by_quotes": list(cov.by_quotes) if cov else [],
            "focus_covered_with_gaps": list(cov.with_gaps) if cov else [],
            "coverage_quotes": cov.quote_rate if cov else None,
            "coverage_with_gaps": cov.gap_rate if cov else None,
            "type_fit": self.type_fit,
            "quotes": self.quotes,
            "anaphoric_quotes": list(self.anaphoric),
            "juxtapositions": self.juxtapositions,
            "repeated_quotes": list(self.repeated),
            "passed": self.check.passed if self.check else None,
            "failures": list(self.check.failures) if self.check else [],
        }


def score_item(
    item: QualityItem,
    system: str,
    answer: Answer,
    earlier: Sequence[Answer] = (),
    *,
    view: QuestionView | None = None,
    check: bool = True,
) -> ItemScore:
    """Score one answer (``earlier``: the same system's answers to the earlier turns).

    ``view`` is the question analysis of the standalone query, for type fit and, without a gold
    focus, the focus. ``check``: evaluate the item's expectations (composer systems).
    """
    focus, source = item.focus, "gold" if item.focus else ""
    if not focus and view is not None and view.focus_names:
        focus, source = view.focus_names, "analyser"
    quoted = lead_text(answer, quotes_only=True)
    repeated = repeated_quotes(answer, earlier)
    verdict = None
    if check and item.expectations is not None:
        verdict = check_turn(
            item.expectations,
            lead_text=lead_text(answer),
            lead_quotes=quoted,
            lead_opens_with_gap=lead_opens_with_gap(answer),
            standalone_query=answer.standalone_query,
            abstained=answer.abstained,
            topic_shift=answer.topic_shift,
            repeated=repeated,
            has_amount=has_amount,
        )
    text = plain_text(answer)
    return ItemScore(
        item_id=item.id,
        system=system,
        question=item.question,
        standalone_query=answer.standalone_query,
        abstained=answer.abstained,
        topic_shift=answer.topic_shift,
        words=len(text.split()),
        lead=lead_text(answer),
        rouge=rouge(text, [r.answer for r in item.references]) if item.references else None,
        coverage=coverage(answer, focus) if focus else None,
        focus_source=source,
        type_fit=type_fit(view, quoted),
        quotes=len(quotes(answer)),
        anaphoric=anaphoric_quotes(answer),
        juxtapositions=len(juxtapositions(answer)),
        repeated=repeated,
        check=verdict,
        turn=item.turn,
    )


def score_system(
    system: str,
    data: QualitySet,
    answers: Mapping[str, Answer],
    *,
    check: bool = True,
) -> tuple[ItemScore, ...]:
    """Scores of one system's answers to every item, in item order."""
    scores = []
    for turns in data.conversations:
        earlier: list[Answer] = []
        for item in turns:
            answer = answers[item.id]
            view = analyse(answer.standalone_query.strip() or item.question)
            scores.append(score_item(item, system, answer, earlier, view=view, check=check))
            earlier.append(answer)
    return tuple(scores)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def summarise(scores: Sequence[ItemScore]) -> dict[str, Any]:
    """The overall figures of one system (means over the items where a measure applies)."""
    rouged = [s.rouge for s in scores if s.rouge is not None]
    # An abstention has no lead: coverage is over the answered items.
    covered = [s.coverage for s in scores if s.coverage is not None and not s.abstained]
    fits = [s.type_fit for s in scores if s.type_fit is not None]
    answered = [s for s in scores if not s.abstained]
    quote_total = sum(s.quotes for s in scores)
    later = [s for s in scores if s.turn > 1]
    checked = [s.check for s in scores if s.check is not None]
    return {
        "items": len(scores),
        "rouge1_recall": _mean([r.rouge1_recall for r in rouged]),
        "rougeL_f1": _mean([r.rougeL_f1 for r in rouged]),
        "rouge_items": len(rouged),
        "coverage_quotes": _mean([c.quote_rate or 0.0 for c in covered]),
        "coverage_with_gaps": _mean([c.gap_rate or 0.0 for c in covered]),
        "coverage_items": len(covered),
        "type_fit": _rate(sum(fits), len(fits)),
        "type_fit_items": len(fits),
        "quotes": quote_total,
        "anaphoric_quotes": sum(len(s.anaphoric) for s in scores),
        "anaphora_rate": _rate(sum(len(s.anaphoric) for s in scores), quote_total),
        "answers_with_anaphora": _rate(sum(bool(s.anaphoric) for s in answered), len(answered)),
        "juxtapositions": sum(s.juxtapositions for s in scores),
        "answers_with_juxtaposition": _rate(
            sum(s.juxtapositions > 0 for s in answered), len(answered)
        ),
        "repeated_quotes": sum(len(s.repeated) for s in later),
        "repeat_rate": _rate(sum(len(s.repeated) for s in later), sum(s.quotes for s in later)),
        "turns_with_repeats": sum(bool(s.repeated) for s in later),
        "abstentions": sum(s.abstained for s in scores),
        "abstention_rate": _rate(sum(s.abstained for s in scores), len(scores)),
        "mean_words": _mean([float(s.words) for s in scores]),
        "turns_checked": len(checked),
        "turns_passed": sum(c.passed for c in checked),
        "pass_rate": _rate(sum(c.passed for c in checked), len(checked)),
    }


def relative_gain(baseline: float | None, system: float | None) -> float | None:
    """``(system - baseline) / baseline``; ``None`` when either is missing or the baseline is 0.

    Example:
        >>> relative_gain(0.2, 0.25)
        0.25
    """
    if baseline is None or system is None or baseline == 0:
        return None
    return (system - baseline) / baseline


def rouge_comparisons(
    scores: Mapping[str, Sequence[ItemScore]], baseline: str, systems: Sequence[str]
) -> list[Comparison]:
    """Paired tests over items of each system against ``baseline``, on both ROUGE measures."""
    out: list[Comparison] = []
    if baseline not in scores:
        return out
    base = {s.item_id: s.rouge for s in scores[baseline] if s.rouge is not None}
    for name in systems:
        mine = {s.item_id: s.rouge for s in scores.get(name, ()) if s.rouge is not None}
        shared = sorted(set(base) & set(mine))
        if len(shared) < 2:
            continue
        for measure, get in (
            ("ROUGE-1 recall", attrgetter("rouge1_recall")),
            ("ROUGE-L F1", attrgetter("rougeL_f1")),
        ):
            out.append(
                compare(
                    measure,
                    baseline,
                    [get(base[q]) for q in shared],
                    name,
                    [get(mine[q]) for q in shared],
                )
            )
    return out


@dataclass(frozen=True)
class QualityRun:
    """Everything one benchmark run produced: per-system scores, summaries and comparisons."""

    data: QualitySet
    kinds: Mapping[str, SystemKind]
    scores: Mapping[str, tuple[ItemScore, ...]]
    comparisons: Sequence[Comparison] = ()
    notes: Sequence[str] = ()
    summaries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def systems(self) -> tuple[str, ...]:
        return tuple(self.scores)

    def summary(self, system: str) -> Mapping[str, Any]:
        return self.summaries.get(system) or summarise(self.scores[system])

    def gain(self, system: str = "focused", baseline: str = "top1-passage") -> float | None:
        """Relative ROUGE-1 recall gain of ``system`` over ``baseline``."""
        if system not in self.scores or baseline not in self.scores:
            return None
        return relative_gain(
            self.summary(baseline)["rouge1_recall"], self.summary(system)["rouge1_recall"]
        )

    def gain_at_equal_length(
        self, system: str = "focused", baseline: str = "top1-passage"
    ) -> tuple[float | None, int]:
        """:meth:`gain` over the answered items where the baseline is as long as the answer,
        and how many they are. A passage shorter than the answer it is cut to cannot match its
        length, so on the other items part of the gain is the answer's extra words."""
        if system not in self.scores or baseline not in self.scores:
            return None, 0
        theirs = {s.item_id: s for s in self.scores[baseline]}
        pairs = []
        for ours in self.scores[system]:
            base = theirs[ours.item_id]
            if ours.abstained or ours.rouge is None or base.rouge is None:
                continue
            if base.words >= ours.words:
                pairs.append((ours.rouge.rouge1_recall, base.rouge.rouge1_recall))
        if not pairs:
            return None, 0
        mine, theirs_ = (sum(column) / len(pairs) for column in zip(*pairs, strict=True))
        return relative_gain(theirs_, mine), len(pairs)


def build_run(
    data: QualitySet,
    answers: Mapping[str, Mapping[str, Answer]],
    kinds: Mapping[str, SystemKind],
    *,
    notes: Sequence[str] = (),
) -> QualityRun:
    """Score every system's answers, summarise them and compare composers with top-1.

    A note is added when two composers gave identical answers to every item (a sign that the
    engine ignores ``answer.composer``).
    """
    # Composers first, then the baselines, each group in the order given.
    order = sorted(answers, key=lambda n: kinds[n] is not SystemKind.COMPOSER)
    scores = {
        name: score_system(name, data, answers[name], check=kinds[name] is SystemKind.COMPOSER)
        for name in order
    }
    composers = [n for n in answers if kinds[n] is SystemKind.COMPOSER]
    extra = list(notes)
    for i, a in enumerate(composers):
        for b in composers[i + 1 :]:
            same = all(
                answers[a][q].model_dump(exclude={"timings_ms"})
                == answers[b][q].model_dump(exclude={"timings_ms"})
                for q in answers[a]
            )
            if same:
                extra.append(
                    f"Composers {a} and {b} gave identical answers to every item: check that "
                    "build_engine honours answer.composer."
                )
    comparisons = rouge_comparisons(scores, "top1-passage", composers)
    return QualityRun(
        data=data,
        kinds=dict(kinds),
        scores=scores,
        comparisons=comparisons,
        notes=tuple(extra),
        summaries={name: summarise(s) for name, s in scores.items()},
    )
