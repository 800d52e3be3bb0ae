"""`followup ask "question" [--followup "..."]...`: answer from the index, every sentence cited.

With ``--followup`` the questions form one conversation: each answer becomes a turn (its
question, its quoted text and the passages it cited) that the next question is asked in.
``--json`` prints one Answer JSON object per line (one line per question). The engine, model
and index are loaded inside the handler, so ``followup --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="answer a question (and follow-ups) from the index, every sentence cited",
        description="Answer a medical question from the indexed guideline and research "
        "passages. Sentences are quoted verbatim and cited; references are grouped into "
        "Guideline and Research. Follow-ups are answered in turn as one conversation.",
    )
    parser.add_argument("question", help="the first question")
    parser.add_argument(
        "--followup",
        action="append",
        default=[],
        metavar="QUESTION",
        help="a follow-up question, answered after the previous ones (repeatable)",
    )
    parser.add_argument(
        "--audience",
        choices=("clinician", "patient"),
        default=None,
        help="wording preference (default: the settings' answer.audience, clinician)",
    )
    parser.add_argument(
        "--generator",
        choices=("extractive", "llm"),
        default=None,
        help="extractive (default) or an OpenAI-compatible endpoint (FOLLOWUP_LLM__BASE_URL); "
        "the LLM path falls back to extractive on any failure",
    )
    parser.add_argument(
        "--index", type=Path, default=None, help="index directory (default: var/demo-index)"
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print Markdown instead of the terminal layout"
    )
    parser.add_argument("--json", action="store_true", help="print each Answer as one JSON line")
    parser.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> Any:
    from answer.settings import Settings

    settings = Settings()
    if args.index is not None:
        settings.index.path = args.index
    if args.audience is not None:
        settings.answer.audience = args.audience
    if args.generator is not None:
        settings.answer.generator = args.generator
    return settings


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.rule import Rule
    from rich.text import Text

    from answer.engine import as_turn, build_engine
    from answer.render import to_markdown, to_rich
    from index.errors import IndexLoadError
    from retriever.types import Conversation, EmptyQueryError

    settings = _settings(args)
    try:
        engine = build_engine(settings)
    except IndexLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        print("build the demo index with `followup index build --demo`", file=sys.stderr)
        return 2
    console = Console()
    conversation = Conversation()
    questions = [args.question, *args.followup]
    for number, question in enumerate(questions):
        try:
            answer = engine.answer(question, conversation=conversation)
        except EmptyQueryError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if args.json:
            sys.stdout.write(answer.model_dump_json() + "\n")
        elif args.markdown:
            sys.stdout.write(f"# {question}\n\n{to_markdown(answer)}\n")
        else:
            title = question if number == 0 else f"Follow-up: {question}"
            console.print(Rule(title, align="left"))
            if answer.standalone_query != question:
                console.print(Text.assemble(("searched for: ", "dim"), answer.standalone_query))
            console.print(to_rich(answer))
        conversation = Conversation((*conversation.turns, as_turn(answer)))
    return 0
