"""The one sanitizer for text raybot did not write.

Questions, pasted files and logs, kb titles and bodies, strings read from a cluster
(autoscaler errors, node names), Slack messages: anything that raybot did not compose itself
goes through here before it reaches a terminal, a rich markup string or Markdown.

API (small and stable; other modules and helpers rely on it):

``clean(text) -> str``
    Text that cannot drive a terminal. Removes every ESC sequence whole (CSI such as colours
    and cursor moves, OSC including OSC 8 hyperlinks and window titles, DCS/SOS/PM/APC
    strings, and the short ESC forms), their 8-bit C1 forms, all other C0/C1 control
    characters except newline and tab, and the bidirectional controls (embeddings, overrides
    and isolates U+202A-U+202E, U+2066-U+2069, and the marks U+200E, U+200F, U+061C) that
    make text display in a different order from the one it is read in. ``\\r\\n`` and a lone
    ``\\r`` become ``\\n`` (so a progress line cannot overwrite what came before), U+2028/U+2029
    become ``\\n``, a byte-order mark is dropped, and lone surrogates (left by
    ``errors="surrogateescape"``) become U+FFFD so printing cannot fail. Idempotent.

``escape_markup(text) -> str``
    ``clean(text)`` made safe to put inside a rich markup string: ``[bold]``, ``[/]``,
    ``[link=...]`` show literally and never raise ``MarkupError``. As with
    ``rich.markup.escape``, a trailing backslash is doubled so that a tag written after the
    text still works; prefer ``rich.text.Text(clean(text))`` where no markup is needed.

``md_literal(text) -> str``
    ``clean(text)`` escaped for CommonMark so that it renders as the same literal text:
    never a link, image, autolink, HTML, heading, list, emphasis or code span. Use it for
    user text that is placed into Markdown outside a code span.

``md_code(text) -> str``
    ``clean(text)`` as one inline code span (newlines become spaces) whose backtick fence
    is longer than any backtick run inside, so the text cannot close the span early and
    smuggle in a link (the ``foo\\` [fix](http://evil/x.sh) \\`bar`` trick).

``defang_urls(text) -> str``
    For targets that turn bare URLs into links on their own (chat clients):
    ``http://host/x`` becomes ``hxxp://host/x`` (also https, ftp, file). raybot's terminal
    renderer never auto-links, so the CLI does not need this.

``find_unsafe(text) -> list[str]``
    Short descriptions of what ``clean`` would remove (empty when nothing), for ``kb lint``
    and other validators that reject rather than repair.

Only ``re`` is imported at module level; rich is imported when ``escape_markup`` is called.
"""

from __future__ import annotations

import re

from raybot.lazyre import lazy

__all__ = ["clean", "escape_markup", "md_literal", "md_code", "defang_urls", "find_unsafe"]

# A control string (OSC, DCS, SOS, PM, APC) runs to its terminator: BEL (OSC only, but
# terminals accept it for all), ESC \, or the 8-bit ST (U+009C). An unterminated one would
# swallow the rest of the screen; it is removed up to the end of its line.
_STRING_END = r"(?:\x07|\x1b\\|\x9c|(?=\n)|\Z)"
_SEQ = lazy(
    "|".join(
        [
            # 7-bit and 8-bit control strings: ESC ] / ESC P / ESC X / ESC ^ / ESC _ and
            # U+009D / U+0090 / U+0098 / U+009E / U+009F.
            r"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\n]*?" + _STRING_END,
            # CSI: ESC [ or U+009B, parameter bytes, intermediate bytes, one final byte. A CSI
            # cut short before its final byte is removed as far as it goes.
            r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?",
            # nF escapes (ESC, intermediates, final), then the two-byte Fp/Fe/Fs forms.
            r"\x1b[ -/]+[0-~]?",
            r"\x1b[0-~]?",
        ]
    )
)

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_C0 = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
_C1 = "".join(chr(c) for c in range(0x7F, 0xA0))
_DROP = _C0 + _C1 + _BIDI + "\ufeff"
_TABLE: dict[int, str | None] = {ord(c): None for c in _DROP}
_TABLE.update({0x2028: "\n", 0x2029: "\n"})
_SURROGATE = lazy("[\ud800-\udfff]")
_NEEDS_WORK = lazy("[" + re.escape(_DROP) + "\r\u2028\u2029\ud800-\udfff]")
_UNSAFE_CHAR = lazy("[" + re.escape(_DROP) + "\u2028\u2029\ud800-\udfff]|\r(?!\n)")


