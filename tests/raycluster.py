"""Start and stop real local Ray clusters for tests: ``start_head()``, ``add_node()``, ``stop()``.

Each cluster gets its own short temp dir (``/tmp/rbt-XXXX``, unix socket paths must stay short)
and its own free ports, so it can run next to other clusters on the same machine. ``stop()`` never
uses ``ray stop`` (that stops every Ray process on the machine): it ends only the processes this
module started, found by the process group of each ``ray start`` (started in a new session), the
cluster's temp dir on their command line, and their descendants (the workers).

    cluster = start_head(num_cpus=2, system_config={"kill_idle_workers_interval_ms": 0})
    node = cluster.add_node(num_cpus=1)
    driver = cluster.run_driver("...print('READY', flush=True)...")
    ...
    cluster.stop()
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port below the kernel's ephemeral range (and above Ray's default worker ports,
    10002-19999), so that no process binding port 0 can take it before Ray binds it."""
    import random

    high = min(_ephemeral_low(), 65535) - 1
    for _ in range(1000):
        port = random.randint(20000, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port found")


def _ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return list(ports)


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``ray start`` and drivers. Token authentication is off unless ``extra``
    says otherwise: with a token in ~/.ray, Ray 2.60's ``ray start`` turns it on, and then every
    client with an explicit address needs RAY_AUTH_MODE=token; tests must not depend on ~/.ray."""
    env = dict(getattr(_ENV_SNAPSHOT, "environ", None) or os.environ)
    for var in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(var, None)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["RAY_AUTH_MODE"] = "disabled"
    env.update(extra or {})
    return env


class _NotRegistered(RuntimeError):
    """The driver could not register with the raylet."""


@dataclass
class RayNode:
    temp_dir: str
    num_cpus: float
    pgid: int
    head: bool
    log: str = ""


@dataclass
class RayCluster:
    address: str  #: GCS address as Ray reports it (host:port)
    port: int
    dashboard_url: str | None
    temp_root: str
    env: dict[str, str]
    nodes: list[RayNode] = field(default_factory=list)
    drivers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def head(self) -> RayNode:
        return self.nodes[0]

    def session_dir(self, node: RayNode | None = None) -> Path:
        return Path((node or self.head).temp_dir) / "session_latest"

    def add_node(
        self, num_cpus: float = 1, *, env: dict[str, str] | None = None, timeout: float = 90, share_temp: bool = False
    ) -> RayNode:
        return add_node(self, num_cpus=num_cpus, env=env, timeout=timeout, share_temp=share_temp)

    def run_driver(self, code: str, *, ready: str = "READY", timeout: float = 120) -> subprocess.Popen:
        """Run ``code`` as a driver connected to this cluster; wait until it prints ``ready``.

        ``code`` can use ``ADDRESS``. The driver stays alive until :meth:`stop` (or until it
        exits); its output lines are in ``proc.output``. Retried once like :meth:`run_script`.
        """
        try:
            return self._run_driver(code, ready, timeout)
        except _NotRegistered:
            time.sleep(2)
            return self._run_driver(code, ready, timeout)

    def _run_driver(self, code: str, ready: str, timeout: float) -> subprocess.Popen:
        script = f"ADDRESS = {self.address!r}\n" + code
        proc = subprocess.Popen(
            [sys.executable, "-c", script],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.drivers.append(proc)
        lines: list[str] = []
        proc.output = lines  # type: ignore[attr-defined]
        seen = threading.Event()

        def reader() -> None:
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    lines.append(line)
                    if ready in line:
                        seen.set()
            except (ValueError, OSError):  # closed by stop()
                pass

        threading.Thread(target=reader, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if seen.wait(0.2):
                return proc
            if proc.poll() is not None:
                time.sleep(0.3)
                if seen.is_set():
                    return proc
                text = "".join(lines)
                error = _NotRegistered if "Failed to register worker" in text else RuntimeError
                raise error(f"driver exited with {proc.returncode} before {ready!r}:\n{text[-4000:]}")
        _kill_group(proc.pid)
        raise TimeoutError(f"driver did not print {ready!r} within {timeout}s:\n{''.join(lines)[-4000:]}")

    def run_script(self, code: str, *, timeout: float = 120) -> str:
        """Run ``code`` as a driver to completion; return its output.

        Retried once if the driver could not register with the raylet (seen on a loaded
        2-core machine right after ``ray start``: "Failed to register worker to Raylet").
        """
        script = f"ADDRESS = {self.address!r}\n" + code
        for attempt in range(2):
            out = subprocess.run(
                [sys.executable, "-c", script], env=self.env, capture_output=True, text=True, timeout=timeout
            )
            if out.returncode == 0 or "Failed to register worker" not in out.stderr or attempt:
                break
            time.sleep(2)
        if out.returncode != 0:
            raise RuntimeError(f"script failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out.stdout

    def stop(self, timeout: float = 2) -> None:
        stop(self, timeout=timeout)


def _ray_start(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    proc = subprocess.Popen(
        [RAY, "start", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, _ = proc.communicate()
        raise TimeoutError(f"ray start did not finish within {timeout}s:\n{out[-4000:]}") from None
    if proc.returncode != 0:
        _kill_group(proc.pid)
        raise RuntimeError(f"ray start failed ({proc.returncode}):\n{out[-4000:]}")
    return proc.pid, out


def start_head(
    num_cpus: float = 2,
    *,
    system_config: dict | None = None,
    env: dict[str, str] | None = None,
    include_dashboard: bool = True,
    timeout: float = 120,
) -> RayCluster:
    """``ray start --head`` on 127.0.0.1 with its own temp dir and ports; waits until the
    dashboard answers and the autoscaler has reported the node."""
    temp = tempfile.mkdtemp(prefix="rbt-", dir="/tmp")
    port, dash, agent, agent_grpc, rt_env, metrics, client = _ports(7)
    full_env = base_env(env)
    args = [
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        f"--temp-dir={temp}",
        f"--num-cpus={num_cpus:g}",
        "--num-gpus=0",
        f"--include-dashboard={str(include_dashboard).lower()}",
        f"--dashboard-port={dash}",
        f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={rt_env}",
        f"--metrics-export-port={metrics}",
        f"--ray-client-server-port={client}",
        "--min-worker-port=0",
        "--max-worker-port=0",
        "--object-store-memory=200000000",
        "--disable-usage-stats",
    ]
    if system_config:
        args.append(f"--system-config={json.dumps(system_config)}")
    pgid, out = _ray_start(args, full_env, timeout)
    m = re.search(r"ray start --address='([^']+)'", out)
    address = m.group(1) if m else f"127.0.0.1:{port}"
    cluster = RayCluster(
        address=address,
        port=port,
        dashboard_url=f"http://127.0.0.1:{dash}" if include_dashboard else None,
        temp_root=temp,
        env=full_env,
    )
    cluster.nodes.append(RayNode(temp_dir=temp, num_cpus=num_cpus, pgid=pgid, head=True, log=out))
    try:
        if include_dashboard:
            _wait_http(f"http://127.0.0.1:{dash}/api/version", timeout)
        _wait_autoscaler_report(cluster, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def add_node(
    cluster: RayCluster,
    num_cpus: float = 1,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    share_temp: bool = False,
) -> RayNode:
    """``ray start --address=...`` for a second node on this machine, with its own ports.

    ``share_temp``: pass the head's temp dir, so both nodes write into one session folder (what
    Ray 2.49 does anyway: its ``ray start`` ignores ``--temp-dir`` on a non-head node)."""
    temp = cluster.head.temp_dir if share_temp else tempfile.mkdtemp(prefix="rbt-", dir="/tmp")
    agent, agent_grpc, rt_env, metrics = _ports(4)
    args = [
        f"--address={cluster.address}",
        "--node-ip-address=127.0.0.1",
        f"--temp-dir={temp}",
        f"--num-cpus={num_cpus:g}",
        "--num-gpus=0",
        f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={rt_env}",
        f"--metrics-export-port={metrics}",
        "--min-worker-port=0",
        "--max-worker-port=0",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
    ]
    pgid, out = _ray_start(args, dict(cluster.env, **(env or {})), timeout)
    node = RayNode(temp_dir=temp, num_cpus=num_cpus, pgid=pgid, head=False, log=out)
    cluster.nodes.append(node)
    _wait_nodes(cluster, len(cluster.nodes), timeout)
    return node


def stop(cluster: RayCluster, timeout: float = 2) -> None:
    """End every process this cluster started, then remove its temp dirs."""
    for d in cluster.drivers:
        if d.poll() is None:
            _kill_group(d.pid)
    procs = _cluster_processes(cluster)
    for p in procs:
        try:
            p.terminate()
        except Exception:
            pass
    import psutil

    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    for d in cluster.drivers:
        try:
            d.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if d.stdout is not None:
            d.stdout.close()
    if not os.environ.get("RBT_KEEP_TEMP"):
        for n in cluster.nodes:
            shutil.rmtree(n.temp_dir, ignore_errors=True)


_DIR_FLAGS = (
    "--temp-dir=",
    "--temp_dir=",
    "--log_dir=",
    "--logs-dir=",
    "--log-dir=",
    "--session-dir=",
    "--session_dir=",
    "--raylet_socket_name=",
)


def _cluster_processes(cluster: RayCluster) -> list:
    """The Ray processes of this cluster: same process group as one of its ``ray start``s, or a
    Ray component whose directory flags point into its temp dirs; plus all their descendants.
    Never this process or its ancestors."""
    import psutil

    pgids = {n.pgid for n in cluster.nodes}
    temps = [n.temp_dir.rstrip("/") + "/" for n in cluster.nodes]
    mine = {os.getpid()}
    try:
        mine |= {p.pid for p in psutil.Process().parents()}
    except psutil.Error:
        pass
    found: dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["cmdline"]):
        if p.pid in mine:
            continue
        try:
            args = p.info["cmdline"] or []
            ours = os.getpgid(p.pid) in pgids or any(
                a.startswith(_DIR_FLAGS) and any(t in a + "/" for t in temps) for a in args
            )
        except (ProcessLookupError, psutil.Error):
            continue
        if ours:
            found[p.pid] = p
    for p in list(found.values()):
        try:
            for c in p.children(recursive=True):
                if c.pid not in mine:
                    found.setdefault(c.pid, c)
        except psutil.Error:
            continue
    return list(found.values())


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 401 with token auth)
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


_PROBE = """
import json, sys, time
from ray._raylet import GcsClient
from ray._private import ray_constants
try:
    from ray._private.authentication import authentication_token_setup as ats
    ats.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
