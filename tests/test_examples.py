"""Every ```python runnable block in kb/ runs against a real local 2-CPU Ray cluster.

Each block is an executable claim (e.g. "the seed's `_owner` pattern raises ValueError on this
Ray", "returned values survive the creating worker's exit"): it asserts what its entry says
and must exit 0.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import ROOT

from raybot.kb import load_kb

pytestmark = [pytest.mark.ray]


def runnable_blocks():
    entries, _ = load_kb(ROOT / "kb")
    for e in entries:
        for b in e.code_blocks():
            if b.runnable:
                yield pytest.param(e, b, id=f"{e.id}:{b.line}")


@pytest.fixture(scope="module")
def cluster():
    from raycluster import start_head

    c = start_head(num_cpus=2)
    yield c
    c.stop()


def test_the_kb_has_runnable_examples():
    assert len(list(runnable_blocks())) >= 5


@pytest.mark.parametrize("entry,block", list(runnable_blocks()))
def test_runnable_example(cluster, entry, block, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(block.code, "utf-8")
    env = dict(cluster.env, RAY_ADDRESS=cluster.address)
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert out.returncode == 0, (
        f"{entry.path}:{block.line} failed ({out.returncode})\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    )
