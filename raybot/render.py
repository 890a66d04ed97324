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


def render_answer(answer, *, json_: bool = False, explain: bool = False) -> None:
    if explain:
        render_hits_table(answer.hits, stderr=True)
    if json_:
        print_json(answer.to_dict())
        return
    from rich.markdown import Markdown

    con = console()
    if not answer.in_scope:
        err_console().print("[dim](not covered by the knowledge base)[/]")
    con.print(Markdown(answer.answer, code_theme="monokai", hyperlinks=False))
    err_console().print(f"[dim]thread {answer.thread_id} · continue with: raybot ask -c \"...\"[/]",
                        highlight=False)


def render_hits_table(hits: list[dict], *, stderr: bool = False) -> None:
    from rich.table import Table

    table = Table("#", "entry", "kind", "score", "dense", "lexical", "exact", "title", box=None)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), h["id"], h["kind"], f"{h['score']:.3f}", f"{h['dense']:.3f}",
                      f"{h['lexical']:.1f}", ",".join(h.get("exact", [])), h["title"])
    (err_console() if stderr else console()).print(table)
