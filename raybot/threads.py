"""Conversation threads in SQLite (``$RAYBOT_HOME/threads.db``).

Every turn is stored with what was shown (entries, sections) and what was offered, so a
thread resumes exactly in a later process. Writes take SQLite's write lock before they
pick the next turn number, so two processes adding to one thread lose nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from raybot.errors import StoreError, ThreadNotFound, UsageError
from raybot.lazyre import lazy
from raybot.migrations import MIGRATIONS, migrate

T = TypeVar("T")
QUIET_WAIT_S = 0.5  #: a lock held this long is normal contention: wait without a word
STORE_WAIT_S = 4.0  #: the longest any operation waits for a store another process holds
MAX_LIMIT = 1_000_000  #: larger ``limit`` arguments are clamped (SQLite integers are 64-bit)

THREAD_ID_RE = lazy(r"^[A-Za-z0-9._-]{1,64}$")
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
    """The SQLite store of threads.

    * Bounded waits: an operation that finds the store locked by another process waits quietly
      for :data:`QUIET_WAIT_S`, then tells ``on_wait`` (a note for the user) and waits at most
      ``wait`` seconds in all before it raises :class:`StoreError` (``thread-store-busy``).
    * Damage: a store SQLite reports as corrupt (on open or in any later read or write) is
      moved aside to a new, unique ``threads.db.corrupt-<time>-<pid>-<random>`` file (never
      replacing anything), once, under a lock file shared by every raybot process; a new
      store is started and the operation is retried on it. ``notes`` says what happened.
    * Text that is not UTF-8 and JSON that does not parse in a stored turn are read with
      replacement and defaults, with a note, instead of failing the whole thread.
    """

    def __init__(self, path: Path, *, wait: float = STORE_WAIT_S, on_wait: Callable[[str], None] | None = None):
        self.path = path
        self.wait = max(0.0, float(wait))
        self.on_wait = on_wait
        self.notes: list[str] = []
        self._db: sqlite3.Connection | None = None
        self._opened_ino: tuple[int, int] | None = None

    # -- opening, with recovery ------------------------------------------------------
    def _stat_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._opened_ino = self._stat_id()
        db = sqlite3.connect(self.path, timeout=QUIET_WAIT_S, isolation_level=None)
        try:
            db.text_factory = _lenient_text
            db.execute("pragma foreign_keys = on")
            if _pending_migrations(db):
                db.execute("begin immediate")
                try:
                    migrate(db)
                    db.execute("commit")
                except BaseException:
                    # SQLite has already rolled back after an I/O error; a second rollback would
                    # replace the real error with "no transaction is active".
                    if db.in_transaction:
                        db.execute("rollback")
                    raise
        except BaseException:
            db.close()
            raise
        if self._opened_ino is None:
            self._opened_ino = self._stat_id()
        return db

    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._run(lambda db: db, connect_only=True)
        return self._db

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except OSError as exc:
            raise StoreError(
                f"cannot open the thread store {self.path}: {exc.strerror or exc}",
                hint="check the permissions of RAYBOT_HOME, or set RAYBOT_HOME to another directory",
            ) from exc

    def _run(self, op: Callable[[sqlite3.Connection], T], *, connect_only: bool = False) -> T:
        """Run ``op`` on the open store with bounded lock waits and recovery from damage."""
        deadline: float | None = None
        recovered = False
        reopened = 0
        while True:
            try:
                if self._db is None:
                    self._db = self._open()
                return op(self._db)
            except sqlite3.DatabaseError as exc:
                if _is_ioerr(exc) and reopened < 3 and self._stat_id() != self._opened_ino:
                    # Another raybot process moved a damaged store aside while this connection
                    # still pointed at it (its journal now belongs to the new file): open the
                    # store that is there now and try again.
                    self.close()
                    reopened += 1
                    continue
                if _is_busy(exc):
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + max(0.0, self.wait - QUIET_WAIT_S)
                        if self.on_wait is not None and self.wait > QUIET_WAIT_S:
                            self.on_wait(
                                f"the thread store {self.path} is locked by another process; "
                                f"waiting up to {self.wait:g} s"
                            )
                    if now >= deadline:
                        raise StoreError(
                            f"the thread store {self.path} stayed locked by another process for {self.wait:g} s",
                            hint="another raybot (or sqlite3) process holds it; try again when it has finished",
                            reference="thread-store-busy",
                        ) from exc
                    time.sleep(min(0.1, deadline - now))
                    continue
                if not _is_damage(exc) or recovered:
                    raise StoreError(
                        f"the thread store {self.path} cannot be used: {exc}",
                        hint="check the permissions of RAYBOT_HOME, or set RAYBOT_HOME to another directory",
                    ) from exc
                self._recover(exc)
                recovered = True

    def _recover(self, exc: BaseException) -> None:
        """Move a damaged store aside (unique name, never replacing a file) and start a new one."""
        seen = self._opened_ino
        self.close()
        with _store_lock(self.path, self.wait):
            now_id = self._stat_id()
            if now_id is None or now_id != seen:
                # Another raybot process moved it aside (and may have started a new one) while
                # we waited: use what is there now.
                self.notes.append(
                    f"The thread store {self.path} was unreadable ({exc}); another raybot process moved it "
                    f"aside (see {self.path.name}.corrupt-* in {self.path.parent}) and started a new one. "
                    "Nothing was deleted."
                )
                return
            aside = _move_aside(self.path)
            self.notes.append(
                f"The thread store {self.path} was unreadable ({exc}); it was moved to {aside} "
                "and a new one was started. Nothing was deleted."
            )
            try:
                self._db = self._connect()
            except (sqlite3.Error, OSError) as exc2:
                raise StoreError(
                    f"cannot create a thread store at {self.path}: {exc2}",
                    hint="set RAYBOT_HOME to a writable directory",
                ) from exc2

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reading ---------------------------------------------------------------------
    def latest_thread_id(self) -> str | None:
        row = self._run(
            lambda db: db.execute("select id from threads order by updated_at desc, id desc limit 1").fetchone()
        )
        return row[0] if row else None

    def load(self, thread_id: str | None, *, after_seq: int = 0) -> Thread:
        """Load a thread; ``None`` means the most recently used one.

        ``after_seq`` loads only the turns after that one (what a long chat needs each turn).
        """
        if thread_id is None:
            thread_id = self.latest_thread_id()
            if thread_id is None:
                raise ThreadNotFound("there is no thread to continue yet", hint='start one with `raybot ask "..."`')
        tid = thread_id

        def op(db: sqlite3.Connection) -> tuple[Any, list[Any]]:
            head = db.execute("select id, title, created_at, updated_at from threads where id = ?", (tid,)).fetchone()
            rows = db.execute(
                "select seq, created_at, question, answer, intent, in_scope, confidence, topic, entries,"
                " sections, offer from turns where thread_id = ? and seq > ? order by seq",
                (tid, int(after_seq)),
            ).fetchall()
            return head, rows

        head, rows = self._run(op)
        if head is None:
            raise ThreadNotFound(f"no thread with id {tid!r}", hint="`raybot threads list` shows the thread ids")
        thread = Thread(*head)
        damaged = []
        for r in rows:
            entries = _json_field(r[8], list, [])
            sections = _json_field(r[9], dict, {})
            offer = _json_field(r[10], dict, None) if r[10] else None
            if entries is _BAD or sections is _BAD or offer is _BAD:
                damaged.append(r[0])
            thread.turns.append(
                Turn(
                    seq=r[0],
                    created_at=r[1],
                    question=r[2] if isinstance(r[2], str) else str(r[2]),
                    answer=r[3] if isinstance(r[3], str) else str(r[3]),
                    intent=r[4],
                    in_scope=bool(r[5]),
                    confidence=float(r[6] or 0.0),
                    topic=r[7],
                    entries=[] if entries is _BAD else entries,
                    sections={} if sections is _BAD else sections,
                    offer=None if offer is _BAD else offer,
                )
            )
        if damaged:
            self.notes.append(
                f"Thread {tid}: the stored details of turn(s) {', '.join(map(str, damaged))} are damaged and were "
                "ignored (the questions and answers are shown as stored)."
            )
        return thread

    def exists(self, thread_id: str) -> bool:
        row = self._run(lambda db: db.execute("select 1 from threads where id = ?", (thread_id,)).fetchone())
        return row is not None

    def list(self, limit: int = 20) -> list[Thread]:
        limit = max(0, min(int(limit), MAX_LIMIT))
        rows = self._run(
            lambda db: db.execute(
                "select t.id, t.title, t.created_at, t.updated_at, count(u.id) from threads t"
                " left join turns u on u.thread_id = t.id group by t.id"
                " order by t.updated_at desc, t.id desc limit ?",
                (limit,),
            ).fetchall()
        )
        out = []
        for r in rows:
            th = Thread(r[0], r[1], r[2], r[3])
            th.turn_count = r[4]
            out.append(th)
        return out

    def search(self, text: str, limit: int = 20) -> builtins.list[dict[str, Any]]:
        terms = [t for t in re.findall(r"\w+", text) if t]
        if not terms:
            raise UsageError("nothing to search for", hint="give a word or two", reference="empty-query")
        match = " ".join(f'"{t}"' for t in terms)
        limit = max(0, min(int(limit), MAX_LIMIT))
        rows = self._run(
            lambda db: db.execute(
                "select u.thread_id, u.seq, snippet(turns_fts, -1, '[', ']', '…', 12) from turns_fts"
                " join turns u on u.id = turns_fts.rowid where turns_fts match ? order by rank limit ?",
                (match, limit),
            ).fetchall()
        )
        return [{"thread_id": r[0], "seq": r[1], "snippet": r[2]} for r in rows]

    # -- writing ---------------------------------------------------------------------
    def add_turn(self, thread_id: str, turn: Turn, *, title: str | None = None) -> Turn:
        """Append a turn, creating the thread if needed. Safe across processes."""
        row_title = " ".join((title or turn.question).split())[:80] or "(untitled)"

        def op(db: sqlite3.Connection) -> tuple[int, float]:
            now = time.time()
            db.execute("begin immediate")
            try:
                db.execute(
                    "insert into threads (id, title, created_at, updated_at) values (?, ?, ?, ?)"
                    " on conflict(id) do update set updated_at = excluded.updated_at",
                    (thread_id, row_title, now, now),
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
                if db.in_transaction:
                    db.execute("rollback")
                raise
            return seq, now

        turn.seq, turn.created_at = self._run(op)
        return turn

    def delete(self, thread_id: str) -> None:
        def op(db: sqlite3.Connection) -> int:
            db.execute("begin immediate")
            try:
                db.execute("delete from turns where thread_id = ?", (thread_id,))
                cur = db.execute("delete from threads where id = ?", (thread_id,))
                db.execute("commit")
            except BaseException:
                if db.in_transaction:
                    db.execute("rollback")
                raise
            return cur.rowcount

        if self._run(op) == 0:
            raise ThreadNotFound(f"no thread with id {thread_id!r}", hint="`raybot threads list` shows the thread ids")


_BAD = object()


def _json_field(raw: Any, kind: type, default: Any) -> Any:
    if raw is None:
        return default
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return _BAD
    return value if isinstance(value, kind) else _BAD


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _pending_migrations(db: sqlite3.Connection) -> bool:
    """True if the schema needs work (checked with a read, so opening does not take the write lock)."""
    try:
        done = {row[0] for row in db.execute("select name from _raybot_migrations")}
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return True
        raise
    return any(fn.__name__ not in done for fn in MIGRATIONS)


_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_NOTADB = 5, 6, 10, 11, 26


def _is_busy(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _is_ioerr(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == _SQLITE_IOERR
    return "disk I/O error" in str(exc)


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError or "malformed" in str(exc)


@contextlib.contextmanager
def _store_lock(path: Path, wait: float) -> Iterator[None]:
    """An exclusive lock on ``<store>.lock`` shared by every raybot process (bounded wait)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the exclusive link below still never replaces
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"the thread store {path} is unreadable and {lock_path} cannot be created: {exc.strerror or exc}",
            hint=f"move {path} away by hand; raybot will start a new one",
        ) from exc
    try:
        deadline = time.monotonic() + max(wait, 1.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"the thread store {path} is being recovered by another process",
                        hint="try again in a moment",
                        reference="thread-store-busy",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _move_aside(path: Path) -> Path:
    """Rename ``path`` (and its journal files) to a new unique name; never replaces an existing file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{os.getpid()}-{secrets.token_hex(3)}")
        try:
            _exclusive_rename(path, aside)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(
                f"the thread store {path} is unreadable and could not be moved aside: {exc.strerror or exc}",
                hint=f"move {path} away by hand; raybot will start a new one",
            ) from exc
        for suffix in ("-journal", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                with contextlib.suppress(OSError):
                    _exclusive_rename(side, aside.with_name(aside.name + suffix))
        return aside
    raise StoreError(f"cannot find a free name to move {path} aside", hint=f"move {path} away by hand")


def _exclusive_rename(src: Path, dst: Path) -> None:
    """``src`` -> ``dst`` failing with FileExistsError if ``dst`` exists (a hard link, then unlink)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (some network or FUSE file systems): reserve the name exclusively,
        # then move onto our own reservation.
        os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(src, dst)
        return
    os.unlink(src)


def default_store(*, home: Path | None = None, wait: float = STORE_WAIT_S, quiet: bool = False) -> ThreadStore:
    """The user's store; a wait for a locked store is announced on stderr unless ``quiet``."""
    from raybot import paths

    on_wait = None
    if not quiet:

        def on_wait(note: str) -> None:
            from raybot.render import render_notes  # only when there is a wait to announce

            render_notes([note])

    return ThreadStore((home or paths.home()) / "threads.db", wait=wait, on_wait=on_wait)


__all__ = ["Thread", "ThreadStore", "Turn", "check_thread_id", "default_store", "migrate", "new_thread_id"]
