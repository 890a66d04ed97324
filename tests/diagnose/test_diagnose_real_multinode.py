"""Two nodes on one machine: a head with 2 CPUs and a second ``ray start --address`` with 1 CPU.

A long-lived driver runs tasks pinned to the second node, so that node has an idle worker of a
live job. Process facts are gathered three ways: the local process table (both raylets run here),
a zero-CPU probe task pinned to each node, and not at all (``--local-only`` with probing forced,
so nothing is inspected): the last must give "could not check", never "ok".
"""

from __future__ import annotations

import time

import pytest
import raycluster

from raybot.diagnose.checks import run_checks
from raybot.diagnose.collect import collect_snapshot
from raybot.diagnose.procscan import scan_ray_processes
from raybot.diagnose.report import Diagnosis

pytestmark = pytest.mark.ray

DRIVER = """
import os, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init(address=ADDRESS, logging_level="ERROR")
other = [n["NodeID"] for n in ray.nodes()
         if n["Alive"] and not n["Resources"].get("node:__internal_head__")][0]

@ray.remote(num_cpus=0.25)
def where():
    time.sleep(0.2)
    return os.getpid()

pin = NodeAffinitySchedulingStrategy(node_id=other, soft=False)
pids = ray.get([where.options(scheduling_strategy=pin).remote() for _ in range(2)])
print("OTHER", other, "JOB", ray.get_runtime_context().get_job_id(), flush=True)
print("READY", flush=True)
time.sleep(3600)
"""


@pytest.fixture(scope="module")
def two_nodes():
    c = raycluster.start_head(num_cpus=2)
    try:
        c.add_node(num_cpus=1)
        driver = c.run_driver(DRIVER)
        line = next(ln for ln in driver.output if ln.startswith("OTHER")).split()
        c.other, c.job = line[1], line[3]  # type: ignore[attr-defined]
        yield c
    finally:
        c.stop()


def idle_on(node_id: str) -> list[int]:
    scan = scan_ray_processes([node_id], cpu_sample_s=0)
    return sorted(p["pid"] for r in scan["raylets"] for p in r["processes"] if p["kind"] == "idle")


def test_both_nodes_from_the_local_process_table(two_nodes):
    snap = collect_snapshot(two_nodes.address, timeout=10, local_only=False)
    assert len(snap.alive_nodes) == 2
    head, other = snap.alive_nodes
    assert head.is_head and head.cpus_total == 2 and other.cpus_total == 1
    assert {n.process_source for n in snap.alive_nodes} == {"local"}
    assert other.node_id == two_nodes.other
    assert any(p.job_id == two_nodes.job for p in other.idle_workers)
    assert not any("NodeAffinitySchedulingStrategy" in n for n in snap.notes)
    assert sum(snap.autoscaler.active_nodes.values()) == 2
    assert sorted(snap.logs.nodes) == sorted(n.label for n in snap.alive_nodes)  # each node's own logs
    assert snap.logs.files_read >= 4
    results = {r.id: r for r in run_checks(snap)}
    assert results["data-completeness"].status in ("ok", "error")
    assert results["idle-workers-over-soft-limit"].status in ("ok", "info")


def test_probe_tasks_pinned_to_each_node(two_nodes):
    before = idle_on(two_nodes.other)
    snap = collect_snapshot(two_nodes.address, timeout=20, local_only=False, probe_all_nodes=True)
    assert {n.process_source for n in snap.alive_nodes} == {"probe"}, snap.gaps
    assert any("zero-CPU task pinned to each node" in n and "NodeAffinitySchedulingStrategy" in n for n in snap.notes)
    other = snap.node(two_nodes.other)
    assert any(p.job_id == two_nodes.job for p in other.idle_workers)
    assert other.raylet_env is not None
    # On Ray 2.49 the two nodes share one logs folder (--temp-dir is ignored on a non-head node)
    # and so one debug_state.txt: it is given only to the raylet that wrote it last.
    assert other.debug_state is not None or any(
        note.startswith(f"{other.label}: logs/debug_state.txt was last written by node") for note in snap.notes
    ), snap.notes
    # the probe also scanned each node's logs, and shipped the result back
    assert sorted(snap.logs.nodes) == sorted(n.label for n in snap.alive_nodes), snap.gaps
    assert not [g for g in snap.gaps if g.source.startswith("logs:")]
    for n in snap.alive_nodes:
        assert not any("raybot_diagnose_probe" in p.title for p in n.processes)
    # the probe workers exit after their one call (max_calls=1): no new idle worker is left behind
    deadline = time.monotonic() + 10
    while not set(idle_on(two_nodes.other)) <= set(before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(idle_on(two_nodes.other)) <= set(before)


def test_nothing_inspected_is_could_not_check_never_ok(two_nodes):
    snap = collect_snapshot(two_nodes.address, timeout=10, local_only=True, probe_all_nodes=True)
    assert all(n.processes is None for n in snap.alive_nodes)
    assert len([g for g in snap.gaps if g.source.startswith("processes:")]) == 2
    d = Diagnosis(snapshot=snap, results=run_checks(snap))
    r = {x.id: x for x in d.results}
    for cid in (
        "idle-workers-over-soft-limit",
        "idle-worker-memory",
        "idle-workers-holding-references",
        "idle-worker-cpu",
        "data-completeness",
    ):
        assert r[cid].status == "error", (cid, r[cid])
    assert r["reaping-disabled"].status == "ok"  # the system config comes from the GCS
    assert r["worker-registration"].status == "error"  # no node's logs were read
    assert any("--local-only" in g.reason for g in snap.gaps if g.source.startswith("logs:"))
    assert "--local-only" in " ".join(r["data-completeness"].evidence)
    assert d.exit_code == 0
