"""The terminal renderer (raybot.render) on Markdown it must get right, and kb lint's text rules.

No model and no index: these call the layout functions directly, in plain and colour mode.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from raybot.render import answer_markdown, markdown_lines, table_lines

SMALL_KB = Path(__file__).resolve().parent / "data" / "kb_small"
ESC = "\x1b"


def plain(lines) -> str:
    return "\n".join(line.plain for line in lines)


def ansi(lines, width: int) -> str:
    """What a colour terminal receives (OSC 8 hyperlinks included)."""
    from rich.text import Text

    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=True, color_system="truecolor")
    con.print(Text("\n").join(lines), soft_wrap=True)
    return buf.getvalue()


def osc8_targets(out: str) -> list[str]:
    return [u for u in re.findall(r"\x1b\]8;[^;]*;([^\x1b\x07]*)", out) if u]


SOURCES = [
    {
        "title": "ray_config_def.h L751-L768",
        "url": "https://github.com/ray-project/ray/blob/abc/src/ray/common/ray_config_def.h#L751-L768",
    },
    {"title": "Parenthesised", "url": "https://en.wikipedia.org/wiki/Foo_(bar)"},
]
DOC = """The main lever is **`num_workers_soft_limit`**. Keep `2 * 3 * 4` and 2 * 3 * 4 and *.py globs, and <NODE_IP>.

