"""The long-pending-work check and its collection, on hand-made snapshots and state API rows."""

from __future__ import annotations

import re

from diagkit import node, result, snap
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.checks.pending import PENDING_AFTER_S
from raybot.diagnose.collect.autoscaler import autoscaler_from_v1
from raybot.diagnose.collect.state_api import apply_pending
from raybot.diagnose.model import ClusterSnapshot, Gap, PendingWork
from raybot.diagnose.report import Diagnosis


def work(kind="task", name="f", bundles=({"CPU": 1.0},), waited=600.0, **kw) -> PendingWork:
    return PendingWork(
        kind=kind,
        id=f"id-{name}",
        name=name,
        state={"task": "PENDING_NODE_ASSIGNMENT", "actor": "PENDING_CREATION"}.get(kind, "PENDING"),
        bundles=[dict(b) for b in bundles],
        waited_s=waited,
        since="since it entered PENDING_NODE_ASSIGNMENT (task events)" if waited is not None else None,
        **kw,
    )


def test_nothing_pending_is_ok():
    r = result("long-pending-work", snap(pending_work=[]))
    assert r.status == "ok" and r.value == "nothing waiting to be scheduled"
    assert "(raybot's default; --pending-after)" in r.threshold


def test_pending_briefly_is_ok_and_past_the_threshold_warns():
    s = snap(node(cpus=2), pending_work=[work(waited=30.0), work("actor", "A", ({"CPU": 4.0},), waited=20.0)])
    r = result("long-pending-work", s)
    assert r.status == "ok" and r.value == "1 task, 1 actor pending, none longer than 5m00s"
    s.pending_after_s = 10.0
    r = result("long-pending-work", s)
    assert r.status == "warn" and r.value == "1 task, 1 actor pending longer than 10s"
    assert r.threshold == "nothing pending longer than 10s (--pending-after)"
    actor = next(e for e in r.evidence if "actor A" in e)
    assert "no node has this shape" in actor  # 4 CPUs on a 2-CPU node
    assert "no node has this shape" not in next(e for e in r.evidence if "task f" in e)
    assert r.entries == ["infeasible-task-warning", "tasks-pending-idle-cpus", "fail-fast-unschedulable"]
    assert "ray list actors --filter state=PENDING_CREATION --detail" in r.command
    assert "placement-groups" not in r.command


def test_groups_by_shape_oldest_first_and_names_the_gcs_state():
    s = snap(
        node(cpus=2),
        pending_work=[
            work(waited=400.0),
            work(waited=900.0),
            work(
                "placement group",
                "pg",
                ({"CPU": 1.0}, {"CPU": 1.0}),
                waited=1200.0,
                scheduling_state="NO_RESOURCES",
            ),
        ],
    )
    r = result("long-pending-work", s)
    assert r.status == "warn"
    assert r.evidence[0].startswith("1× placement group pg [{'CPU': 1}, {'CPU': 1}], waiting 20m00s")
    assert "GCS scheduling state NO_RESOURCES" in r.evidence[0]
    assert r.evidence[1].startswith("2× task f {'CPU': 1}, waiting 15m00s (oldest;")
    assert "placement-group-pending" in r.entries and "infeasible-task-warning" not in r.entries


def test_work_without_a_timestamp_is_never_called_long():
    s = snap(pending_work=[work(waited=None)], pending_after_s=0.0)
    r = result("long-pending-work", s)
    assert r.status == "ok" and "1 without a timestamp in the state API (age unknown)" in r.evidence


def test_a_cut_listing_is_said():
    s = snap(pending_work=[work(waited=5.0)])
    s.gaps.append(Gap("pending-tasks", "The returned data may contain incomplete result. 1000 (limit) < 1500 (total)"))
    r = result("long-pending-work", s)
    assert any(e.startswith("pending-tasks: The returned data may contain incomplete result") for e in r.evidence)


