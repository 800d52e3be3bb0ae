"""Question analysis on LiveQA-Med dev: does :func:`retriever.question.analyze` find the type and
the focus the TREC annotators gave?

Data: ../shared/data/liveqa-med-dev/questions.jsonl (52 consumer health questions with gold
``focus`` and TREC ``types``). The ``summary`` field (the annotators' one-line rewrite of the
consumer's message) is analysed, without a vocabulary.

**The figures are in-sample.** The cue table, the word lists and the synonym table were tuned
while looking at these 52 questions (a dev split: tuning here is allowed, but nothing here
measures generalisation). No rule names a LiveQA entity outside the general synonym table.

Metrics:

* ``type_accuracy``: our main type is in the gold set, mapped by :data:`TREC_TO_OURS`.
* ``types_recall``: share of (mapped, deduplicated) gold types found anywhere in our types.
* ``focus_accuracy``: share of gold foci found. A gold focus is found when one of our focus
  concepts covers at least half of its content tokens (lower-cased, possessive and plural "s"
  dropped, hyphens split, stop words removed; the concept's name and terms both count), or by
  a synonym match (the concept is mentioned in the gold focus, or the gold focus, read as a
  concept, is mentioned in ours).
* ``focus_accuracy_typo_tolerant``: the same, but a token also matches a token of ours with a
  difflib ratio >= 0.8 (five letters or more). The gold foci copy the consumer's typos
  ("Gabamentine", "hydrocodene", "Ricketts"), which no analyser of the summary can echo.
* ``question_focus_accuracy``: share of questions whose every gold focus is found.
* ``focus_precision``: share of our concepts that match some gold focus (extra concepts do not
  count against focus accuracy, so this says how much else we pick up).

Usage:
    python benchmarks/question_analysis.py [--data PATH] [--out PATH]

Prints a per-question table and the totals; writes var/results/question_analysis.json.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever.concepts import Concept, concept, normalize  # noqa: E402
from retriever.question import QuestionType, analyze  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "liveqa-med-dev" / "questions.jsonl"
RESULTS = ROOT / "var" / "results" / "question_analysis.json"

QT = QuestionType
TREC_TO_OURS: dict[str, QuestionType] = {
    "CAUSE": QT.CAUSE,
    "TREATMENT": QT.TREATMENT,
    "DIAGNOSIS": QT.DIAGNOSIS,
    "INFORMATION": QT.DEFINITION,
    "SUSCEPTIBILITY": QT.RISK,
    "INHERITANCE": QT.RISK,
    # EFFECT questions ask how one thing bears on another ("relationship between Noonan
    # syndrome and polycystic renal disease", "effects of smoking on the digestive system").
    "EFFECT": QT.RELATION,
    "SYMPTOM": QT.SYMPTOMS,
    "SIDE_EFFECT": QT.SIDE_EFFECTS,
    "INTERACTION": QT.INTERACTION,
    "DOSAGE": QT.DOSAGE,
    "PROGNOSIS": QT.PROGNOSIS,
    "PREVENTION": QT.PREVENTION,
    "COMPLICATION": QT.COMPLICATIONS,
    "COMPARISON": QT.COMPARISON,
    # No counterpart in our types: usage, tapering, ingredients, indications, storage and
    # disposal, people and organisations, lifestyle and diet, alternatives, actions, other.
    "USAGE": QT.OTHER,
    "TAPERING": QT.OTHER,
    "INGREDIENT": QT.OTHER,
    "INDICATION": QT.OTHER,
    "STORAGE_DISPOSAL": QT.OTHER,
    "PERSON_ORGANIZATION": QT.OTHER,
    "LIFESTYLE_DIET": QT.OTHER,
    "ALTERNATIVE": QT.OTHER,
    "ACTION": QT.OTHER,
    "OTHER_QUESTION": QT.OTHER,
}
"""TREC LiveQA-Med question types -> ours; a type not listed maps to OTHER."""

_STOP = frozenset("a an the of to in on for with and or his her my their its by at from".split())  # noqa: SIM905
_TOKEN = re.compile(r"[a-z0-9]+")


def gold_types(trec: list[str]) -> frozenset[QuestionType]:
    return frozenset(TREC_TO_OURS.get(t.upper(), QT.OTHER) for t in trec)


def content_tokens(text: str) -> frozenset[str]:
    """Lower-cased tokens without stop words, with possessive and plural "s" dropped."""
    out = set()
    for tok in _TOKEN.findall(normalize(text)):
        if tok in _STOP:
            continue
        if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.add(tok)
    return frozenset(out)


def _token_match(gold: str, ours: frozenset[str], tolerant: bool) -> bool:
    if gold in ours:
        return True
    return (
        tolerant
        and len(gold) >= 5
        and any(difflib.SequenceMatcher(None, gold, o).ratio() >= 0.8 for o in ours)
    )


def focus_found(gold: str, ours: Concept, *, tolerant: bool = False) -> bool:
    """Whether our concept covers the gold focus (module docstring)."""
    if ours.mentioned_in(gold) or concept(gold).mentioned_in(ours.name):
        return True
    want = content_tokens(gold)
    have = content_tokens(" ".join([ours.name, *ours.terms]))
    if not want:
        return False
    hits = sum(_token_match(t, have, tolerant) for t in want)
    return hits / len(want) >= 0.5


@dataclass(frozen=True)
class Row:
    id: str
    summary: str
    gold_types: list[str]
    gold_focus: list[str]
    qtype: str
    types: list[str]
    focus: list[str]
    type_ok: bool
    focus_found: list[bool]
    focus_found_tolerant: list[bool]
    precise: list[bool]


def evaluate(path: Path) -> list[Row]:
    rows = []
    for line in path.open(encoding="utf-8"):
        item = json.loads(line)
        analysis = analyze(item["summary"])
        gold = gold_types(item["types"])
        foci = [f for f in item["focus"] if f.strip()]
        rows.append(
            Row(
                id=item["id"],
                summary=item["summary"],
                gold_types=sorted(t.value for t in gold),
                gold_focus=foci,
                qtype=analysis.qtype.value,
                types=[t.value for t in analysis.types],
                focus=[c.name for c in analysis.focus],
                type_ok=analysis.qtype in gold,
                focus_found=[any(focus_found(g, c) for c in analysis.focus) for g in foci],
                focus_found_tolerant=[
                    any(focus_found(g, c, tolerant=True) for c in analysis.focus) for g in foci
                ],
                precise=[
                    any(focus_found(g, c, tolerant=True) for g in foci) for c in analysis.focus
                ],
            )
        )
    return rows


def summarise(rows: list[Row]) -> dict[str, float | int]:
    gold_found = [f for r in rows for f in r.focus_found]
    tolerant = [f for r in rows for f in r.focus_found_tolerant]
    precise = [p for r in rows for p in r.precise]
    recall = [
        len(set(r.types) & set(r.gold_types)) / len(r.gold_types) for r in rows if r.gold_types
    ]
    return {
        "questions": len(rows),
        "gold_foci": len(gold_found),
        "type_accuracy": round(sum(r.type_ok for r in rows) / len(rows), 4),
        "types_recall": round(sum(recall) / len(recall), 4),
        "focus_accuracy": round(sum(gold_found) / len(gold_found), 4),
        "focus_accuracy_typo_tolerant": round(sum(tolerant) / len(tolerant), 4),
        "question_focus_accuracy": round(sum(all(r.focus_found) for r in rows) / len(rows), 4),
        "focus_precision": round(sum(precise) / len(precise), 4) if precise else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    rows = evaluate(args.data)
    print(f"{'id':<6} {'type':<13} {'ok':<3} {'gold types':<28} {'focus ok':<9} focus / gold")
    for r in rows:
        found = f"{sum(r.focus_found)}/{len(r.focus_found)}"
        print(
            f"{r.id:<6} {r.qtype:<13} {'+' if r.type_ok else '-':<3} "
            f"{','.join(r.gold_types)[:28]:<28} {found:<9} {r.focus} / {r.gold_focus}"
        )
    totals = summarise(rows)
    print()
    for key, value in totals.items():
        print(f"{key:<30} {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "data": str(args.data),
        "in_sample": True,
        "trec_to_ours": {k: v.value for k, v in TREC_TO_OURS.items()},
        "totals": totals,
        "rows": [r.__dict__ for r in rows],
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
