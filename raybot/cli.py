"""raybot's command line: a thin Typer layer over the library.

Commands parse options, call one library function, and render. Errors from the library
(:class:`raybot.errors.RaybotError`) are turned into ``error: <reference>`` + hint on stderr
and a named exit code (:mod:`raybot.exit_codes`) in one place, :func:`cli_errors`.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Annotated

# One BLAS thread: the query encoder multiplies small matrices, where thread start-up and
# contention cost far more than they save (first query ~0.3 s -> ~0.02 s on 2 cores).
# Must be set before NumPy is imported; an explicit setting by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # noqa: E402

from raybot import __version__, exit_codes  # noqa: E402
from raybot.errors import RaybotError  # noqa: E402

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


def print_error(exc: RaybotError) -> None:
    from raybot.render import render_error

    render_error(exc)


def cli_errors(fn):
    """Translate library errors to a message on stderr and a named exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RaybotError as exc:
            print_error(exc)
            if kwargs.get("json_"):  # --json promises one JSON document on stdout, errors included
                from raybot.render import print_json

                print_json(
                    {
                        "error": {
                            "reference": exc.reference,
                            "message": exc.message,
                            "hint": exc.hint,
                            "exit_code": exc.exit_code,
                        }
                    }
                )
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(exit_codes.EOF_) from None

    return wrapper


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
    for var, value in (
        ("RAYBOT_HOME", home),
        ("RAYBOT_KB", kb_dir),
        ("RAYBOT_INDEX", index_dir),
        ("RAYBOT_MODEL", model),
    ):
        if value:
            os.environ[var] = value


def _register() -> None:
    from raybot.commands import ask, chat, diagnose, evaluate, index_cmd, kb_cmd, search, threads_cmd

    app.command()(cli_errors(ask.ask))
    app.command()(cli_errors(chat.chat))
    app.command()(cli_errors(search.search))
    app.command()(cli_errors(diagnose.diagnose))
    app.command(name="eval")(cli_errors(evaluate.eval_))
    app.command()(cli_errors(evaluate.bench))
    app.add_typer(index_cmd.app, name="index", help="Build or check the FAISS index of the knowledge base.")
    app.add_typer(kb_cmd.app, name="kb", help="List, show and lint knowledge-base entries.")
    app.add_typer(threads_cmd.app, name="threads", help="List, show, search and delete conversation threads.")
    for sub in (index_cmd.app, kb_cmd.app, threads_cmd.app):
        for info in sub.registered_commands:
            info.callback = cli_errors(info.callback)


_register()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
