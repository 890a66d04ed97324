"""The state API (served by the dashboard): dead workers with their exit detail, objects with
their reference types, finished tasks (when each worker last finished one), and the tasks, actors
and placement groups waiting to be scheduled, with how long each has waited.

What counts as waiting to be scheduled (Ray 2.60, ``ray/_private/custom_types.py`` and the
``TaskStatus`` comments in ``src/ray/protobuf/common.proto``):

- a task in ``PENDING_NODE_ASSIGNMENT``: its arguments are ready and Ray is looking for a node and
  worker (``PENDING_OBJ_STORE_MEM_AVAIL`` and ``PENDING_ARGS_FETCH`` are sub-states of it used for
  metrics only; ``PENDING_ARGS_AVAIL`` waits for arguments, not for scheduling). Its wait is
  counted from the time it entered that state, from the task's state events (``events``);
- an actor in ``PENDING_CREATION`` (its arguments are ready, it is not created yet). The actor
  listing has no timestamp; its creation task (``ACTOR_CREATION_TASK`` with the same
  ``actor_id``) is in ``PENDING_NODE_ASSIGNMENT`` too and carries it;
- a placement group in ``PENDING``, counted from ``stats.creation_request_received_ns`` (when the
  GCS received the creation request); ``stats.scheduling_state`` says why it waits
  (``NO_RESOURCES``, ``INFEASIBLE``, ...).
"""

from __future__ import annotations

from raybot.diagnose.collect.calls import describe_error
from raybot.diagnose.model import ClusterSnapshot, Gap, ObjectRecord, PendingWork, WorkerRecord

#: at most this many of each kind of pending work are listed (Ray's listing warns when cut)
PENDING_LIMIT = 1000

DASHBOARD_HINT = (
    "start the head with `--include-dashboard=true` (needs `pip install "
    "'ray[default]'`); `ray status` and `ray memory` work without it"
)


#: the listings every check of dead workers, objects and idle times reads; run first, sharing
#: one budget
CORE_LISTINGS = ("dead-workers", "objects", "tasks")
#: the listings of work waiting to be scheduled; each has its own budget
PENDING_LISTINGS = ("pending-tasks", "pending-actors", "pending-placement-groups")
#: the states each pending listing asks for, in order (Ray 2.60 and 2.49 both have them:
#: ``ray/_private/custom_types.py`` TASK_STATUS and ACTOR_STATUS):
#: - tasks: ``PENDING_NODE_ASSIGNMENT`` (arguments ready, waiting for a node and worker) and
#:   ``PENDING_ARGS_AVAIL`` (waiting for an argument, i.e. an upstream object, to be created);
#: - actors: ``PENDING_CREATION`` (waiting to be placed), ``DEPENDENCIES_UNREADY`` (waiting for a
#:   constructor argument) and ``RESTARTING`` (its process died; Ray creates it again, max_restarts);
#: - placement groups: ``PENDING``.
PENDING_STATES = {
    "pending-tasks": ("PENDING_NODE_ASSIGNMENT", "PENDING_ARGS_AVAIL"),
    "pending-actors": ("PENDING_CREATION", "DEPENDENCIES_UNREADY", "RESTARTING"),
    "pending-placement-groups": ("PENDING",),
}
#: the prefix of the reason of a listing that was not started because its budget was used up
SKIPPED = "skipped: deadline"


def state_budgets(timeout: float, pending_timeout: float | None = None) -> tuple[float, float]:
    """``(core, per_pending)``: seconds the core listings share, seconds each pending listing has."""
    return 2.0 * timeout, timeout if pending_timeout is None else pending_timeout


