"""Two real nodes on one machine writing into one logs folder, inspected by probe tasks.

The second node is started with the head's temp dir (on Ray 2.49 it would use it anyway: its
``ray start`` ignores ``--temp-dir`` on a non-head node), so both raylets write into one session
folder (``raylet.out`` and ``raylet.1.out``, one ``debug_state.txt``). The second node has a short
worker registration timeout, and a task pinned to it gets a worker that never registers, so its
``raylet.1.out`` holds "have not registered within the timeout". Each node's probe task reads the
folder; every line must still be counted once, under the node that wrote it, the same as the local
scan counts it; and ``debug_state.txt`` (written by whichever raylet dumped last) must not be
attributed to both nodes.
"""

from __future__ import annotations

import fnmatch
import os
import time

import pytest
import raycluster

from raybot.diagnose.collect import collect_snapshot
from raybot.diagnose.logscan import LOG_GLOBS

pytestmark = pytest.mark.ray

SCRIPT = """
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init(address=ADDRESS, logging_level="ERROR")
other = [n["NodeID"] for n in ray.nodes()
         if n["Alive"] and not n["Resources"].get("node:__internal_head__")][0]
print("OTHER", other, flush=True)

@ray.remote(max_retries=0)
def f():
    return 1

pin = NodeAffinitySchedulingStrategy(node_id=other, soft=False)
try:
    ray.get(f.options(scheduling_strategy=pin, runtime_env={"py_executable": "sleep 20 #"}).remote(), timeout=10)
    print("NO-REG", flush=True)
except Exception as e:
    print("REG", type(e).__name__, flush=True)
"""

LINE = "have not registered within the timeout"


def _lines(path) -> int:
    return path.read_text(errors="replace").count(LINE) if path.exists() else 0


@pytest.fixture(scope="module")
def shared():
    c = raycluster.start_head(num_cpus=1)
    try:
        c.add_node(num_cpus=1, share_temp=True, env={"RAY_worker_register_timeout_seconds": "3"})
        out = c.run_script(SCRIPT, timeout=300)
        c.other = next(ln for ln in out.splitlines() if ln.startswith("OTHER")).split()[1]  # type: ignore[attr-defined]
        c.script_output = out  # type: ignore[attr-defined]
        logs = c.session_dir() / "logs"
        # wait until the line is written and its count settles, and debug_state.txt exists
        deadline, last, stable = time.monotonic() + 60, -1, 0
        while time.monotonic() < deadline and stable < 3:
            n = _lines(logs / "raylet.1.out")
            stable = stable + 1 if n == last and n > 0 and (logs / "debug_state.txt").exists() else 0
            last = n
            time.sleep(1)
        yield c
    finally:
        c.stop()


def test_the_nodes_share_one_folder_and_the_line_is_in_the_second_raylets_log(shared):
    assert "REG GetTimeoutError" in shared.script_output, shared.script_output
    logs = shared.session_dir() / "logs"
    assert (logs / "raylet.out").exists() and (logs / "raylet.1.out").exists()
    assert _lines(logs / "raylet.1.out") >= 1 and _lines(logs / "raylet.out") == 0


def _register(snap):
    return [f for f in snap.logs.findings if f.topic == "worker-register"]


@pytest.mark.parametrize("probe", [False, True], ids=["local", "probe"])
def test_each_line_is_counted_once_under_its_node(shared, probe):
    logs = shared.session_dir() / "logs"
    snap = collect_snapshot(shared.address, timeout=20, local_only=False, probe_all_nodes=probe)
    assert {n.process_source for n in snap.alive_nodes} == {"probe" if probe else "local"}, snap.gaps
    other = snap.node(shared.other)
    [finding] = _register(snap)  # one finding, not one per node that read the folder
    assert finding.node == other.label
    assert finding.files == ["raylet.1.out"]
    assert finding.count == _lines(logs / "raylet.1.out")
    # every file of the folder read at most once (the probe's own workers add files meanwhile)
    on_disk = [n for n in os.listdir(logs) if any(fnmatch.fnmatchcase(n, g) for g in LOG_GLOBS)]
    assert 0 < snap.logs.files_read <= len(on_disk)
    assert sorted(snap.logs.nodes) == sorted(n.label for n in snap.alive_nodes)
    if probe:
        assert any("read one shared logs folder" in note for note in snap.notes), snap.notes


@pytest.mark.parametrize("probe", [False, True], ids=["local", "probe"])
def test_the_one_debug_state_file_is_not_given_to_both_nodes(shared, probe):
    snap = collect_snapshot(shared.address, timeout=20, local_only=False, probe_all_nodes=probe)
    with_state = [n for n in snap.alive_nodes if n.debug_state is not None]
    assert len(with_state) <= 1, [(n.label, n.debug_state) for n in with_state]
    assert any("debug_state.txt was last written by node" in note for note in snap.notes), snap.notes
