"""The check registry: ``@check(id, title, needs=..., entries=...)`` and :func:`run_checks`.

A check is a pure function of the snapshot that returns a :class:`CheckResult` (or a list).
``needs`` names the facts it reads; :func:`run_checks` looks each one up in :data:`NEEDS` first
and, when one is missing, reports "could not check" with the reason instead of calling the check.
That is the one place where missing data becomes "could not check": a pasted ``ray status``
without an ``Idle:`` section, a cluster whose autoscaler report is absent or stale, a state API
that did not answer. A check therefore never sees data it cannot trust.

Statuses: ``ok`` (checked, fine), ``info`` (worth knowing), ``warn`` (likely a problem), ``fail``
(a problem; ``raybot diagnose`` exits 1), ``error`` (could not check).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from raybot import ray_defaults
from raybot.diagnose.model import ClusterSnapshot

STATUSES = ("ok", "info", "warn", "fail", "error")
#: an autoscaler report older than this is stale: the monitor writes one every
#: AUTOSCALER_UPDATE_INTERVAL_S (5 s), so 12 missed updates mean it stopped
REPORT_STALE_S = 12.0 * ray_defaults.AUTOSCALER_UPDATE_INTERVAL_S


@dataclass
class CheckResult:
    id: str = ""
    status: str = "ok"
    title: str = ""
    value: str | None = None  #: what was measured
    threshold: str | None = None  #: what it is compared with
    evidence: list[str] = field(default_factory=list)
    why: str | None = None
    command: str | None = None  #: a command that shows the evidence
    fix: str | None = None  #: computed for this cluster
    entries: list[str] = field(default_factory=list)  #: knowledge-base entry ids

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "title": self.title,
            "value": self.value,
            "threshold": self.threshold,
            "evidence": list(self.evidence),
            "why": self.why,
            "command": self.command,
            "fix": self.fix,
            "entries": list(self.entries),
        }


@dataclass
class Missing:
    """Why a fact a check needs is not in the snapshot."""

    value: str
    why: str | None = None
    evidence: list[str] = field(default_factory=list)
    fix: str | None = None


CheckFn = Callable[[ClusterSnapshot], "CheckResult | list[CheckResult]"]


@dataclass
class Check:
    id: str
    title: str
    fn: CheckFn
    needs: tuple[str, ...] = ()
    entries: tuple[str, ...] = ()


CHECKS: list[Check] = []


def check(id: str, title: str, *, needs: tuple[str, ...] = (), entries: tuple[str, ...] = ()):
    """Register a check. ``needs`` are keys of :data:`NEEDS`; ``entries`` are the kb entries a
    result links to unless it names its own."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise ValueError(f"check {id}: unknown needs {unknown}")

    def register(fn: CheckFn) -> CheckFn:
        CHECKS.append(Check(id, title, fn, tuple(needs), tuple(entries)))
        return fn

    return register


def missing_for(snap: ClusterSnapshot, needs: tuple[str, ...]) -> list[Missing]:
    out = []
    for need in needs:
        m = NEEDS[need](snap)
        if m is not None:
            out.append(m)
    return out


def run_check(c: Check, snapshot: ClusterSnapshot) -> list[CheckResult]:
    """One check's results: "could not check" when a need is missing, else what it returns."""
    missing = missing_for(snapshot, c.needs)
    if missing:
        first = missing[0]
        rest = [ev for m in missing[1:] for ev in [m.value, *m.evidence]]
        evidence = list(dict.fromkeys(first.evidence + rest))
        out: CheckResult | list[CheckResult] = CheckResult(
            status="error", value=first.value, why=first.why, evidence=evidence, fix=first.fix
        )
    else:
        try:
            out = c.fn(snapshot)
        except Exception as exc:
            if getattr(sys, "_called_from_test", False):
                raise
            out = CheckResult(status="error", value=f"the check crashed: {type(exc).__name__}: {exc}")
    results = [out] if isinstance(out, CheckResult) else list(out)
    for r in results:
        r.id = r.id or c.id
        r.title = r.title or c.title
        if not r.entries:
            r.entries = list(c.entries)
    return results


