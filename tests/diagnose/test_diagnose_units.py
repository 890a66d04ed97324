"""The pieces of ``raybot diagnose`` that need no cluster: the log scanner, signatures, the
autoscaler report's freshness, odd command-line arguments, imports."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from diagkit import node, result, snap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import raybot
from raybot.cli import app
from raybot.diagnose.collect.status_text import StatusText, parse_status_text
from raybot.diagnose.logscan import LOG_GLOBS, scan_log_dirs
from raybot.diagnose.model import LogScan
from raybot.diagnose.procscan import detached
from raybot.diagnose.signatures import BUILTIN, all_signatures, anchor, scan_patterns
from raybot.errors import UsageError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RECORDED = sorted((HERE.parent / "data" / "ray_status").glob("*.txt"))
runner = CliRunner()

REG = "[2026-12-01 08:56:{s:02d},864 E 15683 15683] (raylet) worker_pool.cc:660: Some workers of the worker process({pid}) have not registered within the timeout. The process is still alive, probably it's hanging during start.\n"  # noqa: E501


def _patterns():
    known = all_signatures(None)
    return known, scan_patterns(known)


def test_builtin_signatures_are_valid_kb_signatures():
    for k in BUILTIN:
        assert k.signature.source.startswith("https://github.com/ray-project/ray/blob/ray-2.60.0/")
        assert k.signature.literal_chars() >= 20
        assert anchor(k.signature) and anchor(k.signature) in k.signature.text.lower()


def test_scan_counts_first_last_sample_and_reads_only_the_end(tmp_path):
    known, patterns = _patterns()
    filler = "x" * 200 + "\n"
    text = REG.format(s=1, pid=11) + filler * 20000 + REG.format(s=40, pid=12) + REG.format(s=50, pid=13)
    (tmp_path / "raylet.out").write_text(text)
    (tmp_path / "unrelated.txt").write_text(REG.format(s=1, pid=99))
    res = detached(scan_log_dirs)([str(tmp_path)], patterns, LOG_GLOBS, budget_per_file=64 << 10)
    rec = res["dirs"][str(tmp_path)]
    assert rec["files_read"] == 1 and rec["files_cut"] == 1 and rec["bytes_read"] == 64 << 10
    [(idx, hit)] = rec["hits"].items()
    assert known[int(idx)].topic == "worker-register"
    # the first line lies outside the budget: only the last two are counted
    assert hit["count"] == 2 and hit["first"] == "2026-12-01 08:56:40" and hit["last"] == "2026-12-01 08:56:50"
    assert "process(13)" in hit["sample"] and hit["files"] == ["raylet.out"]


def test_scan_caps_files_per_kind_and_total_bytes(tmp_path):
    _, patterns = _patterns()
    for i in range(30):
        (tmp_path / f"python-core-worker-{i:056x}_{i}.log").write_text(REG.format(s=i, pid=i))
        os.utime(tmp_path / f"python-core-worker-{i:056x}_{i}.log", (1000 + i, 1000 + i))
    res = scan_log_dirs([str(tmp_path)], patterns, LOG_GLOBS, max_files=10)
    rec = res["dirs"][str(tmp_path)]
    assert rec["files_read"] == 10 and rec["files_skipped"] == 20
    [hit] = rec["hits"].values()
    assert hit["first"] == "2026-12-01 08:56:20"  # the newest ten files
    res = scan_log_dirs([str(tmp_path)], patterns, LOG_GLOBS, budget_total=300)
    assert res["dirs"][str(tmp_path)]["bytes_read"] <= 300


def test_kb_signatures_are_scanned_and_linked(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "my-entry.md").write_text(
        "---\nid: my-entry\ntitle: A test entry\nkind: error\ntags: [x]\nray_versions: '2.60'\n"
        "questions: ['what does this mean']\nsources:\n  - title: t\n    url: https://example.org/x\n"
        "signatures:\n  - text: 'The frobnicator of node {node} lost its marbles.'\n"
        "    where: raylet.out\n    source: https://github.com/ray-project/ray/blob/ray-2.60.0/x.cc#L1\n"
        "  - text: 'Some workers of the worker process({pid}) have not registered within the timeout.'\n"
        "    where: raylet.out\n    source: https://github.com/ray-project/ray/blob/ray-2.60.0/src/ray/raylet/worker_pool.cc#L660\n"
        "---\n\n## Answer\n\nText.\n"
    )
    known = all_signatures(kb)
    reg = next(k for k in known if k.topic == "worker-register")
    assert reg.entries == ["my-entry"]  # the same text: linked, not scanned twice
    frob = next(k for k in known if "frobnicator" in k.signature.text)
    assert frob.topic is None and frob.entries == ["my-entry"]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "gcs_server.out").write_text(
        "[2026-12-01 09:00:00,000 W 1 1] (gcs_server) x.cc:1: The  frobnicator of node abc lost its MARBLES.\n"
    )
    from raybot.diagnose import diagnose_logs

    d = diagnose_logs(logs, kb_dir=kb)
    r = {r.id: r for r in d.results}["log-signatures"]
    assert r.status == "info" and r.entries == ["my-entry"]
    assert any("frobnicator" in ev and "my-entry" in ev for ev in r.evidence)


def test_logs_dir_errors_are_usage_errors(tmp_path):
    res = runner.invoke(app, ["diagnose", "--logs", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such folder" in res.stderr
    res = runner.invoke(app, ["diagnose", "--logs", str(tmp_path)])
    assert res.exit_code == 2 and "no Ray log files" in res.stderr


def test_stale_and_missing_autoscaler_report():
    s = snap(node())
    s.autoscaler.report_age_s = 600.0
    r = result("autoscaler-failures", s)
    assert r.status == "error" and "stale (10m00s old)" in r.value
    s.autoscaler.report_age_s = 3.0
    assert result("autoscaler-failures", s).status == "ok"
    s.autoscaler.report_present = False
    r = result("infeasible-demands", s)
    assert r.status == "error" and r.value == "no autoscaler report" and "monitor" in r.why
    d = result("data-completeness", s)
    assert d.status == "error" and "autoscaler: no autoscaler report" in d.evidence


def test_logs_partly_scanned_is_not_ok():
    s = snap(node(), node("b" * 56, head=False))
    s.logs = LogScan(nodes=["aaaaaaaa (10.0.0.1, head)"], files_read=3, signatures=5)
    assert result("worker-registration", s).status == "ok"
    s.add_gap("logs:" + "b" * 56, "logs of bbbbbbbb not scanned: --local-only")
    r = result("worker-registration", s)
    assert r.status == "error" and "1 node(s) not scanned" in r.value
    s.logs = None
    assert result("worker-registration", s).value == "logs not scanned"


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e308"])
def test_odd_timeouts_are_usage_errors(value):
    res = runner.invoke(app, ["diagnose", "--timeout", value, "--address", "127.0.0.1:1"])
    assert res.exit_code == 2, res.output
    assert "--timeout" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("address", ["x" * 64 + ".example:6379", "[/]:1", "a..b:1"])
def test_odd_addresses_never_crash(address):
    res = runner.invoke(app, ["diagnose", "--address", address, "--timeout", "2"])
    assert res.exit_code in (2, 3), res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    if address.startswith("x"):
        assert res.exit_code == 2 and "not a valid host name" in res.stderr


def test_unreachable_address_shows_what_was_typed():
    res = runner.invoke(app, ["diagnose", "--address", "127.0.0.1:1", "--timeout", "2"])
    assert res.exit_code == 3 and "127.0.0.1:1" in res.stderr


def test_a_crash_is_exit_70_never_1(monkeypatch):
    import raybot.diagnose as diag

    def boom(*a, **k):
        raise RuntimeError("kaput [/] \x1b]8;;http://evil\x07")

    monkeypatch.setattr(diag, "diagnose_status_text", boom)
    res = runner.invoke(app, ["diagnose", "--status-file", str(RECORDED[0])])
    assert res.exit_code == 70 and "internal-error" in res.stderr and "kaput [/]" in res.stderr
    assert "\x1b" not in res.stderr
    res = runner.invoke(app, ["diagnose", "--status-file", str(RECORDED[0]), "--json"])
    assert res.exit_code == 70 and json.loads(res.stdout)["error"]["reference"] == "internal-error"


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_status_parser_property_any_text(text):
    try:
        assert isinstance(parse_status_text(text), StatusText)
    except UsageError as e:
        assert e.reference == "not-ray-status"


@settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RECORDED),
    st.integers(min_value=0, max_value=4000),
    st.integers(min_value=0, max_value=200),
    st.text(max_size=200),
)
def test_status_parser_property_damaged_recordings(path, at, cut, junk):
    """A recording with text inserted and a piece cut out: a result or a typed error, quickly."""
    from raybot.diagnose import diagnose_status_text

    text = path.read_text()
    at = min(at, len(text))
    damaged = text[:at] + junk + text[at + cut :]
    started = time.monotonic()
    try:
        d = diagnose_status_text(damaged)
    except UsageError as e:
        assert e.reference == "not-ray-status"
    else:
        json.dumps(d.to_dict())
        assert all(r.status in ("ok", "info", "warn", "fail", "error") for r in d.results)
    assert time.monotonic() - started < 2


_BLOCK = """
import builtins, sys
real = builtins.__import__
def guard(name, *a, **k):
    if name.split('.')[0] in ('ray', 'psutil', 'rich', 'yaml', 'typer', 'numpy', 'faiss'):
        raise ImportError('blocked: ' + name)
    return real(name, *a, **k)
