"""raybot.sanitize: text raybot did not write never drives the terminal or becomes a link."""

from __future__ import annotations

import io

import pytest

from raybot.sanitize import clean, defang_urls, escape_markup, find_unsafe, md_code, md_literal

ESC = "\x1b"
HOSTILE = [
    # (input, expected clean output)
    (f"{ESC}]8;;http://evil.example/x.sh{ESC}\\run the fix{ESC}]8;;{ESC}\\", "run the fix"),
    (f"{ESC}]8;;http://evil.example/x.sh\x07click\x1b]8;;\x07", "click"),
    (f"{ESC}[31mred{ESC}[0m plain", "red plain"),
    (f"{ESC}[2J{ESC}[1;1Hcleared", "cleared"),
    (f"{ESC}[?1049h{ESC}[38;2;1;2;3mx", "x"),
    (f"title{ESC}]0;pwned window title\x07 end", "title end"),
    (f"a{ESC}P1$q data{ESC}\\b", "ab"),  # DCS
    (f"a{ESC}_apc{ESC}\\b{ESC}^pm{ESC}\\c{ESC}Xsos{ESC}\\d", "abcd"),
    (f"a{ESC}cb{ESC}7c{ESC}(Bd{ESC}#8e", "abcde"),  # RIS, DECSC, charset, DECALN
    ("a\x9b31mb\x9d8;;http://evil/\x9cc", "abc"),  # 8-bit CSI, OSC, ST
    (f"unterminated {ESC}]8;;http://evil.example\nnext line", "unterminated \nnext line"),
    (f"trailing {ESC}", "trailing "),
    (f"trailing csi {ESC}[12", "trailing csi "),
    ("bell\x07 back\x08space nul\x00 del\x7f vt\x0b ff\x0c", "bell backspace nul del vt ff"),
    ("c1 \x85 \x8d \x9c done", "c1    done"),
    ("keep\ttab\nand newline", "keep\ttab\nand newline"),
    ("crlf\r\nline\rover", "crlf\nline\nover"),
    ("abc\u202edcb\u202c \u2066iso\u2069 \u200fmark\u200e \u061c", "abcdcb iso mark "),
    ("\ufeffbom", "bom"),
    ("sep\u2028line\u2029para", "sep\nline\npara"),
    ("lone \udcff surrogate", "lone \ufffd surrogate"),
    ("unicode stays: ü 日本 — “quotes” 🙂 \u200d", "unicode stays: ü 日本 — “quotes” 🙂 \u200d"),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE)
def test_clean(text, expected):
    out = clean(text)
    assert out == expected
    assert ESC not in out
    assert clean(out) == out  # idempotent


def test_clean_leaves_ordinary_text_alone():
    text = "RAY_num_workers_soft_limit=0 and 2 * 3 * 4 [x](y) `code` <http://a>\n\tindented"
    assert clean(text) is text


def test_clean_is_fast_on_big_pastes():
    import time

    text = ("Demands:\n {'CPU': 1.0}: 1+ pending tasks/actors\x1b[0m\r\n" * 50_000) + "\x1b]8;;x"
    start = time.perf_counter()
    out = clean(text)
    assert time.perf_counter() - start < 2.0
    assert ESC not in out and "\r" not in out


def test_clean_rejects_nothing():
    assert clean(42) == "42"  # type: ignore[arg-type]


def _render_markup(markup: str) -> tuple[str, list]:
    from rich.console import Console
    from rich.text import Text

    con = Console(file=io.StringIO(), width=200, force_terminal=True, color_system="truecolor")
    text = Text.from_markup(markup)
    con.print(text)
    return text.plain, [span for span in text.spans if "link" in str(span.style)]


@pytest.mark.parametrize(
    "text",
    [
        "x[/]",
        "Error: [/] boom",
        "device [/dev/sda1] is not valid",
        "[link=http://evil.example/fix.sh]run the official fix[/link]",
        "[bold red]loud[/bold red] [@click=app.quit]q[/]",
        "ends with a backslash \\",
        "escaped \\[bold]",
        f"{ESC}]8;;http://evil{ESC}\\osc{ESC}]8;;{ESC}\\ [/]",
    ],
)
def test_escape_markup_shows_text_literally(text):
    plain, links = _render_markup(f"[bold]you:[/] [italic]{escape_markup(text)}[/italic] [dim]end[/]")
    assert plain == "you: " + clean(text) + " end"
    assert links == []