def run_checks(snapshot: ClusterSnapshot) -> list[CheckResult]:
    return [r for c in CHECKS for r in run_check(c, snapshot)]


# ---------------------------------------------------------------------------------------------
# What each need means, per origin (live cluster, pasted `ray status`, logs folder)
# ---------------------------------------------------------------------------------------------

#: the facts a pasted ``ray status`` may hold, by need, and the labels that carry them
PASTE_SECTIONS = {
    "node-counts": ("nodes", "Healthy:/Active: or 'node(s) with resources'"),
    "node-idle-time": ("idle", "Idle: (or the per-node Idle time of `ray status -v`)"),
    "pending-nodes": ("pending", "Pending:"),
    "failures": ("failures", "Recent failures:"),
    "usage": ("usage", "Usage:/Total Usage:"),
    "demands": ("demands", "Demands:/Total Demands:/Pending Demands:"),
}

_NOT_IN_STATUS = {
    "processes": "worker processes",
    "system-config": "the cluster's settings (_system_config, RAY_* variables)",
    "dead-workers": "dead workers and why they exited",
    "objects": "object references",
    "ray-version": "the Ray version",
    "node-table": "the GCS node table (dead nodes and why they died)",
    "logs": "log lines",
    "pending-work": "how long tasks, actors and placement groups have been pending",
}


def _paste(snap: ClusterSnapshot, need: str) -> Missing | None:
    layout = f"layout: {snap.status_layout or 'unknown'}"
    if need in _NOT_IN_STATUS:
        return Missing(
            value="not in `ray status` output",
            why=f"`ray status` shows nodes and resources, not {_NOT_IN_STATUS[need]}.",
            evidence=[layout],
            fix=f"run `raybot diagnose --address {snap.address or 'HOST:6379'}` where the cluster is reachable",
        )
    if need not in PASTE_SECTIONS:
        return None
    section, labels = PASTE_SECTIONS[need]
    p = snap.paste
    if p is not None and p.has(section):
        return None
    cut = [f"the paste looks cut off: {c}" for c in (p.cut_off if p else [])]
    return Missing(
        value=f"no {labels.split(' ')[0]} section in this layout",
        why=f"The pasted `ray status` has no {labels} section, so this cannot be seen in it.",
        evidence=[layout] + cut,
        fix="paste the whole output of `ray status` (or `ray status -v`) from a current Ray",
    )


def _logs_folder(snap: ClusterSnapshot, need: str) -> Missing | None:
    if need == "logs":
        return None
    return Missing(
        value="not in a logs folder",
        why="`--logs DIR` reads only the log files; settings, processes and the autoscaler's view need the cluster.",
        fix="run `raybot diagnose --address HOST:6379` where the cluster is reachable",
    )


def _gap_evidence(snap: ClusterSnapshot, *sources: str) -> list[str]:
    return [
        f"{g.source}: {g.reason}"
        for g in snap.gaps
        if any(g.source == s or g.source.startswith(s + ":") for s in sources)
    ]


def _gap_hint(snap: ClusterSnapshot, *sources: str) -> str | None:
    for s in sources:
        g = snap.gap(s)
        if g is not None and g.hint:
            return g.hint
    return None


