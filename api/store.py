"""Server-side conversations in SQLite: every turn with the full answer it got.

Durability. The database runs in WAL mode with ``synchronous=FULL``. WAL lets readers (GET a
conversation) proceed while a writer appends a turn, and lets several worker processes share
the file. ``FULL`` makes SQLite fsync the WAL at every commit, so once a request has returned
its answer, the turn survives not only a killed server (which ``NORMAL`` would also survive,
since the WAL is already in the OS's page cache) but also an OS crash or power loss, which
with ``NORMAL`` may roll back the last commits. A turn takes tens of milliseconds to compute
and one fsync (about a millisecond on local disk) to keep, so "nothing acknowledged is ever
lost" costs next to nothing. A turn and its answer are written in one transaction: a
conversation never holds a question without its answer.

Example:
    >>> store = ConversationStore(Path("var/data/conversations.sqlite3"))
    >>> store.open()
    >>> convo = store.create(Audience.CLINICIAN)
    >>> store.add_turn(convo.id, "Is B12 low with iron deficiency?", Audience.CLINICIAN, answer)
    >>> len(store.get(convo.id).turns)
    1
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from answer.schema import Answer, Audience
from api.errors import NotFoundError

logger = logging.getLogger(__name__)

DATABASE_FILE = "conversations.sqlite3"
SCHEMA_VERSION = 1
# Another writer (a second worker process) holding the lock: wait this long before failing.
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id          TEXT PRIMARY KEY,
    audience    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    idx             INTEGER NOT NULL,
    question        TEXT NOT NULL,
    audience        TEXT NOT NULL,
    answer          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (conversation_id, idx)
);
"""