def state_api_reads(url: str, timeout: float, *, pending_timeout: float | None = None, out: dict | None = None) -> dict:
    """Dead workers, objects, finished tasks and the pending work from the dashboard's state API.

    Bounded and ordered: the three core listings (:data:`CORE_LISTINGS`) run first and share
    ``2 * timeout`` seconds; then each pending listing (:data:`PENDING_LISTINGS`) gets its own
    ``pending_timeout`` seconds (default ``timeout``), so a slow state API can neither starve the
    pending listings nor be starved by them. Each request's timeout is cut to what is left of its
    budget; a listing whose budget has less than one second left (the state API's smallest
    timeout) is not started and gets ``(None, "skipped: deadline ...")``. Results land in ``out``
    as each listing finishes, so a caller that stops waiting keeps the finished ones.
    """
    import logging
    import os
    import time
    import warnings

    from ray.util.state.api import StateApiClient
    from ray.util.state.common import ListApiOptions, StateResource

    out = {} if out is None else out
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
    # name -> (resource, limit, the state of each request); every listing but the objects' asks
    # for detail. A pending listing asks once per state (the state API ANDs its filters).
    queries: dict[str, tuple[StateResource, int, list]] = {
        "dead-workers": (StateResource.WORKERS, 10000, [("is_alive", "=", "False")]),
        "objects": (StateResource.OBJECTS, 10000, []),
        "tasks": (StateResource.TASKS, 2000, [("state", "=", "FINISHED")]),
        "pending-tasks": (StateResource.TASKS, PENDING_LIMIT, list(PENDING_STATES["pending-tasks"])),
        "pending-actors": (StateResource.ACTORS, PENDING_LIMIT, list(PENDING_STATES["pending-actors"])),
        "pending-placement-groups": (
            StateResource.PLACEMENT_GROUPS,
            PENDING_LIMIT,
            list(PENDING_STATES["pending-placement-groups"]),
        ),
    }
    core_budget, pending_budget = state_budgets(timeout, pending_timeout)
    core_deadline = time.monotonic() + core_budget

    # One thread, one after the other: warnings.catch_warnings is not thread-safe, and each
    # listing takes milliseconds once the dashboard is up.
    for name, (resource, limit, filters) in queries.items():
        budget = core_budget if name in CORE_LISTINGS else pending_budget
        deadline = core_deadline if name in CORE_LISTINGS else time.monotonic() + pending_budget
        left = int(deadline - time.monotonic())
        down = next((err for _, err in list(out.values()) if err and "ServerUnavailable" in err), None)
        if down:  # the dashboard does not answer: do not wait for it again
            out[name] = (None, down)
            continue
        if left < 1:
            shared = "the core listings' shared" if name in CORE_LISTINGS else "its own"
            out[name] = (None, f"{SKIPPED} ({shared} budget of {budget:g}s was used up)")
            continue
        # the pending listings ask once per state; the core ones once, with their filter
        requests = [[("state", "=", f)] for f in filters] if name in PENDING_LISTINGS else [filters]
        rows_all: list = []
        warned: list[str] = []
        for request in requests:
            left = int(deadline - time.monotonic())
            what = f"{request[0][2]} " if name in PENDING_LISTINGS else ""
            if left < 1:
                out[name] = (None, f"{SKIPPED} ({what}not listed: the budget of {budget:g}s was used up)")
                break
            try:
                options = ListApiOptions(
                    limit=limit, timeout=min(secs, left), detail=name != "objects", filters=request
                )
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    rows = client.list(resource, options=options, raise_on_missing_output=False, _explain=True)
            except Exception as exc:  # noqa: BLE001 - recorded as a gap
                out[name] = (None, f"{what}{describe_error(exc)}".strip())
                break
            rows_all += list(rows)
            warned += [str(w.message) for w in caught]
        else:
            out[name] = ((rows_all, warned), None)
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
        value, err = st.get(name, (None, "not listed"))
        if err is not None and err.startswith(SKIPPED):
            snap.gaps.append(Gap(name, f"{what} {err}"))
            snap.notes.append(f"state API: {what} {err}")
            return None
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
    if any(k in st for k in PENDING_LISTINGS):
        apply_pending(
            snap,
            listed("pending-tasks", f"list_tasks ({', '.join(PENDING_STATES['pending-tasks'])})"),
            listed("pending-actors", f"list_actors ({', '.join(PENDING_STATES['pending-actors'])})"),
            listed("pending-placement-groups", "list_placement_groups (PENDING)"),
        )
    return last_end


def _get(row, name: str):
    """A field of a state API row (a dataclass, or a dict with ``raise_on_missing_output``)."""
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _shape(resources) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (resources or {}).items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _entered_ms(task, state: str) -> float | None:
    """When ``task`` entered ``state`` (ms since the epoch), from its state events."""
    events = [e for e in _get(task, "events") or [] if isinstance(e, dict) and e.get("state") == state]
    stamps = [e.get("created_ms") for e in events]
    times = [float(t) for t in stamps if isinstance(t, (int, float)) and t > 0]
    if times:
        return max(times)
    created = _get(task, "creation_time_ms")
    return float(created) if isinstance(created, (int, float)) and created > 0 else None


