"""``raybot kb list|show|lint``."""

from __future__ import annotations

from typing import Annotated

import typer

from raybot import exit_codes
from raybot.commands import handles_errors
from raybot.errors import EntryNotFound, KBError

app = typer.Typer(no_args_is_help=True)


def _load(strict: bool = False, warnings: list | None = None):
    from raybot import paths
    from raybot.kb import load_kb

    kb = paths.kb_dir()
    entries, problems = load_kb(kb, warnings)
    if strict and problems:
        raise KBError(f"{len(problems)} problem(s) in {kb}", hint="run `raybot kb lint`")
    return kb, entries, problems


@app.command("list")
@handles_errors
def kb_list(
    kind: Annotated[str | None, typer.Option("--kind", help="Only entries of this kind.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List the entries of the knowledge base.

    Examples:

      raybot kb list --kind issue
    """
    from raybot.render import print_json, print_table

    _, entries, _ = _load()
    rows = [e for e in entries if kind is None or e.kind == kind]
    if json_:
        print_json(
            [{"id": e.id, "kind": e.kind, "title": e.title, "tags": e.tags, "sources": len(e.sources)} for e in rows]
        )
        return
    print_table(["id", "kind", "title"], [[e.id, e.kind, e.title] for e in rows])


@app.command("show")
@handles_errors
def kb_show(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="Entry id (see raybot kb list).")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Show one entry in full, with its sources.

    Examples:

      raybot kb show num-workers-soft-limit
    """
    from raybot.answer import compose_entry, display_code
    from raybot.index import entry_record
    from raybot.render import print_json, print_markdown

    _, entries, _ = _load()
    by_id = {e.id: e for e in entries}
    if entry_id not in by_id:
        import difflib

        close = difflib.get_close_matches(entry_id, list(by_id), n=3)
        raise EntryNotFound(
            f"no entry with id {entry_id!r}",
            hint=("did you mean: " + ", ".join(close)) if close else "see `raybot kb list`",
        )
    rec = entry_record(by_id[entry_id])
    if json_:
        rec["path"] = str(by_id[entry_id].path)
        print_json(rec)
        return
    entry = by_id[entry_id]
    composed = compose_entry(entry, sections=list(entry.sections), trim_details=False)
    print_markdown(
        display_code(composed.markdown), sources=[{"title": s.title, "url": s.url} for s in composed.sources]
    )


@app.command("lint")
@handles_errors
def kb_lint(
    json_: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
) -> None:
    """Check every entry: fields, ids, links, follow-ups, sources, Python blocks (exit 5 on problems).

    Examples:

      raybot kb lint
    """
    from raybot.render import console, err_console, plain_text, print_json

    warnings: list = []
    kb, entries, problems = _load(warnings=warnings)
    if json_:
        print_json(
            {
                "kb_dir": str(kb),
                "entries": len(entries),
                "problems": [{"path": str(p.path), "line": p.line, "message": p.message} for p in problems],
                "warnings": [{"path": str(p.path), "line": p.line, "message": p.message} for p in warnings],
            }
        )
    else:
        for p in problems:
            console().print(plain_text(p), highlight=False, soft_wrap=True)
        for w in warnings:
            err_console().print(plain_text(f"warning: {w.path}: {w.message}"), highlight=False)
        err_console().print(
            plain_text(f"{len(entries)} entries, {len(problems)} problem(s), {len(warnings)} warning(s) in {kb}"),
            highlight=False,
        )
    if problems:
        raise typer.Exit(exit_codes.KB)
