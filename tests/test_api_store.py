"""The SQLite conversation store: durability settings, turns in order, deletes, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from answer.engine import IndexEngine
from answer.schema import Audience
from api.store import DATABASE_FILE, ConversationNotFoundError, ConversationStore, NoTurnError


@pytest.fixture(scope="module")
def answers(answer_engine: IndexEngine):
    return [
        answer_engine.answer("What causes pernicious anemia?"),
        answer_engine.answer("How is iron-deficiency anemia diagnosed?"),
    ]


@pytest.fixture
def store(tmp_path: Path):
    store = ConversationStore(tmp_path / "data" / DATABASE_FILE).open()
    yield store
    store.close()


def test_wal_and_full_sync_are_on(store: ConversationStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persists in the file
    conn.close()
    # synchronous is per connection: read it from the store's own.
    assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL


def test_open_twice_is_harmless(store: ConversationStore) -> None:
    assert store.open() is store


def test_turns_are_kept_in_order_with_their_answers(store, answers) -> None:
    created = store.create(
        Audience.PATIENT, question="What causes pernicious anemia?", answer=answers[0]
    )
    turn = store.add_turn(created.id, "How is it diagnosed?", Audience.CLINICIAN, answers[1])
    assert turn.index == 1
    got = store.get(created.id)
    assert got.audience is Audience.PATIENT
    assert [t.index for t in got.turns] == [0, 1]
    assert [t.question for t in got.turns] == [
        "What causes pernicious anemia?",
        "How is it diagnosed?",
    ]
    assert [t.audience for t in got.turns] == [Audience.PATIENT, Audience.CLINICIAN]
    assert got.turns[0].answer == answers[0]  # the full Answer round-trips
    assert got.turns[1].answer == answers[1]


def test_an_answer_is_replaced_in_place(store, answers) -> None:
    created = store.create(Audience.CLINICIAN, question="Q one", answer=answers[0])
    store.add_turn(created.id, "Q two", Audience.CLINICIAN, answers[0])
    asked = store.get(created.id).turns[1]

    replaced = store.replace_answer(created.id, 1, Audience.PATIENT, answers[1])
    got = store.get(created.id)
    assert got.turns[1] == replaced
    assert (replaced.question, replaced.created_at) == ("Q two", asked.created_at)
    assert (replaced.audience, replaced.answer) == (Audience.PATIENT, answers[1])
    assert got.turns[0] == created.turns[0]
    assert got.updated_at >= created.updated_at

    with pytest.raises(NoTurnError):
        store.replace_answer(created.id, 2, Audience.PATIENT, answers[1])
    with pytest.raises(ConversationNotFoundError):
        store.replace_answer("c-unknown", 0, Audience.PATIENT, answers[1])


def test_a_reopened_store_has_everything(tmp_path: Path, answers) -> None:
    path = tmp_path / DATABASE_FILE
    first = ConversationStore(path).open()
    created = first.create(Audience.CLINICIAN, question="q1", answer=answers[0])
    first.add_turn(created.id, "q2", Audience.CLINICIAN, answers[1])
    first.close()
    again = ConversationStore(path).open()
    assert [t.question for t in again.get(created.id).turns] == ["q1", "q2"]
    again.close()


def test_unknown_and_deleted_conversations_are_not_found(store, answers) -> None:
    with pytest.raises(ConversationNotFoundError):
        store.get("c_nope")
    created = store.create(Audience.CLINICIAN, question="q", answer=answers[0])
    store.delete(created.id)
    with pytest.raises(ConversationNotFoundError):
        store.get(created.id)
    with pytest.raises(ConversationNotFoundError):
        store.add_turn(created.id, "q2", Audience.CLINICIAN, answers[1])
    with pytest.raises(ConversationNotFoundError):
        store.delete(created.id)
    # The turns went with it (ON DELETE CASCADE).
    rows = store._connection().execute("SELECT COUNT(*) FROM turns").fetchone()[0]
    assert rows == 0


def test_question_without_answer_is_refused(store) -> None:
    with pytest.raises(ValueError, match="both question and answer"):
        store.create(Audience.CLINICIAN, question="q")


def test_concurrent_followups_get_distinct_turn_numbers(store, answers) -> None:
    created = store.create(Audience.CLINICIAN)
    errors: list[BaseException] = []

    def ask(n: int) -> None:
        try:
            for i in range(5):
                store.add_turn(created.id, f"t{n}-{i}", Audience.CLINICIAN, answers[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [t.index for t in store.get(created.id).turns] == list(range(20))


def test_two_processes_worth_of_connections_share_the_file(tmp_path: Path, answers) -> None:
    """Two stores on one file (as with --workers 2): each sees the other's turns."""
    path = tmp_path / DATABASE_FILE
    a, b = ConversationStore(path).open(), ConversationStore(path).open()
    created = a.create(Audience.CLINICIAN, question="q1", answer=answers[0])
    b.add_turn(created.id, "q2", Audience.CLINICIAN, answers[1])
    assert [t.question for t in a.get(created.id).turns] == ["q1", "q2"]
    a.close()
    b.close()


def test_using_a_closed_store_says_so(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / DATABASE_FILE)
    with pytest.raises(RuntimeError, match="not open"):
        store.get("c_x")
