"""The log scan: a self-contained function that looks for signatures in Ray's session logs.

:func:`scan_log_dirs` only reads. Large files are read from the end with a byte budget per file
and in total; at most ``max_files`` files of each kind per directory (the newest). Like
:func:`raybot.diagnose.procscan.scan_ray_processes` it refers to no module globals, so a copy made
by :func:`raybot.diagnose.procscan.detached` runs on other nodes as part of the probe task.

Patterns come in as ``(index, regex, anchor)``: ``anchor`` is a lower-case literal word of the
signature; the regex runs only over text that contains it, which keeps hundreds of signatures
cheap.
"""

from __future__ import annotations

from typing import Any

#: file name patterns that are scanned (fnmatch). ``raylet.err`` / ``gcs_server.err`` are left out:
#: on Ray 2.60 they repeat the ERROR lines of the ``.out`` files, which would count each twice.
#: ``python-core-driver-*.log`` is the core-worker log of each driver: what the owner of an object
#: or the submitter of a task logs lands there, not in the workers' logs.
#: ``raylet.1.out``, ``dashboard_agent.1.log``, ``runtime_env_agent.1.log``: the logs of a second
#: (third, ...) node whose session folder is the head's, which happens to nodes started on the
#: head's machine (Ray 2.49's ``ray start`` ignores ``--temp-dir`` on a non-head node).
LOG_GLOBS = (
    "raylet.out",
    "raylet.[0-9]*.out",
    "gcs_server.out",
    "python-core-worker-*.log",
    "python-core-driver-*.log",
    "runtime_env_setup-*.log",
    "runtime_env_agent.log",
    "runtime_env_agent.[0-9]*.log",
    "dashboard.log",
    "dashboard_agent.log",
    "dashboard_agent.[0-9]*.log",
    "monitor.log",
    "monitor.out",
    "monitor.err",
)


def scan_log_dirs(
    dirs: list[str],
    patterns: list[tuple[int, str, str]],
    globs: tuple[str, ...],
    budget_per_file: int = 1 << 20,
    budget_total: int = 32 << 20,
    max_files: int = 200,
    small_budget: int = 64 << 10,
    only: dict | None = None,
    by_file: bool = False,
) -> dict:
    """Scan each directory's Ray log files for the patterns.

    Returns ``{"dirs": {dir: {"files_read", "bytes_read", "files_cut", "files_skipped",
    "hits": {index: {"count", "first", "last", "sample", "files"}}}}, "errors": [...]}``.
    ``globs`` are the file-name patterns to read (:data:`LOG_GLOBS`); files matched by a pattern
    ending in ``-*.log`` (one per worker, driver or job) get ``small_budget`` bytes each.
    ``only`` maps an entry of ``dirs`` to ``(folder, file names)``: that entry reads only those
    files of that folder (one folder shared by several nodes is split this way).
    ``by_file``: each directory's record also holds ``"by_file": {name: {"bytes", "cut", "hits"}}``
    for every file read, so the caller can split a folder it finds shared only afterwards (the
    probe tasks of two nodes that write into one folder).
    """
    import fnmatch
    import os
    import re

    def _mtime(path: str) -> float:
        try:
            return os.stat(path).st_mtime
        except OSError:
            return 0.0

    compiled = []
    for idx, regex, anchor in patterns:
        try:
            compiled.append((idx, re.compile(regex, re.I), anchor.lower()))
        except re.error:
            continue
    stamp = re.compile(
        r"^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)"  # C++: [2026-12-01 08:56:39,908 E ...]; Python: 2026-...
    )
    out: dict = {"dirs": {}, "errors": []}
    left = budget_total
    for key in dirs:
        rec: dict[str, Any] = {"files_read": 0, "bytes_read": 0, "files_cut": 0, "files_skipped": 0, "hits": {}}
        if by_file:
            rec["by_file"] = {}
        out["dirs"][key] = rec
        d, allowed = (only or {}).get(key, (key, None))
        try:
            names = [
                n
                for n in os.listdir(d)
                if (allowed is None or n in allowed) and any(fnmatch.fnmatchcase(n, g) for g in globs)
            ]
        except OSError as exc:
            out["errors"].append(f"{d}: {exc.strerror or type(exc).__name__}")
            continue
        by_glob: dict = {}
        for n in names:
            g = next(g for g in globs if fnmatch.fnmatchcase(n, g))
            by_glob.setdefault(g, []).append(n)
        chosen = []
        for g, group in by_glob.items():
            if len(group) > max_files:
                mtimes = {n: _mtime(os.path.join(d, n)) for n in group}
                group = sorted(group, key=mtimes.__getitem__, reverse=True)
                rec["files_skipped"] += len(group) - max_files
                group = group[:max_files]
            small = g.endswith("-*.log")
            chosen += [(n, small_budget if small else budget_per_file) for n in sorted(group)]
        for name, budget in chosen:
            if left <= 0:
                rec["files_skipped"] += 1
                continue
            path = os.path.join(d, name)
            try:
                if not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    f.seek(0, 2)
                    size = f.tell()
                    want = min(budget, left)
                    start = max(size - want, 0)
                    f.seek(start)
                    data = f.read(want)
            except OSError as exc:
                out["errors"].append(f"{path}: {exc.strerror or type(exc).__name__}")
                continue
            left -= len(data)
            rec["files_read"] += 1
            rec["bytes_read"] += len(data)
            text = data.decode("utf-8", "replace")
            if start > 0:
                rec["files_cut"] += 1
                nl = text.find("\n")
                text = text[nl + 1 :] if nl >= 0 else ""
            file_hits: dict = {}
            if by_file:
                rec["by_file"][name] = {"bytes": len(data), "cut": int(start > 0), "hits": file_hits}
            lower = text.lower()
            for idx, rx, anchor in compiled:
                if anchor and anchor not in lower:
                    continue
                seen_lines = set()
                for m in rx.finditer(text):
                    ls = text.rfind("\n", 0, m.start()) + 1
                    if ls in seen_lines:
                        continue
                    seen_lines.add(ls)
                    le = text.find("\n", m.end())
                    line = text[ls : le if le >= 0 else len(text)]
                    ts = stamp.match(line)
                    t = ts.group(1).replace("T", " ") if ts else None
                    for tally in (rec["hits"], file_hits) if by_file else (rec["hits"],):
                        h = tally.setdefault(idx, {"count": 0, "first": None, "last": None, "sample": "", "files": []})
                        h["count"] += 1
                        if t is not None:
                            if h["first"] is None or t < h["first"]:
                                h["first"] = t
                            if h["last"] is None or t >= h["last"]:
                                h["last"] = t
                                h["sample"] = line.strip()[:300]
                        elif not h["sample"]:
                            h["sample"] = line.strip()[:300]
                        if name not in h["files"] and len(h["files"]) < 20:
                            h["files"].append(name)
                    if len(seen_lines) >= 10000:
                        break
    return out
