"""The SQLite thread store: migrations, round trips, concurrency, a corrupt file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

from raybot.errors import StoreError, ThreadNotFound, UsageError
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


OPENER = """
import sys, time
from pathlib import Path
from raybot.threads import ThreadStore
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
store = ThreadStore(Path(sys.argv[1]), wait=60)
store.list(5)
print(len(store.notes))
"""


def _healthy_store_bytes(tmp_path, turns: int = 400) -> bytes:
    src = tmp_path / "src.db"
    store = ThreadStore(src)
    for i in range(turns):
        store.add_turn(f"t{i % 40}", Turn(f"question {i} " + "x" * 200, "answer " + "y" * 300))
    store.close()
    return src.read_bytes()


@pytest.mark.parametrize("trial", range(3))
def test_many_processes_move_a_corrupt_store_aside_once(tmp_path, trial):
    """Truncated store + 12 processes opening it at once: one aside, holding the original bytes."""
    data = _healthy_store_bytes(tmp_path)
    damaged = data[: len(data) * 2 // 3]
    home = tmp_path / "home"
    home.mkdir()
    db = home / "threads.db"
    db.write_bytes(damaged)
    start = time.time() + 1.5
    procs = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(db), str(start)], stdout=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 12
    asides = sorted(p for p in home.iterdir() if ".corrupt-" in p.name and not p.name.endswith("-journal"))
    assert len(asides) == 1, asides
    assert asides[0].read_bytes() == damaged  # the original, byte for byte
    # Whoever met the damage says so (a process that opened after the move-aside sees a new store).
    assert sum(int(o.strip()) for o in outs) >= 1
    ThreadStore(db).list()  # and the new store works


def test_move_aside_never_replaces_an_existing_file(tmp_path, monkeypatch):
    from raybot import threads

    db = tmp_path / "threads.db"
    db.write_bytes(b"garbage" * 1000)
    monkeypatch.setattr(threads.secrets, "token_hex", lambda n: "same")
    monkeypatch.setattr(threads.time, "strftime", lambda fmt: "20260101-000000")
    taken = tmp_path / f"threads.db.corrupt-20260101-000000-{os.getpid()}-same"
    taken.write_bytes(b"an older aside")
    with pytest.raises(StoreError):
        ThreadStore(db).list()
    assert taken.read_bytes() == b"an older aside" and db.read_bytes().startswith(b"garbage")


def test_locked_store_waits_a_bounded_time_with_a_note(tmp_path):
    db = tmp_path / "threads.db"
    ThreadStore(db).add_turn("t", Turn("q", "a"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        waited: list[str] = []
        store = ThreadStore(db, wait=1.5, on_wait=waited.append)
        start = time.monotonic()
        with pytest.raises(StoreError) as info:
            store.add_turn("t", Turn("q2", "a2"))
        elapsed = time.monotonic() - start
        assert info.value.reference == "thread-store-busy"
        assert 1.0 <= elapsed < 4.0
        assert len(waited) == 1 and "locked by another process" in waited[0]
    finally:
        holder.execute("rollback")
        holder.close()
    assert [t.question for t in ThreadStore(db).load("t").turns] == ["q"]


def test_damaged_rows_do_not_break_a_thread(tmp_path):
    db = tmp_path / "threads.db"
    store = ThreadStore(db)
    store.add_turn("t", Turn("q1", "a1", entries=["e"]))
    store.add_turn("t", Turn("q2", "a2"))
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("update turns set entries = '{not json', question = cast(x'fffe41' as text) where seq = 1")
    raw.close()
    again = ThreadStore(db)
    thread = again.load("t")
    assert thread.turns[0].entries == [] and "\ufffd" in thread.turns[0].question
    assert any("damaged" in n for n in again.notes)
    assert again.search("q2")  # the rest still works


def test_garbage_page_moves_the_store_aside_and_says_so(tmp_path):
    db = tmp_path / "threads.db"
    data = bytearray(_healthy_store_bytes(tmp_path))
    page = 4096
    for p in range(2, len(data) // page):
        data[p * page : p * page + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    store = ThreadStore(db)
    store.search("question")  # must not raise
    assert store.notes and "moved to" in store.notes[0]
    assert any(".corrupt-" in p.name for p in tmp_path.iterdir())
