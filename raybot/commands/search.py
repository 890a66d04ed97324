"""``raybot search``: ranked knowledge-base entries for a query."""

from __future__ import annotations

from typing import Annotated

import typer

from raybot.commands import handles_errors
from raybot.errors import UsageError


@handles_errors
def search(
    query: Annotated[list[str], typer.Argument(help="What to look for.")],
    n: Annotated[int, typer.Option("-n", "--limit", min=1, max=100, help="How many entries.")] = 5,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Rank knowledge-base entries for a query (hybrid dense + exact-identifier search).

    Examples:

      raybot search num_workers_soft_limit

      raybot search -n 10 --json "owner died"
    """
    from raybot.render import print_json, render_hits_table, render_notes
    from raybot.retrieve import open_retriever, prepare_query

    text = " ".join(query).strip()
    if not text:
        raise UsageError("the query is empty", hint="raybot search WORDS", reference="empty-query")
    notes: list[str] = []
    retriever = open_retriever(notes=notes)
    q = prepare_query(text)
    render_notes(notes + q.notes)
    hits = [h.to_dict() for h in retriever.search(q, k=n)]
    if json_:
        print_json({"query": text, "hits": hits})
    else:
        render_hits_table(hits, detail=False)
