"""Collect facts about a live Ray cluster once: the only I/O of ``raybot diagnose``.

:func:`collect_snapshot` talks to the cluster and returns a :class:`ClusterSnapshot`. One module
per source:

- :mod:`.address`: the GCS address (what the user typed, what Ray rewrote it to);
- :mod:`.gcs`: cluster metadata (the cluster's Ray version), the node and job tables, the
  autoscaler report keys, the cluster-wide ``_system_config`` (what ``ray status`` reads);
- :mod:`.autoscaler`: the monitor's report and the GCS cluster status (per-node idle time);
- :mod:`.state_api`: dead workers, objects and finished tasks (served by the dashboard);
- :mod:`.probes`: the per-node process scan (:mod:`raybot.diagnose.procscan`), here for local
  raylets, as a zero-CPU task pinned to each other node;
- :mod:`.logs`: known signatures in each reachable node's session logs;
- :mod:`.status_text`: a pasted ``ray status`` instead of a live cluster.

Every call runs with a timeout (:mod:`.calls`); whatever could not be collected is recorded in
``ClusterSnapshot.gaps`` and the checks report it as "could not check", never as "ok".
"""

from __future__ import annotations

import time

from raybot.diagnose.collect.address import enable_token_auth_if_available, resolve_address
from raybot.diagnose.collect.autoscaler import apply_cluster_status, read_cluster_status
from raybot.diagnose.collect.calls import Calls, bounded
from raybot.diagnose.collect.gcs import apply_gcs, gcs_reads, read_system_config
from raybot.diagnose.collect.logs import (
    SHARED_PREFIX,
    add_scan,
    file_labels,
    load_signatures,
    local_log_dirs,
    scan_local,
    split_by_file,
)
from raybot.diagnose.collect.probes import apply_scan_result, probe_nodes
from raybot.diagnose.collect.state_api import (
    CORE_LISTINGS,
    DASHBOARD_HINT,
    PENDING_LISTINGS,
    SKIPPED,
    apply_state,
    date_restarts,
    estimate_idle_times,
    state_api_reads,
    state_budgets,
)
from raybot.diagnose.model import ClusterSnapshot, Gap, LogScan
from raybot.diagnose.procscan import scan_ray_processes
from raybot.errors import ClusterUnreachable


