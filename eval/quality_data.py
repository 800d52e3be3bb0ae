"""Inputs of the quality benchmark: LiveQA-style questions or conversations with expectations.

Two JSONL formats, told apart by the first record of each file (:func:`detect_format`):

* **LiveQA questions** (``../shared/data/liveqa-med-dev/questions.jsonl``): ``id``, ``summary``
  (what is asked), ``focus`` (gold focus phrases), ``reference_answers`` (``[{answer, url,
  comment}]``), plus ``subject``, ``message``, ``paraphrase`` and ``types``, which are kept but not
  used. Each question is a conversation of one turn.
* **Conversations** (``eval/data/conversations.jsonl``): ``{"id", "turns": [{"q", ...}]}``; each
  turn may carry the expectations of :class:`Expectations` and a free-text ``note``. Optional
  per-turn ``focus`` and ``reference_answers`` are read as in the LiveQA format.

A malformed file is one :class:`ValueError` naming ``file:line``.

Example:
    >>> data = load_quality_set(Path("eval/data/conversations.jsonl"))
    >>> data.format.value, data.items[0].id
    ('conversations', 'b12-ferritin#1')
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from eval.quality_metrics import mentions


class InputFormat(str, enum.Enum):
    LIVEQA = "liveqa"
    CONVERSATIONS = "conversations"


@dataclass(frozen=True)
class ReferenceAnswer:
    """A gold answer text (LiveQA ``reference_answers``)."""

    answer: str
    url: str = ""
    comment: str = ""


@dataclass(frozen=True)
class Expectations:
    """What a correct answer to one conversation turn must do (docs/eval.md has the format).

    Attributes:
        lead_mentions: groups of terms; every group needs one of its terms in the lead
            (quotes and evidence-gap text; phrase match on stemmed tokens).
        lead_excludes: terms the lead must not mention.
        abstain: the answer must (``True``) or must not (``False``) abstain.
        topic_shift: the engine must (not) judge the turn a change of topic.
        standalone_mentions: groups of terms, as ``lead_mentions``, on the standalone query.
        gap_ok: a lead that opens with an evidence-gap statement is acceptable (else it fails),
            and stands in for ``lead_has_amount``.
        lead_has_amount: the lead's quotes state an amount with a unit.
        no_repeat: no quote repeated from an earlier turn (default ``True``).

    Example:
        >>> Expectations.from_dict({"lead_mentions": [["b12", "cobalamin"]], "abstain": False})
        Expectations(lead_mentions=(('b12', 'cobalamin'),), lead_excludes=(), abstain=False, ...)
    """

    lead_mentions: tuple[tuple[str, ...], ...] = ()
    lead_excludes: tuple[str, ...] = ()
    abstain: bool | None = None
    topic_shift: bool | None = None
    standalone_mentions: tuple[tuple[str, ...], ...] = ()
    gap_ok: bool = False
    lead_has_amount: bool = False
    no_repeat: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expectations:
        """Read the expectation keys of a turn (other keys are ignored here).

        Raises:
            ValueError: a value of the wrong shape, naming the key.
        """
        values: dict[str, Any] = {}
        for key in ("lead_mentions", "standalone_mentions"):
            if key in data:
                values[key] = tuple(tuple(_strings(g, key)) for g in _list(data[key], key))
        if "lead_excludes" in data:
            values["lead_excludes"] = tuple(_strings(data["lead_excludes"], "lead_excludes"))
        for key in ("abstain", "topic_shift", "gap_ok", "lead_has_amount", "no_repeat"):
            if key in data:
                if not isinstance(data[key], bool):
                    raise ValueError(f"{key!r} must be true or false, got {data[key]!r}")
                values[key] = data[key]
        return cls(**values)


TURN_KEYS = frozenset(f.name for f in fields(Expectations)) | {
    "q",
    "note",
    "focus",
    "reference_answers",
}


@dataclass(frozen=True)
class QualityItem:
    """One question to ask: a LiveQA question, or one turn of a conversation.

    ``id`` is the question id, or ``<conversation id>#<turn>`` (turns count from 1).
    """

    id: str
    conversation: str
    turn: int
    question: str
    focus: tuple[str, ...] = ()
    references: tuple[ReferenceAnswer, ...] = ()
    expectations: Expectations | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QualitySet:
    """The items of one input file, in file order; a conversation's turns are consecutive."""

    path: Path
    format: InputFormat
    items: tuple[QualityItem, ...]

    @property
    def conversations(self) -> tuple[tuple[QualityItem, ...], ...]:
        """The items grouped by conversation, in order."""
        groups: dict[str, list[QualityItem]] = {}
        for item in self.items:
            groups.setdefault(item.conversation, []).append(item)
        return tuple(tuple(g) for g in groups.values())


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{key!r} must be a list, got {type(value).__name__}")
    return value


def _strings(value: Any, key: str) -> list[str]:
    items = _list(value, key)
    if not all(isinstance(v, str) and v.strip() for v in items) or not items:
        raise ValueError(f"{key!r} must be a non-empty list of non-empty strings")
    return items


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"missing or empty {key!r}")
    return value.strip()


def _references(record: Mapping[str, Any]) -> tuple[ReferenceAnswer, ...]:
    out = []
    for ref in _list(record.get("reference_answers", []), "reference_answers"):
        if not isinstance(ref, dict):
            raise ValueError("'reference_answers' must hold objects with an 'answer'")
        text = ref.get("answer")
        if isinstance(text, str) and text.strip():
            out.append(
                ReferenceAnswer(
                    text.strip(), str(ref.get("url") or ""), str(ref.get("comment") or "")
                )
            )
    return tuple(out)