def test_could_not_check_without_the_state_api_a_paste_or_a_logs_folder():
    s = snap(pending_work=None)
    s.gaps.append(Gap("state-api", "the dashboard does not answer", "start the dashboard"))
    r = result("long-pending-work", s)
    assert r.status == "error" and r.value == "pending tasks, actors and placement groups not listed"
    assert r.evidence == ["state-api: the dashboard does not answer"] and r.fix == "start the dashboard"
    for origin in ("status-text", "logs"):
        r = result("long-pending-work", ClusterSnapshot(address=None, origin=origin))
        assert r.status == "error", origin


def _task(name, state_ms, kind="NORMAL_TASK", actor_id=None, resources=None):
    return {
        "task_id": f"t-{name}",
        "name": name,
        "func_or_class_name": name,
        "type": kind,
        "actor_id": actor_id,
        "job_id": "01000000",
        "required_resources": resources or {"CPU": 1.0},
        "creation_time_ms": state_ms - 5,
        "events": [
            {"state": "PENDING_ARGS_AVAIL", "created_ms": float(state_ms - 5)},
            {"state": "PENDING_NODE_ASSIGNMENT", "created_ms": float(state_ms)},
        ],
        "placement_group_id": None,
    }


def test_apply_pending_ages_each_kind_from_its_own_timestamp():
    s = ClusterSnapshot(address=None, collected_at=1_000_000.0)
    now_ms = 1_000_000_000.0
    tasks = [
        _task("f", now_ms - 90_000),
        _task("A.__init__", now_ms - 30_000, "ACTOR_CREATION_TASK", "aa", {"CPU": 4.0}),
        _task("B.__init__", now_ms - 10_000, "ACTOR_CREATION_TASK", "bb"),
    ]
    actors = [{"actor_id": "aa", "class_name": "A", "state": "PENDING_CREATION", "job_id": "01000000"}]
    actors[0]["required_resources"] = {"CPU": 4.0}
    groups = [
        {
            "placement_group_id": "pg1",
            "name": "",
            "creator_job_id": "01000000",
            "state": "PENDING",
            "bundles": [{"unit_resources": {"CPU": 8.0}, "bundle_id": {}}],
            "stats": {
                "creation_request_received_ns": str(int((now_ms - 60_000) * 1e6)),
                "scheduling_state": "INFEASIBLE",
            },
        }
    ]
    apply_pending(s, tasks, actors, groups)
    by_id = {w.id: w for w in s.pending_work}
    assert set(by_id) == {"t-f", "aa", "bb", "pg1"}  # creation tasks become their actors
    assert round(by_id["t-f"].waited_s) == 90 and by_id["t-f"].bundles == [{"CPU": 1.0}]
    assert round(by_id["aa"].waited_s) == 30 and by_id["aa"].name == "A" and "creation task" in by_id["aa"].since
    assert by_id["bb"].kind == "actor" and by_id["bb"].name == "B"  # its actor was not listed
    assert round(by_id["pg1"].waited_s) == 60 and by_id["pg1"].bundles == [{"CPU": 8.0}]
    assert by_id["pg1"].scheduling_state == "INFEASIBLE"


def test_apply_pending_keeps_the_listings_that_came_and_names_the_missing_one():
    s = ClusterSnapshot(address=None)
    apply_pending(s, [], None, [])
    assert s.pending_work == [] and s.pending_unlisted == ["actors"]
    s = ClusterSnapshot(address=None)
    apply_pending(s, None, None, None)
    assert s.pending_work is None and s.pending_unlisted == ["tasks", "actors", "placement groups"]


def test_an_unlisted_kind_is_never_ok():
    s = snap(pending_work=[work(waited=5.0)], pending_unlisted=["actors"])
    r = result("long-pending-work", s)
    assert r.status == "error" and r.value.startswith("actors not listed; 1 listed, none pending longer than")
    assert "ray list actors --filter state=PENDING_CREATION --detail" in r.fix
    s = snap(pending_work=[work(waited=600.0)], pending_unlisted=["placement groups"])
    r = result("long-pending-work", s)
    assert r.status == "warn" and r.value.endswith("(placement groups not listed)")


def test_a_pending_placement_group_demand_parses_as_ray_stores_it():
    # the monitor's pg_demand: each distinct bundle with its count (freq_of_dicts), then the strategy
    status = {
        "time": 0,
        "load_metrics_report": {"pg_demand": [[{"bundles": [[{"CPU": 8.0}, 2]], "strategy": "PACK"}, 1]]},
    }
    [d] = autoscaler_from_v1(status, v2=False).demands
    assert d.shape == "{'CPU': 8.0} * 2 (PACK)" and d.bundles == [{"CPU": 8.0}] and d.count == 1


