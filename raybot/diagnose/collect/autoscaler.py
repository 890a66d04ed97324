"""The autoscaler's view: the v1 monitor's report (``__autoscaling_status``, what ``ray status``
formats), the GCS cluster status (per-node idle time, v2 pending and failed nodes), and the
head's autoscaling config.
"""

from __future__ import annotations

import time

from raybot.diagnose.model import AutoscalerFacts, ClusterSnapshot, Demand, FailedNode, PendingNode


def read_cluster_status(gcs_address: str, timeout: float):
    from ray.autoscaler.v2.sdk import get_cluster_status

    return get_cluster_status(gcs_address, timeout=max(int(timeout + 0.999), 1))


def autoscaler_from_v1(status: dict | None, *, v2: bool) -> AutoscalerFacts:
    """Parse the JSON the v1 monitor stores in the GCS (what ``ray status`` formats)."""
    facts = AutoscalerFacts(source="gcs", autoscaler_version="v2" if v2 else "v1", report_present=bool(status))
    if not status:
        return facts
    if status.get("time"):
        facts.report_age_s = max(time.time() - float(status["time"]), 0.0)
    rep = status.get("autoscaler_report") or {}
    facts.active_nodes = dict(rep.get("active_nodes") or {})
    facts.idle_nodes = dict(rep.get("idle_nodes") or {})
    for node_type, count in (rep.get("pending_launches") or {}).items():
        facts.pending.append(PendingNode(node_type=node_type, status="launching", count=int(count)))
    for ip, node_type, st in rep.get("pending_nodes") or []:
        facts.pending.append(PendingNode(node_type=node_type, status=str(st).lower(), ip=ip))
    for ip, node_type in rep.get("failed_nodes") or []:
        facts.failures.append(FailedNode(node_type=node_type, ip=ip, reason="NodeTerminated"))
    avail = (rep.get("node_availability_summary") or {}).get("node_availabilities") or {}
    for rec in avail.values():
        if not rec.get("is_available", True):
            info = rec.get("unavailable_node_information") or {}
            reason = info.get("category") or info.get("description")
            facts.failures.append(FailedNode(node_type=rec.get("node_type", "?"), reason=reason))
    lm = status.get("load_metrics_report") or {}
    facts.usage = {
        k: (float(v[0]), float(v[1]))
        for k, v in (lm.get("usage") or {}).items()
        if not k.startswith("node:") and isinstance(v, (list, tuple)) and len(v) == 2
    }
    for shape, count in lm.get("resource_demand") or []:
        facts.demands.append(Demand(shape=_shape(shape), count=int(count), kind="tasks/actors", bundles=[dict(shape)]))
    for pg, count in lm.get("pg_demand") or []:
        facts.demands.append(
            Demand(
                shape=_pg_shape(pg),
                count=int(count),
                kind="placement groups",
                bundles=[b for b, _ in _pg_bundles(pg)],
            )
        )
    for shape, count in lm.get("request_demand") or []:
        facts.demands.append(
            Demand(shape=_shape(shape), count=int(count), kind="request_resources", bundles=[dict(shape)])
        )
    return facts


def _shape(shape: dict) -> str:
    return "{" + ", ".join(f"'{k}': {v}" for k, v in sorted(shape.items())) + "}"


def _pg_bundles(pg: dict) -> list[tuple[dict, int]]:
    """A pending placement group's distinct bundles with their counts.

    The monitor stores ``{"bundles": [[{"CPU": 8.0}, 1], ...], "strategy": "PACK"}``: each distinct
    bundle shape with how many the group has (``freq_of_dicts`` in Ray's load_metrics.py; 2.49 and
    2.60 alike). A bare bundle dict is taken as one bundle.
    """
    out = []
    for entry in pg.get("bundles") or []:
        if isinstance(entry, dict):
            out.append((dict(entry), 1))
        elif isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], dict):
            out.append((dict(entry[0]), int(entry[1])))
    return out


def _pg_shape(pg: dict) -> str:
    """Like ``ray status``: ``{'CPU': 8.0} * 1 (PACK)``."""
    strategy = pg.get("strategy", "")
    shapes = ", ".join(f"{_shape(b)} * {n}" for b, n in _pg_bundles(pg))
    return shapes + (f" ({strategy})" if strategy else "")


def apply_cluster_status(snap: ClusterSnapshot, cs) -> None:
    """Per-node idle time and CPU usage from the GCS's cluster status (autoscaler v1 or v2)."""
    by_id = {n.node_id: n for n in snap.nodes}
    for info, idle in [(i, False) for i in cs.active_nodes] + [(i, True) for i in cs.idle_nodes]:
        node = by_id.get(info.node_id)
        if node is None:
            continue
        node.idle_ms = int(info.resource_usage.idle_time_ms or 0) if idle else 0
        for u in info.resource_usage.usage:
            if u.resource_name == "CPU":
                node.cpus_used = float(u.used)
    if snap.autoscaler is not None and snap.autoscaler.autoscaler_version == "v2":
        facts = snap.autoscaler
        facts.report_present = True  # v2: the GCS cluster status is the report `ray status` prints
        facts.report_age_s = None
        if not facts.usage:
            for u in getattr(cs, "cluster_resource_usage", []) or []:
                if not u.resource_name.startswith("node:"):
                    facts.usage[u.resource_name] = (float(u.used), float(u.total))
        for p in getattr(cs, "pending_launches", []) or []:
            facts.pending.append(
                PendingNode(
                    node_type=p.ray_node_type_name or p.instance_type_name, status="launching", count=int(p.count or 1)
                )
            )
        for n in getattr(cs, "pending_nodes", []) or []:
            facts.pending.append(
                PendingNode(node_type=n.ray_node_type_name, status=n.details or "pending", ip=n.ip_address or None)
            )
        for f in getattr(cs, "failed_launches", []) or []:
            facts.failures.append(FailedNode(node_type=f.ray_node_type_name or f.instance_type_name, reason=f.details))
        for n in getattr(cs, "failed_nodes", []) or []:
            facts.failures.append(
                FailedNode(
                    node_type=n.ray_node_type_name, ip=n.ip_address or None, reason=n.details or "NodeTerminated"
                )
            )
        facts.idle_nodes = {}
        for n in cs.idle_nodes:
            t = n.ray_node_type_name
            facts.idle_nodes[t] = facts.idle_nodes.get(t, 0) + 1


def apply_autoscaling(snap: ClusterSnapshot, cfg: dict | None) -> None:
    if not cfg or snap.autoscaler is None:
        return
    if cfg.get("error"):
        snap.notes.append(f"autoscaling config: {cfg['error']}")
        return
    a = snap.autoscaler
    a.provider = cfg.get("provider")
    if cfg.get("idle_timeout_minutes") is not None:
        a.idle_timeout_minutes = float(cfg["idle_timeout_minutes"])
    if cfg.get("max_workers") is not None:
        a.max_workers = int(cfg["max_workers"])