def _focus(record: Mapping[str, Any]) -> tuple[str, ...]:
    value = record.get("focus", [])
    if isinstance(value, str):
        value = [value]
    return tuple(v.strip() for v in _list(value, "focus") if isinstance(v, str) and v.strip())


def detect_format(record: Mapping[str, Any]) -> InputFormat:
    """Conversations have ``turns``; LiveQA questions have ``summary``.

    Raises:
        ValueError: neither.
    """
    if "turns" in record:
        return InputFormat.CONVERSATIONS
    if "summary" in record:
        return InputFormat.LIVEQA
    raise ValueError(
        "cannot tell the format: expected 'turns' (conversations) or 'summary' (LiveQA questions)"
    )


def _liveqa(record: Mapping[str, Any]) -> list[QualityItem]:
    qid = str(record.get("id") or "").strip()
    if not qid:
        raise ValueError("missing 'id'")
    kept = {k: record[k] for k in ("subject", "message", "paraphrase", "types") if k in record}
    return [
        QualityItem(
            id=qid,
            conversation=qid,
            turn=1,
            question=_text(record, "summary"),
            focus=_focus(record),
            references=_references(record),
            extra=kept,
        )
    ]


def _conversation(record: Mapping[str, Any]) -> list[QualityItem]:
    cid = str(record.get("id") or "").strip()
    if not cid:
        raise ValueError("missing 'id'")
    turns = _list(record.get("turns"), "turns")
    if not turns:
        raise ValueError(f"conversation {cid!r} has no turns")
    items = []
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise ValueError(f"turn {number} of {cid!r} is not an object")
        unknown = sorted(set(turn) - TURN_KEYS)
        if unknown:
            raise ValueError(f"turn {number} of {cid!r}: unknown key(s) {unknown}")
        try:
            expectations = Expectations.from_dict(turn)
            question = _text(turn, "q")
        except ValueError as error:
            raise ValueError(f"turn {number} of {cid!r}: {error}") from None
        items.append(
            QualityItem(
                id=f"{cid}#{number}",
                conversation=cid,
                turn=number,
                question=question,
                focus=_focus(turn),
                references=_references(turn),
                expectations=expectations,
                note=str(turn.get("note") or ""),
            )
        )
    return items


_READERS: dict[InputFormat, Callable[[Mapping[str, Any]], list[QualityItem]]] = {
    InputFormat.LIVEQA: _liveqa,
    InputFormat.CONVERSATIONS: _conversation,
}


def load_quality_set(path: Path | str) -> QualitySet:
    """Read a LiveQA question file or a conversation file (format from the first record).

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``file:line: problem`` for an empty file, a line that is not a JSON object,
            a record of the other format, a missing field or a duplicate id.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such file")
    fmt: InputFormat | None = None
    items: list[QualityItem] = []
    seen: set[str] = set()
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{file}:{number}: malformed JSON: {error.msg}") from None
            try:
                if not isinstance(record, dict):
                    raise ValueError(f"expected a JSON object, got {type(record).__name__}")
                found = detect_format(record)
                if fmt is None:
                    fmt = found
                elif found is not fmt:
                    raise ValueError(f"a {found.value} record in a {fmt.value} file")
                new = _READERS[fmt](record)
                if new[0].conversation in seen:
                    raise ValueError(f"duplicate id {new[0].conversation!r}")
                seen.add(new[0].conversation)
                items.extend(new)
            except ValueError as error:
                raise ValueError(f"{file}:{number}: {error}") from None
    if fmt is None:
        raise ValueError(f"{file}:1: empty file: no questions or conversations")
    return QualitySet(file, fmt, tuple(items))


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class TurnCheck:
    """The verdict on one turn: passed when no expectation failed."""

    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def check_turn(
    expectations: Expectations,
    *,
    lead_text: str,
    lead_quotes: str,
    lead_opens_with_gap: bool,
    standalone_query: str,
    abstained: bool,
    topic_shift: bool,
    repeated: Sequence[str],
    has_amount: Callable[[str], bool | None],
) -> TurnCheck:
    """Check every expectation of a turn against what its answer did; each failure says why.

    ``lead_text`` is the lead with evidence-gap text, ``lead_quotes`` its quotes only.
    ``has_amount`` returns ``None`` when it cannot tell (the failure then says so).
    """
    e = expectations
    failures: list[str] = []
    if e.abstain is not None and abstained != e.abstain:
        failures.append("abstained" if abstained else "did not abstain")
    if e.topic_shift is not None and topic_shift != e.topic_shift:
        failures.append("topic shift detected" if topic_shift else "no topic shift detected")
    for group in e.lead_mentions:
        if not any(mentions(lead_text, term) for term in group):
            failures.append(f"lead does not mention {' / '.join(group)}")
    for term in e.lead_excludes:
        if mentions(lead_text, term):
            failures.append(f"lead mentions excluded {term!r}")
    for group in e.standalone_mentions:
        if not any(mentions(standalone_query, term) for term in group):
            failures.append(f"standalone query {standalone_query!r} lacks {' / '.join(group)}")
    gap_lead = lead_opens_with_gap
    if gap_lead and not e.gap_ok:
        failures.append("lead is an evidence-gap statement")
    if e.lead_has_amount and not (e.gap_ok and gap_lead):
        found = has_amount(lead_quotes)
        if found is None:
            failures.append("cannot check an amount: answer.typefit.has_amount is missing")
        elif not found:
            failures.append("no amount with a unit in the lead")
    if e.no_repeat and repeated:
        failures.append(f"{len(repeated)} quote(s) repeated from earlier turns")
    return TurnCheck(tuple(failures))
