"""raybot's Markdown answers as Slack messages (mrkdwn in Block Kit), and Slack text back to plain.

Outgoing: headings become bold lines, ``**bold**`` ``*bold*``, ``*italic*`` ``_italic_``, links
``<url|text>``, bullets ``•``, tables and fenced code become code blocks. Every piece of text
outside our own link syntax has Slack's three control characters escaped (``&`` ``&amp;``,
``<`` ``&lt;``, ``>`` ``&gt;``; Slack's formatting reference, "Escaping text"), so text a user
typed (echoed in an answer) can never become a mention, a channel ping or a link. Long answers are
split on line boundaries (never inside a code block without closing and reopening it) into
section blocks of at most 3,000 characters (Slack's limit for a section's text), and into several
messages so that no message carries more than 50 blocks (Slack's limit) or more than ~12,000
characters of block text (Slack refuses larger ones with ``msg_blocks_too_long``; see
slackapi/bolt-js#2509).

Incoming: :func:`clean_incoming` turns Slack's markup (``<@U123>``, ``<#C1|general>``,
``<https://x|label>``, ``&amp;``) back into the plain text the assistant reads.
"""

from __future__ import annotations

import re
from typing import Any

SECTION_LIMIT = 3000  #: Slack: maximum length of a section block's text
SECTION_TARGET = 2800  #: what we fill a section to, leaving room for closing a code fence
MAX_BLOCKS = 50  #: Slack: maximum blocks in one message
MESSAGE_TEXT_BUDGET = 12_000  #: block text per message, below what Slack refuses in practice
CONTEXT_TEXT_LIMIT = 2000
FALLBACK_CHARS = 300  #: the notification text that goes with the blocks
FEEDBACK_BLOCK_ID = "raybot_feedback"
ACTION_UP, ACTION_DOWN = "raybot_up", "raybot_down"


def escape(text: str) -> str:
    """Slack's escaping of its control characters (``&`` first, so nothing is escaped twice)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_url(url: str) -> str:
    # Inside <url|text> the characters < > | end or split the link: percent-encode them.
    return url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")


def _link_text(text: str) -> str:
    return escape(text).replace("|", "¦")


_INLINE = re.compile(
    r"\*\*(?P<b>.+?)\*\*|`(?P<c>[^`]+)`|\[(?P<lt>[^\]]+)\]\((?P<lu>https?://[^)\s]+)\)|<(?P<u>https?://[^>\s]+)>"
    r"|(?<![\w*])\*(?P<i>[^*\n]+?)\*(?![\w*])"
)


def inline(text: str) -> str:
    """One line of Markdown inline spans as mrkdwn, everything else escaped."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos : m.start()]))
        if m.group("b") is not None:
            out.append(f"*{inline(m.group('b'))}*")
        elif m.group("c") is not None:
            out.append(f"`{escape(m.group('c'))}`")
        elif m.group("lt") is not None:
            out.append(f"<{_safe_url(m.group('lu'))}|{_link_text(m.group('lt'))}>")
        elif m.group("u") is not None:
            out.append(f"<{_safe_url(m.group('u'))}>")
        else:
            out.append(f"_{escape(m.group('i'))}_")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def markdown_to_mrkdwn(md: str) -> str:
    """raybot's Markdown subset (see :func:`raybot.render.print_markdown`) as Slack mrkdwn."""
    lines = md.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^\s*```", line):
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(escape(lines[i]))
                i += 1
            out.append("```\n" + "\n".join(body) + "\n```")
            i += 1
            continue
        if line.lstrip().startswith("|"):
            table = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                if not re.match(r"^\s*\|[\s:|-]+\|\s*$", lines[i]):  # drop the |---| rule
                    table.append(escape(lines[i].strip()))
                i += 1
            out.append("```\n" + "\n".join(table) + "\n```")
            continue
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        item = re.match(r"^(\s*)[-*+]\s+(.*)$", line)
        if heading:
            title = heading.group(1).strip()
            if len(title) > 4 and title.startswith("**") and title.endswith("**"):
                title = title[2:-2]
            out.append(f"*{inline(title)}*")
        elif item:
            out.append(f"{item.group(1)}• {inline(item.group(2))}")
        else:
            out.append(inline(line))
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def split_mrkdwn(text: str, limit: int = SECTION_TARGET) -> list[str]:
    """Split mrkdwn into pieces of at most ``limit`` characters on line boundaries, preferring
    blank lines; a code block cut in two is closed and reopened so both halves render as code."""
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    cur: list[str] = []
    size = 0
    in_code = False

    def flush():
        nonlocal cur, size
        if cur:
            piece = "\n".join(cur)
            if in_code:
                piece += "\n```"
            chunks.append(piece)
        cur, size = (["```"] if in_code else []), (4 if in_code else 0)

    for line in text.split("\n"):
        while len(line) > limit - 8:  # one enormous line: cut it hard
            head, line = line[: limit - 8], line[limit - 8 :]
            if size:
                flush()
            cur.append(head)
            size += len(head) + 1
            flush()
        # Prefer to break at a paragraph boundary once the chunk is reasonably full.
        if size + len(line) + 1 > limit - 4 or (not line.strip() and not in_code and size > limit * 0.75):
            flush()
            if not line.strip() and not in_code:
                continue
        cur.append(line)
        size += len(line) + 1
        if line.strip().startswith("```"):
            in_code = not in_code
    if cur and any(x.strip() for x in cur) and cur != ["```"]:
        chunks.append("\n".join(cur))
    return [c.strip("\n") for c in chunks if c.strip() and c.strip() != "```\n```"]


