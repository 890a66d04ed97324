"""The checks: pure functions over a :class:`~raybot.diagnose.model.ClusterSnapshot`, by subject.

- :mod:`.base`: ``@check(id, title, needs=..., entries=...)``, :func:`run_checks`, and the table of
  needs that turns missing data into "could not check" in one place;
- :mod:`.settings`: idle-worker reaping switched off, cleanup slowed down;
- :mod:`.workers`: the soft limit, memory and CPU of ``ray::IDLE`` processes, workers that will not exit;
- :mod:`.memory`: OOM kills, object call sites, object store usage;
- :mod:`.autoscaler`: pending nodes, demands, failures, idle nodes, a whole cluster idle;
- :mod:`.pending`: tasks, actors and placement groups waiting longer than a threshold;
- :mod:`.logs`: signatures found in the session logs;
- :mod:`.cluster`: version pitfalls, dead nodes, what could be collected (always last).

To add a check, write a function in the module of its subject, decorate it with ``@check`` and
name in ``needs`` what it reads; it runs only when those facts are present.
"""

from __future__ import annotations

from raybot.diagnose.checks import autoscaler, cluster, logs, memory, pending, settings, workers  # noqa: F401 - register
from raybot.diagnose.checks.base import CHECKS, NEEDS, STATUSES, Check, CheckResult, check, run_checks
from raybot.diagnose.checks.util import fmt_age, fmt_bytes

#: the order checks are reported in: by subject, "what raybot could collect" last
_ORDER = [m.__name__ for m in (settings, workers, memory, autoscaler, pending, logs, cluster)]
CHECKS.sort(key=lambda c: _ORDER.index(c.fn.__module__) if c.fn.__module__ in _ORDER else len(_ORDER))

__all__ = ["CHECKS", "NEEDS", "STATUSES", "Check", "CheckResult", "check", "run_checks", "fmt_age", "fmt_bytes"]
