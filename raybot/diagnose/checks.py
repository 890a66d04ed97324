"""The checks: pure functions over a :class:`~raybot.diagnose.snapshot.ClusterSnapshot`.

Each check is registered with ``@check(id, title)`` and returns a list of :class:`CheckResult`
(usually one). A check never does I/O; what the snapshot could not collect becomes an ``error``
("could not check") result with the reason, never an ``ok``.

Statuses: ``ok`` (checked, fine), ``info`` (worth knowing), ``warn`` (likely a problem),
``fail`` (a problem; makes ``raybot diagnose`` exit 1), ``error`` (could not check).

Defaults below are Ray 2.60's, read from ``RayConfig`` in the 2.60 raylet binary
(RAY-FACTS §1.1); the fixes are computed for the cluster in the snapshot.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raybot.diagnose.snapshot import ClusterSnapshot, NodeFacts, ProcessInfo

STATUSES = ("ok", "info", "warn", "fail", "error")

#: Ray 2.60 defaults of the settings the checks reason about.
DEFAULTS: dict[str, Any] = {
    "kill_idle_workers_interval_ms": 200,
    "idle_worker_killing_time_threshold_ms": 1000,
    "num_workers_soft_limit": -1,
    "record_ref_creation_sites": False,
    "memory_usage_threshold": 0.95,
    "memory_monitor_refresh_ms": 250,
}
#: keys ``ray start`` adds to ``_system_config`` by itself; never part of a suggested fix
AUTO_KEYS = {
    "automatic_object_spilling_enabled",
    "object_spilling_config",
    "is_external_storage_type_fs",
    "lineage_pinning_enabled",
}

#: private memory (RSS - shared) of one idle worker worth a warning
IDLE_PRIVATE_WARN = 512 * 1024**2
IDLE_CPU_WARN = 50.0  #: % of a core used by a ray::IDLE process
IDLE_CPU_INFO = 10.0
SLOW_FACTOR = 10  #: a cleanup setting this many times its default is "far above" it
OOM_RECENT_S = 3600.0
DEFAULT_IDLE_TIMEOUT_MIN = 5.0  #: autoscaler default (aws/gcp/azure/local defaults.yaml)


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
class Check:
    id: str
    title: str
    fn: Callable[[ClusterSnapshot], list[CheckResult]]


CHECKS: list[Check] = []


def check(id: str, title: str):
    """Register a check function (``CHECKS.append``)."""

    def register(fn: Callable[[ClusterSnapshot], list[CheckResult]]):
        CHECKS.append(Check(id, title, fn))
        return fn

    return register


def run_checks(snapshot: ClusterSnapshot) -> list[CheckResult]:
    results: list[CheckResult] = []
    for c in CHECKS:
        try:
            out = c.fn(snapshot)
        except Exception as exc:
            if getattr(sys, "_called_from_test", False):
                raise
            out = [CheckResult(status="error", value=f"the check crashed: {type(exc).__name__}: {exc}")]
        for r in out:
            r.id = r.id or c.id
            r.title = r.title or c.title
            results.append(r)
    return results


# ---------------------------------------------------------------------------------------------
# Helpers (pure)
# ---------------------------------------------------------------------------------------------


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB", "MiB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def fmt_age(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def _parse(value: str, default: Any) -> Any:
    if isinstance(default, bool):
        return value.strip().lower() in ("true", "1")
    try:
        return type(default)(value) if not isinstance(default, float) else float(value)
    except ValueError:
        return value


@dataclass
class Setting:
    name: str
    value: Any
    source: str  #: ``system config``, ``RAY_<name> on <node>``, or ``default``
    default: Any

    @property
    def is_default(self) -> bool:
        return self.source == "default"


def effective(snap: ClusterSnapshot, name: str, node: NodeFacts | None = None) -> Setting | None:
    """The value the raylet on ``node`` uses: system config > ``RAY_<name>`` env > default.

    ``None`` when it cannot be known (the system config was not collected).
    """
    default = DEFAULTS[name]
    if snap.system_config is None:
        return None
    if name in snap.system_config:
        return Setting(name, snap.system_config[name], "system config", default)
    env = (node.raylet_env or {}) if node is not None else {}
    if f"RAY_{name}" in env:
        value = _parse(env[f"RAY_{name}"], default)
        return Setting(name, value, f"RAY_{name} on {node.label}", default)
    return Setting(name, default, "default", default)


def soft_limit(snap: ClusterSnapshot, node: NodeFacts) -> tuple[int | None, str]:
    """The number of idle workers the raylet keeps on ``node``, and how it was derived."""
    s = effective(snap, "num_workers_soft_limit", node)
    if s is not None and isinstance(s.value, (int, float)) and s.value >= 0:
        return int(s.value), f"num_workers_soft_limit={int(s.value)} ({s.source})"
    if node.cpus_available is not None and node.cpus_used is not None:
        n = math.floor(node.cpus_available)
        return n, f"floor(available CPUs) = {n} of {node.cpus_total:g}"
    if node.cpus_total is not None:
        n = math.floor(node.cpus_total)
        return n, f"at most floor(total CPUs) = {n} (CPU usage unknown)"
    return None, "unknown (no CPU count)"


def _port(address: str | None) -> str:
    if address and ":" in address:
        return address.rsplit(":", 1)[1]
    return "6379"


def _head(snap: ClusterSnapshot) -> NodeFacts | None:
    for n in snap.alive_nodes:
        if n.is_head:
            return n
    return None


def _json_config(cfg: dict[str, Any]) -> str:
    import json

    return json.dumps(cfg, separators=(", ", ": "))


def system_config_fix(snap: ClusterSnapshot, set_: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    """The ``ray start`` lines for the head with the user's other system-config keys kept."""
    cfg = {
        k: v
        for k, v in (snap.system_config or {}).items()
        if k not in AUTO_KEYS and k not in drop and not _harmful(k, v)
    }
    cfg.update(set_)
    head = _head(snap)
    cpus = ""
    if head is not None and head.cpus_total is not None:
        cpus = f" --num-cpus={head.cpus_total:g}"
    flag = f" --system-config='{_json_config(cfg)}'" if cfg else ""
    lines = [
        "# on the head node (keep your other `ray start` flags):",
        "ray stop",
        f"ray start --head --port={_port(snap.address)}{cpus}{flag}",
    ]
    if len(snap.alive_nodes) > 1:
        lines += [
            "# then on every other node (no --system-config there: it reaches every raylet",
            "# through the GCS, and a worker node rejects it):",
            f"ray stop && ray start --address={snap.address}",
        ]
    return "\n".join(lines)


