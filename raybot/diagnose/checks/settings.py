"""Checks on the raylet's idle-worker settings: reaping switched off, and cleanup slowed down.
They read the cluster's ``_system_config`` and each raylet's ``RAY_*`` environment."""

from __future__ import annotations

from raybot.diagnose.checks.base import CheckResult, check
from raybot.diagnose.checks.util import (
    SLOW_FACTOR,
    Setting,
    dead_jobs,
    effective,
    fmt_age,
    fmt_bytes,
    head_node,
    ps_command,
    soft_limit,
    system_config_fix,
)
from raybot.diagnose.model import ClusterSnapshot, NodeFacts


@check(
    "reaping-disabled",
    "Idle-worker reaping",
    needs=("system-config",),
    entries=("kill-idle-workers-interval-ms",),
)
def check_reaping_disabled(snap: ClusterSnapshot) -> list[CheckResult]:
    threshold = "> 0 ms (default 200)"
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
    dead = dead_jobs(snap)
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
        commands.append(ps_command(n))
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
    head = head_node(snap)
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


@check(
    "slow-cleanup-settings",
    "Idle-worker cleanup settings",
    needs=("system-config",),
    entries=("idle-worker-killing-time-threshold-ms",),
)
def check_slow_cleanup(snap: ClusterSnapshot) -> list[CheckResult]:
    threshold = f"below {SLOW_FACTOR}× the defaults (interval 200 ms, threshold 1000 ms); soft limit ≤ CPUs"
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
