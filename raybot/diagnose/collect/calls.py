"""Bounded calls: every cluster call runs with a deadline, in a daemon thread when the call
itself has none, so a hung component cannot hang raybot.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class Calls:
    """Run cluster calls in daemon threads and wait for each until a deadline.

    A call that does not finish in time is abandoned (its thread is a daemon and cannot keep the
    process alive) and reported as a timeout.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[threading.Event, dict[str, Any], float]] = {}

    def start(self, name: str, fn, *args, **kwargs) -> None:
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported as a gap
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name=f"raybot-{name}", daemon=True).start()
        self._jobs[name] = (done, box, time.monotonic())

    def result(self, name: str, deadline: float) -> tuple[Any, str | None]:
        """``(value, None)`` or ``(None, reason)``; waits until ``deadline`` (monotonic)."""
        done, box, started = self._jobs[name]
        if not done.wait(max(deadline - time.monotonic(), 0.0)):
            return None, f"timed out after {time.monotonic() - started:.1f}s"
        if "error" in box:
            return None, describe_error(box["error"])
        return box["value"], None


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def bounded(fn, timeout: float, name: str = "call"):
    calls = Calls()
    calls.start(name, fn)
    return calls.result(name, time.monotonic() + timeout)
