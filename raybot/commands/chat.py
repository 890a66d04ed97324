"""``raybot chat``: a conversation in one thread, interactive or one question per line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from raybot.commands import handles_errors
from raybot.errors import IndexUnusable, ModelError, RaybotError, UsageError

QUIT = {"exit", "quit", ":q", "/exit", "/quit", "bye"}


def messages(stream, interactive: bool) -> Iterator[str]:
    """Yield the messages typed or piped in, one per line, except:

    * a ``` fence opens a paste that runs to the closing fence (a fence still open at the end
      of the input was not a paste: its lines are read one by one again);
    * a line ending in a backslash continues on the next line;
    * interactively, a line ending in ":" introduces a paste, and a burst of lines arriving at
      once (a terminal paste) stays one message; piped, a "...:" line joins only a following
      fence, indented block or traceback, so it never swallows the next question.
    """
    import select

    def more_pending() -> bool:
        if not interactive:
            return False
        try:
            return bool(select.select([stream], [], [], 0.05)[0])
        except (OSError, ValueError):
            return False

    pending: list[str] = []  # lines read ahead, to be handled before reading more

    def next_line() -> str | None:
        if pending:
            return pending.pop(0)
        line = stream.readline()
        return line.rstrip("\n").rstrip("\r") if line else None

    def peek() -> str | None:
        if not pending:
            line = stream.readline()
            if not line:
                return None
            pending.append(line.rstrip("\n").rstrip("\r"))
        return pending[0]

    def starts_paste(line: str | None) -> bool:
        if line is None:
            return False
        return line.lstrip().startswith("```") or line[:1] in (" ", "\t") or line.startswith("Traceback (")

    buf: list[str] = []
    fence_start: int | None = None  # index in buf of the opening fence line, while a fence is open
    while True:
        line = next_line()
        if line is None:
            if fence_start is not None:
                # An unclosed fence: what followed it was not a paste. Emit what came before the
                # fence as one message, then read the lines after it again one by one.
                head, rest = buf[:fence_start], buf[fence_start:]
                text = "\n".join(head).strip()
                if text:
                    yield text
                pending[:0] = rest[1:]  # the fence line itself is only a marker
                buf, fence_start = [], None
                continue
            text = "\n".join(buf).strip()
            if text:
                yield text
            return
        if line.strip().startswith("```"):
            fence_start = len(buf) if fence_start is None else None
        buf.append(line)
        if fence_start is not None:
            continue
        if line.endswith("\\"):
            buf[-1] = line[:-1]
            continue
        if line.rstrip().endswith(":"):
            if interactive or starts_paste(peek()):
                continue
        elif more_pending():
            continue
        text = "\n".join(buf).strip()
        buf = []
        if text:
            yield text


@handles_errors
def chat(
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Continue or start thread ID.")] = None,
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Continue the most recent thread.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per answer (JSON lines).")] = False,
) -> None:
    """Chat in a thread: follow-ups such as "yes, please" or "show me code" continue the topic.

    Type exit to quit, /new to start another thread. Multi-line pastes (tracebacks, code
    in ``` fences) are read as one message. When stdin is not a terminal, each line is one
    question (a ``` fenced block is one; with --json every message gets exactly one output
    line, an answer or an {"error": ...} object).

    Examples:

      raybot chat

      raybot chat -c

      printf 'why is ray::IDLE using memory?\\nyes please\\n' | raybot chat --json
    """
    from raybot.assistant import Assistant
    from raybot.errors import InternalError, ThreadNotFound
    from raybot.render import console, err_console, print_error, print_json_line, render_answer, render_notes
    from raybot.textin import lenient_stdin
    from raybot.threads import check_thread_id, default_store, new_thread_id

    if thread is not None and continue_:
        raise UsageError("--thread and --continue cannot be used together", reference="bad-options")
    interactive = sys.stdin.isatty()
    store = default_store()
    assistant = Assistant(store=store)
    if continue_:
        latest = store.latest_thread_id()
        if latest is None:
            raise ThreadNotFound("there is no thread to continue yet", hint='start one with `raybot ask "..."`')
        thread_id = latest
    else:
        thread_id = check_thread_id(thread) if thread else new_thread_id()
    con = err_console()
    if interactive and not json_:
        con.print(
            f"[bold]raybot chat[/] · thread {thread_id} · type exit to quit, /new for a new thread", highlight=False
        )
    stream = messages(lenient_stdin(), interactive)
    failed = False
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
        # Every message gets exactly one answer or one error (one JSON line each with --json).
        try:
            answer = assistant.ask(msg, thread_id=thread_id)
        except (IndexUnusable, ModelError) as exc:
            print_error(exc, json_lines=json_)  # nothing can be answered: end the chat with the error
            raise typer.Exit(exc.exit_code) from None
        except RaybotError as exc:
            print_error(exc, json_lines=json_)
            continue
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a bug for this message: say so, keep the conversation going
            import os

            if os.environ.get("RAYBOT_DEBUG"):
                raise
            print_error(InternalError.wrap(exc), json_lines=json_)
            failed = True
            continue
        if "\ufffd" in msg:
            answer.notes.insert(0, "This message contained bytes that are not UTF-8; they were replaced with \ufffd.")
        render_notes(answer.notes)
        if json_:
            print_json_line(answer.to_dict())
        else:
            if answered:
                console().print()  # a blank line between one answer and the next
            render_answer(answer, hint=False)
            answered = True
    if failed:
        from raybot import exit_codes

        raise typer.Exit(exit_codes.INTERNAL)
