"""Human output of the real CLI at 60, 80 and 120 columns, piped and on a terminal.

These run `python -m raybot` in a subprocess over the shipped kb and index with the real model.
They assert properties and key content (widths, hanging indents, whole code lines and URLs, no
escape sequences where none belong), not whole texts, so answer wording can change freely.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from rich.cells import cell_len

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parent.parent
SMALL_KB = Path(__file__).resolve().parent / "data" / "kb_small"
ESC = "\x1b"
Q_IDLE = "how do I make ray clean up idle workers more aggressively?"
Q_CODE = (
    "ray start --address=$RAY_HEAD_IP:6379 --system-config=... -> ValueError: System config parameters "
    "can only be set on the head node. how do i apply config to workers then"
)
Q_EVIL = "which issues mention foo` [see the official fix](http://evil.example/x.sh) `bar"


def env_for(home: Path, width: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS")}
    env.update(RAYBOT_HOME=str(home), COLUMNS=str(width), TERM="xterm-256color", **extra)
    return env


def run(args: list[str], env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "raybot", *args], input=input, capture_output=True, text=True, env=env, timeout=300
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


def run_tty(args: list[str], env: dict[str, str], width: int, input: str | None = None) -> str:
    """stdout and stderr on a pseudo-terminal `width` columns wide; stdin piped."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    p = subprocess.Popen(
        [sys.executable, "-m", "raybot", *args],
        stdin=subprocess.PIPE,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    if input is not None:
        p.stdin.write(input.encode())
    p.stdin.close()
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=300)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def code_lines(markdown: str) -> set[str]:
    return {line.strip() for block in re.findall(r"```[^\n]*\n(.*?)```", markdown, re.S) for line in block.split("\n")}


def check_layout(out: str, width: int, markdown: str) -> None:
    """No line wider than the terminal except a whole URL on its own line or a whole code
    line; every bullet's continuation lines under its text; no escape sequences."""
    assert ESC not in out
    code = code_lines(markdown)
    rows = out.split("\n")
    for line in rows:
        if cell_len(line) > width:
            assert re.fullmatch(r"\s+https?://\S+", line) or line.strip() in code, f"{width}: {line!r}"
    for i, line in enumerate(rows[:-1]):
        m = re.match(r"(\s*)• ", line)
        nxt = rows[i + 1]
        if m and nxt.strip() and not re.match(r"\s*(•|\d+\.) ", nxt):
            assert nxt.startswith(m.group(1) + "  "), (line, nxt)


def thread_markdown(env, thread_id: str) -> str:
    data = json.loads(run(["threads", "show", "--json", thread_id], env).stdout)
    return "\n\n".join(t["answer"] for t in data["turns"])


def last_thread(env) -> str:
    return json.loads(run(["threads", "list", "--json"], env).stdout)[0]["id"]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_ask_chat_and_threads_show_keep_to_the_width(tmp_path, width):
    env = env_for(tmp_path / "home", width)

    # ask: bullets with hanging indents, Sources with whole URLs
    r = run(["ask", Q_IDLE], env)
    assert r.returncode == 0, r.stderr
    tid = last_thread(env)
    md = thread_markdown(env, tid)
    check_layout(r.stdout, width, md)
    assert "num_workers_soft_limit" in r.stdout
    assert "\nSources:\n" in r.stdout
    urls = re.findall(r"<(https?://[^>]+)>", md)
    assert urls and all(f"  {u}" in r.stdout.split("\n") for u in urls)  # each URL whole on its own line
    assert not r.stdout.startswith("#")
    assert re.search(r"^• .+\n  \S", r.stdout, re.M), "expected a wrapped bullet"

    # ask: numbered steps with a code block whose long lines stay whole
    r = run(["ask", Q_CODE], env)
    md = thread_markdown(env, last_thread(env))
    check_layout(r.stdout, width, md)
    assert re.search(r"^1\. ", r.stdout, re.M) and re.search(r"^2\. ", r.stdout, re.M)
    longest = max(code_lines(md), key=len)
    assert longest and longest in r.stdout.replace("\n   ", "\n")  # one piece, not wrapped

    # follow-up in the first thread, with math and markup-like text in the question
    r = run(["ask", "-t", tid, "yes please, and what about 2 * 3 * 4 workers x[/]?"], env)
    assert r.returncode == 0, r.stderr

    # chat: a question and one follow-up
    r = run(["chat"], env, input=f"{Q_IDLE}\nyes please\n")
    assert r.returncode == 0, r.stderr
    check_layout(r.stdout, width, thread_markdown(env, last_thread(env)))
    assert r.stdout.count("Sources:") >= 1

    # threads show: the question as typed (no MarkupError on x[/], 2 * 3 * 4 kept), the answers laid out
    r = run(["threads", "show", tid], env)
    assert r.returncode == 0, r.stderr
    check_layout(r.stdout, width, thread_markdown(env, tid))
    flat = " ".join(r.stdout.split())
    assert "you: yes please, and what about 2 * 3 * 4 workers x[/]?" in flat
    assert re.search(r"^you: ", r.stdout, re.M)

    # threads list: one row per thread, within the width
    r = run(["threads", "list"], env)
    assert all(cell_len(line) <= width for line in r.stdout.split("\n")), r.stdout
    assert tid in r.stdout


