"""The result of a diagnosis: the snapshot, the check results, the JSON and Markdown views."""

from __future__ import annotations

from dataclasses import dataclass

from raybot import exit_codes
from raybot.diagnose.checks import CheckResult, fmt_age, fmt_bytes
from raybot.diagnose.snapshot import ClusterSnapshot

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
                    "is_head": n.is_head,
                    "alive": n.alive,
                    "cpus": n.cpus_total,
                    "cpus_available": n.cpus_available,
                    "idle_ms": n.idle_ms,
                    "process_source": n.process_source,
                    "idle_workers": len(idle) if seen else None,
                    "idle_worker_private_bytes": private,
                    "debug_state_idle_workers": (n.debug_state.num_idle_workers if n.debug_state else None),
                    "processes": [_process_dict(p) for p in n.processes if p.kind in ("idle", "io-idle", "active")]
                    if seen
                    else None,
                }
            )
        return out

    def to_dict(self) -> dict:
        s = self.snapshot
        return {
            "ray_version": s.ray_version,
            "address": s.address,
            "origin": s.origin,
            "collected_at": s.collected_at,
            "system_config": s.system_config,
            "nodes": self.node_dicts(),
            "checks": [r.to_dict() for r in self.results],
            "summary": self.counts,
            "gaps": [{"source": g.source, "reason": g.reason, "hint": g.hint} for g in s.gaps],
            "notes": list(s.notes),
        }

    def summary_markdown(self) -> str:
        """A short Markdown summary of the non-ok findings: the first turn of a chat thread."""
        s = self.snapshot
        where = s.address or "a pasted `ray status`"
        version = f", Ray {s.ray_version}" if s.ray_version else ""
        c = self.counts
        lines = [
            f"**raybot diagnose** of {where}{version}: {c['fail']} failed, {c['warn']} "
            f"warnings, {c['error']} could not check, {c['info']} info, {c['ok']} ok.",
            "",
        ]
        if s.nodes:

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
                lines.append(f"  - {ev.strip()}")
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
