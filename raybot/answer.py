"""Answers composed from knowledge-base entries (no text is generated from nothing).

An :class:`Answer` is the JSON contract of ``raybot ask --json``. The composers here are
pure: they take :class:`raybot.kb.Entry` objects and return Markdown plus what was shown and
offered (:class:`Offer`), so a thread can continue from exactly there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raybot.kb import Source
from raybot.lazyre import lazy

if TYPE_CHECKING:
    from raybot.kb import Entry, ShortAnswer

from raybot.sanitize import md_code, md_literal

SECTION_ORDER = ("Answer", "Details", "Steps", "Example", "Caveats")
SECTION_TITLES = {
    "Answer": "Answer",
    "Details": "Details",
    "Steps": "Step by step",
    "Example": "Example",
    "Caveats": "Caveats",
}
GENERIC_OFFERS = {
    "Details": "Would you like more detail on how this works?",
    "Steps": "Would you like step-by-step instructions?",
    "Example": "Would you like a code example?",
    "Caveats": "Would you like the caveats and version differences?",
}
DETAILS_WORDS = 170
SCREEN_LINES = 25  #: the first screen (80 columns): title, direct answer and, when asked, the steps
ANSWER_LINES = 27  #: a first answer's text before its sources: the first screen plus some context
SCREEN_WIDTH = 80
MAX_SOURCES = 4  #: sources listed under an answer; the rest are one "more sources" away
SCOPE = (
    "raybot's knowledge base covers Ray Core and the cluster runtime: tasks, actors, objects, "
    "workers, memory and the OOM killer, scheduling, the autoscaler, connecting nodes, node and "
    "GCS failures, runtime_env, GPUs, logs, hangs, serialization, and the GitHub issues behind "
    "them. For Ray's libraries (Tune, Serve, Data, Train, RLlib) and for installing Ray, see "
    "Ray's documentation: https://docs.ray.io"
)


@dataclass(frozen=True)
class Offer:
    """What the last line of an answer offers, and where it leads when the user says yes."""

    entry: str
    section: str  #: an entry section, or "Sources" for the remaining sources
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"entry": self.entry, "section": self.section, "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, str] | None) -> Offer | None:
        if not data:
            return None
        return cls(str(data.get("entry", "")), str(data.get("section", "")), str(data.get("text", "")))


@dataclass
class Answer:
    thread_id: str
    question: str
    answer: str
    in_scope: bool
    confidence: float
    entries: list[str]
    sources: list[dict[str, str]]
    follow_ups: list[str]
    intent: str = "question"
    topic: str | None = None
    sections: dict[str, list[str]] = field(default_factory=dict)
    offer: Offer | None = None
    notes: list[str] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    saved: bool = True  #: False when the turn could not be stored: there is no thread to continue
    #: entry | short-answer | signature | partial | unknown-message | decline | issue-list, or, for a reply
    #: that looked nothing up: clarify (too short to tell) | nothing-pending | thanks
    kind: str = "entry"
    judgement: Any = None  #: raybot.assistant.Judgement of the entry shown (features behind confidence)

    def to_dict(self) -> dict[str, Any]:
        """The documented ``--json`` contract (plus a few extra, additive fields)."""
        return {
            "thread_id": self.thread_id if self.saved else None,
            "saved": self.saved,
            "question": self.question,
            "answer": self.answer,
            "in_scope": self.in_scope,
            "confidence": round(float(self.confidence), 4),
            "entries": self.entries,
            "sources": self.sources,
            "follow_ups": self.follow_ups,
            "intent": self.intent,
            "answer_kind": self.kind,
            "notes": self.notes,
            "hedge": self.hedge(),
        }

    def hedge(self) -> str | None:
        """For an answer from the kb that is less sure than ``tuning.HEDGE_BELOW``: one line, shown
        before the answer, saying how often answers this sure were right, so nobody reads it as a
        settled fact before reaching the end."""
        from raybot import tuning

        if not self.in_scope or self.kind not in ("entry", "short-answer", "signature"):
            return None
        if self.intent != "question" or self.confidence >= tuning.HEDGE_BELOW:
            return None
        tenths = max(1, min(9, round(self.confidence * 10)))
        return (
            f"Not sure this answers your question: confidence {self.confidence:.2f}, and about {tenths} in 10 "
            "answers this sure were right on real questions. If it misses, say what it misses."
        )


@dataclass
class Composed:
    markdown: str
    entries: list[str]
    sections: dict[str, list[str]]
    sources: list[Source]
    offer: Offer | None
    more_sources: int = 0  #: sources of the entries shown that were left off the list


def display_code(text: str) -> str:
    """Drop raybot's private fence markers ("python runnable" -> "python")."""
    return re.sub(r"^```(\w+)[ \t]+runnable[ \t]*$", r"```\1", text, flags=re.M)


