"""Retrieval quality on the dev question set, with the real model and the real kb/."""

from __future__ import annotations

import json
import re

import pytest
from helpers import DATA, ROOT

from raybot.evaluate import evaluate, load_cases
from raybot.kb import load_kb

pytestmark = pytest.mark.model
DEV = DATA / "dev_questions.jsonl"


def norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def test_dev_set_is_large_varied_and_not_copied_from_the_kb():
    cases = load_cases(DEV)
    assert len(cases) >= 60
    assert sum(1 for c in cases if not c.expected) >= 10, "out-of-scope questions"
    entries, _ = load_kb(ROOT / "kb")
    ids = {e.id for e in entries}
    assert all(set(c.expected) <= ids for c in cases), [c.expected for c in cases if not set(c.expected) <= ids]
    front = {norm(q) for e in entries for q in e.questions}
    copied = [c.question for c in cases if norm(c.question) in front]
    assert copied == [], "dev questions must not repeat an entry's own `questions:`"


def test_hit_at_3_and_abstention_meet_the_bar(shipped_retriever):
    from raybot.assistant import Assistant

    result = evaluate(load_cases(DEV), Assistant(retriever=shipped_retriever, store=None))
    report = json.dumps(result.misses, indent=1)
    assert result.hit_at_3 >= 0.90, report
    assert result.abstention_accuracy >= 0.85, report


def test_held_out_questions_written_after_calibration(shipped_retriever):
    """tests/data/holdout_questions.jsonl was written after the thresholds were set and is
    never used to tune them: it checks that calibration generalises."""
    from raybot.assistant import Assistant

    result = evaluate(load_cases(DATA / "holdout_questions.jsonl"), Assistant(retriever=shipped_retriever, store=None))
    report = json.dumps(result.misses, indent=1)
    assert result.hit_at_3 >= 0.85, report
    assert result.abstention_accuracy >= 0.85, report