def collect_snapshot(
    address: str | None,
    *,
    timeout: float,
    local_only: bool,
    probe_all_nodes: bool = False,
    scan_logs: bool = True,
    pending_timeout: float | None = None,
) -> ClusterSnapshot:
    """Collect everything the checks need, once.

    Args:
        address: GCS address (host:port); ``None`` finds the local cluster like ``ray status``.
        timeout: seconds allowed for each call to the cluster.
        local_only: inspect processes only on nodes whose raylet runs on this machine; do not
            start probe tasks on the other nodes.
        probe_all_nodes: use probe tasks even for nodes visible on this machine (this is how the
            multi-node path is exercised on one machine).
        scan_logs: scan each reachable node's session logs for known signatures.
        pending_timeout: seconds each state API listing of pending work may take (default
            ``timeout``); they run after the other state API listings, which share ``2 * timeout``
            (:func:`~raybot.diagnose.collect.state_api.state_api_reads`).

    Raises:
        ClusterUnreachable: nothing answers at the address (or no local cluster was found).
        UsageError: the address is not one raybot can use.
    """
    import os
    import sys

    started = time.monotonic()
    user_auth_mode = os.environ.get("RAY_AUTH_MODE")
    # Start sampling this machine's process table at once: it needs no cluster connection and
    # its CPU sampling window then overlaps the imports and calls below.
    local = Calls()
    if not probe_all_nodes:
        local.start("local-scan", scan_ray_processes, None, None, (os.getpid(),), 0.25)
    if scan_logs:
        local.start("signatures", load_signatures)

    auto_detected = address is None or address.strip() in ("", "auto")
    gcs_address = resolve_address(address, timeout)
    import ray

    snap = ClusterSnapshot(
        address=gcs_address,
        client_ray_version=ray.__version__,
        local_only=local_only,
        user_auth_mode=user_auth_mode,
        address_typed=address,
    )
    if auto_detected:
        # Like ray.init(): only a cluster found automatically gets ~/.ray/auth_token; an explicit
        # address needs RAY_AUTH_MODE=token, so a token is never sent to an arbitrary host.
        snap.token_auth = enable_token_auth_if_available()
    else:
        snap.token_auth = (user_auth_mode or "").lower() == "token" or None

    from ray._raylet import GcsClient  # type: ignore[attr-defined]  # a Cython class ray's _raylet.pyi omits

    client, err = bounded(lambda: GcsClient(address=gcs_address), timeout, "gcs-connect")
    if err is not None:
        if "Authentication" in err or "Unauthenticated" in err:
            raise ClusterUnreachable(
                f"the cluster at {gcs_address} requires an authentication token, and none was sent",
                hint="export RAY_AUTH_MODE=token (the token comes from ~/.ray/auth_token or "
                "RAY_AUTH_TOKEN); like ray.init(), raybot sends a token to an explicit "
                "--address only when RAY_AUTH_MODE=token",
                reference="cluster-auth",
            )
        raise ClusterUnreachable(
            f"the GCS at {gcs_address} accepted a connection but did not answer ({err})",
            hint="check the head node: `ray status --address ...`, and logs/gcs_server.out in the session dir",
        )

    calls = Calls()
    calls.start("gcs", gcs_reads, client, timeout)
    calls.start("system-config", read_system_config, gcs_address)
    calls.start("cluster-status", read_cluster_status, gcs_address, timeout)
    deadline = time.monotonic() + timeout + 1.0
    gcs, err = calls.result("gcs", deadline)
    if err is not None:
        snap.gaps.append(Gap("gcs", f"reading the GCS failed: {err}"))
        gcs = {}
    for key, reason in (gcs.get("errors") or {}).items():
        snap.gaps.append(Gap(key, reason))
    apply_gcs(snap, gcs)

    state = Calls()
    state_out: dict = {}
    dashboard = gcs.get("dashboard")
    if dashboard:
        state.start(
            "state-api", state_api_reads, f"http://{dashboard}", timeout, pending_timeout=pending_timeout, out=state_out
        )
        core_s, pending_s = state_budgets(timeout, pending_timeout)
        state_deadline = time.monotonic() + core_s + len(PENDING_LISTINGS) * pending_s + 1.0
    elif "dashboard" not in (gcs.get("errors") or {}):
        snap.gaps.append(
            Gap(
                "state-api",
                "the cluster has no dashboard, so the state API (`ray list`, `ray summary`) is unavailable",
                DASHBOARD_HINT,
            )
        )

    cfg, cfg_err = calls.result("system-config", deadline)
    if cfg_err is None:
        snap.system_config, snap.system_config_source = cfg, "GCS"
    cs, cs_err = calls.result("cluster-status", deadline)
    if cs_err is None:
        apply_cluster_status(snap, cs)
    else:
        snap.gaps.append(Gap("node-idle-time", f"get_cluster_status failed: {cs_err}"))

    # Processes on this machine.
    local_ids: set[str] = set()
    scan: dict = {}
    if not probe_all_nodes:
        scan, err = local.result("local-scan", time.monotonic() + timeout)
        if err is not None:
            snap.gaps.append(Gap("processes:local", f"scanning local processes failed: {err}"))
            scan = {}
        else:
            local_ids = apply_scan_result(snap, scan, "local")
    if snap.system_config is None:
        # Fall back to the GCS process's command line (--config_list) if the head runs here.
        for raylet in scan.get("raylets", []):
            if raylet.get("gcs_system_config") is not None and raylet.get("node_id") in local_ids:
                snap.system_config = raylet["gcs_system_config"]
                snap.system_config_source = "gcs_server command line (--config_list)"
                break
        else:
            snap.gaps.append(Gap("system-config", f"reading the system config from the GCS failed: {cfg_err}"))

    # The local log scan runs while the state API answers.
    known, patterns, remote_logs = [], [], {}
    shared = False
    if scan_logs:
        sigs, err = local.result("signatures", time.monotonic() + timeout)
        if err is not None:
            snap.add_gap("logs", f"loading the signatures failed: {err}")
            scan_logs = False
        else:
            known, patterns = sigs
            dirs, only, shared = local_log_dirs(snap, local_ids)
            if not shared:
                local.start("local-logs", scan_local, dirs, known, patterns)
    task_end_ms: dict[str, float] = {}
    if dashboard:
        st, err = state.result("state-api", state_deadline)
        if err is not None and not state_out:
            snap.gaps.append(Gap("state-api", f"the state API at http://{dashboard} failed: {err}", DASHBOARD_HINT))
        else:
            if err is not None:  # keep the listings that finished; the rest did not in time
                st = dict(state_out)
                for name in CORE_LISTINGS + PENDING_LISTINGS:
                    st.setdefault(name, (None, f"{SKIPPED} (the state API reads {err})"))
            task_end_ms = apply_state(snap, st, f"http://{dashboard}")
    if scan_logs and shared:
        # Several nodes share a logs folder: split it by node once the dead workers are known.
        dirs, only, _ = local_log_dirs(snap, local_ids)
        local.start("local-logs", scan_local, dirs, known, patterns, only)
        snap.notes.append(
            "some nodes on this machine share one logs folder; each node's files were told apart by "
            "name (raylet.N.out, worker ids), the rest is labelled as the shared folder's"
        )

    remote = [n for n in snap.alive_nodes if n.node_id not in local_ids]
    if remote and local_only:
        for n in remote:
            snap.gaps.append(
                Gap(
                    f"processes:{n.node_id}",
                    f"node {n.label} was not inspected (--local-only)",
                    "run without --local-only, or run raybot on that node",
                )
            )
    elif remote:
        remote_logs = probe_nodes(snap, remote, timeout, patterns if scan_logs else None)

    estimate_idle_times(snap, task_end_ms)
    date_restarts(snap)
    if scan_logs:
        log_scan, err = local.result("local-logs", time.monotonic() + timeout)
        if err is not None:
            snap.add_gap("logs", f"scanning the local logs failed: {err}")
            log_scan = LogScan(signatures=len(known))
        _merge_logs(snap, log_scan, known, local_ids, remote_logs, probed=not local_only)
    snap.notes.append(f"collected in {time.monotonic() - started:.1f}s")
    if snap.python_version and snap.python_version != ".".join(map(str, sys.version_info[:3])):
        snap.notes.append(
            f"cluster Python {snap.python_version}, raybot's Python {'.'.join(map(str, sys.version_info[:3]))}"
        )
    return snap


