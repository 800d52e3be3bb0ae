"""Write a MedQuAD subset for asking the LiveQA-Med dev questions in reasonable time.

The full MedQuAD index (16,407 answers) takes about 40 minutes to build on the project machine;
this subset takes a fraction of that and keeps what the LiveQA questions need. How the records
are chosen, in order (each record once, in the original file order in the output):

1. **Judged**: every record whose ``uid`` is judged (any grade) for a question in
   ``liveqa-med-dev/qrels/dev.tsv`` (213 records).
2. **Same focus**: every record sharing its ``focus`` (the condition MedQuAD's page is about,
   compared exactly) with a judged record: the other answers of the same pages, which a real
   index would also hold and which compete with the judged ones (494 records with step 1).
3. **Distractors**: a uniform random sample, ``random.Random(SEED)`` with ``SEED = 20170`` over
   the remaining records in file order, that brings the total to ``TOTAL = 3000``.

Records are written verbatim (the MedQuAD JSONL fields ``uid``, ``question``, ``answer``, ...),
so ``followup index build --corpus`` detects the file as MedQuAD.

Usage:
    python scripts/medquad_subset.py                        # var/medquad-subset.jsonl
    python scripts/medquad_subset.py --out FILE --total 3000
    nice followup index build --corpus var/medquad-subset.jsonl --out var/medquad-subset-index
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MEDQUAD = DATA / "medquad" / "medquad_qa.jsonl"
QRELS = DATA / "liveqa-med-dev" / "qrels" / "dev.tsv"
OUT = ROOT / "var" / "medquad-subset.jsonl"
SEED = 20170  # any fixed value: the subset must be the same on every run
TOTAL = 3000  # ~5x faster to index than the full 16,407, with ~2,300 distractors


def judged_uids(qrels: Path) -> set[str]:
    """The corpus ids judged in a BEIR qrels TSV (header row ``query-id corpus-id score``)."""
    with qrels.open(encoding="utf-8", newline="") as handle:
        return {row["corpus-id"] for row in csv.DictReader(handle, delimiter="\t")}


def choose(records: list[dict[str, object]], judged: set[str], total: int, seed: int) -> list[int]:
    """Indices of the chosen records in file order (rules 1-3 of the module docstring)."""
    foci = {r["focus"] for r in records if r["uid"] in judged}
    core = [i for i, r in enumerate(records) if r["uid"] in judged or r["focus"] in foci]
    chosen = set(core)
    rest = [i for i in range(len(records)) if i not in chosen]
    extra = max(0, min(len(rest), total - len(core)))
    chosen.update(random.Random(seed).sample(rest, extra))
    return sorted(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medquad", type=Path, default=MEDQUAD)
    parser.add_argument("--qrels", type=Path, default=QRELS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--total", type=int, default=TOTAL)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    lines = args.medquad.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    judged = judged_uids(args.qrels)
    missing = judged - {str(r["uid"]) for r in records}
    if missing:
        print(f"warning: {len(missing)} judged uids are not in {args.medquad}", file=sys.stderr)
    keep = choose(records, judged, args.total, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for i in keep:
            handle.write(json.dumps(records[i], ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    print(f"{args.out}: {len(keep)} records ({len(judged)} judged uids)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
