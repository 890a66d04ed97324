"""Work that has waited long to be scheduled: tasks, actors and placement groups listed by the
state API, with how long each has waited (the autoscaler's demands have shapes but no ages)."""

from __future__ import annotations

from raybot.diagnose.checks.autoscaler import _fits, _shape_str
from raybot.diagnose.checks.base import CheckResult, check
from raybot.diagnose.checks.util import cap, fmt_age
from raybot.diagnose.model import ClusterSnapshot, PendingWork

#: Work pending longer than this is reported (seconds; ``raybot diagnose --pending-after`` or
#: ``RAYBOT_PENDING_AFTER_S`` change it). raybot's own choice, not a Ray setting: a cloud node
#: usually joins within a few minutes of being requested, so work still waiting after five
#: minutes is unlikely to be waiting for a node that is on its way.
PENDING_AFTER_S = 300.0

#: the command that lists each kind of pending work, with its resource shape and state events
_LIST_COMMANDS = {
    "task": "ray list tasks --filter state=PENDING_NODE_ASSIGNMENT --detail",
    "actor": "ray list actors --filter state=PENDING_CREATION --detail",
    "placement group": "ray list placement-groups --filter state=PENDING --detail",
}


#: states of work waiting to be placed (the long-pending-work check); the other listed states wait
#: for something else (the waiting-on-arguments-or-restart check)
SCHEDULING_STATES = ("PENDING_NODE_ASSIGNMENT", "PENDING_CREATION", "PENDING")
#: waiting for an argument (an upstream object): a task, or an actor's constructor
ARGS_STATES = ("PENDING_ARGS_AVAIL", "DEPENDENCIES_UNREADY")
RESTARTING = "RESTARTING"


def scheduling_work(snap: ClusterSnapshot) -> list[PendingWork]:
    return [w for w in snap.pending_work or [] if w.state in SCHEDULING_STATES]


def pending_after(snap: ClusterSnapshot) -> float:
    return PENDING_AFTER_S if snap.pending_after_s is None else snap.pending_after_s


def _shape(w: PendingWork) -> str:
    if w.kind == "placement group":
        return "[" + ", ".join(_shape_str(b) for b in w.bundles) + "]"
    return _shape_str(w.bundles[0]) if w.bundles else "{}"


def _no_node_fits(w: PendingWork, snap: ClusterSnapshot) -> bool:
    """Some bundle (or the task's shape) fits on no alive node; unknown capacities say no."""
    nodes = snap.alive_nodes
    return bool(nodes) and any(b and not _fits(b, nodes) for b in w.bundles)


def _group(work: list[PendingWork]) -> list[tuple[tuple[str, str, str], list[PendingWork]]]:
    groups: dict[tuple[str, str, str], list[PendingWork]] = {}
    for w in work:
        groups.setdefault((w.kind, w.name, _shape(w)), []).append(w)
    return sorted(groups.items(), key=lambda kv: -max(w.waited_s or 0.0 for w in kv[1]))


def _line(key: tuple[str, str, str], items: list[PendingWork], snap: ClusterSnapshot) -> str:
    kind, name, shape = key
    oldest = max(items, key=lambda w: w.waited_s or 0.0)
    label = f"{len(items)}× {kind}" + (f" {name}" if name else "")
    parts = [f"{label} {shape}", f"waiting {fmt_age(oldest.waited_s)} (oldest; {oldest.since})"]
    states = sorted({w.scheduling_state for w in items if w.scheduling_state})
    if states:
        parts.append("GCS scheduling state " + "/".join(states))
    if any(w.placement_group_id for w in items):
        parts.append("in a placement group")
    if _no_node_fits(oldest, snap):
        parts.append("no node has this shape")
    return ", ".join(parts)


