"""`followup eval ...`: offline evaluation runs and answer audits.

Subcommands:

* ``retrieval``: BM25 / dense / hybrid (and variants) on a BEIR-layout data set and split.
* ``followup``: recall by turn on MTRAG conversations, with and without the conversation.
* ``answers``: answer a question file with the engine and audit every answer.
* ``audit FILE``: audit one answer written by any system (our JSON, or Markdown); exits 1
  when problems are found.
* ``quality``: answer quality of the composers against passage baselines, on LiveQA questions
  (ROUGE against reference answers, lead focus coverage) or on conversations with expectations.

Reports go to ``var/eval/<run name>/`` unless ``--out`` is given. Heavy imports happen inside
the handlers, so ``followup --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eval.embedcache import CachedEmbedder

logger = logging.getLogger(__name__)

DEFAULT_OUT_ROOT = Path("var/eval")
DEFAULT_INDEXES = Path("var/indexes")
DEFAULT_CACHE = Path("var/cache")

# Published nDCG@10 on the SciFact *test* split, for the calibration notes of a SciFact report.
PUBLISHED: dict[str, list[str]] = {
    "scifact": [
        "Published SciFact test-split nDCG@10 (the test split is not shipped here): BM25 0.687 "
        "(bm25s, method=lucene, k1=1.5, b=0.75) and all-MiniLM-L6-v2 0.645 (MTEB). "
        "docs/eval.md explains how train-split figures relate to them."
    ]
}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="offline evaluation: retrieval runs, follow-up runs, answer audits",
        description="Offline evaluation harness; see docs/eval.md.",
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND", required=True)

    retrieval = sub.add_parser(
        "retrieval",
        help="run retrievers on a BEIR-layout data set and split",
        description="Run BM25, dense, hybrid and variants side by side on a BEIR data set; "
        "writes TREC run files, report.md/json and plots.",
    )
    retrieval.add_argument("--dataset", type=Path, required=True, help="BEIR-layout folder")
    retrieval.add_argument("--split", default="test", help="qrels split (default: test)")
    retrieval.add_argument(
        "--systems",
        default="bm25,dense,hybrid",
        help="comma-separated systems: bm25, dense, hybrid (default: all three)",
    )
    retrieval.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=KIND:key=value[:key=value]",
        help="an extra configured system, e.g. hybrid-w=hybrid:fusion=weighted (repeatable)",
    )
    retrieval.add_argument(
        "--passage-depth",
        type=int,
        default=300,
        help="passages a run reads per query (default: 300); the legs search as served",
    )
    retrieval.add_argument("--doc-depth", type=int, default=100, help="documents kept per query")
    retrieval.add_argument("--limit", type=int, default=None, help="only the first N queries")
    retrieval.add_argument(
        "--permutations", type=int, default=10_000, help="randomisation-test sign assignments"
    )
    _common(retrieval)
    retrieval.set_defaults(func=run_retrieval)

    followup = sub.add_parser(
        "followup",
        help="recall by turn on MTRAG conversations, with and without context",
        description="Follow-up retrieval on MTRAG-format tasks: pool = every gold passage.",
    )
    followup.add_argument(
        "--dataset", type=Path, required=True, help="MTRAG folder or its reference.jsonl"
    )
    followup.add_argument(
        "--systems", default="bm25,dense,hybrid", help="comma-separated systems (default: all)"
    )
    followup.add_argument(
        "--variant", action="append", default=[], help="extra configured system, as for retrieval"
    )
    followup.add_argument("--max-turn", type=int, default=8, help="pool later turns into N+")
    _common(followup)
    followup.set_defaults(func=run_followup)

    answers = sub.add_parser(
        "answers",
        help="answer a question file with the engine and audit the answers",
        description="JSONL questions: {question, followups?, answerable?, id?, audience?}.",
    )
    answers.add_argument("--questions", type=Path, required=True, help="JSONL question file")
    answers.add_argument("--index", type=Path, default=None, help="index (default: settings)")
    answers.add_argument(
        "--calibrate", action="store_true", help="calibrate the generated-support threshold now"
    )
    _common(answers)
    answers.set_defaults(func=run_answers)

    audit = sub.add_parser(
        "audit",
        help="audit one answer from any system (JSON in our schema, or Markdown)",
        description="Checks dangling citations, uncited sentences, unused references and tier "
        "violations; exit code 1 when a problem is found. Accepted Markdown: docs/eval.md.",
    )
    audit.add_argument("file", type=Path, help="answer file (.json or Markdown)")
    audit.add_argument("--out", type=Path, default=None, help="report folder")
    audit.add_argument("--name", default=None, help="run name under var/eval/")
    audit.set_defaults(func=run_audit)

    quality = sub.add_parser(
        "quality",
        help="answer quality: composers vs passage baselines (ROUGE, lead coverage, defects)",
        description="Ask LiveQA-format questions or conversations (JSONL, detected per file) "
        "with each composer, next to the top-1 and top-3 retrieved passages cut to the same "
        "length; writes report.md/json and quality.png. See docs/eval.md.",
    )
    quality.add_argument(
        "--questions", type=Path, required=True, help="LiveQA questions or conversations (JSONL)"
    )
    quality.add_argument("--index", type=Path, default=None, help="index (default: settings)")
    quality.add_argument(
        "--composer",
        nargs="+",
        choices=["focused", "baseline"],
        default=["focused", "baseline"],
        help="composers to run, in order; the first one's retrieval and length drive the "
        "passage baselines (default: focused baseline)",
    )
    quality.add_argument(
        "--no-passage-baselines", action="store_true", help="skip the top-1/top-3 passage systems"
    )
    quality.add_argument("--limit", type=int, default=None, help="only the first N conversations")
    quality.add_argument(
        "--out", type=Path, default=None, help="report folder (default: var/eval/<name>)"
    )
    quality.add_argument("--name", default=None, help="run name under var/eval/")
    quality.add_argument("--no-progress", action="store_true", help="no progress bars")
    quality.set_defaults(func=run_quality)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="report folder (default: var/eval/<name>)"
    )
    parser.add_argument("--name", default=None, help="run name under var/eval/")
    parser.add_argument("--indexes", type=Path, default=DEFAULT_INDEXES, help="index cache folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _out(args: argparse.Namespace, default_name: str) -> Path:
    if args.out is not None:
        return Path(args.out)
    return DEFAULT_OUT_ROOT / (args.name or default_name)


def _command(args: argparse.Namespace) -> str:
    """The command line that ran, as ``followup.cli.main`` was given it."""
    return f"followup {shlex.join(args.argv)}"


def _settings() -> Any:
    from answer.settings import Settings

    return Settings()


def _embedder(settings: Any, cache: Path) -> CachedEmbedder:
    from eval.embedcache import encoder_for_eval

    return encoder_for_eval(settings.embedder, cache)


def _index_for(
    documents: Any,
    args: argparse.Namespace,
    name: str,
    embedder: CachedEmbedder,
    queries: dict[str, str] | None = None,
    *,
    whole_documents: bool = False,
) -> Any:
    """Seed the embedding cache from benchmark caches, build (once) and load the index.

    ``whole_documents``: also adopt cached whole-document vectors (for granularity=document).
    """
    from corpus.chunking import ChunkingConfig, chunk_documents
    from eval.runs import ensure_index, index_key, seed_benchmark_caches
    from index.errors import IndexLoadError
    from index.load import PassageIndex

    chunking = ChunkingConfig()
    path = args.indexes / f"{name}-{index_key(documents, chunking.to_dict(), embedder.model_name)}"
    folder = args.cache / name
    try:
        index = PassageIndex.load(path, expected_model=embedder.model_name)
    except IndexLoadError:
        pass
    else:
        seed_benchmark_caches(
            embedder,
            folder,
            passages=[],
            queries=queries or {},
            documents=documents if whole_documents else (),
        )
        return index
    # Chunked here as well as in build_index: the passage texts pick benchmark vectors to adopt.
    passages = chunk_documents(list(documents), chunking)
    seed_benchmark_caches(
        embedder,
        folder,
        passages=passages,
        queries=queries or {},
        documents=documents if whole_documents else (),
    )
    built = ensure_index(
        documents, args.indexes, name, embedder, chunking=chunking, progress=not args.no_progress
    )
    return PassageIndex.load(built, expected_model=embedder.model_name)


def _retrievers(
    specs: Any, index: Any, embedder: Any, engine_settings: Any, documents: Any = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    from eval.runs import build_retriever, retriever_settings, served_hybrid

    hybrid = served_hybrid(engine_settings, index, embedder)
    retrievers = {
        spec.name: build_retriever(spec, index, embedder, hybrid=hybrid, documents=documents)
        for spec in specs
    }
    settings = {
        spec.name: {**spec.to_dict(), "config": retriever_settings(retrievers[spec.name])}
        for spec in specs
    }
    return retrievers, settings


# --------------------------------------------------------------------------- retrieval


def run_retrieval(args: argparse.Namespace) -> int:
    return _guarded(_run_retrieval, args)


def _run_retrieval(args: argparse.Namespace) -> int:
    from eval.retrieval_report import RetrievalReport, write_retrieval_report
    from eval.runs import (
        BeirData,
        SystemKind,
        load_beir,
        load_documents,
        parse_systems,
        run_systems,
    )
    from eval.significance import compare_tables
    from eval.trec import write_run
    from eval.tuning import in_sample_notes

    settings = _settings()
    specs = parse_systems(args.systems, args.variant)
    data = load_beir(args.dataset, args.split)
    if args.limit is not None:
        keep = list(data.queries)[: args.limit]
        data = BeirData(
            data.name,
            data.root,
            data.split,
            {q: data.queries[q] for q in keep},
            {q: data.qrels[q] for q in keep},
        )
    documents = load_documents(args.dataset)
    embedder = _embedder(settings, args.cache)
    whole = any(str(s.options.get("granularity", "")).lower() == "document" for s in specs)
    index = _index_for(documents, args, data.name, embedder, data.queries, whole_documents=whole)
    if any(spec.kind is not SystemKind.BM25 for spec in specs):
        embedder.encode_queries(list(data.queries.values()))  # one batch, then cache hits
    retrievers, system_settings = _retrievers(specs, index, embedder, settings, documents)
    results = run_systems(
        retrievers,
        data,
        passage_depth=args.passage_depth,
        doc_depth=args.doc_depth,
        settings=system_settings,
        progress=not args.no_progress,
    )
    embedder.flush()
    out = _out(args, f"{data.name}-{data.split}")
    run_files = {}
    for result in results:
        path = out / "runs" / f"{result.name}.trec"
        write_run(result.run, path, tag=result.name)
        run_files[result.name] = str(path.relative_to(out))
    tables = {r.name: r.metrics for r in results}
    comparisons = compare_tables(tables, permutations=args.permutations) if len(tables) > 1 else []
    report = RetrievalReport(
        dataset={
            **data.describe(),
            "documents": len(documents),
            "passages": len(index.passages),
            "evaluated_queries": len(results[0].metrics.query_ids),
        },
        systems=results,
        comparisons=comparisons,
        settings={
            "systems": [s.to_dict() for s in specs],
            "passage_depth": args.passage_depth,
            "doc_depth": args.doc_depth,
            "limit": args.limit,
            "permutations": args.permutations,
            "index_path": str(index.directory),
            "embedding_cache": {"hits": embedder.hits, "misses": embedder.misses},
            "engine_settings": settings.model_dump(mode="json"),
        },
        manifest=index.manifest.to_dict(),
        run_files=run_files,
        command=_command(args),
        notes=[*PUBLISHED.get(data.name, []), *in_sample_notes(data.queries.values())],
    )
    files = write_retrieval_report(out, report)
    _print_table(
        ["system", *results[0].metrics.measures],
        [[r.name, *[f"{r.metrics.mean(m):.4f}" for m in r.metrics.measures]] for r in results],
    )
    print(f"report: {out / 'report.md'} ({', '.join(files)})")
    return 0


# --------------------------------------------------------------------------- follow-ups


def run_followup(args: argparse.Namespace) -> int:
    return _guarded(_run_followup, args)


def _run_followup(args: argparse.Namespace) -> int:
    from eval.followup import Condition, followup_retriever, load_mtrag
    from eval.followup import run_followup as run_one
    from eval.followup_report import FollowupReport, write_followup_report
    from eval.runs import parse_systems, retriever_settings, served_hybrid
    from eval.significance import compare
    from eval.tuning import in_sample_notes

    settings = _settings()
    specs = parse_systems(args.systems, args.variant)
    data = load_mtrag(args.dataset)
    embedder = _embedder(settings, args.cache)
    tasks = data.scored_tasks
    questions = {
        f"q{i}": text
        for i, text in enumerate(
            dict.fromkeys(
                [t.question for t in tasks] + [turn.question for t in tasks for turn in t.history]
            )
        )
    }
    index = _index_for(data.pool, args, "mtrag", embedder, questions)
    embedder.encode_queries(list(questions.values()))  # one batch, then cache hits
    runs = []
    comparisons = []
    system_settings = {}
    hybrid = served_hybrid(settings, index, embedder)
    for spec in specs:
        retriever = followup_retriever(spec, hybrid)
        system_settings[spec.name] = {**spec.to_dict(), "config": retriever_settings(retriever)}
        plain = run_one(
            spec.name, retriever, tasks, Condition.NO_CONTEXT, progress=not args.no_progress
        )
        context = run_one(
            spec.name, retriever, tasks, Condition.WITH_CONTEXT, progress=not args.no_progress
        )
        runs += [plain, context]
        qids = plain.metrics.query_ids
        for measure in plain.metrics.measures:
            comparisons.append(
                compare(
                    measure,
                    f"{spec.name} no context",
                    [plain.metrics.per_query[measure][q] for q in qids],
                    f"{spec.name} with context",
                    [context.metrics.per_query[measure][q] for q in qids],
                )
            )
    examples = [
        {"turn": str(t.turn), "question": t.question, "query": runs[1].queries[t.task_id]}
        for t in tasks
        if t.turn > 1
    ][:8]
    out = _out(args, "mtrag-followup")
    report = FollowupReport(
        runs=runs,
        tasks=tasks,
        comparisons=comparisons,
        dataset={
            "path": str(args.dataset),
            "tasks": len(data.tasks),
            "scored_tasks": len(tasks),
            "pool": len(data.pool),
            "passages": len(index.passages),
        },
        settings={
            "systems": system_settings,
            "max_turn": args.max_turn,
            "index_path": str(index.directory),
            "engine_settings": settings.model_dump(mode="json"),
        },
        manifest=index.manifest.to_dict(),
        max_turn=args.max_turn,
        command=_command(args),
        examples=examples,
        notes=[
            *in_sample_notes(t.task_id for t in tasks),
            f"The pool holds only the gold passages of the {len(data.tasks)} tasks (the MTRAG "
            "corpora are not shipped), so absolute recall is far higher than on the full "
            "collections; the comparison between conditions is what this run measures.",
        ],
    )
    embedder.flush()
    files = write_followup_report(out, report)
    _print_table(
        ["system", "condition", *runs[0].metrics.measures],
        [
            [r.system, r.condition.value, *[f"{r.metrics.mean(m):.4f}" for m in r.metrics.measures]]
            for r in runs
        ],
    )
    print(f"report: {out / 'report.md'} ({', '.join(files)})")
    return 0


# --------------------------------------------------------------------------- answers


def run_answers(args: argparse.Namespace) -> int:
    return _guarded(_run_answers, args)


def _run_answers(args: argparse.Namespace) -> int:
    from answer.engine import build_engine
    from answer.schema import Answer
    from corpus.types import EvidenceKind
    from eval.audit import audit_answers, load_questions, summarise
    from eval.audit_report import write_answers_report
    from eval.support import DEFAULT_THRESHOLD, GeneratedSupportScorer, calibrate
    from index.load import PassageIndex

    settings = _settings()
    if args.index is not None:
        settings.index.path = args.index
    questions = load_questions(args.questions)
    engine = build_engine(settings)
    index = PassageIndex.load(settings.index.path)
    scorer = None
    calibration = None
    if settings.answer.generator != "extractive" or args.calibrate:
        embedder = _embedder(settings, args.cache)
        threshold = DEFAULT_THRESHOLD
        if args.calibrate:
            fitted = calibrate(index.passages, embedder, passage_vectors=index.vectors())
            threshold = fitted.threshold
            calibration = fitted.to_dict()
        scorer = GeneratedSupportScorer(embedder, threshold)

    def guideline_retrieved(answer: Answer) -> bool:
        # Guideline evidence "was retrieved" when a guideline passage is among the top_k
        # passages by relevance for the query the answer searched (docs/eval.md).
        if answer.abstained or not answer.standalone_query.strip():
            return False
        evidence = engine.search(answer.standalone_query, top_k=settings.retrieval.top_k)
        return any(sp.passage.kind is EvidenceKind.GUIDELINE for sp in evidence.fused)

    audits = audit_answers(
        engine,
        questions,
        passage=index.get,
        guideline_retrieved=guideline_retrieved,
        scorer=scorer,
        progress=not args.no_progress,
    )
    summary = summarise(audits)
    out = _out(args, f"answers-{args.questions.stem}")
    files = write_answers_report(
        out,
        audits,
        summary,
        settings={
            "engine_settings": settings.model_dump(mode="json"),
            "questions": str(args.questions),
        },
        manifest=index.manifest.to_dict(),
        calibration=calibration,
        command=_command(args),
        questions_file=str(args.questions),
    )
    data = summary.to_dict()
    _print_table(
        ["check", "value"],
        [
            [k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v)]
            for k, v in data.items()
        ],
    )
    print(f"report: {out / 'report.md'} ({', '.join(files)})")
    return 0


# --------------------------------------------------------------------------- audit


def run_audit(args: argparse.Namespace) -> int:
    from eval.audit import audit_structure
    from eval.audit_report import write_audit_report
    from eval.parsing import AnswerParseError, load_answer

    try:
        doc = load_answer(args.file)
    except (AnswerParseError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = audit_structure(doc)
    out = _out(args, f"audit-{args.file.stem}")
    files = write_audit_report(out, args.file, doc, result, command=_command(args))
    for issue in result.issues:
        level = "error" if issue.kind.is_error else "warning"
        print(f"{level}: {issue.kind.value}: {issue.detail}")
    coverage = "n/a" if result.sentences == 0 else f"{result.coverage:.3f}"
    print(
        f"{'PASS' if result.ok else 'FAIL'}: {result.sentences} sentences must cite, "
        f"coverage {coverage}, {len(result.issues)} issue(s)"
    )
    print(f"report: {out / 'report.md'} ({', '.join(files)})")
    return 0 if result.ok else 1


# --------------------------------------------------------------------------- quality


def run_quality(args: argparse.Namespace) -> int:
    return _guarded(_run_quality, args)


def _run_quality(args: argparse.Namespace) -> int:
    from eval.quality import BASELINE_DEPTHS, SystemKind, answer_all, build_run, passage_baselines
    from eval.quality_data import QualitySet, load_quality_set
    from eval.quality_report import summary_rows, write_quality_report

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    data = load_quality_set(args.questions)
    if args.limit is not None:
        keep = {c[0].conversation for c in data.conversations[: args.limit]}
        data = QualitySet(
            data.path, data.format, tuple(i for i in data.items if i.conversation in keep)
        )
    from answer.engine import build_engine  # after the input is read: bad input fails fast

    base = _settings()
    if args.index is not None:
        base.index.path = args.index
    composers = list(dict.fromkeys(args.composer))
    answers: dict[str, Any] = {}
    kinds: dict[str, SystemKind] = {}
    engine_settings: dict[str, Any] = {}
    manifest: dict[str, Any] = {}
    for position, composer in enumerate(composers):
        settings = base.model_copy(deep=True)
        settings.answer.composer = composer
        engine_settings[composer] = settings.model_dump(mode="json")
        engine = build_engine(settings)  # one at a time: each loads the model and the index
        if engine.manifest is not None:
            manifest = engine.manifest.to_dict()
        answers[composer] = answer_all(engine, data, progress=not args.no_progress, label=composer)
        kinds[composer] = SystemKind.COMPOSER
        if position == 0 and not args.no_passage_baselines:
            answers.update(
                passage_baselines(engine, data, answers[composer], progress=not args.no_progress)
            )
            kinds.update({name: SystemKind.PASSAGES for name in BASELINE_DEPTHS})
        del engine
    notes = []
    if not args.no_passage_baselines:
        notes.append(
            f"Passage baselines use the retrieval and conversation of '{composers[0]}' and are cut "
            f"to the length in words of its answers; their lead is their first sentence."
        )
    run = build_run(data, answers, kinds, notes=notes)
    out = _out(args, f"quality-{args.questions.stem}")
    files = write_quality_report(
        out,
        run,
        settings={
            "questions": str(args.questions),
            "composers": composers,
            "passage_baselines": dict(BASELINE_DEPTHS) if not args.no_passage_baselines else {},
            "limit": args.limit,
            "engine_settings": engine_settings,
        },
        manifest=manifest,
        command=_command(args),
    )
    keys = [
        "rouge1_recall",
        "rougeL_f1",
        "coverage_quotes",
        "coverage_with_gaps",
        "type_fit",
        "anaphora_rate",
        "answers_with_juxtaposition",
        "repeat_rate",
        "abstention_rate",
        "pass_rate",
    ]
    _print_table(["system", *keys], summary_rows(run, keys))
    for name in composers:
        gain = run.gain(name)
        if gain is not None:
            print(f"{name}: ROUGE-1 recall {gain:+.1%} over top1-passage")
    print(f"report: {out / 'report.md'} ({', '.join(files)})")
    return 0


def _guarded(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a handler; bad input (a missing file or split, a malformed record or option, an
    unusable index) is one line on stderr and exit code 2, not a traceback."""
    from corpus.loaders import CorpusError
    from index.errors import IndexLoadError

    try:
        return handler(args)
    except (FileNotFoundError, ValueError, CorpusError, IndexLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=False)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))
