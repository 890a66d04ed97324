"""The session logs: signature findings from each reachable node, or from a copied folder.

Live, the logs of nodes on this machine are scanned here, the others by the probe task
(:func:`raybot.diagnose.collect.probes.node_probe`). Offline, ``raybot diagnose --logs DIR``
scans a copied ``logs`` folder, a session folder, or a folder of per-node folders (such as a
download of ``ray logs``). Nothing is written anywhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from raybot.diagnose.logscan import LOG_GLOBS, scan_log_dirs
from raybot.diagnose.model import ClusterSnapshot, LogFinding, LogScan, NodeFacts
from raybot.diagnose.signatures import KnownSignature, all_signatures, scan_patterns
from raybot.errors import UsageError

#: how deep ``--logs DIR`` looks for folders holding Ray log files, and how many it takes
MAX_DEPTH = 4
MAX_DIRS = 64


def load_signatures(kb_dir: Path | None = None) -> tuple[list[KnownSignature], list[tuple[int, str, str]]]:
    """The signatures to look for and the ``(index, regex, anchor)`` tuples the scanner takes."""
    if kb_dir is None:
        from raybot.paths import kb_dir as default_kb

        try:
            kb_dir = default_kb()
        except Exception:  # noqa: BLE001 - a broken RAYBOT_KB: scan diagnose's own signatures
            kb_dir = None
    known = all_signatures(kb_dir)
    return known, scan_patterns(known)


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))
    except (ValueError, OverflowError):
        return None


def add_scan(scan: LogScan, known: list[KnownSignature], result: dict, labels: dict[str, str]) -> None:
    """Fold one :func:`scan_log_dirs` result into ``scan``; ``labels`` maps dir -> node label."""
    scan.errors += list(result.get("errors") or [])[:20]
    for d, rec in (result.get("dirs") or {}).items():
        label = labels.get(d, d)
        if rec.get("files_read") and label not in scan.nodes:
            scan.nodes.append(label)
        scan.files_read += rec.get("files_read", 0)
        scan.bytes_read += rec.get("bytes_read", 0)
        scan.files_cut += rec.get("files_cut", 0)
        scan.files_skipped += rec.get("files_skipped", 0)
        for idx, h in (rec.get("hits") or {}).items():
            k = known[int(idx)]
            scan.findings.append(
                LogFinding(
                    signature=k.signature.text,
                    node=label,
                    count=int(h.get("count", 0)),
                    first_time=h.get("first"),
                    last_time=h.get("last"),
                    last_epoch=_epoch(h.get("last")),
                    sample=str(h.get("sample") or "")[:300],
                    files=list(h.get("files") or []),
                    entries=list(k.entries),
                    topic=k.topic,
                    source=k.signature.source,
                )
            )
    scan.findings.sort(key=lambda f: (-(f.last_epoch or 0), -f.count))


def scan_local(
    dirs: dict[str, str], known: list[KnownSignature], patterns, only: dict[str, tuple[str, list[str]]] | None = None
) -> LogScan:
    """Scan log folders on this machine; ``dirs`` maps folder (or a key of ``only``) -> label."""
    scan = LogScan(signatures=len(known))
    if dirs:
        add_scan(scan, known, scan_log_dirs(list(dirs), patterns, LOG_GLOBS, only=only), dirs)
    return scan


#: in a folder shared by several nodes, the files of the cluster-wide processes (on the head)
HEAD_FILES = ("gcs_server.out", "dashboard.log", "monitor.log", "monitor.out", "monitor.err")
#: per-node daemon logs, ``{}`` being the node's index suffix (``""`` or ``".1"``, ...)
NODE_FILES = ("raylet{}.out", "dashboard_agent{}.log", "runtime_env_agent{}.log")


#: the label of the files of a shared folder that name no node
SHARED_PREFIX = "shared folder of "


def shared_label(nodes: list[NodeFacts]) -> str:
    return SHARED_PREFIX + ", ".join(n.short_id for n in nodes)


def local_log_dirs(
    snap: ClusterSnapshot, node_ids: set[str]
) -> tuple[dict[str, str], dict[str, tuple[str, list[str]]], bool]:
    """The log folders of the nodes ``node_ids`` on this machine, and how to split shared ones.

    Returns ``(labels, only, shared)``: ``labels`` maps a folder (or a key of ``only``) to the
    label its findings get; ``only`` says which files of a shared folder belong to which node;
    ``shared`` is true when some folder holds the logs of several nodes.

    Nodes started on one machine can share one session folder: Ray 2.49's ``ray start`` ignores
    ``--temp-dir`` on a non-head node and uses the head's (ray/scripts/scripts.py, "temp_dir is
    only configurable from a head node"), and on any version a second node started without
    ``--temp-dir`` uses the default one. Each node's raylet then writes ``raylet.out``,
    ``raylet.1.out``, ... (the name is on its command line, ``--stdout_filepath``), its agents
    ``dashboard_agent.1.log`` and so on; a worker's log is named by its worker id and pid, which
    the process table (live workers) and the state API (dead ones) tie to a node. The
    cluster-wide logs (GCS, dashboard, autoscaler monitor) go to the head. Files that name no node
    (drivers, runtime_env setup logs, workers neither source knows) are labelled as the shared
    folder's, never as one node's.
    """
    by_dir: dict[str, list[NodeFacts]] = {}
    for n in snap.alive_nodes:
        if n.node_id in node_ids and n.session_dir:
            by_dir.setdefault(f"{n.session_dir}/logs", []).append(n)
    labels: dict[str, str] = {}
    only: dict[str, tuple[str, list[str]]] = {}
    for folder, nodes in by_dir.items():
        if len(nodes) == 1:
            labels[folder] = nodes[0].label
            continue
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            names = []
        owner_of = file_owners(snap, nodes)
        owner: dict[str, list[str]] = {n.node_id: [] for n in nodes}
        shared: list[str] = []
        for name in names:
            nid = owner_of(name)
            (owner[nid] if nid is not None else shared).append(name)
        for n in nodes:
            key = f"{folder}#{n.node_id}"
            labels[key], only[key] = n.label, (folder, owner[n.node_id])
        key = f"{folder}#shared"
        labels[key], only[key] = shared_label(nodes), (folder, shared)
    return labels, only, bool(only)


def file_owners(snap: ClusterSnapshot, nodes: list[NodeFacts]) -> Callable[[str], str | None]:
    """For a logs folder shared by ``nodes``: file name -> the id of the node that wrote it, or
    ``None`` when the name ties it to no single node (see :func:`local_log_dirs` for the rules)."""
    import re

    worker_node: dict[str, str] = {}
    pid_node: dict[int, str] = {}
    for w in snap.dead_workers or []:
        if w.node_id:
            worker_node[w.worker_id] = w.node_id
    for n in snap.alive_nodes:
        for p in n.processes or []:
            pid_node[p.pid] = n.node_id
            if p.worker_id:
                worker_node[p.worker_id] = n.node_id
    ids = {n.node_id for n in nodes}
    head = next((n for n in nodes if n.is_head), None)
    suffix = {}
    for n in nodes:
        m = re.fullmatch(r"raylet(\.\d+)?\.out", n.raylet_log or "")
        if m:
            suffix[n.node_id] = m.group(1) or ""
    daemon = {pat.format(sfx): nid for nid, sfx in suffix.items() for pat in NODE_FILES}

    def owner(name: str) -> str | None:
        nid = daemon.get(name)
        if nid is None and head is not None and name in HEAD_FILES:
            nid = head.node_id
        m = re.fullmatch(r"python-core-worker-([0-9a-f]+)_(\d+)\.log", name)
        if nid is None and m:
            nid = worker_node.get(m.group(1)) or pid_node.get(int(m.group(2)))
        return nid if nid in ids else None

    return owner


def file_labels(snap: ClusterSnapshot, nodes: list[NodeFacts]) -> Callable[[str], str]:
    """File name -> the label of its node (:func:`file_owners`), else the shared folder's label."""
    owner_of = file_owners(snap, nodes)
    label = {n.node_id: n.label for n in nodes}
    shared = shared_label(nodes)
    return lambda name: label.get(owner_of(name) or "", shared)


