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


def _new_app() -> typer.Typer:
    return typer.Typer(
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


#: Every command: name -> (module, function, help of a command group or None for a command).
#: Modules are imported only when their command is built, so `raybot ask` never imports the
#: modules (nor builds the Click commands) of diagnose, serve, slack, eval and the rest.
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "ask": ("raybot.commands.ask", "ask", None),
    "chat": ("raybot.commands.chat", "chat", None),
    "search": ("raybot.commands.search", "search", None),
    "diagnose": ("raybot.commands.diagnose", "diagnose", None),
    "serve": ("raybot.commands.serve_cmd", "serve", None),
    "slack": ("raybot.commands.slack_cmd", "slack", None),
    "gaps": ("raybot.commands.gaps_cmd", "gaps", None),
    "feedback": ("raybot.commands.gaps_cmd", "feedback", None),
    "eval": ("raybot.commands.evaluate", "eval_", None),
    "bench": ("raybot.commands.evaluate", "bench", None),
    "index": ("raybot.commands.index_cmd", "app", "Build or check the FAISS index of the knowledge base."),
    "kb": ("raybot.commands.kb_cmd", "app", "List, show and lint knowledge-base entries."),
    "threads": ("raybot.commands.threads_cmd", "app", "List, show, search and delete conversation threads."),
}

#: Options of the root callback that take a value (``--home DIR``); ``--version`` takes none.
_ROOT_VALUE_OPTIONS = ("--home", "--kb-dir", "--index-dir", "--model")


def flowed_help(doc: str | None) -> str | None:
    """A docstring as Typer's rich help should get it: prose paragraphs joined into one line
    each, so that Rich wraps them at the terminal's width (a docstring's own line breaks,
    kept by Typer, made ragged lines at 80 columns). Paragraphs with an indented, bulleted or
    ``\\b`` line (examples, lists) are kept as written."""
    if not doc:
        return doc
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    out = []
    for para in paragraphs:
        lines = para.split("\n")
        keep = any(line[:1].isspace() or line.startswith(("-", "*", "\b")) for line in lines)
        out.append(para if keep else " ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or with only the command named ``only``."""
    import importlib

    new = _new_app()
    new.callback()(root)
    for name, (module, attr, group_help) in COMMANDS.items():
        if only is not None and name != only:
            continue
        obj = getattr(importlib.import_module(module), attr)
        if group_help is None:
            new.command(name=name, help=flowed_help(obj.__doc__))(obj)
        else:
            for info in obj.registered_commands:
                if info.help is None and info.callback is not None:
                    info.help = flowed_help(info.callback.__doc__)
            new.add_typer(obj, name=name, help=group_help)
    return new


def command_named(argv: list[str]) -> str | None:
    """The command ``argv`` runs, when it names one of :data:`COMMANDS` after root options
    only; ``None`` otherwise (no command, ``--help``, ``--version``, an unknown word)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _ROOT_VALUE_OPTIONS:
            i += 2
        elif arg.startswith(tuple(o + "=" for o in _ROOT_VALUE_OPTIONS)):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg if arg in COMMANDS else None
    return None


def __getattr__(name: str) -> typer.Typer:
    # `from raybot.cli import app`: the app with every command, built on first use.
    if name == "app":
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # A run names one command: only that command is imported and built (the rest cost ~60 ms of
    # imports and Click set-up). Help, completion and anything unexpected get the whole app.
    only = None if any(k.startswith("_RAYBOT") for k in os.environ) else command_named(sys.argv[1:])
    build_app(only)()


if __name__ == "__main__":  # pragma: no cover
    main()
