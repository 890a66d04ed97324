"""``raybot threads list|show|search|delete``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


@app.command("list")
def threads_list(
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many threads.")] = 20,
    json_: JsonOpt = False,
) -> None:
    """List recent threads, newest first.

    Examples:

      raybot threads list --json
    """
    from raybot.render import print_json, print_table
    from raybot.threads import default_store

    threads = default_store().list(limit)
    if json_:
        print_json([t.to_dict(with_turns=False) for t in threads])
        return
    # ids are never cut (they are pasted into `threads show`); a title is one line, cut with "…".
    rows = [[t.id, _when(t.updated_at), str(t.size), t.title] for t in threads]
    print_table(["id", "updated", "turns", "title"], rows, cut_last=True)


@app.command("show")
def threads_show(
    thread_id: Annotated[str, typer.Argument(metavar="ID")],
    json_: JsonOpt = False,
) -> None:
    """Show every turn of a thread.

    Examples:

      raybot threads show 01jd3x...
    """
    from raybot.render import print_json, print_lines, thread_lines
    from raybot.threads import check_thread_id, default_store

    thread = default_store().load(check_thread_id(thread_id))
    if json_:
        print_json(thread.to_dict())
        return
    print_lines(thread_lines(thread, when=_when))


@app.command("search")
def threads_search(
    text: Annotated[list[str], typer.Argument(help="Words to find in questions and answers.")],
    json_: JsonOpt = False,
) -> None:
    """Full-text search over every thread's questions and answers.

    Examples:

      raybot threads search soft limit
    """
    from raybot.render import console, plain_text, print_json
    from raybot.threads import default_store

    rows = default_store().search(" ".join(text))
    if json_:
        print_json(rows)
        return
    for r in rows:
        console().print(plain_text(f"{r['thread_id']} #{r['seq']}: {r['snippet']}"), highlight=False)


@app.command("delete")
def threads_delete(thread_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Delete a thread and its turns.

    Examples:

      raybot threads delete 01jd3x...
    """
    from raybot.render import err_console
    from raybot.threads import check_thread_id, default_store

    default_store().delete(check_thread_id(thread_id))
    err_console().print(f"deleted thread {thread_id}", highlight=False)
