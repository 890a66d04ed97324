"""CLI errors of `raybot serve`, `raybot slack`, `raybot gaps`, `raybot feedback` (no model, no network)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

RAYBOT = str(Path(sys.executable).with_name("raybot"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    full.update(env or {})
    return subprocess.run([RAYBOT, *args], env=full, capture_output=True, text=True, timeout=60)


def test_slack_needs_both_tokens_from_the_environment():
    r = run("slack")
    assert r.returncode == 2
    assert "error: slack-token-missing" in r.stderr and "SLACK_BOT_TOKEN and SLACK_APP_TOKEN" in r.stderr
    r = run("slack", env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "not-an-app-token"})
    assert r.returncode == 2 and "error: slack-token-invalid" in r.stderr
    assert "not-an-app-token" not in r.stderr  # tokens are never echoed


def test_serve_refuses_a_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("serve", "--port", str(port))
    assert r.returncode == 2 and "error: port-in-use" in r.stderr


def test_gaps_and_feedback_on_an_empty_store_and_bad_since():
    r = run("gaps", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"since": "30d", "groups": []}
    r = run("feedback", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = run("gaps", "--since", "last tuesday")
    assert r.returncode == 2 and "error: bad-since" in r.stderr
    r = run("feedback", "--rating", "meh", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["reference"] == "bad-rating"


def test_help_has_examples():
    for cmd in ("serve", "slack", "gaps", "feedback"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "Examples:" in r.stdout, cmd
