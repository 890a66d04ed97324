"""``raybot gaps`` and ``raybot feedback``: what users asked that the knowledge base lacks."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from raybot.commands import handles_errors

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SinceOpt = Annotated[
    str, typer.Option("--since", metavar="AGE|DATE", help="Only records this recent: 30d, 12h, 2w, 2026-11-01 or all.")
]


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


@handles_errors
def gaps(
    since: SinceOpt = "30d",
    json_: JsonOpt = False,
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=0.0, max=1.0, help="Cosine similarity that groups questions together."),
    ] = 0.55,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many groups to show.")] = 20,
) -> None:
    """Group declined, low-confidence and 👎 questions by meaning: the to-do list for the kb.

    Every declined question, low-confidence answer and 👎 (Slack or HTTP) is recorded in the thread
    store, without tokens or secrets. Groups are listed by size with example questions and the
    entries they came nearest to.

    Examples:

      raybot gaps

      raybot gaps --since 7d --json

      raybot gaps --since all --threshold 0.6
    """
    from raybot.gaps import find_gaps
    from raybot.records import parse_since
    from raybot.render import console, err_console, print_json
    from raybot.threads import default_store

    groups = find_gaps(default_store(), since=parse_since(since), threshold=threshold)[:limit]
    if json_:
        print_json({"since": since, "groups": [g.to_dict() for g in groups]})
        return
    if not groups:
        err_console().print(f"No declined, low-confidence or 👎 questions recorded (since {since}).")
        return
    con = console()
    for i, g in enumerate(groups, 1):
        kinds = ", ".join(f"{n} {k}" for k, n in g.kinds.items())
        con.print(f"[bold]{i}. {g.size} question(s)[/] [dim]({kinds}; last {_when(g.last_seen)})[/]", highlight=False)
        for ex in g.examples:
            con.print(f"   • {ex}", highlight=False, markup=False)
        if g.nearest_entries:
            near = ", ".join(e["id"] for e in g.nearest_entries)
            con.print(f"   [dim]nearest entries:[/] {near}", highlight=False)


@handles_errors
def feedback(
    since: SinceOpt = "30d",
    rating: Annotated[str | None, typer.Option("--rating", help="Only 'up' or only 'down'.")] = None,
    json_: JsonOpt = False,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many to show.")] = 50,
) -> None:
    """List 👍 / 👎 given in Slack or over HTTP, newest first, with the answers they rate.

    Examples:

      raybot feedback

      raybot feedback --rating down --since 7d

      raybot feedback --json
    """
    from raybot.errors import UsageError
    from raybot.records import list_feedback, parse_since
    from raybot.render import console, err_console, print_json
    from raybot.threads import default_store

    if rating is not None and rating not in ("up", "down"):
        raise UsageError(f"unknown rating {rating!r}", hint="use --rating up or --rating down", reference="bad-rating")
    items = list_feedback(default_store(), since=parse_since(since), rating=rating)[:limit]
    if json_:
        print_json([f.to_dict() for f in items])
        return
    if not items:
        err_console().print(f"No feedback recorded (since {since}).")
        return
    con = console()
    for f in items:
        mark = "👍" if f.rating == "up" else "👎"
        first = next((ln for ln in f.answer.splitlines() if ln.strip()), "")[:100]
        con.print(f"{mark} {_when(f.created_at)} {f.thread_id} #{f.seq} ({f.source})", highlight=False, markup=False)
        con.print(f"   Q: {' '.join(f.question.split())[:160]}", highlight=False, markup=False)
        con.print(f"   A: {first}", highlight=False, markup=False)
        if f.comment:
            con.print(f"   comment: {f.comment}", highlight=False, markup=False)
