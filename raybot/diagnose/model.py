"""The snapshot types of ``raybot diagnose``: plain dataclasses, importable without Ray.

A :class:`ClusterSnapshot` holds everything one diagnosis looked at. It is filled by one source:
a live cluster (:mod:`raybot.diagnose.collect`), a pasted ``ray status``
(:mod:`raybot.diagnose.collect.status_text`) or a copied logs folder
(:mod:`raybot.diagnose.collect.logs`). The checks (:mod:`raybot.diagnose.checks`) only read it.
What a source could not provide is recorded (``gaps``, ``paste.sections``), so the checks can say
"could not check" instead of "ok".

This module imports nothing outside the standard library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProcessInfo:
    """One child process of a raylet (a worker, an agent, ...), as seen in the process table."""

    pid: int
    title: str  #: the process title, e.g. ``ray::IDLE`` or ``ray::my_task``
    kind: str  #: ``idle`` | ``io-idle`` | ``active`` | ``agent`` | ``other``
    rss_bytes: int | None = None
    shared_bytes: int | None = None  #: RssFile+RssShmem: mostly the object store mapped in
    cpu_percent: float | None = None  #: over the sampling window, 100 = one core
    age_s: float | None = None
    worker_id: str | None = None
    job_id: str | None = None  #: hex, from the worker's log file (``None`` if no task ran yet)
    last_task: str | None = None
    last_task_start_age_s: float | None = None  #: from the worker's .out log mtime
    idle_for_s: float | None = None  #: best estimate of how long it has been idle
    idle_for_basis: str | None = None  #: how ``idle_for_s`` was obtained
    not_idle_log: str | None = None  #: last "Worker is not idle ..." / "still managing" log line
    #: an actor's process: the actor id and when it began creating it (epoch seconds), from the
    #: "Creating actor" line of its core-worker log
    actor_id: str | None = None
    actor_created_at: float | None = None

    @property
    def private_bytes(self) -> int | None:
        """RSS minus shared: the memory only this process holds (Ray's docs: RSS - SHR)."""
        if self.rss_bytes is None or self.shared_bytes is None:
            return None
        return max(self.rss_bytes - self.shared_bytes, 0)


@dataclass
class DebugState:
    """The raylet's ``debug_state.txt`` (refreshed every ~10 s)."""

    num_idle_workers: int | None = None
    num_python_workers: int | None = None
    registered_jobs: int | None = None
    bytes_spilled: int | None = None  #: "num bytes currently spilled" (object store)
    age_s: float | None = None
    path: str | None = None


@dataclass
class NodeFacts:
    node_id: str
    ip: str | None = None
    is_head: bool = False
    alive: bool = True
    resources_total: dict[str, float] = field(default_factory=dict)
    cpus_used: float | None = None  #: from the GCS resource view (``None`` if unknown)
    idle_ms: int | None = None  #: how long the *node* has been idle (GCS), 0 if busy
    #: how the process facts were gathered: ``local`` (psutil here), ``probe`` (task on the
    #: node) or ``None`` (not gathered; see the gap ``processes:<node_id>``)
    process_source: str | None = None
    raylet_pid: int | None = None
    session_dir: str | None = None
    raylet_log: str | None = None  #: file name of the raylet's stdout log, e.g. ``raylet.out``
    raylet_env: dict[str, str] | None = None  #: ``RAY_*`` variables of the raylet (redacted)
    debug_state: DebugState | None = None
    processes: list[ProcessInfo] | None = None
    node_type: str | None = None  #: the autoscaler's node type name, when known
    end_time_ms: int | None = None  #: when a dead node died (GCS)
    death_reason: str | None = None  #: ``NodeDeathInfo.Reason`` name, e.g. ``UNEXPECTED_TERMINATION``
    death_message: str | None = None

    @property
    def cpus_total(self) -> float | None:
        return self.resources_total.get("CPU")

    @property
    def cpus_available(self) -> float | None:
        if self.cpus_total is None:
            return None
        return max(self.cpus_total - (self.cpus_used or 0.0), 0.0)

    @property
    def idle_workers(self) -> list[ProcessInfo]:
        return [p for p in self.processes or [] if p.kind == "idle"]

    @property
    def short_id(self) -> str:
        return self.node_id[:8]

    @property
    def label(self) -> str:
        head = ", head" if self.is_head else ""
        return f"{self.short_id} ({self.ip or '?'}{head})"


@dataclass
class WorkerRecord:
    """A (dead) worker from the state API, with why it exited."""

    worker_id: str
    node_id: str | None
    pid: int | None
    is_alive: bool
    worker_type: str | None = None
    exit_type: str | None = None
    exit_detail: str | None = None
    end_time_ms: int | None = None


@dataclass
class ObjectRecord:
    """A reference to an object, as ``ray memory`` / ``ray list objects`` show it."""

    object_id: str
    pid: int | None
    ip: str | None
    reference_type: str | None
    size_bytes: int | None
    call_site: str | None
    holder_type: str | None = None  #: ``DRIVER`` or ``WORKER``


@dataclass
class JobRecord:
    job_id: str
    is_dead: bool
    end_time_ms: int | None = None
    entrypoint: str | None = None


@dataclass
class PendingNode:
    node_type: str
    status: str  #: ``launching`` or the provider status, e.g. ``waiting-for-ssh``
    ip: str | None = None
    count: int = 1


@dataclass
class FailedNode:
    node_type: str
    ip: str | None = None
    reason: str | None = None


@dataclass
class Demand:
    shape: str  #: e.g. ``{'CPU': 1.0}`` or ``{'CPU': 4} * 5 (PACK)``
    count: int
    kind: str  #: ``tasks/actors`` | ``placement groups`` | ``request_resources``
    bundles: list[dict[str, float]] = field(default_factory=list)  #: each must fit on one node


@dataclass
class AutoscalerFacts:
    """What ``ray status`` shows, from the GCS (or from a pasted text)."""

    source: str  #: ``gcs`` or ``status-text``
    autoscaler_version: str | None = None  #: ``v1`` | ``v2``
    #: whether the monitor's report was found (live: the ``__autoscaling_status`` key, or the
    #: v2 cluster status); without it pending nodes, failures, demands and usage are unknown
    report_present: bool = True
    report_age_s: float | None = None
    active_nodes: dict[str, int] = field(default_factory=dict)  #: node type -> count
    idle_nodes: dict[str, int] = field(default_factory=dict)  #: node type -> count (v2 / text)
    pending: list[PendingNode] = field(default_factory=list)
    failures: list[FailedNode] = field(default_factory=list)
    demands: list[Demand] = field(default_factory=list)
    #: resource -> (used, total)
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: autoscaling config of the head's monitor, when this machine can read it
    idle_timeout_minutes: float | None = None
    max_workers: int | None = None
    provider: str | None = None  #: e.g. ``aws``, ``readonly`` (a hand-started cluster)


@dataclass
class PendingWork:
    """A task, actor or placement group waiting to be scheduled, from the state API."""

    kind: str  #: ``task`` | ``actor`` | ``placement group``
    id: str
    name: str  #: the function, actor class or placement-group name (may be empty)
    #: tasks: ``PENDING_NODE_ASSIGNMENT`` or ``PENDING_ARGS_AVAIL`` (waiting for an argument);
    #: actors: ``PENDING_CREATION``, ``DEPENDENCIES_UNREADY`` (waiting for a constructor argument)
    #: or ``RESTARTING``; placement groups: ``PENDING``
    state: str
    #: the resource shape: one dict for a task or actor, one per bundle for a placement group
    bundles: list[dict[str, float]] = field(default_factory=list)
    #: how long it has waited when listed (``None``: the state API gave no timestamp)
    waited_s: float | None = None
    since: str | None = None  #: what ``waited_s`` is counted from
    job_id: str | None = None
    #: a placement group's scheduling state in the GCS (``NO_RESOURCES``, ``INFEASIBLE``, ...)
    scheduling_state: str | None = None
    placement_group_id: str | None = None  #: the group a task or actor is scheduled into
    restarts: int | None = None  #: an actor's ``num_restarts`` (state API)
    #: a restarting actor's process and node as the state API lists them (to date the restart)
    pid: int | None = None
    node_id: str | None = None


@dataclass
class Gap:
    """Something that could not be collected, and why."""

    source: str  #: e.g. ``state-api``, ``objects``, ``processes:<node_id>``
    reason: str
    hint: str | None = None


@dataclass
class ClusterSnapshot:
    address: str | None
    collected_at: float = field(default_factory=time.time)
    ray_version: str | None = None  #: the cluster's version (GCS metadata)
    client_ray_version: str | None = None  #: the ray package raybot imported
    python_version: str | None = None
    #: the cluster's ``_system_config`` (only keys that were set); ``None`` if unknown
    system_config: dict[str, Any] | None = None
    system_config_source: str | None = None
    nodes: list[NodeFacts] = field(default_factory=list)
    autoscaler: AutoscalerFacts | None = None
    jobs: list[JobRecord] | None = None
    dead_workers: list[WorkerRecord] | None = None
    objects: list[ObjectRecord] | None = None
    #: tasks, actors and placement groups waiting to be scheduled (``None``: not listed)
    pending_work: list[PendingWork] | None = None
    #: kinds of pending work (``tasks``, ``actors``, ``placement groups``) whose listing failed or
    #: was skipped, so ``pending_work`` lacks them
    pending_unlisted: list[str] = field(default_factory=list)
    #: report work pending longer than this (seconds); ``None``: the check's default
    #: (a setting of the diagnosis, ``--pending-after``, not a fact of the cluster)
    pending_after_s: float | None = None
    token_auth: bool | None = None  #: the cluster requires a token (Ray >= 2.52 ``RAY_AUTH_MODE``)
    user_auth_mode: str | None = None  #: ``RAY_AUTH_MODE`` in the user's environment
    local_only: bool = False
    #: ``cluster`` (collected live), ``status-text`` (a pasted ``ray status``) or ``logs``
    #: (a copied logs folder, ``--logs DIR``)
    origin: str = "cluster"
    status_layout: str | None = None  #: for ``status-text``: which ``ray status`` layout it was
    paste: PasteFacts | None = None  #: for ``status-text``: what the paste held
    logs: LogScan | None = None  #: signatures found in the session logs (``None``: not scanned)
    address_typed: str | None = None  #: the address as the user gave it (``--address``)
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def gap(self, source: str) -> Gap | None:
        """The first gap whose source is ``source`` or starts with ``source + ':'``."""
        for g in self.gaps:
            if g.source == source or g.source.startswith(source + ":"):
                return g
        return None

    def add_gap(self, source: str, reason: str, hint: str | None = None) -> None:
        self.gaps.append(Gap(source, reason, hint))

    def node(self, node_id: str) -> NodeFacts | None:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        return None

    @property
    def alive_nodes(self) -> list[NodeFacts]:
        return [n for n in self.nodes if n.alive]


@dataclass
class PasteFacts:
    """What a pasted ``ray status`` held: its sections, and what was cut or capped."""

    layout: str
    header: str | None = None
    timestamp: str | None = None
    labels: list[str] = field(default_factory=list)  #: section labels, in order
    #: the kinds of facts present: ``nodes``, ``idle``, ``pending``, ``failures``, ``usage``,
    #: ``demands``, ``constraints``, ``node-details`` (``-v`` blocks)
    sections: set[str] = field(default_factory=set)
    #: sections the paste announces but that end without content, or that should follow and do
    #: not (e.g. ``Resources`` without ``Demands:``): the paste looks cut off there
    cut_off: list[str] = field(default_factory=list)
    usage_notes: dict[str, str] = field(default_factory=dict)
    error_text: str | None = None  #: text after the report (autoscaler errors), sanitized later
    lines_skipped: int = 0  #: lines past the parsing cap
    demands_dropped: int = 0  #: demand lines past the cap (counted, not parsed)

    def has(self, section: str) -> bool:
        return section in self.sections


@dataclass
class LogFinding:
    """One signature found in the logs of one node."""

    signature: str  #: the message as Ray emits it, with ``{placeholders}``
    node: str  #: node label (``ip`` or the folder it came from)
    count: int = 0
    first_time: str | None = None  #: timestamp of the first matching line, as logged
    last_time: str | None = None
    last_epoch: float | None = None  #: ``last_time`` as seconds since the epoch (node's clock)
    sample: str = ""  #: one matching line (the last), cut to 300 characters
    files: list[str] = field(default_factory=list)  #: file names with matches
    entries: list[str] = field(default_factory=list)  #: knowledge-base entries explaining it
    topic: str | None = None  #: ``oom`` | ``worker-register`` | ``runtime-env`` | ``None``
    source: str | None = None  #: URL of the line of Ray's source that emits it


@dataclass
class LogScan:
    """What the log scan read, and what it found."""

    nodes: list[str] = field(default_factory=list)  #: node labels whose logs were read
    files_read: int = 0
    bytes_read: int = 0
    files_cut: int = 0  #: files read only from the end (larger than the budget)
    files_skipped: int = 0  #: matching files beyond the per-node file cap
    signatures: int = 0  #: how many signatures were looked for
    findings: list[LogFinding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
