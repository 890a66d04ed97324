"""The per-node process scan: a self-contained function, also shipped to other nodes.

:func:`scan_ray_processes` runs here for nodes whose raylet runs on this machine, and as a zero-CPU
task pinned to each other node (see :mod:`raybot.diagnose.collect.probes`). It refers to no module
globals and imports what it needs inside, so cloudpickle can ship a copy made by :func:`detached`
to a node where raybot is not installed.
"""

from __future__ import annotations


def scan_ray_processes(
    node_ids: list[str] | None = None,
    raylet_pid: int | None = None,
    exclude_pids: tuple[int, ...] = (),
    cpu_sample_s: float = 0.2,
) -> dict:
    """Scan this machine's process table for raylets and their workers; return plain dicts.

    Self-contained on purpose: it is also shipped by value to other nodes as the probe task, so
    it imports everything it needs inside and refers to no module globals. It only reads: the
    process table (psutil), the raylets' ``RAY_*`` environment (secrets redacted), each
    session's ``logs/debug_state.txt`` and the worker log files' names, heads and tails.
    """
    import base64
    import json
    import os
    import re
    import time as _time

    result: dict = {"raylets": [], "error": None, "host": None}
    exclude_pids = tuple(exclude_pids) + (os.getpid(),)
    try:
        import psutil
    except ImportError:
        result["error"] = "psutil is not installed on this node"
        return result
    try:
        result["host"] = os.uname().nodename
    except Exception:
        pass

    secret = re.compile(r"TOKEN|PASSWORD|SECRET|CREDENTIAL|_KEY$|^RAY_REDIS_", re.I)

    def args_of(cmdline):
        out: dict[str, str] = {}
        for arg in cmdline:
            if arg.startswith("--") and "=" in arg:
                k, v = arg.split("=", 1)
                out.setdefault(k, v)
        return out

    def tail(path, nbytes=65536):
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(size - nbytes, 0))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def head(path, nbytes=512):
        try:
            with open(path, "rb") as f:
                return f.read(nbytes).decode("utf-8", "replace")
        except OSError:
            return ""

    if raylet_pid is not None:
        try:
            candidates = [psutil.Process(raylet_pid)]
        except psutil.Error as exc:
            result["error"] = f"raylet pid {raylet_pid}: {exc}"
            return result
    else:
        candidates = []
        for p in psutil.process_iter(["name"]):
            if p.info.get("name") == "raylet":
                candidates.append(p)

    # The gcs_server's --config_list, keyed by its session dir and by its session name.
    gcs_by_session: dict[str, str | None] = {}
    gcs_by_name: dict[str, str | None] = {}
    monitors: dict[str, str | None] = {}
    for p in psutil.process_iter(["name"]):
        name = p.info.get("name") or ""
        if name != "gcs_server" and not name.startswith("python"):
            continue
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        a = args_of(cmd)
        if name == "gcs_server":
            # Ray 2.60 passes --session-dir; 2.49 passes only --session-name and
            # --log_dir=<session dir>/logs, the session dir being <temp dir>/<session name>.
            session_dir = a.get("--session-dir")
            session_name = a.get("--session-name")
            if not session_dir and session_name and a.get("--log_dir"):
                parent = os.path.dirname(a["--log_dir"].rstrip("/"))
                if os.path.basename(parent) == session_name:
                    session_dir = parent
            if session_dir:
                gcs_by_session[session_dir] = a.get("--config_list")
            if session_name:
                gcs_by_name[session_name] = a.get("--config_list")
        elif any(c.endswith("autoscaler/_private/monitor.py") for c in cmd) and a.get("--logs-dir"):
            monitors[os.path.dirname(a["--logs-dir"].rstrip("/"))] = a.get("--autoscaling-config")

    def autoscaling_config(path):
        if not path:
            return {"provider": "readonly"}  # a hand-started cluster: nothing adds or removes nodes
        try:
            import yaml

            with open(path) as f:
                cfg = yaml.safe_load(f) or {}
        except Exception as exc:  # noqa: BLE001
            return {"error": f"cannot read {path}: {type(exc).__name__}"}
        return {
            "idle_timeout_minutes": cfg.get("idle_timeout_minutes"),
            "max_workers": cfg.get("max_workers"),
            "provider": (cfg.get("provider") or {}).get("type"),
        }

    now = _time.time()
    raylets = []
    samples = {}  # pid -> (process, cpu seconds at t0)
    for rp in candidates:
        entry = {
            "pid": rp.pid,
            "node_id": None,
            "node_ip": None,
            "session_dir": None,
            "raylet_stdout": None,
            "env": None,
            "env_error": None,
            "gcs_system_config": None,
            "debug_state": None,
            "debug_state_other_node": None,
            "processes": [],
            "error": None,
            "autoscaling": None,
        }
        try:
            a = args_of(rp.cmdline())
        except psutil.Error:
            continue
        entry["node_id"] = a.get("--node_id")
        if node_ids is not None and entry["node_id"] not in node_ids:
            continue
        entry["node_ip"] = a.get("--node_ip_address")
        entry["session_dir"] = a.get("--session_dir")
        entry["raylet_stdout"] = a.get("--stdout_filepath")
        try:
            env = rp.environ()
            entry["env"] = {
                k: ("<redacted>" if secret.search(k) else v) for k, v in env.items() if k.startswith("RAY_")
            }
        except psutil.Error as exc:
            entry["env_error"] = f"cannot read the raylet's environment: {type(exc).__name__}"
        if entry["session_dir"] in monitors:
            entry["autoscaling"] = autoscaling_config(monitors[entry["session_dir"]])
        raylet_session = entry["session_dir"] or ""
        cfg = gcs_by_session.get(raylet_session) or gcs_by_name.get(os.path.basename(raylet_session.rstrip("/")))
        if cfg:
            try:
                entry["gcs_system_config"] = json.loads(base64.b64decode(cfg))
            except ValueError:
                pass
        logs = os.path.join(entry["session_dir"] or "", "logs")
        ds_path = os.path.join(logs, "debug_state.txt")
        try:
            text = tail(ds_path, 1 << 20)
            # Raylets sharing one logs folder all write this one file (it starts "Node ID: <id>"):
            # the numbers of another node's raylet are not this node's.
            writer = re.search(r"^Node ID: ([0-9a-f]+)", text, re.M)
            if writer and entry["node_id"] and writer.group(1) != entry["node_id"]:
                entry["debug_state_other_node"] = writer.group(1)
                raise OSError("written by another node's raylet")
            ds = {"path": ds_path, "age_s": now - os.stat(ds_path).st_mtime}
            for key, pat in (
                ("num_idle_workers", r"- num idle workers: (\d+)"),
                ("num_python_workers", r"- num PYTHON workers: (\d+)"),
                ("registered_jobs", r"- registered jobs: (\d+)"),
                ("bytes_spilled", r"- num bytes currently spilled: (\d+)"),
            ):
                m = re.search(pat, text)
                ds[key] = int(m.group(1)) if m else None
            entry["debug_state"] = ds
        except OSError:
            pass
        out_logs, core_logs = {}, {}
        try:
            for name in os.listdir(logs):
                m = re.match(r"worker-([0-9a-f]+)-([0-9a-f]+)-(\d+)\.out$", name)
                if m:
                    out_logs[int(m.group(3))] = (m.group(1), os.path.join(logs, name))
                    continue
                m = re.match(r"python-core-worker-([0-9a-f]+)_(\d+)\.log$", name)
                if m:
                    core_logs[int(m.group(2))] = os.path.join(logs, name)
        except OSError:
            pass
        try:
            children = rp.children()
        except psutil.Error as exc:
            entry["error"] = f"cannot list the raylet's children: {type(exc).__name__}"
            children = []
        for c in children:
            if c.pid in exclude_pids:
                continue
            try:
                with c.oneshot():
                    cmd = c.cmdline()
                    title = " ".join(cmd).strip() or c.name()
                    mem = c.memory_info()
                    ct = c.cpu_times()
                    created = c.create_time()
            except psutil.Error:
                continue
            if title == "ray::IDLE":
                kind = "idle"
            elif title.startswith("ray::IDLE_"):
                kind = "io-idle"
            elif "agent" in title.lower():  # ray::DashboardAgent, ray::RuntimeEnvAgent
                kind = "agent"
            elif title.startswith("ray::"):
                kind = "active"
            else:
                kind = "other"
            proc = {
                "pid": c.pid,
                "title": title[:200],
                "kind": kind,
                "rss_bytes": mem.rss,
                "shared_bytes": getattr(mem, "shared", None),
                "cpu_percent": None,
                "age_s": max(now - created, 0.0),
                "worker_id": None,
                "job_id": None,
                "last_task": None,
                "last_task_start_age_s": None,
                "not_idle_log": None,
                "actor_id": None,
                "actor_created_at": None,
            }
            if c.pid in out_logs:
                wid, path = out_logs[c.pid]
                proc["worker_id"] = wid
                m = re.search(r":job_id:([0-9a-f]+)", head(path))
                proc["job_id"] = m.group(1) if m else None
                names = re.findall(r":task_name:(\S+)", tail(path, 16384))
                if names:
                    proc["last_task"] = names[-1]
                    try:
                        proc["last_task_start_age_s"] = max(now - os.stat(path).st_mtime, 0.0)
                    except OSError:
                        pass
            if kind == "active" and c.pid in core_logs:
                # core_worker.cc logs "Creating actor actor_id=<id>" when the process starts running
                # an actor's creation task (its __init__); the stamp is the node's local time.
                found = re.findall(
                    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[,.](\d+)[^\]]*\]"
                    r"[^\n]*Creating actor[: ]+(?:actor_id=)?([0-9a-f]+)",
                    head(core_logs[c.pid], 1 << 16),
                    re.M,
                )
                if found:
                    stamp, frac, actor_id = found[-1]
                    try:
                        created = _time.mktime(_time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + float("0." + frac)
                        proc["actor_id"], proc["actor_created_at"] = actor_id, created
                    except (ValueError, OverflowError):
                        pass
            if kind in ("idle", "io-idle") and c.pid in core_logs:
                lines = [
                    ln
                    for ln in tail(core_logs[c.pid]).splitlines()
                    if "Worker is not idle" in ln
                    or "still managing" in ln
                    or "Worker not idle, ignoring exit request" in ln
                ]
                if lines:
                    proc["not_idle_log"] = lines[-1].strip()[:400]
            entry["processes"].append(proc)
            samples[c.pid] = (c, ct.user + ct.system, proc)
        raylets.append(entry)

    if samples and cpu_sample_s > 0:
        t0 = _time.monotonic()
        _time.sleep(cpu_sample_s)
        dt = _time.monotonic() - t0
        for c, before, proc in samples.values():
            try:
                ct = c.cpu_times()
                proc["cpu_percent"] = round(max(ct.user + ct.system - before, 0.0) / dt * 100, 1)
            except psutil.Error:
                pass
    result["raylets"] = raylets
    result["now"] = now
    return result


def detached(fn):
    """A copy of ``fn`` with no module globals, so cloudpickle ships it by value to other nodes
    (raybot need not be installed there)."""
    import types

    clone = types.FunctionType(
        fn.__code__, {"__builtins__": __builtins__}, fn.__name__, fn.__defaults__, fn.__closure__
    )
    clone.__kwdefaults__ = fn.__kwdefaults__
    clone.__module__ = None  # type: ignore[assignment]
    return clone
