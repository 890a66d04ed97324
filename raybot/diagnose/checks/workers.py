"""Checks on worker processes: reaping, the soft limit, memory and CPU of ``ray::IDLE`` workers,
workers that refuse to exit, and the cleanup settings. They need the per-node process scan and the
cluster's settings, which only a live cluster gives."""

from __future__ import annotations

from raybot.diagnose.checks.base import CheckResult, check
from raybot.diagnose.checks.util import (
    IDLE_CPU_INFO,
    IDLE_CPU_WARN,
    IDLE_PRIVATE_WARN,
    cap,
    effective,
    finish,
    fmt_age,
    fmt_bytes,
    proc_line,
    ps_command,
    reaping_off,
    soft_limit,
    system_config_fix,
    version_tuple,
)
from raybot.diagnose.model import ClusterSnapshot, NodeFacts, ProcessInfo


@check(
    "idle-workers-over-soft-limit",
    "Idle workers vs. the soft limit",
    needs=("processes",),
    entries=("num-workers-soft-limit",),
)
def check_idle_over_soft_limit(snap: ClusterSnapshot) -> list[CheckResult]:
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
            evidence += cap(["  " + proc_line(p) for p in stale], 6)
            if n.debug_state and n.debug_state.num_idle_workers is not None:
                evidence.append(f"  debug_state.txt: num idle workers: {n.debug_state.num_idle_workers}")
                commands.append(f"grep 'num idle workers' {n.debug_state.path}")
            commands.append(ps_command(n))
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
        return [finish(r, snap, problem=False)]
    any_off = any(reaping_off(snap, n) for n in over)
    if any_off:
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
    return [finish(r, snap, problem=True)]


@check(
    "idle-worker-memory",
    "Memory held by idle workers",
    needs=("processes",),
    entries=("idle-worker-memory-rss-vs-shr",),
)
def check_idle_memory(snap: ClusterSnapshot) -> list[CheckResult]:
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
                evidence=cap([f"{n.short_id}: " + proc_line(p) for n, p in shared_heavy], 5),
                why=(
                    "These idle workers have a large RSS, but most of it is shared: object-store "
                    "pages mapped into the process, counted by the OS in every worker that "
                    "touched them. That memory is not the worker's and is not freed by killing "
                    "it."
                ),
                command=f"grep -E 'Rss(Anon|File|Shmem)' /proc/{p.pid}/status",
                entries=["idle-worker-memory-rss-vs-shr"],
            )
            return [finish(r, snap, problem=False)]
        r = CheckResult(status="ok", value=value, threshold=threshold, entries=["idle-worker-memory-rss-vs-shr"])
        return [finish(r, snap, problem=False)]

    def private_of(p: ProcessInfo) -> int:
        return (p.private_bytes if p.shared_bytes is not None else p.rss_bytes) or 0

    heavy.sort(key=lambda t: -private_of(t[1]))
    n0, p0 = heavy[0]
    value = (
        f"{len(heavy)} idle worker(s) ≥ {fmt_bytes(IDLE_PRIVATE_WARN)} private; largest "
        f"{fmt_bytes(private_of(p0))} (pid {p0.pid} on {n0.short_id}); {value}"
    )
    evidence = cap([f"{n.short_id}: " + proc_line(p) for n, p in heavy], 6)
    if any(p.shared_bytes is None for _, p in heavy):
        evidence.append("shared memory is not reported on this OS: RSS used as private memory")
    tasks = sorted({p.last_task for _, p in heavy if p.last_task})
    cpus = n0.cpus_total or 1
    keep = max(int(cpus) // 2, 0)
    fix_lines = []
    if reaping_off(snap, n0):
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
    v = version_tuple(snap.ray_version)
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
        command=f"{ps_command(n0)}\ngrep -E 'Rss(Anon|File|Shmem)' /proc/{p0.pid}/status",
        fix="\n".join(fix_lines),
        entries=[
            "idle-worker-memory-rss-vs-shr",
            "release-idle-worker-memory",
            "max-calls",
            "num-workers-soft-limit",
            "oom-killer",
        ],
    )
    return [finish(r, snap, problem=True)]


@check(
    "idle-workers-holding-references",
    "Idle workers that will not exit",
    needs=("processes",),
    entries=("ray-memory-command",),
)
def check_holding_refs(snap: ClusterSnapshot) -> list[CheckResult]:
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
        evidence = cap(evidence, 6)
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
        v = version_tuple(snap.ray_version)
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
        return [finish(r, snap, problem=True)]
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
    return [finish(r, snap, problem=False)]


@check("idle-worker-cpu", "CPU used by ray::IDLE processes", needs=("processes",), entries=("find-idle-workers",))
def check_idle_cpu(snap: ClusterSnapshot) -> list[CheckResult]:
    threshold = f"< {IDLE_CPU_INFO:g}% of a core"
    busy = [
        (n, p)
        for n in snap.alive_nodes
        for p in n.idle_workers
        if p.cpu_percent is not None and p.cpu_percent >= IDLE_CPU_INFO
    ]
    if not busy:
        r = CheckResult(status="ok", value="idle workers are idle", threshold=threshold)
        return [finish(r, snap, problem=False)]
    busy.sort(key=lambda t: -(t[1].cpu_percent or 0))
    n0, p0 = busy[0]
    r = CheckResult(
        status="warn" if p0.cpu_percent >= IDLE_CPU_WARN else "info",
        value=f"{len(busy)} ray::IDLE process(es) use CPU; top {p0.cpu_percent:g}% (pid {p0.pid})",
        threshold=threshold,
        evidence=cap([f"{n.short_id}: {proc_line(p, mem=False)}, CPU {p.cpu_percent:g}%" for n, p in busy], 5),
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
    return [finish(r, snap, problem=True)]