def _links_and_images(markdown: str) -> list[str]:
    """Every link/image/autolink/HTML token markdown-it (rich's parser) finds."""
    from markdown_it import MarkdownIt

    md = MarkdownIt().enable("strikethrough").enable("table")
    found = []
    stack = list(md.parse(markdown))
    while stack:
        tok = stack.pop()
        if tok.type in ("link_open", "image", "html_inline", "html_block"):
            found.append(tok.attrs.get("href") or tok.attrs.get("src") or tok.content)
        stack.extend(tok.children or [])
    return found


EVIL_MD = [
    "which issues mention foo` [see the official fix](http://evil.example/x.sh) `bar",
    "![img](http://evil.example/pixel.png) and <http://evil.example/auto>",
    "[ref]\n\n[ref]: http://evil.example/ref",
    "<a href='http://evil.example'>html</a>",
    "`x` [y](http://evil.example) ``z``",
    "a\\` [x](http://evil.example) \\`b",
    "[x](<http://evil.example/with)paren>)",
]


@pytest.mark.parametrize("text", EVIL_MD)
def test_md_literal_never_a_link(text):
    naive = _links_and_images(text) or _links_and_images(f"mention `{text}`:")
    assert naive, "the sample itself must make a link, or the test proves nothing"
    safe = md_literal(text)
    assert _links_and_images(safe) == []
    assert _links_and_images(f"Issues that mention {safe}:") == []


@pytest.mark.parametrize("text", EVIL_MD)
def test_md_code_cannot_be_broken_out_of(text):
    assert _links_and_images(text) or _links_and_images(f"mention `{text}`:")
    span = md_code(text)
    doc = f"Issues in my knowledge base that mention {span}:"
    assert _links_and_images(doc) == []
    from markdown_it import MarkdownIt

    inline = MarkdownIt().parseInline(doc)[0].children
    codes = [t.content for t in inline if t.type == "code_inline"]
    assert codes == [" ".join(clean(text).split("\n"))]


LITERAL = [
    "2 * 3 * 4",
    "*.py and **/*.md",
    "a_b_c __init__",
    "# not a heading",
    "1. not a list",
    "12) nor this",
    "- nor this",
    "  + nor this",
    "> nor a quote",
    "x[/]",
    "&amp; &#x41;",
    "~~not struck~~",
    "a | b",
    "ray::IDLE (pid 12) <defunct>",
    "back\\slash \\` and `code`",
    "line one\n- line two\n===",
]


@pytest.mark.parametrize("text", LITERAL)
def test_md_literal_renders_the_same_text(text):
    from markdown_it import MarkdownIt

    md = MarkdownIt().enable("strikethrough").enable("table")
    html = md.render(md_literal(text))
    import html as html_mod

    # one paragraph (no heading, list, quote, table, code or emphasis), text unchanged
    assert html.startswith("<p>") and html.rstrip().endswith("</p>"), html
    # (Markdown drops the leading spaces of a paragraph's lines; that is layout, not syntax.)
    assert html_mod.unescape(html.strip()[3:-4]) == "\n".join(line.lstrip() for line in text.split("\n"))


def test_md_literal_keeps_ordinary_punctuation():
    assert md_literal("ray::IDLE (pid 12): 3.5 GiB, 50%") == "ray::IDLE (pid 12): 3.5 GiB, 50%"


def test_md_code_edge_cases():
    assert md_code("") == "` `"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"


def test_defang_urls():
    out = defang_urls("see http://evil.example/x and HTTPS://a.b, file:///etc/passwd, ftp://f")
    assert "http://" not in out.lower() and "https://" not in out.lower()
    assert "hxxp://evil.example/x" in out and "HxxPS://a.b" in out
    assert "file[:]///etc/passwd" in out and "ftp[:]//f" in out
    assert defang_urls(f"{ESC}[31mhttp://x") == "hxxp://x"


def test_find_unsafe():
    assert find_unsafe("plain text\twith tab\nand newline\r\n") == []
    found = find_unsafe(f"title {ESC}]8;;http://evil/{ESC}\\x{ESC}]8;;{ESC}\\")
    assert found and found[0].startswith("OSC 8 hyperlink")
    assert len(found) == 2  # the two sequences; their bytes are not reported again
    assert find_unsafe("a\u202eb") == ["bidirectional control U+202E at offset 1"]
    assert find_unsafe("a\x00b") == ["control character NUL at offset 1"]
    assert find_unsafe("over\rwrite") == ["control character CR at offset 4"]
    assert len(find_unsafe("\x00" * 100)) == 5
    # everything find_unsafe accepts, clean leaves alone, and vice versa
    for text, _ in HOSTILE:
        assert (find_unsafe(text) == []) == (clean(text) == text.replace("\r\n", "\n")), repr(text)
