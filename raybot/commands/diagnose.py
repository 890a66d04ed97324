"""``raybot diagnose``: inspect a Ray cluster (or a pasted ``ray status``), say what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from raybot import exit_codes
from raybot.commands import handles_errors
from raybot.errors import UsageError


def read_status_file(path: str) -> tuple[str, str]:
    """The text of ``--status-file`` (``-`` is stdin) and a name for it."""
    if path == "-":
        return sys.stdin.read(), "stdin"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8", errors="replace"), str(p)
    except FileNotFoundError:
        raise UsageError(
            f"no such file: {path}",
            hint="pass the file with the pasted `ray status` output, or - for stdin",
            reference="file-not-found",
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", reference="file-unreadable") from None


@handles_errors
def diagnose(
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            envvar="RAY_ADDRESS",
            help="GCS address of the cluster (host:port). Default: the local cluster, as `ray status` finds it.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    local_only: Annotated[
        bool,
        typer.Option("--local-only", help="Inspect processes only on nodes running on this machine (no probe tasks)."),
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds allowed for each call to the cluster.")] = 10.0,
    status_file: Annotated[
        str | None,
        typer.Option(
            "--status-file",
            metavar="FILE|-",
            help="Analyse a pasted `ray status` output instead of a live cluster (- reads stdin).",
        ),
    ] = None,
) -> None:
    """Inspect a Ray cluster and explain what is wrong, with evidence and a fix for this cluster.

    Looks at the idle-worker settings, the ray::IDLE processes (memory, CPU, age), objects that keep
    workers alive, recent OOM kills, the autoscaler, and version pitfalls. Exit code 0: nothing
    failed; 1: a check failed; 3: no cluster reachable; 2: bad usage.

    Examples:

      raybot diagnose

      raybot diagnose --address 10.0.0.5:6379 --json

      ray status | raybot diagnose --status-file -

      raybot ask -c "why?"    # continue from the findings
    """
    from raybot.diagnose import diagnose_cluster, diagnose_status_text
    from raybot.diagnose.render import render_diagnosis, render_progress
    from raybot.render import print_json

    if timeout <= 0:
        raise UsageError("--timeout must be positive", hint="e.g. --timeout 10", reference="bad-options")
    if status_file is not None:
        text, source = read_status_file(status_file)
        diagnosis = diagnose_status_text(text, source=source)
    else:
        if not json_:
            render_progress(f"Inspecting {address or 'the local Ray cluster'} ...")
        diagnosis = diagnose_cluster(address, timeout=timeout, local_only=local_only)
    # The findings become the first turn of a thread: `raybot ask -c "why?"` continues from them.
    from raybot.assistant import record_diagnosis
    from raybot.render import err_console
    from raybot.threads import default_store

    thread_id = record_diagnosis(diagnosis, default_store())
    if json_:
        print_json({**diagnosis.to_dict(), "thread_id": thread_id})
    else:
        render_diagnosis(diagnosis)
    if thread_id:
        err_console().print(f'[dim]thread {thread_id} · ask follow-ups with: raybot ask -c "why?"[/]', highlight=False)
    if diagnosis.exit_code != exit_codes.OK:
        raise typer.Exit(diagnosis.exit_code)