builtins.__import__ = guard
"""


def test_model_and_defaults_import_without_ray():
    code = (
        _BLOCK
        + "import raybot.diagnose.model, raybot.ray_defaults, raybot.diagnose.procscan, raybot.diagnose.logscan\n"
    )
    code += "s = raybot.diagnose.model.ClusterSnapshot(address=None); print(type(s).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ClusterSnapshot", out.stderr


def _modules() -> list[str]:
    names = ["raybot"]
    for info in pkgutil.walk_packages(raybot.__path__, "raybot."):
        if info.name != "raybot.__main__":  # runs the CLI when imported
            names.append(info.name)
    return sorted(names)


def test_every_raybot_module_imports_in_a_fresh_process():
    mods = _modules()
    assert "raybot.diagnose.checks.base" in mods and "raybot.diagnose.collect.logs" in mods
    code = (
        "import importlib, sys\n"
        "bad = []\n"
        "for m in sys.argv[1:]:\n"
        "    for k in [k for k in sys.modules if k == 'raybot' or k.startswith('raybot.')]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception as e:\n"
        "        bad.append(f'{m}: {type(e).__name__}: {e}')\n"
        "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, *mods], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_diagnose_module_is_over_500_lines():
    pkg = ROOT / "raybot" / "diagnose"
    sizes = {p.relative_to(pkg).as_posix(): len(p.read_text().splitlines()) for p in pkg.rglob("*.py")}
    assert len(sizes) >= 15
    assert max(sizes.values()) <= 500, sizes


def test_timeout_bounds_the_wait_for_a_locked_thread_store(raybot_home):
    import sqlite3

    from raybot.threads import STORE_WAIT_S, ThreadStore, Turn

    db = raybot_home / "threads.db"
    ThreadStore(db).add_turn("t", Turn("q", "a"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        start = time.monotonic()
        res = runner.invoke(app, ["diagnose", "--status-file", str(RECORDED[0]), "--json", "--timeout", "0.5"])
        elapsed = time.monotonic() - start
    finally:
        holder.execute("rollback")
        holder.close()
    assert json.loads(res.stdout)["thread_id"] is None, res.stderr
    # The store's own wait (STORE_WAIT_S) would be longer than the --timeout given.
    assert elapsed < STORE_WAIT_S - 1, elapsed


def test_recorded_diagnosis_says_what_was_analysed(tmp_path):
    from raybot.threads import default_store

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "raylet.out").write_text("[2026-12-01 09:00:00,000 I 1 1] (raylet) main.cc:1: Raylet started.\n")
    labels = {}
    for name, args in (("logs", ["--logs", str(logs)]), ("paste", ["--status-file", str(RECORDED[0])])):
        res = runner.invoke(app, ["diagnose", *args, "--json"])
        tid = json.loads(res.stdout)["thread_id"]
        assert tid, res.stderr
        labels[name] = default_store(quiet=True).load(tid).turns[0].question
    assert labels == {
        "logs": "raybot diagnose (a logs folder)",
        "paste": "raybot diagnose (a pasted ray status)",
    }


@pytest.mark.parametrize("line", ["16.6.93GiB/32.00GiB memory", "./8.0 CPU", "1.2.3/4 CPU", "2.0/. GPU"])
def test_usage_line_with_a_damaged_number_is_not_a_usage_line(line):
    """Found by the damaged-recordings property test: a cut through "16.00GiB" and "6.93GiB" left
    "16.6.93GiB", which float() refused with a traceback."""
    from raybot.diagnose.collect.status_text import parse_usage_line

    assert parse_usage_line(line) is None
    assert parse_usage_line("2.0/8.0 CPU") == ("CPU", 2.0, 8.0, None)
