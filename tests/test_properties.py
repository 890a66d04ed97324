"""Property-based tests (Hypothesis): any input gives a result or a typed error, quickly.

kb front-matter parsing (``raybot.kb.parse_entry``) and the pasted-code checks
(``raybot.codecheck.check``) read text raybot does not control.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raybot.codecheck import check
from raybot.kb import Entry, parse_entry

TIME_BOUND_S = 2.0

FRONT_KEYS = ["id", "title", "kind", "tags", "sources", "related", "questions", "follow_ups", "issue", "signatures"]
yaml_scalar = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["[", "]", "{", "}", "&a", "*a", "!!python/object:os.system", "|", ">", "- -", ": :", "'", '"']),
)
front_line = st.builds(lambda k, v: f"{k}: {v}", st.sampled_from(FRONT_KEYS), yaml_scalar)
body = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(["## Answer", "## Details", "## Steps", "```python", "```", "```python runnable", "---"]),
    ),
    max_size=20,
)


@st.composite
def entry_files(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=2000))
    lines = ["---", *draw(st.lists(front_line, max_size=12)), *draw(st.lists(st.text(max_size=60), max_size=3))]
    if draw(st.booleans()):
        lines.append("---")
    lines += draw(body)
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=entry_files())
def test_parse_entry_gives_an_entry_or_problems(tmp_path, data):
    path = tmp_path / "some-entry.md"
    path.write_bytes(data)
    start = time.monotonic()
    entry, problems = parse_entry(path)
    assert time.monotonic() - start < TIME_BOUND_S
    assert entry is None or isinstance(entry, Entry)
    assert entry is not None or problems  # nothing usable is always explained
    assert all(p.path == path and isinstance(p.line, int) and p.message for p in problems)


python_like = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from(
            [
                "@ray.remote(max_calls=1)",
                "ray.remote(num_cpus=1)",
                "def f(x):",
                "    return ray.put(x)",
                "class A:",
                "    def g(self): ray.put(1, _owner=self)",
                "kill_idle_workers_interval_ms: 0",
                'RAY_idle_worker_killing_time_threshold_ms="99999999999999999999999"',
                "ray start --address=1.2.3.4:6379 --system-config='{}'",
                "idle_timeout_minutes: 5",
                "```python",
                "```",
                "x = " + "a." * 400 + "b",
                "y = " + "-" * 500 + "1",
                "z = " + "(" * 300 + "1" + ")" * 300,
            ]
        ),
    ),
    max_size=30,
).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(python_like, st.text(max_size=3000)))
def test_codecheck_gives_findings_for_any_text(text):
    start = time.monotonic()
    findings = check(text)
    assert time.monotonic() - start < TIME_BOUND_S
    assert isinstance(findings, list)
    for f in findings:
        assert f.rule and f.entry and f.line >= 1


def test_codecheck_pathological_inputs_are_bounded():
    for text in (
        "x = " + "a." * 3000 + "b",
        "x = " + "-" * 100_000 + "1",
        "x = " + "[" * 10_000,
        "not " * 5000 + "x",
        "kill_idle_workers_interval_ms = " + "9" * 10_000,
        "a = 1\n" * 200_000,
        "\x00" * 1000,
    ):
        start = time.monotonic()
        assert isinstance(check(text), list)
        assert time.monotonic() - start < TIME_BOUND_S


def test_pathological_front_matter_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "e.md"
    for front in (
        "id: " + "[" * 20_000,
        "title: " + "{a: " * 3000,
        "tags: " + "- " * 5000 + "x",
        "a: &a [1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\ntags: [*c,*c,*c,*c,*c,*c,*c,*c]",
        "title: " + "x" * 300_000,
    ):
        path.write_text(f"---\n{front}\n---\n## Answer\nx\n")
        start = time.monotonic()
        entry, problems = parse_entry(path)
        assert time.monotonic() - start < TIME_BOUND_S
        assert entry is None or problems
