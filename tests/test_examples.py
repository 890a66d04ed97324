"""Every ```python runnable block in kb/ runs against a real local 2-CPU Ray cluster.

Each block is an executable claim (e.g. "the seed's `_owner` pattern raises ValueError on this
Ray", "returned values survive the creating worker's exit"): it asserts what its entry says
and must exit 0.

Each example is its own driver process, alone on its cluster while it runs (as before), but the
selected examples are spread over ``CLUSTERS`` such clusters that run side by side: most of an
example's time is a new job's worker processes starting, which the clusters overlap. The runs
start when the module's first example test needs them; each test waits for its own example's
process and asserts on its exit code and output.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from helpers import ROOT

from raybot.kb import load_kb

pytestmark = [pytest.mark.ray]
#: Real 2-CPU clusters the examples are spread over (one example at a time on each). Measured on this
#: 2-core machine with nothing else running (stop 39): 2 clusters 361 s for the module, 3 clusters 315 s;
#: 4 clusters under load failed a timing-bound example (periodic-tasks), so 3.
CLUSTERS = 3
TIMEOUT = 180  #: seconds for one example's process


def runnable_blocks():
    entries, _ = load_kb(ROOT / "kb")
    for e in entries:
        for b in e.code_blocks():
            if b.runnable:
                yield pytest.param(e, b, id=f"{e.id}:{b.line}")


class ExampleRuns:
    """Runs example scripts on a few real clusters, one script per cluster at a time."""

    def __init__(self, n_clusters: int, tmp_path_factory) -> None:
        from raycluster import start_head

        self._tmp = tmp_path_factory
        # pytest makes its base temp dir lazily and not thread-safely: two runner threads asking for
        # it first could each make one, and mktemp then refuses the other's path ("is not a
        # normalized and relative path"). Make it here, before any thread exists.
        tmp_path_factory.getbasetemp()
        self._stopping = threading.Event()
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.clusters = []
        with ThreadPoolExecutor(n_clusters) as pool:
            starts = [pool.submit(start_head, num_cpus=2) for _ in range(n_clusters)]
            errors = []
            for f in starts:
                try:
                    self.clusters.append(f.result())
                except BaseException as exc:  # stop the ones that did start, then fail
                    errors.append(exc)
        if errors:
            self.stop()
            raise errors[0]
        self._free: queue.Queue = queue.Queue()
        for c in self.clusters:
            self._free.put(c)
        self._pool = ThreadPoolExecutor(n_clusters)

    def submit(self, code: str) -> Future:
        return self._pool.submit(self._run, code)

    def _run(self, code: str) -> subprocess.CompletedProcess:
        cluster = self._free.get()
        try:
            if self._stopping.is_set():
                raise RuntimeError("stopped before it ran")
            with self._lock:
                cwd = self._tmp.mktemp("example")
            script = cwd / "example.py"
            script.write_text(code, "utf-8")
            env = dict(cluster.env, RAY_ADDRESS=cluster.address)
            proc = subprocess.Popen(
                [sys.executable, str(script)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=cwd,
                start_new_session=True,
            )
            with self._lock:
                self._procs.add(proc)
            try:
                out, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill(proc)
                proc.communicate()
                raise
            finally:
                with self._lock:
                    self._procs.discard(proc)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        finally:
            self._free.put(cluster)

    def stop(self) -> None:
        self._stopping.set()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = list(self._procs)
        for proc in running:
            _kill(proc)
        if pool is not None:
            pool.shutdown(wait=True)
        for c in self.clusters:
            c.stop()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="module")
def example_runs(request, tmp_path_factory):
    """The selected examples, started in test order on ``CLUSTERS`` real clusters: {test id: Future}."""
    selected = [
        item
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_runnable_example" and item.module is request.module
    ]
    runs = ExampleRuns(max(1, min(CLUSTERS, len(selected))), tmp_path_factory)
    try:
        futures = {item.callspec.id: runs.submit(item.callspec.params["block"].code) for item in selected}
        yield futures
    finally:
        runs.stop()


def test_the_kb_has_runnable_examples():
    assert len(list(runnable_blocks())) >= 5


@pytest.mark.parametrize("entry,block", list(runnable_blocks()))
def test_runnable_example(example_runs, entry, block, request):
    out = example_runs[request.node.callspec.id].result()
    assert out.returncode == 0, (
        f"{entry.path}:{block.line} failed ({out.returncode})\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    )
