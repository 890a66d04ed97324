"""The entry format and `raybot kb lint` on broken files, and the shipped kb itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import ROOT, SMALL_KB

from raybot.kb import load_kb, parse_entry


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


GOOD = SMALL_KB / "soft-limit.md"


def mutate(tmp_path, old: str, new: str, name: str = "soft-limit.md") -> list[str]:
    kb = tmp_path / "kb"
    shutil.copytree(SMALL_KB, kb)
    path = kb / name
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")
    return [str(p) for p in load_kb(kb)[1]]


def test_small_kb_is_clean():
    entries, problems = load_kb(SMALL_KB)
    assert problems == []
    assert {e.id for e in entries} == {"soft-limit", "idle-process", "owner-error", "gh-11111"}


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("kind: config", "kind: recipe", "kind 'recipe' is not one of"),
        ("id: soft-limit", "id: Soft_Limit", "is not kebab-case"),
        ("id: soft-limit", "id: other-name", "does not match the file name"),
        ("related: [idle-process]", "related: [no-such-entry]", "related id 'no-such-entry' does not exist"),
        ("    section: Steps", "    section: Example", "offers section 'Example', which the entry lacks"),
        ('    url: "https://example.org/soft-limit"', "    url: not-a-url", "not an http(s) URL"),
        (
            '  - title: "fixture source"\n    url: "https://example.org/soft-limit"\n',
            "  - title: only a title\n",
            "source without a url",
        ),
        ("## Answer\n", "## Summary\n", "unknown section '## Summary'"),
        ('title: "Test entry: the idle worker soft limit"\n', "", "missing required field 'title'"),
        ("tags: [idle-workers, num_workers_soft_limit]", "tags: [unclosed", "invalid YAML front matter"),
    ],
)
def test_lint_reports_each_problem_with_file_and_line(tmp_path, old, new, expected):
    problems = mutate(tmp_path, old, new)
    matching = [p for p in problems if expected in p]
    assert matching, problems
    path, line, _ = matching[0].split(":", 2)
    assert path.endswith("soft-limit.md") and int(line) >= 1


def test_lint_python_example_that_does_not_parse(tmp_path):
    problems = mutate(tmp_path, 'print("an example block")', "def broken(:\n    pass", name="idle-process.md")
    assert any("Python block does not parse" in p and "idle-process.md:" in p for p in problems), problems


def test_lint_duplicate_ids(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(SMALL_KB, kb)
    text = (kb / "owner-error.md").read_text("utf-8")
    (kb / "owner-error-2.md").write_text(text.replace("id: owner-error", "id: owner-error-2"), "utf-8")
    (kb / "owner-error-3.md").write_text(text, "utf-8")  # same id, file name differs too
    problems = [str(p) for p in load_kb(kb)[1]]
    assert any("duplicate id 'owner-error'" in p for p in problems), problems


def test_missing_front_matter_and_unclosed_fence(tmp_path):
    entry, problems = parse_entry(write(tmp_path, "x.md", "## Answer\nno front matter\n"))
    assert entry is None and "missing YAML front matter" in problems[0].message
    text = GOOD.read_text("utf-8") + "\n```python\nprint(1)\n"
    _, problems = parse_entry(write(tmp_path, "soft-limit.md", text))
    assert any("not closed" in p.message for p in problems)


def test_issue_entries_need_issue_block(tmp_path):
    problems = mutate(tmp_path, "  state: open", "  state: maybe", name="gh-11111.md")
    assert any("issue state must be" in p for p in problems), problems


def test_code_blocks_know_runnable_and_line(tmp_path):
    text = GOOD.read_text("utf-8").replace(
        "## Steps", "## Example\n```python runnable\nassert 1 + 1 == 2\n```\n\n## Steps"
    )
    path = write(tmp_path, "soft-limit.md", text)
    entry, problems = parse_entry(path)
    assert any("out of order" in p.message for p in problems)  # Example before Steps
    block = entry.code_blocks("Example")[0]
    assert block.runnable and block.lang == "python"
    assert path.read_text().splitlines()[block.line - 1].startswith("```python runnable")


def test_shipped_kb_lints_clean():
    entries, problems = load_kb(ROOT / "kb")
    assert [str(p) for p in problems] == []
    assert len(entries) >= 40


def _with_answer(tmp_path, question: str, answer: str) -> list[str]:
    block = (
        f'answers:\n  - question: "{question}"\n    answer: "{answer}"\n    source: "https://example.org/soft-limit"\n'
    )
    return mutate(tmp_path, "related: [idle-process]", block + "related: [idle-process]")


@pytest.mark.parametrize(
    "question,answer,flagged",
    [
        ("Which hook runs once in each worker?", "Yes, roughly: worker_process_setup_hook.", True),
        ("How many times is setup retried?", "Yes, 3 attempts by default.", True),
        ("Does memory= limit RAM, or is it only a request?", "No. It is a logical resource.", True),
        ("Does the timeline show task names or only events?", "Yes, in 2.60.", True),
        ("Does memory= limit the RAM a task can use?", "No. It is a logical resource.", False),
        ("Can two or more actors share one CPU?", "Yes. An actor holds 0 CPUs once placed.", False),
        ("Does memory= limit RAM, or is it only a request?", "It is only a request: a logical resource.", False),
    ],
)
def test_lint_bare_yes_no_to_a_question_that_is_not_yes_no(tmp_path, question, answer, flagged):
    problems = _with_answer(tmp_path, question, answer)
    hits = [p for p in problems if "bare yes/no" in p]
    assert bool(hits) is flagged, problems
