"""Human output for ``raybot diagnose`` (rich). JSON output is ``Diagnosis.to_dict()``.

The builders are pure: :func:`diagnosis_renderables` returns the rich renderables of the report
(stdout) and :func:`note_lines` the notes (stderr); :func:`render_diagnosis` only prints them.
Every string that raybot did not write (cluster strings, pasted text, log lines) goes through
:func:`raybot.diagnose.textsafe.clean` and into ``rich.text.Text`` objects, so it can neither
drive the terminal nor be read as rich markup. Lines wrap to the console width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raybot.diagnose.checks import fmt_bytes
from raybot.diagnose.report import MARKS, Diagnosis
from raybot.diagnose.textsafe import clean

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

STYLES = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red", "error": "magenta"}
WORDS = {"ok": "ok", "info": "info", "warn": "warn", "fail": "FAIL", "error": "could not check"}
#: evidence lines shown per check (the JSON report keeps more)
MAX_EVIDENCE_SHOWN = 12
SIZE_RESOURCES = ("memory", "object_store_memory")


def _t(text: str | None, style: str = "") -> Text:
    from rich.text import Text

    return Text(clean(text or ""), style=style)


def progress_text(message: str) -> Text:
    return _t(message, "dim")


def render_progress(message: str, console: Console | None = None) -> None:
    from raybot.render import err_console

    (console or err_console()).print(progress_text(message), highlight=False)


def _resource(name: str, used: float, total: float) -> str:
    if name in SIZE_RESOURCES:
        return f"{fmt_bytes(used)}/{fmt_bytes(total)} {name}"
    return f"{used:g}/{total:g} {name}"


def header_renderables(d: Diagnosis) -> list[RenderableType]:
    """The title line and what the autoscaler's view (or the paste) says about the cluster."""
    from rich.text import Text

    snap = d.snapshot
    out: list[RenderableType] = []
    if snap.origin == "status-text":
        out.append(
            Text.assemble(("Pasted `ray status`", "bold"), (f" · layout: {clean(snap.status_layout or '?')}", "dim"))
        )
    elif snap.origin == "logs":
        scan = snap.logs
        where = f"{len(scan.nodes)} folder(s), {scan.files_read} file(s)" if scan else "nothing read"
        out.append(Text.assemble(("Copied Ray logs", "bold"), (f" · {where}", "dim")))
    else:
        nodes = len(snap.alive_nodes)
        title = Text.assemble(
            (f"Ray {clean(snap.ray_version or '?')}", "bold"),
            f" cluster at {clean(snap.address or '?')}",
            (f" · {nodes} node{'s' if nodes != 1 else ''}", "dim"),
        )
        out.append(title)
        if snap.address_typed and snap.address_typed.strip() not in ("", snap.address):
            out.append(_t(f"  (you gave {snap.address_typed}; Ray rewrote it to {snap.address})", "dim"))
    c = d.cluster_dict()
    lines: list[tuple[str, str]] = []
    if c.get("nodes_by_type"):
        parts = []
        for t, n in c["nodes_by_type"].items():
            state = f"{n['active']} active" + (f", {n['idle']} idle" if n["idle"] else "")
            parts.append(f"{t}: {state}")
        lines.append(("nodes", f"{c['node_count']} · " + "; ".join(parts)))
    if c.get("resources"):
        res = [_resource(k, v["used"], v["total"]) for k, v in c["resources"].items()]
        lines.append(("resources", ", ".join(res)))
    if c.get("pending"):
        lines.append(("pending", "; ".join(f"{p['count']}× {p['node_type']} {p['status']}" for p in c["pending"][:5])))
    if c.get("failures"):
        lines.append(("failures", "; ".join(f"{f['node_type']}: {f['reason'] or 'failed'}" for f in c["failures"][:5])))
    if c.get("demands"):
        total = sum(x["count"] for x in c["demands"])
        dropped = snap.paste.demands_dropped if snap.paste else 0
        more = f" (+{dropped} lines not parsed)" if dropped else ""
        lines.append(("demands", f"{total}+ in {len(c['demands'])} shape(s){more}"))
    for label, text in lines:
        out.append(Text.assemble((f"  {label}: ", "dim"), clean(text)))
    return out


def _node_table(d: Diagnosis) -> RenderableType | None:
    from rich.table import Table
    from rich.text import Text

    snap = d.snapshot
    if not snap.nodes or snap.origin != "cluster":
        return None
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="dim")
    for col in ("node", "ip", "CPUs", "idle workers", "their private memory", "processes"):
        table.add_column(col, overflow="fold")
    for n in snap.nodes:
        if not n.alive:
            table.add_row(n.short_id, clean(n.ip or "?"), "-", "-", "-", Text("dead", style="dim"))
            continue
        idle = n.idle_workers
        seen = n.processes is not None
        if n.cpus_total is not None and n.cpus_used is not None:
            cpus = f"{n.cpus_available:g}/{n.cpus_total:g} free"
        else:
            cpus = f"{n.cpus_total or 0:g}"
        source = {"local": "this machine", "probe": "probe task"}.get(n.process_source or "")
        table.add_row(
            n.short_id + (" (head)" if n.is_head else ""),
            clean(n.ip or "?"),
            cpus,
            str(len(idle)) if seen else "?",
            fmt_bytes(sum(p.private_bytes or 0 for p in idle)) if seen else "?",
            Text(source) if source else Text("not inspected", style="magenta"),
        )
    return table


