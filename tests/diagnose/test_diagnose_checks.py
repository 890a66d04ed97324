"""Every check, on hand-built snapshots (no cluster)."""

from __future__ import annotations

import json
import sys

import pytest
from diagkit import HEAD_ID, WORKER_ID, MiB, idle, node, result, snap

from raybot.diagnose.checks import CHECKS, STATUSES, run_checks
from raybot.diagnose.checks.util import effective, soft_limit
from raybot.diagnose.model import (
    DebugState,
    Demand,
    FailedNode,
    Gap,
    JobRecord,
    ObjectRecord,
    PendingNode,
    WorkerRecord,
)
from raybot.diagnose.report import Diagnosis

SEED = {
    "kill_idle_workers_interval_ms": 0,
    "automatic_object_spilling_enabled": True,
    "object_spilling_config": '{"type": "filesystem"}',
    "is_external_storage_type_fs": True,
}


def stale_idle(n=5, **kw):
    return [idle(100 + i, **kw) for i in range(n)]


# --- registry -------------------------------------------------------------------------------


def test_registry_ids_unique_and_results_valid():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids)) >= 13
    results = run_checks(snap(node(procs=stale_idle())))
    assert [r.id for r in results] == ids
    for r in results:
        assert r.status in STATUSES and r.title
        json.dumps(r.to_dict())


def test_crashing_check_propagates_in_tests_and_is_reported_otherwise(monkeypatch):
    from raybot.diagnose.checks import base

    def boom(s):
        raise RuntimeError("kaput")

    monkeypatch.setattr(base, "CHECKS", [base.Check("boom", "Boom", boom)])
    with pytest.raises(RuntimeError):
        run_checks(snap())
    monkeypatch.setattr(sys, "_called_from_test", False, raising=False)
    [r] = run_checks(snap())
    assert r.status == "error" and "kaput" in r.value and r.id == "boom"


# --- effective settings ---------------------------------------------------------------------


def test_effective_precedence_system_config_beats_env_beats_default():
    n = node(env={"RAY_kill_idle_workers_interval_ms": "50"})
    assert effective(snap(n), "kill_idle_workers_interval_ms", n).value == 50
    s = snap(n, system_config={"kill_idle_workers_interval_ms": 0})
    assert effective(s, "kill_idle_workers_interval_ms", n).source == "system config"
    assert effective(snap(node()), "kill_idle_workers_interval_ms", node()).is_default
    assert effective(_unknown(), "kill_idle_workers_interval_ms") is None
    n = node(env={"RAY_record_ref_creation_sites": "1"})
    assert effective(snap(n), "record_ref_creation_sites", n).value is True


def _unknown():
    s = snap(node())
    s.system_config = None
    return s


def test_soft_limit_default_is_floor_of_available_cpus():
    n = node(cpus=4, used=1.5)
    assert soft_limit(snap(n), n)[0] == 2
    n = node(cpus=4, used=None)
    assert soft_limit(snap(n), n)[0] == 4
    n = node(cpus=4)
    assert soft_limit(snap(n, system_config={"num_workers_soft_limit": 1}), n)[0] == 1


# --- reaping-disabled -----------------------------------------------------------------------


def test_reaping_disabled_by_system_config_fails_with_fix_for_this_cluster():
    procs = stale_idle(5, job="01000000")
    s = snap(
        node(procs=procs, debug_idle=5),
        system_config=dict(SEED, num_workers_soft_limit=4),
        jobs=[JobRecord("01000000", True, 1)],
    )
    r = result("reaping-disabled", s)
    assert r.status == "fail"
    assert r.value == "kill_idle_workers_interval_ms=0 (system config)"
    assert any("5 ray::IDLE" in e for e in r.evidence)
    assert any("finished job" in e for e in r.evidence)
    assert any("num idle workers: 5" in e for e in r.evidence)
    # the fix keeps the user's other keys, drops the bad one and Ray's automatic ones
    expected = "--system-config='{\"num_workers_soft_limit\": 4}'"
    assert f"ray start --head --port=6379 --num-cpus=2 {expected}" in r.fix
    assert "kill_idle_workers_interval_ms" not in r.fix.split("--system-config")[1]
    assert "object_spilling_config" not in r.fix
    assert "config_list" in r.command and "debug_state.txt" in r.command
    assert "kill-idle-workers-interval-ms" in r.entries