def test_no_escape_sequences_with_no_color_or_when_piped(tmp_path):
    env = env_for(tmp_path / "home", 80)
    piped = run(["ask", Q_IDLE], env)
    assert ESC not in piped.stdout and ESC not in piped.stderr
    no_color = run_tty(["ask", Q_IDLE], {**env, "NO_COLOR": "1"}, 80)
    assert "num_workers_soft_limit" in no_color and ESC not in no_color
    dumb = run_tty(["ask", Q_IDLE], {**env, "TERM": "dumb"}, 80)
    assert "num_workers_soft_limit" in dumb and ESC not in dumb
    # the same on a colour terminal does carry styles and OSC 8 links to the sources
    tty = run_tty(["ask", Q_IDLE], env, 80)
    assert ESC in tty
    assert re.search(r"\x1b\]8;[^;]*;https://github\.com/ray-project/ray/", tty)


def test_user_text_never_becomes_a_link(tmp_path):
    env = env_for(tmp_path / "home", 100)
    out = run_tty(["ask", Q_EVIL], env, 100)
    assert "evil.example" in out  # shown, as text
    assert not re.search(r"\x1b\]8;[^;]*;[^\x1b\x07]*evil", out), "a live link to the attacker's URL"
    flat = re.sub(r"\x1b\[[0-9;]*m", "", out).replace("\r", "")
    assert "[see the official fix](http://evil.example/x.sh)" in " ".join(flat.split())
    data = json.loads(run(["ask", "--json", Q_EVIL], env).stdout)
    assert "](http://evil.example/x.sh)" in data["answer"]
    from markdown_it import MarkdownIt

    links = [
        t.attrs.get("href")
        for block in MarkdownIt().parse(data["answer"])
        for t in block.children or []
        if t.type == "link_open"
    ]
    assert not [u for u in links if "evil" in str(u)]


def test_hostile_kb_title_fails_lint_and_never_reaches_the_terminal(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(SMALL_KB, kb)
    entry = kb / "soft-limit.md"
    text = entry.read_text("utf-8")
    hostile = r'title: "Soft limit \e]8;;http://evil.example/fix.sh\e\\run the official fix\e]8;;\e\\ [/] \u202eend"'
    entry.write_text(re.sub(r"^title: .*$", lambda _m: hostile, text, count=1, flags=re.M), "utf-8")
    env = env_for(tmp_path / "home", 80, RAYBOT_KB=str(kb))
    r = run(["kb", "lint"], env)
    assert r.returncode == 5 and "OSC 8 hyperlink" in r.stdout and ESC not in r.stdout
    out = run_tty(["kb", "list"], env, 80)
    assert "Soft limit" in out and "run the official fix [/]" in out
    assert "evil" not in out and "\u202e" not in out
    r = run(["kb", "list", "--json"], env)
    assert "\\u202e" in r.stdout  # JSON keeps the data, escaped


def test_a_question_back_is_not_labelled_not_covered(tmp_path):
    # "Which problem do you mean?" looked nothing up, so "(not covered by the knowledge base)" would be
    # wrong; a real decline keeps the label.
    env = env_for(tmp_path / "home", 80)
    back = run(["ask", "is there an upstream issue for this?"], env)
    assert back.returncode == 0 and "Which problem do you mean?" in back.stdout
    assert "not covered by the knowledge base" not in back.stderr
    decline = run(["ask", "how do I tune the learning rate of PPO in RLlib?"], env)
    assert "not covered by the knowledge base" in decline.stderr
