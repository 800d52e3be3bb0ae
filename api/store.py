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

Limits. A conversation holds at most ``max_turns`` turns (``api.max_turns``); the limit is
checked in the transaction that appends, so concurrent follow-ups cannot pass it.

Failures. :meth:`ConversationStore.open` checks the file (``PRAGMA quick_check``). A file that
cannot be opened, is not a database or is damaged, and any SQLite error later, raise
:class:`~api.errors.StoreUnavailableError` (503 for clients, with SQLite's words but no path)
after one log line that names the file and SQLite's error. Damage (``SQLITE_CORRUPT``,
``SQLITE_NOTADB``) is remembered: :attr:`ConversationStore.problem` then says what is wrong,
and readiness fails until the file is repaired and the server restarted.

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
from api.errors import NotFoundError, StoreUnavailableError, TurnLimitError

logger = logging.getLogger(__name__)

DATABASE_FILE = "conversations.sqlite3"
SCHEMA_VERSION = 1
# Another writer (a second worker process) holding the lock: wait this long before failing.
BUSY_TIMEOUT_MS = 5000
# SQLite's primary result codes for a file that is damaged (SQLITE_CORRUPT) or not a
# database at all (SQLITE_NOTADB).
_DAMAGED = frozenset({11, 26})

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


def turn_limit_detail(conversation_id: str, max_turns: int) -> str:
    return (
        f"conversation {conversation_id!r} has reached the limit of {max_turns} turns; "
        "start a new conversation"
    )


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
        max_turns: the most turns a conversation may hold (``settings.api.max_turns``);
            None for no limit.
    """

    def __init__(self, path: Path, *, max_turns: int | None = None) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        self._path = Path(path)
        self._max_turns = max_turns
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._problem: str | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def problem(self) -> str | None:
        """Why the store cannot be used (it failed to open, or the file is damaged), or None."""
        return self._problem

    @contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """SQLite's errors (and the OS's, on opening) as :class:`StoreUnavailableError`,
        logged once with the file's path; damage is remembered in :attr:`problem`."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            # An OSError's str() names the path; the client's detail must not.
            reason = error.strerror or str(error) if isinstance(error, OSError) else str(error)
            name = getattr(error, "sqlite_errorname", None)
            logger.error(
                "conversation database %s: %s%s", self._path, reason, f" ({name})" if name else ""
            )
            detail = f"conversations are unavailable: {reason}"
            code = getattr(error, "sqlite_errorcode", None)
            if self._conn is None or (code is not None and code & 0xFF in _DAMAGED):
                self._problem = detail
            raise StoreUnavailableError(detail) from error

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, committed when the block ends and
        rolled back if it raises."""
        with self._lock, self._sqlite_errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def open(self) -> ConversationStore:
        """Open (and if needed create) the database; a no-op when already open.

        Raises:
            StoreUnavailableError: the directory or file cannot be created or written, the
                file is not a SQLite database or fails its quick check, or it has another
                schema version (the log names the file).
        """
        with self._lock, self._sqlite_errors():
            if self._conn is not None:
                return self
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path,
                isolation_level=None,  # explicit BEGIN ... COMMIT below
                check_same_thread=False,  # guarded by self._lock
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._problem = None
            logger.info("conversation store at %s (WAL, synchronous=FULL)", self._path)
            return self

    def _prepare(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"SQLite refused WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")  # see the module docstring
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Reads every page once: a damaged file fails here, not in the middle of a request.
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("database disk image is malformed (PRAGMA quick_check)")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(
                f"schema version {version}, this code reads {SCHEMA_VERSION}"
            )
        conn.execute("BEGIN IMMEDIATE")
        # Statement by statement: executescript() would COMMIT the transaction first.
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection; the store can be opened again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._problem is not None:
            raise StoreUnavailableError(self._problem)
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

    def check_room(self, conversation: StoredConversation) -> None:
        """Raise :class:`TurnLimitError` if ``conversation`` has no room for another turn."""
        if self._max_turns is not None and len(conversation.turns) >= self._max_turns:
            raise TurnLimitError(turn_limit_detail(conversation.id, self._max_turns))

    def add_turn(
        self, conversation_id: str, question: str, audience: Audience, answer: Answer
    ) -> StoredTurn:
        """Append a turn; its index is one past the last (concurrent appends get distinct ones).

        Raises:
            ConversationNotFoundError: the conversation does not exist (or was just deleted).
            TurnLimitError: it already holds ``max_turns`` turns.
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
            if self._max_turns is not None and index >= self._max_turns:
                raise TurnLimitError(turn_limit_detail(conversation_id, self._max_turns))
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
        with self._lock, self._sqlite_errors():
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
        with self._lock, self._sqlite_errors():
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
        """Number of conversations (for tests)."""
        with self._lock, self._sqlite_errors():
            (n,) = self._connection().execute("SELECT COUNT(*) FROM conversations").fetchone()
        return int(n)
