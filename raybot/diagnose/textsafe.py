"""Text raybot did not write (pasted ``ray status``, cluster strings, log lines) made safe to show,
through the project's one sanitizer (:func:`raybot.sanitize.clean`): no terminal escape sequences
(CSI, OSC 8 hyperlinks, ...), no control characters, no bidi overrides.

Rich markup is never parsed in diagnose's output: the renderers build ``rich.text.Text`` objects,
so ``[/]`` or ``[link=...]`` in such text is shown as typed.
"""

from __future__ import annotations

from raybot.sanitize import clean as _clean


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` without escape sequences and control characters (``\\t`` and, by default, line
    breaks kept; ``\\r\\n`` and ``\\r`` become ``\\n``)."""
    text = _clean(text)
    return text if keep_newlines else text.replace("\n", " ")
