"""Hostile and unlucky input to every command: a documented exit code, no traceback, no
escape sequence from the input on stdout (issue 13).

Each case runs the real CLI in-process (real kb fixture, real model, real store). A crash
shows up as exit 70 (``INTERNAL``), which no case may return.
"""

from __future__ import annotations

import json
import os
import random

import pytest
from typer.testing import CliRunner

from raybot import exit_codes
from raybot.cli import app

pytestmark = pytest.mark.model

DOCUMENTED = {
    exit_codes.OK,
    exit_codes.FINDINGS,
    exit_codes.USAGE,
    exit_codes.UNREACHABLE,
    exit_codes.INDEX,
    exit_codes.KB,
    exit_codes.STORE,
    exit_codes.INTERRUPTED,
}

_rng = random.Random(13)
RANDOM_BYTES = bytes(_rng.randrange(256) for _ in range(400))

HOSTILE = {
    "markup": "x[/] [bold]y[/bold] [link=http://evil.example/fix.sh]run the official fix[/link] [/]",
    "escapes": "\x1b]8;;http://evil.example/x.sh\x1b\\click\x1b]8;;\x1b\\ \x1b[31mred\x1b[0m \x9b2J \x07",
    "bidi": "why is \u202eexe.live\u202c ray::IDLE \u2066using\u2069 memory?",
    "md-link": "which issues mention foo` [see the official fix](http://evil.example/x.sh) `bar",
    "random": RANDOM_BYTES.decode("utf-8", "surrogateescape"),
    "long": "ray::IDLE " * 20_000,
    "deep-attr": "```python\nx = " + "a." * 3000 + "b\n```",
    "unary": "```python\nx = " + "-" * 100_000 + "1\n```",
    "brackets": "[/]:1",
    "empty": "",
    "blank": "   \t ",
    "number": "99999999999999999999",
    "nan": "nan",
    "tilde": "~nouser/x",
}
STDIN_HOSTILE = {
    "random": RANDOM_BYTES,
    "latin1": "caf\xe9 ray::IDLE m\xe9moire\n".encode("latin-1"),
    "unclosed-fence": b"```python\nimport ray\nwhy is ray::IDLE using memory?\nyes please\n",
    "colon": b"here is my config:\nwhat does max_calls do?\n",
    "escapes": HOSTILE["escapes"].encode(),
    "nul": b"what\x00is ray::IDLE?\n",  # a NUL cannot be in argv (execve stops at it): stdin only
}


@pytest.fixture
def env(small_index, monkeypatch, raybot_home, tmp_path):
    kb, idx = small_index
    # Relative paths from hostile arguments (--home nan, ...) land in the test's directory.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAYBOT_KB", str(kb))
    monkeypatch.setenv("RAYBOT_INDEX", str(idx))
    return kb, idx


def run(args: list[str], stdin: bytes | str | None = None):
    runner = CliRunner()
    result = runner.invoke(app, args, input=stdin, catch_exceptions=True)
    return result


def check(result, args) -> None:
    shown = f"{args!r}: exit {result.exit_code}\nstdout: {result.stdout[-800:]!r}\nstderr: {result.stderr[-1500:]!r}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError(shown + "\n" + "".join(traceback.format_exception(result.exception))) from result.exception
    assert result.exit_code in DOCUMENTED, shown
    assert "Traceback (most recent call last)" not in result.stderr, shown
    assert "Traceback (most recent call last)" not in result.stdout, shown
    # Not a terminal: raybot itself emits no ESC, so any ESC (or C1 CSI) came from the input.
    assert "\x1b" not in result.stdout and "\x9b" not in result.stdout, shown
    assert "\x1b" not in result.stderr and "\x9b" not in result.stderr, shown


def commands_for(text: str) -> list[list[str]]:
    return [
        ["ask", text],
        ["ask", "--json", text],
        ["ask", "--thread", text, "why is ray::IDLE using memory?"],
        ["search", text],
        ["search", "-n", text, "idle"],
        ["threads", "show", text],
        ["threads", "search", text],
        ["threads", "delete", text],
        ["threads", "list", "-n", text],
        ["kb", "show", text],
        ["kb", "list", "--kind", text],
        ["--home", text, "threads", "list"],
        ["--kb-dir", text, "kb", "list"],
        ["--kb-dir", text, "kb", "lint"],
        ["--kb-dir", text, "index", "build"],
        ["threads", "show", "--json", text],
        ["--index-dir", text, "index", "status"],
        ["--model", text, "search", "idle workers"],
        ["diagnose", "--status-file", text],
    ]


CASES = [(name, args) for name, text in HOSTILE.items() for args in commands_for(text)]


@pytest.mark.parametrize(("name", "args"), CASES, ids=[f"{n}-{'-'.join(a[:2])}-{i}" for i, (n, a) in enumerate(CASES)])
def test_hostile_arguments(env, name, args):
    check(run(args), args)


@pytest.mark.parametrize("name", sorted(STDIN_HOSTILE))
@pytest.mark.parametrize("args", [["ask", "-"], ["ask", "--json", "-"], ["chat"], ["chat", "--json"]])
def test_hostile_stdin(env, name, args):
    result = run(args, STDIN_HOSTILE[name])
    check(result, args)


