"""Readability of clinician and patient answers on the demo corpus (Flesch-Kincaid grade).

For every question in the question file the engine answers twice, once per audience, and the
mean Flesch-Kincaid grade (textstat) of the quoted sentences is compared. Notices are left
out (they are our fixed wording, not evidence); a bottom line repeated in a section counts once.
Abstained questions have no quoted sentences and are listed but not averaged.

Usage:
    nice python benchmarks/readability.py [--index var/demo-index] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from answer.audience import grade  # noqa: E402
from answer.engine import build_engine  # noqa: E402
from answer.schema import Answer, Audience, SectionKind  # noqa: E402
from answer.settings import Settings  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "questions_demo.jsonl"
RESULTS = ROOT / "var" / "results" / "readability.json"


def quoted(answer: Answer) -> list[str]:
    """The answer's quoted sentences, each once, notices left out."""
    texts: list[str] = []
    for section in answer.sections:
        if section.kind is SectionKind.NOTICE:
            continue
        texts.extend(s.text for s in section.sentences if s.text not in texts)
    return texts


def mean_grade(answer: Answer) -> float | None:
    texts = quoted(answer)
    return statistics.mean(grade(t) for t in texts) if texts else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "demo-index")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    engine = build_engine(
        Settings.model_validate(
            {"index": {"path": args.index}, "embedder": {"threads": args.threads}}
        )
    )
    rows = []
    print(f"{'question':<62} {'clinician':>9} {'patient':>8} {'diff':>6}")
    for line in args.questions.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)["question"]
        clinician = engine.answer(question, audience=Audience.CLINICIAN)
        patient = engine.answer(question, audience=Audience.PATIENT)
        c, p = mean_grade(clinician), mean_grade(patient)
        rows.append({"question": question, "clinician": c, "patient": p})
        if c is None or p is None:
            print(f"{question[:62]:<62} {'abstained':>9}")
            continue
        print(f"{question[:62]:<62} {c:9.1f} {p:8.1f} {p - c:6.1f}")
    answered = [r for r in rows if r["clinician"] is not None and r["patient"] is not None]
    clinician_mean = statistics.mean(r["clinician"] for r in answered)
    patient_mean = statistics.mean(r["patient"] for r in answered)
    print(
        f"\nmean Flesch-Kincaid grade over {len(answered)} answered questions: clinician "
        f"{clinician_mean:.2f}, patient {patient_mean:.2f}, difference "
        f"{patient_mean - clinician_mean:+.2f} grades ({len(rows) - len(answered)} abstained)"
    )
    report = {
        "command": "nice python benchmarks/readability.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "index": str(args.index),
        "questions": str(args.questions.relative_to(ROOT))
        if args.questions.is_relative_to(ROOT)
        else str(args.questions),
        "clinician_mean_grade": clinician_mean,
        "patient_mean_grade": patient_mean,
        "difference": patient_mean - clinician_mean,
        "answered": len(answered),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
