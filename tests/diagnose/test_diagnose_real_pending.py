"""Work that waits to be scheduled, on a real 1-CPU cluster: a task asking for a resource nobody has,
an actor asking for 4 CPUs, a placement group with an 8-CPU bundle (all infeasible), and a task that
fits but waits because another task holds the only CPU. The state API lists each with how long it
has waited; with a small ``--pending-after`` the check reports them, with the default it does not.
"""

from __future__ import annotations

import json
import time

import pytest
import raycluster
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.checks import run_checks
from raybot.diagnose.checks.pending import PENDING_AFTER_S
from raybot.diagnose.collect import collect_snapshot

pytestmark = pytest.mark.ray

DRIVER = """
import os, tempfile, time, ray
from ray.util.placement_group import placement_group
ray.init(address=ADDRESS, logging_level="ERROR")

@ray.remote(num_cpus=1)
def hold_cpu(flag):
    open(flag, "w").close()
    time.sleep(3600)

@ray.remote(num_cpus=1)
def waits_for_cpu():
    return 1

@ray.remote(resources={"nobody_has": 1})
def wants_nobody_has():
    return 1

@ray.remote(num_cpus=4)
class TooBig:
    pass

flag = os.path.join(tempfile.mkdtemp(prefix="rbt-flag-"), "running")
holder = hold_cpu.remote(flag)
while not os.path.exists(flag):  # the CPU is taken before the next task is submitted
    time.sleep(0.2)
queued = waits_for_cpu.remote()
lost = [wants_nobody_has.remote() for _ in range(2)]
actor = TooBig.remote()
pg = placement_group([{"CPU": 8}], strategy="PACK", name="too-big-group")
print("READY", flush=True)
time.sleep(3600)
"""
WAIT = 3.0  #: how long the work waits before the snapshot; the test threshold is below it
THRESHOLD = 1.0


def gcs_verdict(snap) -> str:
    return "NO_RESOURCES" if snap.ray_version.startswith("2.49.") else "INFEASIBLE"


@pytest.fixture(scope="module")
def cluster():
    c = raycluster.start_head(num_cpus=1)
    try:
        c.run_driver(DRIVER)
        c.ready_at = time.monotonic()  # type: ignore[attr-defined]
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def snap(cluster):
    time.sleep(max(0.0, cluster.ready_at + WAIT - time.monotonic()))
    return collect_snapshot(cluster.address, timeout=10, local_only=True, scan_logs=False)


def test_the_state_api_lists_each_pending_thing_with_its_wait(snap):
    assert snap.pending_work is not None, snap.gaps
    by_name = {(w.kind, w.name): w for w in snap.pending_work}
    assert len([w for w in snap.pending_work if w.name == "wants_nobody_has"]) == 2
    task = by_name[("task", "wants_nobody_has")]
    assert task.state == "PENDING_NODE_ASSIGNMENT" and task.bundles == [{"CPU": 1.0, "nobody_has": 1.0}]
    queued = by_name[("task", "waits_for_cpu")]
    assert queued.bundles == [{"CPU": 1.0}]
    actor = by_name[("actor", "TooBig")]
    assert actor.state == "PENDING_CREATION" and actor.bundles == [{"CPU": 4.0}]
    assert "creation task" in actor.since  # the actor's age comes from its creation task
    group = by_name[("placement group", "too-big-group")]
    # the GCS's own verdict: 2.60 calls a bundle bigger than every node INFEASIBLE, 2.49 NO_RESOURCES
    assert group.bundles == [{"CPU": 8.0}] and group.scheduling_state == gcs_verdict(snap)
    # nothing else is pending: the running hold_cpu task and the creation task are not listed twice
    assert len(snap.pending_work) == 5
    for w in snap.pending_work:
        # waited since the driver submitted it: at least WAIT, and less than the test has run
        assert w.waited_s is not None and WAIT - 1.0 <= w.waited_s < 300, (w, snap.gaps)


