"""`followup corpus ...`: inspect and check corpus files.

    followup corpus stats [--corpus PATH ... | --demo] [--format F] [--skip-bad]
    followup corpus validate FILE [--format F] [--skip-bad]

``stats`` loads the corpora, chunks them with the default ``ChunkingConfig`` and prints passage
counts by evidence kind, by design (evidence tier) and by publisher. ``validate`` reads a file
and lists every malformed record as ``file:line: problem``; it exits 1 when there is any,
unless ``--skip-bad`` accepts skipping them (it still reports how many).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path
from typing import Any

FORMAT_HELP = "beir, medquad, pubmedqa, demo-b12-iron, jsonl or markdown (default: detect)"


def add_parser(subparsers: Any) -> None:
    """Add ``corpus stats`` and ``corpus validate`` to the ``followup`` command."""
    parser = subparsers.add_parser(
        "corpus", help="inspect and validate corpus files", description=__doc__
    )
    commands = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    stats = commands.add_parser(
        "stats",
        help="passage counts by kind, design and publisher",
        description="Load corpora, chunk them with the default chunking, and count passages.",
    )
    source = stats.add_mutually_exclusive_group()
    source.add_argument(
        "--corpus",
        type=Path,
        action="append",
        metavar="PATH",
        help="a corpus file or folder (repeatable)",
    )
    source.add_argument("--demo", action="store_true", help="the packaged demo corpus (default)")
    stats.add_argument("--format", dest="fmt", metavar="F", help=FORMAT_HELP)
    stats.add_argument("--skip-bad", action="store_true", help="skip malformed records")
    stats.set_defaults(func=run_stats)

    validate = commands.add_parser(
        "validate",
        help="check a corpus file and list its malformed records",
        description="Check a corpus file; exit 1 if any record is malformed (0 with --skip-bad "
        "when the rest is usable).",
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    validate.add_argument("--format", dest="fmt", metavar="F", help=FORMAT_HELP)
    validate.add_argument(
        "--skip-bad", action="store_true", help="accept the file if bad records can be skipped"
    )
    validate.set_defaults(func=run_validate)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _format_or_error(value: str | None) -> tuple[Any, str | None]:
    from corpus.loaders import CorpusFormat

    if value is None:
        return None, None
    try:
        return CorpusFormat.parse(value), None
    except ValueError as error:
        return None, str(error)


def run_stats(args: argparse.Namespace) -> int:
    """Print passage counts of the given corpora (or the demo corpus)."""
    from rich.table import Table

    from corpus.chunking import DEFAULT_CHUNKING, chunk_documents
    from corpus.demo import DEMO_CORPUS
    from corpus.loaders import CorpusError, load_corpora

    out, err = _console(), _console(stderr=True)
    fmt, problem = _format_or_error(args.fmt)
    if problem:
        err.print(f"error: {problem}")
        return 2
    paths = args.corpus or [DEMO_CORPUS]
    try:
        result = load_corpora(paths, fmt, skip_bad=args.skip_bad)
    except CorpusError as error:
        err.print(f"error: {error}", markup=False)
        return 1
    for skipped in result.skipped:
        err.print(f"skipped {skipped}", markup=False)
    passages = chunk_documents(result.documents, DEFAULT_CHUNKING)

    def table(title: str, counts: collections.Counter[str], label: str) -> Table:
        view = Table(title=title, title_justify="left")
        view.add_column(label)
        view.add_column("passages", justify="right")
        view.add_column("share", justify="right")
        total = sum(counts.values()) or 1
        for name, count in counts.most_common():
            view.add_row(name, f"{count:,}", f"{count / total:.1%}")
        view.add_section()
        view.add_row("total", f"{sum(counts.values()):,}", "")
        return view

    names = ", ".join(str(path) for path in paths)
    out.print(
        f"{names}: {len(result.documents):,} documents, {len(passages):,} passages "
        f"(max_tokens={DEFAULT_CHUNKING.max_tokens}, "
        f"overlap_sentences={DEFAULT_CHUNKING.overlap_sentences})"
        + (f", {len(result.skipped)} bad records skipped" if result.skipped else ""),
        markup=False,
    )
    out.print(table("By kind", collections.Counter(p.kind.value for p in passages), "kind"))
    out.print(table("By design", collections.Counter(p.tier.value for p in passages), "tier"))
    out.print(
        table(
            "By publisher",
            collections.Counter(f"{p.source} ({p.kind.value})" for p in passages),
            "publisher",
        )
    )
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Check one corpus file; report every malformed record as ``file:line: problem``."""
    from corpus.detect import detect_format
    from corpus.loaders import CorpusError, load_corpus

    out, err = _console(), _console(stderr=True)
    fmt, problem = _format_or_error(args.fmt)
    if problem:
        err.print(f"error: {problem}")
        return 2
    try:
        corpus_format = fmt or detect_format(args.file)
        # Always collect every bad record, so one run lists all of them.
        result = load_corpus(args.file, corpus_format, skip_bad=True)
    except CorpusError as error:
        for bad in error.skipped:  # every record was bad: list them all
            err.print(f"error: {bad}", markup=False)
        err.print(f"error: {error}", markup=False)
        return 1
    for bad in result.skipped:
        err.print(f"error: {bad}", markup=False)
    summary = (
        f"{args.file}: {len(result.documents):,} valid documents ({corpus_format.value}), "
        f"{len(result.skipped):,} bad records"
    )
    if result.skipped and not args.skip_bad:
        err.print(f"{summary}; fix them or pass --skip-bad to skip them", markup=False)
        return 1
    if result.skipped:
        out.print(f"{summary} skipped", markup=False)
    else:
        out.print(f"{summary}: ok", markup=False)
    return 0
