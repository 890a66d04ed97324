"""Text raybot did not write (pasted ``ray status``, cluster strings, log lines) made safe to show:
no terminal escape sequences (CSI, OSC 8 hyperlinks, ...), no control characters, no bidi overrides.

Rich markup is never parsed in diagnose's output: the renderers build ``rich.text.Text`` objects,
so ``[/]`` or ``[link=...]`` in such text is shown as typed.
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]{0,4096}(?:\x07|\x1b\\)?"  # OSC ... BEL/ST (hyperlinks, window titles)
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor movement)
    r"|\x1b[@-Z\\-_]"  # other two-byte ESC sequences
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"  # C0/C1 controls, bidi
)


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` without escape sequences and control characters (``\\t`` and, by default, ``\\n``
    kept; ``\\r\\n`` and ``\\r`` become ``\\n``)."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text if keep_newlines else text.replace("\n", " ")
