"""Fixtures for the diagnose tests. ``raycluster`` and ``diagkit`` are importable through
pytest's ``pythonpath`` setting (pyproject.toml), under a wheel or an editable install."""

from __future__ import annotations
