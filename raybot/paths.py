"""Where raybot finds its knowledge base and index, and where it keeps user state.

* ``kb_dir()``: ``$RAYBOT_KB``, else ``kb/`` of a source checkout, else the copy shipped
  inside the wheel (``raybot/_data/kb``).
* ``index_dir()``: ``$RAYBOT_INDEX``, else ``index/`` beside that kb.
* ``home()``: ``$RAYBOT_HOME``, else the platform's user data directory. Threads live here.
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    checkout = _PKG.parent / name
    if (_PKG.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return _PKG / "_data" / name


def kb_dir() -> Path:
    env = os.environ.get("RAYBOT_KB")
    return Path(env).expanduser() if env else _shipped("kb")


def index_dir() -> Path:
    env = os.environ.get("RAYBOT_INDEX")
    return Path(env).expanduser() if env else _shipped("index")


def home() -> Path:
    env = os.environ.get("RAYBOT_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("raybot", appauthor=False))


def fallback_index_dir() -> Path:
    """Where an index is rebuilt when the configured index directory is read-only."""
    return home() / "index"
