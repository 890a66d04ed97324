"""Checks on memory: workers the memory monitor killed, where objects were created, and how full
the object store is."""

from __future__ import annotations

import re

from raybot import ray_defaults
from raybot.diagnose.checks.base import CheckResult, check
from raybot.diagnose.checks.util import OOM_RECENT_S, cap, effective, fmt_age, fmt_bytes, port_of
from raybot.diagnose.model import ClusterSnapshot

_OOM = re.compile(r"\bOOM\b|out of memory|low on memory|memory pressure|Memory on the node", re.I)


@check(
    "recent-oom-kills",
    "Workers killed for memory",
    needs=("dead-workers",),
    entries=("oom-killer", "worker-exit-detail"),
)
def check_oom(snap: ClusterSnapshot) -> list[CheckResult]:
    threshold = "no worker killed by the memory monitor in the last hour"
    now_ms = snap.collected_at * 1000
    oom = [
        w
        for w in snap.dead_workers
        if w.exit_type == "NODE_OUT_OF_MEMORY" or (w.exit_detail and _OOM.search(w.exit_detail))
    ]
    recent = [w for w in oom if w.end_time_ms and now_ms - w.end_time_ms <= OOM_RECENT_S * 1000]
    if not oom:
        value = f"none among {len(snap.dead_workers)} dead worker(s)"
        return [CheckResult(status="ok", value=value, threshold=threshold)]
    oom.sort(key=lambda w: -(w.end_time_ms or 0))

    def when(w) -> str:
        if not w.end_time_ms:
            return "time unknown"
        return fmt_age((now_ms - w.end_time_ms) / 1000) + " ago"

    evidence = [
        f"pid {w.pid} on {(w.node_id or '?')[:8]}, {when(w)}: {w.exit_type}: {(w.exit_detail or '').strip()[:200]}"
        for w in oom
    ]
    evidence = cap(evidence, 5)
    return [
        CheckResult(
            status="warn" if recent else "info",
            value=f"{len(recent)} in the last hour, {len(oom)} in total",
            threshold=threshold,
            evidence=evidence,
            why=(
                "The raylet's memory monitor kills workers when the node's memory use passes "
                "RAY_memory_usage_threshold (default 0.95). Since Ray 2.56 it picks idle workers "
                "first (largest first), then running tasks, newest first; retriable tasks are "
                "retried."
            ),
            command=(
                "ray list workers --detail --filter exit_type=NODE_OUT_OF_MEMORY\n"
                "ray logs raylet.out --tail 500 | grep -i 'killed due to'"
            ),
            fix=(
                "Give memory-heavy tasks a memory request so fewer run at once on a node, e.g.\n"
                "    @ray.remote(memory=2 * 1024**3)\n"
                "and shrink what idle workers hold (see idle-worker-memory). The kill threshold is "
                "RAY_memory_usage_threshold in the environment of `ray start` on each node."
            ),
            entries=["oom-killer", "worker-exit-detail", "release-idle-worker-memory"],
        )
    ]