def test_reaping_fix_on_multinode_cluster_sets_config_on_head_only():
    s = snap(node(procs=[]), node(WORKER_ID, head=False, procs=[]), system_config=SEED)
    r = result("reaping-disabled", s)
    assert "ray start --head --port=6379 --num-cpus=2\n" in r.fix + "\n"
    assert "ray stop && ray start --address=10.0.0.1:6379" in r.fix
    assert r.fix.count("--system-config") == 1 or "--system-config='" not in r.fix


def test_reaping_disabled_by_env_var_on_one_node():
    s = snap(node(), node(WORKER_ID, head=False, env={"RAY_kill_idle_workers_interval_ms": "0"}))
    r = result("reaping-disabled", s)
    assert r.status == "fail" and "RAY_kill_idle_workers_interval_ms=0 on 1 node" in r.value
    assert "unset RAY_kill_idle_workers_interval_ms" in r.fix


def test_reaping_ok_and_unknown():
    assert result("reaping-disabled", snap(node())).status == "ok"
    r = result("reaping-disabled", _unknown())
    assert r.status == "error"


# --- idle-workers-over-soft-limit -----------------------------------------------------------


def test_idle_over_soft_limit_warns_with_idle_durations():
    r = result("idle-workers-over-soft-limit", snap(node(procs=stale_idle(5), debug_idle=5)))
    assert r.status == "warn"
    assert "5 idle on aaaaaaaa > 2" in r.value
    assert any("idle 10m00s" in e for e in r.evidence)
    assert "refusing" in r.why


def test_idle_over_soft_limit_points_at_reaper_when_disabled():
    r = result("idle-workers-over-soft-limit", snap(node(procs=stale_idle(5)), system_config=SEED))
    assert r.status == "warn" and "reaper is off" in r.why


def test_idle_over_soft_limit_transient_and_within_limit():
    fresh = stale_idle(5, idle_for=1.0, age=2.0)
    r = result("idle-workers-over-soft-limit", snap(node(procs=fresh)))
    assert r.status == "info" and "transient" in r.value
    assert result("idle-workers-over-soft-limit", snap(node(procs=stale_idle(2)))).status == "ok"


def test_idle_over_soft_limit_uses_available_cpus():
    # 2 CPUs in use by an actor: the limit drops to 0, one long-idle worker is over it
    r = result("idle-workers-over-soft-limit", snap(node(used=2.0, procs=stale_idle(1))))
    assert r.status == "warn" and "1 idle on aaaaaaaa > 0" in r.value


def test_idle_over_soft_limit_could_not_check():
    r = result("idle-workers-over-soft-limit", snap(node(seen=False)))
    assert r.status == "error"
    s = snap(node(procs=stale_idle(1)), node(WORKER_ID, head=False, seen=False))
    r = result("idle-workers-over-soft-limit", s)
    assert r.status == "error" and r.value == "1 of 2 nodes checked"
    assert any("not inspected" in e for e in r.evidence)


# --- idle-worker-memory ---------------------------------------------------------------------


def test_idle_memory_warns_on_private_memory_with_computed_fix():
    procs = [idle(1, rss=700 * MiB, shared=60 * MiB, last_task="load_model"), idle(2)]
    r = result("idle-worker-memory", snap(node(cpus=8, procs=procs)))
    assert r.status == "warn"
    assert "largest 640 MiB" in r.value and "pid 1" in r.value
    assert "load_model" in r.fix and "max_calls" in r.fix
    assert '"num_workers_soft_limit": 4' in r.fix  # half of this node's 8 CPUs
    assert "RAY_num_workers_soft_limit=4" in r.fix
    assert "1 GiB" in r.fix  # Ray >= 2.56 OOM-killer note
    assert {"idle-worker-memory-rss-vs-shr", "max-calls"} <= set(r.entries)


def test_idle_memory_large_rss_but_mostly_shared_is_info():
    r = result("idle-worker-memory", snap(node(procs=[idle(1, rss=2000 * MiB, shared=1950 * MiB)])))
    assert r.status == "info" and "shared" in r.why


def test_idle_memory_ok():
    assert result("idle-worker-memory", snap(node(procs=stale_idle(3)))).status == "ok"


# --- idle-workers-holding-references --------------------------------------------------------


def test_holding_refs_from_worker_log_line():
    log = "[2026-01-01 10:00:00,000 I 1 2] core_worker.cc:1: Worker is not idle: reference counter: 1"
    s = snap(node(procs=[idle(7, not_idle_log=log, last_task="make")]))
    r = result("idle-workers-holding-references", s)
    assert r.status == "warn" and "1 idle worker(s) refuse to exit" == r.value
    assert "Worker is not idle" in r.evidence[0] and "make" in r.evidence[0]
    assert "ray memory" in r.command and "_7.log" in r.command
    assert "_owner" in r.fix  # Ray >= 2.56


