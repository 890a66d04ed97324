"""Where raybot finds its knowledge base and index, and where it keeps user state.

Each location is taken from the command-line settings (:mod:`raybot.settings`), else the
environment variable, else the default:

* ``kb_dir()``: ``--kb-dir`` / ``$RAYBOT_KB``, else ``kb/`` of a source checkout, else the copy
  shipped inside the wheel (``raybot/_data/kb``).
* ``index_dir()``: ``--index-dir`` / ``$RAYBOT_INDEX``, else ``index/`` beside that kb.
* ``home()``: ``--home`` / ``$RAYBOT_HOME``, else the platform's user data directory. Threads live here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from raybot import settings
from raybot.errors import UsageError

_PKG = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    checkout = _PKG.parent / name
    if (_PKG.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return _PKG / "_data" / name


def expand(value: str, what: str) -> Path:
    """``~`` expanded; a home that cannot be found (``~nouser/x``) is a usage error, not a crash."""
    if "\x00" in value:
        raise UsageError(f"{what} contains a NUL character", reference="bad-path")
    if len(value.encode("utf-8", "surrogateescape")) > 4096 or any(
        len(part.encode("utf-8", "surrogateescape")) > 255 for part in value.split(os.sep)
    ):
        raise UsageError(
            f"{what} is longer than a path can be ({len(value):,} characters)",
            hint="give a path with names of at most 255 bytes",
            reference="bad-path",
        )
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:  # pathlib: "Could not determine home directory."
        raise UsageError(
            f"{what} {value!r} starts with a ~ that does not name a known user's home",
            hint="give an absolute path, or ~/... for your own home",
            reference="bad-path",
        ) from exc


def kb_dir() -> Path:
    value = settings.current().kb_dir or os.environ.get("RAYBOT_KB")
    return expand(value, "the knowledge-base directory (--kb-dir / RAYBOT_KB)") if value else _shipped("kb")


def index_dir() -> Path:
    value = settings.current().index_dir or os.environ.get("RAYBOT_INDEX")
    return expand(value, "the index directory (--index-dir / RAYBOT_INDEX)") if value else _shipped("index")


def home() -> Path:
    value = settings.current().home or os.environ.get("RAYBOT_HOME")
    if value:
        return expand(value, "the raybot home (--home / RAYBOT_HOME)")
    from platformdirs import user_data_dir

    return Path(user_data_dir("raybot", appauthor=False))


def cache_dir() -> Path:
    """Derived files raybot can always make again (the query encoder's prepared weights):
    ``$RAYBOT_CACHE``, else the platform's user cache directory (``~/.cache/raybot`` on Linux)."""
    value = os.environ.get("RAYBOT_CACHE")
    if value:
        return expand(value, "the cache directory (RAYBOT_CACHE)")
    xdg = os.environ.get("XDG_CACHE_HOME")
    if sys.platform.startswith("linux") and (xdg is None or os.path.isabs(xdg)):
        # What platformdirs answers on Linux, without importing it on every start.
        return Path(xdg or os.path.expanduser("~/.cache")) / "raybot"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("raybot", appauthor=False))


def fallback_index_dir() -> Path:
    """Where an index is rebuilt when the configured index directory is read-only."""
    return home() / "index"


def dev_questions() -> Path:
    """The labelled question set ``raybot bench`` and ``raybot eval`` use by default."""
    checkout = _PKG.parent / "tests" / "data" / "dev_questions.jsonl"
    if (_PKG.parent / "pyproject.toml").is_file() and checkout.is_file():
        return checkout
    return _PKG / "_data" / "dev_questions.jsonl"