@pytest.mark.parametrize("name", sorted(STDIN_HOSTILE))
def test_hostile_files(env, tmp_path, name):
    path = tmp_path / "input.txt"
    path.write_bytes(STDIN_HOSTILE[name])
    for args in (["eval", str(path)], ["bench", "--runs", "1", str(path)], ["diagnose", "--status-file", str(path)]):
        check(run(args), args)


def test_chat_json_one_line_per_message_even_for_errors(env):
    stdin = "why is ray::IDLE using memory?\n!!!\n```python\nimport ray\nyes please\n"
    result = run(["chat", "--json"], stdin)
    check(result, ["chat", "--json"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # The question, the wordless "!!!" (an error object), then the unclosed fence's lines one by one.
    assert len(lines) == 4, lines
    assert lines[0]["question"] == "why is ray::IDLE using memory?"
    assert lines[1]["error"]["reference"] == "empty-question"
    assert [line["question"] for line in lines[2:]] == ["import ray", "yes please"]


def test_chat_colon_line_does_not_swallow_the_next_question(env):
    result = run(["chat", "--json"], "here is my question:\nwhat does max_calls do?\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == ["here is my question:", "what does max_calls do?"]
    # ...but it still introduces a pasted traceback.
    result = run(["chat", "--json"], 'my error:\nTraceback (most recent call last):\n  File "x.py"\n')
    assert len(result.stdout.splitlines()) == 1


def test_undecodable_stdin_is_replaced_and_said(env):
    result = run(["ask", "--json", "-"], "why is ray::IDLE using m\xe9moire?".encode("latin-1"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert "\ufffd" in data["question"] and any("not UTF-8" in n for n in data["notes"])


def test_json_errors_are_documents_on_stdout(env):
    result = run(["threads", "show", "--json", "no-such-thread"])
    assert result.exit_code == exit_codes.USAGE
    assert json.loads(result.stdout)["error"]["reference"] == "thread-not-found"
    assert "error: thread-not-found" in result.stderr


def test_an_unexpected_exception_is_exit_70_without_traceback(env, monkeypatch):
    from raybot.threads import ThreadStore

    def boom(self, limit=20):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(ThreadStore, "list", boom)
    result = run(["threads", "list", "--json"])
    assert result.exit_code == exit_codes.INTERNAL
    assert "Traceback" not in result.stderr and "internal-error" in result.stderr
    assert json.loads(result.stdout)["error"]["exit_code"] == exit_codes.INTERNAL
    monkeypatch.setenv("RAYBOT_DEBUG", "1")
    assert isinstance(run(["threads", "list"]).exception, ZeroDivisionError)


def test_locked_store_answers_without_saving_within_a_bounded_wait(env, raybot_home):
    import sqlite3
    import time

    from raybot.threads import ThreadStore, Turn

    db = raybot_home / "threads.db"
    ThreadStore(db).add_turn("t", Turn("q", "a"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        start = time.monotonic()
        result = run(["ask", "--json", "why is ray::IDLE using memory?"])
        elapsed = time.monotonic() - start
    finally:
        holder.execute("rollback")
        holder.close()
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["saved"] is False and data["thread_id"] is None and data["answer"]
    said = " ".join(result.stderr.split())
    assert "locked by another process" in said and "not saved" in said
    assert elapsed < 20
    human = None
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        human = run(["ask", "why is ray::IDLE using memory?"])
    finally:
        holder.execute("rollback")
        holder.close()
    said = " ".join(human.stderr.split())
    assert "raybot ask -c" not in said and "cannot be continued" in said


def test_read_only_thread_commands_say_the_store_was_moved_aside(env, raybot_home):
    raybot_home.mkdir(parents=True, exist_ok=True)
    (raybot_home / "threads.db").write_bytes(b"\x00garbage" * 512)
    result = run(["threads", "list"])
    assert result.exit_code == 0
    said = " ".join(result.stderr.split())
    assert "moved to" in said and "Nothing was deleted" in said


def test_bench_uses_a_temporary_home(env, raybot_home, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "what does max_calls do?", "expected": ["max-calls"]}\n')
    result = run(["bench", "--runs", "1", "--json", str(questions)])
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["cold_runs"] == 1
    # Both cold pairs: as installed (bytecode cached) and in this environment.
    assert figures["cold_ask_ratio"] > 0 and figures["environment_cold_ask_ratio"] > 0
    assert figures["environment_bytecode"] == ("off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on")
    # The cold `raybot ask` runs wrote nowhere near the user's home.
    assert not (raybot_home / "threads.db").exists() or not run(["threads", "list", "--json"]).stdout.strip("[]\n ")
    assert os.environ["RAYBOT_HOME"] == str(raybot_home)


def test_global_options_are_settings_not_environment(env, monkeypatch, tmp_path):
    kb, _ = env
    monkeypatch.delenv("RAYBOT_KB")
    result = run(["--kb-dir", str(kb), "--home", str(tmp_path / "h"), "kb", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)  # the small kb's entries, found through the setting
    assert "RAYBOT_KB" not in os.environ and os.environ.get("RAYBOT_HOME") != str(tmp_path / "h")
