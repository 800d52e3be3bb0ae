"""`followup index ...`: build, update, inspect and check a passage index.

    followup index build  (--corpus PATH... | --demo) [--format F] [--skip-bad] --out DIR
                          [--dense flat|hnsw|ivf-sq8] [--encoder onnx-int8|torch]
                          [--backend faiss|qdrant] [--qdrant-url URL] [--resume] [...]
                          [--threads N] [--batch-size N] [--no-progress]
    followup index add    --index DIR --corpus PATH... [--format F] [--skip-bad] [--threads N]
    followup index remove --index DIR (--ids ID... | --ids-file FILE)
    followup index info   --index DIR [--json]
    followup index verify --index DIR [--json]

Every write (build, add, remove) makes a complete new version next to DIR and then switches
the DIR link to it atomically: an interrupted command leaves the previous index in place.
With --backend qdrant the vectors and BM25 postings go into a Qdrant collection: inside DIR
(local mode), or with --qdrant-url on a server, DIR then holding only the manifest. A server's
API key is read from the environment variable FOLLOWUP_INDEX__QDRANT_API_KEY.
Exit status: 0 on success, 1 when the work failed (or verify found a problem), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.encoders import BACKENDS, DEFAULT_BACKEND, Backend, backend_of

# The Qdrant server's key (the engine's settings read the same variable: index.qdrant_api_key).
QDRANT_API_KEY_ENV = "FOLLOWUP_INDEX__QDRANT_API_KEY"

FORMAT_HELP = "beir, medquad, pubmedqa, demo-b12-iron, jsonl or markdown (default: detect)"


def add_parser(subparsers: Any) -> None:
    """Add ``index build|add|remove|info|verify`` to the ``followup`` command."""
    parser = subparsers.add_parser(
        "index",
        help="build, update and check the passage index",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    build = commands.add_parser(
        "build",
        help="chunk, embed and index corpora into DIR (replacing it atomically)",
        description="Chunk, embed and index corpora. DIR becomes a link to a new version "
        "directory DIR.<build id>; the previous version is removed once the switch is done.",
    )
    build.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="corpus files or folders (repeatable)",
    )
    build.add_argument("--demo", action="store_true", help="include the packaged demo corpus")
    _corpus_options(build)
    build.add_argument("--out", type=Path, required=True, metavar="DIR", help="the index path")
    build.add_argument(
        "--dense",
        default="flat",
        choices=["flat", "hnsw", "ivf-sq8"],
        help="exact flat search (default), approximate HNSW (advised beyond ~200K passages), "
        "or approximate IVF with 8-bit codes (a quarter of the memory: 1M passages in 0.45 GB)",
    )
    build.add_argument(
        "--encoder",
        default=DEFAULT_BACKEND,
        choices=BACKENDS,
        help=f"the model's int8 ONNX export or the torch model (default: {DEFAULT_BACKEND}); "
        "queries are encoded with the same one",
    )
    build.add_argument(
        "--bm25-k1",
        type=float,
        metavar="K1",
        help="BM25 k1 for this corpus, recorded in the manifest (default: Bm25Settings's)",
    )
    build.add_argument(
        "--bm25-b",
        type=float,
        metavar="B",
        help="BM25 b for this corpus, recorded in the manifest (default: Bm25Settings's; "
        "issue 17 found b 0.75 better on MedQuAD answers, docs/eval.md)",
    )
    _storage_options(build)
    _encoder_options(build)
    build.set_defaults(func=run_build)

    add = commands.add_parser(
        "add",
        help="add or update documents, embedding only new passages",
        description="Add documents. Unchanged documents are skipped, changed ones have their "
        "passages replaced, and only passages not already in the index are encoded.",
    )
    add.add_argument("--index", type=Path, required=True, metavar="DIR")
    add.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        action="extend",
        required=True,
        metavar="PATH",
        help="corpus files or folders (repeatable)",
    )
    _corpus_options(add)
    _encoder_options(add)
    add.set_defaults(func=run_add)

    remove = commands.add_parser(
        "remove",
        help="remove documents by id",
        description="Remove documents and all their passages; nothing is re-encoded.",
    )
    remove.add_argument("--index", type=Path, required=True, metavar="DIR")
    ids = remove.add_mutually_exclusive_group(required=True)
    ids.add_argument("--ids", nargs="+", metavar="ID", help="document ids")
    ids.add_argument(
        "--ids-file", type=Path, metavar="FILE", help="a file with one document id per line"
    )
    remove.set_defaults(func=run_remove)

    info = commands.add_parser("info", help="print the manifest of an index")
    info.add_argument("--index", type=Path, required=True, metavar="DIR")
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.set_defaults(func=run_info)

    verify = commands.add_parser(
        "verify",
        help="check checksums, counts, FAISS against exact search, and BM25",
        description="Check every file against its checksum, that passages, vectors, FAISS and "
        "BM25 agree, that FAISS returns what exact search over the stored vectors returns "
        "(recall@10 for HNSW), and that BM25 matches the passage texts. Exit 1 on any problem.",
    )
    verify.add_argument("--index", type=Path, required=True, metavar="DIR")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)


def _storage_options(parser: argparse.ArgumentParser) -> None:
    storage = parser.add_argument_group("storage (docs/scale-out.md)")
    storage.add_argument(
        "--backend",
        default="faiss",
        choices=["faiss", "qdrant"],
        help="FAISS and bm25s files in DIR (default), or a Qdrant collection",
    )
    storage.add_argument(
        "--qdrant-url",
        metavar="URL",
        help="the Qdrant server (http://host:6333); without it the collection is kept in DIR",
    )
    storage.add_argument(
        "--qdrant-prefix",
        metavar="NAME",
        help="names the index's collections NAME-<build id> (default: DIR's name)",
    )
    storage.add_argument(
        "--sparse",
        default="bm25",
        choices=["bm25", "idf"],
        help="BM25 weights precomputed (default), or Qdrant's IDF modifier",
    )
    storage.add_argument("--shards", type=int, default=1, metavar="N", help="collection shards")
    storage.add_argument(
        "--replication", type=int, default=1, metavar="N", help="copies of each shard"
    )
    storage.add_argument(
        "--on-disk", action="store_true", help="original vectors and sparse index on disk"
    )
    storage.add_argument(
        "--quantization",
        default="none",
        choices=["none", "int8"],
        help="scalar quantisation of the dense vectors in RAM (rescored with the originals)",
    )
    storage.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted Qdrant build of DIR where it stopped",
    )


def _storage(args: argparse.Namespace) -> Any:
    """The ``StorageConfig`` the build options name (a bad value raises ``ValueError``)."""
    from index.storage import (
        QdrantConfig,
        Quantization,
        SparseWeights,
        StorageBackend,
        StorageConfig,
    )

    backend = StorageBackend.parse(args.backend)
    if backend is StorageBackend.FAISS:
        if args.qdrant_url or args.resume:
            raise ValueError("--qdrant-url and --resume go with --backend qdrant")
        return StorageConfig()
    qdrant = QdrantConfig(
        prefix=args.qdrant_prefix or args.out.name,
        url=args.qdrant_url,
        sparse=SparseWeights(args.sparse),
        shards=args.shards,
        replication=args.replication,
        on_disk=args.on_disk,
        quantization=Quantization(args.quantization),
    )
    return StorageConfig(backend, qdrant)


def _qdrant_api_key() -> str | None:
    return os.environ.get(QDRANT_API_KEY_ENV) or None


def _corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", dest="fmt", metavar="F", help=FORMAT_HELP)
    parser.add_argument("--skip-bad", action="store_true", help="skip malformed records")


def _encoder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=int, metavar="N", help="threads for encoding (default: all cores)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, metavar="N", help="passages per forward pass"
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )
    parser.set_defaults(progress=None)


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _quiet_libraries() -> None:
    # bm25s sets its own logger to DEBUG, which the root handler would print.
    logging.getLogger("bm25s").setLevel(logging.WARNING)


def _load_documents(args: argparse.Namespace, *, demo: bool = False) -> list[Any] | None:
    """Documents of --corpus (and the demo corpus), or None after printing the error."""
    from corpus.loaders import CorpusError, CorpusFormat, load_corpora

    try:
        fmt = CorpusFormat.parse(args.fmt) if args.fmt else None
    except ValueError as error:
        _err(str(error))
        return None
    documents: list[Any] = []
    try:
        if demo:
            from corpus.demo import load_demo

            documents.extend(load_demo().documents)
        if args.corpus:
            result = load_corpora(args.corpus, fmt, skip_bad=args.skip_bad)
            for skipped in result.skipped:
                print(f"skipped {skipped}", file=sys.stderr)
            documents.extend(result.documents)
    except CorpusError as error:
        _err(str(error))
        return None
    return documents


def _embedder(args: argparse.Namespace, backend: Backend) -> Any:
    from index.encoders import load_embedder

    return load_embedder(backend, threads=args.threads, batch_size=args.batch_size)


def _sentences(embedder: Any, args: argparse.Namespace) -> Any:
    """The answer layer's sentence file, written into every index version (no embedder:
    carried over from the previous version)."""
    from answer.sentences import SentenceCompanion

    progress = embedder is not None and _progress(args)
    return SentenceCompanion(embedder, progress=progress)


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _check_encoder_args(args: argparse.Namespace) -> bool:
    if args.threads is not None and args.threads < 1:
        _err(f"--threads must be at least 1, got {args.threads}")
        return False
    if args.batch_size < 1:
        _err(f"--batch-size must be at least 1, got {args.batch_size}")
        return False
    return True


def _bm25_settings(args: argparse.Namespace) -> Any:
    """``Bm25Settings`` with ``--bm25-k1`` / ``--bm25-b`` where given (its own defaults
    otherwise); a bad value raises ``ValueError`` naming it."""
    from index.lexical import Bm25Settings

    changes = {
        name: value
        for name, value in (("k1", args.bm25_k1), ("b", args.bm25_b))
        if value is not None
    }
    return replace(Bm25Settings(), **changes)


def run_build(args: argparse.Namespace) -> int:
    """Build an index from corpora (``--corpus`` and/or ``--demo``)."""
    from index.build import build_index
    from index.dense import DenseConfig, DenseKind
    from index.errors import IndexDiskFullError, IndexLoadError, ModelNotInstalledError
    from index.publish import IndexLockedError

    _quiet_libraries()
    if not args.corpus and not args.demo:
        _err("give --corpus PATH... or --demo")
        return 2
    if not _check_encoder_args(args):
        return 2
    documents = _load_documents(args, demo=args.demo)
    if documents is None:
        return 1
    try:
        storage = _storage(args)
        embedder = _embedder(args, args.encoder)
        companions = [_sentences(embedder, args)]
        manifest = build_index(
            documents,
            args.out,
            embedder,
            dense=DenseConfig(kind=DenseKind.parse(args.dense)),
            bm25=_bm25_settings(args),
            progress=_progress(args),
            companions=companions,
            storage=storage,
            qdrant_api_key=_qdrant_api_key(),
            resume=args.resume,
        )
    except (
        ModelNotInstalledError,
        IndexLockedError,
        IndexDiskFullError,
        IndexLoadError,
        FileExistsError,
        ValueError,
    ) as error:
        _err(str(error))
        return 1
    seconds = manifest.build_seconds  # chunk, encode, index and write; not the model load
    print(
        f"built {args.out} -> {args.out.name}.{manifest.build_id}: {manifest.documents:,} "
        f"documents, {manifest.passages:,} passages, {_stores(manifest)} "
        f"({seconds:.1f}s, {manifest.passages / max(seconds, 1e-9):.1f} passages/s)"
    )
    return 0


def _stores(manifest: Any) -> str:
    """Where a manifest's vectors and postings are, in a few words."""
    qdrant = manifest.storage.qdrant
    if qdrant is None:
        return f"{manifest.dense.kind.value} dense index"
    where = "local" if qdrant.local else qdrant.url
    return f"Qdrant collection {qdrant.collection(manifest.build_id)} ({where})"


