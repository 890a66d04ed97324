"""Log signatures produced on purpose on a real cluster, found live and in a copied logs folder.

The cluster is started with a memory-monitor threshold just above the machine's current use
(RAY_memory_usage_threshold, RAY_memory_monitor_refresh_ms) and a short worker registration
timeout (RAY_worker_register_timeout_seconds=3), and one runtime_env attempt instead of three
(RUNTIME_ENV_RETRY_TIMES=1: each attempt builds a virtualenv, minutes on a loaded 2-core machine). The
driver then
- runs a task that allocates 3 GiB: the memory monitor kills it (raylet.out: "Killing 1
  worker(s), kill details: ..." and "... Workers (tasks / actors) killed due to memory pressure");
- asks for a runtime_env whose pip requirement is a wheel path that does not exist: the agent
  gives up (runtime_env_agent.log: "runtime_env creation failed 1 times, giving up.");
- runs a task with runtime_env py_executable "sleep 20 #": the worker process starts but never
  registers (raylet.out: "Some workers of the worker process(N) have not registered within the
  timeout.").
Each line is looked for where Ray writes it, then by ``raybot diagnose`` (live and ``--logs``).
Afterwards the head's autoscaler monitor is stopped and its report removed: the checks that need
it say "could not check", never "ok".
"""

from __future__ import annotations

import json
import shutil
import time

import psutil
import pytest
import raycluster
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.checks import run_checks
from raybot.diagnose.collect import collect_snapshot
from raybot.diagnose.report import Diagnosis

pytestmark = pytest.mark.ray
runner = CliRunner()

DRIVER = """
import ray, time
ray.init(address=ADDRESS, logging_level="ERROR")

@ray.remote(max_retries=0)
def hog():
    import numpy as np
    a = np.ones(3 * 1024**3 // 8)
    time.sleep(5)
    return int(a[0])

try:
    ray.get(hog.remote())
    print("NO-OOM", flush=True)
except Exception as e:
    print("OOM", type(e).__name__, flush=True)

@ray.remote
def f():
    return 1

try:
    ray.get(f.options(runtime_env={"pip": ["/nonexistent/raybot-test/pkg-1.0-py3-none-any.whl"]}).remote(), timeout=300)
    print("NO-RTE", flush=True)
except Exception as e:
    print("RTE", type(e).__name__, flush=True)

try:
    ray.get(f.options(runtime_env={"py_executable": "sleep 20 #"}).remote(), timeout=10)
    print("NO-REG", flush=True)
except Exception as e:
    print("REG", type(e).__name__, flush=True)
"""


def start_logs_cluster() -> raycluster.RayCluster:
    """The cluster with the three failures in its logs. Its driver waits minutes on the runtime-env
    agent, so conftest starts this in the background as the session begins (BACKGROUND_SETUP)."""
    vm = psutil.virtual_memory()
    used = (vm.total - vm.available) / vm.total
    threshold = min(used + 1.5 * 1024**3 / vm.total, 0.9)
    env = {
        "RAY_memory_usage_threshold": f"{threshold:.3f}",
        "RAY_memory_monitor_refresh_ms": "100",
        "RAY_worker_register_timeout_seconds": "3",
        "RUNTIME_ENV_RETRY_TIMES": "1",
    }
    c = raycluster.start_head(num_cpus=2, env=env)
    try:
        # The agent's three pip attempts each build a virtualenv first: minutes on a loaded
        # 2-core machine, hence the long timeouts (a GetTimeoutError there was a flake).
        c.driver_output = c.run_script(DRIVER, timeout=600)  # type: ignore[attr-defined]
        # Wait until the raylet has written both OOM lines (the second can come after the driver
        # has moved on, now that the runtime_env step is short) and the registration-timeout line
        # count settles: a worker started just before the driver exited times out (3 s) after
        # it, and a line written between the live scan and the copy made their counts differ.
        deadline, last, stable = time.monotonic() + 60, -1, 0
        while time.monotonic() < deadline and stable < 4:
            raylet = _read(c, "raylet.out")
            n = raylet.count("have not registered")
            oom = "kill details:" in raylet and "killed due to memory pressure (OOM)" in raylet
            stable = stable + 1 if n == last and n > 0 and oom else 0
            last = n
            time.sleep(1)
    except BaseException:
        c.stop()
        raise
    return c


BACKGROUND_SETUP = start_logs_cluster


@pytest.fixture(scope="module")
def cluster():
    c = raycluster.take_background(__name__, start_logs_cluster)
    try:
        yield c
    finally:
        c.stop()


