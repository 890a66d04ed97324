"""The state API (served by the dashboard): dead workers with their exit detail, objects with
their reference types, finished tasks (when each worker last finished one).
"""

from __future__ import annotations

from raybot.diagnose.collect.calls import describe_error
from raybot.diagnose.model import ClusterSnapshot, Gap, ObjectRecord, WorkerRecord

DASHBOARD_HINT = (
    "start the head with `--include-dashboard=true` (needs `pip install "
    "'ray[default]'`); `ray status` and `ray memory` work without it"
)


def state_api_reads(url: str, timeout: float) -> dict:
    """Dead workers, objects and finished tasks from the dashboard's state API."""
    import logging
    import os
    import warnings

    from ray.util.state.api import StateApiClient
    from ray.util.state.common import ListApiOptions, StateResource

    # StateApiClient prefers RAY_API_SERVER_ADDRESS / RAY_ADDRESS from the environment over its
    # argument; pin it to the dashboard of the cluster we were asked about.
    saved = os.environ.get("RAY_API_SERVER_ADDRESS")
    os.environ["RAY_API_SERVER_ADDRESS"] = url
    try:
        client = StateApiClient(address=url)
    finally:
        if saved is None:
            os.environ.pop("RAY_API_SERVER_ADDRESS", None)
        else:
            os.environ["RAY_API_SERVER_ADDRESS"] = saved
    logging.getLogger("ray.util.state.api").setLevel(logging.WARNING)
    secs = max(int(timeout + 0.999), 1)
    queries = {
        "dead-workers": (
            StateResource.WORKERS,
            ListApiOptions(limit=10000, timeout=secs, detail=True, filters=[("is_alive", "=", "False")]),
        ),
        "objects": (StateResource.OBJECTS, ListApiOptions(limit=10000, timeout=secs)),
        "tasks": (
            StateResource.TASKS,
            ListApiOptions(limit=2000, timeout=secs, detail=True, filters=[("state", "=", "FINISHED")]),
        ),
    }

    # One thread, one after the other: warnings.catch_warnings is not thread-safe, and each
    # listing takes milliseconds once the dashboard is up.
    out: dict[str, tuple] = {}
    for name, (resource, options) in queries.items():
        down = next((err for _, err in out.values() if err and "ServerUnavailable" in err), None)
        if down:  # the dashboard does not answer: do not wait for it three times
            out[name] = (None, down)
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rows = client.list(resource, options=options, raise_on_missing_output=False, _explain=True)
            out[name] = ((rows, [str(w.message) for w in caught]), None)
        except Exception as exc:  # noqa: BLE001 - recorded as a gap
            out[name] = (None, describe_error(exc))
    return out


def apply_state(snap: ClusterSnapshot, st: dict, url: str = "") -> dict[str, float]:
    """Attach the state API results; returns worker id -> when it last finished a task (ms)."""
    errors = [err for _, err in st.values()]
    if all(err and "ServerUnavailable" in err for err in errors):
        snap.gaps.append(
            Gap(
                "state-api",
                f"the dashboard at {url} does not answer, so the state API (`ray list`, `ray summary`) is unavailable",
                DASHBOARD_HINT,
            )
        )
        return {}

    def listed(name: str, what: str):
        value, err = st[name]
        if err is not None:
            snap.gaps.append(Gap(name, f"{what} failed: {err}"))
            return None
        rows, warnings_ = value
        for w in warnings_:
            if "Callsite is not being recorded" in w:
                continue  # a configuration fact, checked by ref-creation-sites
            snap.gaps.append(Gap(name, w.strip().splitlines()[0][:300]))
        return rows

    rows = listed("dead-workers", "list_workers")
    if rows is not None:
        snap.dead_workers = [
            WorkerRecord(
                worker_id=w.worker_id,
                node_id=w.node_id,
                pid=w.pid,
                is_alive=bool(w.is_alive),
                worker_type=w.worker_type,
                exit_type=w.exit_type,
                exit_detail=w.exit_detail,
                end_time_ms=w.end_time_ms or None,
            )
            for w in rows
        ]
    rows = listed("objects", "list_objects")
    if rows is not None:
        snap.objects = [
            ObjectRecord(
                object_id=o.object_id,
                pid=o.pid,
                ip=o.ip,
                reference_type=o.reference_type,
                size_bytes=o.object_size,
                call_site=o.call_site,
                holder_type=o.type,
            )
            for o in rows
        ]
    last_end: dict[str, float] = {}
    for t in listed("tasks", "list_tasks") or []:
        if t.worker_id and t.end_time_ms:
            last_end[t.worker_id] = max(last_end.get(t.worker_id, 0.0), float(t.end_time_ms))
    return last_end


def estimate_idle_times(snap: ClusterSnapshot, task_end_ms: dict[str, float]) -> None:
    """Estimate how long each idle worker has been idle, from the best source available."""
    dead_jobs = {j.job_id: j.end_time_ms for j in snap.jobs or [] if j.is_dead and j.end_time_ms}
    for node in snap.nodes:
        for p in node.processes or []:
            if p.kind != "idle":
                continue
            if p.worker_id and p.worker_id in task_end_ms:
                p.idle_for_s = max(snap.collected_at - task_end_ms[p.worker_id] / 1000.0, 0.0)
                p.idle_for_basis = "since its last task finished (state API)"
            elif p.job_id in dead_jobs:
                p.idle_for_s = max(snap.collected_at - dead_jobs[p.job_id] / 1000.0, 0.0)
                p.idle_for_basis = f"at least: its job {p.job_id} finished then"
            elif p.last_task is None and p.age_s is not None:
                p.idle_for_s = p.age_s
                p.idle_for_basis = "never ran a task (process age)"
            elif p.last_task_start_age_s is not None:
                p.idle_for_s = p.last_task_start_age_s
                p.idle_for_basis = "at most: since its last task started (log file time)"
