"""Answers composed from knowledge-base entries (no text is generated from nothing).

An :class:`Answer` is the JSON contract of ``raybot ask --json``. The composers here are
pure: they take entry records (as stored in the index) and return Markdown plus what was
shown and offered, so a thread can continue from exactly there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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
SCOPE = (
    "raybot's knowledge base covers Ray Core and the cluster runtime: tasks, actors, objects, "
    "workers, memory and the OOM killer, scheduling, the autoscaler, connecting nodes, node and "
    "GCS failures, runtime_env, GPUs, logs, hangs, serialization, and the GitHub issues behind "
    "them. For Ray's libraries (Tune, Serve, Data, Train, RLlib) and for installing Ray, see "
    "Ray's documentation: https://docs.ray.io"
)


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
    offer: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    saved: bool = True  #: False when the turn could not be stored: there is no thread to continue

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
            "notes": self.notes,
        }


@dataclass
class Composed:
    markdown: str
    entries: list[str]
    sections: dict[str, list[str]]
    sources: list[dict[str, str]]
    offer: dict[str, str] | None


def display_code(text: str) -> str:
    """Drop raybot's private fence markers ("python runnable" -> "python")."""
    return re.sub(r"^```(\w+)[ \t]+runnable[ \t]*$", r"```\1", text, flags=re.M)


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


def version_line(entry: dict[str, Any]) -> str:
    return f"*Ray versions: {entry['ray_versions']}*" if entry.get("ray_versions") else ""


def sources_of(entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    seen, out = set(), []
    for e in entries:
        for s in e["sources"]:
            if s["url"] not in seen:
                seen.add(s["url"])
                out.append({"title": s["title"], "url": s["url"]})
    return out


def sources_markdown(sources: list[dict[str, str]]) -> str:
    return "**Sources:**\n" + "\n".join(f"- {s['title']}: <{s['url']}>" for s in sources)


def next_offer(
    entry: dict[str, Any], shown: set[str], related: list[dict[str, Any]] | None = None
) -> dict[str, str] | None:
    """The first follow-up of ``entry`` whose section has not been shown yet."""
    for fu in entry["follow_ups"]:
        if fu["section"] not in shown and fu["section"] in entry["sections"]:
            return {"entry": entry["id"], "section": fu["section"], "text": fu["offer"]}
    for name in ("Steps", "Example", "Details", "Caveats"):
        if name in entry["sections"] and name not in shown:
            return {"entry": entry["id"], "section": name, "text": GENERIC_OFFERS[name]}
    for rel in related or []:
        return {
            "entry": rel["id"],
            "section": "Answer",
            "text": f"Would you like to read about a related topic: {rel['title']}?",
        }
    return None


def compose_entry(
    entry: dict[str, Any],
    *,
    sections: list[str],
    shown_before: set[str] | None = None,
    see_also: list[dict[str, Any]] | None = None,
    related: list[dict[str, Any]] | None = None,
    lead: str | None = None,
    trim_details: bool = True,
) -> Composed:
    """Markdown for ``sections`` of one entry, then sources and one offer."""
    parts: list[str] = []
    if lead:
        parts.append(lead)
    parts.append(f"### {entry['title']}")
    shown = set(shown_before or set())
    newly: list[str] = []
    for name in SECTION_ORDER:
        if name not in sections or name not in entry["sections"]:
            continue
        text = display_code(entry["sections"][name])
        if name == "Details" and trim_details and "Answer" in sections:
            text, cut = trim_words(text, DETAILS_WORDS)
            if cut:
                text += '\n\n*(More detail is available: ask "more detail".)*'
            else:
                newly.append(name)
        else:
            newly.append(name)
        if name != "Answer":
            parts.append(f"**{SECTION_TITLES[name]}**")
        parts.append(text)
    vl = version_line(entry)
    if vl and "Answer" in sections:
        parts.append(vl)
    shown.update(newly)
    if see_also:
        parts.append("**See also:** " + "; ".join(f"{e['title']} (`{e['id']}`)" for e in see_also))
    srcs = sources_of([entry] + list(see_also or []))
    parts.append(sources_markdown(srcs))
    offer = next_offer(entry, shown, related)
    if offer:
        parts.append(offer["text"])
    return Composed(
        markdown="\n\n".join(p for p in parts if p),
        entries=[entry["id"]] + [e["id"] for e in see_also or []],
        sections={entry["id"]: newly},
        sources=srcs,
        offer=offer,
    )


def compose_out_of_scope(question: str, closest: list[dict[str, Any]]) -> Composed:
    lines = [
        "**That is not in my knowledge base**, so I won't guess. " + SCOPE,
    ]
    if closest:
        lines.append("The closest entries I have (they may not answer your question):")
        lines.append("\n".join(f"- {e['title']} (`{e['id']}`)" for e in closest))
        lines.append("Ask `raybot kb show ID` to read one.")
    lines.append(
        "For anything else, the Ray documentation (https://docs.ray.io) and the Ray forum are the places to ask."
    )
    return Composed("\n\n".join(lines), [], {}, [], None)


def issue_line(entry: dict[str, Any]) -> str:
    issue = entry["issue"]
    number = issue["number"]
    url = next(
        (s["url"] for s in entry["sources"] if re.search(rf"/(?:issues|pull)/{number}\b", s["url"])),
        f"https://github.com/ray-project/ray/issues/{number}",
    )
    # Our entry title is a one-line summary: "GH #29162: what happened (closed)".
    summary = re.sub(r"^(?:GH|PR)\s*#\d+\s*[:—-]\s*", "", entry["title"])
    summary = re.sub(r"\s*\((?:open|closed|merged)[^)]*\)\s*$", "", summary)
    return f"- **#{number}** {issue['title']} ({issue['state']}) — {summary} <{url}>"


def compose_issue_list(
    term: str | None, matches: list[dict[str, Any]], exact: set[str], denied: list[dict[str, Any]] | None = None
) -> Composed:
    denied_md = ""
    if denied and term:
        denied_md = (
            f"\n\nOften cited for {md_code(term)}, but the issue itself does not mention it: "
            + ", ".join(f"#{d['issue']['number']} ({d['issue']['title']})" for d in denied)
            + "."
        )
    if not matches:
        what = f" mentioning {md_code(term)}" if term else ""
        return Composed(
            f"I have no GitHub issue entries{what} in my knowledge base. " + SCOPE + denied_md, [], {}, [], None
        )
    head = (
        f"Issues in my knowledge base that mention {md_code(term)}:"
        if term and exact
        else (f"Issues in my knowledge base related to {md_literal(term)}:" if term else "Issues in my knowledge base:")
    )
    lines = [head]
    exact_list = [m for m in matches if m["id"] in exact]
    other = [m for m in matches if m["id"] not in exact]
    lines += [issue_line(m) for m in exact_list]
    if exact_list and other:
        lines.append("\nRelated by topic (as far as I know, their text does not name it):\n")
    lines += [issue_line(m) for m in other]
    offer = {
        "entry": matches[0]["id"],
        "section": "Details",
        "text": f"Would you like the details of #{matches[0]['issue']['number']}?",
    }
    body = "\n".join(lines[:1]) + "\n\n" + "\n".join(lines[1:]) + denied_md
    return Composed(
        body + "\n\n" + offer["text"],
        [m["id"] for m in matches],
        {m["id"]: [] for m in matches},
        sources_of(matches),
        offer,
    )