def split_by_file(rec: dict, label_of: Callable[[str], str]) -> dict[str, dict]:
    """Split one folder's :func:`scan_log_dirs` record made with ``by_file=True`` into one record
    per label (``label_of`` maps a file name to its node's label): each file is counted once,
    under the label of its node. Files the budget left unread count under the label of the
    folder's unowned files (``label_of("")``)."""
    out: dict[str, dict] = {}

    def rec_for(label: str) -> dict:
        return out.setdefault(label, {"files_read": 0, "bytes_read": 0, "files_cut": 0, "files_skipped": 0, "hits": {}})

    if rec.get("files_skipped"):
        rec_for(label_of(""))["files_skipped"] += rec["files_skipped"]
    for name, f in (rec.get("by_file") or {}).items():
        r = rec_for(label_of(name))
        r["files_read"] += 1
        r["bytes_read"] += f.get("bytes", 0)
        r["files_cut"] += f.get("cut", 0)
        for idx, h in (f.get("hits") or {}).items():
            t = r["hits"].setdefault(idx, {"count": 0, "first": None, "last": None, "sample": "", "files": []})
            t["count"] += h.get("count", 0)
            if h.get("first") and (t["first"] is None or h["first"] < t["first"]):
                t["first"] = h["first"]
            if h.get("last") and (t["last"] is None or h["last"] >= t["last"]):
                t["last"], t["sample"] = h["last"], h.get("sample") or t["sample"]
            elif not t["sample"]:
                t["sample"] = h.get("sample") or ""
            for fname in h.get("files") or []:
                if fname not in t["files"] and len(t["files"]) < 20:
                    t["files"].append(fname)
    return out


