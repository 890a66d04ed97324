"""Reads from the GCS: cluster metadata, the dashboard address, the autoscaler report keys, the
node and job tables, and the cluster-wide ``_system_config``.
"""

from __future__ import annotations

from typing import Any

from raybot.diagnose.collect.autoscaler import autoscaler_from_v1
from raybot.diagnose.collect.calls import describe_error
from raybot.diagnose.model import ClusterSnapshot, JobRecord, NodeFacts


def gcs_reads(client, timeout: float) -> dict:
    """Sequential reads from the GCS; each RPC carries its own timeout."""
    import json

    from ray._private import ray_constants

    out: dict[str, Any] = {"errors": {}}

    def kv(key: bytes, namespace: bytes | None):
        return client.internal_kv_get(key, namespace, timeout=timeout)

    try:
        from ray._common.usage import usage_constants

        raw = kv(usage_constants.CLUSTER_METADATA_KEY, ray_constants.KV_NAMESPACE_CLUSTER)
        out["metadata"] = json.loads(raw) if raw else None
    except Exception as exc:  # noqa: BLE001
        out["errors"]["ray-version"] = f"cluster metadata: {describe_error(exc)}"
    try:
        raw = kv(ray_constants.DASHBOARD_ADDRESS.encode(), ray_constants.KV_NAMESPACE_DASHBOARD)
        out["dashboard"] = raw.decode() if raw else None
    except Exception as exc:  # noqa: BLE001
        out["errors"]["dashboard"] = f"dashboard address: {describe_error(exc)}"
    try:
        import ray

        raw = kv(
            ray._raylet.GCS_AUTOSCALER_V2_ENABLED_KEY.encode(), ray._raylet.GCS_AUTOSCALER_STATE_NAMESPACE.encode()
        )
        out["autoscaler_v2"] = raw == b"1"
        raw = kv(ray_constants.DEBUG_AUTOSCALING_STATUS.encode(), None)
        out["autoscaling_status"] = json.loads(raw) if raw else None
        raw = kv(ray_constants.DEBUG_AUTOSCALING_ERROR.encode(), None)
        out["autoscaling_error"] = raw.decode("utf-8", "replace") if raw else None
    except Exception as exc:  # noqa: BLE001
        out["errors"]["autoscaler"] = f"autoscaler status: {describe_error(exc)}"
    try:
        out["nodes"] = client.get_all_node_info(timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        out["errors"]["nodes"] = f"node table: {describe_error(exc)}"
    try:
        out["jobs"] = client.get_all_job_info(timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        out["errors"]["jobs"] = f"job table: {describe_error(exc)}"
    return out


def read_system_config(gcs_address: str) -> dict:
    """The cluster's ``_system_config``, as the GCS hands it to every raylet."""
    from ray._private.state import GlobalState
    from ray._raylet import GcsClientOptions

    options = GcsClientOptions.create(gcs_address, None, allow_cluster_id_nil=True, fetch_cluster_id_if_nil=False)
    state = GlobalState()
    state._initialize_global_state(options)
    try:
        return state.get_system_config()
    finally:
        state.disconnect()


def apply_gcs(snap: ClusterSnapshot, gcs: dict) -> None:
    meta = gcs.get("metadata") or {}
    snap.ray_version = meta.get("ray_version")
    snap.python_version = meta.get("python_version")
    for nid, info in (gcs.get("nodes") or {}).items():
        node = NodeFacts(
            node_id=nid.hex() if hasattr(nid, "hex") else str(nid),
            ip=info.node_manager_address or None,
            is_head=bool(info.is_head_node),
            alive=info.state == 0,  # GcsNodeInfo.ALIVE
            resources_total=dict(info.resources_total),
            node_type=getattr(info, "node_type_name", None) or None,
        )
        if not node.alive:
            _death(node, info)
        snap.nodes.append(node)
    snap.nodes.sort(key=lambda n: (not n.alive, not n.is_head, n.ip or "", n.node_id))
    jobs = gcs.get("jobs")
    if jobs is not None:
        snap.jobs = [
            JobRecord(
                job_id=jid.hex() if hasattr(jid, "hex") else str(jid),
                is_dead=bool(j.is_dead),
                end_time_ms=j.end_time or None,
                entrypoint=j.entrypoint or None,
            )
            for jid, j in jobs.items()
        ]
    status = gcs.get("autoscaling_status")
    if status is not None or gcs.get("autoscaler_v2") is not None:
        snap.autoscaler = autoscaler_from_v1(status, v2=bool(gcs.get("autoscaler_v2")))
    err = gcs.get("autoscaling_error")
    if err:
        snap.notes.append(f"autoscaler error reported to the GCS: {err.strip()[:300]}")


#: ``NodeDeathInfo.Reason`` (gcs.proto), as the 2.60 wheel's ``gcs_pb2`` defines it
DEATH_REASONS = {
    0: "UNSPECIFIED",
    1: "EXPECTED_TERMINATION",
    2: "UNEXPECTED_TERMINATION",
    3: "AUTOSCALER_DRAIN_PREEMPTED",
    4: "AUTOSCALER_DRAIN_IDLE",
}


def _death(node: NodeFacts, info) -> None:
    """Why and when a dead node died, from ``GcsNodeInfo.death_info`` and ``end_time_ms``."""
    try:
        node.end_time_ms = int(info.end_time_ms) or None
        death = info.death_info
        node.death_reason = DEATH_REASONS.get(int(death.reason), str(death.reason))
        node.death_message = (death.reason_message or "").strip()[:500] or None
    except (AttributeError, TypeError, ValueError):
        pass
