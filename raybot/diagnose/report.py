"""The result of a diagnosis: the snapshot, the check results, the JSON and Markdown views."""

from __future__ import annotations

from dataclasses import dataclass

from raybot import exit_codes
from raybot.diagnose.checks import CheckResult, fmt_age, fmt_bytes
from raybot.diagnose.model import ClusterSnapshot
from raybot.diagnose.textsafe import clean

#: evidence lines kept per check in the JSON report and the thread summary
MAX_EVIDENCE = 40

MARKS = {"ok": "✓", "info": "i", "warn": "!", "fail": "✗", "error": "?"}
ORDER = {"fail": 0, "warn": 1, "error": 2, "info": 3, "ok": 4}


@dataclass
class Diagnosis:
    snapshot: ClusterSnapshot
    results: list[CheckResult]

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("fail", "warn", "error", "info", "ok"), 0)
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    @property
    def exit_code(self) -> int:
        return exit_codes.FINDINGS if self.counts["fail"] else exit_codes.OK

    @property
    def findings(self) -> list[CheckResult]:
        """Non-ok results, worst first."""
        return sorted((r for r in self.results if r.status != "ok"), key=lambda r: ORDER[r.status])

    def node_dicts(self) -> list[dict]:
        out = []
        for n in self.snapshot.nodes:
            seen = n.processes is not None
            idle = n.idle_workers
            private = sum(p.private_bytes or 0 for p in idle) if seen else None
            out.append(
                {
                    "node_id": n.node_id,
                    "ip": n.ip,
                    "node_type": n.node_type,
                    "death_reason": n.death_reason,
                    "death_message": n.death_message,
                    "is_head": n.is_head,
                    "alive": n.alive,
                    "cpus": n.cpus_total,
                    "cpus_available": n.cpus_available,
                    "idle_ms": n.idle_ms,
                    "process_source": n.process_source,
                    "idle_workers": len(idle) if seen else None,
                    "idle_worker_private_bytes": private,
                    "debug_state_idle_workers": (n.debug_state.num_idle_workers if n.debug_state else None),
                    "processes": [
                        _process_dict(p) for p in n.processes or [] if p.kind in ("idle", "io-idle", "active")
                    ]
                    if seen
                    else None,
                }
            )
        return out

    def cluster_dict(self) -> dict:
        """What the autoscaler's view (or the paste) says: nodes by type, resources, pending nodes,
        failures and demands. ``None`` for a part the source does not hold."""
        s = self.snapshot
        a = s.autoscaler
        if a is None or not a.report_present:
            return {"nodes_by_type": None, "resources": None, "pending": None, "failures": None, "demands": None}
        p = s.paste

        def has(section: str) -> bool:
            return p is None or p.has(section)

        by_type: dict[str, dict[str, int]] = {}
        for t, c in a.active_nodes.items():
            by_type.setdefault(t, {"active": 0, "idle": 0})["active"] += c
        for t, c in a.idle_nodes.items():
            by_type.setdefault(t, {"active": 0, "idle": 0})["idle"] += c
        return {
            "nodes_by_type": by_type if has("nodes") or has("idle") else None,
            "node_count": sum(v["active"] + v["idle"] for v in by_type.values()) if by_type else None,
            "resources": {k: {"used": u, "total": t} for k, (u, t) in a.usage.items()} if has("usage") else None,
            "pending": [{"node_type": n.node_type, "status": n.status, "ip": n.ip, "count": n.count} for n in a.pending]
            if has("pending")
            else None,
            "failures": [{"node_type": f.node_type, "ip": f.ip, "reason": f.reason} for f in a.failures]
            if has("failures")
            else None,
            "demands": [{"shape": d.shape, "count": d.count, "kind": d.kind} for d in a.demands[: MAX_EVIDENCE * 25]]
            if has("demands") or has("constraints")
            else None,
            "report_age_s": None if a.report_age_s is None else round(a.report_age_s, 1),
        }

    def logs_dict(self) -> dict | None:
        scan = self.snapshot.logs
        if scan is None:
            return None
        return {
            "nodes": list(scan.nodes),
            "files_read": scan.files_read,
            "bytes_read": scan.bytes_read,
            "files_cut": scan.files_cut,
            "files_skipped": scan.files_skipped,
            "signatures": scan.signatures,
            "findings": [
                {
                    "signature": f.signature,
                    "node": f.node,
                    "count": f.count,
                    "first_time": f.first_time,
                    "last_time": f.last_time,
                    "sample": f.sample,
                    "files": list(f.files),
                    "entries": list(f.entries),
                    "topic": f.topic,
                    "source": f.source,
                }
                for f in scan.findings
            ],
            "errors": list(scan.errors),
        }

    def pending_dict(self) -> dict | None:
        """The tasks, actors and placement groups waiting to be scheduled (``None``: not listed)."""
        from raybot.diagnose.checks.pending import pending_after

        work = self.snapshot.pending_work
        if work is None:
            return None
        items = sorted(work, key=lambda w: -(w.waited_s or 0.0))
        return {
            "after_s": pending_after(self.snapshot),
            "count": len(work),
            "unlisted": list(self.snapshot.pending_unlisted),  # kinds whose listing failed or was skipped
            "items": [
                {
                    "kind": w.kind,
                    "id": w.id,
                    "name": w.name,
                    "state": w.state,
                    "bundles": [dict(b) for b in w.bundles],
                    "waited_s": _round(w.waited_s),
                    "since": w.since,
                    "job_id": w.job_id,
                    "scheduling_state": w.scheduling_state,
                    "placement_group_id": w.placement_group_id,
                }
                for w in items[: MAX_EVIDENCE * 25]
            ],
        }

    def to_dict(self) -> dict:
        s = self.snapshot
        checks = []
        for r in self.results:
            d = r.to_dict()
            if len(d["evidence"]) > MAX_EVIDENCE:
                d["evidence"] = d["evidence"][:MAX_EVIDENCE] + [f"... and {len(d['evidence']) - MAX_EVIDENCE} more"]
            checks.append(d)
        p = s.paste
        return {
            "ray_version": s.ray_version,
            "address": s.address,
            "address_typed": s.address_typed,
            "origin": s.origin,
            "collected_at": s.collected_at,
            "status_layout": s.status_layout,
            "paste": None
            if p is None
            else {
                "layout": p.layout,
                "header": p.header,
                "timestamp": p.timestamp,
                "labels": list(p.labels),
                "sections": sorted(p.sections),
                "cut_off": list(p.cut_off),
                "lines_skipped": p.lines_skipped,
                "demands_dropped": p.demands_dropped,
            },
            "system_config": s.system_config,
            "cluster": self.cluster_dict(),
            "nodes": self.node_dicts(),
            "logs": self.logs_dict(),
            "pending": self.pending_dict(),
            "checks": checks,
            "summary": self.counts,
            "gaps": [{"source": g.source, "reason": g.reason, "hint": g.hint} for g in s.gaps],
            "notes": list(s.notes),
        }

    def summary_markdown(self) -> str:
        """A short Markdown summary of the non-ok findings: the first turn of a chat thread."""
        s = self.snapshot
        where = s.address or ("a copied logs folder" if s.origin == "logs" else "a pasted `ray status`")
        version = f", Ray {s.ray_version}" if s.ray_version else ""
        c = self.counts
        lines = [
            f"**raybot diagnose** of {where}{version}: {c['fail']} failed, {c['warn']} "
            f"warnings, {c['error']} could not check, {c['info']} info, {c['ok']} ok.",
            "",
        ]
        cl = self.cluster_dict()
        if cl.get("node_count") or cl.get("resources"):
            parts = []
            if cl.get("node_count"):
                parts.append(
                    f"{cl['node_count']} nodes ("
                    + ", ".join(f"{v['active'] + v['idle']} {clean(t)}" for t, v in cl["nodes_by_type"].items())
                    + ")"
                )
            if cl.get("resources"):
                parts.append(
                    ", ".join(
                        f"{v['used']:g}/{v['total']:g} {k}" for k, v in cl["resources"].items() if k in ("CPU", "GPU")
                    )
                )
            lines += ["Cluster: " + "; ".join(p for p in parts if p) + ".", ""]
        if s.nodes and s.origin == "cluster":

            def seen(n) -> str:
                if n.processes is None:
                    return "processes not inspected"
                return f"{len(n.idle_workers)} ray::IDLE"

            nodes = "; ".join(f"{n.label}: {n.cpus_total or 0:g} CPUs, {seen(n)}" for n in s.alive_nodes)
            lines += [f"Nodes: {nodes}.", ""]
        if s.system_config:
            user = {
                k: v
                for k, v in s.system_config.items()
                if k
                not in ("automatic_object_spilling_enabled", "object_spilling_config", "is_external_storage_type_fs")
            }
            if user:
                lines += [f"System config: `{user}`.", ""]
        findings = [r for r in self.findings if r.status != "info"] or self.findings
        if not findings:
            lines.append("No problems found.")
        for r in findings:
            head = f"- **{MARKS[r.status]} {r.title}** ({r.status}, `{r.id}`)"
            if r.value:
                head += f": {r.value}"
            if r.threshold and r.status in ("fail", "warn"):
                head += f" (expected: {r.threshold})"
            lines.append(head)
            for ev in r.evidence[:3]:
                lines.append(f"  - {clean(ev.strip(), keep_newlines=False)[:300]}")
            if r.fix and r.status in ("fail", "warn"):
                fix_lines = [ln.strip() for ln in r.fix.splitlines() if ln.strip()]
                first = next((ln for ln in fix_lines if not ln.startswith("#")), "")
                cmds = [ln for ln in fix_lines if ln.startswith(("ray ", "RAY_", "@ray"))]
                lines.append(f"  - fix: {first.strip()}")
                for cmd in cmds[:3]:
                    lines.append(f"    `{cmd}`")
            if r.entries:
                lines.append(f"  - kb: {', '.join(r.entries)}")
        return "\n".join(lines).rstrip() + "\n"


def _process_dict(p) -> dict:
    return {
        "pid": p.pid,
        "title": p.title,
        "kind": p.kind,
        "rss_bytes": p.rss_bytes,
        "shared_bytes": p.shared_bytes,
        "private_bytes": p.private_bytes,
        "cpu_percent": p.cpu_percent,
        "age_s": _round(p.age_s),
        "idle_for_s": _round(p.idle_for_s),
        "idle_for_basis": p.idle_for_basis,
        "job_id": p.job_id,
        "last_task": p.last_task,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


__all__ = ["Diagnosis", "MARKS", "ORDER", "fmt_age", "fmt_bytes"]