def run_add(args: argparse.Namespace) -> int:
    """Add or update documents in an index."""
    from index.build import add_documents
    from index.errors import IndexDiskFullError, IndexLoadError, ModelNotInstalledError
    from index.manifest import Manifest
    from index.publish import IndexLockedError

    _quiet_libraries()
    if not _check_encoder_args(args):
        return 2
    documents = _load_documents(args)
    if documents is None:
        return 1
    try:
        backend = backend_of(Manifest.read(args.index).model_name)  # the index's own encoder
        embedder = _embedder(args, backend)
        report = add_documents(
            args.index,
            documents,
            embedder,
            progress=_progress(args),
            companions=[_sentences(embedder, args)],
            qdrant_api_key=_qdrant_api_key(),
        )
    except (
        IndexLoadError,
        ModelNotInstalledError,
        IndexLockedError,
        IndexDiskFullError,
        ValueError,
    ) as error:
        _err(str(error))
        return 1
    print(
        f"{args.index}: added {len(report.added_documents)} documents, replaced "
        f"{len(report.replaced_documents)}, unchanged {len(report.unchanged_documents)}; "
        f"+{report.added_passages} / -{report.removed_passages} passages, "
        f"{report.encoded_passages} encoded"
        + (f"; now {report.manifest.passages:,} passages" if report.changed else "; no change")
    )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Remove documents from an index by id."""
    from index.build import remove_documents
    from index.errors import IndexDiskFullError, IndexLoadError
    from index.publish import IndexLockedError

    _quiet_libraries()
    if args.ids_file is not None:
        try:
            text = args.ids_file.read_text(encoding="utf-8")
        except OSError as error:
            _err(f"cannot read {args.ids_file}: {error.strerror}")
            return 1
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        ids = list(args.ids)
    try:
        # Removing passages needs no new sentences: the index's sentence file is carried over.
        report = remove_documents(
            args.index,
            ids,
            companions=[_sentences(None, args)],
            qdrant_api_key=_qdrant_api_key(),
        )
    except (IndexLoadError, IndexLockedError, IndexDiskFullError, ValueError) as error:
        _err(str(error))
        return 1
    for missing in report.missing_documents:
        print(f"not in the index: {missing}", file=sys.stderr)
    print(
        f"{args.index}: removed {len(report.removed_documents)} documents "
        f"({report.removed_passages} passages)"
        + (f"; now {report.manifest.passages:,} passages" if report.changed else "; no change")
    )
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Print what an index holds and how it was built."""
    from index.errors import IndexLoadError
    from index.manifest import Manifest

    if not args.index.exists():
        _err(f"no index at {args.index}")
        return 1
    try:
        manifest = Manifest.read(args.index.resolve())
    except IndexLoadError as error:
        _err(str(error))
        return 1
    if args.json:
        print(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False))
        return 0
    size = sum(entry.size for entry in manifest.files.values())
    tiers = ", ".join(f"{tier} {count:,}" for tier, count in manifest.tiers.items())
    bm25 = manifest.bm25
    lines = [
        ("index", f"{args.index} -> {args.index.resolve().name}"),
        ("build", f"{manifest.build_id} at {manifest.built_at} ({manifest.build_seconds:.1f}s)"),
        ("updated from", manifest.parent_build_id or "-"),
        ("format", f"{manifest.format_version} (followup {manifest.package_version})"),
        ("model", f"{manifest.model_name}, {manifest.dimension}d, normalised"),
        ("storage", _stores(manifest)),
        ("dense", json.dumps(manifest.dense.to_dict())),
        (
            "bm25",
            f"{bm25.method.value} k1={bm25.k1} b={bm25.b}, stop words {bm25.stopwords.value}, "
            f"stemming {bm25.stemming.value}",
        ),
        ("chunking", json.dumps(dict(manifest.chunking))),
        ("documents", f"{manifest.documents:,}"),
        ("passages", f"{manifest.passages:,} ({tiers})"),
        ("fingerprint", manifest.corpus_fingerprint),
        ("size", f"{size / 1e6:.1f} MB in {len(manifest.files) + 1} files"),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Check an index end to end; exit 1 if anything is wrong."""
    from index.verify import verify

    _quiet_libraries()
    if not args.index.exists():
        _err(f"no index at {args.index}")
        return 1
    report = verify(args.index, qdrant_api_key=_qdrant_api_key())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for check in report.checks:
            print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<13} {check.detail}")
        if report.recall_at_10 is not None:
            print(f"recall@10 of the approximate index vs exact search: {report.recall_at_10:.4f}")
        print(f"{args.index}: {'ok' if report.ok else 'PROBLEMS FOUND'}")
    return 0 if report.ok else 1
