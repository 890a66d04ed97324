"""Checks on what the session logs say: OOM kills, workers that did not register, runtime_env
setup failures, and every other known signature (kb ``signatures:``) that was found."""

from __future__ import annotations

import time

from raybot.diagnose.checks.base import CheckResult, check
from raybot.diagnose.checks.util import OOM_RECENT_S, cap, fmt_age
from raybot.diagnose.model import ClusterSnapshot, LogFinding

MAX_FINDINGS_SHOWN = 8


def _finding_lines(findings: list[LogFinding]) -> list[str]:
    lines = []
    for f in findings:
        when = f.first_time or "?"
        if f.last_time and f.last_time != f.first_time:
            when += f" … {f.last_time}"
        files = ", ".join(f.files[:3]) + (" …" if len(f.files) > 3 else "")
        lines.append(f"{f.node}: {f.count}× in {files} ({when})")
        if f.sample:
            lines.append(f"  {f.sample[:300]}")
    return lines


def _entries(findings: list[LogFinding], default: tuple[str, ...] = ()) -> list[str]:
    out = list(default)
    for f in findings:
        out += [e for e in f.entries if e not in out]
    return out


def _scope(snap: ClusterSnapshot) -> str:
    scan = snap.logs
    assert scan is not None
    return f"{scan.files_read} log file(s) on {len(scan.nodes)} node(s)"


def _not_found(snap: ClusterSnapshot, what: str, threshold: str) -> CheckResult:
    """Nothing found: "ok" only when the logs of every node were read."""
    missing = [g for g in snap.gaps if g.source.startswith("logs:")]
    r = CheckResult(status="ok", value=f"no {what} in {_scope(snap)}", threshold=threshold)
    if missing:
        r.status = "error"
        r.value = f"none in the logs read, but {len(missing)} node(s) not scanned"
        r.evidence = [g.reason for g in missing]
    return r


def _topic(snap: ClusterSnapshot, topic: str) -> list[LogFinding]:
    return [f for f in (snap.logs.findings if snap.logs else []) if f.topic == topic]


@check("oom-kills-in-logs", "OOM kills in the raylet logs", needs=("logs",), entries=("oom-killer",))
def check_log_oom(snap: ClusterSnapshot) -> CheckResult:
    threshold = "no memory-monitor kill in the last hour"
    found = _topic(snap, "oom")
    if not found:
        return _not_found(snap, "memory-monitor kills", threshold)
    now = snap.collected_at if snap.origin != "logs" else time.time()
    last = max((f.last_epoch or 0) for f in found)
    recent = bool(last) and now - last <= OOM_RECENT_S
    kills = [f for f in found if f.signature.startswith("Killing")]
    return CheckResult(
        status="warn" if recent else "info",
        value=(
            f"{sum(f.count for f in kills) or sum(f.count for f in found)} kill line(s); last "
            + (f"{fmt_age(now - last)} ago" if last else "at an unknown time")
        ),
        threshold=threshold,
        evidence=cap(_finding_lines(found), 2 * MAX_FINDINGS_SHOWN),
        why=(
            "The raylet's memory monitor killed workers because the node's memory use passed "
            "RAY_memory_usage_threshold (0.95 by default). The 'kill details' line says how much "
            "memory was in use and which task or actor was chosen."
        ),
        command="ray logs raylet.out --tail 2000 | grep -A3 'Killing'",
        fix=(
            "Request memory for memory-heavy tasks (@ray.remote(memory=...)) so fewer run at once "
            "on a node, or use nodes with more memory; see the kb entry for the settings."
        ),
        entries=_entries(found, ("oom-killer",)),
    )


@check("worker-registration", "Workers that did not register", needs=("logs",))
def check_worker_registration(snap: ClusterSnapshot) -> CheckResult:
    threshold = "every started worker registers with its raylet"
    found = _topic(snap, "worker-register")
    if not found:
        return _not_found(snap, "'have not registered within the timeout' lines", threshold)
    return CheckResult(
        status="warn",
        value=f"{sum(f.count for f in found)} worker process(es) did not register in time",
        threshold=threshold,
        evidence=cap(_finding_lines(found), 2 * MAX_FINDINGS_SHOWN),
        why=(
            "The raylet started a worker process that did not connect back within "
            "worker_register_timeout_seconds (60 s by default). The line says whether the process "
            "is still alive (hanging during start-up: slow imports, a runtime_env or py_executable "
            "that blocks, an overloaded node) or dead (it crashed during start-up; its "
            "python-core-worker-*.log and worker-*.err say why). Tasks waiting for it stay pending."
        ),
        command="grep -h 'have not registered' <session dir>/logs/raylet.out | tail",
        fix=(
            "Look at the worker's own logs for the pid in the line; fix what blocks or crashes its "
            "start-up. If start-up is only slow, RAY_worker_register_timeout_seconds (in the "
            "environment of `ray start`) gives it longer."
        ),
        entries=_entries(found),
    )


@check("runtime-env-setup", "runtime_env setup failures", needs=("logs",))
def check_runtime_env(snap: ClusterSnapshot) -> CheckResult:
    threshold = "no runtime_env that failed to set up"
    found = _topic(snap, "runtime-env")
    if not found:
        return _not_found(snap, "runtime_env setup failures", threshold)
    gave_up = [f for f in found if "giving up" in f.signature]
    return CheckResult(
        status="warn",
        value=(
            f"{sum(f.count for f in gave_up)} runtime_env(s) given up on"
            if gave_up
            else f"{sum(f.count for f in found)} failed setup attempt(s)"
        ),
        threshold=threshold,
        evidence=cap(_finding_lines(found), 2 * MAX_FINDINGS_SHOWN),
        why=(
            "The runtime_env agent could not build the environment a task or actor asked for "
            "(pip or conda install, working_dir or py_modules upload, ...), retried and gave up; "
            "the task fails with RuntimeEnvSetupError. The cause is in runtime_env_setup-<job>.log "
            "on that node."
        ),
        command="ls <session dir>/logs/runtime_env_setup-*.log; tail -n 50 <session dir>/logs/runtime_env_agent.log",
        fix="Read the traceback in runtime_env_setup-<job>.log, fix the runtime_env (package names, paths), retry.",
        entries=_entries(found),
    )


@check("log-signatures", "Other known messages in the logs", needs=("logs",))
def check_log_signatures(snap: ClusterSnapshot) -> CheckResult:
    scan = snap.logs
    assert scan is not None
    found = [f for f in scan.findings if f.topic is None]
    value_scope = f"{scan.signatures} signature(s) looked for in {_scope(snap)}"
    if not found:
        return CheckResult(status="ok", value=f"none of {value_scope}")
    found.sort(key=lambda f: (-(f.last_epoch or 0), -f.count))
    lines = []
    for f in found[:MAX_FINDINGS_SHOWN]:
        kb = f" → kb: {', '.join(f.entries)}" if f.entries else ""
        lines.append(f"{f.signature[:160]}{kb}")
        lines += ["  " + ln for ln in _finding_lines([f])]
    if len(found) > MAX_FINDINGS_SHOWN:
        lines.append(f"... and {len(found) - MAX_FINDINGS_SHOWN} more")
    return CheckResult(
        status="info",
        value=f"{len(found)} known message(s) found ({value_scope})",
        threshold="informational",
        evidence=lines,
        why="Each of these messages is explained by the knowledge-base entry named after it.",
        command='raybot ask "<paste the line>"',
        entries=_entries(found),
    )