def _live(snap: ClusterSnapshot, need: str) -> Missing | None:
    if need == "processes":
        if any(n.processes is not None for n in snap.alive_nodes):
            return None
        return Missing(
            "no process facts collected",
            evidence=_gap_evidence(snap, "processes") or ["no node's raylet was found on this machine"],
            fix="run raybot on a node of the cluster, or without --local-only",
        )
    if need == "system-config":
        if snap.system_config is not None:
            return None
        return Missing("system config unknown", evidence=_gap_evidence(snap, "system-config"))
    if need in ("dead-workers", "objects"):
        if getattr(snap, need.replace("-", "_")) is not None:
            return None
        return Missing(
            f"{need.replace('-', ' ')} not listed",
            evidence=_gap_evidence(snap, need, "state-api"),
            fix=_gap_hint(snap, need, "state-api"),
        )
    if need == "pending-work":
        if snap.pending_work is not None:
            return None
        sources = ("pending-tasks", "pending-actors", "pending-placement-groups", "state-api")
        return Missing(
            "pending tasks, actors and placement groups not listed",
            evidence=_gap_evidence(snap, *sources),
            fix=_gap_hint(snap, *sources),
        )
    if need == "ray-version":
        if snap.ray_version:
            return None
        return Missing("cluster version unknown", evidence=_gap_evidence(snap, "ray-version"))
    if need == "node-table":
        if snap.gap("nodes") is None and snap.nodes:
            return None
        return Missing("node table not read", evidence=_gap_evidence(snap, "nodes", "gcs"))
    if need == "node-idle-time":
        if any(n.idle_ms is not None for n in snap.alive_nodes):
            return None
        return Missing("node idle times unknown", evidence=_gap_evidence(snap, "node-idle-time"))
    if need == "logs":
        if snap.logs is not None and snap.logs.nodes:
            return None
        return Missing(
            "logs not scanned",
            evidence=_gap_evidence(snap, "logs") or ["no node's session logs were reachable"],
            fix="run raybot on a node of the cluster, or `raybot diagnose --logs DIR` on a copy of its logs",
        )
    # the autoscaler's report: node counts, pending nodes, failures, usage, demands
    a = snap.autoscaler
    if a is None or not a.report_present:
        return Missing(
            "no autoscaler report",
            why=(
                "The GCS holds no autoscaler report (`__autoscaling_status`): the head's monitor "
                "process is not running or has not reported yet, so pending nodes, failures, "
                "demands and usage are unknown. `ray status` shows the same gap."
            ),
            evidence=_gap_evidence(snap, "autoscaler"),
            fix="look at monitor.log / monitor.err in the head's session logs (logs/ under the session dir)",
        )
    if a.report_age_s is not None and a.report_age_s > REPORT_STALE_S:
        from raybot.diagnose.checks.util import fmt_age

        return Missing(
            f"autoscaler report is stale ({fmt_age(a.report_age_s)} old)",
            why=(
                f"The monitor rewrites its report every {ray_defaults.AUTOSCALER_UPDATE_INTERVAL_S} s; "
                f"this one is {fmt_age(a.report_age_s)} old, so the monitor has stopped or hangs and "
                "its figures may no longer hold."
            ),
            evidence=[f"report age: {a.report_age_s:.0f}s (stale after {REPORT_STALE_S:.0f}s)"],
            fix="look at monitor.log / monitor.err in the head's session logs; restarting the head restarts it",
        )
    if need == "usage" and not a.usage:
        return Missing("no resource usage in the autoscaler report")
    return None


def _make(need: str) -> Callable[[ClusterSnapshot], Missing | None]:
    def lookup(snap: ClusterSnapshot) -> Missing | None:
        if snap.origin == "status-text":
            return _paste(snap, need)
        if snap.origin == "logs":
            return _logs_folder(snap, need)
        return _live(snap, need)

    lookup.__name__ = f"need_{need.replace('-', '_')}"
    return lookup


#: need -> function returning :class:`Missing` or ``None`` (present)
NEEDS: dict[str, Callable[[ClusterSnapshot], Missing | None]] = {
    need: _make(need)
    for need in (
        "processes",
        "system-config",
        "dead-workers",
        "objects",
        "ray-version",
        "node-table",
        "node-idle-time",
        "node-counts",
        "autoscaler-report",
        "pending-nodes",
        "failures",
        "usage",
        "demands",
        "logs",
        "pending-work",
    )
}