def _harmful(key: str, value: Any) -> bool:
    """A setting no suggested fix should carry over: reaping off, or cleanup slowed 10×."""
    if key == "kill_idle_workers_interval_ms" and isinstance(value, (int, float)) and value <= 0:
        return True
    if key in ("kill_idle_workers_interval_ms", "idle_worker_killing_time_threshold_ms"):
        return isinstance(value, (int, float)) and value >= SLOW_FACTOR * DEFAULTS[key]
    return False


def _no_process_data(snap: ClusterSnapshot) -> CheckResult | None:
    """A could-not-check result when no node has process facts."""
    if snap.origin == "status-text":
        return CheckResult(
            status="error",
            value="not in `ray status` output",
            why="`ray status` shows nodes and resources, not worker processes or settings.",
            fix=f"run `raybot diagnose --address {snap.address or 'HOST:6379'}` where the cluster is reachable",
        )
    if not any(n.processes is not None for n in snap.alive_nodes):
        gaps = [f"{g.source}: {g.reason}" for g in snap.gaps if g.source.startswith("processes")]
        return CheckResult(
            status="error",
            value="no process facts collected",
            evidence=gaps or ["no node's raylet was found on this machine"],
            fix="run raybot on a node of the cluster, or without --local-only",
        )
    return None


def _unchecked_nodes(snap: ClusterSnapshot) -> list[NodeFacts]:
    return [n for n in snap.alive_nodes if n.processes is None]


def _finish(result: CheckResult, snap: ClusterSnapshot, *, problem: bool) -> CheckResult:
    """If nothing was found but some nodes were not inspected, say "could not check"."""
    missing = _unchecked_nodes(snap)
    if missing:
        labels = ", ".join(n.label for n in missing)
        result.evidence.append(f"not inspected: {labels}")
        if not problem:
            result.status = "error"
            total = len(snap.alive_nodes)
            result.value = f"{total - len(missing)} of {total} nodes checked"
    return result


def _proc_line(p: ProcessInfo, *, mem: bool = True) -> str:
    parts = [f"pid {p.pid} {p.title}"]
    if p.idle_for_s is not None:
        basis = f" ({p.idle_for_basis})" if p.idle_for_basis else ""
        parts.append(f"idle {fmt_age(p.idle_for_s)}{basis}")
    if mem and p.rss_bytes is not None:
        priv = f", private {fmt_bytes(p.private_bytes)}" if p.private_bytes is not None else ""
        parts.append(f"RSS {fmt_bytes(p.rss_bytes)}{priv}")
    if p.job_id:
        parts.append(f"job {p.job_id}")
    if p.last_task:
        parts.append(f"last task {p.last_task}")
    return ", ".join(parts)


def _cap(lines: list[str], n: int = 8) -> list[str]:
    return lines if len(lines) <= n else lines[:n] + [f"... and {len(lines) - n} more"]


def _ps_command(node: NodeFacts) -> str:
    if node.raylet_pid:
        return f"ps -o pid,rss,etimes,pcpu,args --ppid {node.raylet_pid} | grep 'ray::'"
    return "ps -eo pid,ppid,rss,etimes,pcpu,args | grep 'ray::IDLE'"


def _version_tuple(v: str | None) -> tuple[int, ...] | None:
    if not v:
        return None
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", v)
    return tuple(int(x or 0) for x in m.groups()) if m else None


def _dead_jobs(snap: ClusterSnapshot) -> set[str]:
    return {j.job_id for j in snap.jobs or [] if j.is_dead}


def _reaping_off(snap: ClusterSnapshot, node: NodeFacts) -> bool:
    s = effective(snap, "kill_idle_workers_interval_ms", node)
    return s is not None and isinstance(s.value, (int, float)) and s.value <= 0


def _autoscaling(a) -> bool:
    """Whether something adds and removes nodes (a cloud provider config, or autoscaler v2)."""
    return a is not None and (a.provider not in (None, "readonly") or a.autoscaler_version == "v2")


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


