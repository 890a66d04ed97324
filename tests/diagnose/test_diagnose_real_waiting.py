"""Work that waits for something other than resources, on a real 2-CPU cluster: a task whose argument
is the ObjectRef of a task still running (``PENDING_ARGS_AVAIL``), an actor whose constructor takes
that ref (``DEPENDENCIES_UNREADY``), and an actor with ``max_restarts=1`` that is killed and whose
``__init__`` sleeps on a restart (``RESTARTING``). Each is listed with its age, and the
waiting-on-arguments-or-restart check explains them; the long-pending-work check (resources) does
not count them.
"""

from __future__ import annotations

import json
import time

import pytest
import raycluster
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.checks import run_checks
from raybot.diagnose.collect import collect_snapshot

pytestmark = pytest.mark.ray

DRIVER = """
import os, tempfile, time, ray
ray.init(address=ADDRESS, logging_level="ERROR")
flags = tempfile.mkdtemp(prefix="rbt-flag-")

@ray.remote(num_cpus=1)
def upstream(flag):
    open(flag, "w").close()
    time.sleep(3600)

@ray.remote(num_cpus=1)
def downstream(x):
    return x

@ray.remote(num_cpus=0)
class NeedsArg:
    def __init__(self, x):
        pass

@ray.remote(num_cpus=0, max_restarts=1)
class SlowRestart:
    def __init__(self, flag):
        if os.path.exists(flag):
            time.sleep(3600)  # the restart's __init__ does not finish
        open(flag, "w").close()

    def pid(self):
        return os.getpid()

up_flag = os.path.join(flags, "up")
up = upstream.remote(up_flag)
while not os.path.exists(up_flag):  # the upstream task runs before the others are submitted
    time.sleep(0.2)
down = downstream.remote(up)
holder = NeedsArg.remote(up)
actor = SlowRestart.remote(os.path.join(flags, "restart"))
print("ACTOR_PID", ray.get(actor.pid.remote()), flush=True)
time.sleep(AGE_BEFORE_KILL)  # its age since creation and since the restart differ by this much
ray.kill(actor, no_restart=False)
print("READY", flush=True)
time.sleep(3600)
"""
AGE_BEFORE_KILL = 4.0
WAIT = 4.0  #: how long the work waits before the snapshot; the test threshold is below it


@pytest.fixture(scope="module")
def cluster():
    c = raycluster.start_head(num_cpus=2)
    try:
        driver = c.run_driver(f"AGE_BEFORE_KILL = {AGE_BEFORE_KILL}\n" + DRIVER)
        c.ready_at = time.monotonic()  # type: ignore[attr-defined]
        c.actor_pid = int(next(ln for ln in driver.output if ln.startswith("ACTOR_PID")).split()[1])  # type: ignore[attr-defined]
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def snap(cluster):
    time.sleep(max(0.0, cluster.ready_at + WAIT - time.monotonic()))
    s = collect_snapshot(cluster.address, timeout=10, local_only=True, scan_logs=False)
    s.since_ready = time.monotonic() - cluster.ready_at  # type: ignore[attr-defined]
    return s


def test_each_waiting_thing_is_listed_with_its_state_and_age(snap, cluster):
    assert snap.pending_work is not None, snap.gaps
    by_name = {(w.kind, w.name): w for w in snap.pending_work}
    task = by_name[("task", "downstream")]
    assert task.state == "PENDING_ARGS_AVAIL" and task.since == "since it entered PENDING_ARGS_AVAIL (task events)"
    holder = by_name[("actor", "NeedsArg")]
    assert holder.state == "DEPENDENCIES_UNREADY"
    assert holder.since == "since its creation task entered PENDING_ARGS_AVAIL (task events)"
    for w in (task, holder):  # submitted before the kill's pause: older than that pause
        assert w.waited_s is not None and AGE_BEFORE_KILL + WAIT - 1.0 <= w.waited_s < 300, w
    actor = by_name[("actor", "SlowRestart")]
    assert actor.state == "RESTARTING" and actor.restarts == 1
    # dated by its old process's death (dead workers) while the old pid is listed, else by the new
    # process's "Creating actor" log line (Ray 2.60 lists the new pid as soon as it is started)
    assert actor.since in (
        "since its previous process died (state API dead workers)",
        "at least: since its new process began creating it (its core-worker log)",
    ), (actor, snap.dead_workers)
    # counted from the kill, not from the actor's creation AGE_BEFORE_KILL seconds earlier
    assert actor.waited_s is not None and WAIT - 2.0 <= actor.waited_s <= snap.since_ready + 1.0, actor
    assert any(w.pid == cluster.actor_pid for w in snap.dead_workers)
    # the running upstream task is not listed, nothing else is
    assert sorted(w.state for w in snap.pending_work) == ["DEPENDENCIES_UNREADY", "PENDING_ARGS_AVAIL", "RESTARTING"]


def test_the_check_explains_them_and_the_resource_check_does_not_count_them(snap):
    snap.pending_after_s = 1.0
    by_id = {r.id: r for r in run_checks(snap)}
    assert by_id["long-pending-work"].status == "ok"
    assert by_id["long-pending-work"].value == "nothing waiting to be scheduled"
    r = by_id["waiting-on-arguments-or-restart"]
    assert r.status == "warn", r
    assert r.value == "2 waiting for an argument and 1 actor restarting for longer than 1s"
    assert "upstream task" in r.why and "not waiting for resources" in r.why and "RESTARTING" in r.why
    text = "\n".join(r.evidence)
    assert "task downstream PENDING_ARGS_AVAIL (waits for an argument): waiting" in text
    assert "actor SlowRestart RESTARTING, restart 1: waiting" in text
    assert r.entries == [
        "task-states-explained",
        "ray-get-hangs",
        "actor-restarts-and-task-retries",
        "actor-unavailable-error",
    ]
    assert "ray list tasks --filter state=PENDING_ARGS_AVAIL --detail" in r.command
    snap.pending_after_s = None
    [r] = [r for r in run_checks(snap) if r.id == "waiting-on-arguments-or-restart"]
    assert r.status == "ok" and r.value.startswith("3 waiting, none longer than")


def test_json_lists_them_in_the_pending_block(cluster):
    res = CliRunner().invoke(
        app, ["diagnose", "--address", cluster.address, "--json", "--local-only", "--no-logs", "--pending-after", "1"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    items = {i["state"]: i for i in data["pending"]["items"]}
    assert set(items) == {"PENDING_ARGS_AVAIL", "DEPENDENCIES_UNREADY", "RESTARTING"}
    assert all(i["waited_s"] >= 1.0 for i in items.values())
    assert data["pending"]["unlisted"] == []
    check = {c["id"]: c for c in data["checks"]}["waiting-on-arguments-or-restart"]
    assert check["status"] == "warn"