_CODE_SPAN = lazy(r"(`+)(.+?)\1")
#: A word Markdown would read as emphasis: a dunder name ("__init__", "handle.__ray_ready__.remote()")
#: or starred arguments ("**kwargs", "*args").
_EMPHASIS_WORD = lazy(r"__\w+__|^\*{1,2}[A-Za-z_]")


def code_words(text: str) -> str:
    """Plain text (a short answer) with its dunder names and ``*args``/``**kwargs`` put in code spans,
    so that Markdown shows ``__init__`` as written instead of a bold "init". Existing code spans are
    left alone; the surrounding punctuation stays outside the span. (Not ``sanitize.md_literal``: its
    backslashes would stay in the JSON answer text and break the words the eval looks for.)"""
    out: list[str] = []
    last = 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_code_words_plain(text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_code_words_plain(text[last:]))
    return "".join(out)


def _code_words_plain(text: str) -> str:
    def one(token: str) -> str:
        core, head, tail = token, "", ""
        while core and core[-1] in ".,;:!?'\"" or (core.endswith(")") and core.count(")") > core.count("(")):
            tail = core[-1] + tail
            core = core[:-1]
        while core and core[0] in "'\"" or (core.startswith("(") and core.count("(") > core.count(")")):
            head += core[0]
            core = core[1:]
        if core and "`" not in core and _EMPHASIS_WORD.search(core):
            return f"{head}`{core}`{tail}"
        return token

    return "".join(one(t) if not t.isspace() else t for t in re.split(r"(\s+)", text))


def trim_words(text: str, limit: int) -> tuple[str, bool]:
    """Cut Markdown after whole paragraphs/list items once ``limit`` words are reached."""
    blocks = re.split(r"\n(?=\s*(?:[-*] |\d+\. )|\n)", text)
    out: list[str] = []
    count = 0
    for block in blocks:
        words = len(block.split())
        if count + words > limit:
            if not out:  # one huge paragraph: cut it at the word limit
                return " ".join(block.split()[:limit]) + " …", True
            return "\n".join(out).rstrip(), True
        out.append(block)
        count += words
    return "\n".join(out).rstrip(), False


def estimate_lines(markdown: str, width: int = SCREEN_WIDTH) -> int:
    """Lines the terminal renderer (raybot.render.print_markdown) needs for ``markdown``:
    paragraphs and list items re-flowed to ``width``, code as written, blank lines kept."""
    import textwrap

    total = 0
    in_code = False
    para: list[str] = []

    def flush() -> int:
        if not para:
            return 0
        text = re.sub(r"\*\*|`|\*", "", " ".join(x.strip() for x in para))
        text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
        para.clear()
        return max(1, len(textwrap.wrap(text, width - 2)))

    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            total += flush()
            in_code = not in_code
            continue
        if in_code:
            total += 1 + len(line) // width
            continue
        if not line.strip():
            total += flush() + 1
        elif re.match(r"^\s*(?:[-*]|\d+\.) ", line) or line.startswith("#"):
            total += flush()
            para.append(line)
        else:
            para.append(line)
    return total + flush()


