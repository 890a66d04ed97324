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

from raybot.jsonout import json_text, print_json, print_json_line  # noqa: F401  (re-exported)
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


def plain_text(value: Any) -> Text:
    """Untrusted text as a rich ``Text``: cleaned, never parsed as markup."""
    from rich.text import Text

    return Text(clean("" if value is None else str(value)))


# --------------------------------------------------------------------------------------------
# Answers


def render_answer(answer, *, json_: bool = False, explain: bool = False, hint: bool = True) -> None:
    judgement = getattr(answer, "judgement", None)
    if explain:
        render_hits_table(answer.hits, stderr=True)
        render_judgement(judgement)
    if json_:
        data = answer.to_dict()
        if explain and judgement is not None:
            data["judgement"] = judgement.to_dict()
        print_json(data)
        return
    if not answer.in_scope and getattr(answer, "kind", "") not in ("clarify", "nothing-pending", "thanks"):
        # A question back or a thank-you looked nothing up: "not covered" would say the wrong thing.
        err_console().print("[dim](not covered by the knowledge base)[/]")
    hedge = answer.hedge() if hasattr(answer, "hedge") else None
    if hedge:
        # Before the answer: a reader who stops after the first lines still knows it may be wrong.
        err_console().print(f"[yellow]{escape_markup(hedge)}[/]", highlight=False)
    con = console()
    lines = answer_lines(answer.answer, width=con.width, sources=answer.sources, color=con.color_system is not None)
    print_lines(lines)
    if hint and getattr(answer, "saved", True):
        err_console().print(f'[dim]thread {answer.thread_id} · continue with: raybot ask -c "..."[/]', highlight=False)
    elif hint:
        err_console().print("[dim]this turn was not saved to a thread, so it cannot be continued with -c[/]")