@check(
    "long-pending-work",
    "Long-pending tasks, actors and placement groups",
    needs=("pending-work",),
    entries=(
        "infeasible-task-warning",
        "placement-group-pending",
        "tasks-pending-idle-cpus",
        "fail-fast-unschedulable",
    ),
)
def check_long_pending(snap: ClusterSnapshot) -> CheckResult:
    work = scheduling_work(snap)
    limit = pending_after(snap)
    threshold = f"nothing pending longer than {fmt_age(limit)}" + (
        " (raybot's default; --pending-after)" if snap.pending_after_s is None else " (--pending-after)"
    )
    cut = [
        f"{g.source}: {g.reason}"
        for g in snap.gaps
        if g.source in ("pending-tasks", "pending-actors", "pending-placement-groups")
    ]
    long = [w for w in work if w.waited_s is not None and w.waited_s >= limit]
    unlisted = ", ".join(snap.pending_unlisted)
    if unlisted and not long:
        # some kinds were not listed (failed, or skipped for the deadline): no "ok" for them
        seen = f"{len(work)} listed, none pending longer than {fmt_age(limit)}" if work else "nothing listed pending"
        return CheckResult(
            status="error",
            value=f"{unlisted} not listed; {seen}",
            threshold=threshold,
            evidence=cap([_line(k, v, snap) for k, v in _group(work)], 8) + cut,
            fix="run again with a longer --timeout, or list them yourself: "
            + "; ".join(_LIST_COMMANDS[k.removesuffix("s")] for k in snap.pending_unlisted),
        )
    if not work:
        return CheckResult(status="ok", value="nothing waiting to be scheduled", threshold=threshold, evidence=cut)
    undated = [w for w in work if w.waited_s is None]
    counts = ", ".join(
        f"{n} {kind}{'s' if n > 1 else ''}"
        for kind in ("task", "actor", "placement group")
        if (n := sum(1 for w in long or work if w.kind == kind))
    )
    if not long:
        evidence = cap([_line(k, v, snap) for k, v in _group(work)], 8)
        if undated:
            evidence.append(f"{len(undated)} without a timestamp in the state API (age unknown)")
        return CheckResult(
            status="ok",
            value=f"{counts} pending, none longer than {fmt_age(limit)}",
            threshold=threshold,
            evidence=evidence + cut,
        )
    groups = _group(long)
    infeasible = [w for w in long if _no_node_fits(w, snap)]
    groups_pending = [w for w in long if w.kind == "placement group"]
    entries = []
    if infeasible:
        entries.append("infeasible-task-warning")
    if groups_pending or any(w.placement_group_id for w in long):
        entries.append("placement-group-pending")
    if any(not _no_node_fits(w, snap) for w in long):
        entries.append("tasks-pending-idle-cpus")
    entries.append("fail-fast-unschedulable")
    why = (
        "Ray keeps work that cannot be placed waiting instead of failing it, because resources may "
        "free up or an autoscaler may add a node. "
        + (
            "Some of it asks for a shape no node of this cluster has, so it waits until a node that has it joins. "
            if infeasible
            else ""
        )
        + "Work that fits some node waits for the resources other tasks, actors or placement "
        "groups hold to be released; a placement group waits until all its bundles can be "
        "reserved at once under its strategy."
    )
    fix = (
        "Lower the request (num_cpus/num_gpus/resources/memory in @ray.remote or .options(), the "
        "bundles of the placement group) or add a node that has it; free what holds the resources "
        "(ray.kill idle actors, ray.util.remove_placement_group unused groups); to fail instead of "
        "waiting, use ray.get(..., timeout=...) or pg.wait(timeout_seconds) and cancel."
    )
    return CheckResult(
        status="warn",
        value=f"{counts} pending longer than {fmt_age(limit)}" + (f" ({unlisted} not listed)" if unlisted else ""),
        threshold=threshold,
        evidence=cap([_line(k, v, snap) for k, v in groups], 8) + cut,
        why=why,
        command="\n".join(
            _LIST_COMMANDS[kind] for kind in ("task", "actor", "placement group") if any(w.kind == kind for w in long)
        ),
        fix=fix,
        entries=entries,
    )


def _waiting_line(w: PendingWork) -> str:
    what = f"{w.kind} {w.name}".strip()
    age = f"waiting {fmt_age(w.waited_s)} ({w.since})" if w.waited_s is not None else "age unknown"
    if w.state == RESTARTING:
        tries = f", restart {w.restarts}" if w.restarts else ""
        return f"{what} RESTARTING{tries}: {age}"
    return f"{what} {w.state} (waits for an argument): {age}"