def fit_to_screen(text: str, budget: int) -> tuple[str, bool]:
    """Whole paragraphs/list items of ``text`` that fit in ``budget`` rendered lines."""
    blocks = re.split(r"\n(?=\s*(?:[-*] |\d+\. )|\n)", text)
    out: list[str] = []
    for block in blocks:
        trial = "\n".join([*out, block])
        if estimate_lines(trial) > budget:
            return "\n".join(out).rstrip(), True
        out.append(block)
    return "\n".join(out).rstrip(), False


def version_line(entry: Entry) -> str:
    return f"*Ray versions: {entry.ray_versions}*" if entry.ray_versions else ""


def sources_of(entries: list[Entry]) -> list[Source]:
    seen, out = set(), []
    for e in entries:
        for s in e.sources:
            if s.url not in seen:
                seen.add(s.url)
                out.append(s)
    return out


def _source_keys(src: Source) -> list[str]:
    """Strings by which an entry's text refers to a source: issue/PR numbers, file names."""
    keys = []
    m = re.search(r"/(?:issues|pull)/(\d+)", src.url)
    if m:
        keys += [f"#{m.group(1)}", m.group(1)]
    m = re.search(r"/blob/[^/]+/(?:[^#?]*/)?([^/#?]+)", src.url)
    if m:
        keys.append(m.group(1).lower())
    return keys


def cited_sources(entries: list[Entry], shown_text: str, first: list[str] | None = None) -> tuple[list[Source], int]:
    """The sources behind ``shown_text`` (at most :data:`MAX_SOURCES`) and how many were left off.

    Sources the shown text refers to (an issue number, a file name) come first, then the
    entries' sources in their order (an entry lists its primary source first). ``first``
    holds URLs that must lead (the source of a short answer shown).
    """
    pool = sources_of(entries)
    low = shown_text.lower()
    urls = list(first or [])
    order: list[Source] = [s for u in urls for s in pool if s.url == u]
    order += [Source(u, u) for u in urls if not any(s.url == u for s in pool)]
    referred = [s for s in pool if s not in order and any(k.lower() in low for k in _source_keys(s))]
    rest = [s for s in pool if s not in order and s not in referred]
    picked = (order + referred + rest)[:MAX_SOURCES]
    total = len({s.url for s in pool} | set(urls))
    return picked, max(total - len(picked), 0)


def sources_markdown(sources: list[Source], more: int = 0) -> str:
    text = "**Sources:**\n" + "\n".join(f"- {code_words(s.title)}: <{s.url}>" for s in sources)
    if more:
        text += f'\n- *({more} more: ask "more sources")*'
    return text


def next_offer(
    entry: Entry, shown: set[str], related: list[Entry] | None = None, prefer: str | None = None
) -> Offer | None:
    """The follow-up to offer: the section the question leans to (``prefer``), else the entry's
    first follow-up whose section has not been shown yet."""
    if prefer and prefer in entry.sections and prefer not in shown:
        text = next((f.offer for f in entry.follow_ups if f.section == prefer), GENERIC_OFFERS.get(prefer))
        if text:
            return Offer(entry.id, prefer, text)
    for fu in entry.follow_ups:
        if fu.section not in shown and fu.section in entry.sections:
            return Offer(entry.id, fu.section, fu.offer)
    for name in ("Steps", "Example", "Details", "Caveats"):
        if name in entry.sections and name not in shown:
            return Offer(entry.id, name, GENERIC_OFFERS[name])
    for rel in related or []:
        return Offer(rel.id, "Answer", f"Would you like to read about a related topic: {rel.title}?")
    return None


#: A verdict: "Yes." / "**No.**" / "No," or a qualified one ("Yes for Ray Client: ...", "No on 2.60.0:
#: ..."). Not "No" opening a noun phrase: "No fixed cap ...", "No standing all-to-all mesh." say the
#: opposite without their first word.
_YES_NO_OPENER = lazy(
    r"^\s*(?:\*\*)?(?:yes|no)(?:[.,:;!](?:\*\*)?|\*\*[.,:;!]?"
    r"|(?=\s+(?:for|on|in|by|when|unless|if|as|with|since|from|at|only|but|except)\b))\s*",
    re.I,
)


