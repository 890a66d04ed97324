"""The only place that creates rich consoles, and the terminal renderer for answers.

Data goes to stdout (``console()``); progress, notes, warnings and errors go to stderr
(``err_console()``). Consoles are created lazily so importing raybot stays cheap. With
``NO_COLOR`` set, or when the stream is not a terminal (a pipe, a file, ``TERM=dumb``), the
consoles emit no escape sequences at all: plain text with full URLs.

Answers are Markdown. They are parsed with markdown-it-py (CommonMark, the parser rich's own
``Markdown`` uses) and laid out here, line by line, to the console width: paragraphs and
headings wrapped, bullets and numbered steps with hanging indents, fenced code highlighted and
never wrapped, links clickable (OSC 8) only when their URL is one of the answer's sources, and
every URL printed whole under ``Sources:``. See README "Design notes" for why this is not
``rich.markdown.Markdown``. Everything rendered passes ``raybot.sanitize.clean`` first.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raybot.sanitize import clean, escape_markup

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


@functools.cache
def console() -> Console:
    from rich.console import Console

    if _no_color():
        return Console(soft_wrap=False, color_system=None, highlight=False)
    return Console(soft_wrap=False)


@functools.cache
def err_console() -> Console:
    from rich.console import Console

    if _no_color():
        return Console(stderr=True, color_system=None)
    return Console(stderr=True)


def render_notes(notes: list[str]) -> None:
    for note in notes:
        err_console().print(f"[yellow]note:[/] {escape_markup(note)}", highlight=False)


# C1 controls and bidirectional controls are legal raw in JSON strings; written as \uXXXX
# escapes they carry the same data and cannot act on a terminal that shows the JSON.
_JSON_ESCAPE = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029]}
_JSON_ESCAPE.update({c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def json_text(data: Any, *, indent: int | None = 2) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, indent=indent).translate(_JSON_ESCAPE)


def print_json(data) -> None:
    """One JSON document on stdout, nothing else (no colour, no wrapping)."""
    import sys

    sys.stdout.write(json_text(data) + "\n")
    sys.stdout.flush()


def print_json_line(data) -> None:
    """One JSON document on one line (JSON lines, as ``chat --json`` writes them)."""
    import sys

    sys.stdout.write(json_text(data, indent=None) + "\n")
    sys.stdout.flush()


def plain_text(value: Any) -> Text:
    """Untrusted text as a rich ``Text``: cleaned, never parsed as markup."""
    from rich.text import Text

    return Text(clean("" if value is None else str(value)))


# --------------------------------------------------------------------------------------------
# Answers


def render_answer(answer, *, json_: bool = False, explain: bool = False, hint: bool = True) -> None:
    if explain:
        render_hits_table(answer.hits, stderr=True)
    if json_:
        print_json(answer.to_dict())
        return
    if not answer.in_scope:
        err_console().print("[dim](not covered by the knowledge base)[/]")
    con = console()
    lines = answer_lines(answer.answer, width=con.width, sources=answer.sources, color=con.color_system is not None)
    print_lines(lines)
    if hint:
        err_console().print(f'[dim]thread {answer.thread_id} · continue with: raybot ask -c "..."[/]', highlight=False)


def answer_lines(markdown: str, *, width: int, sources: Iterable[dict] | None = None, color: bool = True) -> list[Text]:
    """An answer laid out for a terminal ``width`` wide: starts with the answer, not a long title."""
    return markdown_lines(answer_markdown(markdown), width=width, sources=sources, color=color)


_STOP = set(
    "a an and are as at be by can do does for from how in into is it its not of on or so that the "
    "their them then this to up what when which why with you your".split()
)


def _words(text: str) -> set[str]:
    words = (w.strip(".:#") for w in re.findall(r"[a-z0-9_:#.]+", text.lower()))
    return {w for w in words if w and w not in _STOP}


def answer_markdown(markdown: str) -> str:
    """The answer with its leading ``###`` title made short, or dropped when the first
    sentence of the answer says the same thing.

    The title is the kb entry's summary line; the first paragraph is the answer. A trailing
    parenthetical in the title ("(closed by PR #12430)", "(default 60 s)") is detail the
    body repeats, so it goes; what remains is dropped when most of its words are in the first
    sentence.
    """
    m = re.match(r"#{1,6} +(.+)\n+", markdown)
    if not m:
        return markdown
    title, rest = m.group(1).strip(), markdown[m.end() :]
    short = re.sub(r"\s*\([^()]*\)\s*$", "", title).strip() or title
    first_para = rest.split("\n\n", 1)[0].replace("\n", " ")
    first_sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z`*\"(])", first_para, maxsplit=1)[0]
    want = _words(short)
    have = _words(first_sentence)
    if want and len(want & have) >= 0.6 * len(want):
        return rest
    return f"**{short}**\n\n{rest}"


# --------------------------------------------------------------------------------------------
# Markdown layout

_MD = None


def _parser():
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        # html off: "<NODE_IP>" and the like are text, never dropped; autolinks still work.
        _MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    return _MD


@dataclass
class _Layout:
    width: int
    color: bool
    trusted: set[str]
    console: Any
    links: list[tuple[str, str]] = field(default_factory=list)  #: (text, url) not among the sources


def markdown_lines(
    markdown: str, *, width: int, sources: Iterable[dict] | None = None, color: bool = True
) -> list[Text]:
    """Markdown laid out as lines of rich ``Text`` at most ``width`` cells wide.

    Exceptions, both so that copying works: URLs under ``Sources:``/``Links:`` and lines of
    fenced code are never broken (a terminal soft-wraps them, a copy gets them whole).
    ``sources`` are the answer's sources (``{"title", "url"}``); their URLs are the only ones
    that become clickable. Without it, the URLs listed in the document's own Sources block
    are used. Any other link shows its text, and its URL is listed under ``Links:``.
    """
    from markdown_it.tree import SyntaxTreeNode
    from rich.console import Console

    width = max(20, width)
    tree = SyntaxTreeNode(_parser().parse(clean(markdown)))
    nodes = list(tree.children)
    src_at = _sources_block(nodes)
    if sources is not None:
        trusted = {s["url"] for s in sources if _http(s.get("url", ""))}
    elif src_at is not None:
        trusted = {u for _, u in _source_items(nodes[src_at + 1])}
    else:
        trusted = set()
    import io

    lay = _Layout(width, color, trusted, Console(width=width, color_system=None, file=io.StringIO()))
    out: list[Text] = []
    i = 0
    while i < len(nodes):
        if out:
            out.append(_text(""))
        if i == src_at:
            out += _sources_lines("Sources:", _source_items(nodes[i + 1]), lay)
            i += 2
            continue
        out += _block(nodes[i], width, lay)
        i += 1
    if lay.links:
        seen = {u for _, u in _source_items(nodes[src_at + 1])} if src_at is not None else set()
        extra = []
        for text, url in lay.links:
            if url not in seen:
                seen.add(url)
                extra.append((text, url))
        if extra:
            out.append(_text(""))
            out += _sources_lines("Links:", extra, lay)
    return out


def print_lines(lines: list[Text]) -> None:
    from rich.text import Text

    con = console()
    if lines:
        con.print(Text("\n").join(lines), soft_wrap=True, highlight=False)


def print_markdown(markdown: str, *, sources: Iterable[dict] | None = None) -> None:
    con = console()
    print_lines(markdown_lines(markdown, width=con.width, sources=sources, color=con.color_system is not None))


def _text(s: str = "", style: str = "") -> Text:
    from rich.text import Text

    return Text(s, style=style)


def _http(url: str) -> bool:
    return bool(re.match(r"https?://[^\s]+$", url, re.I))


def _sources_block(nodes: list) -> int | None:
    """Index of the "**Sources:**" paragraph that is followed by a bullet list, if any."""
    for i, n in enumerate(nodes[:-1]):
        if n.type == "paragraph" and _plain(n).strip() == "Sources:" and nodes[i + 1].type == "bullet_list":
            return i
    return None


def _plain(node) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain(c) for c in node.children)


def _source_items(bullet_list) -> list[tuple[str, str]]:
    """(title, url) for each "- title: <url>" item."""
    items = []
    for item in bullet_list.children:
        inline = _first_inline(item)
        if inline is None:
            continue
        kids = list(inline.children)
        url = ""
        if kids and kids[-1].type == "link" and _http(kids[-1].attrs.get("href", "")):
            url = str(kids[-1].attrs["href"])
            kids = kids[:-1]
        title = "".join(_plain(k) for k in kids).strip().rstrip(":").strip()
        items.append((title or url, url))
    return items


def _first_inline(node):
    for n in node.walk():
        if n.type == "inline":
            return n
    return None


def _sources_lines(label: str, items: list[tuple[str, str]], lay: _Layout) -> list[Text]:
    out = [_text(label, "bold")]
    for title, url in items:
        out += _hang(_text(title), lay.width, "• ", "  ", lay)
        if url:
            # The URL whole on its own line: copyable; clickable where the terminal can.
            style = f"dim link {url}" if lay.color and url in lay.trusted else "dim"
            out.append(_text("  ") + _text(url, style if lay.color else ""))
    return out


def _wrap(text: Text, width: int, lay: _Layout) -> list[Text]:
    if not text.plain.strip():
        return [_text("")]
    lines = text.wrap(lay.console, max(1, width), overflow="fold")
    for line in lines:
        line.rstrip()
    return list(lines)


def _hang(text: Text, width: int, first: str, rest: str, lay: _Layout) -> list[Text]:
    body = _wrap(text, width - len(first), lay)
    return [_text(first if i == 0 else rest) + line for i, line in enumerate(body)]


def _indent(lines: list[Text], first: str, rest: str) -> list[Text]:
    return [_text(first if i == 0 else rest) + line if line.plain else line for i, line in enumerate(lines)]


def _block(node, width: int, lay: _Layout) -> list[Text]:
    t = node.type
    if t == "paragraph":
        return _wrap(_inline(_first_inline(node), lay), width, lay)
    if t == "heading":
        style = "bold underline" if node.tag in ("h1", "h2") else "bold"
        text = _inline(_first_inline(node), lay)
        text.stylize(style)
        return _wrap(text, width, lay)
    if t in ("bullet_list", "ordered_list"):
        return _list(node, width, lay)
    if t in ("fence", "code_block"):
        return _code(node.content, (node.info or "").split(" ")[0] if t == "fence" else "", lay)
    if t == "blockquote":
        inner = _blocks(node.children, width - 2, lay)
        return [_text("│ ", "dim") + line for line in inner]
    if t == "hr":
        return [_text("─" * min(width, 40), "dim")]
    if t == "table":
        return _table(node, width, lay)
    # Anything else the parser may produce (html is off, so little): its text.
    return _wrap(_text(_plain(node)), width, lay)


def _blocks(nodes, width: int, lay: _Layout, *, tight: bool = False) -> list[Text]:
    out: list[Text] = []
    for n in nodes:
        if out and not tight:
            out.append(_text(""))
        out += _block(n, width, lay)
    return out


def _list(node, width: int, lay: _Layout) -> list[Text]:
    items = list(node.children)
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1)) if ordered else 1
    markers = [f"{start + k}." if ordered else "•" for k in range(len(items))]
    mwidth = max(len(m) for m in markers) + 1
    # A tight list (no blank lines between items in the source) has hidden paragraphs.
    tight = all(c.hidden for item in items for c in item.children if c.type == "paragraph")
    out: list[Text] = []
    for marker, item in zip(markers, items, strict=True):
        if out and not tight:
            out.append(_text(""))
        body = _blocks(item.children, width - mwidth, lay, tight=tight)
        out += _indent(body or [_text("")], marker.rjust(mwidth - 1) + " ", " " * mwidth)
    return out


def _code(code: str, lang: str, lay: _Layout) -> list[Text]:
    code = code.rstrip("\n").expandtabs(4)
    if lay.color and lang and lang not in ("text", "console", "output"):
        from rich.syntax import Syntax

        text = Syntax(code, lang, theme="monokai", background_color="default").highlight(code)
        text.rstrip()
        lines = text.split("\n", allow_blank=True)
    else:
        lines = [_text(line, "cyan" if lay.color else "") for line in code.split("\n")]
    return list(lines)


def _table(node, width: int, lay: _Layout) -> list[Text]:
    from rich.table import Table

    rows = [
        [_inline(_first_inline(cell), lay) if cell.children else _text("") for cell in tr.children]
        for tr in node.walk()
        if tr.type == "tr"
    ]
    if not rows:
        return []
    table = Table(*[r.plain for r in rows[0]], box=None, show_edge=False, pad_edge=False)
    for r in rows[1:]:
        table.add_row(*r)
    con = lay.console
    lines = con.render_lines(table, con.options.update(width=width), pad=False)
    from rich.text import Text

    out = []
    for segs in lines:
        t = Text()
        for s in segs:
            t.append(s.text, s.style)
        t.rstrip()
        out.append(t)
    return out


def _inline(node, lay: _Layout) -> Text:
    from rich.text import Text

    out = Text()
    if node is None:
        return out
    _inline_into(out, node.children, lay, "")
    return out


def _inline_into(out: Text, nodes, lay: _Layout, style: str) -> None:
    for n in nodes:
        t = n.type
        if t == "text":
            out.append(n.content, style or None)
        elif t == "softbreak":
            out.append(" ")
        elif t == "hardbreak":
            out.append("\n")
        elif t == "code_inline":
            out.append(n.content, (style + " bold cyan").strip() if lay.color else None)
        elif t in ("strong", "em", "s"):
            extra = {"strong": "bold", "em": "italic", "s": "strike"}[t]
            _inline_into(out, n.children, lay, f"{style} {extra}".strip())
        elif t == "link":
            url = str(n.attrs.get("href", ""))
            text = "".join(_plain(c) for c in n.children)
            if url in lay.trusted and _http(url):
                link_style = f"{style} underline link {url}".strip() if lay.color else style
                _inline_into(out, n.children, lay, link_style)
            else:
                # Not one of the answer's sources: never clickable; the text shows as text,
                # and the URL (when it is not the text already) is listed under Links:.
                _inline_into(out, n.children, lay, style)
                if text != url:
                    lay.links.append((text, url))
        elif t == "image":
            alt = "".join(_plain(c) for c in n.children) or "image"
            out.append(f"[{alt}]", style or None)
            lay.links.append((alt, str(n.attrs.get("src", ""))))
        else:
            _inline_into(out, n.children, lay, style)


# --------------------------------------------------------------------------------------------
# Tables of entries


def render_hits_table(hits: list[dict], *, stderr: bool = False, detail: bool = True) -> None:
    """Ranked entries; ``detail`` adds the dense/lexical/exact scores (``--explain``)."""
    from rich.table import Column, Table

    # Entry ids are never cut: they are meant to be pasted into `raybot kb show`.
    cols = ["#", Column("entry", no_wrap=True), "kind", "score"]
    if detail:
        cols += ["dense", "lexical", "exact"]
    table = Table(*cols, Column("title", ratio=1), box=None)
    for i, h in enumerate(hits, 1):
        row: list[Any] = [str(i), plain_text(h["id"]), plain_text(h["kind"]), f"{h['score']:.3f}"]
        if detail:
            row += [f"{h['dense']:.3f}", f"{h['lexical']:.1f}", plain_text(",".join(h.get("exact", [])))]
        table.add_row(*row, plain_text(h["title"]))
    (err_console() if stderr else console()).print(table)


def print_table(columns: list[Any], rows: list[list[Any]], *, ratio_last: bool = True) -> None:
    """A borderless table of untrusted cells (cleaned, never markup) that keeps to the width."""
    from rich.table import Column, Table

    cols = [c if not isinstance(c, str) else Column(c) for c in columns]
    if ratio_last and isinstance(cols[-1], Column):
        cols[-1].ratio = 1
    table = Table(*cols, box=None)
    for row in rows:
        table.add_row(*[plain_text(c) for c in row])
    console().print(table)
