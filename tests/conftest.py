"""Shared fixtures. Every test gets its own RAYBOT_HOME; nothing touches the real home."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from helpers import SMALL_KB


def pytest_configure(config):
    sys._called_from_test = True  # type: ignore[attr-defined]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_finish(session):
    """Start the slow cluster setups of the selected modules that name one (``BACKGROUND_SETUP``,
    see tests/raycluster.py) in the background, so they overlap the tests that run before them."""
    if session.config.option.collectonly:
        return
    import raycluster

    for module in {item.module for item in session.items if getattr(item, "module", None) is not None}:
        setup = getattr(module, "BACKGROUND_SETUP", None)
        if setup is not None:
            raycluster.start_background(module.__name__, setup)


def pytest_sessionfinish(session):
    import raycluster

    raycluster.stop_background()


@pytest.fixture(autouse=True)
def raybot_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("RAYBOT_HOME", str(home))
    for var in ("RAYBOT_KB", "RAYBOT_INDEX", "RAYBOT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(autouse=True)
def default_settings():
    """Each test starts from the default settings: a command run in-process (Typer's CliRunner)
    makes its global options current for the rest of the process, which a real CLI run ends."""
    from raybot import settings

    token = settings.use(settings.Settings())
    yield
    settings.reset(token)


@pytest.fixture(scope="session")
def small_index(tmp_path_factory):
    """The fixture kb in tests/data/kb_small, built once with the real model."""
    from raybot.index import build

    base = tmp_path_factory.mktemp("small")
    kb = base / "kb"
    shutil.copytree(SMALL_KB, kb)
    idx = base / "index"
    build(kb, idx)
    return kb, idx


@pytest.fixture(scope="session")
def shipped_retriever():
    """The real kb/ and the committed index/ with the real model (loaded once)."""
    from raybot import paths
    from raybot.index import load
    from raybot.retrieve import Retriever

    return Retriever(load(paths.index_dir()))


@pytest.fixture
def assistant(shipped_retriever, raybot_home):
    from raybot.assistant import Assistant
    from raybot.threads import ThreadStore

    return Assistant(retriever=shipped_retriever, store=ThreadStore(raybot_home / "threads.db"))