@check("reaping-disabled", "Idle-worker reaping")
def check_reaping_disabled(snap: ClusterSnapshot) -> list[CheckResult]:
    if snap.origin == "status-text":
        return [_no_process_data(snap)]
    threshold = "> 0 ms (default 200)"
    if snap.system_config is None:
        g = snap.gap("system-config")
        return [
            CheckResult(
                status="error",
                value="system config unknown",
                threshold=threshold,
                evidence=[g.reason] if g else [],
                entries=["kill-idle-workers-interval-ms"],
            )
        ]
    off: list[tuple[NodeFacts, Setting]] = []
    settings = []
    for n in snap.alive_nodes or [None]:
        s = effective(snap, "kill_idle_workers_interval_ms", n)
        settings.append(s)
        if s is not None and isinstance(s.value, (int, float)) and s.value <= 0:
            off.append((n, s))
    if not off:
        s = settings[0]
        env_note = (
            ""
            if all(n.raylet_env is not None for n in snap.alive_nodes)
            else " (raylet environment not read on every node)"
        )
        return [
            CheckResult(
                status="ok",
                value=f"kill_idle_workers_interval_ms={s.value} ({s.source}){env_note}",
                threshold=threshold,
            )
        ]
    s0 = off[0][1]
    from_config = s0.source == "system config"
    value = (
        f"kill_idle_workers_interval_ms={s0.value} (system config)"
        if from_config
        else f"RAY_kill_idle_workers_interval_ms={s0.value} on {len(off)} node(s)"
    )
    evidence = [f"setting: {s.source}" for _, s in off[: 1 if from_config else None]]
    if from_config:
        evidence[0] = (
            f"the cluster's _system_config has kill_idle_workers_interval_ms={s0.value} "
            f"(read from the {snap.system_config_source})"
        )
    dead = _dead_jobs(snap)
    commands = []
    for n, _ in off:
        if n is None or n.processes is None:
            continue
        idle = n.idle_workers
        orphans = [p for p in idle if p.job_id in dead]
        line = f"{len(idle)} ray::IDLE process(es) on {n.label}"
        if idle:
            line += f" holding {fmt_bytes(sum(p.rss_bytes or 0 for p in idle))} RSS"
        evidence.append(line)
        if orphans:
            jobs = ", ".join(sorted({p.job_id for p in orphans}))
            evidence.append(
                f"{len(orphans)} of them belong to finished job(s) {jobs}: a running "
                "reaper force-kills those within one interval"
            )
        if n.debug_state and n.debug_state.num_idle_workers is not None:
            ds = n.debug_state
            evidence.append(
                f"debug_state.txt on {n.short_id}: num idle workers: {ds.num_idle_workers} ({fmt_age(ds.age_s)} old)"
            )
            commands.append(f"grep 'num idle workers' {n.debug_state.path}")
        commands.append(_ps_command(n))
    if from_config:
        commands.insert(0, "ps -o args= -C gcs_server | tr ' ' '\\n' | sed -n 's/^--config_list=//p' | base64 -d; echo")
        fix = (
            "Restart the cluster without the override; the default (200 ms) turns the reaper "
            "back on.\n" + system_config_fix(snap, {}, drop=("kill_idle_workers_interval_ms",))
        )
    else:
        commands.insert(0, "tr '\\0' '\\n' < /proc/$(pgrep -x raylet | head -1)/environ | grep RAY_kill_idle")
        nodes = ", ".join(n.label for n, _ in off)
        fix = (
            "Remove RAY_kill_idle_workers_interval_ms from the environment of `ray start` on "
            f"{nodes}, then restart Ray there:\n"
            "unset RAY_kill_idle_workers_interval_ms\n"
            f"ray stop && ray start --address={snap.address}"
        )
    head = _head(snap)
    if head is not None:
        limit, how = soft_limit(snap, head)
        if limit is not None:
            fix += (
                f"\nAfter that, {head.label} keeps at most {limit} idle worker(s) ({how}); "
                "the others are killed about 1 s after they go idle, and a finished job's "
                "workers at once."
            )
    return [
        CheckResult(
            status="fail",
            value=value,
            threshold=threshold,
            evidence=evidence,
            why=(
                "kill_idle_workers_interval_ms is how often the raylet's idle-worker reaper runs, "
                'and 0 does not mean "kill at once": it switches the reaper off ("Value of 0 '
                'means worker capping is disabled"). Idle workers are then never killed: not above '
                "num_workers_soft_limit, not after idle_worker_killing_time_threshold_ms, not even "
                "when their job has finished. Every ray::IDLE process keeps its memory until `ray "
                "stop`."
            ),
            command="\n".join(dict.fromkeys(commands)),
            fix=fix,
            entries=["kill-idle-workers-interval-ms", "set-ray-system-config", "faster-idle-worker-cleanup"],
        )
    ]


@check("idle-workers-over-soft-limit", "Idle workers vs. the soft limit")
def check_idle_over_soft_limit(snap: ClusterSnapshot) -> list[CheckResult]:
    nodata = _no_process_data(snap)
    if nodata:
        nodata.entries = ["num-workers-soft-limit"]
        return [nodata]
    over, values, evidence, commands = [], [], [], []
    thresholds = []
    for n in snap.alive_nodes:
        if n.processes is None:
            continue
        limit, how = soft_limit(snap, n)
        idle = n.idle_workers
        thresholds.append(f"{n.short_id}: ≤ {limit if limit is not None else '?'} ({how})")
        if limit is None:
            continue
        thr = effective(snap, "idle_worker_killing_time_threshold_ms", n)
        grace = max(5.0, 5 * ((thr.value if thr else 1000) / 1000.0))
        stale = [p for p in idle if (p.idle_for_s if p.idle_for_s is not None else (p.age_s or 0)) >= grace]
        if len(idle) > limit:
            values.append(f"{len(idle)} idle on {n.short_id} > {limit}")
        if len(idle) > limit and len(stale) > limit:
            over.append(n)
            evidence.append(
                f"{n.label}: {len(idle)} ray::IDLE processes, soft limit {limit} "
                f"({how}), {len(stale)} idle for more than {fmt_age(grace)}"
            )
            stale.sort(key=lambda p: -(p.idle_for_s or 0))
            evidence += _cap(["  " + _proc_line(p) for p in stale], 6)
            if n.debug_state and n.debug_state.num_idle_workers is not None:
                evidence.append(f"  debug_state.txt: num idle workers: {n.debug_state.num_idle_workers}")
                commands.append(f"grep 'num idle workers' {n.debug_state.path}")
            commands.append(_ps_command(n))
    total_idle = sum(len(n.idle_workers) for n in snap.alive_nodes)
    if not over:
        if values:
            value = "; ".join(values) + " (transient: idle for a few seconds only)"
        else:
            value = f"{total_idle} idle worker(s), within the limit"
        r = CheckResult(
            status="info" if values else "ok",
            value=value,
            threshold="; ".join(thresholds),
            entries=["num-workers-soft-limit"],
        )
        return [_finish(r, snap, problem=False)]
    reaping_off = any(_reaping_off(snap, n) for n in over)
    if reaping_off:
        why = (
            "The raylet keeps at most num_workers_soft_limit idle workers per node (default: "
            "the available CPUs, rounded down) and kills the rest once idle for "
            "idle_worker_killing_time_threshold_ms, but only while its reaper runs, and the "
            "reaper is off here (see reaping-disabled)."
        )
        fix = "Turn reaping back on; see the fix under reaping-disabled."
    else:
        why = (
            "The raylet keeps at most num_workers_soft_limit idle workers per node (default: "
            "the available CPUs, rounded down) and asks the others to exit once idle for "
            "idle_worker_killing_time_threshold_ms. Workers that stay above the limit long "
            'after that are refusing: a worker that owns or borrows ObjectRefs answers "not '
            'idle" and goes back to the end of the idle list (see '
            "idle-workers-holding-references)."
        )
        fix = (
            "Find and drop the references these workers hold (see "
            f"idle-workers-holding-references):\nray memory --address {snap.address} "
            "--group-by NODE_ADDRESS --sort-by PID"
        )
    r = CheckResult(
        status="warn",
        value="; ".join(values),
        threshold="; ".join(thresholds),
        evidence=evidence,
        why=why,
        command="\n".join(dict.fromkeys(commands)),
        fix=fix,
        entries=["num-workers-soft-limit", "idle-worker-killing-policy", "find-idle-workers"],
    )
    return [_finish(r, snap, problem=True)]