def apply_pending(snap: ClusterSnapshot, tasks, actors, groups) -> None:
    """Fold the pending listings into ``snap.pending_work``; a listing that failed or was skipped
    (``None``) is left out and named in ``snap.pending_unlisted`` (``pending_work`` stays ``None``
    only if none was listed)."""
    lists = {"tasks": tasks, "actors": actors, "placement groups": groups}
    snap.pending_unlisted = [kind for kind, rows in lists.items() if rows is None]
    if len(snap.pending_unlisted) == len(lists):
        return
    tasks, actors, groups = tasks or [], actors or [], groups or []
    now_ms = snap.collected_at * 1000.0

    def waited(since_ms: float | None) -> float | None:
        return None if since_ms is None else max(now_ms - since_ms, 0.0) / 1000.0

    def task_work(t, kind: str, work_id: str, name: str, state: str, basis: str) -> PendingWork:
        """A task (or an actor known only by its creation task) dated from its task events."""
        since = _entered_ms(t, state)
        return PendingWork(
            kind=kind,
            id=work_id,
            name=name,
            state=state,
            bundles=[_shape(_get(t, "required_resources"))],
            waited_s=waited(since),
            since=f"{basis} {state} (task events)" if since is not None else None,
            job_id=_get(t, "job_id"),
            placement_group_id=_get(t, "placement_group_id") or None,
        )

    # The actor listing has no timestamp. A restarting actor is dated by its process: while the
    # old one is listed, the dead worker with that pid on that node ended when the restart began;
    # once the new one is listed (Ray 2.60 lists it as soon as it is started),
    # :func:`date_restarts` uses that process's age from the process table.
    died_ms: dict[tuple[str | None, int], float] = {}
    for w in snap.dead_workers or []:
        if w.pid and w.end_time_ms:
            key = (w.node_id, int(w.pid))
            died_ms[key] = max(died_ms.get(key, 0.0), float(w.end_time_ms))

    creation: dict[str, object] = {}
    work: list[PendingWork] = []
    for t in tasks:
        state = str(_get(t, "state") or "PENDING_NODE_ASSIGNMENT")
        if _get(t, "type") == "ACTOR_CREATION_TASK" and _get(t, "actor_id"):
            creation[str(_get(t, "actor_id"))] = t
            continue
        name = str(_get(t, "name") or _get(t, "func_or_class_name") or "")
        work.append(task_work(t, "task", str(_get(t, "task_id") or ""), name, state, "since it entered"))
    for a in actors:
        actor_id = str(_get(a, "actor_id") or "")
        task = creation.pop(actor_id, None)
        state = str(_get(a, "state") or "PENDING_CREATION")
        restarts = _get(a, "num_restarts")
        restarts = int(restarts) if isinstance(restarts, (int, float, str)) and str(restarts).isdigit() else None
        pid = _get(a, "pid") if isinstance(_get(a, "pid"), int) and _get(a, "pid") else None
        if state == "RESTARTING":
            since = died_ms.get((_get(a, "node_id"), pid)) if pid else None
            basis = "since its previous process died (state API dead workers)"
        else:
            task_state = str(_get(task, "state") or "") if task is not None else ""
            since = _entered_ms(task, task_state) if task is not None else None
            basis = f"since its creation task entered {task_state} (task events)"
        work.append(
            PendingWork(
                kind="actor",
                id=actor_id,
                name=str(_get(a, "class_name") or ""),
                state=state,
                bundles=[_shape(_get(a, "required_resources"))],
                waited_s=waited(since),
                since=basis if since is not None else None,
                job_id=_get(a, "job_id"),
                placement_group_id=_get(a, "placement_group_id") or None,
                restarts=restarts,
                pid=pid,
                node_id=_get(a, "node_id") or None,
            )
        )
    for actor_id, t in creation.items():  # creation tasks whose actor was not listed
        state = str(_get(t, "state") or "PENDING_NODE_ASSIGNMENT")
        name = str(_get(t, "func_or_class_name") or _get(t, "name") or "").removesuffix(".__init__")
        work.append(task_work(t, "actor", actor_id, name, state, "since its creation task entered"))
    for g in groups:
        stats = _get(g, "stats") or {}
        try:
            received_ns = float(stats.get("creation_request_received_ns") or 0)
        except (TypeError, ValueError):
            received_ns = 0.0
        since = received_ns / 1e6 if received_ns > 0 else None
        work.append(
            PendingWork(
                kind="placement group",
                id=str(_get(g, "placement_group_id") or ""),
                name=str(_get(g, "name") or ""),
                state=str(_get(g, "state") or "PENDING"),
                bundles=[_shape(b.get("unit_resources")) for b in _get(g, "bundles") or [] if isinstance(b, dict)],
                waited_s=waited(since),
                since="since the GCS received its creation request (stats)" if since is not None else None,
                job_id=_get(g, "creator_job_id"),
                scheduling_state=stats.get("scheduling_state") or None,
            )
        )
    snap.pending_work = work


def date_restarts(snap: ClusterSnapshot) -> None:
    """Date the restarting actors :func:`apply_pending` could not. Ray 2.60 lists the new process
    once it is started; that process's core-worker log says when it began creating the actor
    ("Creating actor", read by the process scan), which is no earlier than the restart began."""
    for w in snap.pending_work or []:
        if w.state != "RESTARTING" or w.waited_s is not None or not w.pid:
            continue
        node = snap.node(w.node_id or "")
        proc = next((p for p in (node.processes or []) if p.pid == w.pid), None) if node else None
        if proc is not None and proc.actor_id == w.id and proc.actor_created_at is not None:
            w.waited_s = max(snap.collected_at - proc.actor_created_at, 0.0)
            w.since = "at least: since its new process began creating it (its core-worker log)"


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
