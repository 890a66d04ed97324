"""Checks on the autoscaler's view: pending nodes, demands no node can run, failures, idle nodes,
and a whole cluster that sits idle. They read what ``ray status`` shows, so they also run on a
pasted ``ray status`` (where its layout holds the section they need)."""

from __future__ import annotations

import ast
import re

from raybot.diagnose.checks.base import CheckResult, check
from raybot.diagnose.checks.util import DEFAULT_IDLE_TIMEOUT_MIN, autoscaling, cap, fmt_age, fmt_bytes
from raybot.diagnose.model import ClusterSnapshot, Demand, NodeFacts

#: at most this many demands are compared with the nodes (a paste can hold 200,000 lines)
MAX_DEMANDS_CHECKED = 1000


def _where(snap: ClusterSnapshot) -> str:
    return f" --address {snap.address}" if snap.address else ""


def _fits(bundle: dict[str, float], nodes: list[NodeFacts]) -> bool:
    if not nodes:
        return True  # unknown capacities: do not call it infeasible
    for n in nodes:
        if all(n.resources_total.get(k, 0.0) >= v for k, v in bundle.items() if v > 0):
            return True
    return False


def _demand_bundles(shape: str) -> list[dict[str, float]]:
    """Parse "{'CPU': 1.0}" or "{'CPU': 4} * 5 (PACK)" from ``ray status`` text."""
    out = []
    for m in re.finditer(r"\{[^{}]{0,2000}\}", shape[:20000]):
        try:
            d = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(d, dict):
            out.append({str(k): float(v) for k, v in d.items() if isinstance(v, (int, float))})
    return out


def _shape_str(d: dict[str, float]) -> str:
    def fmt(k: str, v: float) -> str:
        return fmt_bytes(v) if k in ("memory", "object_store_memory") else f"{v:g}"

    return "{" + ", ".join(f"'{k}': {fmt(k, v)}" for k, v in sorted(d.items())) + "}"


def _capacity(snap: ClusterSnapshot) -> list[NodeFacts]:
    """Per-node capacities; a paste without ``-v`` only has the cluster totals."""
    a = snap.autoscaler
    if snap.alive_nodes:
        return snap.alive_nodes
    if a is not None and a.usage:
        return [NodeFacts(node_id="cluster", resources_total={k: t for k, (_, t) in a.usage.items()})]
    return []


def _node_count(snap: ClusterSnapshot) -> int:
    a = snap.autoscaler
    counted = sum((a.active_nodes or {}).values()) + sum((a.idle_nodes or {}).values()) if a else 0
    return max(counted, len(snap.alive_nodes))


@check("autoscaler-pending", "Pending nodes", needs=("pending-nodes",), entries=("ray-status-output",))
def check_pending(snap: ClusterSnapshot) -> CheckResult:
    a = snap.autoscaler
    assert a is not None
    if not a.pending:
        return CheckResult(status="ok", value="no pending nodes")
    lines = [f"{p.count}× {p.node_type} {p.status}" + (f" ({p.ip})" if p.ip else "") for p in a.pending]
    return CheckResult(
        status="info",
        value=f"{sum(p.count for p in a.pending)} pending node(s)",
        threshold="informational",
        evidence=cap(lines, 8),
        command=f"ray status{_where(snap)}",
    )


