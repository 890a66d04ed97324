"""A real cluster with Ray's default idle-worker settings and a worker that holds a reference.

The driver runs a task that ``ray.put``s an object and returns the ref nested in a list (so the
task's worker owns it and the driver borrows it), then starts an actor that takes both CPUs. The
soft limit drops to floor(available CPUs) = 0, the reaper asks every idle worker to exit: the
others go, the owner refuses ("Worker is not idle: reference counter ...") and stays.
"""

from __future__ import annotations

import glob
import time

import pytest
import raycluster

from raybot.diagnose.checks import run_checks
from raybot.diagnose.collect import collect_snapshot
from raybot.diagnose.report import Diagnosis

pytestmark = pytest.mark.ray

DRIVER = """
import os, time, ray
ray.init(address=ADDRESS, logging_level="ERROR")

@ray.remote(num_cpus=0.5)
def make():
    return [ray.put(b"x" * (5 * 1024 * 1024))], os.getpid()

@ray.remote(num_cpus=2)
class Hog:
    def ping(self):
        return os.getpid()

refs, owner = ray.get(make.remote())
hog = Hog.remote()
ray.get(hog.ping.remote())
print("OWNER", owner, flush=True)
print("READY", flush=True)
time.sleep(3600)
"""


@pytest.fixture(scope="module")
def cluster():
    c = raycluster.start_head(num_cpus=2)
    try:
        driver = c.run_driver(DRIVER)
        owner_line = next(ln for ln in driver.output if ln.startswith("OWNER"))
        c.owner = int(owner_line.split()[1])  # type: ignore[attr-defined]
        c.ready_at = time.monotonic()  # type: ignore[attr-defined]
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def diagnosis(cluster):
    logs = str(cluster.session_dir() / "logs" / f"python-core-worker-*_{cluster.owner}.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = "".join(open(f, errors="replace").read() for f in glob.glob(logs))
        if "Worker is not idle" in text:
            break
        time.sleep(0.5)
    time.sleep(max(0.0, cluster.ready_at + 6.0 - time.monotonic()))
    snap = collect_snapshot(cluster.address, timeout=10, local_only=False)
    return Diagnosis(snapshot=snap, results=run_checks(snap))


def by_id(d):
    return {r.id: r for r in d.results}


def test_worker_holding_a_reference_is_found(cluster, diagnosis):
    r = by_id(diagnosis)
    refs = r["idle-workers-holding-references"]
    assert refs.status == "warn", refs
    assert f"pid {cluster.owner}" in refs.evidence[0] and "Worker is not idle" in refs.evidence[0]
    assert "ray memory" in refs.command and "ray-memory-command" in refs.entries
    over = r["idle-workers-over-soft-limit"]
    assert over.status == "warn" and "> 0" in over.value  # the actor took both CPUs
    assert r["ref-creation-sites"].status == "warn"  # the driver holds refs, call sites off
    assert r["reaping-disabled"].status == "ok" and "200 (default)" in r["reaping-disabled"].value
    assert diagnosis.exit_code == 0


def test_default_reaper_removed_every_other_idle_worker(cluster, diagnosis):
    """Ray 2.60's defaults (interval 200 ms, threshold 1000 ms, limit = available CPUs) at work."""
    [head] = diagnosis.snapshot.alive_nodes
    assert [p.pid for p in head.idle_workers] == [cluster.owner]
    assert head.cpus_used == 2.0
    assert any(p.title == "ray::Hog" and p.kind == "active" for p in head.processes)


def test_local_only_on_a_single_node_cluster_sees_everything(cluster):
    snap = collect_snapshot(cluster.address, timeout=10, local_only=True)
    assert snap.alive_nodes[0].process_source == "local"
    assert not [g for g in snap.gaps if g.source.startswith("processes")]


def test_explicit_address_wins_over_ray_address_env(cluster, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    snap = collect_snapshot(cluster.address, timeout=10, local_only=True)
    assert snap.dead_workers is not None and not snap.gap("state-api")


def test_a_hung_state_api_cannot_hang_raybot(cluster, monkeypatch):
    from raybot.diagnose import collect as collect_mod

    def hang(url, timeout, **kw):
        time.sleep(120)

    monkeypatch.setattr(collect_mod, "state_api_reads", hang)
    started = time.monotonic()
    snap = collect_snapshot(cluster.address, timeout=1.0, local_only=True)
    # the state API's budget: 2 s for the core listings, 1 s for each of the 3 pending ones, 1 s slack
    assert time.monotonic() - started < 11
    gap = snap.gap("state-api")
    assert gap is not None and "timed out" in gap.reason
    r = {x.id: x for x in run_checks(snap)}
    assert r["recent-oom-kills"].status == "error"
    assert r["data-completeness"].status == "error"
    assert r["reaping-disabled"].status == "ok"  # what was collected is still checked


def test_probe_task_on_a_single_node(cluster):
    snap = collect_snapshot(cluster.address, timeout=20, local_only=False, probe_all_nodes=True)
    [head] = snap.alive_nodes
    assert head.process_source == "probe", snap.gaps
    assert cluster.owner in [p.pid for p in head.idle_workers]
    assert not any("raybot_diagnose_probe" in p.title for p in head.processes)
    assert any("NodeAffinitySchedulingStrategy" in n for n in snap.notes)
