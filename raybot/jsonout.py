"""JSON documents on stdout: the whole of what ``--json`` output needs.

Kept apart from :mod:`raybot.render` (rich consoles, the Markdown layout) so that a command
printing JSON does not load the terminal renderer; :mod:`raybot.render` re-exports these.
"""

from __future__ import annotations

import sys
from typing import Any

# C1 controls and bidirectional controls are legal raw in JSON strings; written as \uXXXX
# escapes they carry the same data and cannot act on a terminal that shows the JSON.
_JSON_ESCAPE = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029]}
_JSON_ESCAPE.update({c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def json_text(data: Any, *, indent: int | None = 2) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, indent=indent).translate(_JSON_ESCAPE)


def print_json(data) -> None:
    """One JSON document on stdout, nothing else (no colour, no wrapping)."""
    sys.stdout.write(json_text(data) + "\n")
    sys.stdout.flush()


def print_json_line(data) -> None:
    """One JSON document on one line (JSON lines, as ``chat --json`` writes them)."""
    sys.stdout.write(json_text(data, indent=None) + "\n")
    sys.stdout.flush()
