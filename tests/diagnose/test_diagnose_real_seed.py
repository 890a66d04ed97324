"""A real cluster configured like the seed user's: ``"kill_idle_workers_interval_ms": 0``.

A driver runs six 0.5-CPU tasks and one task that leaves 600 MiB in a module-level cache, then
exits. With the reaper off, every worker stays: more idle workers than the soft limit (2 CPUs),
one of them holding memory, all of them belonging to a finished job.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import raycluster
from diagkit import MiB
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.checks import run_checks
from raybot.diagnose.collect import collect_snapshot
from raybot.diagnose.collect.status_text import parse_status_text
from raybot.diagnose.report import Diagnosis

pytestmark = pytest.mark.ray

SEED_CONFIG = {"kill_idle_workers_interval_ms": 0}
WORKLOAD = """
import os, ray
ray.init(address=ADDRESS, logging_level="ERROR")

@ray.remote(num_cpus=0.5)
def step(i):
    import time
    time.sleep(0.5)
    return os.getpid()

@ray.remote(num_cpus=0.5)
def hold_memory():
    import builtins
    import numpy as np
    builtins._raybot_test_cache = np.ones(600 * 1024 * 1024 // 8)  # 600 MiB, touched
    return os.getpid()

pids = set(ray.get([step.remote(i) for i in range(6)]))
holder = ray.get(hold_memory.remote())
print("WORKERS", len(pids), "HOLDER", holder, flush=True)
"""
GRACE = 6.0  # the over-soft-limit check wants workers idle for > 5 s


@pytest.fixture(scope="module")
def seed():
    cluster = raycluster.start_head(num_cpus=2, system_config=SEED_CONFIG)
    try:
        out = cluster.run_script(WORKLOAD)
        holder = int(out.split("HOLDER")[1].split()[0])
        cluster.workload_done = time.monotonic()  # type: ignore[attr-defined]
        cluster.holder = holder  # type: ignore[attr-defined]
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def diagnosis(seed):
    time.sleep(max(0.0, seed.workload_done + GRACE - time.monotonic()))
    snap = collect_snapshot(seed.address, timeout=10, local_only=False)
    return Diagnosis(snapshot=snap, results=run_checks(snap))


def by_id(d: Diagnosis):
    return {r.id: r for r in d.results}


def test_snapshot_facts(seed, diagnosis):
    snap = diagnosis.snapshot
    assert snap.ray_version == "2.60.0"
    assert snap.system_config["kill_idle_workers_interval_ms"] == 0
    assert snap.system_config_source.startswith("GCS")
    [head] = snap.alive_nodes
    assert head.is_head and head.cpus_total == 2 and head.process_source == "local"
    idle = head.idle_workers
    assert len(idle) >= 3  # prestarted + task workers, none reaped
    assert all(p.job_id for p in idle if p.last_task)
    holder = next(p for p in idle if p.pid == seed.holder)
    assert holder.private_bytes > 550 * MiB and holder.last_task == "hold_memory"
    assert head.raylet_env is not None and head.debug_state is not None
    assert snap.jobs and all(j.is_dead for j in snap.jobs)


def test_names_the_problem_shows_evidence_and_fix(seed, diagnosis):
    r = by_id(diagnosis)
    reaping = r["reaping-disabled"]
    assert reaping.status == "fail"
    assert reaping.value == "kill_idle_workers_interval_ms=0 (system config)"
    assert any("belong to finished job" in e for e in reaping.evidence)
    assert f"ray start --head --port={seed.port} --num-cpus=2" in reaping.fix
    assert "--system-config" not in reaping.fix  # nothing else was set: drop the flag
    assert "kill-idle-workers-interval-ms" in reaping.entries

    over = r["idle-workers-over-soft-limit"]
    assert over.status == "warn" and "reaper is off" in over.why

    mem = r["idle-worker-memory"]
    assert mem.status == "warn" and f"pid {seed.holder}" in mem.value
    assert "hold_memory" in mem.fix and "max_calls" in mem.fix
    assert '"num_workers_soft_limit": 1' in mem.fix  # half of this node's 2 CPUs

    assert r["idle-workers-holding-references"].status == "error"  # not observable with reaping off
    assert r["slow-cleanup-settings"].status == "ok"
    assert r["recent-oom-kills"].status == "ok"
    assert diagnosis.exit_code == 1


def test_json_contract_and_thread_summary(diagnosis):
    data = json.loads(json.dumps(diagnosis.to_dict()))
    assert data["ray_version"] == "2.60.0" and data["nodes"][0]["idle_workers"] >= 3
    ids = [c["id"] for c in data["checks"]]
    assert "reaping-disabled" in ids and len(ids) == len(set(ids))
    md = diagnosis.summary_markdown()
    assert "kill_idle_workers_interval_ms=0" in md and "kb: kill-idle-workers-interval-ms" in md


def test_system_config_falls_back_to_the_gcs_command_line(seed, monkeypatch):
    from raybot.diagnose import collect as collect_mod

    def broken(address):
        raise RuntimeError("GCS accessor unavailable")

    monkeypatch.setattr(collect_mod, "read_system_config", broken)
    snap = collect_snapshot(seed.address, timeout=10, local_only=True)
    assert snap.system_config["kill_idle_workers_interval_ms"] == 0
    assert snap.system_config_source == "gcs_server command line (--config_list)"
    [r] = [x for x in run_checks(snap) if x.id == "reaping-disabled"]
    assert r.status == "fail"


def test_command_json_and_human(seed, diagnosis):
    runner = CliRunner()
    res = runner.invoke(app, ["diagnose", "--address", seed.address, "--json"])
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert {c["id"]: c["status"] for c in data["checks"]}["reaping-disabled"] == "fail"
    res = runner.invoke(app, ["diagnose", "--address", seed.address])
    assert res.exit_code == 1
    assert "FAIL" in res.stdout and "Idle-worker reaping" in res.stdout
    assert f"ray start --head --port={seed.port}" in res.stdout
    assert "Inspecting" in res.stderr and "raybot ask -c" in res.stderr


def test_live_ray_status_output_parses(seed):
    for extra in ([], ["-v"]):
        cmd = [raycluster.RAY, "status", "--address", seed.address, *extra]
        out = subprocess.run(cmd, env=seed.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        st = parse_status_text(out.stdout)
        assert "Pending Demands:" in st.labels and "From request_resources:" in st.labels
        assert st.usage["CPU"][1] == 2.0
        if extra:
            assert st.nodes and st.nodes[0].usage["CPU"][1] == 2.0


def test_diagnosis_starts_a_thread_that_ask_continues(seed, diagnosis):
    runner = CliRunner()
    res = runner.invoke(app, ["diagnose", "--address", seed.address, "--json"])
    thread_id = json.loads(res.stdout)["thread_id"]
    assert thread_id
    why = runner.invoke(app, ["ask", "--json", "-c", "why?"])
    assert why.exit_code == 0, why.output
    answer = json.loads(why.stdout)
    assert answer["thread_id"] == thread_id
    assert answer["entries"][0] == "kill-idle-workers-interval-ms", answer["entries"]
    assert answer["intent"] == "section" and answer["in_scope"]
    assert "disabled" in answer["answer"].lower() or "0" in answer["answer"]
    turns = json.loads(runner.invoke(app, ["threads", "show", "--json", thread_id]).stdout)["turns"]
    assert [t["intent"] for t in turns] == ["diagnose", "section"]
    assert "reaping" in turns[0]["answer"].lower()
    assert turns[0]["question"] == f"raybot diagnose (live cluster {seed.address})"
