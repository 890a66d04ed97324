"""The only place that creates rich consoles.

Data goes to stdout (``console()``); progress, notes, warnings and errors go to stderr
(``err_console()``). Consoles are created lazily so importing raybot stays cheap.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False)


@functools.cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def render_notes(notes: list[str]) -> None:
    for note in notes:
        err_console().print(f"[yellow]note:[/] {note}", highlight=False)


def print_json(data) -> None:
    """One JSON document on stdout, nothing else (no colour, no wrapping)."""
    import json
    import sys

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def render_answer(answer, *, json_: bool = False, explain: bool = False, hint: bool = True) -> None:
    if explain:
        render_hits_table(answer.hits, stderr=True)
    if json_:
        print_json(answer.to_dict())
        return
    if not answer.in_scope:
        err_console().print("[dim](not covered by the knowledge base)[/]")
    print_markdown(answer.answer)
    if hint and getattr(answer, "saved", True):
        err_console().print(f'[dim]thread {answer.thread_id} · continue with: raybot ask -c "..."[/]', highlight=False)
    elif hint:
        err_console().print("[dim]this turn was not saved to a thread, so it cannot be continued with -c[/]")


def render_hits_table(hits: list[dict], *, stderr: bool = False, detail: bool = True) -> None:
    """Ranked entries; ``detail`` adds the dense/lexical/exact scores (``--explain``)."""
    from rich.table import Column, Table

    # Entry ids are never cut: they are meant to be pasted into `raybot kb show`.
    cols = ["#", Column("entry", no_wrap=True), "kind", "score"]
    if detail:
        cols += ["dense", "lexical", "exact"]
    table = Table(*cols, Column("title", ratio=1), box=None)
    for i, h in enumerate(hits, 1):
        row = [str(i), h["id"], h["kind"], f"{h['score']:.3f}"]
        if detail:
            row += [f"{h['dense']:.3f}", f"{h['lexical']:.1f}", ",".join(h.get("exact", []))]
        table.add_row(*row, h["title"])
    (err_console() if stderr else console()).print(table)


_INLINE = None


def _inline(text: str):
    """Markdown inline spans (**bold**, *italic*, `code`, [text](url), <url>) as rich Text."""
    import re

    from rich.text import Text

    global _INLINE
    if _INLINE is None:
        _INLINE = re.compile(
            r"\*\*(?P<b>.+?)\*\*|`(?P<c>[^`]+)`|\[(?P<lt>[^\]]+)\]\((?P<lu>[^)\s]+)\)|<(?P<u>https?://[^>]+)>"
            r"|(?<![\w*])\*(?P<i>[^*\n]+?)\*(?![\w*])"
        )
    out = Text()
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(text[pos : m.start()])
        if m.group("b") is not None:
            inner = _inline(m.group("b"))
            out.append_text(inner)
            out.stylize("bold", len(out) - len(inner), len(out))
        elif m.group("c") is not None:
            out.append(m.group("c"), style="bold cyan")
        elif m.group("lt") is not None:
            # The link text, clickable where the terminal supports it; Sources lists the URLs.
            out.append(m.group("lt"), style=f"underline link {m.group('lu')}")
        elif m.group("u") is not None:
            out.append(m.group("u"), style=f"underline dim link {m.group('u')}")
        else:
            out.append(m.group("i"), style="italic")
        pos = m.end()
    out.append(text[pos:])
    return out


def print_markdown(markdown: str) -> None:
    """Render the small Markdown subset raybot's answers use.

    Headings, paragraphs (re-flowed), lists, tables (as written), inline styles and fenced
    code (syntax highlighted). rich.markdown would do the same but costs ~0.1 s of imports.
    """
    import re

    con = console()
    lines = markdown.splitlines()
    block: list[str] = []  # the current paragraph or list item, re-flowed when flushed
    prefix = ""

    def flush() -> None:
        nonlocal block, prefix
        if block:
            text = _inline(" ".join(x.strip() for x in block))
            if prefix:
                con.print(prefix, end="")
            # A line with a bare URL is not re-wrapped, so the URL copies as one piece.
            con.print(text, soft_wrap="<http" in " ".join(block))
        block, prefix = [], ""

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^\s*```\s*(\w*)", line)
        item = re.match(r"^(\s*)([-*]|\d+\.) (.*)$", line)
        if fence:
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            from rich.syntax import Syntax

            con.print(
                Syntax(
                    "\n".join(body),
                    fence.group(1) or "text",
                    theme="monokai",
                    background_color="default",
                    word_wrap=True,
                )
            )
        elif re.match(r"^#{1,6} ", line):
            flush()
            con.print(_inline(line.lstrip("#").strip()), style="bold underline")
        elif line.lstrip().startswith("|"):
            flush()
            con.print(line, markup=False, highlight=False)
        elif item:
            flush()
            indent, bullet, rest = item.groups()
            prefix = " " * len(indent) + ("•" if bullet in "-*" else bullet) + " "
            block = [rest]
        elif not line.strip():
            flush()
            con.print()
        else:
            block.append(line)
        i += 1
    flush()


# -- errors: the one place they are rendered ---------------------------------------------


def error_document(exc) -> dict:
    """The ``{"error": {...}}`` object ``--json`` prints on stdout for a failed command."""
    return {
        "error": {
            "reference": exc.reference,
            "message": exc.message,
            "hint": exc.hint,
            "exit_code": exc.exit_code,
        }
    }


def print_error(exc, *, json_: bool = False, json_lines: bool = False) -> None:
    """``error: <reference>``, the message and the hint on stderr; with ``json_`` also the error
    document on stdout (indented, or one line with ``json_lines`` for JSON-lines output)."""
    con = err_console()
    con.print(f"[bold red]error:[/] {exc.reference}", highlight=False, markup=True)
    con.print(f"  × {exc.message}", highlight=False, markup=False)
    if exc.hint:
        con.print("[dim]hint:[/] ", end="", highlight=False)
        con.print(exc.hint, highlight=False, markup=False)
    if json_lines:
        import json
        import sys

        sys.stdout.write(json.dumps(error_document(exc), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    elif json_:
        print_json(error_document(exc))
