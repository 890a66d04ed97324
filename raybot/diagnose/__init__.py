"""``raybot diagnose``: inspect a live Ray cluster (or a pasted ``ray status``), say what is wrong.

Three steps, kept apart so each can be tested on its own:

1. :func:`raybot.diagnose.snapshot.collect_snapshot` is the only I/O. It returns a
   :class:`~raybot.diagnose.snapshot.ClusterSnapshot`, and records what it could not collect.
2. :func:`raybot.diagnose.checks.run_checks` runs the pure ``@check`` functions over the snapshot.
3. :class:`raybot.diagnose.report.Diagnosis` bundles both; :mod:`raybot.diagnose.render` prints it.

Nothing here imports ray or psutil at module level: ``import raybot.cli`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raybot.diagnose.report import Diagnosis


def diagnose_cluster(address: str | None, *, timeout: float = 10.0, local_only: bool = False) -> Diagnosis:
    """Collect a snapshot of the cluster at ``address`` and run every check over it."""
    from raybot.diagnose.checks import run_checks
    from raybot.diagnose.report import Diagnosis
    from raybot.diagnose.snapshot import collect_snapshot

    snapshot = collect_snapshot(address, timeout=timeout, local_only=local_only)
    return Diagnosis(snapshot=snapshot, results=run_checks(snapshot))


def diagnose_status_text(text: str, *, source: str = "-") -> Diagnosis:
    """Run the checks that a pasted ``ray status`` output can answer."""
    from raybot.diagnose.checks import run_checks
    from raybot.diagnose.report import Diagnosis
    from raybot.diagnose.status_text import parse_status_text, snapshot_from_status

    snapshot = snapshot_from_status(parse_status_text(text), source=source)
    return Diagnosis(snapshot=snapshot, results=run_checks(snapshot))
