"""The CLI commands, one module per command (group).

Every command function is decorated with :func:`handles_errors` where it is defined, so a
command behaves the same however it is registered or called.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(fn: F) -> F:
    """Turn what a command raises into a message on stderr and a named exit code.

    * :class:`raybot.errors.RaybotError`: ``error: <reference>``, message and hint on stderr
      (and, for ``--json``, the error document on stdout); its exit code.
    * Ctrl-C: exit 130 (``INTERRUPTED``), no traceback.
    * Anything else is a bug in raybot: ``error: internal-error`` with the exception's type and
      message, exit 70 (``INTERNAL``); ``RAYBOT_DEBUG=1`` shows the traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import typer

        from raybot import exit_codes
        from raybot.errors import InternalError, RaybotError

        json_ = bool(kwargs.get("json_"))
        try:
            kwargs = _clean_arguments(kwargs)
            return fn(*args, **kwargs)
        except _passed_through():
            raise
        except RaybotError as exc:
            from raybot.render import print_error

            print_error(exc, json_=json_)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(exit_codes.INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (`raybot ... | head`): nothing more to say to anyone.
            import sys

            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            raise typer.Exit(exit_codes.OK) from None
        except Exception as exc:
            if os.environ.get("RAYBOT_DEBUG"):
                raise
            from raybot.render import print_error

            print_error(InternalError.wrap(exc), json_=json_)
            raise typer.Exit(exit_codes.INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def _passed_through() -> tuple[type[BaseException], ...]:
    """What a command may raise for Typer/Click to handle: exits, aborts, Click's own errors.

    Typer 0.28 carries its own copy of Click (its exceptions derive from ``typer.TyperException``);
    older Typer uses the ``click`` package, which is then already imported. ``click`` is not
    imported here only to name its exceptions (~15 ms of start-up for every command).
    """
    import sys

    import typer

    kinds: list[type[BaseException]] = [typer.Exit, typer.Abort]
    typer_exc = getattr(typer, "TyperException", None)
    if isinstance(typer_exc, type):
        kinds.append(typer_exc)
    click = sys.modules.get("click")
    if click is not None:
        kinds += [click.exceptions.Exit, click.exceptions.Abort, click.ClickException]
    return tuple(kinds)


def _clean_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments that were not UTF-8 on the command line arrive with lone surrogates (Python's
    ``surrogateescape``), which nothing downstream can encode: replace them with U+FFFD, and
    say so."""
    replaced = False

    def clean(value: Any) -> Any:
        nonlocal replaced
        if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" or "\ud800" <= ch <= "\udfff" for ch in value):
            replaced = True
            try:  # the original bytes back, then decoded leniently
                raw = value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raw = value.encode("utf-8", "surrogatepass")
            return raw.decode("utf-8", "replace")
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out = {k: clean(v) for k, v in kwargs.items()}
    if replaced:
        from raybot.render import render_notes

        render_notes(["An argument contained bytes that are not UTF-8; they were replaced with \ufffd."])
    return out
