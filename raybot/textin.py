"""Reading text raybot did not write: bytes that are not UTF-8 never end a command.

Undecodable bytes are replaced with U+FFFD and the caller gets a note saying so.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import IO

REPLACED_NOTE = "{what} contained bytes that are not UTF-8; they were replaced with \ufffd."


def decode(data: bytes, what: str, notes: list[str] | None = None) -> str:
    """``data`` as UTF-8 (a BOM is dropped); undecodable bytes replaced, with a note."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if notes is not None:
            notes.append(REPLACED_NOTE.format(what=what))
        return data.decode("utf-8-sig", "replace")


def read_file(path: Path, what: str | None = None, notes: list[str] | None = None) -> str:
    """A text file decoded leniently (OSError is left to the caller)."""
    return decode(path.read_bytes(), what or str(path), notes)


def read_stdin(notes: list[str] | None = None, *, limit: int | None = None) -> str:
    """All of stdin as text, decoded leniently; at most ``limit`` bytes if given."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # already text (an embedding program replaced sys.stdin)
        return sys.stdin.read() if limit is None else sys.stdin.read(limit)
    data = buffer.read() if limit is None else buffer.read(limit)
    return decode(data, "stdin", notes)


def lenient_stdin() -> IO[str]:
    """stdin as a text stream that replaces undecodable bytes instead of raising."""
    stdin = sys.stdin
    reconfigure = getattr(stdin, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="replace")
            return stdin
        except (ValueError, io.UnsupportedOperation):
            pass
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
    return stdin
