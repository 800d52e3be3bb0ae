"""`followup serve` (the HTTP API and chat page) and `followup chat` (a terminal conversation).

``serve`` resolves the settings (command-line flags over ``FOLLOWUP_*`` environment variables
over defaults), checks that the index exists, and runs uvicorn. The encoder gets one torch
thread unless ``--threads`` or ``FOLLOWUP_EMBEDDER__THREADS`` says otherwise: one request is
one short query encoding, where a second thread buys little and, on a small shared machine,
costs latency spikes; use ``--workers`` (processes) to use more cores.

``chat`` loads the engine in-process and reads questions from the terminal (or stdin), each
one a follow-up of the ones before, until end of input or ``/quit``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from answer.settings import Settings

logger = logging.getLogger(__name__)

# The resolved settings handed to uvicorn's worker processes (--workers > 1) as JSON.
SETTINGS_ENV = "FOLLOWUP_SERVE_SETTINGS_JSON"
DEFAULT_SERVER_THREADS = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the HTTP API and the chat page",
        description="Serve the answer API (/v1, documented at /docs) and the chat page (/). "
        "Flags override FOLLOWUP_* environment variables (e.g. FOLLOWUP_API__API_KEYS).",
    )
    serve.add_argument(
        "--index", type=Path, default=None, help="index directory (default: var/demo-index)"
    )
    serve.add_argument("--host", default=None, help="bind address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="bind port (default: 8000)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where conversations.sqlite3 lives (default: var/data)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes, each with its own model (default: 1)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accept this key (repeatable); then every /v1 call needs one. Keys on a command "
        "line are visible to other local users in `ps`: prefer FOLLOWUP_API__API_KEYS",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="let pages from this origin call the API, e.g. https://www.example.com (repeatable)",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch threads per worker for query encoding (default: {DEFAULT_SERVER_THREADS})",
    )
    serve.add_argument(
        "--log-questions",
        action="store_true",
        default=None,
        help="log question text (health data: off by default)",
    )
    serve.set_defaults(func=run_serve)

    chat = subparsers.add_parser(
        "chat",
        help="a conversation in the terminal: ask, then ask follow-ups",
        description="Ask questions in the terminal; each is answered as a follow-up of the "
        "ones before. Commands: /new starts over, /patient or /clinician sets the wording, "
        "/quit (or end of input) ends.",
    )
    chat.add_argument(
        "--index", type=Path, default=None, help="index directory (default: var/demo-index)"
    )
    chat.add_argument(
        "--audience",
        choices=("clinician", "patient"),
        default=None,
        help="wording (default: clinician)",
    )
    chat.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for query encoding (default: torch's)",
    )
    chat.set_defaults(func=run_chat)


# --------------------------------------------------------------------------------- settings


def serve_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the flags that were given on top."""
    from answer.settings import Settings

    api: dict[str, Any] = {}
    for flag, field in (
        ("host", "host"),
        ("port", "port"),
        ("data_dir", "data_dir"),
        ("workers", "workers"),
        ("api_key", "api_keys"),
        ("cors_origin", "cors_origins"),
        ("log_questions", "log_questions"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            api[field] = value
    overrides: dict[str, Any] = {"api": api}
    if args.index is not None:
        overrides["index"] = {"path": args.index}
    if args.threads is not None:
        overrides["embedder"] = {"threads": args.threads}
    settings = Settings(**overrides)
    if settings.embedder.threads is None:
        settings = settings.model_copy(
            update={
                "embedder": settings.embedder.model_copy(update={"threads": DEFAULT_SERVER_THREADS})
            }
        )
    return settings


def settings_json(settings: Settings) -> str:
    """The settings as JSON with secrets in clear (for worker processes only, via the env)."""
    data = settings.model_dump(mode="json")
    data["api"]["api_keys"] = [k.get_secret_value() for k in settings.api.api_keys]
    if settings.llm.api_key is not None:
        data["llm"]["api_key"] = settings.llm.api_key.get_secret_value()
    if settings.index.qdrant_api_key is not None:
        data["index"]["qdrant_api_key"] = settings.index.qdrant_api_key.get_secret_value()
    return json.dumps(data)


def app_factory() -> FastAPI:
    """The app of one uvicorn worker process, from the settings the parent resolved."""
    from answer.settings import Settings
    from api.app import create_app

    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    _limit_native_threads(settings)
    # Each worker loads before it accepts: workers share one socket, and a request must not
    # reach one that is still loading while another already says it is ready.
    return create_app(settings, load_in_background=False)


def _limit_native_threads(settings: Settings) -> None:
    # OpenMP pools (FAISS, and torch's own) size themselves from this when first used; set it
    # before either is imported so a 1-thread server really runs one compute thread.
    if settings.embedder.threads is not None:
        os.environ.setdefault("OMP_NUM_THREADS", str(settings.embedder.threads))


def _index_problem(path: Path) -> str | None:
    if not (path / "manifest.json").is_file():
        return (
            f"no index at {path} (no manifest.json); "
            f"build one with `followup index build --demo --out {path}`"
        )
    return None


def _store_problem(settings: Settings) -> str | None:
    """Why the conversation database cannot be used (one line naming the file), or None."""
    from api.errors import StoreUnavailableError
    from api.store import DATABASE_FILE, ConversationStore

    store = ConversationStore(settings.api.data_dir / DATABASE_FILE)
    logging.disable(logging.ERROR)  # the store logs the failure; it is printed here instead
    try:
        store.open()
    except StoreUnavailableError as error:
        return f"{store.path}: {error.detail}"
    finally:
        logging.disable(logging.NOTSET)
        store.close()
    return None


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from api.access_log import log_config

    try:
        settings = serve_settings(args)
    except ValidationError as error:
        print(f"error: invalid settings:\n{error}", file=sys.stderr)
        return 2
    problem = _index_problem(settings.index.path) or _store_problem(settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    _limit_native_threads(settings)
    api = settings.api
    logging.getLogger("api").setLevel(logging.INFO)
    if api.workers == 1:
        from api.app import create_app

        uvicorn.run(
            create_app(settings),
            host=api.host,
            port=api.port,
            timeout_graceful_shutdown=10,
            log_config=log_config(),
        )
    else:
        os.environ[SETTINGS_ENV] = settings_json(settings)
        uvicorn.run(
            "followup.commands.serve:app_factory",
            factory=True,
            host=api.host,
            port=api.port,
            workers=api.workers,
            timeout_graceful_shutdown=10,
            log_config=log_config(),
        )
    return 0


# ------------------------------------------------------------------------------------- chat

HELP = "Ask a question. Follow-ups use the conversation so far. /new starts over, /quit ends."


def run_chat(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.console import Console
    from rich.rule import Rule
    from rich.text import Text

    from answer.engine import build_engine
    from answer.render import to_rich
    from answer.schema import Audience
    from answer.settings import Settings
    from api.conversation import turn_of
    from retriever.types import Conversation, EmptyQueryError

    overrides: dict[str, Any] = {}
    if args.index is not None:
        overrides["index"] = {"path": args.index}
    if args.threads is not None:
        overrides["embedder"] = {"threads": args.threads}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        print(f"error: invalid settings:\n{error}", file=sys.stderr)
        return 2
    problem = _index_problem(settings.index.path)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    audience = Audience(args.audience or settings.answer.audience)
    console = Console(highlight=False)
    with console.status("Loading the index and model…"):
        engine = build_engine(settings)
    console.print(Text(HELP, style="dim"))
    conversation = Conversation()
    while True:
        try:
            line = console.input(Text("\nYou: ", style="bold green"))
        except EOFError:
            console.print()
            return 0
        question = line.strip()
        if not question:
            continue
        command = question.lower()
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command == "/new":
            conversation = Conversation()
            console.print(Text("New conversation.", style="dim"))
            continue
        if command in ("/patient", "/clinician"):
            audience = Audience(command[1:])
            console.print(Text(f"Answers now for: {audience.value}.", style="dim"))
            continue
        try:
            answer = engine.answer(question, conversation=conversation, audience=audience)
        except EmptyQueryError as error:
            console.print(Text(f"error: {error}", style="red"))
            continue
        title = question if not conversation.turns else f"Follow-up: {question}"
        console.print(Rule(Text(title), align="left"))
        if answer.topic_shift:
            console.print(Text("New topic: earlier questions were not used.", style="dim"))
        if answer.standalone_query != question:
            console.print(Text.assemble(("searched for: ", "dim"), answer.standalone_query))
        console.print(to_rich(answer))
        conversation = Conversation((*conversation.turns, turn_of(question, answer)))
