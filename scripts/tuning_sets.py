"""Write eval/data/tuning_sets.json: a fingerprint of every query the defaults were tuned on.

The sets and what was tuned on each are listed in eval/tuning.py. Keys, as the benchmarks read
them from the data folder (default ../shared/data):

* ``scifact-train``: the text of every SciFact query judged in ``qrels/train.tsv``;
* ``liveqa-med-dev``: the text of every LiveQA-Med dev query judged in ``qrels/dev.tsv``;
* ``pubmedqa-pqal``: every ``QUESTION`` of PubMedQA's ``ori_pqal.json``;
* ``mtrag``: every ``task_id`` of MTRAG's ``reference.jsonl``.

Usage:
    python scripts/tuning_sets.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.tuning import FINGERPRINTS, TUNING_SETS, fingerprint  # noqa: E402


def _judged_queries(folder: Path, split: str) -> list[str]:
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as handle:
        judged = {row["query-id"] for row in csv.DictReader(handle, delimiter="\t")}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [row["text"] for row in rows if str(row["_id"]) in judged]


def keys(data: Path) -> dict[str, list[str]]:
    """The keys of every tuning set (query texts, or MTRAG task ids)."""
    pqal = json.loads((data / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    with open(data / "mtrag" / "reference.jsonl", encoding="utf-8") as handle:
        tasks = [json.loads(line)["task_id"] for line in handle if line.strip()]
    return {
        "scifact-train": _judged_queries(data / "scifact", "train"),
        "liveqa-med-dev": _judged_queries(data / "liveqa-med-dev", "dev"),
        "pubmedqa-pqal": [record["QUESTION"] for record in pqal.values()],
        "mtrag": tasks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    sets = keys(args.data)
    assert set(sets) == set(TUNING_SETS), "eval/tuning.py and this script list other sets"
    prints = {name: sorted({fingerprint(k) for k in sets[name]}) for name in TUNING_SETS}
    about = "Written by scripts/tuning_sets.py; see eval/tuning.py."
    text = json.dumps({"about": about, "sets": prints}, indent=0)
    FINGERPRINTS.write_text(text + "\n", encoding="utf-8")
    for name, unique in prints.items():
        print(f"{name}: {len(unique)} distinct queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
