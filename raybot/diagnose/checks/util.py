"""Helpers shared by the checks (pure): formatting, effective settings, computed fixes."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from raybot import ray_defaults
from raybot.diagnose.checks.base import CheckResult
from raybot.diagnose.model import ClusterSnapshot, NodeFacts, ProcessInfo

#: Ray 2.60 defaults of the raylet settings the checks reason about (see raybot.ray_defaults)
DEFAULTS: dict[str, Any] = ray_defaults.RAYLET_DEFAULTS
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
DEFAULT_IDLE_TIMEOUT_MIN = ray_defaults.AUTOSCALER_IDLE_TIMEOUT_MINUTES


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


def parse_value(value: str, default: Any) -> Any:
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
        value = parse_value(env[f"RAY_{name}"], default)
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


def port_of(address: str | None) -> str:
    if address and ":" in address:
        return address.rsplit(":", 1)[1]
    return "6379"


def head_node(snap: ClusterSnapshot) -> NodeFacts | None:
    for n in snap.alive_nodes:
        if n.is_head:
            return n
    return None


def json_config(cfg: dict[str, Any]) -> str:
    import json

    return json.dumps(cfg, separators=(", ", ": "))


def system_config_fix(snap: ClusterSnapshot, set_: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    """The ``ray start`` lines for the head with the user's other system-config keys kept."""
    cfg = {
        k: v
        for k, v in (snap.system_config or {}).items()
        if k not in AUTO_KEYS and k not in drop and not harmful(k, v)
    }
    cfg.update(set_)
    head = head_node(snap)
    cpus = ""
    if head is not None and head.cpus_total is not None:
        cpus = f" --num-cpus={head.cpus_total:g}"
    flag = f" --system-config='{json_config(cfg)}'" if cfg else ""
    lines = [
        "# on the head node (keep your other `ray start` flags):",
        "ray stop",
        f"ray start --head --port={port_of(snap.address)}{cpus}{flag}",
    ]
    if len(snap.alive_nodes) > 1:
        lines += [
            "# then on every other node (no --system-config there: it reaches every raylet",
            "# through the GCS, and a worker node rejects it):",
            f"ray stop && ray start --address={snap.address}",
        ]
    return "\n".join(lines)


def harmful(key: str, value: Any) -> bool:
    """A setting no suggested fix should carry over: reaping off, or cleanup slowed 10×."""
    if key == "kill_idle_workers_interval_ms" and isinstance(value, (int, float)) and value <= 0:
        return True
    if key in ("kill_idle_workers_interval_ms", "idle_worker_killing_time_threshold_ms"):
        return isinstance(value, (int, float)) and value >= SLOW_FACTOR * DEFAULTS[key]
    return False


def unchecked_nodes(snap: ClusterSnapshot) -> list[NodeFacts]:
    return [n for n in snap.alive_nodes if n.processes is None]


def finish(result: CheckResult, snap: ClusterSnapshot, *, problem: bool) -> CheckResult:
    """If nothing was found but some nodes were not inspected, say "could not check"."""
    missing = unchecked_nodes(snap)
    if missing:
        labels = ", ".join(n.label for n in missing)
        result.evidence.append(f"not inspected: {labels}")
        if not problem:
            result.status = "error"
            total = len(snap.alive_nodes)
            result.value = f"{total - len(missing)} of {total} nodes checked"
    return result


def proc_line(p: ProcessInfo, *, mem: bool = True) -> str:
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


def cap(lines: list[str], n: int = 8) -> list[str]:
    return lines if len(lines) <= n else lines[:n] + [f"... and {len(lines) - n} more"]


def ps_command(node: NodeFacts) -> str:
    if node.raylet_pid:
        return f"ps -o pid,rss,etimes,pcpu,args --ppid {node.raylet_pid} | grep 'ray::'"
    return "ps -eo pid,ppid,rss,etimes,pcpu,args | grep 'ray::IDLE'"


def version_tuple(v: str | None) -> tuple[int, ...] | None:
    if not v:
        return None
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", v)
    return tuple(int(x or 0) for x in m.groups()) if m else None


def dead_jobs(snap: ClusterSnapshot) -> set[str]:
    return {j.job_id for j in snap.jobs or [] if j.is_dead}


def reaping_off(snap: ClusterSnapshot, node: NodeFacts) -> bool:
    s = effective(snap, "kill_idle_workers_interval_ms", node)
    return s is not None and isinstance(s.value, (int, float)) and s.value <= 0


def autoscaling(a) -> bool:
    """Whether something adds and removes nodes (a cloud provider config, or autoscaler v2)."""
    return a is not None and (a.provider not in (None, "readonly") or a.autoscaler_version == "v2")
