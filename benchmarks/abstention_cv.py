"""Calibrate the abstention model with cross-validation on MTRAG-UN and LiveQA-Med dev.

**Data.** Each question is run through the real engine (``build_engine``), and its
:class:`answer.abstain.AbstentionFeatures` are computed from the evidence and
``ExtractiveComposer.prepare`` exactly as at run time (the script checks that
``judge_support`` of those features equals the ``support`` that ``prepare`` served).

* **MTRAG-UN** (../shared/data/mtrag/reference.jsonl): the last user question of each task, in
  its conversation, over an index of the pool of all gold contexts (built once under
  var/cache/abstention_mtrag/index by benchmarks/abstention_mtrag.py's ``pool_engine``).
  UNANSWERABLE is the positive class; ANSWERABLE and PARTIAL are negatives; UNDERSPECIFIED is
  left out (it calls for a clarifying question, not for abstention).
* **LiveQA-Med dev** (../shared/data/liveqa-med-dev/questions.jsonl: 52 questions as typed,
  subject line and message) over var/medquad-subset-index (the MedQuAD subset of
  scripts/medquad_subset.py). A question is answerable from that index when qrels/dev.tsv
  judges a MedQuAD answer relevant for it and the answer is in the index: best grade 3
  ("excellent") is ANSWERABLE, grades 1-2 ("related", "incomplete") PARTIAL, like MTRAG's
  partly answerable questions. The 17 questions with no judged answer at all are labelled
  UNANSWERABLE: the subset holds every judged answer (rule 1 of the subset script), so for
  them it holds no answer anyone found; 16 of the 17 ask about a drug or product (dose,
  ingredients, tapering, interactions), and MedQuAD's drug pages (MedlinePlus) were withdrawn
  from its public release. The label is still an inference, so the held-out figures are
  reported for MTRAG and LiveQA separately, and ``--liveqa-unjudged drop`` leaves the 17 out.

**Cross-validation.** Stratified (by data set and label) ``--folds``-fold CV, repeated
``--repeats`` times with seeds 0, 1, ... Each rule is fitted on the training part of a split
only and applied to its held-out part:

* ``model (selected set)``, the served procedure: for each input set of :data:`CANDIDATES`
  (fixed before fitting), logistic regression (scikit-learn, L2, C = ``--c``) over the
  standardised inputs, with *inner* ``--folds``-fold out-of-fold probabilities on the
  training part; the set with the best inner AUC is kept. Its abstention cut is chosen on
  those inner probabilities: the F0.5-best cut (precision counts twice: a wrong abstention
  withholds evidence the index has), or with ``--precision P`` the highest recall at
  precision >= P. Its weak-evidence cut is the F1-best cut below it for "not ANSWERABLE"
  (UNANSWERABLE or PARTIAL) among the questions not abstained on;
* ``set <name>``: the same with the input set fixed (for comparison: picking the best of these
  rows after the fact would be optimistic; the first row is not);
* ``best sentence (refit cut)``: the old single-feature rule (abstain below a best sentence
  score), its cut chosen on the training part by the same criterion;
* ``best sentence < 0.42``: the old rule with its old fixed cut (nothing fitted).

Held-out predictions are pooled over the folds of a repeat; precision and recall (scikit-learn)
are reported as the mean and standard deviation over repeats, for MTRAG, for LiveQA and for
both, with the share of ANSWERABLE questions abstained on. Nothing is scored on questions it
was fitted or selected on. The served rule is the same procedure on all questions (inner CV
seed 0); its constants are printed as Python for answer/abstain.py, with whether they are in
force there.

Usage:
    nice python benchmarks/abstention_cv.py [--folds 5] [--repeats 10] [--precision 0.7]
    nice python benchmarks/abstention_cv.py --reuse   # CV only, on the cached features

About 3 minutes on the project machine (the engines' sentence caches are kept under
var/cache/abstention_mtrag and var/cache/abstention_cv). Writes var/results/abstention_cv.json
(per-question features and labels, each fold's choice and cuts, the table, the served model);
features are cached in var/cache/abstention_cv/features.jsonl.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,  # noqa: E402
)
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from answer.abstain import (  # noqa: E402
    ABSTAIN_PROBABILITY,
    ABSTAIN_THRESHOLD,
    INPUTS,
    MODEL,
    WEAK_PROBABILITY,
    AbstentionFeatures,
    AbstentionModel,
    abstention_features,
    judge_support,
    model_inputs,
)
from index.encoders import BACKENDS, DEFAULT_BACKEND  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
MTRAG = SHARED / "mtrag" / "reference.jsonl"
LIVEQA = SHARED / "liveqa-med-dev"
MEDQUAD_INDEX = ROOT / "var" / "medquad-subset-index"
CACHE = ROOT / "var" / "cache" / "abstention_cv"
RESULTS = ROOT / "var" / "results" / "abstention_cv.json"
LABELS = ("ANSWERABLE", "PARTIAL", "UNANSWERABLE")
UNJUDGED = "UNJUDGED"  # a LiveQA question with no judged MedQuAD answer
# The input sets the CV chooses among (by inner out-of-fold AUC), fixed before any fitting:
# the old feature alone, the signals of retrieval and sentence scoring in growing sets, the
# issue's list (question analysis, BM25 and dense tops, the fused gap) and everything.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "best": ("best_relevance",),
    "best+joint": ("best_relevance", "joint_z"),
    "best+dense+joint": ("best_relevance", "dense_top", "joint_z"),
    "best+dense+joint+lexical": ("best_relevance", "dense_top", "joint_z", "log_lexical_top"),
    "best+dense+joint+gap": ("best_relevance", "dense_top", "joint_z", "fused_gap"),
    "best+dense+joint+focus": (
        "best_relevance",
        "dense_top",
        "joint_z",
        "focus_covered",
        "focus_share",
    ),
    "issue": (
        "best_relevance",
        "focus_covered",
        "focus_share",
        "focus_concepts",
        "log_lexical_top",
        "dense_top",
        "fused_gap",
    ),
    "all": tuple(INPUTS),
}
# F-beta when no cut reaches the precision target: beta 0.5 counts precision twice (a wrong
# abstention withholds evidence the index has).
BETA = 0.5

log = logging.getLogger("abstention_cv")


@dataclass(frozen=True)
class Row:
    """One question: where it comes from, its label and its features."""

    dataset: str
    qid: str
    label: str
    features: AbstentionFeatures
    served: str  # the Support that prepare() returned

    @property
    def positive(self) -> bool:
        return self.label == "UNANSWERABLE"


# ----------------------------------------------------------------------------- data


def liveqa_questions() -> list[tuple[str, str, str]]:
    """(id, question as typed, label) of the LiveQA dev questions (module docstring); the
    questions without any judged answer are labelled ``UNJUDGED``."""
    from index.load import PassageIndex

    index = PassageIndex.load(MEDQUAD_INDEX)
    index_ids = {document_id.removeprefix("medquad:") for document_id in index.documents}
    grades: dict[str, list[int]] = {}
    with open(LIVEQA / "qrels" / "dev.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["corpus-id"] in index_ids:
                grades.setdefault(row["query-id"], []).append(int(row["score"]))
    out = []
    with open(LIVEQA / "questions.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            # As typed: the subject line, then the message (queries.jsonl holds the same text
            # for the 35 judged questions only).
            text = " ".join(part for part in (record["subject"], record["message"]) if part)
            best = max(grades.get(record["id"], []), default=None)
            if best is None:
                label = UNJUDGED
            elif best >= 3:
                label = "ANSWERABLE"
            elif best >= 1:
                label = "PARTIAL"
            else:
                label = "UNANSWERABLE"  # judged, but every judged answer is wrong
            out.append((record["id"], text, label))
    return out


def features_of(engine: Any, question: str, conversation: Any) -> tuple[AbstentionFeatures, str]:
    """The run-time features of one question, and the support ``prepare`` served."""
    evidence = engine.retrieve(question, conversation=conversation)
    prepared = engine.composer.prepare(evidence)
    features = abstention_features(evidence, prepared.best, prepared.analysis)
    config = engine.composer.config
    judged = judge_support(
        features, abstain_below=config.abstain_below, weak_below=config.weak_below
    )
    if judged is not prepared.support:
        raise AssertionError(f"served {prepared.support} but the features give another support")
    return features, prepared.support.value


def collect(threads: int, encoder: str) -> list[Row]:
    """Run both engines over their questions (MTRAG first, then LiveQA)."""
    from abstention_mtrag import load, pool_engine

    from answer.engine import build_engine, sentence_cache_path
    from answer.settings import Settings
    from index.encoders import load_embedder
    from retriever.types import Conversation

    rows: list[Row] = []
    tasks, pool = load(MTRAG)
    embedder = load_embedder(encoder, threads=threads)  # type: ignore[arg-type]
    engine = pool_engine(pool, embedder, threads)
    started = time.perf_counter()
    for task in tasks:
        features, served = features_of(engine, task.query, Conversation(task.history))
        rows.append(Row("mtrag", task.task_id, task.label, features, served))
    log.info("MTRAG: %d tasks in %.0f s", len(tasks), time.perf_counter() - started)

    settings = Settings.model_validate(
        {
            "index": {"path": MEDQUAD_INDEX},
            "embedder": {"threads": threads},
            "answer": {"sentence_cache_dir": CACHE, "precompute_sentences": False},
        }
    )
    engine = build_engine(settings)
    started = time.perf_counter()
    questions = liveqa_questions()
    for qid, text, label in questions:
        features, served = features_of(engine, text, None)
        rows.append(Row("liveqa", qid, label, features, served))
    log.info("LiveQA: %d questions in %.0f s", len(questions), time.perf_counter() - started)
    bank = engine.composer.bank
    if bank.dirty:
        bank.save(sentence_cache_path(CACHE, engine.manifest, embedder.model_name))
    return rows


def save_rows(rows: Sequence[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            record = asdict(row)
            handle.write(json.dumps(record) + "\n")


def load_rows(path: Path) -> list[Row]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            record["features"] = AbstentionFeatures(**record["features"])
            rows.append(Row(**record))
    return rows


# ----------------------------------------------------------------------------- rules


def matrix(rows: Sequence[Row], inputs: Sequence[str]) -> np.ndarray:
    """The model inputs of ``rows``, computed by the served code (``model_inputs``)."""
    return np.array([model_inputs(r.features, inputs) for r in rows], dtype=np.float64)


@dataclass(frozen=True)
class Fitted:
    """A fitted logistic model as arrays (vectorised probabilities for the CV)."""

    means: np.ndarray
    scales: np.ndarray
    coefficients: np.ndarray
    intercept: float

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = self.intercept + ((x - self.means) / self.scales) @ self.coefficients
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def as_model(self, inputs: Sequence[str]) -> AbstentionModel:
        """The served form, constants rounded to 6 decimals."""
        return AbstentionModel(
            inputs=tuple(inputs),
            means=tuple(round(float(v), 6) for v in self.means),
            scales=tuple(round(float(v), 6) for v in self.scales),
            coefficients=tuple(round(float(v), 6) for v in self.coefficients),
            intercept=round(self.intercept, 6),
        )


def fit(x: np.ndarray, y: np.ndarray, c: float) -> Fitted:
    """Logistic regression (scikit-learn, L2) over inputs standardised on ``x``."""
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    regression = LogisticRegression(C=c, max_iter=1000).fit((x - scaler.mean_) / scale, y)
    return Fitted(scaler.mean_, scale, regression.coef_[0], float(regression.intercept_[0]))


def choose_cut(scores: np.ndarray, positive: np.ndarray, target: float | None) -> float:
    """The cut ``t`` for predicting positive when ``score >= t``: the highest recall with
    precision >= ``target``, else (or with ``target`` None) the F0.5-best (scikit-learn's
    precision-recall curve)."""
    if not positive.any():
        return float("inf")
    precision, recall, thresholds = precision_recall_curve(positive, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    ok = precision >= (target if target is not None else np.inf)
    if ok.any():
        best = int(np.flatnonzero(ok)[np.argmax(recall[ok])])
    else:
        f = (1 + BETA**2) * precision * recall / np.maximum(BETA**2 * precision + recall, 1e-12)
        best = int(np.argmax(f))
    return float(thresholds[best])


def choose_weak_cut(scores: np.ndarray, not_full: np.ndarray, abstain_cut: float) -> float:
    """The F1-best cut (not above ``abstain_cut``) for "not ANSWERABLE" (UNANSWERABLE or
    PARTIAL) among the questions not abstained on."""
    kept = scores < abstain_cut
    if not not_full[kept].any():
        return abstain_cut
    precision, recall, thresholds = precision_recall_curve(not_full[kept], scores[kept])
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return min(float(thresholds[int(np.argmax(f1))]), abstain_cut)


def oof_probabilities(
    x: np.ndarray, y: np.ndarray, strata: np.ndarray, folds: int, seed: int, c: float
) -> np.ndarray:
    """Out-of-fold probabilities of the logistic model (stratified ``folds``-fold)."""
    out = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, strata):
        out[test] = fit(x[train], y[train], c).probabilities(x[test])
    return out


@dataclass(frozen=True)
class Rule:
    """One input set fitted on training questions: the model, its cuts and its inner AUC."""

    name: str
    inputs: tuple[str, ...]
    model: Fitted
    abstain_at: float
    weak_at: float
    inner_auc: float


@dataclass(frozen=True)
class Training:
    """What a rule is fitted on (inputs per candidate set, and the labels)."""

    x: dict[str, np.ndarray]
    positive: np.ndarray
    not_full: np.ndarray
    strata: np.ndarray

    def part(self, index: np.ndarray) -> Training:
        return Training(
            {name: x[index] for name, x in self.x.items()},
            self.positive[index],
            self.not_full[index],
            self.strata[index],
        )


def fit_rules(
    data: Training, *, folds: int, seed: int, c: float, target: float | None
) -> dict[str, Rule]:
    """Every candidate set fitted on ``data``: the model on all of it; the cuts and the AUC
    on its inner out-of-fold probabilities."""
    rules = {}
    for name, inputs in CANDIDATES.items():
        x = data.x[name]
        inner = oof_probabilities(x, data.positive, data.strata, folds, seed, c)
        abstain_at = choose_cut(inner, data.positive, target)
        rules[name] = Rule(
            name=name,
            inputs=inputs,
            model=fit(x, data.positive, c),
            abstain_at=abstain_at,
            weak_at=choose_weak_cut(inner, data.not_full, abstain_at),
            inner_auc=float(roc_auc_score(data.positive, inner)),
        )
    return rules


def select(rules: dict[str, Rule]) -> Rule:
    """The rule with the best inner AUC (fewer inputs on a tie)."""
    return max(rules.values(), key=lambda r: (round(r.inner_auc, 6), -len(r.inputs)))


def training(rows: Sequence[Row]) -> Training:
    return Training(
        {name: matrix(rows, inputs) for name, inputs in CANDIDATES.items()},
        np.array([r.positive for r in rows]),
        np.array([r.label != "ANSWERABLE" for r in rows]),
        np.array([f"{r.dataset}:{r.label}" for r in rows]),
    )


def measures(y: np.ndarray, predicted: np.ndarray, answerable: np.ndarray) -> dict[str, float]:
    """Precision and recall of abstention (scikit-learn), the share abstained on, and the
    share of ANSWERABLE questions abstained on."""
    return {
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "abstained": float(np.mean(predicted)),
        "answerable_abstained": float(np.mean(predicted[answerable])) if answerable.any() else 0.0,
    }


SELECTED = "model (selected set)"
REFIT = "best sentence (refit cut)"
OLD = f"best sentence < {ABSTAIN_THRESHOLD}"


def cross_validate(
    rows: Sequence[Row], *, folds: int, repeats: int, c: float, target: float | None
) -> dict[str, Any]:
    """Held-out predictions of every rule (module docstring), pooled over the folds of each
    repeat; the summary holds the mean and standard deviation over repeats."""
    data = training(rows)
    y = data.positive
    best = np.array([r.features.best_relevance or -1.0 for r in rows])
    no_quote = np.array([r.features.best_relevance is None for r in rows])
    answerable = np.array([r.label == "ANSWERABLE" for r in rows])
    datasets = np.array([r.dataset for r in rows])
    names = [SELECTED, *(f"set {name}" for name in CANDIDATES), REFIT, OLD]
    # The parts reported: each data set with positives, and both.
    parts = {
        part: mask
        for part, mask in (
            ("mtrag", datasets == "mtrag"),
            ("liveqa", datasets == "liveqa"),
            ("all", np.ones(len(rows), bool)),
        )
        if y[mask].any()
    }
    per_repeat: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in names}
    weak_per_repeat: list[dict[str, float]] = []
    fold_log: list[dict[str, Any]] = []
    selected_oof = np.zeros((repeats, len(rows)))
    for repeat in range(repeats):
        predicted = {name: np.zeros(len(rows), bool) for name in names}
        weak = np.zeros(len(rows), bool)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=repeat)
        for k, (train, test) in enumerate(splitter.split(best, data.strata)):
            rules = fit_rules(data.part(train), folds=folds, seed=1000 + repeat, c=c, target=target)
            chosen = select(rules)
            for name, rule in rules.items():
                p = rule.model.probabilities(data.x[name][test])
                abstain = (p >= rule.abstain_at) | no_quote[test]
                predicted[f"set {name}"][test] = abstain
                if rule is chosen:
                    predicted[SELECTED][test] = abstain
                    weak[test] = (p >= rule.weak_at) & ~abstain
                    selected_oof[repeat, test] = p
            # The old rule abstains when best < t, i.e. predicts positive for -best >= -t.
            cut = -choose_cut(-best[train], y[train], target)
            predicted[REFIT][test] = best[test] < cut + 1e-12
            predicted[OLD][test] = best[test] < ABSTAIN_THRESHOLD
            fold_log.append(
                {
                    "repeat": repeat,
                    "fold": k,
                    "selected": chosen.name,
                    "abstain_at": chosen.abstain_at,
                    "weak_at": chosen.weak_at,
                    "inner_auc": {name: rule.inner_auc for name, rule in rules.items()},
                    "best_sentence_cut": cut,
                }
            )
        for name in names:
            per_repeat[name].append(
                {
                    part: measures(y[mask], predicted[name][mask], answerable[mask])
                    for part, mask in parts.items()
                }
            )
        answered = ~predicted[SELECTED]
        weak_per_repeat.append(
            {
                "answered_flagged_weak": float(np.mean(weak[answered])),
                "answerable_flagged_weak": float(np.mean(weak[answered & answerable])),
                "weak_precision_not_answerable": float(
                    precision_score(data.not_full[answered], weak[answered], zero_division=0)
                ),
                "weak_recall_not_answerable": float(
                    recall_score(data.not_full[answered], weak[answered], zero_division=0)
                ),
            }
        )
    summary: dict[str, Any] = {}
    for name in names:
        summary[name] = {
            part: {
                metric: {
                    "mean": float(np.mean([r[part][metric] for r in per_repeat[name]])),
                    "std": float(np.std([r[part][metric] for r in per_repeat[name]])),
                }
                for metric in per_repeat[name][0][part]
            }
            for part in parts
        }
    mtrag = datasets == "mtrag"
    auc = {
        "selected_oof_all": float(
            np.mean([roc_auc_score(y, selected_oof[r]) for r in range(repeats)])
        ),
        "selected_oof_mtrag": float(
            np.mean([roc_auc_score(y[mtrag], selected_oof[r][mtrag]) for r in range(repeats)])
        ),
        "best_sentence_all": float(roc_auc_score(y, -best)),
        "best_sentence_mtrag": float(roc_auc_score(y[mtrag], -best[mtrag])),
    }
    chosen_counts: dict[str, int] = {}
    for entry in fold_log:
        chosen_counts[entry["selected"]] = chosen_counts.get(entry["selected"], 0) + 1
    return {
        "summary": summary,
        "auc": auc,
        "selected_sets": chosen_counts,
        "weak": {
            key: float(np.mean([w[key] for w in weak_per_repeat])) for key in weak_per_repeat[0]
        },
        "folds": fold_log,
        "per_repeat": per_repeat,
    }


def floor(value: float, decimals: int = 4) -> float:
    """``value`` rounded down, so a stored cut never drops a question the fitted cut kept."""
    scale = 10**decimals
    return float(math.floor(value * scale) / scale)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="folds (outer and inner)")
    parser.add_argument("--repeats", type=int, default=10, help="repeats of the outer CV")
    parser.add_argument(
        "--precision",
        type=float,
        default=None,
        help="choose each cut as the highest recall at this precision (e.g. 0.7) instead of "
        "the F0.5-best cut",
    )
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument(
        "--liveqa-unjudged",
        choices=("unanswerable", "drop"),
        default="unanswerable",
        help="LiveQA questions without any judged answer: positives (default) or left out",
    )
    parser.add_argument("--threads", type=int, default=2, help="encoder threads")
    parser.add_argument(
        "--encoder",
        choices=BACKENDS,
        default=DEFAULT_BACKEND,
        help="the encoder of the MTRAG pool index (LiveQA: the one its index was built with)",
    )
    parser.add_argument("--reuse", action="store_true", help="use the cached features")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    cache = CACHE / "features.jsonl"
    if args.reuse and cache.is_file():
        rows = load_rows(cache)
    else:
        rows = collect(args.threads, args.encoder)
        save_rows(rows, cache)
    if args.liveqa_unjudged == "unanswerable":
        rows = [replace(r, label="UNANSWERABLE") if r.label == UNJUDGED else r for r in rows]
    rows = [r for r in rows if r.label in LABELS]

    target = args.precision
    result = cross_validate(rows, folds=args.folds, repeats=args.repeats, c=args.c, target=target)
    counts = {
        ds: {label: sum(r.dataset == ds and r.label == label for r in rows) for label in LABELS}
        for ds in ("mtrag", "liveqa")
    }
    print(f"questions: {counts}")
    criterion = f"max recall at precision >= {target}" if target else f"F{BETA:g}-best"
    print(
        f"positive = UNANSWERABLE; {args.repeats} x {args.folds}-fold stratified CV; cuts chosen "
        f"on training folds only ({criterion}); held-out precision / recall pooled per "
        "repeat, mean ± sd over repeats"
    )
    print(f"{'rule':<36} {'data':<7} {'P':>12} {'R':>12} {'abstain':>8} {'ANS abst':>8}")
    for name, by_data in result["summary"].items():
        for part, m in by_data.items():
            print(
                f"{name:<36} {part:<7} {m['precision']['mean']:6.3f}±{m['precision']['std']:.3f}"
                f" {m['recall']['mean']:6.3f}±{m['recall']['std']:.3f}"
                f" {m['abstained']['mean']:8.3f} {m['answerable_abstained']['mean']:8.3f}"
            )
    print(f"sets selected in the outer folds: {result['selected_sets']}")
    print(f"AUC: {json.dumps({k: round(v, 3) for k, v in result['auc'].items()})}")
    print(
        f"weak notice (selected model, held out): "
        f"{json.dumps({k: round(v, 3) for k, v in result['weak'].items()})}"
    )

    # The served rule: the same procedure on all questions (inner CV with seed 0).
    rules = fit_rules(training(rows), folds=args.folds, seed=0, c=args.c, target=target)
    chosen = select(rules)
    final = chosen.model.as_model(chosen.inputs)
    abstain_at, weak_at = floor(chosen.abstain_at), floor(chosen.weak_at)
    served = np.array([final.probability(r.features) for r in rows])
    fitted = chosen.model.probabilities(matrix(rows, chosen.inputs))
    assert np.allclose(served, fitted, atol=1e-4), "the served model differs from the fitted one"
    print(
        f"\nserved rule: set {chosen.name!r} (inner AUC {chosen.inner_auc:.3f}); for "
        "answer/abstain.py:"
    )
    print(f"MODEL = {final!r}")
    print(f"ABSTAIN_PROBABILITY = {abstain_at}")
    print(f"WEAK_PROBABILITY = {weak_at}")
    in_force = (final, abstain_at, weak_at) == (MODEL, ABSTAIN_PROBABILITY, WEAK_PROBABILITY)
    print(f"in force in answer/abstain.py: {'yes' if in_force else 'NO'}")

    report = {
        "command": "nice python benchmarks/abstention_cv.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": {
            "mtrag": "../shared/data/mtrag/reference.jsonl (UNDERSPECIFIED left out)",
            "liveqa": "../shared/data/liveqa-med-dev/questions.jsonl over var/medquad-subset-index",
            "liveqa_unjudged": args.liveqa_unjudged,
            "counts": counts,
        },
        "cv": {
            "folds": args.folds,
            "repeats": args.repeats,
            "criterion": criterion,
            "c": args.c,
            "candidates": {name: list(inputs) for name, inputs in CANDIDATES.items()},
        },
        **result,
        "served": {
            "set": chosen.name,
            "inner_auc": {name: rule.inner_auc for name, rule in rules.items()},
            "model": asdict(final),
            "abstain_probability": abstain_at,
            "weak_probability": weak_at,
            "in_force": in_force,
        },
        "rows": [
            {"dataset": r.dataset, "qid": r.qid, "label": r.label, "served": r.served}
            | asdict(r.features)
            for r in rows
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