def test_holding_refs_inferred_from_long_idle_above_limit():
    s = snap(
        node(used=2.0, procs=[idle(7, idle_for=300.0)]),
        objects=[ObjectRecord("00ab" * 8, 99, "10.0.0.1", "LOCAL_REFERENCE", 5 * MiB, "disabled", "DRIVER")],
    )
    r = result("idle-workers-holding-references", s)
    assert r.status == "warn" and "idle 5m00s" in r.evidence[0]
    assert any("held by drivers" in e for e in r.evidence)


def test_holding_refs_ignores_upper_bound_idle_times():
    s = snap(node(used=2.0, procs=[idle(7, idle_for=300.0, basis="at most: since its last task started")]))
    assert result("idle-workers-holding-references", s).status == "ok"


def test_holding_refs_not_observable_with_reaping_off():
    s = snap(node(procs=stale_idle(3)), system_config=SEED)
    r = result("idle-workers-holding-references", s)
    assert r.status == "error" and "not observable" in r.value


def test_holding_refs_draining_workers_outside_pool():
    n = node(procs=stale_idle(2, idle_for=5.0))
    n.debug_state = DebugState(num_idle_workers=1, age_s=2.0)
    r = result("idle-workers-holding-references", snap(n))
    assert r.status == "info" and "draining" in r.value


# --- slow-cleanup-settings ------------------------------------------------------------------


def test_slow_cleanup_seed_bot_values_warn():
    cfg = {"kill_idle_workers_interval_ms": 10000, "idle_worker_killing_time_threshold_ms": 10000}
    r = result("slow-cleanup-settings", snap(node(), system_config=cfg))
    assert r.status == "warn"
    assert "50× the default" in " ".join(r.evidence) and "10× the default" in " ".join(r.evidence)
    assert "ray start --head --port=6379 --num-cpus=2\n" in r.fix + "\n"


def test_slow_cleanup_info_and_ok_and_soft_limit_above_cpus():
    s = snap(node(), system_config={"idle_worker_killing_time_threshold_ms": 3000})
    r = result("slow-cleanup-settings", s)
    assert r.status == "info"
    r = result("slow-cleanup-settings", snap(node(), system_config={"num_workers_soft_limit": 64}))
    assert r.status == "info" and "64 idle workers" in r.evidence[0]
    assert result("slow-cleanup-settings", snap(node())).status == "ok"
    assert result("slow-cleanup-settings", _unknown()).status == "error"


# --- recent-oom-kills -----------------------------------------------------------------------


def test_oom_recent_and_old():
    now = 1_800_000_000.0
    recent = WorkerRecord(
        "w1",
        HEAD_ID,
        11,
        False,
        "WORKER",
        "NODE_OUT_OF_MEMORY",
        "Task was killed due to the node running low on memory.",
        int((now - 120) * 1000),
    )
    old = WorkerRecord(
        "w2",
        HEAD_ID,
        12,
        False,
        "WORKER",
        "SYSTEM_ERROR",
        "Memory on the node (IP: 10.0.0.1) was 7.9GB used / 8GB limit",
        int((now - 7200) * 1000),
    )
    fine = WorkerRecord(
        "w3",
        HEAD_ID,
        13,
        False,
        "WORKER",
        "INTENDED_SYSTEM_EXIT",
        "Worker exited because it was idle for a long time",
        int((now - 60) * 1000),
    )
    r = result("recent-oom-kills", snap(node(), dead_workers=[recent, old, fine], collected_at=now))
    assert r.status == "warn" and r.value == "1 in the last hour, 2 in total"
    assert "2m00s ago" in r.evidence[0]
    r = result("recent-oom-kills", snap(node(), dead_workers=[old, fine], collected_at=now))
    assert r.status == "info"
    assert result("recent-oom-kills", snap(node(), dead_workers=[fine])).status == "ok"


def test_oom_unknown_without_state_api():
    s = snap(node(), dead_workers=None, gaps=[Gap("state-api", "no dashboard", "start it")])
    r = result("recent-oom-kills", s)
    assert r.status == "error" and r.evidence == ["state-api: no dashboard"] and r.fix == "start it"


# --- ref-creation-sites ---------------------------------------------------------------------


