"""Process facts per node: attach a local scan, or run the scan as a zero-CPU task pinned to each
other node (``NodeAffinitySchedulingStrategy``).
"""

from __future__ import annotations

from raybot.diagnose.collect.autoscaler import apply_autoscaling
from raybot.diagnose.collect.calls import bounded, describe_error
from raybot.diagnose.logscan import LOG_GLOBS, scan_log_dirs
from raybot.diagnose.model import ClusterSnapshot, DebugState, Gap, NodeFacts, ProcessInfo
from raybot.diagnose.procscan import detached, scan_ray_processes


def node_probe(scan_procs, scan_logs, node_ids, patterns, globs) -> dict:
    """The probe task's body: the process scan, then (``patterns`` given) the log scan of each
    raylet's session. Self-contained; the two scanners come in as detached copies."""
    import os

    result = scan_procs(node_ids, None, (), 0.25)
    if patterns:
        dirs = [os.path.join(r["session_dir"], "logs") for r in result.get("raylets", []) if r.get("session_dir")]
        result["logs"] = scan_logs(dirs, patterns, globs, by_file=True) if dirs else None
        if result["logs"] is not None:
            # Which folder this is, beyond its path (every node of a cluster uses the same session
            # name, so the path alone does not tell two machines' folders apart): the caller
            # splits a folder two nodes' probes both read, instead of counting it twice.
            ids = {}
            for d in dirs:
                try:
                    st = os.stat(d)
                    ids[d] = [result.get("host"), st.st_dev, st.st_ino]
                except OSError:
                    pass
            result["logs"]["folder_ids"] = ids
    return result


def apply_scan(node: NodeFacts, raylet: dict, source: str) -> None:
    node.process_source = source
    node.raylet_pid = raylet.get("pid")
    node.session_dir = raylet.get("session_dir")
    stdout = raylet.get("raylet_stdout")
    node.raylet_log = stdout.rsplit("/", 1)[-1] if stdout else None
    node.raylet_env = raylet.get("env")
    ds = raylet.get("debug_state")
    if ds:
        keys = ("num_idle_workers", "num_python_workers", "registered_jobs", "bytes_spilled", "age_s", "path")
        node.debug_state = DebugState(**{k: ds.get(k) for k in keys})
    node.processes = [ProcessInfo(**p) for p in raylet.get("processes", [])]


def raylet_notes(snap: ClusterSnapshot, node: NodeFacts, raylet: dict) -> None:
    if raylet.get("env_error"):
        snap.gaps.append(Gap(f"raylet-env:{node.node_id}", raylet["env_error"]))
    other = raylet.get("debug_state_other_node")
    if other:
        snap.notes.append(
            f"{node.label}: logs/debug_state.txt was last written by node {other[:8]}'s raylet (one logs "
            "folder shared by several raylets); its figures were not used for this node"
        )


def apply_scan_result(snap: ClusterSnapshot, scan: dict, source: str) -> set[str]:
    """Attach scanned raylets to the snapshot's nodes; returns the node ids attached."""
    attached = set()
    if scan.get("error"):
        snap.gaps.append(Gap("processes:local", scan["error"]))
    for raylet in scan.get("raylets", []):
        node = snap.node(raylet.get("node_id") or "")
        if node is None or not node.alive:
            continue
        apply_scan(node, raylet, source)
        apply_autoscaling(snap, raylet.get("autoscaling"))
        raylet_notes(snap, node, raylet)
        if raylet.get("error"):
            snap.gaps.append(Gap(f"processes:{node.node_id}", raylet["error"]))
        attached.add(node.node_id)
    return attached


def probe_nodes(
    snap: ClusterSnapshot, nodes: list[NodeFacts], timeout: float, patterns: list | None = None
) -> dict[str, dict]:
    """Run :func:`scan_ray_processes` (and the log scan) as a zero-CPU task pinned to each node.

    Returns node id -> the log scan's result on that node (when ``patterns`` were given)."""
    import logging

    ids = ", ".join(n.short_id for n in nodes)
    snap.notes.append(
        f"process facts for {len(nodes)} node(s) ({ids}) were gathered by a zero-CPU task pinned "
        "to each node (NodeAffinitySchedulingStrategy, max_calls=1); raybot connected as a driver "
        "for that"
    )

    def run() -> dict:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        quiet = logging.getLogger("ray._private.worker")  # "SIGTERM handler is not set ..."
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            ray.init(
                address=snap.address,
                logging_level=logging.ERROR,
                log_to_driver=False,
                namespace="raybot-diagnose",
                configure_logging=False,
            )
        finally:
            quiet.setLevel(level)
        try:
            body = detached(node_probe)
            probe = ray.remote(num_cpus=0, max_calls=1, max_retries=0)(body)
            scan_procs, scan_logs = detached(scan_ray_processes), detached(scan_log_dirs)
            refs = {}
            for n in nodes:
                strategy = NodeAffinitySchedulingStrategy(node_id=n.node_id, soft=False)
                task = probe.options(scheduling_strategy=strategy, name="raybot_diagnose_probe")
                refs[n.node_id] = task.remote(scan_procs, scan_logs, [n.node_id], patterns, LOG_GLOBS)
            ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
            out = {}
            for nid, ref in refs.items():
                if ref in ready:
                    try:
                        out[nid] = ray.get(ref, timeout=1.0)
                    except Exception as exc:  # noqa: BLE001
                        out[nid] = {"error": describe_error(exc), "raylets": []}
                else:
                    out[nid] = {"raylets": [], "error": f"the probe task did not finish within {timeout:g}s"}
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001
                        pass
            return out
        finally:
            ray.shutdown()

    results, err = bounded(run, timeout * 2 + 10.0, "probe")
    if err is not None:
        for n in nodes:
            snap.gaps.append(
                Gap(
                    f"processes:{n.node_id}",
                    f"probe task on {n.label} failed: {err}",
                    "run raybot on that node with --local-only",
                )
            )
        return {}
    logs: dict[str, dict] = {}
    for n in nodes:
        res = results.get(n.node_id) or {}
        if res.get("logs") is not None:
            logs[n.node_id] = res["logs"]
        found = res.get("raylets", [])
        raylets = [r for r in found if r.get("node_id") == n.node_id] or found
        if res.get("error") or not raylets:
            snap.gaps.append(
                Gap(
                    f"processes:{n.node_id}",
                    f"probe task on {n.label}: {res.get('error') or 'no raylet found'}",
                    "run raybot on that node with --local-only",
                )
            )
            continue
        apply_scan(n, raylets[0], "probe")
        apply_autoscaling(snap, raylets[0].get("autoscaling"))
        raylet_notes(snap, n, raylets[0])
    return logs
