"""``raybot index build|status``."""

from __future__ import annotations

from typing import Annotated

import typer

from raybot import exit_codes

app = typer.Typer(no_args_is_help=True)


@app.command("build")
def index_build(
    model: Annotated[
        str | None,
        typer.Option("--model", envvar="RAYBOT_MODEL", help="sentence-transformers model name or local path."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the build report as JSON.")] = False,
) -> None:
    """Embed the knowledge base into the FAISS index (only changed chunks are re-embedded).

    Examples:

      raybot index build

      RAYBOT_KB=./my-kb RAYBOT_INDEX=./my-index raybot index build
    """
    from raybot import paths
    from raybot.index import build
    from raybot.render import err_console, plain_text, print_json

    con = err_console()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("embedding chunks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=con, transient=True) as bar:
        task = bar.add_task("embed", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = build(paths.kb_dir(), paths.index_dir(), model=model, progress=progress)
    if json_:
        print_json(report.to_dict())
    else:
        con.print(
            plain_text(
                f"indexed {report.entries} entries ({report.chunks} chunks) with {report.model} in "
                f"{report.index_dir}: {report.added} added, {report.changed} changed, "
                f"{report.unchanged} unchanged, {report.removed} removed"
            ),
            highlight=False,
        )


@app.command("status")
def index_status(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Say whether the index is fresh, stale, missing or corrupt (exit 4 unless fresh).

    Examples:

      raybot index status
    """
    from raybot import paths
    from raybot.index import status
    from raybot.render import console, print_json
    from raybot.sanitize import escape_markup

    st = status(paths.kb_dir(), paths.index_dir())
    if json_:
        print_json(st.to_dict())
    else:
        colour = {"fresh": "green", "stale": "yellow"}.get(st.state, "red")
        detail = f"{st.index_dir} ({st.entries} entries, model {st.model or '-'})" + (
            f" — {st.detail}" if st.detail else ""
        )
        console().print(f"[{colour}]{st.state}[/]: {escape_markup(detail)}", highlight=False)
    if st.state != "fresh":
        raise typer.Exit(exit_codes.INDEX)