def test_ref_sites_off_with_objects_warns():
    objs = [ObjectRecord("00" * 28, 5, "10.0.0.1", "LOCAL_REFERENCE", 5 * MiB, "disabled", "DRIVER")]
    r = result("ref-creation-sites", snap(node(), node(WORKER_ID, head=False), objects=objs))
    assert r.status == "warn" and "1 reference(s) to 5 MiB" in r.value
    assert "RAY_record_ref_creation_sites=1 ray start --head --port=6379" in r.fix
    assert "RAY_record_ref_creation_sites=1 ray start --address=10.0.0.1:6379" in r.fix


def test_ref_sites_on_or_nothing_pinned():
    n = node(env={"RAY_record_ref_creation_sites": "1"})
    assert result("ref-creation-sites", snap(n)).status == "ok"
    assert result("ref-creation-sites", snap(node(), objects=[])).status == "ok"
    assert result("ref-creation-sites", snap(node(), objects=None)).status == "info"


# --- autoscaler -----------------------------------------------------------------------------


def test_pending_infeasible_demand_warns():
    s = snap(node())
    s.autoscaler.demands = [Demand("{'GPU': 1.0}", 5, "tasks/actors", [{"GPU": 1.0}])]
    r = result("infeasible-demands", s)
    assert r.status == "warn" and "5+ request(s) no node can run" in r.value
    assert "nothing is adding nodes" in r.why
    s.autoscaler.provider = "aws"
    assert "the autoscaler is not launching one" in result("infeasible-demands", s).why


def test_pending_nodes_and_queued_demands_are_info():
    s = snap(node())
    s.autoscaler.pending = [PendingNode("m4.xlarge", "launching", count=2)]
    s.autoscaler.demands = [Demand("{'CPU': 1.0}", 10, "tasks/actors", [{"CPU": 1.0}])]
    r = result("autoscaler-pending", s)
    assert r.status == "info" and "2 pending node" in r.value
    r = result("infeasible-demands", s)
    assert r.status == "info" and "10+ queued" in r.value
    assert result("autoscaler-pending", snap(node())).status == "ok"
    assert result("infeasible-demands", snap(node())).status == "ok"
    for cid in ("autoscaler-pending", "infeasible-demands", "autoscaler-failures", "object-store", "cluster-idle"):
        r = result(cid, snap(node(), autoscaler=None))
        assert r.status == "error" and r.value == "no autoscaler report", cid


def test_failures():
    s = snap(node())
    s.autoscaler.failures = [FailedNode("gpu.medium", "1.2.3.4", "RayletUnexpectedlyDied")]
    r = result("autoscaler-failures", s)
    assert r.status == "warn" and "gpu.medium: RayletUnexpectedlyDied (ip 1.2.3.4)" in r.evidence
    assert result("autoscaler-failures", snap(node())).status == "ok"


def test_idle_nodes_autoscaled_vs_static():
    s = snap(node(), node(WORKER_ID, head=False, idle_ms=20 * 60000))
    s.autoscaler.provider, s.autoscaler.idle_timeout_minutes = "aws", 5.0
    r = result("idle-nodes", s)
    assert r.status == "warn" and "idle 20m00s" in r.evidence[0] and "ray::IDLE" in r.why
    s.autoscaler.provider = "readonly"
    assert result("idle-nodes", s).status == "info"
    # the head does not count
    assert result("idle-nodes", snap(node(idle_ms=3600_000))).status == "ok"
    assert result("idle-nodes", snap(node(idle_ms=None))).status == "error"


# --- version-pitfalls -----------------------------------------------------------------------


def test_version_pitfalls():
    r = result("version-pitfalls", snap(node(), token_auth=True, user_auth_mode=None))
    assert r.status == "info"
    text = " ".join(r.evidence)
    assert "_owner" in text and "RAY_AUTH_MODE=token" in text
    assert "ray-put-owner-argument" in r.entries
    r = result("version-pitfalls", snap(node(), client_ray_version="2.59.0"))
    assert r.status == "warn"
    old = snap(node(), ray_version="2.50.0", client_ray_version="2.50.0")
    assert result("version-pitfalls", old).status == "ok"
    assert result("version-pitfalls", snap(node(), ray_version=None)).status == "error"


# --- idle-worker-cpu ------------------------------------------------------------------------


def test_idle_cpu():
    r = result("idle-worker-cpu", snap(node(procs=[idle(9, cpu=95.0), idle(10, cpu=0.0)])))
    assert r.status == "warn" and "py-spy dump --pid 9" in r.command
    assert result("idle-worker-cpu", snap(node(procs=[idle(9, cpu=20.0)]))).status == "info"
    assert result("idle-worker-cpu", snap(node(procs=[idle(9, cpu=1.0)]))).status == "ok"