def strip_yes_no(text: str) -> str:
    """Drop a leading "Yes." / "No." that answered the entry's own question, not the user's; a
    "No" that opens a noun phrase ("No fixed cap in 2.60.0") is content and stays."""
    m = _YES_NO_OPENER.match(text)
    if not m:
        return text
    rest = text[m.end() :]
    if not rest:
        return text
    first = rest.split(None, 1)[0]
    # A dot inside the word marks code ("ray.wait"); a sentence's full stop after it does not ("never.").
    if re.search(r"[_()`=]|\.\w", first) or first == "ray":
        return rest  # code keeps its case: "ray.wait takes ...", "ray start --head ...", not "Ray.wait"
    return rest[:1].upper() + rest[1:]


_SENTENCE_END = lazy(r"(?<=[.!?])\s+(?=[A-Z*`(\"“])")
_CONTENT_WORD = lazy(r"[a-z0-9_][a-z0-9_.'-]*")
_FILLER_WORDS = frozenset(
    "a an the of to in on at by for with from as is are was were be it its this that and or but not no".split()
)


def _content_words(text: str) -> set[str]:
    return {w.strip(".'-") for w in _CONTENT_WORD.findall(text.lower())} - _FILLER_WORDS


def _still_open(text: str) -> bool:
    """Does ``text`` end inside a parenthesis, a quotation or a code span?"""
    return (
        text.count("(") > text.count(")")
        or text.count('"') % 2 == 1
        or text.count("“") > text.count("”")
        or text.count("`") % 2 == 1
    )


