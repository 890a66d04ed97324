"""No cluster, a hung GCS, bad usage, and ``--status-file``: the command's exit codes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import raycluster
from typer.testing import CliRunner

from raybot.cli import app
from raybot.diagnose.collect import collect_snapshot
from raybot.errors import ClusterUnreachable, UsageError

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "ray_status"
runner = CliRunner()


def test_nothing_listening_is_exit_3_within_seconds():
    address = f"127.0.0.1:{raycluster.free_port()}"
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable) as e:
        collect_snapshot(address, timeout=5, local_only=False)
    assert time.monotonic() - started < 5
    assert "no Ray cluster at" in e.value.message and e.value.hint
    res = runner.invoke(app, ["diagnose", "--address", address])
    assert res.exit_code == 3
    assert "error: cluster-unreachable" in res.stderr and "hint:" in res.stderr
    assert res.stdout == ""


def test_no_address_and_no_local_cluster(monkeypatch):
    from ray._private import services

    def none_found(addr, temp_dir=None):
        raise ConnectionError(
            "Could not find any running Ray instance. Please specify the one to "
            "connect to by setting the `--address` flag or `RAY_ADDRESS` "
            "environment variable."
        )

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(services, "canonicalize_bootstrap_address_or_die", none_found)
    res = runner.invoke(app, ["diagnose", "--json"])
    assert res.exit_code == 3 and "no running Ray cluster found" in res.stderr
    assert json.loads(res.stdout)["error"]["reference"] == "cluster-unreachable"  # --json: errors too


def test_ray_address_env_is_used(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{raycluster.free_port()}")
    res = runner.invoke(app, ["diagnose"])
    assert res.exit_code == 3 and "127.0.0.1" in res.stderr


def test_a_gcs_that_never_answers_cannot_hang_raybot():
    """A TCP server that accepts connections and says nothing, like a hung GCS."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    port = server.getsockname()[1]
    held = []

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    try:
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "raybot", "diagnose", "--address", f"127.0.0.1:{port}", "--timeout", "2"],
            capture_output=True,
            text=True,
            timeout=60,
            env=raycluster.base_env(),
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()
        for c in held:
            c.close()
    assert out.returncode == 3, out.stderr[-2000:]
    assert "did not answer" in out.stderr
    assert elapsed < 20


@pytest.mark.parametrize(
    "args,reference",
    [
        (["--address", "ray://10.0.0.1:10001"], "bad-address"),
        (["--address", "10.0.0.1"], "bad-address"),
        (["--timeout", "0"], "bad-options"),
        (["--pending-after", "-5"], "bad-options"),
        (["--pending-after", "nan"], "bad-options"),
        (["--pending-timeout", "0"], "bad-options"),
        (["--pending-timeout", "inf"], "bad-options"),
        (["--status-file", "/nonexistent/ray-status.txt"], "file-not-found"),
    ],
)
def test_usage_errors_exit_2(args, reference):
    res = runner.invoke(app, ["diagnose", *args])
    assert res.exit_code == 2, res.output
    assert f"error: {reference}" in res.stderr


def test_status_file_not_ray_status(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("Traceback (most recent call last):\n")
    res = runner.invoke(app, ["diagnose", "--status-file", str(f)])
    assert res.exit_code == 2 and "error: not-ray-status" in res.stderr


def test_status_file_and_stdin():
    res = runner.invoke(app, ["diagnose", "--status-file", str(DATA / "2.60-pending.txt")])
    assert res.exit_code == 0, res.output
    assert "Pasted `ray status`" in res.stdout
    assert "Resource demands" in res.stdout and "no node can run" in res.stdout
    assert "could not check" in res.stdout
    res = runner.invoke(
        app, ["diagnose", "--status-file", "-", "--json"], input=(DATA / "gh-36894-healthy-verbose.txt").read_text()
    )
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["origin"] == "status-text" and data["address"] is None
    status = {c["id"]: c["status"] for c in data["checks"]}
    assert status["autoscaler-failures"] == "warn"


def test_usage_error_class_for_bad_address():
    with pytest.raises(UsageError):
        collect_snapshot("ray://10.0.0.1:10001", timeout=1, local_only=True)


def test_importing_the_command_and_library_does_not_import_ray_or_psutil():
    code = (
        "import sys; import raybot.commands.diagnose, raybot.diagnose, "
        "raybot.diagnose.model, raybot.diagnose.checks, raybot.diagnose.report, raybot.diagnose.collect, "
        "raybot.diagnose.render, raybot.diagnose.collect.status_text, raybot.diagnose.collect.logs; "
        "bad = [m for m in ('ray', "
        "'psutil', 'rich') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=str(HERE.parent.parent), timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