# --- data-completeness ----------------------------------------------------------------------


def test_data_completeness():
    gap = Gap("state-api", "the cluster has no dashboard", "start the head with --include-dashboard=true")
    s = snap(node(), gaps=[gap])
    r = result("data-completeness", s)
    assert r.status == "error" and "--include-dashboard" in r.fix
    assert result("data-completeness", snap(node())).status == "ok"


# --- Diagnosis ------------------------------------------------------------------------------


def seed_diagnosis() -> Diagnosis:
    heavy = idle(50, rss=800 * MiB, shared=60 * MiB, last_task="load")
    s = snap(
        node(procs=stale_idle(5) + [heavy], debug_idle=6), system_config=SEED, jobs=[JobRecord("01000000", True, 1)]
    )
    return Diagnosis(snapshot=s, results=run_checks(s))


def test_diagnosis_json_contract():
    d = seed_diagnosis()
    data = json.loads(json.dumps(d.to_dict()))
    assert {"ray_version", "address", "nodes", "checks"} <= set(data)
    assert data["ray_version"] == "2.60.0" and data["address"] == "10.0.0.1:6379"
    for c in data["checks"]:
        keys = {"id", "status", "title", "value", "threshold", "evidence", "fix", "entries"}
        assert keys <= set(c)
        assert c["status"] in STATUSES
    assert data["nodes"][0]["idle_workers"] == 6
    assert d.exit_code == 1


def test_summary_markdown_lists_findings_with_fix_and_kb():
    md = seed_diagnosis().summary_markdown()
    assert md.startswith("**raybot diagnose** of 10.0.0.1:6379, Ray 2.60.0")
    assert "Idle-worker reaping" in md and "kill_idle_workers_interval_ms=0" in md
    assert "`ray start --head --port=6379 --num-cpus=2`" in md
    assert "kb: kill-idle-workers-interval-ms" in md
    assert "CPU used by ray::IDLE" not in md  # ok checks are left out
    assert len(md) < 6000


def test_exit_code_zero_without_failures():
    s = snap(node(procs=stale_idle(1)))
    assert Diagnosis(s, run_checks(s)).exit_code == 0


def test_render_human(capsys):
    from raybot.diagnose.render import render_diagnosis

    render_diagnosis(seed_diagnosis())
    out, err = capsys.readouterr()
    assert "FAIL" in out and "Idle-worker reaping" in out and "fix:" in out
    assert "ray start --head --port=6379" in out
    assert "1 failed" in out
    assert "FAIL" not in err  # the report is data: stdout only


def test_idle_memory_without_shared_memory_figures_uses_rss():
    p = idle(1, rss=700 * MiB)
    p.shared_bytes = None  # e.g. macOS
    r = result("idle-worker-memory", snap(node(procs=[p])))
    assert r.status == "warn" and any("RSS used as private" in e for e in r.evidence)


def test_long_evidence_is_capped_in_every_check():
    log = "Worker is not idle: reference counter: ReferenceTable{size: 1}"
    procs = [idle(200 + i, rss=900 * MiB, cpu=90.0, not_idle_log=log) for i in range(12)]
    now = 1_800_000_000.0
    dead = [
        WorkerRecord(f"w{i}", HEAD_ID, i, False, "WORKER", "NODE_OUT_OF_MEMORY", "OOM", int(now * 1000))
        for i in range(12)
    ]
    s = snap(node(procs=procs), dead_workers=dead, collected_at=now)
    s.autoscaler.failures = [FailedNode(f"t{i}", None, "x") for i in range(12)]
    for r in run_checks(s):
        assert len(r.evidence) <= 12, r.id
        assert all(isinstance(e, str) for e in r.evidence)
    assert any(e.startswith("... and") for r in run_checks(s) for e in r.evidence)


def test_suggested_configs_never_carry_over_harmful_settings():
    procs = [idle(1, rss=900 * MiB)]
    cfg = {
        "kill_idle_workers_interval_ms": 0,
        "idle_worker_killing_time_threshold_ms": 60000,
        "num_workers_soft_limit": 8,
        "object_spilling_config": "{}",
    }
    r = result("idle-worker-memory", snap(node(cpus=4, procs=procs), system_config=cfg))
    assert "--system-config='{\"num_workers_soft_limit\": 2}'" in r.fix
