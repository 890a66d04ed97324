"""One process's assistant for the HTTP API and the Slack bot.

A :class:`Service` loads the index and the model once (on first use, or at start-up with
:meth:`Service.warm`) and answers every turn on one worker thread. That keeps the SQLite
connection on the thread that opened it, keeps the assistant's per-turn state private, and
costs nothing in throughput: a turn is ~20 ms of CPU under the GIL. Callers never wait on the
event loop: the HTTP API awaits :meth:`acall`, the Slack bot's listener threads :meth:`call`.

Every document returned is built by the same function the CLI prints with ``--json``:
:meth:`raybot.answer.Answer.to_dict` (``raybot ask --json``), :meth:`raybot.threads.Thread.to_dict`
(``raybot threads show ID --json``), and ``raybot diagnose --json`` itself for diagnoses.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from raybot.errors import ClusterUnreachable, RaybotError, ThreadNotFound, UsageError

if TYPE_CHECKING:
    from raybot.answer import Answer
    from raybot.assistant import Assistant
    from raybot.threads import Thread, ThreadStore

DIAGNOSE_TIMEOUT = 60.0


def enable_wal(store: ThreadStore) -> str:
    """Put the store in WAL mode (readers never wait for the writer; persistent in the file).

    Several processes on one machine (uvicorn workers, Ray Serve replicas on one node, the Slack
    bot) can then share it. WAL needs shared memory between them, so the file must not be on a
    network filesystem: SQLite documents that WAL "does not work over a network filesystem".
    """
    db = store.db()
    mode = db.execute("pragma journal_mode = wal").fetchone()[0]
    db.execute("pragma synchronous = normal")  # with WAL: durable across crashes of the process
    return str(mode)


class Service:
    def __init__(self, *, allow_diagnose: bool = False, store: ThreadStore | None = None, retriever=None):
        self.allow_diagnose = allow_diagnose
        self._worker: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raybot-turns", initializer=self._mark)
        self._store = store
        self._retriever = retriever
        self._assistant: Assistant | None = None
        self.loads = 0  #: how many times this process loaded the index and model (should be 1)
        self.journal_mode: str | None = None
        self.started_at = time.time()

    # -- running on the worker thread ------------------------------------------------------------
    def _mark(self) -> None:
        self._worker = threading.get_ident()

    def submit(self, fn, *args, **kwargs) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def call(self, fn, *args, **kwargs):
        return self.submit(fn, *args, **kwargs).result()

    async def acall(self, fn, *args, **kwargs):
        import asyncio

        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def close(self) -> None:
        def _close():
            if self._store is not None:
                self._store.close()

        self.submit(_close).result()
        self._pool.shutdown(wait=True)

    # -- everything below runs on the worker thread ---------------------------------------------
    @property
    def store(self) -> ThreadStore:
        if self._store is None:
            from raybot.threads import default_store

            self._store = default_store()
        if self.journal_mode is None:
            self.journal_mode = enable_wal(self._store)
        return self._store

    @property
    def assistant(self) -> Assistant:
        if self._assistant is None:
            from raybot.assistant import Assistant

            assistant = Assistant(retriever=self._retriever, store=self.store)
            assistant.retriever.embed("warm up the query encoder")  # index + model, once
            self._assistant = assistant
            self.loads += 1
        # A store failure makes the assistant answer without history; the next turn retries.
        self._assistant._store = self.store
        return self._assistant

    def warm(self) -> None:
        """Load the index and model now (from any thread: the work runs on the worker)."""
        if threading.get_ident() != self._worker:
            self.call(self.warm)
            return
        _ = self.assistant

    def health(self) -> dict[str, Any]:
        from raybot import __version__

        a = self.assistant
        return {
            "status": "ok",
            "version": __version__,
            "entries": len(a.entries),
            "pid": os.getpid(),
            "index_loads": self.loads,
            "journal_mode": self.journal_mode,
            "diagnose": self.allow_diagnose,
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def ask(self, question: str, thread_id: str | None = None, *, must_exist: bool = False) -> Answer:
        """One turn. ``thread_id=None`` starts a new thread; ``must_exist`` refuses unknown ids."""
        from raybot.threads import check_thread_id

        if not isinstance(question, str):
            raise UsageError("the question must be a string", reference="bad-request-body")
        if thread_id is not None:
            check_thread_id(thread_id)
            if must_exist and not self.store.exists(thread_id):
                raise ThreadNotFound(
                    f"no thread with id {thread_id!r}", hint='start one with POST /v1/threads {"question": ...}'
                )
        return self.assistant.ask(question, thread_id=thread_id)

    def ask_doc(self, question: str, thread_id: str | None = None, *, must_exist: bool = False) -> dict[str, Any]:
        """The ``raybot ask --json`` document of one turn."""
        return self.ask(question, thread_id, must_exist=must_exist).to_dict()

    def thread(self, thread_id: str) -> Thread:
        from raybot.threads import check_thread_id

        return self.store.load(check_thread_id(thread_id))

    def thread_doc(self, thread_id: str) -> dict[str, Any]:
        """The ``raybot threads show ID --json`` document."""
        return self.thread(thread_id).to_dict()

    def list_doc(self, limit: int = 20) -> list[dict[str, Any]]:
        """The ``raybot threads list --json`` document."""
        return [t.to_dict(with_turns=False) for t in self.store.list(limit)]

    def search_doc(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """The ``raybot threads search TEXT --json`` document."""
        return self.store.search(text, limit)

    def feedback(self, thread_id: str, seq: int, rating: str, *, source: str, voter: str, comment=None):
        from raybot.records import record_feedback
        from raybot.threads import check_thread_id

        if not self.store.exists(check_thread_id(thread_id)):
            raise ThreadNotFound(f"no thread with id {thread_id!r}", hint="check the thread id")
        return record_feedback(self.store, thread_id, seq, rating, source=source, voter=voter, comment=comment)

    # -- diagnose ---------------------------------------------------------------------------------
    def diagnose_doc(self, *, timeout: float = DIAGNOSE_TIMEOUT) -> dict[str, Any]:
        """``raybot diagnose --json`` of the cluster this process runs on (RAY_ADDRESS or local).

        Runs in a child process (never on the worker thread): diagnosing connects to Ray, which
        must not happen inside a Ray Serve replica or next to the answering thread. The child
        records the diagnosis as a new thread in the same store, as the CLI does.
        """
        import json
        import subprocess

        if not self.allow_diagnose:
            raise RaybotError(
                "diagnosing the cluster is turned off on this server",
                hint="the operator can enable it: `raybot serve --allow-diagnose` (or `raybot slack --allow-diagnose`)",
                reference="diagnose-disabled",
            )
        cmd = [sys.executable, "-m", "raybot", "diagnose", "--json"]
        env = dict(os.environ)
        # The child records the diagnosis in *this* service's store (``raybot --home X serve`` and
        # a service built on its own store included), so a follow-up in the thread finds it.
        if self._store is not None and self._store.path.name == "threads.db":
            env["RAYBOT_HOME"] = str(self._store.path.parent)
        else:
            from raybot import paths

            env["RAYBOT_HOME"] = str(paths.home())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise ClusterUnreachable(
                f"the diagnosis did not finish within {timeout:.0f} s", hint="check that the cluster is healthy"
            ) from None
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            raise ClusterUnreachable(
                "the diagnosis printed no result", hint=(proc.stderr.strip().splitlines() or [""])[-1][:300] or None
            ) from None
        if "error" in doc and isinstance(doc["error"], dict):
            err = doc["error"]
            exc = ClusterUnreachable(err.get("message", "diagnosis failed"), hint=err.get("hint"))
            exc.reference = err.get("reference", exc.reference)
            raise exc
        return doc


_SERVICE: Service | None = None
_SERVICE_LOCK = threading.Lock()


def get_service(**kwargs) -> Service:
    """The process-wide service (one index and model per process or Ray Serve replica)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = Service(**kwargs)
        return _SERVICE