@check(
    "waiting-on-arguments-or-restart",
    "Tasks waiting for their arguments, actors restarting",
    needs=("pending-work",),
    entries=("task-states-explained", "ray-get-hangs", "actor-restarts-and-task-retries", "actor-unavailable-error"),
)
def check_waiting_not_scheduling(snap: ClusterSnapshot) -> CheckResult:
    """Work that waits for something other than resources: an argument that does not exist yet
    (``PENDING_ARGS_AVAIL`` tasks, ``DEPENDENCIES_UNREADY`` actors) or an actor being created again
    after its process died (``RESTARTING``)."""
    limit = pending_after(snap)
    threshold = f"nothing waiting longer than {fmt_age(limit)}" + (
        " (raybot's default; --pending-after)" if snap.pending_after_s is None else " (--pending-after)"
    )
    work = [w for w in snap.pending_work or [] if w.state in ARGS_STATES or w.state == RESTARTING]
    unlisted = [k for k in snap.pending_unlisted if k in ("tasks", "actors")]
    long = [w for w in work if w.waited_s is not None and w.waited_s >= limit]
    undated = [w for w in work if w.waited_s is None]
    shown = sorted(long or work, key=lambda w: -(w.waited_s or 0.0))
    evidence = cap([_waiting_line(w) for w in shown], 8)
    if undated and not long:
        evidence.append(f"{len(undated)} without a timestamp in the state API (age unknown)")
    if not long:
        if unlisted:
            return CheckResult(
                status="error",
                value=f"{', '.join(unlisted)} not listed",
                threshold=threshold,
                evidence=evidence,
                fix="run again with a longer --timeout",
            )
        value = f"{len(work)} waiting, none longer than {fmt_age(limit)}" if work else "nothing waiting"
        return CheckResult(status="ok", value=value, threshold=threshold, evidence=evidence)
    args = [w for w in long if w.state in ARGS_STATES]
    restarting = [w for w in long if w.state == RESTARTING]
    parts = []
    if args:
        parts.append(f"{len(args)} waiting for an argument")
    if restarting:
        parts.append(f"{len(restarting)} actor{'s' if len(restarting) > 1 else ''} restarting")
    why, fix, commands, entries = [], [], [], []
    if args:
        why.append(
            "A task in PENDING_ARGS_AVAIL (an actor in DEPENDENCIES_UNREADY) waits for an object it was "
            "passed as an argument to be created: the ObjectRef comes from an upstream task that has not "
            "finished (still pending, running, or being retried or reconstructed). It is not waiting for "
            "resources: free CPUs or new nodes do not move it."
        )
        fix.append(
            "Find the task that produces the argument and see why it has not finished (its state, its "
            "stack with `ray stack` or py-spy if it runs); follow the chain up to the first task that is "
            "RUNNING, pending on resources, or failed."
        )
        commands += [
            "ray list tasks --filter state=PENDING_ARGS_AVAIL --detail",
            "ray list tasks --filter state=RUNNING --detail",
        ]
        entries += ["task-states-explained", "ray-get-hangs"]
    if restarting:
        why.append(
            "An actor in RESTARTING lost its process (it crashed, was killed, or its node died) and has "
            "restarts left (max_restarts); Ray is creating it again, which lasts until it is placed and "
            "its __init__ has run again. Calls to it wait meanwhile, or fail with ActorUnavailableError."
        )
        fix.append(
            "See why the previous process died (`ray list workers --filter is_alive=False --detail`, the "
            "exit detail), and what its __init__ does on a restart (a slow load, a resource no node has free)."
        )
        commands += ["ray list actors --filter state=RESTARTING --detail"]
        entries += ["actor-restarts-and-task-retries", "actor-unavailable-error"]
    return CheckResult(
        status="warn",
        value=" and ".join(parts)
        + f" for longer than {fmt_age(limit)}"
        + (f" ({', '.join(unlisted)} not listed)" if unlisted else ""),
        threshold=threshold,
        evidence=evidence,
        why=" ".join(why),
        command="\n".join(commands),
        fix=" ".join(fix),
        entries=entries,
    )