def split_sources(md: str) -> str:
    """The answer without its trailing "**Sources:**" list (shown as a context block instead)."""
    lines = md.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() in ("**Sources:**", "**Sources**", "Sources:"):
            i += 1
            while i < len(lines) and (lines[i].lstrip().startswith(("- ", "* ")) or lines[i].startswith("  ")):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out).strip()


def sources_context(sources: list[dict[str, str]], limit: int = 5) -> dict[str, Any] | None:
    if not sources:
        return None
    links = []
    for s in sources[:limit]:
        title = s.get("title", "") or s.get("url", "")
        if len(title) > 70:
            title = title[:69] + "…"
        links.append(f"<{_safe_url(s['url'])}|{_link_text(title)}>" if s.get("url") else _link_text(title))
    more = f" and {len(sources) - limit} more" if len(sources) > limit else ""
    text = "Sources: " + " · ".join(links) + more
    if len(text) > CONTEXT_TEXT_LIMIT:
        text = text[: CONTEXT_TEXT_LIMIT - 1] + "…"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def feedback_actions(thread_id: str, seq: int) -> dict[str, Any]:
    value = f"{thread_id}:{seq}"
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": ACTION_UP,
                "text": {"type": "plain_text", "text": "👍 Helpful", "emoji": True},
                "value": value,
            },
            {
                "type": "button",
                "action_id": ACTION_DOWN,
                "text": {"type": "plain_text", "text": "👎 Not helpful", "emoji": True},
                "value": value,
            },
        ],
    }


def _plain(mrkdwn: str) -> str:
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", mrkdwn)
    text = re.sub(r"[*`]|(?<!\w)_|_(?!\w)", "", text)  # formatting marks, not snake_case
    text = " ".join(text.split())
    return text if len(text) <= FALLBACK_CHARS else text[: FALLBACK_CHARS - 1] + "…"


def pack_messages(
    sections: list[str], tail: list[dict[str, Any]], head: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Section texts (each within the section limit) plus trailing blocks -> message payloads
    ``{"text", "blocks"}``, each within Slack's block count and size limits. ``head`` blocks (a
    context line) open the first message."""
    messages: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = list(head or [])
    size = sum(len(str(b)) for b in blocks)

    def fallback(bs: list[dict[str, Any]]) -> str:
        first = next((b for b in bs if b.get("type") == "section"), None)
        return _plain(first["text"]["text"]) if first else "raybot"

    for text in sections:
        if any(b["type"] == "section" for b in blocks) and (
            len(blocks) + 1 > MAX_BLOCKS - len(tail) or size + len(text) > MESSAGE_TEXT_BUDGET
        ):
            messages.append({"text": fallback(blocks), "blocks": blocks})
            blocks, size = [], 0
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        size += len(text)
    tail_size = sum(len(str(b)) for b in tail)
    if blocks and size + tail_size > MESSAGE_TEXT_BUDGET:
        messages.append({"text": fallback(blocks), "blocks": blocks})
        blocks = []
    messages.append({"text": fallback(blocks), "blocks": blocks + tail})
    return messages


def answer_messages(doc: dict[str, Any], turn_seq: int | None) -> list[dict[str, Any]]:
    """A ``raybot ask --json`` document as Slack messages; the last one carries the sources and
    the 👍/👎 buttons for turn ``turn_seq`` (no buttons when the turn was not stored)."""
    body = markdown_to_mrkdwn(split_sources(doc["answer"]))
    if not doc.get("in_scope", True):
        body = "_(not covered by my knowledge base)_\n" + body
    sections = split_mrkdwn(body) or ["(empty answer)"]
    tail: list[dict[str, Any]] = []
    head: list[dict[str, Any]] = []
    if doc.get("hedge"):
        # Above the answer, where a reader starts, not under it.
        head.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(str(doc["hedge"]))}]})
    ctx = sources_context(doc.get("sources") or [])
    if ctx:
        tail.append(ctx)
    if turn_seq is not None:
        tail.append(feedback_actions(doc["thread_id"], turn_seq))
    return pack_messages(sections, tail, head)


def text_messages(markdown: str) -> list[dict[str, Any]]:
    """Any other Markdown reply (help, errors, a diagnosis) as Slack messages."""
    return pack_messages(split_mrkdwn(markdown_to_mrkdwn(markdown)) or ["(empty)"], [])


# -- incoming -----------------------------------------------------------------------------------
_SLACK_TOKEN = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>|<([^>|]+)(?:\|([^>]*))?>")


def clean_incoming(text: str, bot_user_id: str | None = None) -> str:
    """Slack message text -> the plain question: bot mentions removed, other mentions, channels
    and links as their labels, entities decoded, control and escape sequences stripped."""

    def repl(m: re.Match) -> str:
        if m.group(1):
            kind, ident, label = m.group(1), m.group(2), m.group(3)
            if kind == "@":
                return "" if ident == bot_user_id else f"@{label or ident}"
            if kind == "#":
                return f"#{label or ident}"
            return f"@{label or ident.split('^')[0]}"  # <!here>, <!channel>, <!subteam^ID|name>
        url, label = m.group(4), m.group(5)
        if label and label not in url:
            return f"{label} ({url})"
        return label or url

    text = _SLACK_TOKEN.sub(repl, text or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _strip_control(text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _strip_control(text: str) -> str:
    from raybot.sanitize import clean  # the project's one sanitizer for text raybot did not write

    return clean(text)
