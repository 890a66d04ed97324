"""A built wheel carries kb/ and index/ and answers from them (no source checkout needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest
from helpers import ROOT

from raybot.index import FILES

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return next(out.glob("raybot-*.whl"))


def test_wheel_contains_kb_and_index(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    kb = sorted(p.name for p in (ROOT / "kb").iterdir() if p.suffix in (".md", ".yaml"))
    assert all(f"raybot/_data/kb/{n}" in names for n in kb)
    for f in ("manifest.json", *FILES):
        assert f"raybot/_data/index/{f}" in names


def test_installed_wheel_answers_from_its_own_data(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    code = (
        "import json, sys; from raybot import paths; from raybot.cli import main; "
        "print(json.dumps([str(paths.kb_dir()), str(paths.index_dir())])); "
        "sys.argv = ['raybot', 'ask', '--json', 'what does num_workers_soft_limit do']; main()"
    )
    env = dict(os.environ, PYTHONPATH=str(target), RAYBOT_HOME=str(tmp_path / "home"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    first, rest = r.stdout.split("\n", 1)
    kb_dir, index_dir = json.loads(first)
    assert kb_dir.startswith(str(target)) and index_dir.startswith(str(target))
    assert json.loads(rest)["entries"][0] == "num-workers-soft-limit"
    assert "stale" not in r.stderr  # the shipped index matches the shipped kb


def test_tests_run_against_the_installed_wheel(wheel, tmp_path):
    """The suite imports raybot as installed (no editable install, no source tree on sys.path):
    a sample of it runs against the wheel alone."""
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    env = dict(os.environ, PYTHONPATH=str(target))
    where = subprocess.run(
        [sys.executable, "-c", "import raybot; print(raybot.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    sample = [str(ROOT / "tests" / name) for name in ("test_units.py", "test_threads.py", "test_kb.py")]
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), *sample],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout


def test_bench_default_question_set_ships_in_the_wheel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "raybot/_data/dev_questions.jsonl" in names
