"""One logs folder shared by two nodes (Ray 2.49: ``ray start --temp-dir`` is ignored on a non-head
node, so a second node on the head's machine writes into the head's session folder): each node's
files are told apart by name, the rest is labelled as the shared folder's."""

from __future__ import annotations

import os

from diagkit import HEAD_ID, WORKER_ID, idle, node, snap

from raybot.diagnose.collect.logs import local_log_dirs, scan_local
from raybot.diagnose.model import WorkerRecord
from raybot.diagnose.signatures import BUILTIN, scan_patterns

W_LIVE = "c" * 56  # a live idle worker of the second node (process table)
W_DEAD = "d" * 56  # a dead worker of the second node (state API)
W_HEAD = "e" * 56
W_UNKNOWN = "f" * 56


def _two_nodes_one_folder(tmp_path):
    session = tmp_path / "session_x"
    logs = session / "logs"
    logs.mkdir(parents=True)
    files = {
        "raylet.out": "head raylet\n",
        "raylet.1.out": "second raylet\n",
        "gcs_server.out": "",
        "monitor.log": "",
        "dashboard_agent.log": "",
        "dashboard_agent.1.log": "",
        "runtime_env_agent.1.log": "",
        f"python-core-worker-{W_LIVE}_4001.log": "",
        f"python-core-worker-{W_DEAD}_4002.log": "",
        f"python-core-worker-{W_HEAD}_3001.log": "",
        f"python-core-worker-{W_UNKNOWN}_9999.log": "",
        "python-core-driver-01000000ffffffff_777.log": "",
        "runtime_env_setup-01000000.log": "",
    }
    for name, text in files.items():
        (logs / name).write_text(text)
    head = node(HEAD_ID, procs=[idle(3001)])
    head.processes[0].worker_id = W_HEAD
    other = node(WORKER_ID, head=False, procs=[idle(4001)])
    other.processes[0].worker_id = W_LIVE
    for n, log in ((head, "raylet.out"), (other, "raylet.1.out")):
        n.session_dir, n.raylet_log = str(session), log
    s = snap(head, other)
    s.dead_workers = [WorkerRecord(worker_id=W_DEAD, node_id=WORKER_ID, pid=4002, is_alive=False)]
    return s, str(logs)


def test_each_node_gets_its_own_files_and_the_rest_is_shared(tmp_path):
    s, folder = _two_nodes_one_folder(tmp_path)
    labels, only, shared = local_log_dirs(s, {HEAD_ID, WORKER_ID})
    assert shared
    head, other = s.alive_nodes
    files = {labels[k]: sorted(names) for k, (_, names) in only.items()}
    assert files[head.label] == sorted(
        [
            "raylet.out",
            "gcs_server.out",
            "monitor.log",
            "dashboard_agent.log",
            f"python-core-worker-{W_HEAD}_3001.log",
        ]
    )
    assert files[other.label] == sorted(
        [
            "raylet.1.out",
            "dashboard_agent.1.log",
            "runtime_env_agent.1.log",
            f"python-core-worker-{W_LIVE}_4001.log",
            f"python-core-worker-{W_DEAD}_4002.log",
        ]
    )
    assert files[f"shared folder of {head.short_id}, {other.short_id}"] == sorted(
        [
            f"python-core-worker-{W_UNKNOWN}_9999.log",
            "python-core-driver-01000000ffffffff_777.log",
            "runtime_env_setup-01000000.log",
        ]
    )
    assert {folder for folder_, _ in only.values() for folder in [folder_]} == {folder}


def test_the_scan_reads_each_file_once_under_its_node(tmp_path):
    s, folder = _two_nodes_one_folder(tmp_path)
    sig = next(k for k in BUILTIN if k.topic == "worker-register")
    line = sig.signature.text.replace("{pid}", "4242")
    (tmp_path / "session_x" / "logs" / "raylet.1.out").write_text(f"[2026-12-01 10:00:00,000 E 1 1] x.cc:1: {line}\n")
    labels, only, _ = local_log_dirs(s, {HEAD_ID, WORKER_ID})
    scan = scan_local(labels, BUILTIN, scan_patterns(BUILTIN), only)
    assert scan.files_read == 13  # every file once, none twice
    [f] = [f for f in scan.findings if f.topic == "worker-register"]
    assert f.node == s.alive_nodes[1].label and f.files == ["raylet.1.out"]


def test_one_node_per_folder_is_unchanged(tmp_path):
    s, _ = _two_nodes_one_folder(tmp_path)
    labels, only, shared = local_log_dirs(s, {HEAD_ID})
    assert not shared and only == {} and list(labels.values()) == [s.alive_nodes[0].label]


def test_a_whole_folder_read_by_file_splits_like_the_local_scan(tmp_path):
    """The probe path: each node's probe read the whole folder; split afterwards, it must give
    the same findings, files and counts as the local scan that split the folder first."""
    from raybot.diagnose.collect.logs import add_scan, file_labels, split_by_file
    from raybot.diagnose.logscan import LOG_GLOBS, scan_log_dirs
    from raybot.diagnose.model import LogScan

    s, folder = _two_nodes_one_folder(tmp_path)
    sig = next(k for k in BUILTIN if k.topic == "worker-register")
    line = sig.signature.text.replace("{pid}", "4242")
    logs = tmp_path / "session_x" / "logs"
    (logs / "raylet.1.out").write_text(f"[2026-12-01 10:00:00,000 E 1 1] x.cc:1: {line}\n" * 2)
    (logs / "raylet.out").write_text(f"[2026-12-01 09:00:00,000 E 1 1] x.cc:1: {line}\n")
    patterns = scan_patterns(BUILTIN)
    labels, only, _ = local_log_dirs(s, {HEAD_ID, WORKER_ID})
    local = scan_local(labels, BUILTIN, patterns, only)
    whole = scan_log_dirs([folder], patterns, LOG_GLOBS, by_file=True)["dirs"][folder]
    assert whole["hits"] and set(whole["by_file"]) == set(os.listdir(logs))
    parts = split_by_file(whole, file_labels(s, s.alive_nodes))
    split = LogScan(signatures=len(BUILTIN))
    add_scan(split, BUILTIN, {"dirs": parts}, {k: k for k in parts})
    assert split.files_read == local.files_read == 13
    assert sorted(split.nodes) == sorted(local.nodes)

    def seen(scan):
        return sorted((f.node, f.count, f.files, f.first_time, f.last_time) for f in scan.findings)

    assert seen(split) == seen(local)
    assert sorted((f.node, f.count) for f in split.findings if f.topic == "worker-register") == sorted(
        [(s.alive_nodes[0].label, 1), (s.alive_nodes[1].label, 2)]
    )
