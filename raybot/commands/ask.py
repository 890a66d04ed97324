"""``raybot ask``: one question, one cited answer, in a thread."""

from __future__ import annotations

from typing import Annotated

import typer

from raybot.commands import handles_errors
from raybot.errors import UsageError

MAX_STDIN_BYTES = 1 << 20  #: a question read from stdin is cut here (a log paste needs far less)


def read_question(words: list[str], notes: list[str] | None = None) -> str:
    if words == ["-"]:
        from raybot.textin import read_stdin

        text = read_stdin(notes, limit=MAX_STDIN_BYTES + 1)
        if len(text.encode("utf-8", "replace")) > MAX_STDIN_BYTES and notes is not None:
            notes.append(f"stdin is longer than {MAX_STDIN_BYTES:,} bytes; only the start was read.")
        return text
    return " ".join(words)


@handles_errors
def ask(
    question: Annotated[list[str], typer.Argument(help="The question (use - to read it from stdin).")],
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Continue or start thread ID.")] = None,
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Continue the most recent thread.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show retrieval scores on stderr.")] = False,
) -> None:
    """Answer a Ray troubleshooting question from the knowledge base, with sources.

    Examples:

      raybot ask "Why are my ray::IDLE processes not releasing memory?"

      raybot ask -c "yes, please"

      raybot ask -t s42 --json "what does kill_idle_workers_interval_ms=0 do?"
    """
    from raybot.assistant import Assistant
    from raybot.threads import default_store

    if thread is not None and continue_:
        raise UsageError(
            "--thread and --continue cannot be used together",
            hint="use --thread ID for a given thread, -c for the latest",
            reference="bad-options",
        )
    read_notes: list[str] = []
    text = read_question(question, read_notes)
    assistant = Assistant(store=default_store())
    answer = assistant.ask(text, thread_id=thread, continue_=continue_)
    answer.notes = read_notes + answer.notes
    if json_ and not explain and not answer.notes:
        # The common scripted case: one JSON document, without loading the terminal renderer.
        from raybot.jsonout import print_json

        print_json(answer.to_dict())
        return
    from raybot.render import render_answer, render_notes

    render_notes(answer.notes)
    render_answer(answer, json_=json_, explain=explain)
