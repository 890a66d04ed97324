"""Whole conversations through the real CLI, the real kb/ and the real model.

The seed thread (tests/data/seed/ray-discourse-thread.txt) is replayed turn by turn, and
paraphrased threads check follow-ups, topic switches and resuming in a new process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import DATA
from typer.testing import CliRunner

from raybot.cli import app

pytestmark = pytest.mark.model
runner = CliRunner()
SEED = DATA / "seed" / "ray-discourse-thread.txt"


def seed_code_question() -> str:
    text = SEED.read_text("utf-8")
    start = text.index("How to workaround this if we have remote functions")
    end = text.index("Note that we have set max_calls")
    end = text.index("How to fix this?", end) + len("How to fix this?")
    return "@RunLLM\n\n" + text[start:end]


def ask(*args: str) -> dict:
    r = runner.invoke(app, ["ask", "--json", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


MEMORY = {
    "release-idle-worker-memory",
    "idle-worker-memory-retained",
    "faster-idle-worker-cleanup",
    "ray-idle-process",
    "idle-worker-memory-rss-vs-shr",
}
RCAE = {"reference-counting-assertion-error", "gh-18456"}
SEED_FIX = {
    "max-calls-ray-put-scenario",
    "fix-numpystore-corrected",
    "ray-put-owner-argument",
    "fix-actor-owns-objects",
    "ray-put-objects-worker-exit",
}
SOFT_LIMIT = {"num-workers-soft-limit", "idle-worker-killing-policy"}
CPU = {"ray-idle-high-cpu", "ray-idle-thread-names"}


def test_seed_thread_replayed_end_to_end():
    t1 = ask("Memory not released to default levels: `ray::IDLE` Processes Not Released")
    assert t1["in_scope"] and t1["entries"][0] in MEMORY, t1["entries"]
    assert t1["follow_ups"], "the first answer offers a follow-up"
    assert "10000" not in t1["answer"] or "slower" in t1["answer"]

    t2 = ask("-c", "@RunLLM Yes, please…")
    assert t2["intent"] == "affirm" and t2["thread_id"] == t1["thread_id"]
    assert t2["answer"] != t1["answer"] and t2["in_scope"]

    t3 = ask(
        "-c",
        "@RunLLM What is the cause of\nRayTaskError(ReferenceCountingAssertionError)"
        "(ReferenceCountingAssertionError('00f7ac668d3063a5ffffffffffffffffffffffff0200000002e1f505', ''))\n?",
    )
    assert t3["entries"][0] in RCAE, t3["entries"]
    assert "18456" in t3["answer"]

    t4 = ask("-c", seed_code_question())
    assert t4["entries"][0] in SEED_FIX, t4["entries"]
    assert "_owner" in t4["answer"] and "2.56" in t4["answer"], "the pasted _owner call is flagged"

    t5 = ask("-c", "yes, do please…")
    assert t5["intent"] == "affirm" and t5["answer"] != t4["answer"]

    t6 = ask(
        "-c", "@RunLLM my implementation of NumpyStore does the same i think. Or no? Even with this, objects being lost"
    )
    assert t6["intent"] == "compare"
    assert "In the code you pasted earlier in this thread" in t6["answer"]
    assert "fix-numpystore-corrected" in t6["entries"]
    # The corrected pattern was already printed (turn 4), so it is pointed to, not printed again.
    assert "```python" in t4["answer"] and "_owner=" not in t4["answer"].split("```python", 1)[1]
    assert "```python" not in t6["answer"] and "shown earlier in this thread" in t6["answer"]

    t7 = ask("-c", "yes i would like revised pattern\n@RunLLM")
    assert t7["intent"] == "section" and "earlier in this thread" in t7["answer"]

    t8 = ask(
        "-c",
        "@RunLLM Is there parameter in ray that tells the minimum and maximum number of IDLE workers "
        "that standstill, waiting for execution. Describe the killing policy of IDLE processes",
    )
    assert t8["entries"][0] in SOFT_LIMIT, t8["entries"]
    assert "num_workers_soft_limit" in t8["answer"]

    t9 = ask("-c", "@RunLLM Search for issues where num_workers_soft_limit is mentioned")
    assert t9["intent"] == "issues"
    assert "gh-12525" in t9["entries"]
    assert "#12525" in t9["answer"] and "https://github.com/ray-project/ray/issues/12525" in t9["answer"]

    t10 = ask("-c", "@RunLLM What may be the cause of ray idle consuming a lot of cpu?")
    assert t10["entries"][0] in CPU, t10["entries"]
    assert t10["in_scope"]

    shown = runner.invoke(app, ["threads", "show", "--json", t1["thread_id"]])
    assert len(json.loads(shown.stdout)["turns"]) == 10


def test_paraphrased_thread_with_sections_versions_and_topic_switch():
    a = ask("what does setting kill_idle_workers_interval_ms to 0 do?")
    assert a["entries"][0] == "kill-idle-workers-interval-ms"
    assert "disable" in a["answer"].lower()
    b = ask("-c", "give me the steps")
    assert b["intent"] == "section" and b["answer"] != a["answer"]
    c = ask("-c", "does that still hold on ray 2.60?")
    assert c["intent"] == "versions" and c["entries"][0] == "kill-idle-workers-interval-ms"
    d = ask("-c", "different question: how do I see what objects a worker is holding references to?")
    assert d["intent"] == "new_topic"
    assert d["entries"][0] in {
        "ray-memory-command",
        "ray-memory-reference-types",
        "ray-summary-objects",
        "find-idle-workers",
    }
    assert "kill_idle_workers_interval_ms" not in d["answer"]
    e = ask("-c", "How do I use Optuna with Ray Tune?")
    assert e["in_scope"] is False
    f = ask("-c", "yes please")
    assert f["in_scope"] is False


def test_resume_in_a_new_process_with_thread_and_continue(tmp_path, raybot_home):
    env = {**__import__("os").environ, "RAYBOT_HOME": str(raybot_home)}

    def run(*args):
        r = subprocess.run(
            [sys.executable, "-m", "raybot", "ask", "--json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    first = run("--thread", "ticket-7", "what is OwnerDiedError?")
    assert first["thread_id"] == "ticket-7" and first["entries"][0] == "owner-died-error"
    second = run("--thread", "ticket-7", "yes please")
    assert second["intent"] == "affirm" and second["answer"] != first["answer"]
    third = run("-c", "how do I fix this?")
    assert third["thread_id"] == "ticket-7"
    assert third["entries"][0] in {
        "owner-died-error",
        "fix-actor-owns-objects",
        "fix-return-values-from-tasks",
        "fix-pass-refs-from-driver",
        "ray-put-objects-worker-exit",
    }


def test_cpu_thread_with_code_request_and_issue_search_by_meaning():
    a = ask("top shows a ray::IDLE process at 100% cpu for minutes, is an idle worker spinning?")
    assert a["entries"][0] in CPU | {"gh-17625", "gh-31456", "gh-46964"}, a["entries"]
    assert "ray-idle-high-cpu" in a["entries"]
    b = ask("-c", "show me code")
    assert b["intent"] == "section" and "```python" in b["answer"]
    assert b["answer"] != a["answer"]
    c = ask("-c", "which issues discuss this?")
    assert c["intent"] == "issues" and c["in_scope"]
    assert {"gh-17625", "gh-31456", "gh-46964"} & set(c["entries"]), c["entries"]
    assert "gh-18456" not in c["entries"]  # the topic shapes the search, not just "issues"


def test_short_follow_ups_thanks_and_how_to_set():
    a = ask("my ray cluster has like 20 ray::IDLE procs eating ram")
    assert a["entries"][0] in MEMORY, a["entries"]
    b = ask("-c", "how do i set the soft limit?")
    assert b["entries"][0] == "num-workers-soft-limit"
    assert "RAY_num_workers_soft_limit" in b["answer"]  # the steps, not only the background
    c = ask("-c", "ok and on every node?")
    assert c["intent"] == "contextual" and c["in_scope"]
    d = ask("-c", "thanks!")
    assert d["intent"] == "thanks" and d["entries"] == []
    e = ask("-c", "yes")
    assert e["intent"] == "affirm" and e["entries"][0] == "num-workers-soft-limit"
    assert e["answer"] not in (b["answer"], c["answer"])