def test_small_threshold_reports_them_default_does_not(snap):
    snap.pending_after_s = None
    [r] = [r for r in run_checks(snap) if r.id == "long-pending-work"]
    assert r.status == "ok" and f"none longer than {int(PENDING_AFTER_S) // 60}m00s" in r.value
    snap.pending_after_s = THRESHOLD
    [r] = [r for r in run_checks(snap) if r.id == "long-pending-work"]
    assert r.status == "warn", r
    assert r.value.startswith("3 tasks, 1 actor, 1 placement group pending longer than 1s")
    text = "\n".join(r.evidence)
    assert "2× task wants_nobody_has {'CPU': 1, 'nobody_has': 1}" in text
    assert "1× actor TooBig {'CPU': 4}" in text and "1× placement group too-big-group [{'CPU': 8}]" in text
    assert f"GCS scheduling state {gcs_verdict(snap)}" in text
    lines = {ln.split(" {")[0].split(" [")[0]: ln for ln in r.evidence}
    assert "no node has this shape" in lines["2× task wants_nobody_has"]
    assert "no node has this shape" not in lines["1× task waits_for_cpu"]  # fits, waits for the CPU
    assert r.entries == [
        "infeasible-task-warning",
        "placement-group-pending",
        "tasks-pending-idle-cpus",
        "fail-fast-unschedulable",
    ]
    assert "ray list placement-groups --filter state=PENDING --detail" in r.command


def test_json_contract(cluster):
    runner = CliRunner()
    res = runner.invoke(
        app, ["diagnose", "--address", cluster.address, "--json", "--local-only", "--no-logs", "--pending-after", "1"]
    )
    assert res.exit_code == 0, res.output  # a warning, not a failure
    data = json.loads(res.stdout)
    pending = data["pending"]
    assert pending["after_s"] == 1.0 and pending["count"] == 5
    item = next(i for i in pending["items"] if i["kind"] == "placement group")
    assert set(item) == {
        "kind",
        "id",
        "name",
        "state",
        "bundles",
        "waited_s",
        "since",
        "job_id",
        "scheduling_state",
        "placement_group_id",
    }
    assert item["bundles"] == [{"CPU": 8.0}] and item["waited_s"] >= 1.0
    assert [i["waited_s"] for i in pending["items"]] == sorted((i["waited_s"] for i in pending["items"]), reverse=True)
    check = {c["id"]: c for c in data["checks"]}["long-pending-work"]
    assert check["status"] == "warn" and check["threshold"] == "nothing pending longer than 1s (--pending-after)"


# Each pending listing has its own budget, after the core listings (dead workers, objects, finished
# tasks) that share theirs: a budget under the state API's one-second minimum is used up before
# the listing starts, so it is skipped and says so, and the other group is listed all the same.


def test_pending_listings_are_listed_when_the_core_listings_budget_is_used_up(cluster):
    from raybot.diagnose.collect.state_api import CORE_LISTINGS, PENDING_LISTINGS, SKIPPED, state_api_reads

    out = state_api_reads(cluster.dashboard_url, 0.4, pending_timeout=10)  # core: 0.8 s for all three
    for name in CORE_LISTINGS:
        assert out[name][0] is None and out[name][1].startswith(SKIPPED), out[name]
    for name in PENDING_LISTINGS:
        assert out[name][1] is None, out[name]
    rows, _ = out["pending-tasks"][0]
    assert sum(1 for t in rows if t.name == "wants_nobody_has") == 2


def test_a_used_up_pending_budget_skips_only_the_pending_listings_and_says_so(cluster):
    snap = collect_snapshot(cluster.address, timeout=10, local_only=True, scan_logs=False, pending_timeout=0.5)
    assert snap.dead_workers is not None and snap.objects is not None  # the core listings ran
    assert snap.pending_work is None and snap.pending_unlisted == ["tasks", "actors", "placement groups"]
    notes = [n for n in snap.notes if n.startswith("state API:")]
    assert len(notes) == 3 and all("skipped: deadline (its own budget of 0.5s was used up)" in n for n in notes)
    assert {g.source for g in snap.gaps if "skipped: deadline" in g.reason} == {
        "pending-tasks",
        "pending-actors",
        "pending-placement-groups",
    }
    [r] = [r for r in run_checks(snap) if r.id == "long-pending-work"]
    assert r.status == "error" and r.value == "pending tasks, actors and placement groups not listed"
    assert any("skipped: deadline" in ev for ev in r.evidence)


def test_pending_timeout_flag_reaches_the_listings(cluster):
    # The same budget from the command line: the core listings run, the pending ones are skipped,
    # and the check says it could not look ("error", which is not a failed check: exit code 0),
    # never "ok".
    res = CliRunner().invoke(
        app,
        ["diagnose", "--address", cluster.address, "--json", "--local-only", "--no-logs", "--pending-timeout", "0.5"],
    )
    data = json.loads(res.stdout)
    check = {c["id"]: c for c in data["checks"]}["long-pending-work"]
    assert check["status"] == "error", check
    assert check["value"] == "pending tasks, actors and placement groups not listed"
    assert res.exit_code == 0, res.output
