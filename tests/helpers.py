"""Constants and small helpers shared by the tests (import it as ``helpers``).

pytest puts ``tests/`` on ``sys.path`` (``pythonpath`` in pyproject.toml), so this module is
found the same way whether raybot is installed from a wheel or in editable mode; tests never
import ``conftest`` or the ``tests`` directory as a package.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  #: the source checkout (kb/, index/, pyproject.toml)
DATA = Path(__file__).resolve().parent / "data"
SMALL_KB = DATA / "kb_small"
