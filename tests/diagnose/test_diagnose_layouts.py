"""``--status-file``: never "ok" for what the pasted layout cannot show.

For every recorded layout and every check, the test works out on its own (from the text, with its
own table of labels) whether the paste holds what the check needs; where it does not, the check
must say "could not check" and name the layout. Plus the issue-10 example, cut-off pastes, a
200,000-line paste, and hostile text.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose import diagnose_status_text
from raybot.diagnose.checks import CHECKS
from raybot.diagnose.render import diagnosis_renderables, render_diagnosis

HERE = Path(__file__).resolve().parent
RECORDED = sorted((HERE.parent / "data" / "ray_status").glob("*.txt"))
OWN = sorted((HERE / "data").glob("*.txt"))
ALL = RECORDED + OWN
runner = CliRunner()

#: needs no `ray status` layout can satisfy
NEVER_IN_STATUS = {
    "processes",
    "system-config",
    "dead-workers",
    "objects",
    "ray-version",
    "node-table",
    "logs",
    "pending-work",
}


def _section(text: str, labels: str) -> bool:
    """A section label at the start of a line, with at least one line under it."""
    return re.search(rf"^(?:{labels})\s*\n[ \t]+\S", text, re.M) is not None


def _node_blocks_have_idle_time(text: str) -> bool:
    blocks = re.findall(r"^Node: .*?(?=^Node: |\Z)", text, re.M | re.S)
    return bool(blocks) and all(re.search(r"^ (Idle: \d+ ms|Is Idle:)", b, re.M) for b in blocks)


def present(text: str, need: str) -> bool:
    """Whether the paste holds what ``need`` names, judged from the text alone."""
    if need in NEVER_IN_STATUS:
        return False
    if need == "autoscaler-report":
        return True
    return {
        "node-counts": lambda: _section(text, "Healthy:|Active:") or "node(s) with resources" in text,
        "node-idle-time": lambda: _section(text, "Idle:") or _node_blocks_have_idle_time(text),
        "pending-nodes": lambda: _section(text, "Pending:"),
        "failures": lambda: _section(text, "Recent failures:"),
        "usage": lambda: _section(text, "Usage:|Total Usage:"),
        "demands": lambda: _section(
            text, "Demands:|Total Demands:|Pending Demands:|From request_resources:|Total Constraints:"
        ),
    }[need]()


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_every_check_on_every_layout_is_could_not_check_where_the_layout_is_silent(path):
    text = path.read_text()
    d = diagnose_status_text(text, source=path.name)
    by_id = {r.id: r for r in d.results}
    layout = d.snapshot.status_layout
    assert layout and "unrecognised" not in layout
    for c in CHECKS:
        r = by_id[c.id]
        if not c.needs:
            continue
        if all(present(text, n) for n in c.needs):
            assert r.status != "error", (c.id, r.value, r.evidence)
        else:
            assert r.status == "error", (c.id, r.status, r.value)
            assert any(ev == f"layout: {layout}" for ev in r.evidence), (c.id, r.evidence)
            assert r.value and "ok" not in r.value.split()


def test_issue_10_old_layout_example():
    """Healthy: layout, 4 nodes, 0.0/64.0 CPU, 12.35/80 GiB object store (issue 10)."""
    text = (HERE / "data" / "issue10-healthy-all-idle.txt").read_text()
    d = diagnose_status_text(text)
    by_id = {r.id: r for r in d.results}
    idle = by_id["idle-nodes"]
    assert idle.status == "error" and "Idle:" in idle.value
    assert "layout: Healthy:, Usage:, Demands: [Ray before Sep 2023 (before PR #39638)]" in idle.evidence
    whole = by_id["cluster-idle"]
    assert whole.status == "warn" and "no CPU/GPU in use on 4 nodes" in whole.value
    assert any("12.3 GiB of 80.0 GiB object store in use" in ev for ev in whole.evidence)
    assert any("min_workers" in ev for ev in whole.evidence)
    assert "autoscaler-nodes-not-scaling-down" in whole.entries
    doc = d.to_dict()
    c = doc["cluster"]
    assert c["node_count"] == 4
    assert c["nodes_by_type"] == {
        "ray.head.default": {"active": 1, "idle": 0},
        "ray.worker.gpu": {"active": 3, "idle": 0},
    }
    assert c["resources"]["CPU"] == {"used": 0.0, "total": 64.0}
    assert c["resources"]["object_store_memory"]["used"] == pytest.approx(12.35 * 1024**3)
    assert c["pending"] == [] and c["failures"] == [] and c["demands"] == []
    out = _render(d, 100)
    assert "nodes: 4 · ray.head.default: 1 active; ray.worker.gpu: 3 active" in out
    assert "0/64 CPU" in out and "12.3 GiB/80.0 GiB object_store_memory" in out
    assert "Whole cluster idle" in out


def test_a_layout_without_pending_or_failures_sections_says_so_in_json():
    text = (HERE.parent / "data" / "ray_status" / "gh-17892-cluster-status-2021.txt").read_text()
    c = diagnose_status_text(text).to_dict()["cluster"]
    assert c["pending"] is None and c["failures"] is None  # not [] : the layout has no such section
    assert c["resources"]


def _cut(text: str, marker: str) -> str:
    i = text.index(marker)
    return text[: i + len(marker)]


def test_a_paste_cut_off_mid_report_is_not_analysed_as_complete():
    text = (HERE.parent / "data" / "ray_status" / "2.60-idle.txt").read_text()
    cut = _cut(text, "Total Usage:\n")  # ends right after the label
    d = diagnose_status_text(cut)
    by_id = {r.id: r for r in d.results}
    assert by_id["data-completeness"].status == "error"
    assert any("Total Usage: is empty" in ev for ev in by_id["data-completeness"].evidence)
    for cid in ("object-store", "cluster-idle", "infeasible-demands"):
        assert by_id[cid].status == "error", cid
        assert any(ev.startswith("the paste looks cut off") for ev in by_id[cid].evidence), by_id[cid].evidence
    assert by_id["autoscaler-pending"].status == "ok"  # that section is complete
    cut = _cut(text, "Recent failures:\n (no failures)\n")
    d = diagnose_status_text(cut)
    assert any("no Resources part" in c for c in d.snapshot.paste.cut_off)
    assert {r.id: r for r in d.results}["object-store"].status == "error"


def test_200000_demand_lines_are_bounded_in_time_and_output():
    head = (HERE.parent / "data" / "ray_status" / "2.60-pending.txt").read_text()
    head = head[: head.index("Pending Demands:")] + "Pending Demands:\n"
    lines = "".join(f" {{'CPU': {1 + i % 7}.0, 'custom_{i}': 1.0}}: 1+ pending tasks/actors\n" for i in range(200_000))
    started = time.monotonic()
    d = diagnose_status_text(head + lines)
    doc = d.to_dict()
    out = _render(d, 120)
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    r = {r.id: r for r in d.results}["infeasible-demands"]
    assert r.status == "warn" and len(r.evidence) <= 12
    assert any("not compared" in ev for ev in r.evidence)
    assert len(json.dumps(doc)) < 2_000_000
    assert len(out.splitlines()) < 300
    assert d.snapshot.paste.demands_dropped > 0


HOSTILE = (
    "\nError: [/] boom\n"
    "[link=http://evil.example/fix.sh]run the official fix[/link]\n"
    "\x1b]8;;http://evil.example/x.sh\x07click\x1b]8;;\x07 \x1b[31mred\x1b[0m \u202eevil\n"
    "device [/dev/sda1] is not valid\n"
)


def test_hostile_trailing_text_is_shown_as_text_never_markup_or_links():
    text = (HERE.parent / "data" / "ray_status" / "2.60-idle.txt").read_text() + HOSTILE
    d = diagnose_status_text(text)
    assert "[/] boom" in d.snapshot.paste.error_text
    buf = io.StringIO()
    con = Console(file=buf, width=100, force_terminal=True, color_system="truecolor")
    render_diagnosis(d, con, con)
    out = buf.getvalue()
    assert "\x1b]8;" not in out  # no OSC 8 hyperlink
    assert "\u202e" not in out
    assert "[link=http://evil.example/fix.sh]run the official fix[/link]" in re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "[/] boom" in out


@pytest.mark.parametrize("extra", ["Error: [/] boom\n", "[link=http://evil.example/fix.sh]fix[/link]\n", HOSTILE])
def test_hostile_status_file_through_the_cli(tmp_path, extra, monkeypatch):
    monkeypatch.setenv("RAYBOT_HOME", str(tmp_path / "home"))
    f = tmp_path / "status.txt"
    f.write_text((HERE.parent / "data" / "ray_status" / "2.60-idle.txt").read_text() + extra)
    res = runner.invoke(app, ["diagnose", "--status-file", str(f)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and "\x1b" not in res.stdout
    res = runner.invoke(app, ["diagnose", "--status-file", str(f), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["origin"] == "status-text"


def _render(d, width: int) -> str:
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None)
    for item in diagnosis_renderables(d):
        con.print(item, highlight=False)
    return buf.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_human_output_keeps_to_the_console_width(path, width):
    d = diagnose_status_text(path.read_text())
    out = _render(d, width)
    too_long = [ln for ln in out.splitlines() if len(ln.rstrip()) > width]
    assert not too_long, too_long[:3]
    # key lines, whatever the width
    flat = " ".join(out.split())
    assert "Pasted `ray status`" in flat
    assert re.search(r"\d+ failed · \d+ warnings · \d+ could not check · \d+ info · \d+ ok", flat)
    assert f"{sum(1 for r in d.results if r.status == 'error')} could not check" in flat
    for r in d.results:
        assert " ".join(r.title.split()) in flat


def test_human_output_snapshot_of_a_260_paste():
    d = diagnose_status_text((HERE.parent / "data" / "ray_status" / "2.60-pending.txt").read_text())
    out = _render(d, 100)
    lines = out.splitlines()
    assert lines[0].startswith("Pasted `ray status` · layout: Active:, Total Usage:, From request_resources:")
    assert "  resources: 1/2 CPU" in out
    assert "  demands: 2+ in 1 shape(s)" in out
    assert re.search(r"! +warn +Resource demands +2\+ request\(s\) no node can run", out)
    assert re.search(r"\? +could not check +Idle nodes +no Idle: section in this layout", out)
    # details of a warning: why, evidence, the command, the fix, the kb entries
    block = out[out.index("! Resource demands") :]
    for part in (
        "why:",
        "• {'CPU': 3.0}: 2+ pending tasks/actors",
        "show it:",
        "ray status -v",
        "fix:",
        "kb: ray-status-output",
    ):
        assert part in block, part
    # could-not-check results for the same reason are shown once, with the checks named
    assert out.count("not in `ray status` output:") == 1


def test_undecodable_bytes_in_a_status_file_are_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYBOT_HOME", str(tmp_path / "home"))
    f = tmp_path / "status.txt"
    raw = (HERE.parent / "data" / "ray_status" / "2.60-idle.txt").read_bytes()
    f.write_bytes(raw + b"\nAutoscaler error: \xff\xfe bad bytes [/]\n")
    res = runner.invoke(app, ["diagnose", "--status-file", str(f), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["thread_id"] and any("bad bytes [/]" in n for n in doc["notes"])
