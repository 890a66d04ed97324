"""Ray 2.60 token authentication, and a cluster without a dashboard (no state API).

Like ``ray.init()``, raybot sends a token to an explicit address only when RAY_AUTH_MODE=token.
The CLI runs in a subprocess: Ray caches the authentication mode and token per process.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import raycluster

pytestmark = pytest.mark.ray

TOKEN = secrets.token_hex(32)  # made up for this test cluster only


@pytest.fixture(scope="module")
def cluster():
    c = raycluster.start_head(
        num_cpus=1, include_dashboard=False, env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
    )
    try:
        yield c
    finally:
        c.stop()


def run(cluster, env: dict, *args: str):
    full = raycluster.base_env()
    full.pop("RAY_AUTH_MODE", None)
    full.update(env)
    full["HOME"] = str(Path(cluster.temp_root))  # no ~/.ray/auth_token to fall back on
    cmd = [sys.executable, "-m", "raybot", "diagnose", "--address", cluster.address, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=full)


def test_without_auth_mode_the_token_is_not_sent(cluster):
    out = run(cluster, {})
    assert out.returncode == 3, out.stderr[-2000:]
    assert "error: cluster-auth" in out.stderr and "RAY_AUTH_MODE=token" in out.stderr


def test_with_token_and_no_dashboard(cluster):
    out = run(cluster, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}, "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout)
    status = {c["id"]: c for c in data["checks"]}
    assert status["reaping-disabled"]["status"] == "ok"
    assert status["recent-oom-kills"]["status"] == "error"  # needs the state API
    completeness = status["data-completeness"]
    assert completeness["status"] == "error"
    assert any("does not answer" in e for e in completeness["evidence"]), completeness
    assert "--include-dashboard=true" in completeness["fix"]
    assert data["nodes"][0]["process_source"] == "local"