def _merge_logs(
    snap: ClusterSnapshot, scan: LogScan, known, local_ids: set[str], remote_logs: dict, *, probed: bool
) -> None:
    """The local log scan plus what the probes found on the other nodes; gaps for the rest.

    Two probed nodes can read one folder (nodes started on one machine that share a session
    folder): that folder's files are then taken from one probe's result and each file is counted
    once, under the node that wrote it (:func:`file_owners`), never once per probe."""
    folders: dict[tuple, list[tuple[str, str, dict]]] = {}
    for nid, result in remote_logs.items():
        scan.errors += list(result.get("errors") or [])[:20]
        ids = result.get("folder_ids") or {}
        for d, rec in (result.get("dirs") or {}).items():
            key = tuple(ids[d]) if ids.get(d) else (nid, d)
            folders.setdefault(key, []).append((nid, d, rec))
    for members in folders.values():
        nodes = [n for n in (snap.node(nid) for nid, _, _ in members) if n is not None]
        if len(members) == 1 or len(nodes) < len(members):
            for nid, d, rec in members:
                node = snap.node(nid)
                add_scan(scan, known, {"dirs": {d: rec}}, {d: node.label if node else nid[:8]})
            continue
        nodes.sort(key=lambda n: not n.is_head)
        nid, d, rec = next(m for m in members if m[0] == nodes[0].node_id)
        parts = split_by_file(rec, file_labels(snap, nodes))
        add_scan(scan, known, {"dirs": parts}, {k: k for k in parts})
        snap.notes.append(
            f"the probes of {', '.join(n.short_id for n in nodes)} read one shared logs folder ({d}); "
            "each file was counted once, under the node it names (raylet.N.out, worker ids), the "
            "rest under the shared folder"
        )
    scan.findings.sort(key=lambda f: (-(f.last_epoch or 0), -f.count))
    scan.nodes = [label for label in scan.nodes if not label.startswith(SHARED_PREFIX)]  # a folder is no node
    snap.logs = scan
    missing = [n for n in snap.alive_nodes if n.node_id not in local_ids and n.node_id not in remote_logs]
    for n in missing:
        why = "not reachable from here (--local-only)" if not probed else "the probe task returned no logs"
        snap.add_gap(f"logs:{n.node_id}", f"logs of {n.label} not scanned: {why}")
