"""Parse a pasted ``ray status`` output, in every layout Ray has printed.

The layouts differ in their section labels (read from the pasted outputs in Ray's issues listed
in tests/data/ray_status/SOURCES*.md, and the PRs named below):

- 2020-2023: ``Healthy:`` / ``Pending:`` / ``Recent failures:``, then ``Usage:`` and ``Demands:``
  (``Total Usage:`` / ``Total Demands:`` when ``-v`` adds the per-node breakdown);
- from PR #39638 (Sep 2023): ``Active:`` and ``Idle:`` instead of ``Healthy:``
  (autoscaler v1 prints no ``Idle:`` section);
- from PR #52458 (Apr 2025): ``Total Usage:`` / ``Total Constraints:`` / ``Total Demands:``;
- from PR #55787 (Sep 2025): ``From request_resources:`` and ``Pending Demands:``.

Early outputs have a ``Cluster status`` header and ``N node(s) with resources: {...}`` lines.
Users paste with log prefixes (``I 03-15 02:13:41 backend_utils.py:521] ...``) or warnings
before the header; both are tolerated. The parser is label-driven, not version-driven.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from raybot.diagnose.model import (
    AutoscalerFacts,
    ClusterSnapshot,
    Demand,
    FailedNode,
    NodeFacts,
    PasteFacts,
    PendingNode,
)
from raybot.diagnose.textsafe import clean
from raybot.errors import UsageError

#: parsing work is bounded: a paste is read up to MAX_CHARS characters and MAX_LINES lines, and at
#: most MAX_DEMANDS demand lines are parsed (the rest are counted); 200,000 demand lines then take
#: well under a second instead of minutes
MAX_CHARS = 8_000_000
MAX_LINES = 50_000
MAX_DEMANDS = 2_000
MAX_NODES = 2_000

_HEADER = re.compile(r"=+\s*(Autoscaler|Cluster) status:?\s*(.*?)\s*=+")
_SIZE = {
    "B": 1,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "PiB": 1024**5,
}
#: One number with at most one decimal point: a damaged paste ("16.6.93GiB", ".") is no usage line.
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_USAGE = re.compile(
    rf"^(?P<used>{_NUMBER})\s*(?P<uu>[KMGTP]i?B|B)?\s*/\s*(?P<total>{_NUMBER})\s*(?P<tu>[KMGTP]i?B|B)?\s+"
    r"(?P<res>\S+)(?:\s+\((?P<note>.*)\))?$"
)
_DEMAND = re.compile(
    r"^(?P<shape>.*?):\s*(?P<count>\d+)\+?\s+"
    r"(?P<kind>pending tasks/actors|pending placement groups|"
    r"from request_resources\(\))"
)

NODE_LABELS = {
    "Healthy:": "active",
    "Active:": "active",
    "Idle:": "idle",
    "Pending:": "pending",
    "Recent failures:": "failures",
}
RESOURCE_LABELS = {
    "Usage:": "usage",
    "Total Usage:": "usage",
    "Constraints:": "constraints",
    "Total Constraints:": "constraints",
    "From request_resources:": "constraints",
    "Demands:": "demands",
    "Total Demands:": "demands",
    "Pending Demands:": "demands",
    "Total Demands (by count):": "by-count",
}


@dataclass
class StatusNode:
    """One ``Node: ...`` block of ``ray status -v``."""

    name: str
    node_type: str | None = None
    node_id: str | None = None
    idle_ms: int | None = None
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    activity: list[str] = field(default_factory=list)
    is_idle: bool | None = None


@dataclass
class StatusText:
    header: str | None = None  #: ``Autoscaler status`` or ``Cluster status``
    timestamp: str | None = None
    labels: list[str] = field(default_factory=list)  #: section labels seen, in order
    active: dict[str, int] = field(default_factory=dict)
    idle: dict[str, int] = field(default_factory=dict)
    pending: list[PendingNode] = field(default_factory=list)
    failures: list[FailedNode] = field(default_factory=list)
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    usage_notes: dict[str, str] = field(default_factory=dict)
    constraints: list[Demand] = field(default_factory=list)
    demands: list[Demand] = field(default_factory=list)
    nodes: list[StatusNode] = field(default_factory=list)
    legacy_node_lines: list[str] = field(default_factory=list)  #: ``N node(s) with resources: ...``
    error_text: str | None = None  #: text after the report (autoscaler errors)
    sections: set[str] = field(default_factory=set)  #: kinds of facts present (see PasteFacts)
    empty_sections: list[str] = field(default_factory=list)  #: labels with no line under them
    lines_skipped: int = 0
    demands_dropped: int = 0

    @property
    def layout(self) -> str:
        """The labels that date this output, and the era they point to."""

        def first(*labels: str) -> str | None:
            return next((lb for lb in labels if lb in self.labels), None)

        node: str | None
        if "Healthy:" in self.labels:
            node = "Healthy:"
        elif "Idle:" in self.labels:
            node = "Active:/Idle:"
        else:
            node = first("Active:")
        usage = first("Total Usage:", "Usage:")
        demand = first("Pending Demands:", "Total Demands:", "Demands:")
        cons = first("From request_resources:", "Total Constraints:", "Constraints:")
        parts = [p for p in (node, usage, cons, demand) if p]
        if self.legacy_node_lines:
            parts.insert(0, "node(s) with resources")
        if "Pending Demands:" in self.labels or "From request_resources:" in self.labels:
            era = "Ray after Sep 2025 (PR #55787), e.g. 2.5x/2.60"
        elif "Healthy:" in self.labels or self.header == "Cluster status":
            era = "Ray before Sep 2023 (before PR #39638)"
        elif "Total Demands:" in self.labels and not self.nodes:
            era = "Ray Apr-Sep 2025 (PR #52458)"
        elif node:
            era = "Ray Sep 2023 - Sep 2025 (PR #39638 or later)"
        else:
            era = "unknown era"
        return f"{', '.join(parts) or 'unrecognised labels'} [{era}]"


def _to_float(num: str, unit: str | None) -> float:
    return float(num) * _SIZE.get(unit or "B", 1)


def parse_usage_line(line: str) -> tuple[str, float, float, str | None] | None:
    """``"0B/15.29GiB memory"`` -> ``("memory", 0.0, 16417...., None)``; sizes in bytes."""
    m = _USAGE.match(line.strip())
    if not m:
        return None
    uu, tu = m.group("uu"), m.group("tu")
    if tu and not uu:
        uu = tu  # old layout: "2.00/8.000 GiB memory"
    used, total = _to_float(m.group("used"), uu), _to_float(m.group("total"), tu)
    return m.group("res"), used, total, m.group("note")


def _demand(line: str, default_kind: str) -> Demand | None:
    m = _DEMAND.match(line.strip())
    if not m:
        return None
    kind = m.group("kind")
    kind = "tasks/actors" if "tasks" in kind else "placement groups" if "placement" in kind else "request_resources"
    return Demand(shape=m.group("shape").strip(), count=int(m.group("count")), kind=kind or default_kind)


def _strip_prefixes(lines: list[str]) -> list[str]:
    """Drop a log prefix that precedes the header on every line (``I 03-15 ... ] ``)."""
    for line in lines:
        m = _HEADER.search(line)
        if m and m.start() > 0 and line[: m.start()].strip():
            prefix = line[: m.start()]
            pattern = re.compile("^" + re.sub(r"\d+", r"\\d+", re.escape(prefix)))
            return [pattern.sub("", ln, count=1) for ln in lines]
    return lines


def clean_text(text: str) -> str:
    """Line breaks normalised; escape sequences and control characters removed."""
    return clean(text)


_SECTION_OF = {
    "active": "nodes",
    "idle": "idle",
    "pending": "pending",
    "failures": "failures",
    "usage": "usage",
    "demands": "demands",
    "constraints": "constraints",
}


def parse_status_text(text: str) -> StatusText:
    """Parse ``ray status`` output. Raises :class:`UsageError` if it is not one.

    Bounded: see :data:`MAX_CHARS`, :data:`MAX_LINES`, :data:`MAX_DEMANDS`.
    """
    st = StatusText()
    if len(text) > MAX_CHARS:
        st.lines_skipped += text.count("\n", MAX_CHARS)
        text = text[:MAX_CHARS]
    lines = clean_text(text).split("\n")
    if len(lines) > MAX_LINES:
        # past the cap only demand lines are counted (a huge paste is a long Demands: list)
        st.demands_dropped = sum(1 for ln in lines[MAX_LINES:] if "pending " in ln or "request_resources" in ln)
        st.lines_skipped += len(lines) - MAX_LINES
        lines = lines[:MAX_LINES]
    lines = _strip_prefixes(lines)
    start = None
    for i, line in enumerate(lines):
        m = _HEADER.search(line)
        if m:
            st.header, st.timestamp, start = f"{m.group(1)} status", m.group(2) or None, i + 1
            break
    if start is None:
        if any(ln.strip() in ("Node status", "Resources") for ln in lines):
            start = 0
        else:
            raise UsageError(
                'this does not look like `ray status` output (no "Autoscaler status" header)',
                hint="paste the whole output of `ray status`, from the ======== line down",
                reference="not-ray-status",
            )
    section: str | None = None
    node: StatusNode | None = None
    sub: str | None = None
    content: dict[str, int] = {}  #: label -> lines under it
    label: str | None = None
    for raw in lines[start:]:
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or set(stripped) <= {"-", "="}:
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            node, sub = None, None
            if stripped in NODE_LABELS or stripped in RESOURCE_LABELS:
                st.labels.append(stripped)
                section = NODE_LABELS.get(stripped) or RESOURCE_LABELS[stripped]
                label = stripped
                content.setdefault(label, 0)
                continue
            if stripped in ("Node status", "Resources"):
                section = None
                continue
            if stripped.startswith("Node: "):
                label = None
                if len(st.nodes) >= MAX_NODES:
                    section = None
                    continue
                name = stripped[len("Node: ") :]
                m = re.match(r"(.*?) \((.*)\)$", name)
                node = StatusNode(name=m.group(1) if m else name, node_type=m.group(2) if m else None)
                if re.fullmatch(r"[0-9a-f]{56}", node.name):
                    node.node_id = node.name
                st.nodes.append(node)
                section = "node"
                continue
            if re.match(
                r"(GCS request time|Node Provider non_terminated_nodes time|"
                r"Autoscaler iteration time)",
                stripped,
            ):
                continue
            if section == "demands" or section == "by-count" or section is None:
                # text after the report: an autoscaler error message
                st.error_text = (st.error_text + "\n" if st.error_text else "") + stripped[:1000]
                section, label = "error", None
                continue
            if section == "error" and len(st.error_text or "") < 20000:
                st.error_text = (st.error_text or "") + "\n" + stripped[:1000]
                continue
            continue
        if label is not None:
            content[label] = content.get(label, 0) + 1
        if section == "node" and node is not None:
            if indent == 1:
                if stripped.startswith("Id:"):
                    node.node_id = stripped[3:].strip()
                    sub = None
                elif re.match(r"Idle: \d+ ms$", stripped):
                    node.idle_ms = int(stripped.split()[1])
                    sub = None
                elif stripped in ("Usage:", "Activity:", "Is Idle:"):
                    sub = stripped[:-1]
                else:
                    sub = None
                continue
            if sub == "Usage":
                u = parse_usage_line(stripped)
                if u:
                    node.usage[u[0]] = (u[1], u[2])
            elif sub == "Activity":
                if stripped != "(no activity)":
                    node.activity.append(stripped)
            elif sub == "Is Idle":
                node.is_idle = stripped.lower() == "true"
            continue
        if section is None and "node(s) with resources" in stripped:
            st.legacy_node_lines.append(stripped)
            m = re.match(r"(\d+) node\(s\) with resources: (.*)$", stripped)
            if m:
                key = "node(s) with resources"
                st.active[key] = st.active.get(key, 0) + int(m.group(1))
            continue
        if stripped.startswith("(") and stripped.endswith(")") and section != "usage":
            continue  # "(no pending nodes)", "(none)", "(no resource demands)"
        if section in ("active", "idle"):
            m = re.match(r"(\d+) (.+)$", stripped)
            if m:
                target = st.active if section == "active" else st.idle
                target[m.group(2)] = target.get(m.group(2), 0) + int(m.group(1))
        elif section == "pending":
            m = re.match(r"(.+?), (\d+) launching$", stripped)
            if m:
                st.pending.append(PendingNode(node_type=m.group(1), status="launching", count=int(m.group(2))))
                continue
            m = re.match(r"([^,]*?):\s*(.*?),\s*(.*)$", stripped)
            if m:
                st.pending.append(
                    PendingNode(
                        node_type=m.group(2) or "?", status=m.group(3).strip() or "pending", ip=m.group(1) or None
                    )
                )
            else:
                st.pending.append(PendingNode(node_type=stripped, status="pending"))
        elif section == "failures":
            st.failures.append(_failure(stripped))
        elif section == "usage":
            u = parse_usage_line(stripped)
            if u:
                st.usage[u[0]] = (u[1], u[2])
                if u[3]:
                    st.usage_notes[u[0]] = u[3]
        elif section in ("demands", "constraints"):
            if len(st.demands) + len(st.constraints) >= MAX_DEMANDS:
                st.demands_dropped += 1
                continue
            kind = "request_resources" if section == "constraints" else "tasks/actors"
            d = _demand(stripped, kind)
            if d:
                (st.constraints if section == "constraints" else st.demands).append(d)
    if not st.labels and not st.legacy_node_lines:
        raise UsageError(
            "this does not look like `ray status` output (no Node status or Resources sections)",
            hint="paste the whole output of `ray status`",
            reference="not-ray-status",
        )
    for lb, n in content.items():
        label_kind = NODE_LABELS.get(lb) or RESOURCE_LABELS.get(lb)
        if n == 0:
            st.empty_sections.append(lb)
        elif label_kind in _SECTION_OF:
            st.sections.add(_SECTION_OF[label_kind])
    if st.legacy_node_lines:
        st.sections.add("nodes")
    if st.nodes:
        st.sections.add("node-details")
        if all(n.idle_ms is not None or n.is_idle is not None for n in st.nodes):
            st.sections.add("idle")
    return st


_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _failure(line: str) -> FailedNode:
    ip = None
    m = re.search(r"\(ip: ([^)]+)\)", line)
    if m:
        ip = m.group(1)
        line = (line[: m.start()] + line[m.end() :]).strip()
    m = re.match(r"(.+?): (.*)$", line)
    if not m:
        return FailedNode(node_type=line, ip=ip)
    left, right = m.group(1).strip(), m.group(2).strip()
    if _IP.match(left):  # early layout: "10.0.0.157: custom1"
        return FailedNode(node_type=right, ip=left)
    return FailedNode(node_type=left, ip=ip, reason=right or None)


def _cut_off(st: StatusText) -> list[str]:
    out = [f"{lb} is empty (the paste ends there?)" for lb in st.empty_sections]
    has_resources = bool(st.sections & {"usage", "demands", "constraints"}) or any(
        lb in RESOURCE_LABELS for lb in st.labels
    )
    if (st.sections & {"nodes", "pending", "failures"}) and not has_resources:
        out.append("no Resources part (Usage:, Demands:) after the node status")
    elif any(RESOURCE_LABELS.get(lb) == "usage" for lb in st.labels) and not any(
        RESOURCE_LABELS.get(lb) == "demands" for lb in st.labels
    ):
        out.append("no Demands: section after Usage:")
    return out


def snapshot_from_status(st: StatusText, *, source: str = "-") -> ClusterSnapshot:
    """A snapshot holding only what ``ray status`` shows, for the checks to run on."""
    facts = AutoscalerFacts(
        source="status-text",
        active_nodes=dict(st.active),
        idle_nodes=dict(st.idle),
        pending=list(st.pending),
        failures=list(st.failures),
        demands=list(st.demands) + list(st.constraints),
        usage=dict(st.usage),
    )
    paste = PasteFacts(
        layout=st.layout,
        header=st.header,
        timestamp=st.timestamp,
        labels=list(st.labels),
        sections=set(st.sections),
        cut_off=_cut_off(st),
        usage_notes=dict(st.usage_notes),
        error_text=st.error_text,
        lines_skipped=st.lines_skipped,
        demands_dropped=st.demands_dropped,
    )
    snap = ClusterSnapshot(address=None, origin="status-text", status_layout=st.layout, autoscaler=facts, paste=paste)
    for n in st.nodes:
        total = {k: v[1] for k, v in n.usage.items()}
        node = NodeFacts(
            node_id=n.node_id or f"{n.name}",
            ip=n.name if _IP.match(n.name) else None,
            is_head=bool(n.node_type and "head" in n.node_type.lower()),
            resources_total=total,
            idle_ms=n.idle_ms,
            cpus_used=n.usage["CPU"][0] if "CPU" in n.usage else None,
            node_type=n.node_type,
        )
        snap.nodes.append(node)
    if st.error_text:
        snap.notes.append(f"text after the report: {st.error_text[:300]}")
    if st.lines_skipped or st.demands_dropped:
        snap.notes.append(
            f"a long paste: {st.lines_skipped} line(s) past the cap were not parsed"
            + (f", {st.demands_dropped} demand line(s) counted only" if st.demands_dropped else "")
        )
    snap.notes.append(
        f"parsed from {source}: {st.header or 'no header'}" + (f" at {st.timestamp}" if st.timestamp else "")
    )
    return snap
