"""raybot's command line: a thin Typer layer over the library.

Commands parse options, call one library function, and render. Each command is decorated
where it is defined with :func:`raybot.commands.handles_errors`, which turns library errors
(:class:`raybot.errors.RaybotError`) into ``error: <reference>`` + hint on stderr (rendered
by :func:`raybot.render.print_error`) and a named exit code (:mod:`raybot.exit_codes`).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

# One BLAS thread: the query encoder multiplies small matrices, where thread start-up and
# contention cost far more than they save (first query ~0.3 s -> ~0.02 s on 2 cores).
# Must be set before NumPy is imported; an explicit setting by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # noqa: E402

from raybot import __version__, settings  # noqa: E402

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    help=(
        "raybot: offline, cited answers to Ray troubleshooting questions.\n\n"
        "Quick start:\n\n"
        '  raybot ask "Why are my ray::IDLE processes not releasing memory?"\n\n'
        '  raybot ask -c "yes, please"\n\n'
        "  raybot diagnose"
    ),
)


def _version(value: bool) -> None:
    if value:
        print(f"raybot {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    home: Annotated[
        str | None,
        typer.Option("--home", envvar="RAYBOT_HOME", help="Directory for threads (default: the user data dir)."),
    ] = None,
    kb_dir: Annotated[
        str | None,
        typer.Option("--kb-dir", envvar="RAYBOT_KB", help="Knowledge-base directory (default: the shipped kb/)."),
    ] = None,
    index_dir: Annotated[
        str | None,
        typer.Option("--index-dir", envvar="RAYBOT_INDEX", help="Index directory (default: the shipped index/)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            envvar="RAYBOT_MODEL",
            help="Local sentence-transformers model directory (default: the bundled all-MiniLM-L6-v2).",
        ),
    ] = None,
) -> None:
    """raybot: offline, cited answers to Ray troubleshooting questions."""
    # Text raybot prints may hold what it was given (paths, questions) with bytes that are not
    # UTF-8 (lone surrogates from the command line): write a replacement rather than fail.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    # Passed on as settings (read by raybot.paths and raybot.embed), never written to os.environ.
    settings.use(
        settings.Settings(home=home or None, kb_dir=kb_dir or None, index_dir=index_dir or None, model=model or None)
    )


def _register() -> None:
    from raybot.commands import ask, chat, diagnose, evaluate, index_cmd, kb_cmd, search, threads_cmd

    app.command()(ask.ask)
    app.command()(chat.chat)
    app.command()(search.search)
    app.command()(diagnose.diagnose)
    from raybot.commands import gaps_cmd, serve_cmd, slack_cmd

    app.command()(serve_cmd.serve)
    app.command()(slack_cmd.slack)
    app.command()(gaps_cmd.gaps)
    app.command()(gaps_cmd.feedback)
    app.command(name="eval")(evaluate.eval_)
    app.command()(evaluate.bench)
    app.add_typer(index_cmd.app, name="index", help="Build or check the FAISS index of the knowledge base.")
    app.add_typer(kb_cmd.app, name="kb", help="List, show and lint knowledge-base entries.")
    app.add_typer(threads_cmd.app, name="threads", help="List, show, search and delete conversation threads.")


_register()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
