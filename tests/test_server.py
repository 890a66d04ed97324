"""`raybot serve` through real uvicorn servers on free loopback ports, with a real HTTP client.

Two server processes share one thread store (SQLite in WAL mode), as Ray Serve replicas do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.model

RAYBOT = str(Path(sys.executable).with_name("raybot"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RAYBOT_HOME"] = str(home)
    for var in ("RAYBOT_KB", "RAYBOT_INDEX", "RAYBOT_MODEL", "RAYBOT_ALLOW_DIAGNOSE"):
        env.pop(var, None)
    return env


def _start(home: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [RAYBOT, "serve", "--host", "127.0.0.1", "--port", str(port), "--max-body", "8192"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300  # a stale index is rebuilt at start-up
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"raybot serve exited: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("raybot serve did not become healthy in 300 s")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    started = [_start(home), _start(home)]
    yield home, [url for _, url in started]
    for proc, _ in started:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RAYBOT, *args], env=_env(home), capture_output=True, text=True, timeout=120)


def test_health_reports_one_load_and_wal(servers):
    _, (url, _) = servers
    for _ in range(3):
        httpx.post(url + "/v1/threads", json={"question": "what does num_workers_soft_limit do?"}, timeout=30)
    health = httpx.get(url + "/healthz").json()
    assert health["status"] == "ok"
    assert health["index_loads"] == 1  # the index and model are loaded once per process
    assert health["journal_mode"] == "wal"
    assert health["entries"] > 10


def test_follow_up_thread_matches_cli_documents(servers):
    home, (url, other) = servers
    with httpx.Client(timeout=30) as client:
        first = client.post(
            url + "/v1/threads", json={"question": "Why are my ray::IDLE processes not releasing memory?"}
        )
        assert first.status_code == 201, first.text
        doc = first.json()
        assert doc["in_scope"] and doc["follow_ups"], doc
        tid = doc["thread_id"]
        # The follow-up goes to the *other* server process: the thread lives in the shared store.
        second = client.post(f"{other}/v1/threads/{tid}/messages", json={"question": "yes, please"})
        assert second.status_code == 200, second.text
        follow = second.json()
        assert follow["thread_id"] == tid
        assert follow["intent"] == "affirm"
        assert follow["answer"] != doc["answer"]
        thread = client.get(f"{url}/v1/threads/{tid}").json()
    # One schema with the CLI: the thread document is exactly `raybot threads show ID --json`...
    shown = _cli(home, "threads", "show", tid, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == thread
    assert [t["question"] for t in thread["turns"]] == [
        "Why are my ray::IDLE processes not releasing memory?",
        "yes, please",
    ]
    assert thread["turns"][0]["offer"]["text"] == doc["follow_ups"][0]
    # ...and an answer has exactly the keys `raybot ask --json` prints.
    asked = _cli(home, "ask", "--json", "--thread", tid, "thanks")
    assert asked.returncode == 0, asked.stderr
    assert set(json.loads(asked.stdout)) == set(doc) == set(follow)


def test_openapi_documents_the_same_schema(servers):
    _, (url, _) = servers
    spec = httpx.get(url + "/openapi.json").json()
    for path in (
        "/v1/threads",
        "/v1/threads/{thread_id}",
        "/v1/threads/{thread_id}/messages",
        "/v1/feedback",
        "/healthz",
    ):
        assert path in spec["paths"], path
    answer_props = set(spec["components"]["schemas"]["AnswerDoc"]["properties"])
    doc = httpx.post(url + "/v1/threads", json={"question": "what is OwnerDiedError?"}, timeout=30).json()
    assert answer_props == set(doc)
    thread = httpx.get(f"{url}/v1/threads/{doc['thread_id']}").json()
    assert set(spec["components"]["schemas"]["ThreadDoc"]["properties"]) == set(thread)
    assert set(spec["components"]["schemas"]["TurnDoc"]["properties"]) == set(thread["turns"][0])


@pytest.mark.parametrize(
    ("body", "headers", "status", "reference"),
    [
        (b"not json", {"content-type": "application/json"}, 400, "bad-json"),
        (b"[1, 2]", {}, 400, "bad-request-body"),
        (b'{"q": "hi"}', {}, 400, "bad-request-body"),
        (b'{"question": 42}', {}, 400, "bad-request-body"),
        (b'{"question": ""}', {}, 400, "empty-question"),
        (b'{"question": "   "}', {}, 400, "empty-question"),
        (b'{"question": "hi", "extra": 1}', {}, 400, "bad-request-body"),
        (json.dumps({"question": "x" * 9000}).encode(), {}, 413, "body-too-large"),
    ],
)
def test_bad_bodies_get_4xx_with_cli_references(servers, body, headers, status, reference):
    _, (url, _) = servers
    resp = httpx.post(url + "/v1/threads", content=body, headers=headers, timeout=30)
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["reference"] == reference
    assert err["message"] and "Traceback" not in resp.text


def test_unknown_threads_turns_and_disabled_diagnose(servers):
    _, (url, _) = servers
    with httpx.Client(timeout=30) as client:
        r = client.post(url + "/v1/threads/nosuchthread/messages", json={"question": "yes, please"})
        assert (r.status_code, r.json()["error"]["reference"]) == (404, "thread-not-found")
        r = client.get(url + "/v1/threads/bad%20id")
        assert (r.status_code, r.json()["error"]["reference"]) == (400, "bad-thread-id")
        tid = client.post(url + "/v1/threads", json={"question": "what is ray::IDLE?"}).json()["thread_id"]
        r = client.post(url + "/v1/feedback", json={"thread_id": tid, "seq": 7, "rating": "up"})
        assert (r.status_code, r.json()["error"]["reference"]) == (404, "turn-not-found")
        r = client.post(url + "/v1/feedback", json={"thread_id": tid, "seq": 1, "rating": "meh"})
        assert (r.status_code, r.json()["error"]["reference"]) == (400, "bad-request-body")
        r = client.post(url + "/v1/diagnose")
        assert (r.status_code, r.json()["error"]["reference"]) == (403, "diagnose-disabled")
        assert "--allow-diagnose" in r.json()["error"]["hint"]
        r = client.delete(url + "/v1/threads")
        assert (r.status_code, r.json()["error"]["reference"]) == (405, "method-not-allowed")


def test_two_concurrent_clients_on_two_servers_lose_no_turn(servers):
    _, urls = servers
    tid = httpx.post(
        urls[0] + "/v1/threads", json={"question": "what does kill_idle_workers_interval_ms do?"}, timeout=30
    )
    tid = tid.json()["thread_id"]
    n = 8
    errors: list[str] = []

    def client(name: str, url: str) -> None:
        with httpx.Client(timeout=60) as c:
            for i in range(n):
                r = c.post(
                    f"{url}/v1/threads/{tid}/messages", json={"question": f"{name} question {i}: and the soft limit?"}
                )
                if r.status_code != 200:
                    errors.append(r.text)

    workers = [threading.Thread(target=client, args=(name, url)) for name, url in zip("AB", urls, strict=True)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    turns = httpx.get(f"{urls[1]}/v1/threads/{tid}").json()["turns"]
    assert [t["seq"] for t in turns] == list(range(1, 2 * n + 2))
    questions = {t["question"] for t in turns}
    for name in "AB":
        for i in range(n):
            assert f"{name} question {i}: and the soft limit?" in questions


def test_feedback_and_gaps_over_http(servers):
    home, (url, _) = servers
    with httpx.Client(timeout=30) as client:
        doc = client.post(
            url + "/v1/threads", json={"question": "How do I configure Kubernetes ingress for KubeRay?"}
        ).json()
        assert doc["in_scope"] is False  # declined: recorded as a gap
        good = client.post(url + "/v1/threads", json={"question": "what does num_workers_soft_limit do?"}).json()
        r = client.post(
            url + "/v1/feedback",
            json={
                "thread_id": good["thread_id"],
                "seq": 1,
                "rating": "down",
                "comment": "token=xoxb-1234567890-abcdef",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["rating"] == "down" and "xoxb" not in (r.json()["comment"] or "")
    fb = _cli(home, "feedback", "--json")
    assert fb.returncode == 0, fb.stderr
    assert any(f["thread_id"] == good["thread_id"] and f["rating"] == "down" for f in json.loads(fb.stdout))
    gaps = _cli(home, "gaps", "--json", "--since", "1h")
    assert gaps.returncode == 0, gaps.stderr
    examples = [e for g in json.loads(gaps.stdout)["groups"] for e in g["examples"]]
    assert any("KubeRay" in e for e in examples)
    assert any("num_workers_soft_limit" in e for e in examples)