class ConversationNotFoundError(NotFoundError):
    """No conversation has this id (it never existed, or it was deleted)."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id!r} not found")
        self.conversation_id = conversation_id


class NoTurnError(NotFoundError):
    """The conversation has no such turn (``index`` None: no turn at all, no question yet)."""

    def __init__(self, conversation_id: str, index: int | None = None) -> None:
        what = "no question yet" if index is None else f"no turn {index}"
        super().__init__(f"conversation {conversation_id!r} has {what}")
        self.conversation_id = conversation_id
        self.index = index


@dataclass(frozen=True)
class StoredTurn:
    """One question of a conversation and the answer it got."""

    index: int
    question: str
    audience: Audience
    answer: Answer
    created_at: str


@dataclass(frozen=True)
class StoredConversation:
    """A conversation and all its turns, oldest first."""

    id: str
    audience: Audience
    created_at: str
    updated_at: str
    turns: tuple[StoredTurn, ...] = ()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_conversation_id() -> str:
    """An unguessable id: without API keys, knowing the id is what grants access."""
    return f"c_{secrets.token_urlsafe(18)}"


class ConversationStore:
    """Conversations in one SQLite file, safe to share between threads and processes.

    The constructor only stores the path; :meth:`open` creates the directory, the file and the
    tables (and may be called twice). One connection is shared by the threads of a process
    behind a lock: every operation is a handful of small statements.

    Args:
        path: the database file, e.g. ``settings.api.data_dir / DATABASE_FILE``.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, committed when the block ends and
        rolled back if it raises."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def open(self) -> ConversationStore:
        """Open (and if needed create) the database; a no-op when already open."""
        with self._lock:
            if self._conn is not None:
                return self
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path,
                isolation_level=None,  # explicit BEGIN ... COMMIT below
                check_same_thread=False,  # guarded by self._lock
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise RuntimeError(f"{self._path}: SQLite refused WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")  # see the module docstring
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                conn.close()
                raise RuntimeError(
                    f"{self._path}: schema version {version}, this code reads {SCHEMA_VERSION}"
                )
            conn.execute("BEGIN IMMEDIATE")
            # Statement by statement: executescript() would COMMIT the transaction first.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
            self._conn = conn
            logger.info("conversation store at %s (WAL, synchronous=FULL)", self._path)
            return self

    def close(self) -> None:
        """Close the connection; the store can be opened again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("ConversationStore is not open; call open() first")
        return self._conn

    def create(
        self,
        audience: Audience,
        *,
        question: str | None = None,
        answer: Answer | None = None,
    ) -> StoredConversation:
        """A new conversation, with its first turn when ``question`` and ``answer`` are given."""
        if (question is None) != (answer is None):
            raise ValueError("give both question and answer for a first turn, or neither")
        conversation_id = new_conversation_id()
        now = _now()
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO conversations (id, audience, created_at, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (conversation_id, audience.value, now, now),
            )
            turns: tuple[StoredTurn, ...] = ()
            if question is not None and answer is not None:
                turns = (
                    self._insert_turn(conn, conversation_id, 0, question, audience, answer, now),
                )
        return StoredConversation(conversation_id, audience, now, now, turns)

    @staticmethod
    def _insert_turn(
        conn: sqlite3.Connection,
        conversation_id: str,
        index: int,
        question: str,
        audience: Audience,
        answer: Answer,
        now: str,
    ) -> StoredTurn:
        conn.execute(
            "INSERT INTO turns (conversation_id, idx, question, audience, answer, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (conversation_id, index, question, audience.value, answer.model_dump_json(), now),
        )
        return StoredTurn(index, question, audience, answer, now)

    def add_turn(
        self, conversation_id: str, question: str, audience: Audience, answer: Answer
    ) -> StoredTurn:
        """Append a turn; its index is one past the last (concurrent appends get distinct ones).

        Raises:
            ConversationNotFoundError: the conversation does not exist (or was just deleted).
        """
        now = _now()
        with self._writing() as conn:
            row = conn.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise ConversationNotFoundError(conversation_id)
            (index,) = conn.execute(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            turn = self._insert_turn(conn, conversation_id, index, question, audience, answer, now)
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
        return turn

    def replace_answer(
        self, conversation_id: str, index: int, audience: Audience, answer: Answer
    ) -> StoredTurn:
        """Give turn ``index`` a new answer; its question and time stay.

        The turn is named by its index, not as "the last one": a follow-up stored while the
        new answer was being written does not receive it.

        Raises:
            ConversationNotFoundError: the conversation does not exist.
            NoTurnError: it has no turn ``index``.
        """
        now = _now()
        with self._writing() as conn:
            found = conn.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if found is None:
                raise ConversationNotFoundError(conversation_id)
            row = conn.execute(
                "SELECT question, created_at FROM turns WHERE conversation_id = ? AND idx = ?",
                (conversation_id, index),
            ).fetchone()
            if row is None:
                raise NoTurnError(conversation_id, index)
            question, asked_at = row
            conn.execute(
                "UPDATE turns SET audience = ?, answer = ? WHERE conversation_id = ? AND idx = ?",
                (audience.value, answer.model_dump_json(), conversation_id, index),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
        return StoredTurn(index, question, audience, answer, asked_at)

    def get(self, conversation_id: str) -> StoredConversation:
        """The conversation with all its turns, oldest first.

        Raises:
            ConversationNotFoundError: no such conversation.
        """
        with self._lock:
            conn = self._connection()
            # One read transaction: the turns match the conversation row even during a write.
            conn.execute("BEGIN")
            try:
                row = conn.execute(
                    "SELECT id, audience, created_at, updated_at FROM conversations WHERE id = ?",
                    (conversation_id,),
                ).fetchone()
                rows = conn.execute(
                    "SELECT idx, question, audience, answer, created_at FROM turns"
                    " WHERE conversation_id = ? ORDER BY idx",
                    (conversation_id,),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        if row is None:
            raise ConversationNotFoundError(conversation_id)
        turns = tuple(
            StoredTurn(idx, question, Audience(audience), Answer.model_validate_json(answer), at)
            for idx, question, audience, answer, at in rows
        )
        return StoredConversation(row[0], Audience(row[1]), row[2], row[3], turns)

    def exists(self, conversation_id: str) -> bool:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
                .fetchone()
            )
        return row is not None

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its turns.

        Raises:
            ConversationNotFoundError: no such conversation.
        """
        with self._writing() as conn:
            deleted = conn.execute(
                "DELETE FROM conversations WHERE id = ?", (conversation_id,)
            ).rowcount
        if not deleted:
            raise ConversationNotFoundError(conversation_id)

    def count(self) -> int:
        """Number of conversations (for readiness and tests)."""
        with self._lock:
            (n,) = self._connection().execute("SELECT COUNT(*) FROM conversations").fetchone()
        return int(n)
