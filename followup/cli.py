"""The `followup` command: one entry point, a subcommand group per layer.

Each module in ``followup.commands`` adds its subcommands with ``add_parser(subparsers)`` and
sets ``func`` to a handler ``(args) -> exit code``. Handlers import their heavy dependencies
lazily, so ``followup --help`` never loads a model or an index.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Subcommand modules, in the order they appear in --help.
COMMAND_MODULES = ("corpus", "index", "ask", "serve", "eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="followup",
        description="Answer medical follow-up questions from cited guideline and research "
        "evidence.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"followup.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Models ship inside a PyPI package: the engine must never try a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what reports record as the command
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # bm25s sets its own logger to DEBUG; its per-build chatter is not ours to print.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