def _read(c, name: str) -> str:
    path = c.session_dir() / "logs" / name
    return path.read_text(errors="replace") if path.exists() else ""


def test_the_driver_met_all_three_failures(cluster):
    out = cluster.driver_output
    assert "OOM OutOfMemoryError" in out, out
    assert "RTE RuntimeEnvSetupError" in out, out
    assert "REG GetTimeoutError" in out, out


def test_each_line_is_where_the_scan_looks_for_it(cluster):
    raylet = _read(cluster, "raylet.out")
    assert "kill details:" in raylet and "killed due to memory pressure (OOM)" in raylet
    assert "have not registered within the timeout." in raylet
    assert "runtime_env creation failed 1 times, giving up." in _read(cluster, "runtime_env_agent.log")


def _topics(d: Diagnosis) -> dict[str, object]:
    return {r.id: r for r in d.results}


@pytest.fixture(scope="module")
def live(cluster):
    snap = collect_snapshot(cluster.address, timeout=10, local_only=False)
    return Diagnosis(snap, run_checks(snap))


def test_live_diagnose_reports_the_three_signatures(live):
    scan = live.snapshot.logs
    assert scan is not None and scan.files_read > 0
    topics = {f.topic for f in scan.findings}
    assert {"oom", "worker-register", "runtime-env"} <= topics
    by_id = _topics(live)
    assert by_id["oom-kills-in-logs"].status == "warn"
    assert "oom-killer" in by_id["oom-kills-in-logs"].entries
    assert by_id["worker-registration"].status == "warn"
    assert any("have not registered" in ev for ev in by_id["worker-registration"].evidence)
    assert by_id["runtime-env-setup"].status == "warn"
    assert "given up" in by_id["runtime-env-setup"].value
    oom = next(f for f in scan.findings if f.topic == "oom")
    assert oom.count >= 1 and oom.first_time and oom.last_time and "raylet.out" in oom.files
    # the memory monitor's kill is also in the state API's dead workers
    assert by_id["recent-oom-kills"].status == "warn"
    # the autoscaler's view reaches the report: nodes, resources used/total
    c = live.to_dict()["cluster"]
    assert c["node_count"] == 1 and c["resources"]["CPU"]["total"] == 2.0
    assert c["pending"] == [] and c["failures"] == []


def test_logs_dir_offline_on_a_copy_finds_the_same(cluster, live, tmp_path):
    copy = tmp_path / "copied-logs"
    shutil.copytree(cluster.session_dir() / "logs", copy, symlinks=False, ignore_dangling_symlinks=True)
    res = runner.invoke(app, ["diagnose", "--logs", str(copy), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["origin"] == "logs"
    checks = {c["id"]: c for c in doc["checks"]}
    for cid in ("oom-kills-in-logs", "worker-registration", "runtime-env-setup"):
        assert checks[cid]["status"] == "warn", (cid, checks[cid])
    live_topics = {(f.topic, f.signature): f.count for f in live.snapshot.logs.findings if f.topic}
    offline = {(f["topic"], f["signature"]): f["count"] for f in doc["logs"]["findings"] if f["topic"]}
    assert offline == live_topics  # the same files, the same counts
    # what a logs folder cannot show is "could not check", never "ok"
    assert checks["reaping-disabled"]["status"] == "error"
    assert checks["idle-nodes"]["status"] == "error"


def test_no_autoscaler_report_is_could_not_check(cluster):
    """Stop the head's monitor (a process this test's cluster started) and remove its report."""
    from ray._private import ray_constants
    from ray._raylet import GcsClient

    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if any(c.endswith("autoscaler/_private/monitor.py") for c in cmd) and any(cluster.temp_root in c for c in cmd):
            p.kill()
            p.wait(10)
    GcsClient(address=cluster.address).internal_kv_del(ray_constants.DEBUG_AUTOSCALING_STATUS.encode(), False, None)
    snap = collect_snapshot(cluster.address, timeout=10, local_only=True)
    d = Diagnosis(snap, run_checks(snap))
    by_id = _topics(d)
    for cid in ("autoscaler-pending", "infeasible-demands", "autoscaler-failures", "cluster-idle", "object-store"):
        assert by_id[cid].status == "error", cid
        assert by_id[cid].value == "no autoscaler report"
    assert by_id["data-completeness"].status == "error"
    assert any("no autoscaler report" in ev for ev in by_id["data-completeness"].evidence)