- Defaults: interval 200 ms, threshold 1000 ms, soft limit -1 = floor(available CPUs) \
([ray_config_def.h L751-L768](https://github.com/ray-project/ray/blob/abc/src/ray/common/ray_config_def.h#L751-L768)). \
The same defaults are in the 2.60.0 raylet binary, as measured on a node with two CPUs.
- A page about [Foo](https://en.wikipedia.org/wiki/Foo_(bar)) and one not among the sources, \
[see this](https://example.org/other).
  - a nested bullet whose text is long enough to wrap at sixty columns at least once or twice

1. Step one is long enough that it must wrap onto a second line at sixty columns, and a third, \
and even at one hundred and twenty columns it needs a second line.
2. Run this:

   ```bash
   ulimit -n 65536; ray start --head --port=6379 \
--system-config='{"num_workers_soft_limit":0,"idle_worker_killing_time_threshold_ms":500}'
   ```

**Sources:**
- ray_config_def.h L751-L768: interval 200 ms, threshold 1000 ms, soft limit -1 (commit abc): \
<https://github.com/ray-project/ray/blob/abc/src/ray/common/ray_config_def.h#L751-L768>
- Parenthesised: <https://en.wikipedia.org/wiki/Foo_(bar)>

Want ready-to-paste settings?
"""
CODE_LINE = (
    "ulimit -n 65536; ray start --head --port=6379 "
    '--system-config=\'{"num_workers_soft_limit":0,"idle_worker_killing_time_threshold_ms":500}\''
)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_layout_keeps_to_the_width_with_hanging_indents(width):
    lines = markdown_lines(DOC, width=width, sources=SOURCES, color=False)
    text = plain(lines)
    for line in text.split("\n"):
        if cell_len(line) > width:
            # the only exceptions: a whole URL on its own line, a whole line of code
            assert re.fullmatch(r"  https?://\S+", line) or line.strip() == CODE_LINE, line
    # bullets: continuation lines start under the text, never at column 0
    rows = text.split("\n")
    for i, line in enumerate(rows[:-1]):
        m = re.match(r"(\s*)• ", line)
        nxt = rows[i + 1]
        if m and nxt.strip() and not re.match(r"\s*(•|\d+\.) ", nxt) and nxt.strip() != "Sources:":
            assert nxt.startswith(m.group(1) + "  "), (line, nxt)
    # numbered steps: "1. " with the continuation under the text
    step = rows.index(next(r for r in rows if r.startswith("1. Step one")))
    assert rows[step + 1].startswith("   ") and rows[step + 1].strip()
    assert "2. Run this:" in text
    # code: intact, unwrapped, indented under its step
    assert "   " + CODE_LINE in rows
    # math and globs and placeholders survive
    assert text.count("2 * 3 * 4") == 2 and "*.py" in text and "<NODE_IP>" in text
    # the Sources block: titles wrapped, each URL whole on its own line
    assert "  https://github.com/ray-project/ray/blob/abc/src/ray/common/ray_config_def.h#L751-L768" in rows
    assert "  https://en.wikipedia.org/wiki/Foo_(bar)" in rows
    # a link that is not a source: its text stays, its URL is listed under Links:
    assert "Links:" in rows and "  https://example.org/other" in rows
    assert rows[-1] == "Want ready-to-paste settings?"  # the closing offer stays last
    assert ESC not in text


def test_colour_output_links_only_the_sources():
    out = ansi(markdown_lines(DOC, width=80, sources=SOURCES, color=True), 80)
    targets = osc8_targets(out)
    assert "https://github.com/ray-project/ray/blob/abc/src/ray/common/ray_config_def.h#L751-L768" in targets
    assert "https://en.wikipedia.org/wiki/Foo_(bar)" in targets  # ")" in a URL is not cut
    assert "https://example.org/other" not in targets
    # the visible text of an inline link stays short
    assert re.search(r"\x1b\]8;[^;]*;https://github\.com[^\x1b]*\x1b\\(?:\x1b\[[0-9;]*m)*ray_config_def\.h", out)


def test_untrusted_link_from_user_text_is_never_clickable():
    evil = "I have no entries mentioning `foo` [see the official fix](http://evil.example/x.sh) `bar`."
    lines = markdown_lines(evil, width=80, sources=[], color=True)
    out = ansi(lines, 80)
    assert not [t for t in osc8_targets(out) if "evil" in t]
    assert "see the official fix" in plain(lines)
    assert "http://evil.example/x.sh" in plain(lines)  # shown whole, so nobody is misled


def test_sanitized_user_text_renders_literally():
    from raybot.sanitize import md_code, md_literal

    lines = markdown_lines(md_literal("x[/] *a* <b> `c` [l](http://e) &amp;"), width=80, color=False)
    assert plain(lines) == "x[/] *a* <b> `c` [l](http://e) &amp;"
    lines = markdown_lines("mention " + md_code("foo` [x](http://e) `bar"), width=80, color=True)
    assert plain(lines) == "mention foo` [x](http://e) `bar"
    assert osc8_targets(ansi(lines, 80)) == []


def test_hostile_text_in_markdown_is_cleaned():
    doc = f"title {ESC}]8;;http://evil/{ESC}\\click{ESC}]8;;{ESC}\\ and {ESC}[2J \u202eabc x[/] [link=http://e]y[/link]"
    lines = markdown_lines(doc, width=80, color=True)
    out = ansi(lines, 80)
    assert "evil" not in out and "\x1b[2J" not in out and "\u202e" not in out
    assert "x[/] [link=http://e]y[/link]" in plain(lines)


def test_untrusted_markdown_in_kb_style_document_sources_are_taken_from_its_sources_block():
    lines = markdown_lines(DOC, width=80, color=True)  # kb show / threads show: no explicit sources
    targets = osc8_targets(ansi(lines, 80))
    assert "https://en.wikipedia.org/wiki/Foo_(bar)" in targets
    assert "https://example.org/other" not in targets


def test_code_is_highlighted_in_colour_and_never_wrapped():
    lines = markdown_lines(DOC, width=60, sources=SOURCES, color=True)
    out = ansi(lines, 60)
    assert ESC in out
    assert any(line.plain == "   " + CODE_LINE for line in lines)


def test_title_is_dropped_when_the_first_sentence_says_the_same():
    md = (
        "### GH #18456: ReferenceCountingAssertionError when an ObjectRef passes through an intermediate "
        'worker that dies (open)\n\nGH #18456, "[core] ReferenceCountingAssertionError may be thrown if '
        'ObjectRef is passed through intermediate worker that dies", is **still open**. More text.'
    )
    assert answer_markdown(md).startswith("GH #18456,")


def test_title_is_shortened_when_it_adds_something():
    md = (
        "### How to make Ray clean up idle workers faster (and why 10000 ms settings do the opposite)\n\n"
        "The main lever is **`num_workers_soft_limit`**. By default each node keeps idle workers."
    )
    out = answer_markdown(md)
    assert out.startswith("**How to make Ray clean up idle workers faster**\n\nThe main lever")


def test_long_title_keeps_the_part_before_its_subtitle():
    md = "### How to get memory back from ray::IDLE workers: the practical options\n\nFirst check the memory."
    assert answer_markdown(md).startswith("**How to get memory back from ray::IDLE workers**\n\nFirst")
    md = "### max_calls: make a task's worker exit after N calls (defaults, limits)\n\nIt is an option."
    assert answer_markdown(md).startswith("**max_calls: make a task's worker exit after N calls**")


def test_answers_without_a_title_are_unchanged():
    md = "Issues in my knowledge base that mention `x`:\n\n- **#1** y"
    assert answer_markdown(md) == md


@pytest.mark.parametrize("width", [60, 80, 120])
def test_tables_keep_to_the_width_and_ids_whole(width):
    rows = [
        [
            "idle-worker-killing-memory-threshold-bytes",
            "config",
            "idle_worker_killing_memory_threshold_bytes: an OOM-killer setting (1 GiB), not the reaper",
        ],
        ["gh-1", "issue", f"a title with {ESC}]8;;http://evil{ESC}\\ a link and x[/] markup"],
    ]
    for cut in (False, True):
        lines = table_lines(["id", "kind", "title"], rows, width=width, color=False, cut_last=cut)
        text = plain(lines)
        assert all(cell_len(line) <= width for line in text.split("\n")), text
        assert "idle-worker-killing-memory-threshold-bytes" in text
        assert ESC not in text and "x[/]" in text
        assert all(line == line.rstrip() for line in text.split("\n"))


# ---- kb lint: text that would drive a terminal or make a link ------------------------------


def lint_with(tmp_path, old: str, new: str, name: str = "soft-limit.md") -> list[str]:
    from raybot.kb import load_kb

    kb = tmp_path / "kb"
    shutil.copytree(SMALL_KB, kb)
    path = kb / name
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")
    return [str(p) for p in load_kb(kb)[1]]


TITLE = 'title: "Test entry: the idle worker soft limit"'


@pytest.mark.parametrize(
    "old,new,expected",
    [
        (
            TITLE,
            r'title: "Test entry \e]8;;http://evil.example/x\e\\click\e]8;;\e\\"',
            "'title' contains a OSC 8 hyperlink",
        ),
        (TITLE, r'title: "Test entry \x1b[31mred"', "'title' contains a escape sequence"),
        (TITLE, 'title: "Test entry \u202eevil"', "'title' contains a bidirectional control U+202E"),
        (TITLE, 'title: "Test [see fix](http://evil.example)"', "title contains Markdown link or image syntax"),
        (TITLE, 'title: "Test [link=http://evil.example]fix[/link]"', "would break or add a link"),
        (TITLE, 'title: "Test x[/] y"', "would break or add a link"),
        (TITLE, 'title: "Test `unpaired"', "unpaired backtick"),
        (
            '- "how many idle workers does ray keep"',
            '- "how many \\x07 workers"',
            "'questions' contains a control character BEL",
        ),
        (
            "## Details\nFixture details",
            "## Details\nFixture \x1b]8;;http://e\x07x\x1b]8;;\x07 details",
            "body contains a OSC 8",
        ),
        (
            "## Details\nFixture details",
            "## Details\nFixture \u2066isolate\u2069 details",
            "bidirectional control U+2066",
        ),
        ("## Details\nFixture details", "## Details\nSee [the file](file:///etc/passwd) details", "only http(s) links"),
        ("## Details\nFixture details", "## Details\nSee <file:///etc/passwd> details", "only http(s) links"),
        ("## Details\nFixture details", "## Details\nSee ![x](javascript:alert(1)) details", "only http(s) links"),
        (
            "## Details\nFixture details",
            "## Details\n[ref]: ftp://example.org/x\n\nSee [x][ref] details",
            "only http(s) links",
        ),
        ("## Details\nFixture details", "## Details\nSee [link=http://e]fix[/link] details", "rich markup"),
        ("## Details\nFixture details", '## Details\nSee <a href="http://e">x</a> details', "raw HTML"),
    ],
)
def test_kb_lint_rejects_text_that_drives_terminals_or_makes_links(tmp_path, old, new, expected):
    problems = lint_with(tmp_path, old, new)
    assert [p for p in problems if expected in p], problems


@pytest.mark.parametrize(
    "old,new",
    [
        (TITLE, 'title: "GH #1: [core] a title with [brackets] and `code` (closed)"'),
        (
            "## Details\nFixture details",
            "## Details\nSee [a page](https://example.org/a_(b)) and `[/]` in code, <NODE_IP>.",
        ),
        (
            "## Details\nFixture details",
            "## Details\n```text\n[link=x]in code[/link] file:///tmp\n```\nFixture details",
        ),
    ],
)
def test_kb_lint_accepts_ordinary_text(tmp_path, old, new):
    assert lint_with(tmp_path, old, new) == []


def test_shipped_kb_passes_the_text_rules():
    from raybot.kb import load_kb

    root = Path(__file__).resolve().parent.parent
    problems = [str(p) for p in load_kb(root / "kb")[1]]
    assert not [p for p in problems if "contains" in p or "link" in p or "backtick" in p], problems


def test_markdown_tables_fit_and_keep_every_character():
    md = (
        "| stored error type | class raised | meaning |\n| --- | --- | --- |\n"
        "| OBJECT_UNRECONSTRUCTABLE_LINEAGE_EVICTED | ObjectReconstructionFailedLineageEvictedError "
        "| lineage evicted, the object cannot be rebuilt |\n"
    )
    for width in (40, 60, 80):
        lines = plain(markdown_lines(md, width=width, color=False)).split("\n")
        assert all(cell_len(line) <= width for line in lines), lines
        assert "…" not in "".join(lines)
        text = "\n".join(lines)
        assert "ObjectRecons" in text and "ctedError" in text and "OBJECT_UNREC" in text and "rebuilt" in text


def _answer(confidence: float, **kw):
    from raybot.answer import Answer

    fields: dict = {"thread_id": "t1", "question": "q", "answer": "The answer.", "in_scope": True}
    fields.update(confidence=confidence, entries=["e"], sources=[], follow_ups=[], **kw)
    return Answer(**fields)


def test_an_answer_less_sure_than_the_hedge_bar_says_how_often_such_answers_were_right(capsys):
    from raybot import tuning
    from raybot.render import render_answer

    unsure = _answer(0.619)
    assert unsure.confidence < tuning.HEDGE_BELOW
    assert unsure.hedge().startswith("Not sure this answers your question: confidence 0.62, and about 6 in 10")
    assert unsure.to_dict()["hedge"] == unsure.hedge()
    render_answer(unsure)
    out, err = capsys.readouterr()
    assert "The answer." in out and "Not sure" not in out  # data on stdout, the note on stderr
    assert "about 6 in 10 answers" in err
    # Sure answers, declines, follow-ups that show another section, and replies that looked
    # nothing up carry no such line.
    assert _answer(0.947).hedge() is None
    assert _answer(0.3, in_scope=False, kind="decline").hedge() is None
    assert _answer(0.619, intent="section").hedge() is None
    assert _answer(0.619, kind="clarify").hedge() is None
    render_answer(_answer(0.947))
    assert "Not sure" not in capsys.readouterr().err


def test_the_hedge_line_comes_before_the_answer_in_a_terminal(capsys, monkeypatch):
    import sys

    from raybot.render import render_answer

    # One stream for both, as a terminal shows them: the warning must be read first.
    monkeypatch.setattr(sys, "stderr", sys.stdout)
    render_answer(_answer(0.619), hint=False)
    shown = capsys.readouterr().out
    assert 0 <= shown.index("Not sure this answers") < shown.index("The answer.")
