"""The SQLite thread store: migrations, round trips, concurrency, a corrupt file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from raybot.errors import ThreadNotFound, UsageError
from raybot.migrations import MIGRATIONS, migrate
from raybot.threads import ThreadStore, Turn, check_thread_id, new_thread_id


def test_migrate_blank_creates_exact_schema_and_is_idempotent():
    db = sqlite3.connect(":memory:")
    assert migrate(db) == [m.__name__ for m in MIGRATIONS]
    cols = {r[1]: r[2] for r in db.execute("pragma table_info(turns)")}
    assert cols == {
        "id": "INTEGER",
        "thread_id": "TEXT",
        "seq": "INTEGER",
        "created_at": "REAL",
        "question": "TEXT",
        "answer": "TEXT",
        "intent": "TEXT",
        "in_scope": "INTEGER",
        "confidence": "REAL",
        "topic": "TEXT",
        "entries": "TEXT",
        "sections": "TEXT",
        "offer": "TEXT",
    }
    assert {r[1] for r in db.execute("pragma table_info(threads)")} == {"id", "title", "created_at", "updated_at"}
    assert migrate(db) == []


def test_round_trip_list_search_delete(tmp_path):
    store = ThreadStore(tmp_path / "t.db")
    tid = new_thread_id()
    store.add_turn(
        tid,
        Turn(
            "why idle?",
            "because soft limit",
            topic="e1",
            entries=["e1"],
            sections={"e1": ["Answer"]},
            offer={"entry": "e1", "section": "Steps", "text": "?"},
        ),
    )
    store.add_turn(tid, Turn("yes", "steps here", intent="affirm", topic="e1", sections={"e1": ["Steps"]}))
    again = ThreadStore(tmp_path / "t.db").load(tid)  # a new connection, as a new process would
    assert [t.seq for t in again.turns] == [1, 2]
    assert again.turns[0].offer["section"] == "Steps" and again.turns[1].intent == "affirm"
    assert again.title == "why idle?"
    assert store.load(None).id == tid
    assert store.search("soft limit")[0]["thread_id"] == tid
    store.delete(tid)
    with pytest.raises(ThreadNotFound):
        store.load(tid)
    with pytest.raises(ThreadNotFound):
        store.delete(tid)


def test_thread_ids_are_sortable_and_validated():
    ids = [new_thread_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50 and len(ids[0]) == 26
    assert check_thread_id("support-42.a_b") == "support-42.a_b"
    for bad in ("", "a b", "x" * 65, "../etc"):
        with pytest.raises(UsageError):
            check_thread_id(bad)


WRITER = """
import sys
from pathlib import Path
from raybot.threads import ThreadStore, Turn
store = ThreadStore(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    store.add_turn("shared", Turn(f"{sys.argv[2]}-{i}", "a"))
"""


def test_two_processes_writing_one_thread_lose_nothing(tmp_path):
    db = tmp_path / "t.db"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, "40"]) for name in ("p", "q")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    thread = ThreadStore(db).load("shared")
    assert len(thread.turns) == 80
    assert [t.seq for t in thread.turns] == list(range(1, 81))
    assert {t.question for t in thread.turns} == {f"{n}-{i}" for n in "pq" for i in range(40)}


def test_corrupt_store_is_moved_aside_not_deleted(tmp_path):
    db = tmp_path / "threads.db"
    db.write_bytes(b"this is not a sqlite database" * 100)
    store = ThreadStore(db)
    store.add_turn("t1", Turn("q", "a"))
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("threads.db.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    assert store.notes and str(aside[0]) in store.notes[0]
    assert store.load("t1").turns[0].question == "q"