@check("idle-worker-memory", "Memory held by idle workers")
def check_idle_memory(snap: ClusterSnapshot) -> list[CheckResult]:
    nodata = _no_process_data(snap)
    if nodata:
        nodata.entries = ["idle-worker-memory-rss-vs-shr"]
        return [nodata]
    threshold = f"< {fmt_bytes(IDLE_PRIVATE_WARN)} private (RSS − shared) per idle worker"
    heavy: list[tuple[NodeFacts, ProcessInfo]] = []
    shared_heavy: list[tuple[NodeFacts, ProcessInfo]] = []
    total_private = 0
    n_idle = 0
    for n in snap.alive_nodes:
        for p in n.idle_workers:
            n_idle += 1
            # where the OS does not report shared memory (macOS), RSS is the best we have
            private = p.private_bytes if p.shared_bytes is not None else p.rss_bytes
            total_private += private or 0
            if private is not None and private >= IDLE_PRIVATE_WARN:
                heavy.append((n, p))
            elif (p.rss_bytes or 0) >= IDLE_PRIVATE_WARN:
                shared_heavy.append((n, p))
    value = f"{n_idle} idle worker(s) hold {fmt_bytes(total_private)} private memory in total"
    if not heavy:
        if shared_heavy:
            n, p = shared_heavy[0]
            r = CheckResult(
                status="info",
                value=value,
                threshold=threshold,
                evidence=_cap([f"{n.short_id}: " + _proc_line(p) for n, p in shared_heavy], 5),
                why=(
                    "These idle workers have a large RSS, but most of it is shared: object-store "
                    "pages mapped into the process, counted by the OS in every worker that "
                    "touched them. That memory is not the worker's and is not freed by killing "
                    "it."
                ),
                command=f"grep -E 'Rss(Anon|File|Shmem)' /proc/{p.pid}/status",
                entries=["idle-worker-memory-rss-vs-shr"],
            )
            return [_finish(r, snap, problem=False)]
        r = CheckResult(status="ok", value=value, threshold=threshold, entries=["idle-worker-memory-rss-vs-shr"])
        return [_finish(r, snap, problem=False)]

    def private_of(p: ProcessInfo) -> int:
        return (p.private_bytes if p.shared_bytes is not None else p.rss_bytes) or 0

    heavy.sort(key=lambda t: -private_of(t[1]))
    n0, p0 = heavy[0]
    value = (
        f"{len(heavy)} idle worker(s) ≥ {fmt_bytes(IDLE_PRIVATE_WARN)} private; largest "
        f"{fmt_bytes(private_of(p0))} (pid {p0.pid} on {n0.short_id}); {value}"
    )
    evidence = _cap([f"{n.short_id}: " + _proc_line(p) for n, p in heavy], 6)
    if any(p.shared_bytes is None for _, p in heavy):
        evidence.append("shared memory is not reported on this OS: RSS used as private memory")
    tasks = sorted({p.last_task for _, p in heavy if p.last_task})
    cpus = n0.cpus_total or 1
    keep = max(int(cpus) // 2, 0)
    fix_lines = []
    if _reaping_off(snap, n0):
        fix_lines.append(
            "First turn idle-worker reaping back on (see reaping-disabled): with the reaper off, nothing below applies."
        )
    task_names = ", ".join(tasks) if tasks else "the task that allocates"
    fix_lines += [
        f"Make the workers that ran {task_names} exit after a few calls, so their memory goes back to the OS:",
        "    @ray.remote(max_calls=10)   # 1 = a fresh process per call",
        f"Or keep fewer idle workers warm: {n0.short_id} has {cpus:g} CPUs, so the default keeps "
        f"up to {int(cpus)}; to keep {keep}:",
        "    " + system_config_fix(snap, {"num_workers_soft_limit": keep}).replace("\n", "\n    "),
        f"    (or only on one node: RAY_num_workers_soft_limit={keep} ray start ... on that node)",
    ]
    v = _version_tuple(snap.ray_version)
    if v is not None and v >= (2, 56):
        fix_lines.append(
            "Ray ≥ 2.56's OOM killer takes idle workers first, but a never-used one "
            "only above RAY_idle_worker_killing_memory_threshold_bytes (1 GiB by "
            "default)."
        )
    r = CheckResult(
        status="warn",
        value=value,
        threshold=threshold,
        evidence=evidence,
        why=(
            "A task worker is reused by later tasks of the same job and keeps what earlier tasks "
            "left in it: imported modules, module-level caches, and heap that the Python "
            "allocator does not return to the OS. RSS overstates it (object-store pages count as "
            "shared), so this check uses RSS − shared, as Ray's docs advise. Idle workers up to "
            "the soft limit are kept indefinitely."
        ),
        command=f"{_ps_command(n0)}\ngrep -E 'Rss(Anon|File|Shmem)' /proc/{p0.pid}/status",
        fix="\n".join(fix_lines),
        entries=[
            "idle-worker-memory-rss-vs-shr",
            "release-idle-worker-memory",
            "max-calls",
            "num-workers-soft-limit",
            "oom-killer",
        ],
    )
    return [_finish(r, snap, problem=True)]


@check("idle-workers-holding-references", "Idle workers that will not exit")
def check_holding_refs(snap: ClusterSnapshot) -> list[CheckResult]:
    nodata = _no_process_data(snap)
    if nodata:
        nodata.entries = ["ray-memory-command"]
        return [nodata]
    threshold = "an idle worker above the soft limit exits about 1 s after it goes idle"
    refusing: list[tuple[NodeFacts, ProcessInfo, str]] = []
    not_observable = []
    draining_evidence = []
    for n in snap.alive_nodes:
        if n.processes is None:
            continue
        interval = effective(snap, "kill_idle_workers_interval_ms", n)
        reaping = interval is None or interval.value > 0
        thr = effective(snap, "idle_worker_killing_time_threshold_ms", n)
        long_idle = max(60.0, 30 * ((thr.value if thr else 1000) / 1000.0))
        limit, _ = soft_limit(snap, n)
        idle = n.idle_workers
        for p in idle:
            if p.not_idle_log:
                refusing.append((n, p, f"its log: {p.not_idle_log}"))
        if reaping and limit is not None and len(idle) > limit:
            logged = {p.pid for _, p, _ in refusing}
            for p in idle:
                if p.pid in logged or p.idle_for_s is None or p.idle_for_s < long_idle:
                    continue
                if (p.idle_for_basis or "").startswith("at most"):
                    continue  # an upper bound proves nothing
                refusing.append((n, p, f"idle {fmt_age(p.idle_for_s)} with {len(idle)} idle > limit {limit}"))
        if not reaping and idle:
            not_observable.append(n)
        ds = n.debug_state
        fresh = ds is not None and ds.num_idle_workers is not None and (ds.age_s or 0) < 30
        # Only workers that were already idle when debug_state.txt was written can be compared
        # with its count: a dump taken while tasks still ran says nothing about them.
        idle_at_dump = [
            p for p in idle if p.idle_for_s is not None and ds is not None and p.idle_for_s > (ds.age_s or 0) + 1
        ]
        if fresh and len(idle_at_dump) > ds.num_idle_workers:
            draining_evidence.append(
                f"{n.label}: {len(idle_at_dump)} ray::IDLE processes idle since before the last "
                f"debug_state.txt dump, but the raylet's idle pool has "
                f"{ds.num_idle_workers}: the others are exiting and wait for their references "
                "(max_calls reached, or an exit request)"
            )
    refs_cmd = (
        f"ray memory --address {snap.address} --group-by NODE_ADDRESS --sort-by PID\n"
        f"ray summary objects --address {snap.address}"
    )
    if refusing or draining_evidence:
        evidence = [
            f"{n.short_id}: pid {p.pid} ({p.last_task or 'no task'}, job {p.job_id or '?'}): {why}"
            for n, p, why in refusing
        ]
        evidence = _cap(evidence, 6)
        evidence += draining_evidence
        holders = [o for o in snap.objects or [] if o.holder_type == "DRIVER"]
        if holders:
            evidence.append(
                f"{len(holders)} object reference(s) held by drivers right now, e.g. "
                f"{holders[0].object_id[:16]}… ({holders[0].reference_type}, pid "
                f"{holders[0].pid})"
            )
        logs = [
            f"grep -h 'not idle\\|still managing' {n.session_dir}/logs/python-core-worker-*_{p.pid}.log"
            for n, p, _ in refusing[:2]
            if n.session_dir
        ]
        fix = (
            "Release the ObjectRefs that keep these workers alive:\n- a worker owns what it "
            "ray.put()s and the refs nested in what it returns; the owner cannot exit while "
            "anyone holds them. Return the value itself instead of a ref to a ray.put inside "
            "the task, or `del` the refs in the driver/actor once done;\n- to see where the "
            "refs were created, start Ray with RAY_record_ref_creation_sites=1 (every node and "
            "the driver) and run `ray memory --group-by STACK_TRACE`."
        )
        v = _version_tuple(snap.ray_version)
        if v is not None and v >= (2, 56):
            fix += "\n- `ray.put(x, _owner=actor)` is no longer a way out: Ray ≥ 2.56 rejects `_owner`."
        status = "warn" if refusing else "info"
        value = (
            f"{len(refusing)} idle worker(s) refuse to exit"
            if refusing
            else "ray::IDLE processes outside the idle pool (draining)"
        )
        r = CheckResult(
            status=status,
            value=value,
            threshold=threshold,
            evidence=evidence,
            why=(
                "When the raylet asks an idle worker to exit, the worker refuses while its "
                "reference table is not empty: it owns objects (it called ray.put, or returned "
                "refs inside a result) or borrows refs. It goes back to the end of the idle list "
                "and lives as long as those refs. A worker that reached max_calls also waits for "
                "its refs before the process ends, still titled ray::IDLE."
            ),
            command="\n".join([refs_cmd] + logs),
            fix=fix,
            entries=[
                "ray-memory-command",
                "ray-summary-objects",
                "record-ref-creation-sites",
                "idle-worker-killing-policy",
                "find-idle-workers",
            ],
        )
        return [_finish(r, snap, problem=True)]
    if not_observable:
        return [
            CheckResult(
                status="error",
                value="not observable while reaping is disabled",
                threshold=threshold,
                evidence=[
                    f"{n.label}: {len(n.idle_workers)} idle worker(s); with the reaper off no "
                    "exit request is ever sent, so a refusal cannot show"
                    for n in not_observable
                ],
                command=refs_cmd,
                entries=["ray-memory-command", "ray-summary-objects"],
            )
        ]
    r = CheckResult(
        status="ok", value="no idle worker is refusing to exit", threshold=threshold, entries=["ray-memory-command"]
    )
    return [_finish(r, snap, problem=False)]


@check("slow-cleanup-settings", "Idle-worker cleanup settings")
def check_slow_cleanup(snap: ClusterSnapshot) -> list[CheckResult]:
    if snap.origin == "status-text":
        return [_no_process_data(snap)]
    threshold = f"below {SLOW_FACTOR}× the defaults (interval 200 ms, threshold 1000 ms); soft limit ≤ CPUs"
    if snap.system_config is None:
        return [
            CheckResult(
                status="error",
                value="system config unknown",
                threshold=threshold,
                entries=["idle-worker-killing-time-threshold-ms"],
            )
        ]
    found, notes, drop = [], [], []
    status = "ok"
    values = []
    for name in ("kill_idle_workers_interval_ms", "idle_worker_killing_time_threshold_ms"):
        seen = set()
        for n in snap.alive_nodes or [None]:
            s = effective(snap, name, n)
            if s is None or s.is_default or (s.source, s.value) in seen:
                continue
            seen.add((s.source, s.value))
            if not isinstance(s.value, (int, float)) or s.value <= 0:
                values.append(f"{name}={s.value} (see reaping-disabled)")
                continue  # 0 is reaping-disabled's business
            values.append(f"{name}={s.value}")
            if s.value >= SLOW_FACTOR * s.default:
                status = "warn"
                found.append(f"{name}={s.value} ({s.source}) is {s.value / s.default:g}× the default {s.default}")
                drop.append(name)
            elif s.value > s.default:
                status = "info" if status == "ok" else status
                found.append(f"{name}={s.value} ({s.source}) is above the default {s.default}")
                drop.append(name)
    for n in snap.alive_nodes:
        s = effective(snap, "num_workers_soft_limit", n)
        if s is None or s.is_default or n.cpus_total is None:
            continue
        if s.value > n.cpus_total:
            status = "info" if status == "ok" else status
            notes.append(
                f"num_workers_soft_limit={s.value} ({s.source}) keeps up to {s.value} "
                f"idle workers on {n.label}, which has {n.cpus_total:g} CPUs"
            )
    if status == "ok":
        return [CheckResult(status="ok", value=", ".join(values) or "defaults", threshold=threshold)]
    fix = None
    if drop:
        from_config = [d for d in drop if d in (snap.system_config or {})]
        fix = (
            "Lower means smaller numbers: go back to the defaults (200 ms / 1000 ms), or below "
            "them for faster cleanup at the cost of more worker cold starts.\n"
        )
        if from_config:
            fix += system_config_fix(snap, {}, drop=tuple(from_config))
        else:
            fix += (
                "unset " + " ".join(f"RAY_{d}" for d in drop) + "   # in the environment of `ray start`, then restart"
            )
    return [
        CheckResult(
            status=status,
            value=", ".join(values),
            threshold=threshold,
            evidence=found + notes,
            why=(
                "The reaper runs every kill_idle_workers_interval_ms and kills idle workers above "
                "the soft limit once they have been idle for idle_worker_killing_time_threshold_ms. "
                'Raising either slows cleanup down; a common mistake is to "lower" them to 10000.'
            ),
            command="ps -o args= -C gcs_server | tr ' ' '\\n' | sed -n 's/^--config_list=//p' | base64 -d; echo",
            fix=fix,
            entries=[
                "idle-worker-killing-time-threshold-ms",
                "kill-idle-workers-interval-ms",
                "faster-idle-worker-cleanup",
                "set-ray-system-config",
            ],
        )
    ]


_OOM = re.compile(r"\bOOM\b|out of memory|low on memory|memory pressure|Memory on the node", re.I)


@check("recent-oom-kills", "Workers killed for memory")
def check_oom(snap: ClusterSnapshot) -> list[CheckResult]:
    threshold = "no worker killed by the memory monitor in the last hour"
    if snap.origin == "status-text":
        return [_no_process_data(snap)]
    if snap.dead_workers is None:
        g = snap.gap("dead-workers") or snap.gap("state-api")
        return [
            CheckResult(
                status="error",
                value="dead workers not listed",
                threshold=threshold,
                evidence=[g.reason] if g else [],
                fix=g.hint if g else None,
                entries=["oom-killer", "worker-exit-detail"],
            )
        ]
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
    evidence = _cap(evidence, 5)
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


@check("ref-creation-sites", "Where objects were created (call sites)")
def check_ref_sites(snap: ClusterSnapshot) -> list[CheckResult]:
    if snap.origin == "status-text":
        return [_no_process_data(snap)]
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
        f"RAY_record_ref_creation_sites=1 ray start --head --port={_port(snap.address)} ...\n"
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
    for m in re.finditer(r"\{[^{}]*\}", shape):
        try:
            d = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            continue
        if isinstance(d, dict):
            out.append({str(k): float(v) for k, v in d.items() if isinstance(v, (int, float))})
    return out


@check("autoscaler-pending", "Pending nodes and resource demands")
def check_pending(snap: ClusterSnapshot) -> list[CheckResult]:
    a = snap.autoscaler
    if a is None:
        g = snap.gap("autoscaler")
        why = [g.reason] if g else ["the GCS holds no autoscaler report (is the head's monitor process running?)"]
        return [CheckResult(status="error", value="no autoscaler status", evidence=why, entries=["ray-status-output"])]
    pending = [f"{p.count}× {p.node_type} {p.status}" + (f" ({p.ip})" if p.ip else "") for p in a.pending]
    infeasible = []
    queued = []
    capacity = snap.alive_nodes
    if not capacity and a.usage:  # a pasted `ray status` without -v: only cluster totals are known
        totals = {k: t for k, (_, t) in a.usage.items()}
        capacity = [NodeFacts(node_id="cluster", resources_total=totals)]
    for d in a.demands:
        bundles = d.bundles or _demand_bundles(d.shape)
        if any(not _fits(b, capacity) for b in bundles) and d.kind != "request_resources":
            infeasible.append(d)
        else:
            queued.append(d)
    evidence = pending + [f"{d.shape}: {d.count}+ pending {d.kind}" for d in a.demands]
    if infeasible and not a.pending:
        biggest = {}
        for n in capacity:
            for k, v in n.resources_total.items():
                if not k.startswith("node:"):
                    biggest[k] = max(biggest.get(k, 0.0), v)
        autoscaling = _autoscaling(a)
        n_inf = sum(d.count for d in infeasible)
        return [
            CheckResult(
                status="warn",
                value=f"{n_inf}+ request(s) no node can run, nothing launching",
                threshold="every demand fits some node, or a node is being launched",
                evidence=evidence + [f"largest node: {_shape_str(biggest)}"],
                why=(
                    "A task, actor or placement-group bundle must fit on one node. These ask for "
                    "resources no node has"
                    + (
                        " and the autoscaler is not launching one"
                        if autoscaling
                        else ", and nothing adds nodes to this cluster"
                    )
                    + ", so they wait forever."
                ),
                command=f"ray status --address {snap.address} -v",
                fix=(
                    "Lower the request (e.g. num_cpus/num_gpus/memory in @ray.remote or .options()), "
                    f"or add a node that has it (`ray start --address={snap.address} --num-gpus=...`, "
                    "or a node type in the autoscaler config)."
                ),
                entries=["ray-status-output"],
            )
        ]
    if a.pending or queued:
        value = f"{len(a.pending)} pending node(s)" if a.pending else "no pending nodes"
        if queued:
            value += f", {sum(d.count for d in queued)}+ queued request(s)"
        return [
            CheckResult(
                status="info",
                value=value,
                threshold="informational",
                evidence=evidence,
                command=f"ray status --address {snap.address}",
                entries=["ray-status-output"],
            )
        ]
    return [CheckResult(status="ok", value="no pending nodes or demands", entries=["ray-status-output"])]


def _shape_str(d: dict[str, float]) -> str:
    return "{" + ", ".join(f"'{k}': {v:g}" for k, v in sorted(d.items())) + "}"


@check("autoscaler-failures", "Recent node failures")
def check_failures(snap: ClusterSnapshot) -> list[CheckResult]:
    a = snap.autoscaler
    if a is None:
        return [CheckResult(status="error", value="no autoscaler status", entries=["ray-status-output"])]
    dead = [n for n in snap.nodes if not n.alive]
    if not a.failures:
        extra = f" ({len(dead)} dead node(s) in the GCS node table)" if dead else ""
        return [CheckResult(status="ok", value="none" + extra)]
    evidence = [f"{f.node_type}: {f.reason or 'failed'}" + (f" (ip {f.ip})" if f.ip else "") for f in a.failures]
    evidence = _cap(evidence, 8)
    return [
        CheckResult(
            status="warn",
            value=f"{len(a.failures)} recent failure(s)",
            threshold="none",
            evidence=evidence,
            why=(
                "The autoscaler lists nodes that died unexpectedly or could not be launched (for "
                "example no capacity or quota in the cloud, or a setup command that failed)."
            ),
            command=f"ray status --address {snap.address} -v\ntail -n 100 <head session dir>/logs/monitor.log",
            fix="Read the failure detail in `ray status -v` and the monitor log, then fix the node type or the quota.",
            entries=["ray-status-output", "ray-status-layout-history"],
        )
    ]


@check("idle-nodes", "Idle nodes")
def check_idle_nodes(snap: ClusterSnapshot) -> list[CheckResult]:
    a = snap.autoscaler
    if snap.origin != "status-text" and not any(n.idle_ms is not None for n in snap.alive_nodes):
        g = snap.gap("node-idle-time")
        return [
            CheckResult(
                status="error",
                value="node idle times unknown",
                evidence=[g.reason] if g else [],
                entries=["autoscaler-idle-timeout-minutes"],
            )
        ]
    configured = a is not None and a.idle_timeout_minutes is not None
    timeout_min = a.idle_timeout_minutes if configured else DEFAULT_IDLE_TIMEOUT_MIN
    threshold = f"idle_timeout_minutes = {timeout_min:g}" + ("" if configured else " (the autoscaler's default)")
    long_idle = [n for n in snap.alive_nodes if not n.is_head and n.idle_ms and n.idle_ms >= timeout_min * 60000]
    text_idle = sum(a.idle_nodes.values()) if a and snap.origin == "status-text" else 0
    if not long_idle and not text_idle:
        idle = [n for n in snap.alive_nodes if n.idle_ms]
        value = f"{len(idle)} idle node(s), none past the timeout" if snap.origin != "status-text" else "no idle nodes"
        return [CheckResult(status="ok", value=value, threshold=threshold)]
    autoscaling = _autoscaling(a)
    static = a is not None and a.provider == "readonly"
    evidence = [f"{n.label}: idle {fmt_age(n.idle_ms / 1000)}" for n in long_idle]
    if text_idle:
        evidence += [f"{count} {t} listed under Idle:" for t, count in a.idle_nodes.items()]
    why_common = (
        " Note that idle_timeout_minutes removes idle *nodes*; it does nothing to idle "
        "ray::IDLE worker processes, which the raylet's reaper handles."
    )
    if autoscaling:
        return [
            CheckResult(
                status="warn",
                value=f"{len(long_idle) or text_idle} node(s) idle past the timeout",
                threshold=threshold,
                evidence=evidence,
                why=(
                    "The autoscaler should have removed these. A node is kept while it holds primary "
                    "copies of objects, runs workers of a live job or actors, holds placement-group "
                    "bundles, or is needed for min_workers of its type." + why_common
                ),
                command=f"ray status --address {snap.address} -v   # shows each node's Activity",
                fix=(
                    "Look at the node's Activity in `ray status -v`; drop the objects or actors "
                    "pinned there, remove unused placement groups, and check min_workers for that "
                    "node type."
                ),
                entries=["autoscaler-nodes-not-scaling-down", "autoscaler-idle-timeout-minutes"],
            )
        ]
    return [
        CheckResult(
            status="info",
            value=f"{len(long_idle) or text_idle} idle worker node(s)",
            threshold=threshold,
            evidence=evidence
            + (["hand-started cluster (read-only provider): nothing removes nodes"] if static else []),
            why=(
                "On a cluster started by hand (`ray start`), no autoscaler removes nodes; idle nodes "
                "stay until you stop them." + why_common
            ),
            command=f"ray status --address {snap.address} -v",
            fix="Stop the idle nodes you do not need: `ray stop` on each of them.",
            entries=["autoscaler-idle-timeout-minutes", "autoscaler-nodes-not-scaling-down"],
        )
    ]


@check("version-pitfalls", "Version-specific pitfalls")
def check_version(snap: ClusterSnapshot) -> list[CheckResult]:
    if snap.origin == "status-text":
        hint = snap.status_layout
        return [
            CheckResult(
                status="info" if hint else "error",
                value=f"layout: {hint}" if hint else "version unknown",
                why="`ray status` does not print the Ray version; its layout dates it roughly.",
                entries=["ray-status-layout-history"],
            )
        ]
    v = _version_tuple(snap.ray_version)
    if v is None:
        g = snap.gap("ray-version")
        return [CheckResult(status="error", value="cluster version unknown", evidence=[g.reason] if g else [])]
    items, status = [], "ok"
    if snap.client_ray_version and snap.client_ray_version != snap.ray_version:
        status = "warn"
        items.append(
            f"the cluster runs Ray {snap.ray_version} but this machine has "
            f"{snap.client_ray_version}: `ray status` refuses to run across versions; "
            "install the cluster's version"
        )
    if v >= (2, 56):
        status = "info" if status == "ok" else status
        items.append(
            "`ray.put(x, _owner=actor)` raises ValueError since Ray 2.56 (the "
            "experimental argument was removed): code that relied on it must keep the "
            "actor holding the ref another way"
        )
    if snap.token_auth and not snap.user_auth_mode:
        status = "info" if status == "ok" else status
        items.append(
            "the cluster uses token authentication and RAY_AUTH_MODE is not set here: "
            "`ray status`, `ray list` and `ray memory` fail with AuthenticationError "
            "until you `export RAY_AUTH_MODE=token` (raybot, like ray.init(), used "
            "~/.ray/auth_token by itself)"
        )
    if v >= (2, 60):
        status = "info" if status == "ok" else status
        items.append(
            "ObjectReconstructionFailedMaxAttemptsExceededError and "
            "...LineageEvictedError no longer exist: catch "
            "ObjectReconstructionFailedError and read .reason"
        )
    return [
        CheckResult(
            status=status,
            value=f"Ray {snap.ray_version}",
            threshold="informational",
            evidence=items,
            command="python -c 'import ray; print(ray.__version__)'",
            entries=["ray-put-owner-argument"] if v >= (2, 56) else [],
        )
    ]


@check("idle-worker-cpu", "CPU used by ray::IDLE processes")
def check_idle_cpu(snap: ClusterSnapshot) -> list[CheckResult]:
    nodata = _no_process_data(snap)
    if nodata:
        return [nodata]
    threshold = f"< {IDLE_CPU_INFO:g}% of a core"
    busy = [
        (n, p)
        for n in snap.alive_nodes
        for p in n.idle_workers
        if p.cpu_percent is not None and p.cpu_percent >= IDLE_CPU_INFO
    ]
    if not busy:
        r = CheckResult(status="ok", value="idle workers are idle", threshold=threshold)
        return [_finish(r, snap, problem=False)]
    busy.sort(key=lambda t: -(t[1].cpu_percent or 0))
    n0, p0 = busy[0]
    r = CheckResult(
        status="warn" if p0.cpu_percent >= IDLE_CPU_WARN else "info",
        value=f"{len(busy)} ray::IDLE process(es) use CPU; top {p0.cpu_percent:g}% (pid {p0.pid})",
        threshold=threshold,
        evidence=_cap([f"{n.short_id}: {_proc_line(p, mem=False)}, CPU {p.cpu_percent:g}%" for n, p in busy], 5),
        why=(
            "A ray::IDLE title means the worker is between tasks, yet something in it runs: "
            "threads a task started and left behind (they inherit the title as their name), or a "
            "title that was not updated (GH #17625, #31456; generator tasks until 2023)."
        ),
        command=f"py-spy dump --pid {p0.pid}\ntop -H -p {p0.pid}",
        fix=(
            "See what runs with `py-spy dump --pid <pid>`. Stop threads or pools a task starts "
            "before it returns, or give that task `max_calls=1` so its process exits after each "
            "call."
        ),
        entries=["find-idle-workers"],
    )
    return [_finish(r, snap, problem=True)]


@check("data-completeness", "What raybot could collect")
def check_data(snap: ClusterSnapshot) -> list[CheckResult]:
    if snap.origin == "status-text":
        layout = [f"layout: {snap.status_layout}"] if snap.status_layout else []
        return [
            CheckResult(
                status="info",
                value="offline: only what the pasted `ray status` shows",
                evidence=layout,
                fix=f"run `raybot diagnose --address {snap.address or 'HOST:6379'}` against the cluster",
                entries=["ray-status-output"],
            )
        ]
    if not snap.gaps:
        n = len(snap.alive_nodes)
        return [CheckResult(status="ok", value=f"GCS, system config, state API, and processes on {n}/{n} node(s)")]
    hints = list(dict.fromkeys(g.hint for g in snap.gaps if g.hint))
    return [
        CheckResult(
            status="error",
            value=f"{len(snap.gaps)} source(s) missing or incomplete",
            evidence=[f"{g.source}: {g.reason}" for g in snap.gaps],
            why='Checks that needed these report "could not check" instead of a verdict.',
            fix="\n".join(hints) or None,
            entries=["find-idle-workers"],
        )
    ]
