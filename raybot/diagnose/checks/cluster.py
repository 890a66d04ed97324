"""Checks on the cluster as a whole: version pitfalls, dead nodes and why they died, and what
raybot could collect at all."""

from __future__ import annotations

from raybot.diagnose.checks.base import NEEDS, CheckResult, check
from raybot.diagnose.checks.util import cap, fmt_age, version_tuple
from raybot.diagnose.model import ClusterSnapshot

#: a node that died unexpectedly within this many seconds is a warning, earlier ones are info
DEAD_NODE_RECENT_S = 3600.0


@check("version-pitfalls", "Version-specific pitfalls", needs=("ray-version",), entries=("ray-status-layout-history",))
def check_version(snap: ClusterSnapshot) -> list[CheckResult]:
    v = version_tuple(snap.ray_version)
    if v is None:
        return [CheckResult(status="error", value=f"cannot read the version {snap.ray_version!r}")]
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
            entries=["ray-put-owner-argument"] if v >= (2, 56) else ["ray-status-layout-history"],
        )
    ]


@check("dead-nodes", "Dead nodes", needs=("node-table",))
def check_dead_nodes(snap: ClusterSnapshot) -> CheckResult:
    dead = [n for n in snap.nodes if not n.alive]
    if not dead:
        return CheckResult(status="ok", value=f"none ({len(snap.alive_nodes)} alive)")
    now_ms = snap.collected_at * 1000
    dead.sort(key=lambda n: -(n.end_time_ms or 0))

    def line(n) -> str:
        when = fmt_age((now_ms - n.end_time_ms) / 1000) + " ago" if n.end_time_ms else "time unknown"
        msg = f": {n.death_message[:200]}" if n.death_message else ""
        return f"{n.label} died {when}, {n.death_reason or 'reason unknown'}{msg}"

    unexpected = [n for n in dead if n.death_reason == "UNEXPECTED_TERMINATION"]
    recent = [n for n in unexpected if n.end_time_ms and now_ms - n.end_time_ms <= DEAD_NODE_RECENT_S * 1000]
    status = "warn" if recent else "info"
    return CheckResult(
        status=status,
        value=f"{len(dead)} dead node(s), {len(unexpected)} unexpected ({len(recent)} in the last hour)",
        threshold="no node died unexpectedly in the last hour",
        evidence=cap([line(n) for n in dead], 8),
        why=(
            "The GCS marks a node dead when its raylet exits or stops answering health checks. "
            "UNEXPECTED_TERMINATION means nobody asked it to stop (a crash, the OS OOM killer, a "
            "lost machine or network); EXPECTED_TERMINATION and AUTOSCALER_DRAIN_* are normal "
            "shutdowns. Tasks and actors on a dead node fail or are retried elsewhere."
        )
        if unexpected
        else "These nodes were stopped on purpose (ray stop, or the autoscaler drained them).",
        command="ray list nodes --detail --filter state=DEAD",
        fix=(
            "For an unexpected death, read the end of raylet.out and raylet.err in that node's "
            "session logs (and `dmesg` for the OS OOM killer)."
            if unexpected
            else None
        ),
    )


@check("data-completeness", "What raybot could collect", entries=("ray-status-output",))
def check_data(snap: ClusterSnapshot) -> CheckResult:
    if snap.origin == "status-text":
        p = snap.paste
        evidence = [f"layout: {snap.status_layout}"]
        if p is not None:
            evidence.append("sections: " + (", ".join(sorted(p.sections)) or "none"))
            evidence += [f"cut off: {c}" for c in p.cut_off]
            if p.lines_skipped:
                evidence.append(f"{p.lines_skipped} line(s) past the parsing cap were not read")
        if p is not None and (p.cut_off or p.lines_skipped):
            return CheckResult(
                status="error",
                value="the paste looks incomplete",
                evidence=evidence,
                why='Checks that needed the missing sections report "could not check".',
                fix="paste the whole output of `ray status`, from the ======== line to the end",
            )
        return CheckResult(
            status="info",
            value="offline: only what the pasted `ray status` shows",
            evidence=evidence,
            fix=f"run `raybot diagnose --address {snap.address or 'HOST:6379'}` against the cluster",
        )
    if snap.origin == "logs":
        scan = snap.logs
        read = f"{scan.files_read} file(s) in {len(scan.nodes)} folder(s)" if scan else "nothing"
        return CheckResult(status="info", value=f"offline: only log files ({read})")
    problems = [f"{g.source}: {g.reason}" for g in snap.gaps]
    report = NEEDS["autoscaler-report"](snap)
    if report is not None:
        problems.append(f"autoscaler: {report.value}")
    if not problems:
        n = len(snap.alive_nodes)
        logs = f", logs on {len(snap.logs.nodes)}" if snap.logs else ""
        return CheckResult(
            status="ok", value=f"GCS, system config, state API, autoscaler report, processes on {n}/{n} node(s){logs}"
        )
    hints = list(dict.fromkeys(g.hint for g in snap.gaps if g.hint))
    return CheckResult(
        status="error",
        value=f"{len(problems)} source(s) missing or incomplete",
        evidence=problems,
        why='Checks that needed these report "could not check" instead of a verdict.',
        fix="\n".join(hints) or None,
        entries=["find-idle-workers"],
    )