@check("infeasible-demands", "Resource demands", needs=("demands",), entries=("ray-status-output",))
def check_demands(snap: ClusterSnapshot) -> CheckResult:
    a = snap.autoscaler
    assert a is not None
    dropped = snap.paste.demands_dropped if snap.paste else 0
    if not a.demands and not dropped:
        return CheckResult(status="ok", value="no pending demands")
    capacity = _capacity(snap)
    infeasible: list[Demand] = []
    queued: list[Demand] = []
    for d in a.demands[:MAX_DEMANDS_CHECKED]:
        bundles = d.bundles or _demand_bundles(d.shape)
        if d.kind != "request_resources" and any(not _fits(b, capacity) for b in bundles):
            infeasible.append(d)
        else:
            queued.append(d)
    unchecked = max(len(a.demands) - MAX_DEMANDS_CHECKED, 0) + dropped
    evidence = cap([f"{d.shape[:200]}: {d.count}+ pending {d.kind}" for d in infeasible + queued], 8)
    if unchecked:
        evidence.append(f"{unchecked} more demand line(s) not compared (cap {MAX_DEMANDS_CHECKED})")
    pending_known = snap.paste is None or snap.paste.has("pending")
    if infeasible and not (pending_known and a.pending):
        biggest: dict[str, float] = {}
        for n in capacity:
            for k, v in n.resources_total.items():
                if not k.startswith("node:"):
                    biggest[k] = max(biggest.get(k, 0.0), v)
        scaling = autoscaling(a)
        basis = "largest node" if snap.alive_nodes else "whole cluster (no per-node breakdown)"
        nothing = (
            " and the autoscaler is not launching one"
            if scaling
            else ", and nothing is adding nodes"
            if pending_known
            else ""
        )
        return CheckResult(
            status="warn",
            value=f"{sum(d.count for d in infeasible)}+ request(s) no node can run"
            + (", nothing launching" if pending_known else ""),
            threshold="every demand fits some node, or a node is being launched",
            evidence=evidence + [f"{basis}: {_shape_str(biggest)}"],
            why=(
                "A task, actor or placement-group bundle must fit on one node. These ask for "
                f"resources no node has{nothing}, so they wait (Ray warns that they are infeasible)."
            ),
            command=f"ray status{_where(snap)} -v",
            fix=(
                "Lower the request (num_cpus/num_gpus/memory in @ray.remote or .options()), or add "
                "a node that has it (`ray start --address=... --num-gpus=...`, or a node type in "
                "the autoscaler config)."
            ),
        )
    return CheckResult(
        status="info",
        value=f"{sum(d.count for d in queued)}+ queued request(s)"
        + (f", {unchecked} not compared" if unchecked else ""),
        threshold="informational",
        evidence=evidence,
        command=f"ray status{_where(snap)}",
    )


@check(
    "autoscaler-failures",
    "Recent node failures",
    needs=("failures",),
    entries=("ray-status-output", "ray-status-layout-history"),
)
def check_failures(snap: ClusterSnapshot) -> CheckResult:
    a = snap.autoscaler
    assert a is not None
    if not a.failures:
        return CheckResult(status="ok", value="none")
    evidence = [f"{f.node_type}: {f.reason or 'failed'}" + (f" (ip {f.ip})" if f.ip else "") for f in a.failures]
    return CheckResult(
        status="warn",
        value=f"{len(a.failures)} recent failure(s)",
        threshold="none",
        evidence=cap(evidence, 8),
        why=(
            "The autoscaler lists nodes that died unexpectedly or could not be launched (for "
            "example no capacity or quota in the cloud, or a setup command that failed)."
        ),
        command=f"ray status{_where(snap)} -v\ntail -n 100 <head session dir>/logs/monitor.log",
        fix="Read the failure detail in `ray status -v` and the monitor log, then fix the node type or the quota.",
    )


@check(
    "idle-nodes",
    "Idle nodes",
    needs=("node-idle-time",),
    entries=("autoscaler-idle-timeout-minutes", "autoscaler-nodes-not-scaling-down"),
)
def check_idle_nodes(snap: ClusterSnapshot) -> CheckResult:
    a = snap.autoscaler
    configured = a is not None and a.idle_timeout_minutes is not None
    timeout_min = a.idle_timeout_minutes if configured and a else DEFAULT_IDLE_TIMEOUT_MIN
    threshold = f"idle_timeout_minutes = {timeout_min:g}" + ("" if configured else " (the autoscaler's default)")
    long_idle = [n for n in snap.alive_nodes if not n.is_head and n.idle_ms and n.idle_ms >= timeout_min * 60000]
    text_idle = sum(a.idle_nodes.values()) if a and snap.origin == "status-text" else 0
    if not long_idle and not text_idle:
        idle = [n for n in snap.alive_nodes if n.idle_ms]
        value = f"{len(idle)} idle node(s), none past the timeout" if snap.origin != "status-text" else "no idle nodes"
        return CheckResult(status="ok", value=value, threshold=threshold)
    scaling = autoscaling(a)
    static = a is not None and a.provider == "readonly"
    evidence = [f"{n.label}: idle {fmt_age((n.idle_ms or 0) / 1000)}" for n in long_idle]
    if text_idle and a:
        evidence += [f"{count} {t} listed under Idle:" for t, count in a.idle_nodes.items()]
    why_common = (
        " Note that idle_timeout_minutes removes idle *nodes*; it does nothing to idle "
        "ray::IDLE worker processes, which the raylet's reaper handles."
    )
    if scaling:
        return CheckResult(
            status="warn",
            value=f"{len(long_idle) or text_idle} node(s) idle past the timeout",
            threshold=threshold,
            evidence=evidence,
            why=(
                "The autoscaler should have removed these. A node is kept while it holds primary "
                "copies of objects, runs workers of a live job or actors, holds placement-group "
                "bundles, or is needed for min_workers of its type." + why_common
            ),
            command=f"ray status{_where(snap)} -v   # shows each node's Activity",
            fix=(
                "Look at the node's Activity in `ray status -v`; drop the objects or actors "
                "pinned there, remove unused placement groups, and check min_workers for that "
                "node type."
            ),
            entries=["autoscaler-nodes-not-scaling-down", "autoscaler-idle-timeout-minutes"],
        )
    return CheckResult(
        status="info",
        value=f"{len(long_idle) or text_idle} idle worker node(s)",
        threshold=threshold,
        evidence=evidence + (["hand-started cluster (read-only provider): nothing removes nodes"] if static else []),
        why=(
            "Without an autoscaler that removes nodes (a cluster started by hand with `ray start`), "
            "idle nodes stay until you stop them." + why_common
        ),
        command=f"ray status{_where(snap)} -v",
        fix="Stop the idle nodes you do not need: `ray stop` on each of them.",
    )