def _is_code(line: str) -> bool:
    s = line.strip()
    commands = ("ray ", "RAY_", "@ray", "unset ", "export ", "python ", "grep ", "ps ")
    return s.startswith(commands) or line.startswith("    ")


def result_renderables(d: Diagnosis) -> list[RenderableType]:
    """One line per check, then the details of every non-ok result, then the counts."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    out: list[RenderableType] = []
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for r in d.results:
        line = _t(r.title)
        line.append("  ")
        if r.value:
            line.append(clean(r.value))
        if r.threshold and r.status not in ("ok", "info"):
            line.append(f"  (expected {clean(r.threshold)})", style="dim")
        table.add_row(
            Text(MARKS[r.status], style=STYLES[r.status]), Text(WORDS[r.status], style=STYLES[r.status]), line
        )
    out.append(table)
    shown_errors: dict[tuple, list] = {}
    for r in d.findings:
        if r.status == "error":
            shown_errors.setdefault((r.value, r.fix, tuple(r.evidence)), []).append(r)
    for r in (r for r in d.findings if r.status != "ok"):
        group = shown_errors.get((r.value, r.fix, tuple(r.evidence)), [r]) if r.status == "error" else [r]
        if group[0] is not r:
            continue  # shown with the first check of its group
        out.append(Text())
        if len(group) > 1:
            titles = ", ".join(clean(g.title) for g in group)
            out.append(Text.assemble((f"{MARKS[r.status]} {clean(r.value or '')}: ", STYLES[r.status]), titles))
            r = _merged(group)
        else:
            out.append(Text.assemble((f"{MARKS[r.status]} {clean(r.title)}", STYLES[r.status]), (f"  [{r.id}]", "dim")))
        if r.why:
            out.append(Padding(Text("why: ", style="bold") + _t(r.why), (0, 0, 0, 2)))
        shown = r.evidence[:MAX_EVIDENCE_SHOWN]
        for ev in shown:
            out.append(Padding(_t(f"• {ev}"), (0, 0, 0, 2)))
        if len(r.evidence) > len(shown):
            out.append(Padding(_t(f"… {len(r.evidence) - len(shown)} more (see --json)", "dim"), (0, 0, 0, 2)))
        if r.command:
            out.append(Text("  show it:", style="bold"))
            for ln in clean(r.command).splitlines():
                out.append(Padding(Text(ln, style="cyan"), (0, 0, 0, 4)))
        if r.fix:
            out.append(Text("  fix:", style="bold"))
            for ln in clean(r.fix).splitlines():
                out.append(
                    Padding(
                        Text(ln.strip() if ln.startswith("    ") else ln, style="green" if _is_code(ln) else ""),
                        (0, 0, 0, 6 if ln.startswith("    ") else 4),
                    )
                )
        if r.entries:
            out.append(Padding(Text("kb: ", style="bold") + _t(", ".join(r.entries), "dim"), (0, 0, 0, 2)))
    c = d.counts
    out.append(Text())
    footer = Text()
    labels = (("fail", "failed"), ("warn", "warnings"), ("error", "could not check"), ("info", "info"), ("ok", "ok"))
    for status, label in labels:
        footer.append(f"{c[status]} {label}", style=STYLES[status] if c[status] else "dim")
        footer.append(" · " if status != "ok" else "")
    out.append(footer)
    if not c["fail"] and not c["warn"]:
        message = "No problems found." if not c["error"] else "No problems found in what could be checked."
        out.append(Text(message, style="green"))
    return out


def _merged(group: list) -> object:
    """One result standing for checks that could not run for the same reason."""
    from dataclasses import replace

    whys = {g.why for g in group}
    entries = list(dict.fromkeys(e for g in group for e in g.entries))
    return replace(group[0], why=group[0].why if len(whys) == 1 else None, entries=entries)


def diagnosis_renderables(d: Diagnosis) -> list[RenderableType]:
    out = header_renderables(d)
    table = _node_table(d)
    if table is not None:
        out.append(table)
    out.append(_text_blank())
    return out + result_renderables(d)


def _text_blank() -> Text:
    from rich.text import Text

    return Text()


def note_lines(d: Diagnosis) -> list[Text]:
    """The notes for stderr (``note: ...``), made safe."""
    from rich.text import Text

    return [Text.assemble(("note: ", "dim"), clean(n)) for n in d.snapshot.notes]


def render_diagnosis(d: Diagnosis, console: Console | None = None, err: Console | None = None) -> None:
    from raybot.render import console as out_console
    from raybot.render import err_console

    con = console or out_console()
    for item in diagnosis_renderables(d):
        con.print(item, highlight=False)
    e = err or err_console()
    for line in note_lines(d):
        e.print(line, highlight=False)


__all__ = ["diagnosis_renderables", "note_lines", "progress_text", "render_diagnosis", "render_progress"]
