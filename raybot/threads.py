"""Conversation threads in SQLite (``$RAYBOT_HOME/threads.db``).

Every turn is stored with what was shown (entries, sections) and what was offered, so a
thread resumes exactly in a later process. Writes take SQLite's write lock before they
pick the next turn number, so two processes adding to one thread lose nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raybot.errors import StoreError, ThreadNotFound, UsageError
from raybot.migrations import migrate

THREAD_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_last_ulid: list[int] = [0, 0]


def new_thread_id() -> str:
    """A lower-case ULID: time-sortable, so the newest thread sorts last."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    if ms <= _last_ulid[0]:  # monotonic within a process
        ms, rand = _last_ulid[0], _last_ulid[1] + 1
    _last_ulid[:] = [ms, rand]
    value = (ms << 80) | (rand & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def check_thread_id(thread_id: str) -> str:
    if not THREAD_ID_RE.match(thread_id or ""):
        raise UsageError(
            f"invalid thread id {thread_id!r}",
            hint="thread ids are 1-64 characters from A-Z a-z 0-9 . _ -",
            reference="bad-thread-id",
        )
    return thread_id


@dataclass
class Turn:
    question: str
    answer: str
    intent: str = "question"
    in_scope: bool = True
    confidence: float = 0.0
    topic: str | None = None  #: the main entry of the topic this turn belongs to
    entries: list[str] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    offer: dict[str, str] | None = None  #: {"entry", "section", "text"}
    seq: int = 0
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Thread:
    id: str
    title: str
    created_at: float
    updated_at: float
    turns: list[Turn] = field(default_factory=list)
    turn_count: int = 0  #: set by ``ThreadStore.list``, which does not load the turns

    @property
    def size(self) -> int:
        return len(self.turns) or self.turn_count

    def to_dict(self, *, with_turns: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "turns": [t.to_dict() for t in self.turns] if with_turns else self.size,
        }
        return d


class ThreadStore:
    def __init__(self, path: Path):
        self.path = path
        self.notes: list[str] = []
        self._db: sqlite3.Connection | None = None

    # -- opening, with recovery ------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("pragma busy_timeout = 30000")
        db.execute("pragma foreign_keys = on")
        db.execute("begin immediate")
        try:
            migrate(db)
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        return db

    def db(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not self.path.exists() or isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StoreError(
                    f"cannot open the thread store {self.path}: {exc}",
                    hint="check the permissions of RAYBOT_HOME, or set RAYBOT_HOME to another directory",
                ) from exc
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, aside)
            except OSError as move_exc:
                raise StoreError(
                    f"the thread store {self.path} is unreadable ({exc}) and could not be moved aside",
                    hint=f"move {self.path} away by hand; raybot will start a new one",
                ) from move_exc
            self.notes.append(
                f"The thread store {self.path} was unreadable ({exc}); it was moved to {aside} "
                "and a new one was started. Nothing was deleted."
            )
            try:
                self._db = self._connect()
            except sqlite3.Error as exc2:
                raise StoreError(
                    f"cannot create a thread store at {self.path}: {exc2}",
                    hint="set RAYBOT_HOME to a writable directory",
                ) from exc2
        except OSError as exc:
            raise StoreError(
                f"cannot open the thread store {self.path}: {exc}", hint="set RAYBOT_HOME to a writable directory"
            ) from exc
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reading ---------------------------------------------------------------------
    def latest_thread_id(self) -> str | None:
        row = self.db().execute("select id from threads order by updated_at desc, id desc limit 1").fetchone()
        return row[0] if row else None

    def load(self, thread_id: str | None) -> Thread:
        """Load a thread; ``None`` means the most recently used one."""
        db = self.db()
        if thread_id is None:
            thread_id = self.latest_thread_id()
            if thread_id is None:
                raise ThreadNotFound("there is no thread to continue yet", hint='start one with `raybot ask "..."`')
        row = db.execute("select id, title, created_at, updated_at from threads where id = ?", (thread_id,)).fetchone()
        if row is None:
            raise ThreadNotFound(f"no thread with id {thread_id!r}", hint="`raybot threads list` shows the thread ids")
        thread = Thread(*row)
        for r in db.execute(
            "select seq, created_at, question, answer, intent, in_scope, confidence, topic, entries,"
            " sections, offer from turns where thread_id = ? order by seq",
            (thread_id,),
        ):
            thread.turns.append(
                Turn(
                    seq=r[0],
                    created_at=r[1],
                    question=r[2],
                    answer=r[3],
                    intent=r[4],
                    in_scope=bool(r[5]),
                    confidence=r[6],
                    topic=r[7],
                    entries=json.loads(r[8]),
                    sections=json.loads(r[9]),
                    offer=json.loads(r[10]) if r[10] else None,
                )
            )
        return thread

    def exists(self, thread_id: str) -> bool:
        return self.db().execute("select 1 from threads where id = ?", (thread_id,)).fetchone() is not None

    def list(self, limit: int = 20) -> list[Thread]:
        rows = (
            self.db()
            .execute(
                "select t.id, t.title, t.created_at, t.updated_at, count(u.id) from threads t"
                " left join turns u on u.thread_id = t.id group by t.id"
                " order by t.updated_at desc, t.id desc limit ?",
                (limit,),
            )
            .fetchall()
        )
        out = []
        for r in rows:
            th = Thread(r[0], r[1], r[2], r[3])
            th.turn_count = r[4]
            out.append(th)
        return out

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        terms = [t for t in re.findall(r"\w+", text) if t]
        if not terms:
            raise UsageError("nothing to search for", hint="give a word or two", reference="empty-query")
        match = " ".join(f'"{t}"' for t in terms)
        rows = (
            self.db()
            .execute(
                "select u.thread_id, u.seq, snippet(turns_fts, -1, '[', ']', '…', 12) from turns_fts"
                " join turns u on u.id = turns_fts.rowid where turns_fts match ? order by rank limit ?",
                (match, limit),
            )
            .fetchall()
        )
        return [{"thread_id": r[0], "seq": r[1], "snippet": r[2]} for r in rows]

    # -- writing ---------------------------------------------------------------------
    def add_turn(self, thread_id: str, turn: Turn, *, title: str | None = None) -> Turn:
        """Append a turn, creating the thread if needed. Safe across processes."""
        db = self.db()
        now = time.time()
        db.execute("begin immediate")
        try:
            db.execute(
                "insert into threads (id, title, created_at, updated_at) values (?, ?, ?, ?)"
                " on conflict(id) do update set updated_at = excluded.updated_at",
                (thread_id, " ".join((title or turn.question).split())[:80] or "(untitled)", now, now),
            )
            seq = db.execute(
                "select coalesce(max(seq), 0) + 1 from turns where thread_id = ?", (thread_id,)
            ).fetchone()[0]
            db.execute(
                "insert into turns (thread_id, seq, created_at, question, answer, intent, in_scope,"
                " confidence, topic, entries, sections, offer) values (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    thread_id,
                    seq,
                    now,
                    turn.question,
                    turn.answer,
                    turn.intent,
                    int(turn.in_scope),
                    float(turn.confidence),
                    turn.topic,
                    json.dumps(turn.entries),
                    json.dumps(turn.sections, sort_keys=True),
                    json.dumps(turn.offer, sort_keys=True) if turn.offer else None,
                ),
            )
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        turn.seq, turn.created_at = seq, now
        return turn

    def delete(self, thread_id: str) -> None:
        db = self.db()
        db.execute("begin immediate")
        try:
            db.execute("delete from turns where thread_id = ?", (thread_id,))
            cur = db.execute("delete from threads where id = ?", (thread_id,))
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        if cur.rowcount == 0:
            raise ThreadNotFound(f"no thread with id {thread_id!r}", hint="`raybot threads list` shows the thread ids")


def default_store() -> ThreadStore:
    from raybot import paths

    return ThreadStore(paths.home() / "threads.db")


__all__ = ["Thread", "ThreadStore", "Turn", "check_thread_id", "default_store", "migrate", "new_thread_id"]