def test_json_lists_the_pending_work_oldest_first():
    s = snap(pending_work=[work(waited=5.0), work("actor", "A", waited=50.0)], pending_after_s=1.0)
    from raybot.diagnose.checks import run_checks

    doc = Diagnosis(s, run_checks(s)).to_dict()
    assert doc["pending"]["after_s"] == 1.0 and doc["pending"]["count"] == 2
    assert [i["name"] for i in doc["pending"]["items"]] == ["A", "f"]
    assert Diagnosis(snap(pending_work=None), []).to_dict()["pending"] is None


def test_help_names_the_default():
    res = CliRunner().invoke(app, ["diagnose", "--help"], env={"COLUMNS": "200"})
    text = re.sub(r"\s+", " ", res.stdout)
    assert f"Default: {PENDING_AFTER_S:g}." in text and "RAYBOT_PENDING_AFTER_S" in text


def test_waiting_for_arguments_and_restarting_are_dated_from_their_own_sources():
    from raybot.diagnose.collect.state_api import date_restarts
    from raybot.diagnose.model import NodeFacts, ProcessInfo, WorkerRecord

    s = ClusterSnapshot(address=None, collected_at=1_000_000.0)
    now_ms = 1_000_000_000.0
    args = {
        "task_id": "t-down",
        "name": "down",
        "type": "NORMAL_TASK",
        "state": "PENDING_ARGS_AVAIL",
        "required_resources": {"CPU": 1.0},
        "events": [{"state": "PENDING_ARGS_AVAIL", "created_ms": now_ms - 40_000}],
    }
    creation = dict(args, task_id="t-init", name="Holder.__init__", type="ACTOR_CREATION_TASK", actor_id="hh")
    creation["events"] = [{"state": "PENDING_ARGS_AVAIL", "created_ms": now_ms - 20_000}]
    holder = {"actor_id": "hh", "class_name": "Holder", "state": "DEPENDENCIES_UNREADY", "pid": 0}
    old = {"actor_id": "r1", "class_name": "R", "state": "RESTARTING", "pid": 41, "node_id": "n1", "num_restarts": 2}
    new = {"actor_id": "r2", "class_name": "R", "state": "RESTARTING", "pid": 52, "node_id": "n1", "num_restarts": 1}
    s.dead_workers = [WorkerRecord(worker_id="w", node_id="n1", pid=41, is_alive=False, end_time_ms=now_ms - 7_000)]
    apply_pending(s, [args, creation], [holder, old, new], [])
    by_id = {w.id: w for w in s.pending_work}
    assert by_id["t-down"].state == "PENDING_ARGS_AVAIL" and round(by_id["t-down"].waited_s) == 40
    assert by_id["hh"].state == "DEPENDENCIES_UNREADY" and round(by_id["hh"].waited_s) == 20
    assert by_id["hh"].since == "since its creation task entered PENDING_ARGS_AVAIL (task events)"
    r1 = by_id["r1"]
    assert round(r1.waited_s) == 7 and r1.restarts == 2 and "previous process died" in r1.since
    assert by_id["r2"].waited_s is None  # the listed process is not a dead one
    node = NodeFacts(node_id="n1", alive=True)
    node.processes = [ProcessInfo(pid=52, title="ray::R", kind="active", actor_id="r2", actor_created_at=999_990.0)]
    s.nodes = [node]
    date_restarts(s)
    assert round(by_id["r2"].waited_s) == 10 and by_id["r2"].since.startswith("at least: since its new process")
    # the resource check leaves them out; the waiting check explains them
    s2 = snap(pending_work=s.pending_work, pending_after_s=5.0)
    assert result("long-pending-work", s2).value == "nothing waiting to be scheduled"
    r = result("waiting-on-arguments-or-restart", s2)
    assert r.status == "warn" and r.value == "2 waiting for an argument and 2 actors restarting for longer than 5s"