@check(
    "ref-creation-sites",
    "Where objects were created (call sites)",
    needs=("system-config",),
    entries=("record-ref-creation-sites",),
)
def check_ref_sites(snap: ClusterSnapshot) -> list[CheckResult]:
    threshold = "RAY_record_ref_creation_sites=1 while objects are pinned"
    settings = [effective(snap, "record_ref_creation_sites", n) for n in snap.alive_nodes or [None]]
    if any(s is None for s in settings) or not settings:
        return [
            CheckResult(
                status="error",
                value="system config unknown",
                threshold=threshold,
                entries=["record-ref-creation-sites"],
            )
        ]
    on = all(bool(s.value) for s in settings)
    if on:
        return [CheckResult(status="ok", value=f"on ({settings[0].source})", threshold=threshold)]
    if snap.objects is None:
        g = snap.gap("objects") or snap.gap("state-api")
        return [
            CheckResult(
                status="info",
                value="off; objects not listed",
                threshold=threshold,
                evidence=[g.reason] if g else [],
                entries=["record-ref-creation-sites"],
            )
        ]
    if not snap.objects:
        return [CheckResult(status="ok", value="off; no object is referenced right now", threshold=threshold)]
    size = sum(o.size_bytes or 0 for o in snap.objects)
    by_type: dict[str, int] = {}
    for o in snap.objects:
        by_type[o.reference_type or "?"] = by_type.get(o.reference_type or "?", 0) + 1
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]))
    nodes = snap.alive_nodes
    fix = (
        "Record call sites (a small cost per ObjectRef created): set the variable where each "
        "process that creates refs starts, i.e. `ray start` on every node and the driver:\n"
        f"RAY_record_ref_creation_sites=1 ray start --head --port={port_of(snap.address)} ...\n"
    )
    if len(nodes) > 1:
        fix += f"RAY_record_ref_creation_sites=1 ray start --address={snap.address} ...   # other nodes\n"
    fix += "RAY_record_ref_creation_sites=1 python your_driver.py\nthen: ray memory --group-by STACK_TRACE"
    return [
        CheckResult(
            status="warn",
            value=f"off; {len(snap.objects)} reference(s) to {fmt_bytes(size)} listed",
            threshold=threshold,
            evidence=[f"reference types: {kinds}", f"setting: {settings[0].source} ({settings[0].value})"],
            why=(
                'Without it, `ray memory` and `ray summary objects` show "disabled" or '
                '"<unknown>" as the call site, so you cannot tell which line of code created the '
                "objects that are pinned."
            ),
            command=f"ray memory --address {snap.address} --sort-by OBJECT_SIZE",
            fix=fix,
            entries=["record-ref-creation-sites", "ray-memory-command", "ray-summary-objects"],
        )
    ]


@check("object-store", "Object store usage", needs=("usage",), entries=("ray-memory-command", "ray-summary-objects"))
def check_object_store(snap: ClusterSnapshot) -> CheckResult:
    a = snap.autoscaler
    assert a is not None
    frac_warn = ray_defaults.OBJECT_SPILLING_THRESHOLD
    threshold = f"< {frac_warn:.0%} of the object store (spilling starts there)"
    store = a.usage.get("object_store_memory")
    spilled = {n.label: n.debug_state.bytes_spilled for n in snap.alive_nodes if n.debug_state}
    spilled = {k: v for k, v in spilled.items() if v}
    evidence = [f"{k}: {fmt_bytes(v)} spilled to disk now (debug_state.txt)" for k, v in spilled.items()]
    if not store or store[1] <= 0:
        return CheckResult(status="ok", value="no object store in the report", threshold=threshold)
    used, total = store
    frac = used / total
    value = f"{fmt_bytes(used)} of {fmt_bytes(total)} in use ({frac:.0%})"
    if spilled:
        value += f"; {fmt_bytes(sum(spilled.values()))} spilled"
    if frac < frac_warn and not spilled:
        return CheckResult(status="ok", value=value, threshold=threshold, evidence=evidence)
    return CheckResult(
        status="warn" if frac >= frac_warn else "info",
        value=value,
        threshold=threshold,
        evidence=evidence,
        why=(
            f"Ray spills objects to disk once primary copies take more than {frac_warn:.0%} of the "
            "object store (object_spilling_threshold); spilling is slow, and when the disk fills too "
            "object creation fails. Objects stay while any reference to them lives: in a driver, "
            "an actor, or nested in another object."
        ),
        command=(
            f"ray memory{' --address ' + snap.address if snap.address else ''} --stats-only\n"
            f"ray memory{' --address ' + snap.address if snap.address else ''} --sort-by OBJECT_SIZE"
        ),
        fix=(
            "Find the largest objects and who holds them (`ray memory --sort-by OBJECT_SIZE`), drop "
            "the references you no longer need (`del ref`), and pass large data as one ray.put "
            "reference instead of copying it into many tasks."
        ),
    )
