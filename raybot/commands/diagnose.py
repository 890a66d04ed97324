"""``raybot diagnose``: inspect a Ray cluster (or a pasted ``ray status``, or copied logs), say
what is wrong."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from raybot import exit_codes
from raybot.commands import handles_errors
from raybot.errors import UsageError

#: --timeout beyond this is a typo, not a wish (an hour per call)
MAX_TIMEOUT_S = 3600.0
#: --pending-after beyond this (a year) is a typo
MAX_PENDING_AFTER_S = 365 * 86400.0


def read_status_file(path: str) -> tuple[str, str]:
    """The text of ``--status-file`` (``-`` is stdin) and a name for it. Undecodable bytes are
    replaced (and the parser reports what it could not read)."""
    if path == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        return data.decode("utf-8", errors="replace"), "stdin"
    p = Path(path)
    try:
        return p.read_bytes().decode("utf-8", errors="replace"), str(p)
    except FileNotFoundError:
        raise UsageError(
            f"no such file: {path}",
            hint="pass the file with the pasted `ray status` output, or - for stdin",
            reference="file-not-found",
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", reference="file-unreadable") from None


def check_timeout(timeout: float, flag: str = "--timeout") -> float:
    if not math.isfinite(timeout) or timeout <= 0 or timeout > MAX_TIMEOUT_S:
        raise UsageError(
            f"{flag} must be a number of seconds between 0 and {MAX_TIMEOUT_S:g}, not {timeout!r}",
            hint=f"e.g. {flag} 10",
            reference="bad-options",
        )
    return timeout


def check_pending_after(seconds: float) -> float:
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_PENDING_AFTER_S:
        raise UsageError(
            f"--pending-after must be a number of seconds between 0 and {MAX_PENDING_AFTER_S:g}, not {seconds!r}",
            hint="e.g. --pending-after 60 (or RAYBOT_PENDING_AFTER_S=60); 0 reports everything pending",
            reference="bad-options",
        )
    return seconds


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
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", help="Seconds allowed for each call to the cluster, and at most for a locked thread store."
        ),
    ] = 10.0,
    status_file: Annotated[
        str | None,
        typer.Option(
            "--status-file",
            metavar="FILE|-",
            help="Analyse a pasted `ray status` output instead of a live cluster (- reads stdin).",
        ),
    ] = None,
    logs: Annotated[
        Path | None,
        typer.Option(
            "--logs",
            metavar="DIR",
            help="Scan a copied Ray logs folder (e.g. session_latest/logs) for known messages, offline.",
        ),
    ] = None,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Do not scan the cluster's session logs.")] = False,
    pending_after: Annotated[
        float | None,
        typer.Option(
            "--pending-after",
            envvar="RAYBOT_PENDING_AFTER_S",
            metavar="SECONDS",
            help="Report tasks, actors and placement groups waiting to be scheduled longer than this. Default: 300.",
        ),
    ] = None,
    pending_timeout: Annotated[
        float | None,
        typer.Option(
            "--pending-timeout",
            metavar="SECONDS",
            help="Seconds the state API listings of pending work may take, after the other listings. "
            "Default: --timeout.",
        ),
    ] = None,
) -> None:
    """Inspect a Ray cluster and explain what is wrong, with evidence and a fix for this cluster.

    Looks at the idle-worker settings, the ray::IDLE processes (memory, CPU, age), objects that keep
    workers alive, OOM kills, the autoscaler's view (pending nodes, demands, failures, idle nodes),
    tasks, actors and placement groups pending longer than --pending-after, dead nodes, version
    pitfalls, and known messages in each node's session logs (read from the end, with a byte
    budget; nothing is written to the cluster). Exit code 0: nothing failed; 1: a check
    failed; 3: no cluster reachable; 2: bad usage; 70: a bug in raybot.

    Examples:

      raybot diagnose

      raybot diagnose --address 10.0.0.5:6379 --json

      ray status | raybot diagnose --status-file -

      raybot diagnose --logs ./copied-session/logs

      raybot ask -c "why?"    # continue from the findings
    """
    try:
        _diagnose(address, json_, local_only, timeout, status_file, logs, no_logs, pending_after, pending_timeout)
    except (UsageError, typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a bug: say so, and never exit 1 (FINDINGS)
        from raybot.errors import RaybotError

        if isinstance(exc, RaybotError):
            raise
        from rich.text import Text

        from raybot.diagnose.textsafe import clean
        from raybot.render import err_console, print_json

        message = clean(f"{type(exc).__name__}: {exc}", keep_newlines=False)[:500]
        err_console().print(Text.assemble(("error: internal-error", "bold red")), highlight=False)
        err_console().print(Text(f"  × raybot diagnose crashed: {message}"), highlight=False)
        err_console().print(Text("hint: this is a bug in raybot; please report it with the command you ran"))
        if json_:
            print_json({"error": {"reference": "internal-error", "message": message, "exit_code": exit_codes.INTERNAL}})
        raise typer.Exit(exit_codes.INTERNAL) from None


def _diagnose(
    address, json_, local_only, timeout, status_file, logs, no_logs, pending_after=None, pending_timeout=None
) -> None:
    from raybot.diagnose import diagnose_cluster, diagnose_logs, diagnose_status_text
    from raybot.diagnose.render import render_diagnosis, render_progress
    from raybot.render import print_json

    check_timeout(timeout)
    if pending_after is not None:
        check_pending_after(pending_after)
    if pending_timeout is not None:
        check_timeout(pending_timeout, "--pending-timeout")
    if status_file is not None and logs is not None:
        raise UsageError("--status-file and --logs cannot be used together", reference="bad-options")
    if status_file is not None:
        text, source = read_status_file(status_file)
        diagnosis = diagnose_status_text(text, source=source)
    elif logs is not None:
        diagnosis = diagnose_logs(logs)
    else:
        if not json_:
            render_progress(f"Inspecting {address or 'the local Ray cluster'} ...")
        diagnosis = diagnose_cluster(
            address,
            timeout=timeout,
            local_only=local_only,
            scan_logs=not no_logs,
            pending_after_s=pending_after,
            pending_timeout=pending_timeout,
        )
    # The findings become the first turn of a thread: `raybot ask -c "why?"` continues from them.
    from rich.text import Text

    from raybot.assistant import record_diagnosis
    from raybot.render import err_console
    from raybot.threads import STORE_WAIT_S, default_store

    # --timeout bounds every wait, the one for a thread store another raybot holds included.
    thread_id = record_diagnosis(diagnosis, default_store(wait=min(timeout, STORE_WAIT_S)))
    if json_:
        print_json({**diagnosis.to_dict(), "thread_id": thread_id})
    else:
        render_diagnosis(diagnosis)
    if thread_id:
        err_console().print(
            Text(f'thread {thread_id} · ask follow-ups with: raybot ask -c "why?"', style="dim"), highlight=False
        )
    if diagnosis.exit_code != exit_codes.OK:
        raise typer.Exit(diagnosis.exit_code)