def whole_sentences(paragraph: str) -> list[str]:
    """The sentences of ``paragraph``, never cut inside a parenthesis, quotation or code span: a quoted
    message such as ("owner is unknown ... Owners not found ...") holds a "... O" that is no sentence end."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(paragraph):
        if out and _still_open(out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def drop_repeated_sentences(text: str, said: str, *, cover: float = 0.8, min_words: int = 5) -> str:
    """``text`` without the prose sentences that only repeat ``said`` (the short answer printed
    above it): a sentence goes when ``cover`` of its content words (at least ``min_words``) are in
    ``said``. Lists, tables, quotes and code are kept as they are."""
    said_words = _content_words(said)
    out = []
    for para in text.split("\n\n"):
        if re.match(r"\s*(?:[-*+>|#]|\d+[.)]\s|```|    )", para):
            out.append(para)
            continue
        kept = []
        for sent in whole_sentences(para):
            words = _content_words(sent)
            new = words - said_words
            # A number or a name (setting, API) the short answer lacks keeps the sentence.
            if (
                len(words) >= min_words
                and len(new) <= (1 - cover) * len(words)
                and not any(re.search(r"[\d_.]", w) for w in new)
            ):
                continue
            kept.append(sent)
        if kept:
            out.append(" ".join(kept))
    return "\n\n".join(out)


def compose_entry(
    entry: Entry,
    *,
    sections: list[str],
    shown_before: set[str] | None = None,
    see_also: list[Entry] | None = None,
    related: list[Entry] | None = None,
    lead: str | None = None,
    trim_details: bool = True,
    short: ShortAnswer | None = None,
    direct: str | None = None,
    keep_yes_no: bool = True,
    prefer_offer: str | None = None,
    first_urls: list[str] | None = None,
) -> Composed:
    """Markdown for ``sections`` of one entry, then its sources and one offer.

    ``short`` (a matched short answer) or ``direct`` (sentences extracted from the entry) is
    printed first, in bold, so the first lines answer the question; the sections follow as
    context. ``keep_yes_no=False`` removes a "Yes."/"No." opener the question does not warrant.
    """
    parts: list[str] = []
    if lead:
        parts.append(lead)
    parts.append(f"### {code_words(entry.title)}")
    first_urls = list(first_urls or [])
    if short is not None:
        parts.append(f"**{code_words(short.answer)}**")
        first_urls.append(short.source)
    elif direct:
        parts.append(f"**{direct}**")
    shown = set(shown_before or set())
    newly: list[str] = []
    vl = version_line(entry) if "Answer" in sections else ""
    # What follows the sections before the sources: the version line and a "see also".
    tail = 2 * bool(vl) + (3 if see_also else 0)
    for name in SECTION_ORDER:
        if name not in sections or name not in entry.sections:
            continue
        text = display_code(entry.sections[name])
        if name == "Answer" and not keep_yes_no:
            text = strip_yes_no(text)
        if name == "Answer" and (short is not None or direct):
            # The short answer in bold above already said it: do not say it twice.
            text = drop_repeated_sentences(text, short.answer if short is not None else direct or "") or text
        if name == "Details" and trim_details and "Answer" in sections:
            # Context under the answer (which comes first): as much as fits before the sources.
            budget = ANSWER_LINES - tail - estimate_lines("\n\n".join(parts)) - 3
            text, cut = fit_to_screen(text, budget) if budget > 2 else ("", True)
            if not text:
                continue
            if cut:
                text += '\n\n*(More detail: ask "more detail".)*'
            else:
                newly.append(name)
        else:
            newly.append(name)
        if name != "Answer":
            parts.append(f"**{SECTION_TITLES[name]}**")
        parts.append(text)
    if vl:
        parts.append(vl)
    shown.update(newly)
    if see_also:
        parts.append("**See also:** " + "; ".join(f"{code_words(e.title)} (`{e.id}`)" for e in see_also))
    srcs, more = cited_sources([entry, *(see_also or [])], "\n".join(parts), first_urls)
    parts.append(sources_markdown(srcs, more))
    offer = next_offer(entry, shown, related, prefer_offer)
    if offer:
        parts.append(offer.text)
    return Composed(
        markdown="\n\n".join(p for p in parts if p),
        entries=[entry.id] + [e.id for e in see_also or []],
        sections={entry.id: newly},
        sources=srcs,
        offer=offer,
        more_sources=more,
    )


def compose_sources(entry: Entry, shown: list[str] | None = None) -> Composed:
    """Every source of ``entry`` (the answer to "more sources")."""
    pool = sources_of([entry])
    lines = [f"All sources of *{code_words(entry.title)}* (`{entry.id}`):"]
    lines += [f"- {code_words(s.title)}: <{s.url}>" for s in pool]
    extra = [a.source for a in entry.answers if a.source not in {s.url for s in pool}]
    extra += [g.source for g in entry.signatures if g.source not in {s.url for s in pool} and g.source not in extra]
    if extra:
        lines.append("\nCited by its short answers and message signatures:")
        lines += [f"- <{u}>" for u in dict.fromkeys(extra)]
    return Composed("\n".join(lines), [entry.id], {entry.id: []}, pool, None)


def compose_out_of_scope(question: str, closest: list[Entry], lead: str | None = None) -> Composed:
    lines = [lead or "**That is not in my knowledge base**, so I won't guess. " + SCOPE]
    if lead:
        lines.append(SCOPE)
    if closest:
        lines.append("The closest entries I have (they may not answer your question):")
        lines.append("\n".join(f"- {code_words(e.title)} (`{e.id}`)" for e in closest))
        lines.append("Ask `raybot kb show ID` to read one.")
    lines.append(
        "For anything else, the Ray documentation (https://docs.ray.io) and the Ray forum are the places to ask."
    )
    return Composed("\n\n".join(lines), [], {}, [], None)


def compose_partial(entry: Entry, missing: list[str], yes_no_question: str | None = None) -> Composed:
    """An honest partial: name the closest entry and what of the question it does not address.

    ``yes_no_question`` is the user's yes/no question when the entry does not settle it."""
    what = ", ".join(md_code(m) for m in missing[:4])
    if yes_no_question:
        head = "**I can't answer that yes or no from my knowledge base.**"
        gap = f"It does not say whether: “{md_literal(yes_no_question)}”"
        if missing:
            gap += f" (it never mentions {what})."
    else:
        head = "**I don't have an answer to that.**"
        gap = f"It does not address {what}, which your question asks about."
    text = (
        f"{head} The closest I have is *{code_words(entry.title)}* (`{entry.id}`). {gap}\n\n"
        f"Read it with `raybot kb show {entry.id}` if it still helps; for the rest, the Ray documentation "
        "(https://docs.ray.io) and the Ray forum are the places to ask."
    )
    return Composed(text, [], {}, [], None)


