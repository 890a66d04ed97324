"""Builders for hand-made snapshots (unit tests of the checks)."""

from __future__ import annotations

from raybot.diagnose.model import (
    AutoscalerFacts,
    ClusterSnapshot,
    DebugState,
    NodeFacts,
    ProcessInfo,
)

MiB = 1024**2
HEAD_ID = "a" * 56
WORKER_ID = "b" * 56


def idle(
    pid: int,
    *,
    rss: int = 100 * MiB,
    shared: int = 50 * MiB,
    idle_for: float | None = 600.0,
    basis: str | None = "since its last task finished (state API)",
    job: str | None = "01000000",
    cpu: float = 0.0,
    not_idle_log: str | None = None,
    last_task: str | None = "f",
    age: float = 700.0,
    kind: str = "idle",
    title: str = "ray::IDLE",
) -> ProcessInfo:
    return ProcessInfo(
        pid=pid,
        title=title,
        kind=kind,
        rss_bytes=rss,
        shared_bytes=shared,
        cpu_percent=cpu,
        age_s=age,
        worker_id=f"w{pid}",
        job_id=job,
        last_task=last_task,
        last_task_start_age_s=idle_for,
        idle_for_s=idle_for,
        idle_for_basis=basis,
        not_idle_log=not_idle_log,
    )


def node(
    node_id: str = HEAD_ID,
    *,
    cpus: float = 2,
    used: float | None = 0.0,
    head: bool = True,
    procs: list[ProcessInfo] | None = None,
    env: dict | None = None,
    idle_ms: int | None = 0,
    seen: bool = True,
    debug_idle: int | None = None,
    ip: str = "10.0.0.1",
) -> NodeFacts:
    return NodeFacts(
        node_id=node_id,
        ip=ip,
        is_head=head,
        alive=True,
        resources_total={"CPU": float(cpus), "memory": 8.0 * 1024**3, "object_store_memory": 2.0 * 1024**3},
        cpus_used=used,
        idle_ms=idle_ms,
        process_source="local" if seen else None,
        raylet_pid=4242 if seen else None,
        session_dir="/tmp/ray/session_x" if seen else None,
        raylet_env=(env if env is not None else {"RAY_USAGE_STATS_ENABLED": "0"}) if seen else None,
        debug_state=(
            DebugState(num_idle_workers=debug_idle, age_s=3.0, path="/tmp/ray/session_x/logs/debug_state.txt")
            if debug_idle is not None
            else None
        ),
        processes=(procs if procs is not None else []) if seen else None,
    )


def snap(*nodes: NodeFacts, system_config: dict | None = None, **kw) -> ClusterSnapshot:
    s = ClusterSnapshot(
        address="10.0.0.1:6379",
        ray_version="2.60.0",
        client_ray_version="2.60.0",
        system_config={} if system_config is None else system_config,
        system_config_source="GCS",
        nodes=list(nodes) or [node()],
        autoscaler=AutoscalerFacts(source="gcs", autoscaler_version="v1"),
        jobs=[],
        dead_workers=[],
        objects=[],
        token_auth=False,
        user_auth_mode=None,
    )
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def result(check_id: str, s: ClusterSnapshot):
    from raybot.diagnose.checks import CHECKS
    from raybot.diagnose.checks.base import run_check

    for c in CHECKS:
        if c.id == check_id:
            out = run_check(c, s)
            assert len(out) == 1
            return out[0]
    raise KeyError(check_id)
