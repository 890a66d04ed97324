"""The enabled diagnose path of `raybot serve` and `raybot slack`, against a real local Ray cluster.

`POST /v1/diagnose` on a real uvicorn server started with `--allow-diagnose`, and `@raybot diagnose`
to the real slack-bolt app with ``allow_diagnose=True`` (local Slack stand-ins): both must answer
with a diagnosis of *this* cluster (its address, its one 2-CPU node) that starts a raybot thread a
follow-up message continues.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import raycluster
import slack_standin as sl
from test_server import _free_port
from test_slack import CHANNEL, mention, raybot_thread, wait_posts

pytestmark = [pytest.mark.ray, pytest.mark.model]

RAYBOT = str(Path(sys.executable).with_name("raybot"))


@pytest.fixture(scope="module")
def cluster(request):
    c = raycluster.start_head(num_cpus=2)
    request.addfinalizer(c.stop)
    return c


def _cluster_env(cluster, home: Path) -> dict[str, str]:
    env = dict(cluster.env)  # RAY_AUTH_MODE=disabled, no inherited RAY_ADDRESS or token
    env["RAY_ADDRESS"] = cluster.address
    env["RAYBOT_HOME"] = str(home)
    for var in ("RAYBOT_KB", "RAYBOT_INDEX", "RAYBOT_MODEL", "RAYBOT_ALLOW_DIAGNOSE"):
        env.pop(var, None)
    return env


def _check_diagnosis(doc: dict, cluster) -> None:
    assert doc["origin"] != "paste" and doc["address"] == cluster.address
    assert len(doc["nodes"]) == 1  # start_head(num_cpus=2): one node, two CPUs
    (node,) = doc["nodes"]
    assert node["is_head"] and node["alive"] and node["cpus"] == 2
    ids = {c["id"] for c in doc["checks"]}
    assert "reaping-disabled" in ids and "data-completeness" in ids
    assert sum(doc["summary"].values()) == len(doc["checks"])


@pytest.fixture(scope="module")
def server(cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("diag-serve-home")
    port = _free_port()
    proc = subprocess.Popen(
        [RAYBOT, "serve", "--host", "127.0.0.1", "--port", str(port), "--allow-diagnose"],
        env=_cluster_env(cluster, home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def finish():
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()

    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"raybot serve exited: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        finish()
        raise AssertionError("raybot serve did not become healthy in 300 s")
    yield url
    finish()


def test_post_diagnose_returns_this_clusters_diagnosis_and_a_thread(server, cluster):
    with httpx.Client(timeout=180) as client:
        assert client.get(server + "/healthz").json()["diagnose"] is True
        r = client.post(server + "/v1/diagnose")
        assert r.status_code == 200, r.text
        doc = r.json()
        _check_diagnosis(doc, cluster)
        tid = doc["thread_id"]
        assert tid
        thread = client.get(server + f"/v1/threads/{tid}").json()
        (first,) = thread["turns"]
        assert first["intent"] == "diagnose" and cluster.address in first["question"]
        assert cluster.address in first["answer"]
        r = client.post(server + f"/v1/threads/{tid}/messages", json={"question": "why?"})
        assert r.status_code == 200, r.text
        assert r.json()["thread_id"] == tid
        turns = client.get(server + f"/v1/threads/{tid}").json()["turns"]
        assert [t["question"] for t in turns] == [first["question"], "why?"]


@pytest.fixture
def slack(cluster, shipped_retriever, tmp_path, monkeypatch):
    from raybot.service import Service
    from raybot.slack_bot import SlackBot
    from raybot.threads import ThreadStore

    for var, value in _cluster_env(cluster, tmp_path / "home").items():
        monkeypatch.setenv(var, value)  # the bot's process runs on (can reach) the cluster
    ws = sl.SocketModeServer()
    api = sl.WebAPI(ws.url)
    service = Service(retriever=shipped_retriever, store=ThreadStore(tmp_path / "threads.db"))
    service.call(service.warm)
    bot = SlackBot(service, bot_token=sl.BOT_TOKEN, api_url=api.url, allow_diagnose=True)
    handler = bot.socket_mode_handler(sl.APP_TOKEN)
    handler.connect()
    assert ws.connected.wait(15)
    yield ws, api, service
    handler.close()
    ws.close()
    api.close()
    service.close()


def test_slack_diagnose_replies_in_thread_with_this_clusters_summary(slack, cluster):
    ws, api, service = slack
    ask = mention("diagnose")
    env = sl.event_envelope(ask)
    ws.push(env)
    assert ws.wait_ack(env["envelope_id"]) < 2  # the slow diagnosis never blocks the ack
    (post,) = wait_posts(api, 1, timeout=180)
    args = post["args"]
    assert args["channel"] == CHANNEL and args["thread_ts"] == ask["ts"]
    text = str(args["blocks"])
    assert "raybot diagnose" in text and cluster.address in text and "could not diagnose" not in text

    tid = raybot_thread(service, ask["ts"])
    thread = service.call(service.thread, tid)
    assert thread.turns[0].intent == "diagnose" and cluster.address in thread.turns[0].question

    follow = mention("why?", thread_ts=ask["ts"])
    ws.push(sl.event_envelope(follow))
    posts = wait_posts(api, 2, timeout=60)
    assert posts[1]["args"]["thread_ts"] == ask["ts"]
    assert [t.question for t in service.call(service.thread, tid).turns][1:] == ["why?"]