def render_judgement(judgement: Any) -> None:
    """Why the answer is as sure as it is (``--explain``, on stderr): the entry judged, its score
    and calibrated confidence against the bar, the features behind them, the key terms the entry
    does not address, and the out-of-scope area of kb/SCOPE.yaml nearest to the question."""
    from rich.text import Text

    from raybot import tuning

    if judgement is None or judgement.entry is None and not judgement.scope_area:
        return
    con = err_console()
    data = judgement.to_dict()
    if judgement.signature:
        head = f"judged {judgement.entry}: pasted-message match, bin {judgement.signature_bin}"
    else:
        head = f"judged {judgement.entry}: raw {data['raw']:.3f}"
    bar = "answers" if judgement.confidence >= tuning.IN_SCOPE_MIN else "declines"
    con.print(
        Text(f"{head}, confidence {judgement.confidence:.3f} ({bar}: the bar is {tuning.IN_SCOPE_MIN})"),
        highlight=False,
    )
    if not judgement.signature and judgement.entry is not None:
        feats = ", ".join(f"{k} {v:g}" for k, v in data["features"].items() if k != "bias")
        con.print(Text(f"  features: {feats}"), highlight=False)
    missing = [
        *judgement.missing_identifiers,
        *(m for m in judgement.missing if m not in judgement.missing_identifiers),
    ]
    if missing:
        con.print(Text("  not addressed by the entry: " + ", ".join(clean(m) for m in missing)), highlight=False)
    if judgement.scope_area:
        close = " (close enough to count against the answer)" if judgement.scope_close else ""
        con.print(
            Text(f"  nearest out-of-scope area ({judgement.scope_sim:.3f}){close}: {clean(judgement.scope_area)}"),
            highlight=False,
        )


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
    body repeats, so it goes, and so does a subtitle after ": " when the title is still long
    and the part before it says something on its own (three words or more). What remains is
    dropped when most of its words are in the first sentence.
    """
    m = re.match(r"#{1,6} +(.+)\n+", markdown)
    if not m:
        return markdown
    title, rest = m.group(1).strip(), markdown[m.end() :]
    short = re.sub(r"\s*\([^()]*\)\s*$", "", title).strip() or title
    head = short.split(": ", 1)[0]
    if len(short) > 60 and head != short and len(head.split()) >= 3:
        short = head  # "How to get memory back from ray::IDLE workers: the practical options"
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
    lay = _Layout(width, color, trusted, _measure_console(width))
    chunks: list[list[Text]] = []
    links_at = None  # the Links: list goes right after Sources:, so the closing offer stays last
    i = 0
    while i < len(nodes):
        if i == src_at:
            chunks.append(_sources_lines("Sources:", _source_items(nodes[i + 1]), lay))
            links_at = len(chunks)
            i += 2
            continue
        chunks.append(_block(nodes[i], width, lay))
        i += 1
    seen = {u for _, u in _source_items(nodes[src_at + 1])} if src_at is not None else set()
    extra = []
    for text, url in lay.links:
        if url not in seen:
            seen.add(url)
            extra.append((text, url))
    if extra:
        chunks.insert(len(chunks) if links_at is None else links_at, _sources_lines("Links:", extra, lay))
    out: list[Text] = []
    for chunk in chunks:
        if out:
            out.append(_text(""))
        out += chunk
    return out


def print_lines(lines: list[Text], con: Console | None = None) -> None:
    from rich.text import Text

    con = con or console()
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
        lines: list[Text] = list(text.split("\n", allow_blank=True))
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
    from rich.table import Column

    # Long words (identifiers) fold onto the next line rather than being cut with "…".
    columns = [Column(r.plain, overflow="fold") for r in rows[0]]
    table = Table(*columns, box=None, show_edge=False, pad_edge=False)
    for r in rows[1:]:
        table.add_row(*r)
    return _render_to_lines(table, width, lay)


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
        if t in ("text", "text_special"):
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


def thread_lines(thread, *, when, width: int | None = None, color: bool | None = None) -> list[Text]:
    """``threads show``: the title, then each turn (a rule, the question, the answer)."""
    from rich.rule import Rule

    con = console()
    width = width or con.width
    color = (con.color_system is not None) if color is None else color
    lay = _Layout(width, color, set(), _measure_console(width))
    title = _text(clean(thread.title), "bold" if color else "") + _text(f" ({thread.id})")
    out = _wrap(title, width, lay)
    for turn in thread.turns:
        rule = Rule(f"{turn.seq} · {when(turn.created_at)} · {clean(turn.intent)}", style="dim" if color else "")
        out += _render_to_lines(rule, width, lay)
        question = _wrap(_text(clean(turn.question)), width - 5, lay)
        you = _text("you: ", "bold cyan" if color else "")
        out += [(you if i == 0 else _text("     ")) + line for i, line in enumerate(question)]
        out.append(_text(""))
        out += answer_lines(turn.answer, width=width, color=color)
    return out


def _measure_console(width: int):
    import io

    from rich.console import Console

    return Console(width=width, color_system=None, file=io.StringIO())


def _render_to_lines(renderable, width: int, lay: _Layout) -> list[Text]:
    from rich.text import Text

    con = lay.console
    out = []
    for segs in con.render_lines(renderable, con.options.update(width=width), pad=False):
        t = Text()
        for s in segs:
            t.append(s.text, s.style if lay.color else None)
        t.rstrip()
        out.append(t)
    return out


def render_error(exc) -> None:
    """A RaybotError on stderr: reference, message, hint (all of which may quote user input)."""
    con = err_console()
    con.print(f"[bold red]error:[/] {escape_markup(clean(exc.reference))}", highlight=False)
    con.print(plain_text(f"  × {exc.message}"), highlight=False)
    if exc.hint:
        con.print(f"[dim]hint:[/] {escape_markup(clean(exc.hint))}", highlight=False)


def error_document(exc) -> dict:
    """The ``{"error": {...}}`` object ``--json`` prints on stdout for a failed command."""
    return {
        "error": {
            "reference": exc.reference,
            "message": exc.message,
            "hint": exc.hint,
            "exit_code": exc.exit_code,
        }
    }


def print_error(exc, *, json_: bool = False, json_lines: bool = False) -> None:
    """The one way errors are shown: :func:`render_error` on stderr; with ``json_`` also the error
    document on stdout (indented, or on one line with ``json_lines`` for JSON-lines output)."""
    render_error(exc)
    if json_lines:
        print_json_line(error_document(exc))
    elif json_:
        print_json(error_document(exc))


# --------------------------------------------------------------------------------------------
# Tables of entries


def render_hits_table(hits: list[dict], *, stderr: bool = False, detail: bool = True) -> None:
    """Ranked entries; ``detail`` adds the dense/lexical/exact scores (``--explain``)."""
    headers = ["#", "entry", "kind", "score"]
    if detail:
        headers += ["dense", "lexical", "exact"]
    rows = []
    for i, h in enumerate(hits, 1):
        row = [str(i), h["id"], h["kind"], f"{h['score']:.3f}"]
        if detail:
            row += [f"{h['dense']:.3f}", f"{h['lexical']:.1f}", ",".join(h.get("exact", []))]
        rows.append([*row, h["title"]])
    print_table([*headers, "title"], rows, stderr=stderr)


def print_table(headers: list[str], rows: list[list[Any]], *, stderr: bool = False, cut_last: bool = False) -> None:
    """A borderless table of untrusted cells (cleaned, never markup) that keeps to the width."""
    con = err_console() if stderr else console()
    print_lines(
        table_lines(headers, rows, width=con.width, color=con.color_system is not None, cut_last=cut_last), con=con
    )


def table_lines(
    headers: list[str], rows: list[list[Any]], *, width: int, color: bool = True, cut_last: bool = False
) -> list[Text]:
    """Columns of short values (ids, kinds, dates, scores) printed whole, so ids can be copied,
    and a last column of text that takes the remaining width: wrapped under itself, or cut
    with "…" (``cut_last``). When less than 30 cells remain, the last column goes on its own
    line under each row, indented."""
    from rich.cells import cell_len

    width = max(20, width)
    lay = _Layout(width, color, set(), _measure_console(width))
    cells = [[clean("" if c is None else str(c)) for c in row] for row in rows]
    fixed = len(headers) - 1
    widths = [max([cell_len(headers[k])] + [cell_len(r[k]) for r in cells]) for k in range(fixed)]
    prefix = sum(widths) + 2 * fixed
    stacked = width - prefix < 30

    def fixed_part(values: list[str], style: str = "") -> Text:
        line = _text("  ".join(v + " " * (w - cell_len(v)) for v, w in zip(values, widths, strict=True)), style)
        return line

    out: list[Text] = []
    head_style = "bold" if color else ""
    if stacked:
        out += [fixed_part(headers[:fixed], head_style), _text("    " + headers[-1], head_style)]
    else:
        out.append(fixed_part(headers[:fixed], head_style) + _text("  " + headers[-1], head_style))
    for row in cells:
        last = _text(row[-1])
        if stacked:
            line = fixed_part(row[:fixed])
            line.rstrip()
            out.append(line)
            body = _wrap(last, width - 4, lay)
            if cut_last:
                body = [_ellipsis(last, width - 4)]
            out += [_text("    ") + b for b in body if b.plain]
        else:
            avail = width - prefix
            body = [_ellipsis(last, avail)] if cut_last else _wrap(last, avail, lay)
            first = fixed_part(row[:fixed]) + _text("  ")
            out.append(first + body[0])
            out += [_text(" " * prefix) + b for b in body[1:]]
    for line in out:
        line.rstrip()
    return out


def _ellipsis(text: Text, width: int) -> Text:
    from rich.cells import cell_len

    one = _text(" ".join(text.plain.split()))
    if cell_len(one.plain) > width:
        one.truncate(width - 1)
        one.rstrip()
        one.append("…")
    return one