def find_log_dirs(root: Path) -> dict[str, str]:
    """Folders under ``root`` (itself included) that hold Ray log files -> a label for each."""
    import fnmatch

    if not root.exists():
        raise UsageError(f"no such folder: {root}", hint="pass a copied Ray logs folder", reference="file-not-found")
    if not root.is_dir():
        raise UsageError(
            f"not a folder: {root}",
            hint="pass the folder (e.g. /tmp/ray/session_latest/logs), not a file",
            reference="bad-input",
        )
    found: dict[str, str] = {}
    base = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        depth = len(Path(dirpath).parts) - base
        if depth >= MAX_DEPTH:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if d not in ("old", "events", "export_events", "runtime_resources"))
        if any(fnmatch.fnmatchcase(f, g) for f in filenames for g in LOG_GLOBS):
            rel = os.path.relpath(dirpath, root)
            found[dirpath] = root.resolve().name if rel == "." else f"{root.resolve().name}/{rel}"
            if len(found) >= MAX_DIRS:
                break
    if not found:
        raise UsageError(
            f"no Ray log files in {root} (looked {MAX_DEPTH} levels deep)",
            hint="pass a copy of a session's logs folder, e.g. /tmp/ray/session_latest/logs, which "
            "holds raylet.out, gcs_server.out and python-core-worker-*.log",
            reference="no-ray-logs",
        )
    return found


def snapshot_from_logs(root: Path, kb_dir: Path | None = None) -> ClusterSnapshot:
    """A snapshot holding only the log findings of a copied logs folder (``--logs DIR``)."""
    dirs = find_log_dirs(root)
    known, patterns = load_signatures(kb_dir)
    snap = ClusterSnapshot(address=None, origin="logs")
    snap.logs = scan_local(dirs, known, patterns)
    snap.notes.append(
        f"read {snap.logs.files_read} log file(s), {snap.logs.bytes_read / 1e6:.1f} MB, in "
        f"{len(dirs)} folder(s) under {root}"
    )
    return snap