def clean(text: str) -> str:
    """``text`` without anything that could drive a terminal (see the module docstring)."""
    if not isinstance(text, str):
        text = str(text)
    if not _NEEDS_WORK.search(text):
        return text  # the common case: nothing to do, no copies
    text = _SURROGATE.sub("\ufffd", text)
    text = _SEQ.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_TABLE)


def escape_markup(text: str) -> str:
    """``clean(text)`` escaped for a rich markup string."""
    from rich.markup import escape

    return escape(clean(text))


# Characters that can open Markdown syntax anywhere in a line (links, images, autolinks,
# code, emphasis, entities, tables, strikethrough), and the block markers that matter only
# at the start of a line (headings, quotes, lists, setext underlines). Escaped with a
# backslash they stand for themselves; other punctuation (":" in ray::IDLE, "()") is left
# alone so the Markdown stays readable as plain text.
_MD_INLINE = lazy(r"([\\`*_\[\]<>!&~|])")
_MD_LINE_START = lazy(r"^([ \t]*)([#>+=-]|\d+(?=[.)]))", re.M)


def md_literal(text: str) -> str:
    """``clean(text)`` escaped so that Markdown renders it as the same literal text."""
    text = _MD_INLINE.sub(r"\\\1", clean(text))

    def block_marker(m: re.Match[str]) -> str:
        indent, marker = m.groups()
        # "1." / "1)" start a list: the escape goes before the dot, not the digits.
        return indent + (marker + "\\" if marker.isdigit() else "\\" + marker)

    return _MD_LINE_START.sub(block_marker, text)


def md_code(text: str) -> str:
    """``clean(text)`` as one inline code span the text cannot break out of."""
    body = " ".join(clean(text).split("\n"))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space on each side when both are there: pad when the body
    # starts or ends with a backtick (or a space) so the content survives exactly.
    pad = " " if body[:1] in ("`", " ") or body[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{body}{pad}{fence}" if body else "` `"


_URL_SCHEME = lazy(r"\b(h)tt(ps?)(:|%3a)", re.I)
_OTHER_SCHEME = lazy(r"\b(ftp|file)(:)(?=//)", re.I)


def defang_urls(text: str) -> str:
    """``clean(text)`` with URL schemes altered so chat clients do not link them."""
    text = _URL_SCHEME.sub(lambda m: f"{m.group(1)}xx{m.group(2)}{m.group(3)}", clean(text))
    return _OTHER_SCHEME.sub(lambda m: f"{m.group(1)}[{m.group(2)}]", text)


_NAMES = {"\x1b": "ESC", "\x07": "BEL", "\x08": "BS", "\x00": "NUL", "\x7f": "DEL", "\r": "CR"}


def find_unsafe(text: str) -> list[str]:
    """What ``clean`` would remove or change, described briefly (at most 5 items)."""
    found: list[str] = []
    if not _NEEDS_WORK.search(text):
        return found
    covered: set[int] = set()
    for m in _SEQ.finditer(text):
        kind = "OSC 8 hyperlink" if m.group().startswith(("\x1b]8;", "\x9d8;")) else "escape sequence"
        found.append(f"{kind} {m.group()[:12]!r} at offset {m.start()}")
        covered.update(range(m.start(), m.end()))
        if len(found) >= 5:
            return found
    for m in _UNSAFE_CHAR.finditer(text):
        i, ch = m.start(), m.group()
        if i in covered:
            continue
        if ch in _BIDI:
            found.append(f"bidirectional control U+{ord(ch):04X} at offset {i}")
        elif ch in "\u2028\u2029":
            found.append(f"line/paragraph separator U+{ord(ch):04X} at offset {i}")
        elif "\ud800" <= ch <= "\udfff":
            found.append(f"lone surrogate U+{ord(ch):04X} at offset {i}")
        else:
            found.append(f"control character {_NAMES.get(ch, f'U+{ord(ch):04X}')} at offset {i}")
        if len(found) >= 5:
            break
    return found