@check(
    "cluster-idle",
    "Whole cluster idle",
    needs=("usage", "node-counts"),
    entries=("autoscaler-nodes-not-scaling-down", "autoscaler-idle-timeout-minutes", "kuberay-idle-timeout-seconds"),
)
def check_cluster_idle(snap: ClusterSnapshot) -> CheckResult:
    a = snap.autoscaler
    assert a is not None
    nodes = _node_count(snap)
    busy = {k: u for k, (u, _) in a.usage.items() if k in ("CPU", "GPU")}
    totals = {k: t for k, (_, t) in a.usage.items() if k in ("CPU", "GPU")}
    used = ", ".join(f"{busy[k]:g}/{totals[k]:g} {k}" for k in sorted(busy))
    threshold = "some CPU or GPU in use while worker nodes are up"
    if not busy:
        return CheckResult(status="ok", value="no CPU or GPU resources reported", threshold=threshold)
    if any(v > 0 for v in busy.values()):
        return CheckResult(status="ok", value=f"in use: {used}", threshold=threshold)
    if nodes < 2:
        return CheckResult(status="ok", value=f"idle ({used}), but only the head node is up", threshold=threshold)
    evidence = [f"{nodes} nodes up: " + ", ".join(f"{c} {t}" for t, c in {**a.active_nodes, **a.idle_nodes}.items())]
    keeps = []
    store = a.usage.get("object_store_memory")
    if store and store[0] > 0:
        keeps.append(
            f"objects: {fmt_bytes(store[0])} of {fmt_bytes(store[1])} object store in use; a node "
            "holding primary copies of objects that are still referenced is not idle"
        )
    notes = snap.paste.usage_notes if snap.paste else {}
    pgs = [f"{k}: {v}" for k, v in notes.items() if "placement group" in v]
    pg_demands = [d for d in a.demands if d.kind == "placement groups"]
    if pgs or pg_demands:
        keeps.append("placement groups: " + ("; ".join(pgs) or f"{len(pg_demands)} pending"))
    keeps.append("min_workers of a node type (or KubeRay minReplicas) keeps that many nodes up however idle they are")
    keeps.append(
        f"idle_timeout_minutes (default {DEFAULT_IDLE_TIMEOUT_MIN:g}): an idle node is removed only after it; "
        "a node busy a moment ago is not idle yet"
    )
    scaling = autoscaling(a)
    return CheckResult(
        status="info" if a.provider == "readonly" else "warn",
        value=f"no CPU/GPU in use on {nodes} nodes ({used})",
        threshold=threshold,
        evidence=evidence + [f"can keep nodes up: {k}" for k in keeps],
        why=(
            "Nothing runs, yet worker nodes stay up (and cost money on a cloud). "
            + (
                "The autoscaler removes a worker node only when it has been idle for "
                "idle_timeout_minutes and is not needed for min_workers; a node that holds objects, "
                "placement-group bundles or actors does not count as idle."
                if scaling or a.provider is None
                else "This cluster was started by hand: no autoscaler removes its nodes."
            )
        ),
        command=f"ray status{_where(snap)} -v   # each node's Activity says what keeps it busy",
        fix=(
            "Look at each node's Activity in `ray status -v`; remove placement groups you no longer "
            "use (ray.util.remove_placement_group), drop references to large objects, and check "
            "min_workers and idle_timeout_minutes in the cluster config."
        ),
    )