except ImportError:
    pass
c = GcsClient(address=sys.argv[1])
want = int(sys.argv[2])
deadline = time.time() + float(sys.argv[3])
while time.time() < deadline:
    nodes = [n for n in c.get_all_node_info(timeout=5).values() if n.state == 0]
    raw = c.internal_kv_get(ray_constants.DEBUG_AUTOSCALING_STATUS.encode(), None, timeout=5)
    if raw and len(nodes) >= want:
        rep = json.loads(raw)
        usage = rep.get("load_metrics_report", {}).get("usage_by_node") or {}
        if len(usage) >= want:
            print("OK"); sys.exit(0)
    time.sleep(0.5)
print("TIMEOUT"); sys.exit(1)
"""


def _wait_nodes(cluster: RayCluster, want: int, timeout: float) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, cluster.address, str(want), str(timeout)],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    if "OK" not in out.stdout:
        raise TimeoutError(f"{want} node(s) not reported within {timeout}s: {out.stdout}{out.stderr[-2000:]}")


def _wait_autoscaler_report(cluster: RayCluster, timeout: float) -> None:
    _wait_nodes(cluster, 1, timeout)


# --- slow cluster setups started early, in the background ----------------------------------
#
# A test module whose cluster setup is slow and mostly waits (e.g. Ray's runtime-env agent cloning
# the virtualenv three times) names that setup in a module-level ``BACKGROUND_SETUP`` function
# returning its RayCluster. When the module's tests are selected, conftest starts the function in a
# thread as the session begins; the module's fixture takes the finished cluster (or runs the
# function itself if nothing was started). The cluster is the same real cluster either way, only
# started earlier; ``stop_background()`` stops any that no fixture took.

_BACKGROUND: dict[str, dict] = {}
_BACKGROUND_LOCK = threading.Lock()
_ENV_SNAPSHOT = threading.local()  #: a background setup's environment, copied when it was started


def start_background(key: str, setup) -> None:
    """Run ``setup()`` (returns a RayCluster) in a daemon thread, once per ``key``."""
    with _BACKGROUND_LOCK:
        if key in _BACKGROUND:
            return
        slot: dict = {"done": threading.Event(), "taken": False}
        _BACKGROUND[key] = slot

    environ = dict(os.environ)  # as the session began, not as a test running meanwhile patched it

    def run() -> None:
        _ENV_SNAPSHOT.environ = environ
        try:
            slot["cluster"] = setup()
        except BaseException as exc:  # handed to the fixture that takes it
            slot["error"] = exc
        finally:
            slot["done"].set()

    threading.Thread(target=run, name=f"raycluster-setup-{key}", daemon=True).start()


def take_background(key: str, setup, timeout: float = 1800) -> RayCluster:
    """The cluster ``start_background(key, ...)`` set up (waiting for it), else ``setup()`` now."""
    with _BACKGROUND_LOCK:
        slot = _BACKGROUND.get(key)
        if slot is not None:
            slot["taken"] = True
    if slot is None:
        return setup()
    if not slot["done"].wait(timeout):
        raise TimeoutError(f"background setup {key!r} did not finish within {timeout}s")
    if "error" in slot:
        raise slot["error"]
    return slot["cluster"]


def stop_background() -> None:
    """Stop clusters set up in the background that no fixture took (e.g. an interrupted run)."""
    with _BACKGROUND_LOCK:
        slots = list(_BACKGROUND.values())
        _BACKGROUND.clear()
    for slot in slots:
        if slot["taken"]:
            continue
        slot["done"].wait(900)
        if "cluster" in slot:
            slot["cluster"].stop()
