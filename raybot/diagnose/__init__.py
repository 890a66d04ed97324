"""``raybot diagnose``: inspect a live Ray cluster, a pasted ``ray status`` or a copied logs folder,
and say what is wrong.

Three steps, kept apart so each can be tested on its own:

1. Collect (the only I/O): :func:`raybot.diagnose.collect.collect_snapshot` (live),
   :mod:`raybot.diagnose.collect.status_text` (a paste), :mod:`raybot.diagnose.collect.logs`
   (``--logs DIR``). Each returns a :class:`~raybot.diagnose.model.ClusterSnapshot` that records
   what it could not collect.
2. Check: :func:`raybot.diagnose.checks.run_checks` runs the pure ``@check`` functions.
3. Report: :class:`raybot.diagnose.report.Diagnosis` bundles both (JSON, thread summary);
   :mod:`raybot.diagnose.render` builds the human output.

Nothing here imports ray or psutil at module level: ``import raybot.cli`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raybot.diagnose.report import Diagnosis


def diagnose_cluster(
    address: str | None,
    *,
    timeout: float = 10.0,
    local_only: bool = False,
    scan_logs: bool = True,
    pending_after_s: float | None = None,
    pending_timeout: float | None = None,
) -> Diagnosis:
    """Collect a snapshot of the cluster at ``address`` and run every check over it.

    ``pending_after_s``: report tasks, actors and placement groups pending longer than this
    (``None``: :data:`raybot.diagnose.checks.pending.PENDING_AFTER_S`). ``pending_timeout``:
    seconds the listings of pending work may take (``None``: ``timeout``).
    """
    from raybot.diagnose.checks import run_checks
    from raybot.diagnose.collect import collect_snapshot
    from raybot.diagnose.report import Diagnosis

    snapshot = collect_snapshot(
        address, timeout=timeout, local_only=local_only, scan_logs=scan_logs, pending_timeout=pending_timeout
    )
    snapshot.pending_after_s = pending_after_s
    return Diagnosis(snapshot=snapshot, results=run_checks(snapshot))


def diagnose_status_text(text: str, *, source: str = "-") -> Diagnosis:
    """Run the checks that a pasted ``ray status`` output can answer."""
    from raybot.diagnose.checks import run_checks
    from raybot.diagnose.collect.status_text import parse_status_text, snapshot_from_status
    from raybot.diagnose.report import Diagnosis

    snapshot = snapshot_from_status(parse_status_text(text), source=source)
    return Diagnosis(snapshot=snapshot, results=run_checks(snapshot))


def diagnose_logs(root: Path, *, kb_dir: Path | None = None) -> Diagnosis:
    """Scan a copied logs folder for known signatures (``raybot diagnose --logs DIR``)."""
    from raybot.diagnose.checks import run_checks
    from raybot.diagnose.collect.logs import snapshot_from_logs
    from raybot.diagnose.report import Diagnosis

    snapshot = snapshot_from_logs(Path(root), kb_dir=kb_dir)
    return Diagnosis(snapshot=snapshot, results=run_checks(snapshot))
