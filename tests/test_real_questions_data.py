"""The real-question evaluation set (tests/data/real_questions.jsonl) is well formed.

Schema, labels, themes, split sizes, that every `expected` id is a current kb entry, that
answer rows carry facts, and that the held-out rows are byte-for-byte the frozen ones.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from raybot.kb import load_kb
from tests.conftest import DATA, ROOT

PATH = DATA / "real_questions.jsonl"
UNLABELED = DATA / "real_questions_unlabeled.jsonl"

KEYS = {"id", "split", "source", "question", "theme", "label", "expected", "facts", "note"}
THEMES = {
    "object-store",
    "oom",
    "scheduling",
    "autoscaler",
    "worker-startup",
    "connecting",
    "node-failure",
    "actor-task-failures",
    "runtime-env",
    "gpu",
    "logs-dashboard",
    "hangs",
    "serialization",
    "log-warnings",
    "idle-workers",
    "refcount",
    "other-core",
    "out-of-scope",
}
# sha256 of the held-out lines (in file order) as committed in "real questions: held-out
# labels (frozen)". The held-out part is the yardstick nobody tunes on: a change to any
# held-out row must fail here, never be "fixed" by updating this constant.
HELDOUT_SHA256 = "06848308ad0d0445f6cac08a5b10669c287f7838b3a3d6767537a317f81137a5"


def lines() -> list[str]:
    return PATH.read_text("utf-8").splitlines(keepends=True)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in lines()]


@pytest.fixture(scope="module")
def kb_ids() -> set[str]:
    entries, problems = load_kb(ROOT / "kb")
    assert entries, problems
    return {e.id for e in entries}


def test_schema(rows):
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for r in rows:
        assert set(r) == KEYS, (r["id"], set(r) ^ KEYS)
        assert re.fullmatch(r"rq-[0-9a-f]{8}", r["id"]), r["id"]
        assert r["split"] in {"dev", "heldout"}, r["id"]
        assert r["label"] in {"answer", "decline"}, r["id"]
        assert r["theme"] in THEMES, (r["id"], r["theme"])
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert isinstance(r["note"], str) and r["note"].strip(), r["id"]
        assert "CC BY 4.0" in r["source"] and "ray-project/llm-applications" in r["source"]
        assert isinstance(r["expected"], list) and isinstance(r["facts"], list), r["id"]


def test_questions_are_cleaned_of_slack_markup(rows):
    for r in rows:
        q = r["question"]
        assert not re.search(r"<@[UW][A-Z0-9]+>|&gt;|&lt;|&amp;|<https?://", q), r["id"]


def test_rows_come_from_the_sample_and_keep_its_split(rows):
    sample = {}
    for line in UNLABELED.read_text("utf-8").splitlines():
        s = json.loads(line)
        sample[s["id"]] = s
    for r in rows:
        assert r["id"] in sample, r["id"]
        assert r["split"] == sample[r["id"]]["split"], r["id"]
        assert r["source"] == sample[r["id"]]["source"], r["id"]


def test_split_sizes(rows):
    assert len(rows) >= 250
    assert sum(r["split"] == "heldout" for r in rows) >= 80
    for split in ("dev", "heldout"):
        labels = {r["label"] for r in rows if r["split"] == split}
        assert labels == {"answer", "decline"}, split


def test_answer_rows_have_facts(rows):
    for r in rows:
        if r["label"] == "answer":
            assert 1 <= len(r["facts"]) <= 3, r["id"]
            for group in r["facts"]:
                assert isinstance(group, list) and group, r["id"]
                assert all(isinstance(a, str) and a.strip() for a in group), r["id"]
            assert r["theme"] != "out-of-scope", r["id"]
        else:
            assert r["facts"] == [] and r["expected"] == [], r["id"]


def test_expected_ids_exist_in_kb(rows, kb_ids):
    missing = {(r["id"], e) for r in rows for e in r["expected"] if e not in kb_ids}
    assert not missing, sorted(missing)


def test_heldout_rows_are_frozen():
    held = "".join(line for line in lines() if json.loads(line)["split"] == "heldout")
    assert hashlib.sha256(held.encode("utf-8")).hexdigest() == HELDOUT_SHA256
