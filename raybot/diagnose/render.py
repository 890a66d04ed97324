"""Human output for ``raybot diagnose`` (rich). JSON output is ``Diagnosis.to_dict()``."""

from __future__ import annotations

from raybot.diagnose.checks import fmt_age, fmt_bytes
from raybot.diagnose.report import MARKS, Diagnosis

STYLES = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red", "error": "magenta"}
WORDS = {"ok": "ok", "info": "info", "warn": "warn", "fail": "FAIL", "error": "could not check"}


def render_progress(message: str) -> None:
    from raybot.render import err_console

    err_console().print(f"[dim]{message}[/]", highlight=False)


def render_diagnosis(diagnosis: Diagnosis) -> None:
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from raybot.render import console, err_console

    con = console()
    snap = diagnosis.snapshot
    if snap.origin == "status-text":
        con.print(
            Text.assemble(("Pasted `ray status`", "bold"), (f" · layout: {snap.status_layout or 'unknown'}", "dim"))
        )
    else:
        nodes = len(snap.alive_nodes)
        con.print(
            Text.assemble(
                (f"Ray {snap.ray_version or '?'}", "bold"),
                f" cluster at {snap.address}",
                (f" · {nodes} node{'s' if nodes != 1 else ''}", "dim"),
            )
        )
    if snap.nodes and snap.origin != "status-text":
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="dim")
        for col in ("node", "ip", "CPUs", "idle workers", "their private memory", "processes"):
            table.add_column(col)
        for n in snap.nodes:
            if not n.alive:
                table.add_row(n.short_id, n.ip or "?", "-", "-", "-", "[dim]dead[/]")
                continue
            idle = n.idle_workers
            seen = n.processes is not None
            if n.cpus_total is not None and n.cpus_used is not None:
                cpus = f"{n.cpus_available:g}/{n.cpus_total:g} free"
            else:
                cpus = f"{n.cpus_total or 0:g}"
            source = {"local": "this machine", "probe": "probe task"}.get(
                n.process_source or "", "[magenta]not inspected[/]"
            )
            table.add_row(
                n.short_id + (" (head)" if n.is_head else ""),
                n.ip or "?",
                cpus,
                str(len(idle)) if seen else "?",
                fmt_bytes(sum(p.private_bytes or 0 for p in idle)) if seen else "?",
                source,
            )
        con.print(table)
    con.print()
    width = max(len(r.title) for r in diagnosis.results) if diagnosis.results else 20
    for r in diagnosis.results:
        line = Text()
        line.append(f" {MARKS[r.status]} ", style=STYLES[r.status])
        line.append(f"{WORDS[r.status]:<15} ", style=STYLES[r.status])
        line.append(f"{r.title:<{width}}  ")
        if r.value:
            line.append(r.value)
        if r.threshold and r.status not in ("ok", "info"):
            line.append(f"  (expected {r.threshold})", style="dim")
        con.print(line, soft_wrap=True)
    details = [r for r in diagnosis.findings if r.status != "ok"]
    for r in details:
        con.print()
        con.print(Text.assemble((f"{MARKS[r.status]} {r.title}", STYLES[r.status]), (f"  [{r.id}]", "dim")))
        if r.why:
            con.print(Padding(Text("why: ", style="bold") + Text(r.why), (0, 0, 0, 2)))
        for ev in r.evidence:
            con.print(Padding(Text(f"• {ev}"), (0, 0, 0, 2)))
        if r.command:
            con.print(Text("  show it:", style="bold"))
            for ln in r.command.splitlines():
                con.print(Text(f"    {ln}", style="cyan"), soft_wrap=True)
        if r.fix:
            con.print(Text("  fix:", style="bold"))
            for ln in r.fix.splitlines():
                con.print(Text(f"    {ln}", style="green" if _is_code(ln) else ""), soft_wrap=True)
        if r.entries:
            con.print(Text("  kb: ", style="bold") + Text(", ".join(r.entries), style="dim"))
    c = diagnosis.counts
    con.print()
    footer = Text()
    for status, label in (
        ("fail", "failed"),
        ("warn", "warnings"),
        ("error", "could not check"),
        ("info", "info"),
        ("ok", "ok"),
    ):
        footer.append(f"{c[status]} {label}", style=STYLES[status] if c[status] else "dim")
        footer.append(" · " if status != "ok" else "")
    con.print(footer)
    if not c["fail"] and not c["warn"]:
        con.print(
            "No problems found." if not c["error"] else "No problems found in what could be checked.", style="green"
        )
    err = err_console()
    for note in snap.notes:
        err.print(f"[dim]note:[/] {note}", highlight=False)


def _is_code(line: str) -> bool:
    s = line.strip()
    commands = ("ray ", "RAY_", "@ray", "unset ", "export ", "python ", "grep ", "ps ")
    return s.startswith(commands) or line.startswith("    ")


__all__ = ["render_diagnosis", "render_progress", "fmt_age"]
