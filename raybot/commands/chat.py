"""``raybot chat``: a conversation in one thread, interactive or one question per line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from raybot.errors import IndexUnusable, ModelError, RaybotError, UsageError

QUIT = {"exit", "quit", ":q", "/exit", "/quit", "bye"}


def messages(stream, interactive: bool) -> Iterator[str]:
    """Yield one message per line; a ``` fence, a "...:" intro or a pasted burst stays one message."""
    import select

    def more_pending() -> bool:
        if not interactive:
            return False
        try:
            return bool(select.select([stream], [], [], 0.05)[0])
        except (OSError, ValueError):
            return False

    buf: list[str] = []
    in_fence = False
    while True:
        line = stream.readline()
        if not line:
            if buf:
                yield "\n".join(buf)
            return
        line = line.rstrip("\n")
        if line.strip().startswith("```"):
            in_fence = not in_fence
        buf.append(line)
        # Keep going inside a fence, after a trailing backslash, after "...:" (which introduces
        # a paste), and while a terminal paste is still arriving.
        if in_fence or line.endswith("\\") or line.rstrip().endswith(":") or more_pending():
            if line.endswith("\\"):
                buf[-1] = line[:-1]
            continue
        text = "\n".join(buf).strip()
        buf = []
        if text:
            yield text


def chat(
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Continue or start thread ID.")] = None,
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Continue the most recent thread.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per answer (JSON lines).")] = False,
) -> None:
    """Chat in a thread: follow-ups such as "yes, please" or "show me code" continue the topic.

    Type exit to quit, /new to start another thread. Multi-line pastes (tracebacks, code
    in ``` fences) are read as one message. When stdin is not a terminal, each line is one
    question.

    Examples:

      raybot chat

      raybot chat -c

      printf 'why is ray::IDLE using memory?\\nyes please\\n' | raybot chat --json
    """
    from raybot.assistant import Assistant
    from raybot.render import console, err_console, print_json_line, render_answer, render_notes
    from raybot.threads import check_thread_id, default_store, new_thread_id

    if thread is not None and continue_:
        raise UsageError("--thread and --continue cannot be used together", reference="bad-options")
    interactive = sys.stdin.isatty()
    assistant = Assistant(store=default_store())
    if continue_:
        thread_id = default_store().load(None).id
    else:
        thread_id = check_thread_id(thread) if thread else new_thread_id()
    con = err_console()
    if interactive and not json_:
        con.print(
            f"[bold]raybot chat[/] · thread {thread_id} · type exit to quit, /new for a new thread", highlight=False
        )
    stream = messages(sys.stdin, interactive)
    answered = False
    while True:
        if interactive:
            con.print("[bold cyan]you>[/] ", end="")
        msg = next(stream, None)
        if msg is None or msg.strip().lower() in QUIT:
            break
        if msg.strip() == "/new":
            thread_id = new_thread_id()
            con.print(f"new thread {thread_id}", highlight=False)
            continue
        try:
            answer = assistant.ask(msg, thread_id=thread_id)
        except (IndexUnusable, ModelError):
            raise  # nothing can be answered: end the chat with the error
        except RaybotError as exc:
            from raybot.cli import print_error

            print_error(exc)
            continue
        render_notes(answer.notes)
        if json_:
            print_json_line(answer.to_dict())
        else:
            if answered:
                console().print()  # a blank line between one answer and the next
            render_answer(answer, hint=False)
            answered = True