def compose_unknown_message(message: str, near: list[tuple[str, str, Entry]], checks: list[str]) -> Composed:
    """A pasted error/log line that matches no signature in the kb: say so, never substitute."""
    shown = message if len(message) <= 160 else message[:157] + "…"
    parts = [f"**I don't recognise this message**, so I won't guess what it means:\n\n> {md_literal(shown)}"]
    for name, text, entry in near[:2]:
        sample = text if len(text) <= 160 else text[:157] + "…"
        parts.append(
            f"This is not `{name}`, which reads “{sample}” (explained in `{entry.id}`); "
            "the words differ, so that entry may not apply."
        )
    if checks:
        parts.append("What I can check:\n" + "\n".join(f"- {c}" for c in checks))
    return Composed("\n\n".join(parts), [], {}, [], None)


def issue_line(entry: Entry) -> str:
    issue = entry.issue
    assert issue is not None
    number = issue.number
    url = next(
        (s.url for s in entry.sources if re.search(rf"/(?:issues|pull)/{number}\b", s.url)),
        f"https://github.com/ray-project/ray/issues/{number}",
    )
    # Our entry title is a one-line summary: "GH #29162: what happened (closed)".
    summary = re.sub(r"^(?:GH|PR)\s*#\d+\s*[:—-]\s*", "", entry.title)
    summary = re.sub(r"\s*\((?:open|closed|merged)[^)]*\)\s*$", "", summary)
    return f"- **#{number}** {issue.title} ({issue.state}) — {summary} <{url}>"


def compose_issue_list(
    term: str | None,
    matches: list[Entry],
    exact: set[str],
    denied: list[Entry] | None = None,
    *,
    about_nothing: bool = False,
) -> Composed:
    denied_md = ""
    if denied and term:
        denied_md = (
            f"\n\nOften cited for {md_code(term)}, but the issue itself does not mention it: "
            + ", ".join(f"#{d.issue.number} ({d.issue.title})" for d in denied if d.issue)
            + "."
        )
    if not matches and not term and about_nothing:
        # "is there an upstream issue for this?" as the first message: "this" points at nothing.
        return Composed(
            "Which problem do you mean? This thread has no earlier question, so I cannot tell what "
            "\u201cthis\u201d is. Describe the symptom or paste the error message, or name what to look "
            "for (for example: is there an issue about `ray::IDLE` memory?), and I will list the GitHub "
            "issue entries in my knowledge base about it.",
            [],
            {},
            [],
            None,
        )
    if not matches:
        what = f" mentioning {md_code(term)}" if term else " about this"
        return Composed(
            f"I have no GitHub issue entry{what} in my knowledge base. " + SCOPE + denied_md, [], {}, [], None
        )
    head = (
        f"Issues in my knowledge base that mention {md_code(term)}:"
        if term and exact
        else (f"Issues in my knowledge base related to {md_literal(term)}:" if term else "Issues in my knowledge base:")
    )
    lines = [head]
    exact_list = [m for m in matches if m.id in exact]
    other = [m for m in matches if m.id not in exact]
    lines += [issue_line(m) for m in exact_list]
    if exact_list and other:
        lines.append("\nRelated by topic (as far as I know, their text does not name it):\n")
    lines += [issue_line(m) for m in other]
    first = matches[0]
    offer = Offer(first.id, "Details", f"Would you like the details of #{first.issue.number if first.issue else ''}?")
    body = "\n".join(lines[:1]) + "\n\n" + "\n".join(lines[1:]) + denied_md
    return Composed(
        body + "\n\n" + offer.text,
        [m.id for m in matches],
        {m.id: [] for m in matches},
        sources_of(matches),
        offer,
    )
