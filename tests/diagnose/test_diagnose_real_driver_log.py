"""A driver-side (owner) warning produced on purpose, found in ``python-core-driver-*.log``.

The driver owns an object, hands it to actor ``Middle``, which passes it on to actor ``Leaf`` (a
borrower the driver never hears of); ``Middle`` is killed and the driver drops its reference, so
the owner frees the object. When ``Leaf`` then asks the owner where the object is, the driver's
core worker logs "Object locations requested for ..., but ref already removed." (the scenario of
the kb entry ``object-locations-ref-already-removed``). That line is only in the driver's log, so
the log scan finds it only because it reads ``python-core-driver-*.log``: live and ``--logs``.
"""

from __future__ import annotations

import json
import shutil

import pytest
import raycluster
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.collect import collect_snapshot

pytestmark = pytest.mark.ray

DRIVER = """
import os, time
import numpy as np
import ray

ray.init(address=ADDRESS, logging_level="ERROR")

@ray.remote
class Leaf:
    def hold(self, refs):
        self.refs = refs
    def read(self):
        return ray.get(self.refs[0])

@ray.remote
class Middle:
    def keep(self, refs):
        self.refs = refs
    def forward(self, leaf):
        ray.get(leaf.hold.remote(self.refs))

ref = ray.put(np.ones(1_000_000))
leaf, middle = Leaf.remote(), Middle.remote()
ray.get(middle.keep.remote([ref]))
ray.get(middle.forward.remote(leaf))
ray.kill(middle)
time.sleep(2)
del ref
time.sleep(2)
try:
    ray.get(leaf.read.remote(), timeout=60)
    print("READ-OK", flush=True)
except Exception as e:
    print("READ-FAILED", type(e).__name__, flush=True)
print("PID", os.getpid(), flush=True)
"""
# 2.60.0 writes the id as a separate field ("... requested for object, but ref already removed. See ...");
# older releases put it inline. The kb carries both wordings; either is this warning.
SIGNATURE = "Object locations requested for "


def _is_it(signature: str) -> bool:
    return signature.startswith(SIGNATURE) and "but ref already removed" in signature


@pytest.fixture(scope="module")
def cluster():
    c = raycluster.start_head(num_cpus=2)
    try:
        c.driver_output = c.run_script(DRIVER, timeout=180)  # type: ignore[attr-defined]
        yield c
    finally:
        c.stop()


def test_the_warning_is_only_in_the_driver_log(cluster):
    pid = cluster.driver_output.split("PID")[1].split()[0]
    logs = cluster.session_dir() / "logs"
    [driver_log] = logs.glob(f"python-core-driver-*_{pid}.log")
    assert "but ref already removed" in driver_log.read_text(errors="replace"), cluster.driver_output
    others = [p.name for p in logs.glob("python-core-worker-*.log") if "but ref already removed" in p.read_text()]
    assert others == []


def _finding(findings: list[dict]) -> dict:
    [f] = [f for f in findings if _is_it(f["signature"])]
    return f


def test_live_scan_finds_it_in_the_driver_log(cluster):
    snap = collect_snapshot(cluster.address, timeout=10, local_only=True)
    [f] = [f for f in snap.logs.findings if _is_it(f.signature)]
    assert f.count >= 1 and all(name.startswith("python-core-driver-") for name in f.files)
    assert "object-locations-ref-already-removed" in f.entries
    assert "but ref already removed" in f.sample


def test_logs_dir_scan_finds_it_too(cluster, tmp_path):
    copy = tmp_path / "logs"
    shutil.copytree(cluster.session_dir() / "logs", copy, symlinks=False, ignore_dangling_symlinks=True)
    res = CliRunner().invoke(app, ["diagnose", "--logs", str(copy), "--json"])
    assert res.exit_code in (0, 1), res.output
    f = _finding(json.loads(res.stdout)["logs"]["findings"])
    assert f["files"] and all(name.startswith("python-core-driver-") for name in f["files"])
    assert "object-locations-ref-already-removed" in f["entries"]
