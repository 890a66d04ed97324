"""Collect facts about a Ray cluster once: the only I/O of ``raybot diagnose``.

:func:`collect_snapshot` talks to the cluster and returns a :class:`ClusterSnapshot` of plain
dataclasses. The checks (:mod:`raybot.diagnose.checks`) are pure functions over it.

Where the facts come from (Ray 2.60):

- the GCS, through ``ray._raylet.GcsClient`` (what ``ray status`` uses): cluster metadata (the
  cluster's Ray version), the autoscaler status that ``ray status`` prints (internal KV key
  ``__autoscaling_status``), the node table, the job table and, through
  ``ray._private.state.GlobalState.get_system_config()``, the cluster-wide ``_system_config``;
- ``ray.autoscaler.v2.sdk.get_cluster_status``: per-node idle time (served by the GCS for
  autoscaler v1 and v2 alike);
- the state API (``ray.util.state``, served by the dashboard): dead workers with their exit
  detail, objects with their reference types, finished tasks (when each worker last finished one);
- the process table of every node whose raylet runs on this machine (psutil): ``ray::IDLE``
  processes with RSS, shared memory, CPU% and age, the raylet's ``RAY_*`` environment, its
  ``debug_state.txt`` and the worker log files (job id, last task, "Worker is not idle" lines).
  Other nodes are inspected by :func:`scan_ray_processes` running as a zero-CPU task pinned to the
  node with ``NodeAffinitySchedulingStrategy``, unless ``local_only``.

Every cluster call runs with a timeout, in a daemon thread when the call itself has none, so a
hung component cannot hang raybot. Whatever could not be collected is recorded in
``ClusterSnapshot.gaps``; the checks report it as "could not check", never as "all good".
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from raybot.errors import ClusterUnreachable, UsageError

# ---------------------------------------------------------------------------------------------
# The snapshot
# ---------------------------------------------------------------------------------------------


@dataclass
class ProcessInfo:
    """One child process of a raylet (a worker, an agent, ...), as seen in the process table."""

    pid: int
    title: str  #: the process title, e.g. ``ray::IDLE`` or ``ray::my_task``
    kind: str  #: ``idle`` | ``io-idle`` | ``active`` | ``agent`` | ``other``
    rss_bytes: int | None = None
    shared_bytes: int | None = None  #: RssFile+RssShmem: mostly the object store mapped in
    cpu_percent: float | None = None  #: over the sampling window, 100 = one core
    age_s: float | None = None
    worker_id: str | None = None
    job_id: str | None = None  #: hex, from the worker's log file (``None`` if no task ran yet)
    last_task: str | None = None
    last_task_start_age_s: float | None = None  #: from the worker's .out log mtime
    idle_for_s: float | None = None  #: best estimate of how long it has been idle
    idle_for_basis: str | None = None  #: how ``idle_for_s`` was obtained
    not_idle_log: str | None = None  #: last "Worker is not idle ..." / "still managing" log line

    @property
    def private_bytes(self) -> int | None:
        """RSS minus shared: the memory only this process holds (Ray's docs: RSS - SHR)."""
        if self.rss_bytes is None or self.shared_bytes is None:
            return None
        return max(self.rss_bytes - self.shared_bytes, 0)


@dataclass
class DebugState:
    """The raylet's ``debug_state.txt`` (refreshed every ~10 s)."""

    num_idle_workers: int | None = None
    num_python_workers: int | None = None
    registered_jobs: int | None = None
    age_s: float | None = None
    path: str | None = None


@dataclass
class NodeFacts:
    node_id: str
    ip: str | None = None
    is_head: bool = False
    alive: bool = True
    resources_total: dict[str, float] = field(default_factory=dict)
    cpus_used: float | None = None  #: from the GCS resource view (``None`` if unknown)
    idle_ms: int | None = None  #: how long the *node* has been idle (GCS), 0 if busy
    #: how the process facts were gathered: ``local`` (psutil here), ``probe`` (task on the
    #: node) or ``None`` (not gathered; see the gap ``processes:<node_id>``)
    process_source: str | None = None
    raylet_pid: int | None = None
    session_dir: str | None = None
    raylet_env: dict[str, str] | None = None  #: ``RAY_*`` variables of the raylet (redacted)
    debug_state: DebugState | None = None
    processes: list[ProcessInfo] | None = None

    @property
    def cpus_total(self) -> float | None:
        return self.resources_total.get("CPU")

    @property
    def cpus_available(self) -> float | None:
        if self.cpus_total is None:
            return None
        return max(self.cpus_total - (self.cpus_used or 0.0), 0.0)

    @property
    def idle_workers(self) -> list[ProcessInfo]:
        return [p for p in self.processes or [] if p.kind == "idle"]

    @property
    def short_id(self) -> str:
        return self.node_id[:8]

    @property
    def label(self) -> str:
        head = ", head" if self.is_head else ""
        return f"{self.short_id} ({self.ip or '?'}{head})"


@dataclass
class WorkerRecord:
    """A (dead) worker from the state API, with why it exited."""

    worker_id: str
    node_id: str | None
    pid: int | None
    is_alive: bool
    worker_type: str | None = None
    exit_type: str | None = None
    exit_detail: str | None = None
    end_time_ms: int | None = None


@dataclass
class ObjectRecord:
    """A reference to an object, as ``ray memory`` / ``ray list objects`` show it."""

    object_id: str
    pid: int | None
    ip: str | None
    reference_type: str | None
    size_bytes: int | None
    call_site: str | None
    holder_type: str | None = None  #: ``DRIVER`` or ``WORKER``


@dataclass
class JobRecord:
    job_id: str
    is_dead: bool
    end_time_ms: int | None = None
    entrypoint: str | None = None


@dataclass
class PendingNode:
    node_type: str
    status: str  #: ``launching`` or the provider status, e.g. ``waiting-for-ssh``
    ip: str | None = None
    count: int = 1


@dataclass
class FailedNode:
    node_type: str
    ip: str | None = None
    reason: str | None = None


@dataclass
class Demand:
    shape: str  #: e.g. ``{'CPU': 1.0}`` or ``{'CPU': 4} * 5 (PACK)``
    count: int
    kind: str  #: ``tasks/actors`` | ``placement groups`` | ``request_resources``
    bundles: list[dict[str, float]] = field(default_factory=list)  #: each must fit on one node


@dataclass
class AutoscalerFacts:
    """What ``ray status`` shows, from the GCS (or from a pasted text)."""

    source: str  #: ``gcs`` or ``status-text``
    autoscaler_version: str | None = None  #: ``v1`` | ``v2``
    report_age_s: float | None = None
    active_nodes: dict[str, int] = field(default_factory=dict)  #: node type -> count
    idle_nodes: dict[str, int] = field(default_factory=dict)  #: node type -> count (v2 / text)
    pending: list[PendingNode] = field(default_factory=list)
    failures: list[FailedNode] = field(default_factory=list)
    demands: list[Demand] = field(default_factory=list)
    #: resource -> (used, total)
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: autoscaling config of the head's monitor, when this machine can read it
    idle_timeout_minutes: float | None = None
    max_workers: int | None = None
    provider: str | None = None  #: e.g. ``aws``, ``readonly`` (a hand-started cluster)


@dataclass
class Gap:
    """Something that could not be collected, and why."""

    source: str  #: e.g. ``state-api``, ``objects``, ``processes:<node_id>``
    reason: str
    hint: str | None = None


@dataclass
class ClusterSnapshot:
    address: str | None
    collected_at: float = field(default_factory=time.time)
    ray_version: str | None = None  #: the cluster's version (GCS metadata)
    client_ray_version: str | None = None  #: the ray package raybot imported
    python_version: str | None = None
    #: the cluster's ``_system_config`` (only keys that were set); ``None`` if unknown
    system_config: dict[str, Any] | None = None
    system_config_source: str | None = None
    nodes: list[NodeFacts] = field(default_factory=list)
    autoscaler: AutoscalerFacts | None = None
    jobs: list[JobRecord] | None = None
    dead_workers: list[WorkerRecord] | None = None
    objects: list[ObjectRecord] | None = None
    token_auth: bool | None = None  #: the cluster requires a token (Ray >= 2.52 ``RAY_AUTH_MODE``)
    user_auth_mode: str | None = None  #: ``RAY_AUTH_MODE`` in the user's environment
    local_only: bool = False
    #: ``cluster`` (collected live) or ``status-text`` (parsed from a pasted ``ray status``)
    origin: str = "cluster"
    status_layout: str | None = None  #: for ``status-text``: which ``ray status`` layout it was
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def gap(self, source: str) -> Gap | None:
        """The first gap whose source is ``source`` or starts with ``source + ':'``."""
        for g in self.gaps:
            if g.source == source or g.source.startswith(source + ":"):
                return g
        return None

    def node(self, node_id: str) -> NodeFacts | None:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        return None

    @property
    def alive_nodes(self) -> list[NodeFacts]:
        return [n for n in self.nodes if n.alive]


# ---------------------------------------------------------------------------------------------
# Bounded calls
# ---------------------------------------------------------------------------------------------


class _Calls:
    """Run cluster calls in daemon threads and wait for each until a deadline.

    A call that does not finish in time is abandoned (its thread is a daemon and cannot keep the
    process alive) and reported as a timeout.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[threading.Event, dict[str, Any], float]] = {}

    def start(self, name: str, fn, *args, **kwargs) -> None:
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported as a gap
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name=f"raybot-{name}", daemon=True).start()
        self._jobs[name] = (done, box, time.monotonic())

    def result(self, name: str, deadline: float) -> tuple[Any, str | None]:
        """``(value, None)`` or ``(None, reason)``; waits until ``deadline`` (monotonic)."""
        done, box, started = self._jobs[name]
        if not done.wait(max(deadline - time.monotonic(), 0.0)):
            return None, f"timed out after {time.monotonic() - started:.1f}s"
        if "error" in box:
            return None, describe_error(box["error"])
        return box["value"], None


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _bounded(fn, timeout: float, name: str = "call"):
    calls = _Calls()
    calls.start(name, fn)
    return calls.result(name, time.monotonic() + timeout)


# ---------------------------------------------------------------------------------------------
# Process scan (runs here for local nodes, and inside the probe task on other nodes)
# ---------------------------------------------------------------------------------------------


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
        out = {}
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

    gcs_by_session, monitors = {}, {}
    for p in psutil.process_iter(["name"]):
        name = p.info.get("name") or ""
        if name != "gcs_server" and not name.startswith("python"):
            continue
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        a = args_of(cmd)
        if name == "gcs_server" and a.get("--session-dir"):
            gcs_by_session[a["--session-dir"]] = a.get("--config_list")
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
            "env": None,
            "env_error": None,
            "gcs_system_config": None,
            "debug_state": None,
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
        try:
            env = rp.environ()
            entry["env"] = {
                k: ("<redacted>" if secret.search(k) else v) for k, v in env.items() if k.startswith("RAY_")
            }
        except psutil.Error as exc:
            entry["env_error"] = f"cannot read the raylet's environment: {type(exc).__name__}"
        if entry["session_dir"] in monitors:
            entry["autoscaling"] = autoscaling_config(monitors[entry["session_dir"]])
        cfg = gcs_by_session.get(entry["session_dir"])
        if cfg:
            try:
                entry["gcs_system_config"] = json.loads(base64.b64decode(cfg))
            except ValueError:
                pass
        logs = os.path.join(entry["session_dir"] or "", "logs")
        ds_path = os.path.join(logs, "debug_state.txt")
        try:
            text = tail(ds_path, 1 << 20)
            ds = {"path": ds_path, "age_s": now - os.stat(ds_path).st_mtime}
            for key, pat in (
                ("num_idle_workers", r"- num idle workers: (\d+)"),
                ("num_python_workers", r"- num PYTHON workers: (\d+)"),
                ("registered_jobs", r"- registered jobs: (\d+)"),
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


def _detached(fn):
    """A copy of ``fn`` with no module globals, so cloudpickle ships it by value to other nodes
    (raybot need not be installed there)."""
    import types

    clone = types.FunctionType(
        fn.__code__, {"__builtins__": __builtins__}, fn.__name__, fn.__defaults__, fn.__closure__
    )
    clone.__kwdefaults__ = fn.__kwdefaults__
    clone.__module__ = None  # type: ignore[assignment]
    return clone


def _apply_scan(node: NodeFacts, raylet: dict, source: str) -> None:
    node.process_source = source
    node.raylet_pid = raylet.get("pid")
    node.session_dir = raylet.get("session_dir")
    node.raylet_env = raylet.get("env")
    ds = raylet.get("debug_state")
    if ds:
        node.debug_state = DebugState(
            **{k: ds.get(k) for k in ("num_idle_workers", "num_python_workers", "registered_jobs", "age_s", "path")}
        )
    node.processes = [ProcessInfo(**p) for p in raylet.get("processes", [])]


# ---------------------------------------------------------------------------------------------
# Address resolution
# ---------------------------------------------------------------------------------------------


def _split_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(
            f"not a Ray address: {address!r}", hint="pass the GCS address as host:port, e.g. --address 10.0.0.5:6379"
        )
    return host.strip("[]"), int(port)


def resolve_address(address: str | None, timeout: float) -> str:
    """The GCS address (host:port) to talk to, checked to accept connections.

    Raises :class:`ClusterUnreachable` (exit 3) when no cluster is there, :class:`UsageError`
    for an address raybot cannot use.
    """
    if address is not None:
        address = address.strip()
        if not address or address in ("auto", "local"):
            address = None
    if address is not None and "://" in address:
        scheme = address.split("://", 1)[0]
        raise UsageError(
            f"{scheme}:// addresses are not supported: raybot talks to the GCS directly",
            hint="pass the head's GCS address (host:port, default port 6379), the one `ray status --address` takes",
        )
    from ray._private import services

    if address is None:
        try:
            address = services.canonicalize_bootstrap_address_or_die(None)
        except ConnectionError as exc:
            msg = str(exc)
            if "multiple" in msg.lower():
                raise UsageError(
                    msg.split(". Please")[0],
                    hint="choose one with --address or RAY_ADDRESS",
                    reference="ambiguous-cluster",
                ) from None
            raise ClusterUnreachable(
                "no running Ray cluster found on this machine",
                hint="start one with `ray start --head`, or point raybot at one with --address "
                "HOST:PORT or RAY_ADDRESS",
            ) from None
    else:
        try:
            address = services.canonicalize_bootstrap_address(address) or address
        except ValueError as exc:
            raise UsageError(
                f"not a Ray address: {address!r} ({exc})",
                hint="pass the GCS address as host:port, e.g. --address 10.0.0.5:6379",
            ) from None
        except Exception as exc:  # noqa: BLE001 - e.g. unresolvable host name
            raise ClusterUnreachable(
                f"cannot resolve {address}: {describe_error(exc)}", hint="check the host name"
            ) from None
    host, port = _split_host_port(address)
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5.0)):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError) or isinstance(exc, socket.timeout):
            reason = f"no answer within {min(timeout, 5.0):g}s"
        raise ClusterUnreachable(
            f"no Ray cluster at {address}: {reason}",
            hint="is the head running (`ray start --head`)? Check the address (--address / "
            "RAY_ADDRESS) and the GCS port (default 6379)",
        ) from None
    return address


def _enable_token_auth_if_available() -> bool | None:
    """Do what ``ray.init()`` does when it connects to an existing cluster: use the token in
    ``~/.ray/auth_token`` if ``RAY_AUTH_MODE`` is unset. Returns whether token auth is on."""
    import logging

    try:
        from ray._private.authentication import authentication_token_setup as ats
    except ImportError:  # older Ray: no token auth
        return None
    log = logging.getLogger(ats.__name__)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return ats.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    except Exception:  # noqa: BLE001
        return None
    finally:
        log.setLevel(level)


# ---------------------------------------------------------------------------------------------
# Collection
# ---------------------------------------------------------------------------------------------

_DASHBOARD_HINT = (
    "start the head with `--include-dashboard=true` (needs `pip install "
    "'ray[default]'`); `ray status` and `ray memory` work without it"
)


def collect_snapshot(
    address: str | None, *, timeout: float, local_only: bool, probe_all_nodes: bool = False
) -> ClusterSnapshot:
    """Collect everything the checks need, once.

    Args:
        address: GCS address (host:port); ``None`` finds the local cluster like ``ray status``.
        timeout: seconds allowed for each call to the cluster.
        local_only: inspect processes only on nodes whose raylet runs on this machine; do not
            start probe tasks on the other nodes.
        probe_all_nodes: use probe tasks even for nodes visible on this machine (this is how the
            multi-node path is exercised on one machine).

    Raises:
        ClusterUnreachable: nothing answers at the address (or no local cluster was found).
        UsageError: the address is not one raybot can use.
    """
    import os
    import sys

    started = time.monotonic()
    user_auth_mode = os.environ.get("RAY_AUTH_MODE")
    # Start sampling this machine's process table at once: it needs no cluster connection and
    # its CPU sampling window then overlaps the imports and calls below.
    local = _Calls()
    if not probe_all_nodes:
        local.start("local-scan", scan_ray_processes, None, None, (os.getpid(),), 0.25)

    auto_detected = address is None or address.strip() in ("", "auto")
    gcs_address = resolve_address(address, timeout)
    import ray

    snap = ClusterSnapshot(
        address=gcs_address, client_ray_version=ray.__version__, local_only=local_only, user_auth_mode=user_auth_mode
    )
    if auto_detected:
        # Like ray.init(): only a cluster found automatically gets ~/.ray/auth_token; an explicit
        # address needs RAY_AUTH_MODE=token, so a token is never sent to an arbitrary host.
        snap.token_auth = _enable_token_auth_if_available()
    else:
        snap.token_auth = (user_auth_mode or "").lower() == "token" or None

    from ray._raylet import GcsClient

    client, err = _bounded(lambda: GcsClient(address=gcs_address), timeout, "gcs-connect")
    if err is not None:
        if "Authentication" in err or "Unauthenticated" in err:
            raise ClusterUnreachable(
                f"the cluster at {gcs_address} requires an authentication token, and none was sent",
                hint="export RAY_AUTH_MODE=token (the token comes from ~/.ray/auth_token or "
                "RAY_AUTH_TOKEN); like ray.init(), raybot sends a token to an explicit "
                "--address only when RAY_AUTH_MODE=token",
                reference="cluster-auth",
            )
        raise ClusterUnreachable(
            f"the GCS at {gcs_address} accepted a connection but did not answer ({err})",
            hint="check the head node: `ray status --address ...`, and logs/gcs_server.out in the session dir",
        )

    calls = _Calls()
    calls.start("gcs", _gcs_reads, client, timeout)
    calls.start("system-config", _read_system_config, gcs_address)
    calls.start("cluster-status", _read_cluster_status, gcs_address, timeout)
    deadline = time.monotonic() + timeout + 1.0
    gcs, err = calls.result("gcs", deadline)
    if err is not None:
        snap.gaps.append(Gap("gcs", f"reading the GCS failed: {err}"))
        gcs = {}
    for key, reason in (gcs.get("errors") or {}).items():
        snap.gaps.append(Gap(key, reason))
    _apply_gcs(snap, gcs)

    state = _Calls()
    dashboard = gcs.get("dashboard")
    if dashboard:
        state.start("state-api", _state_api_reads, f"http://{dashboard}", timeout)
    elif "dashboard" not in (gcs.get("errors") or {}):
        snap.gaps.append(
            Gap(
                "state-api",
                "the cluster has no dashboard, so the state API (`ray list`, `ray summary`) is unavailable",
                _DASHBOARD_HINT,
            )
        )

    cfg, cfg_err = calls.result("system-config", deadline)
    if cfg_err is None:
        snap.system_config, snap.system_config_source = cfg, "GCS"
    cs, cs_err = calls.result("cluster-status", deadline)
    if cs_err is None:
        _apply_cluster_status(snap, cs)
    else:
        snap.gaps.append(Gap("node-idle-time", f"get_cluster_status failed: {cs_err}"))

    # Processes on this machine.
    local_ids: set[str] = set()
    scan: dict = {}
    if not probe_all_nodes:
        scan, err = local.result("local-scan", time.monotonic() + timeout)
        if err is not None:
            snap.gaps.append(Gap("processes:local", f"scanning local processes failed: {err}"))
            scan = {}
        else:
            local_ids = _apply_scan_result(snap, scan, "local")
    if snap.system_config is None:
        # Fall back to the GCS process's command line (--config_list) if the head runs here.
        for raylet in scan.get("raylets", []):
            if raylet.get("gcs_system_config") is not None and raylet.get("node_id") in local_ids:
                snap.system_config = raylet["gcs_system_config"]
                snap.system_config_source = "gcs_server command line (--config_list)"
                break
        else:
            snap.gaps.append(Gap("system-config", f"reading the system config from the GCS failed: {cfg_err}"))

    task_end_ms: dict[str, float] = {}
    if dashboard:
        st, err = state.result("state-api", time.monotonic() + 2 * timeout + 1.0)
        if err is not None:
            snap.gaps.append(Gap("state-api", f"the state API at http://{dashboard} failed: {err}", _DASHBOARD_HINT))
        else:
            task_end_ms = _apply_state(snap, st, f"http://{dashboard}")

    remote = [n for n in snap.alive_nodes if n.node_id not in local_ids]
    if remote and local_only:
        for n in remote:
            snap.gaps.append(
                Gap(
                    f"processes:{n.node_id}",
                    f"node {n.label} was not inspected (--local-only)",
                    "run without --local-only, or run raybot on that node",
                )
            )
    elif remote:
        _probe_nodes(snap, remote, timeout)

    _estimate_idle_times(snap, task_end_ms)
    snap.notes.append(f"collected in {time.monotonic() - started:.1f}s")
    if snap.python_version and snap.python_version != ".".join(map(str, sys.version_info[:3])):
        snap.notes.append(
            f"cluster Python {snap.python_version}, raybot's Python {'.'.join(map(str, sys.version_info[:3]))}"
        )
    return snap


def _gcs_reads(client, timeout: float) -> dict:
    """Sequential reads from the GCS; each RPC carries its own timeout."""
    import json

    from ray._private import ray_constants

    out: dict[str, Any] = {"errors": {}}

    def kv(key: bytes, namespace: bytes | None):
        return client.internal_kv_get(key, namespace, timeout=timeout)

    try:
        from ray._common.usage import usage_constants

        raw = kv(usage_constants.CLUSTER_METADATA_KEY, ray_constants.KV_NAMESPACE_CLUSTER)
        out["metadata"] = json.loads(raw) if raw else None
    except Exception as exc:  # noqa: BLE001
        out["errors"]["ray-version"] = f"cluster metadata: {describe_error(exc)}"
    try:
        raw = kv(ray_constants.DASHBOARD_ADDRESS.encode(), ray_constants.KV_NAMESPACE_DASHBOARD)
        out["dashboard"] = raw.decode() if raw else None
    except Exception as exc:  # noqa: BLE001
        out["errors"]["dashboard"] = f"dashboard address: {describe_error(exc)}"
    try:
        import ray

        raw = kv(
            ray._raylet.GCS_AUTOSCALER_V2_ENABLED_KEY.encode(), ray._raylet.GCS_AUTOSCALER_STATE_NAMESPACE.encode()
        )
        out["autoscaler_v2"] = raw == b"1"
        raw = kv(ray_constants.DEBUG_AUTOSCALING_STATUS.encode(), None)
        out["autoscaling_status"] = json.loads(raw) if raw else None
        raw = kv(ray_constants.DEBUG_AUTOSCALING_ERROR.encode(), None)
        out["autoscaling_error"] = raw.decode("utf-8", "replace") if raw else None
    except Exception as exc:  # noqa: BLE001
        out["errors"]["autoscaler"] = f"autoscaler status: {describe_error(exc)}"
    try:
        out["nodes"] = client.get_all_node_info(timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        out["errors"]["nodes"] = f"node table: {describe_error(exc)}"
    try:
        out["jobs"] = client.get_all_job_info(timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        out["errors"]["jobs"] = f"job table: {describe_error(exc)}"
    return out


def _read_system_config(gcs_address: str) -> dict:
    """The cluster's ``_system_config``, as the GCS hands it to every raylet."""
    from ray._private.state import GlobalState
    from ray._raylet import GcsClientOptions

    options = GcsClientOptions.create(gcs_address, None, allow_cluster_id_nil=True, fetch_cluster_id_if_nil=False)
    state = GlobalState()
    state._initialize_global_state(options)
    try:
        return state.get_system_config()
    finally:
        state.disconnect()


def _read_cluster_status(gcs_address: str, timeout: float):
    from ray.autoscaler.v2.sdk import get_cluster_status

    return get_cluster_status(gcs_address, timeout=max(int(timeout + 0.999), 1))


def _apply_gcs(snap: ClusterSnapshot, gcs: dict) -> None:
    meta = gcs.get("metadata") or {}
    snap.ray_version = meta.get("ray_version")
    snap.python_version = meta.get("python_version")
    for nid, info in (gcs.get("nodes") or {}).items():
        node = NodeFacts(
            node_id=nid.hex() if hasattr(nid, "hex") else str(nid),
            ip=info.node_manager_address or None,
            is_head=bool(info.is_head_node),
            alive=info.state == 0,  # GcsNodeInfo.ALIVE
            resources_total=dict(info.resources_total),
        )
        snap.nodes.append(node)
    snap.nodes.sort(key=lambda n: (not n.alive, not n.is_head, n.ip or "", n.node_id))
    jobs = gcs.get("jobs")
    if jobs is not None:
        snap.jobs = [
            JobRecord(
                job_id=jid.hex() if hasattr(jid, "hex") else str(jid),
                is_dead=bool(j.is_dead),
                end_time_ms=j.end_time or None,
                entrypoint=j.entrypoint or None,
            )
            for jid, j in jobs.items()
        ]
    status = gcs.get("autoscaling_status")
    if status is not None or gcs.get("autoscaler_v2") is not None:
        snap.autoscaler = _autoscaler_from_v1(status, v2=bool(gcs.get("autoscaler_v2")))
    err = gcs.get("autoscaling_error")
    if err:
        snap.notes.append(f"autoscaler error reported to the GCS: {err.strip()[:300]}")


def _autoscaler_from_v1(status: dict | None, *, v2: bool) -> AutoscalerFacts:
    """Parse the JSON the v1 monitor stores in the GCS (what ``ray status`` formats)."""
    facts = AutoscalerFacts(source="gcs", autoscaler_version="v2" if v2 else "v1")
    if not status:
        return facts
    if status.get("time"):
        facts.report_age_s = max(time.time() - float(status["time"]), 0.0)
    rep = status.get("autoscaler_report") or {}
    facts.active_nodes = dict(rep.get("active_nodes") or {})
    facts.idle_nodes = dict(rep.get("idle_nodes") or {})
    for node_type, count in (rep.get("pending_launches") or {}).items():
        facts.pending.append(PendingNode(node_type=node_type, status="launching", count=int(count)))
    for ip, node_type, st in rep.get("pending_nodes") or []:
        facts.pending.append(PendingNode(node_type=node_type, status=str(st).lower(), ip=ip))
    for ip, node_type in rep.get("failed_nodes") or []:
        facts.failures.append(FailedNode(node_type=node_type, ip=ip, reason="NodeTerminated"))
    avail = (rep.get("node_availability_summary") or {}).get("node_availabilities") or {}
    for rec in avail.values():
        if not rec.get("is_available", True):
            info = rec.get("unavailable_node_information") or {}
            reason = info.get("category") or info.get("description")
            facts.failures.append(FailedNode(node_type=rec.get("node_type", "?"), reason=reason))
    lm = status.get("load_metrics_report") or {}
    facts.usage = {
        k: (float(v[0]), float(v[1]))
        for k, v in (lm.get("usage") or {}).items()
        if not k.startswith("node:") and isinstance(v, (list, tuple)) and len(v) == 2
    }
    for shape, count in lm.get("resource_demand") or []:
        facts.demands.append(Demand(shape=_shape(shape), count=int(count), kind="tasks/actors", bundles=[dict(shape)]))
    for pg, count in lm.get("pg_demand") or []:
        facts.demands.append(
            Demand(
                shape=_pg_shape(pg),
                count=int(count),
                kind="placement groups",
                bundles=[dict(b) for b in pg.get("bundles") or []],
            )
        )
    for shape, count in lm.get("request_demand") or []:
        facts.demands.append(
            Demand(shape=_shape(shape), count=int(count), kind="request_resources", bundles=[dict(shape)])
        )
    return facts


def _shape(shape: dict) -> str:
    return "{" + ", ".join(f"'{k}': {v}" for k, v in sorted(shape.items())) + "}"


def _pg_shape(pg: dict) -> str:
    bundles = pg.get("bundles") or []
    strategy = pg.get("strategy", "")
    return ", ".join(_shape(b) for b in bundles) + (f" ({strategy})" if strategy else "")


def _apply_cluster_status(snap: ClusterSnapshot, cs) -> None:
    """Per-node idle time and CPU usage from the GCS's cluster status (autoscaler v1 or v2)."""
    by_id = {n.node_id: n for n in snap.nodes}
    for info, idle in [(i, False) for i in cs.active_nodes] + [(i, True) for i in cs.idle_nodes]:
        node = by_id.get(info.node_id)
        if node is None:
            continue
        node.idle_ms = int(info.resource_usage.idle_time_ms or 0) if idle else 0
        for u in info.resource_usage.usage:
            if u.resource_name == "CPU":
                node.cpus_used = float(u.used)
    if snap.autoscaler is not None and snap.autoscaler.autoscaler_version == "v2":
        facts = snap.autoscaler
        for p in getattr(cs, "pending_launches", []) or []:
            facts.pending.append(
                PendingNode(
                    node_type=p.ray_node_type_name or p.instance_type_name, status="launching", count=int(p.count or 1)
                )
            )
        for n in getattr(cs, "pending_nodes", []) or []:
            facts.pending.append(
                PendingNode(node_type=n.ray_node_type_name, status=n.details or "pending", ip=n.ip_address or None)
            )
        for f in getattr(cs, "failed_launches", []) or []:
            facts.failures.append(FailedNode(node_type=f.ray_node_type_name or f.instance_type_name, reason=f.details))
        for n in getattr(cs, "failed_nodes", []) or []:
            facts.failures.append(
                FailedNode(
                    node_type=n.ray_node_type_name, ip=n.ip_address or None, reason=n.details or "NodeTerminated"
                )
            )
        facts.idle_nodes = {}
        for n in cs.idle_nodes:
            t = n.ray_node_type_name
            facts.idle_nodes[t] = facts.idle_nodes.get(t, 0) + 1


def _apply_autoscaling(snap: ClusterSnapshot, cfg: dict | None) -> None:
    if not cfg or snap.autoscaler is None:
        return
    if cfg.get("error"):
        snap.notes.append(f"autoscaling config: {cfg['error']}")
        return
    a = snap.autoscaler
    a.provider = cfg.get("provider")
    if cfg.get("idle_timeout_minutes") is not None:
        a.idle_timeout_minutes = float(cfg["idle_timeout_minutes"])
    if cfg.get("max_workers") is not None:
        a.max_workers = int(cfg["max_workers"])


def _apply_scan_result(snap: ClusterSnapshot, scan: dict, source: str) -> set[str]:
    """Attach scanned raylets to the snapshot's nodes; returns the node ids attached."""
    attached = set()
    if scan.get("error"):
        snap.gaps.append(Gap("processes:local", scan["error"]))
    for raylet in scan.get("raylets", []):
        node = snap.node(raylet.get("node_id") or "")
        if node is None or not node.alive:
            continue
        _apply_scan(node, raylet, source)
        _apply_autoscaling(snap, raylet.get("autoscaling"))
        if raylet.get("env_error"):
            snap.gaps.append(Gap(f"raylet-env:{node.node_id}", raylet["env_error"]))
        if raylet.get("error"):
            snap.gaps.append(Gap(f"processes:{node.node_id}", raylet["error"]))
        attached.add(node.node_id)
    return attached


def _state_api_reads(url: str, timeout: float) -> dict:
    """Dead workers, objects and finished tasks from the dashboard's state API."""
    import logging
    import os
    import warnings

    from ray.util.state.api import StateApiClient
    from ray.util.state.common import ListApiOptions, StateResource

    # StateApiClient prefers RAY_API_SERVER_ADDRESS / RAY_ADDRESS from the environment over its
    # argument; pin it to the dashboard of the cluster we were asked about.
    saved = os.environ.get("RAY_API_SERVER_ADDRESS")
    os.environ["RAY_API_SERVER_ADDRESS"] = url
    try:
        client = StateApiClient(address=url)
    finally:
        if saved is None:
            os.environ.pop("RAY_API_SERVER_ADDRESS", None)
        else:
            os.environ["RAY_API_SERVER_ADDRESS"] = saved
    logging.getLogger("ray.util.state.api").setLevel(logging.WARNING)
    secs = max(int(timeout + 0.999), 1)
    queries = {
        "dead-workers": (
            StateResource.WORKERS,
            ListApiOptions(limit=10000, timeout=secs, detail=True, filters=[("is_alive", "=", "False")]),
        ),
        "objects": (StateResource.OBJECTS, ListApiOptions(limit=10000, timeout=secs)),
        "tasks": (
            StateResource.TASKS,
            ListApiOptions(limit=2000, timeout=secs, detail=True, filters=[("state", "=", "FINISHED")]),
        ),
    }

    # One thread, one after the other: warnings.catch_warnings is not thread-safe, and each
    # listing takes milliseconds once the dashboard is up.
    out: dict[str, tuple] = {}
    for name, (resource, options) in queries.items():
        down = next((err for _, err in out.values() if err and "ServerUnavailable" in err), None)
        if down:  # the dashboard does not answer: do not wait for it three times
            out[name] = (None, down)
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rows = client.list(resource, options=options, raise_on_missing_output=False, _explain=True)
            out[name] = ((rows, [str(w.message) for w in caught]), None)
        except Exception as exc:  # noqa: BLE001 - recorded as a gap
            out[name] = (None, describe_error(exc))
    return out


def _apply_state(snap: ClusterSnapshot, st: dict, url: str = "") -> dict[str, float]:
    """Attach the state API results; returns worker id -> when it last finished a task (ms)."""
    errors = [err for _, err in st.values()]
    if all(err and "ServerUnavailable" in err for err in errors):
        snap.gaps.append(
            Gap(
                "state-api",
                f"the dashboard at {url} does not answer, so the state API (`ray list`, `ray summary`) is unavailable",
                _DASHBOARD_HINT,
            )
        )
        return {}

    def listed(name: str, what: str):
        value, err = st[name]
        if err is not None:
            snap.gaps.append(Gap(name, f"{what} failed: {err}"))
            return None
        rows, warnings_ = value
        for w in warnings_:
            if "Callsite is not being recorded" in w:
                continue  # a configuration fact, checked by ref-creation-sites
            snap.gaps.append(Gap(name, w.strip().splitlines()[0][:300]))
        return rows

    rows = listed("dead-workers", "list_workers")
    if rows is not None:
        snap.dead_workers = [
            WorkerRecord(
                worker_id=w.worker_id,
                node_id=w.node_id,
                pid=w.pid,
                is_alive=bool(w.is_alive),
                worker_type=w.worker_type,
                exit_type=w.exit_type,
                exit_detail=w.exit_detail,
                end_time_ms=w.end_time_ms or None,
            )
            for w in rows
        ]
    rows = listed("objects", "list_objects")
    if rows is not None:
        snap.objects = [
            ObjectRecord(
                object_id=o.object_id,
                pid=o.pid,
                ip=o.ip,
                reference_type=o.reference_type,
                size_bytes=o.object_size,
                call_site=o.call_site,
                holder_type=o.type,
            )
            for o in rows
        ]
    last_end: dict[str, float] = {}
    for t in listed("tasks", "list_tasks") or []:
        if t.worker_id and t.end_time_ms:
            last_end[t.worker_id] = max(last_end.get(t.worker_id, 0.0), float(t.end_time_ms))
    return last_end


def _estimate_idle_times(snap: ClusterSnapshot, task_end_ms: dict[str, float]) -> None:
    """Estimate how long each idle worker has been idle, from the best source available."""
    dead_jobs = {j.job_id: j.end_time_ms for j in snap.jobs or [] if j.is_dead and j.end_time_ms}
    for node in snap.nodes:
        for p in node.processes or []:
            if p.kind != "idle":
                continue
            if p.worker_id and p.worker_id in task_end_ms:
                p.idle_for_s = max(snap.collected_at - task_end_ms[p.worker_id] / 1000.0, 0.0)
                p.idle_for_basis = "since its last task finished (state API)"
            elif p.job_id in dead_jobs:
                p.idle_for_s = max(snap.collected_at - dead_jobs[p.job_id] / 1000.0, 0.0)
                p.idle_for_basis = f"at least: its job {p.job_id} finished then"
            elif p.last_task is None and p.age_s is not None:
                p.idle_for_s = p.age_s
                p.idle_for_basis = "never ran a task (process age)"
            elif p.last_task_start_age_s is not None:
                p.idle_for_s = p.last_task_start_age_s
                p.idle_for_basis = "at most: since its last task started (log file time)"


def _probe_nodes(snap: ClusterSnapshot, nodes: list[NodeFacts], timeout: float) -> None:
    """Run :func:`scan_ray_processes` as a zero-CPU task pinned to each node."""
    import logging

    ids = ", ".join(n.short_id for n in nodes)
    snap.notes.append(
        f"process facts for {len(nodes)} node(s) ({ids}) were gathered by a zero-CPU task pinned "
        "to each node (NodeAffinitySchedulingStrategy, max_calls=1); raybot connected as a driver "
        "for that"
    )

    def run() -> dict:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        quiet = logging.getLogger("ray._private.worker")  # "SIGTERM handler is not set ..."
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            ray.init(
                address=snap.address,
                logging_level=logging.ERROR,
                log_to_driver=False,
                namespace="raybot-diagnose",
                configure_logging=False,
            )
        finally:
            quiet.setLevel(level)
        try:
            scan = _detached(scan_ray_processes)
            probe = ray.remote(num_cpus=0, max_calls=1, max_retries=0)(scan)
            refs = {}
            for n in nodes:
                strategy = NodeAffinitySchedulingStrategy(node_id=n.node_id, soft=False)
                task = probe.options(scheduling_strategy=strategy, name="raybot_diagnose_probe")
                refs[n.node_id] = task.remote([n.node_id], None, (), 0.25)
            ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
            out = {}
            for nid, ref in refs.items():
                if ref in ready:
                    try:
                        out[nid] = ray.get(ref, timeout=1.0)
                    except Exception as exc:  # noqa: BLE001
                        out[nid] = {"error": describe_error(exc), "raylets": []}
                else:
                    out[nid] = {"raylets": [], "error": f"the probe task did not finish within {timeout:g}s"}
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001
                        pass
            return out
        finally:
            ray.shutdown()

    results, err = _bounded(run, timeout * 2 + 10.0, "probe")
    if err is not None:
        for n in nodes:
            snap.gaps.append(
                Gap(
                    f"processes:{n.node_id}",
                    f"probe task on {n.label} failed: {err}",
                    "run raybot on that node with --local-only",
                )
            )
        return
    for n in nodes:
        res = results.get(n.node_id) or {}
        found = res.get("raylets", [])
        raylets = [r for r in found if r.get("node_id") == n.node_id] or found
        if res.get("error") or not raylets:
            snap.gaps.append(
                Gap(
                    f"processes:{n.node_id}",
                    f"probe task on {n.label}: {res.get('error') or 'no raylet found'}",
                    "run raybot on that node with --local-only",
                )
            )
            continue
        _apply_scan(n, raylets[0], "probe")
        _apply_autoscaling(snap, raylets[0].get("autoscaling"))
        if raylets[0].get("env_error"):
            snap.gaps.append(Gap(f"raylet-env:{n.node_id}", raylets[0]["env_error"]))
