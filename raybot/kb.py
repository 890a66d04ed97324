"""The knowledge base: Markdown entries with YAML front matter under ``kb/``.

``load_kb`` parses every entry into an :class:`Entry`; ``lint`` returns every problem it can
find (file and line) instead of stopping at the first. The entry format is described in
``docs/kb-format.md``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raybot.lazyre import lazy

KINDS = ("concept", "config", "error", "fix", "issue", "howto", "diagnostic")
SECTIONS = ("Answer", "Details", "Steps", "Example", "Caveats")
REQUIRED_FIELDS = ("id", "title", "kind", "tags", "sources")
ID_RE = lazy(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FENCE_RE = lazy(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class FollowUp:
    offer: str
    section: str


@dataclass(frozen=True)
class IssueRef:
    number: int
    title: str
    state: str


PLACEHOLDER_RE = lazy(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Signature:
    """A message exactly as Ray emits it; ``{name}`` stands for a variable part (ids, numbers, paths).

    ``{{`` and ``}}`` stand for literal braces."""

    text: str
    source: str  #: URL of the line that emits it
    where: str = ""  #: where users meet it (raylet.out, exception, driver warning, ...)

    def pattern(self) -> re.Pattern[str]:
        """Literal parts match case-insensitively with any run of whitespace; placeholders match
        up to 300 characters on the same line. A placeholder that ends the message takes the
        rest of its line (an exit detail can run to many sentences), so a message quoted inside
        it is seen as part of this one. A placeholder alone in brackets may be left out whole."""
        return _signature_pattern(self.text)

    def literal_chars(self) -> int:
        return len(PLACEHOLDER_RE.sub("", self.text).strip())

    def needles(self) -> tuple[str, ...]:
        """Lower-case ASCII words of the literal parts: a text that lacks one of them cannot
        match :meth:`pattern`, so callers skip compiling and running it."""
        return _signature_needles(self.text)


@functools.lru_cache(maxsize=4096)
def _signature_pattern(message: str) -> re.Pattern[str]:
    """The pattern of :meth:`Signature.pattern`, built once per message text."""
    text = message.replace("{{", "\x00").replace("}}", "\x01")
    out, pos = [], 0
    for m in PLACEHOLDER_RE.finditer(text):
        start, end = m.start(), m.end()
        if text[start - 1 : start] == "(" and text[end : end + 1] == ")" and start - 1 >= pos:
            # "process({pid})": users who retype the message leave the bracketed id out.
            out.append(_literal(text[pos : start - 1]))
            out.append(r"(?:\s*\([^\n]{0,300}?\))?")
            pos = end + 1
            continue
        out.append(_literal(text[pos:start]))
        out.append(r"[^\n]*" if not text[end:].strip() else r"[^\n]{0,300}?")
        pos = end
    out.append(_literal(text[pos:]))
    return re.compile("".join(out), re.I)


_BRACKETED_PLACEHOLDER = lazy(r"\(\{[a-z_]+\}\)")
#: A short answer that opens with "Yes"/"No" followed by punctuation, ...
_BARE_YES_NO = lazy(r"^\s*(?:yes|no)\s*[.,:;!]", re.I)
#: ... to a question that asks for a thing, a way or a number ("Which hook ...?", "How many times ...?"), ...
_NOT_YES_NO_ASK = lazy(r"^\s*(?:which|what|where|when|who|how)\b", re.I)
#: ... or that offers a second alternative ("..., or is it only a request?", "names or only events?").
_TWO_WAY_ASK = lazy(
    r",\s*or\s+(?:is|are|can|could|does|do|did|must|should|will|would|has|have|only|just)\b|\bor only\b", re.I
)


@functools.lru_cache(maxsize=4096)
def _signature_needles(message: str) -> tuple[str, ...]:
    text = message.replace("{{", "\x00").replace("}}", "\x01")
    # "process({pid})" may be retyped as "process": the bracketed placeholder goes whole.
    text = PLACEHOLDER_RE.sub(" ", _BRACKETED_PLACEHOLDER.sub(" ", text))
    words = text.replace("\x00", "{").replace("\x01", "}").lower().split()
    return tuple(w for w in words if w.isascii())


def _literal(part: str) -> str:
    part = part.replace("\x00", "{").replace("\x01", "}")
    return r"\s+".join(re.escape(w) for w in part.split(" ")) if part.strip() else re.escape(part)


@dataclass(frozen=True)
class ShortAnswer:
    """A question-specific answer: 1-3 sentences in our words, with the URL it was verified at."""

    question: str
    answer: str
    source: str


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    code: str
    runnable: bool
    line: int  #: 1-based line of the opening fence in the entry file


@dataclass
class Entry:
    id: str
    title: str
    kind: str
    path: Path
    sha256: str
    tags: list[str] = field(default_factory=list)
    ray_versions: str = ""
    questions: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    issue: IssueRef | None = None
    mentions: list[str] = field(default_factory=list)  #: issue entries: terms the issue text itself uses
    signatures: list[Signature] = field(default_factory=list)  #: messages this entry explains
    answers: list[ShortAnswer] = field(default_factory=list)  #: short answers to specific questions
    sections: dict[str, str] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The JSON form stored in the index's ``entries.json`` (see :meth:`from_record`)."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "tags": self.tags,
            "ray_versions": self.ray_versions,
            "questions": self.questions,
            "sources": [{"title": s.title, "url": s.url} for s in self.sources],
            "related": self.related,
            "follow_ups": [{"offer": f.offer, "section": f.section} for f in self.follow_ups],
            "issue": (
                {"number": self.issue.number, "title": self.issue.title, "state": self.issue.state}
                if self.issue
                else None
            ),
            "mentions": self.mentions,
            "signatures": [{"text": g.text, "source": g.source, "where": g.where} for g in self.signatures],
            "answers": [{"question": a.question, "answer": a.answer, "source": a.source} for a in self.answers],
            "sections": self.sections,
            "path": self.path.name,
            "sha256": self.sha256,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Entry:
        """Rebuild an entry from its index record (no YAML parsing at answer time)."""
        issue = rec.get("issue")
        return cls(
            id=rec["id"],
            title=rec["title"],
            kind=rec["kind"],
            path=Path(rec.get("path") or f"{rec['id']}.md"),
            sha256=rec.get("sha256", ""),
            tags=list(rec.get("tags", [])),
            ray_versions=rec.get("ray_versions", ""),
            questions=list(rec.get("questions", [])),
            sources=[Source(s["title"], s["url"]) for s in rec.get("sources", [])],
            related=list(rec.get("related", [])),
            follow_ups=[FollowUp(f["offer"], f["section"]) for f in rec.get("follow_ups", [])],
            issue=IssueRef(int(issue["number"]), issue["title"], issue["state"]) if issue else None,
            mentions=list(rec.get("mentions", [])),
            signatures=[Signature(g["text"], g["source"], g.get("where", "")) for g in rec.get("signatures", [])],
            answers=[ShortAnswer(a["question"], a["answer"], a["source"]) for a in rec.get("answers", [])],
            sections=dict(rec.get("sections", {})),
        )

    def text(self) -> str:
        """Everything the entry says, for checking which terms of a question it addresses."""
        parts = [self.title, " ".join(self.tags), " ".join(self.questions), " ".join(self.mentions)]
        parts += [a.question + " " + a.answer for a in self.answers]
        parts += [g.text for g in self.signatures]
        parts += list(self.sections.values())
        return "\n".join(parts)

    def code_blocks(self, section: str | None = None) -> list[CodeBlock]:
        blocks = []
        for name, text in self.sections.items():
            if section is not None and name != section:
                continue
            base = self.section_lines.get(name, 1)
            for m in FENCE_RE.finditer(text):
                info = m.group(1).strip().split()
                lang = info[0].lower() if info else ""
                line = base + text.count("\n", 0, m.start())
                blocks.append(CodeBlock(lang, m.group(2), "runnable" in info[1:], line))
        return blocks


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _key_line(front: str, key: str, offset: int) -> int:
    for i, line in enumerate(front.splitlines()):
        if re.match(rf"^{re.escape(key)}\s*:", line):
            return offset + i
    return offset


MAX_FRONT_MATTER = 200_000  #: characters; a real entry's front matter is a few thousand
MAX_YAML_NESTING = 50  #: PyYAML composes recursively: deeper flow collections are refused unread


def _yaml_nesting(text: str) -> int:
    """An upper bound on the nesting of YAML flow collections ([...] and {...})."""
    depth = worst = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            worst = max(worst, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return worst


def parse_entry(path: Path) -> tuple[Entry | None, list[Problem]]:
    """Parse one file. Returns the entry (None if unusable) and the problems found."""
    import yaml

    problems: list[Problem] = []

    def bad(line: int, msg: str) -> None:
        problems.append(Problem(path, line, msg))

    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        bad(1, f"cannot read entry: {exc}")
        return None, problems
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        bad(1, "missing YAML front matter (the file must start with a '---' line)")
        return None, problems
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        bad(1, "front matter is not closed by a '---' line")
        return None, problems
    front = "\n".join(lines[1:end])
    if len(front) > MAX_FRONT_MATTER or _yaml_nesting(front) > MAX_YAML_NESTING:
        bad(
            2,
            f"front matter is too large or nested too deeply (limits: {MAX_FRONT_MATTER:,} characters, "
            f"{MAX_YAML_NESTING} levels)",
        )
        return None, problems
    # libyaml's safe loader when PyYAML was built with it: the kb's front matter loads 14x faster and
    # identically (1.69 s -> 0.12 s for 320 entries, measured at stop 46).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        meta = yaml.load(front, Loader=loader) or {}  # noqa: S506 - a safe loader, chosen above
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        bad(2 + (mark.line if mark else 0), f"invalid YAML front matter: {exc}".splitlines()[0])
        return None, problems
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        bad(2, f"front matter cannot be read: {type(exc).__name__}")
        return None, problems
    if not isinstance(meta, dict):
        bad(2, "front matter must be a mapping of fields")
        return None, problems

    def kline(key: str) -> int:
        return _key_line(front, key, 2)

    for key in REQUIRED_FIELDS:
        if not meta.get(key):
            bad(kline(key) if key in meta else 1, f"missing required field '{key}'")

    entry_id = str(meta.get("id") or "")
    if entry_id and not ID_RE.match(entry_id):
        bad(kline("id"), f"id '{entry_id}' is not kebab-case")
    if entry_id and entry_id != path.stem:
        bad(kline("id"), f"id '{entry_id}' does not match the file name '{path.name}'")
    kind = str(meta.get("kind") or "")
    if kind and kind not in KINDS:
        bad(kline("kind"), f"kind '{kind}' is not one of {', '.join(KINDS)}")

    def str_list(key: str) -> list[str]:
        value = meta.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            bad(kline(key), f"'{key}' must be a list of strings")
            return []
        return [str(v) for v in value]

    tags, questions, related = str_list("tags"), str_list("questions"), str_list("related")
    mentions = str_list("mentions")
    if "mentions" in meta and kind != "issue":
        bad(kline("mentions"), "'mentions' is only for issue entries (terms the issue text itself uses)")

    sources: list[Source] = []
    raw_sources = meta.get("sources") or []
    if not isinstance(raw_sources, list):
        bad(kline("sources"), "'sources' must be a list of {title, url}")
        raw_sources = []
    for item in raw_sources:
        if not isinstance(item, dict) or not item.get("url"):
            bad(kline("sources"), f"source without a url: {item!r}")
            continue
        url = str(item["url"])
        if not re.match(r"^https?://\S+$", url):
            bad(kline("sources"), f"source url is not an http(s) URL: {url!r}")
            continue
        sources.append(Source(str(item.get("title") or url), url))
    if raw_sources and not sources:
        bad(kline("sources"), "no usable source URL")

    follow_ups: list[FollowUp] = []
    raw_fu = meta.get("follow_ups") or []
    if not isinstance(raw_fu, list):
        bad(kline("follow_ups"), "'follow_ups' must be a list of {offer, section}")
        raw_fu = []
    for item in raw_fu:
        if not isinstance(item, dict) or not item.get("offer") or not item.get("section"):
            bad(kline("follow_ups"), f"follow-up needs 'offer' and 'section': {item!r}")
            continue
        follow_ups.append(FollowUp(str(item["offer"]).strip(), str(item["section"]).strip()))

    signatures: list[Signature] = []
    raw_sigs = meta.get("signatures") or []
    if not isinstance(raw_sigs, list):
        bad(kline("signatures"), "'signatures' must be a list of {text, source, where}")
        raw_sigs = []
    for item in raw_sigs:
        if not isinstance(item, dict) or not item.get("text") or not item.get("source"):
            bad(kline("signatures"), f"signature needs 'text' and 'source': {item!r}")
            continue
        sig = Signature(str(item["text"]).strip(), str(item["source"]).strip(), str(item.get("where") or "").strip())
        if not re.match(r"^https?://\S+$", sig.source):
            bad(kline("signatures"), f"signature source is not an http(s) URL: {sig.source!r}")
            continue
        stray = re.sub(r"\{\{|\}\}", "", PLACEHOLDER_RE.sub("", sig.text))
        if "{" in stray or "}" in stray:
            bad(kline("signatures"), f"signature has a brace that is not a {{name}} placeholder: {sig.text[:60]!r}")
            continue
        if sig.literal_chars() < 20:
            bad(kline("signatures"), f"signature has under 20 literal characters: {sig.text[:60]!r}")
            continue
        signatures.append(sig)

    answers: list[ShortAnswer] = []
    raw_answers = meta.get("answers") or []
    if not isinstance(raw_answers, list):
        bad(kline("answers"), "'answers' must be a list of {question, answer, source}")
        raw_answers = []
    for item in raw_answers:
        if not isinstance(item, dict) or not all(item.get(k) for k in ("question", "answer", "source")):
            bad(kline("answers"), f"answer needs 'question', 'answer' and 'source': {item!r}")
            continue
        sa = ShortAnswer(str(item["question"]).strip(), str(item["answer"]).strip(), str(item["source"]).strip())
        if not re.match(r"^https?://\S+$", sa.source):
            bad(kline("answers"), f"answer source is not an http(s) URL: {sa.source!r}")
            continue
        if len(sa.answer) > 500:
            bad(kline("answers"), f"short answer is over 500 characters (keep it to 1-3 sentences): {sa.question!r}")
            continue
        if _BARE_YES_NO.match(sa.answer) and (_NOT_YES_NO_ASK.match(sa.question) or _TWO_WAY_ASK.search(sa.question)):
            # "Which hook runs ...?" -> "Yes, roughly" and "Does memory= limit RAM, or is it only a request?"
            # -> "No." leave the reader to guess which half was answered (the 2026-12-06 audit found eight).
            bad(
                kline("answers"),
                f"short answer opens with a bare yes/no, but its question is not a yes/no one: {sa.question!r}",
            )
            continue
        answers.append(sa)

    issue = None
    raw_issue = meta.get("issue")
    if kind == "issue" or raw_issue is not None:
        if not isinstance(raw_issue, dict) or not all(raw_issue.get(k) for k in ("number", "title", "state")):
            bad(kline("issue") if raw_issue else 1, "issue entries need issue: {number, title, state}")
        else:
            try:
                issue = IssueRef(int(raw_issue["number"]), str(raw_issue["title"]), str(raw_issue["state"]).lower())
            except (TypeError, ValueError):
                bad(kline("issue"), f"issue number is not an integer: {raw_issue['number']!r}")
            if issue and issue.state not in ("open", "closed", "merged"):
                bad(kline("issue"), f"issue state must be open, closed or merged, not {issue.state!r}")

    # Body sections.
    sections: dict[str, str] = {}
    section_lines: dict[str, int] = {}
    current: str | None = None
    buf: list[str] = []
    in_fence = False

    def _finish(name: str, body: list[str]) -> None:
        lead = next((i for i, ln in enumerate(body) if ln.strip()), len(body))
        section_lines[name] = section_lines.get(name, 1) + lead
        sections[name] = "\n".join(body).strip("\n")

    for lineno in range(end + 1, len(lines)):
        line = lines[lineno]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            if current is not None:
                _finish(current, buf)
            current = line[3:].strip()
            buf = []
            if current not in SECTIONS:
                bad(lineno + 1, f"unknown section '## {current}' (allowed: {', '.join(SECTIONS)})")
            elif current in sections:
                bad(lineno + 1, f"section '## {current}' appears twice")
            section_lines[current] = lineno + 2  # first line of the section's text
            continue
        if current is None:
            if line.strip():
                bad(lineno + 1, "text before the first '## ' section")
            continue
        buf.append(line)
    if current is not None:
        _finish(current, buf)
    if in_fence:
        bad(len(lines), "a ``` code fence is not closed")
    if not sections.get("Answer", "").strip():
        bad(end + 2, "missing or empty '## Answer' section")
    order = [s for s in SECTIONS if s in sections]
    if [s for s in sections if s in SECTIONS] != order:
        bad(end + 2, f"sections are out of order (expected {' / '.join(SECTIONS)})")
    for fu in follow_ups:
        if fu.section not in sections:
            bad(kline("follow_ups"), f"follow-up offers section '{fu.section}', which the entry lacks")

    _check_untrusted_text(meta, lines, end, sections, section_lines, kline, bad)

    entry = Entry(
        id=entry_id or path.stem,
        title=str(meta.get("title") or "").strip(),
        kind=kind,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        tags=tags,
        ray_versions=str(meta.get("ray_versions") or "").strip(),
        questions=questions,
        sources=sources,
        related=related,
        follow_ups=follow_ups,
        issue=issue,
        mentions=mentions,
        signatures=signatures,
        answers=answers,
        sections=sections,
        section_lines=section_lines,
    )
    from raybot.codecheck import CodeTooComplex, parse_bounded

    for block in entry.code_blocks():
        if block.lang in ("python", "py"):
            try:
                parse_bounded(block.code)
            except SyntaxError as exc:
                bad(block.line + (exc.lineno or 1), f"Python block does not parse: {exc.msg}")
            except CodeTooComplex as exc:
                bad(block.line, f"Python block cannot be checked: {exc}")
    return entry, problems


_RICH_LINK_OR_CLOSE = lazy(r"\[(?:/[a-z#@ ]*|link[= ]|@)[^\[\]]*\]", re.I)
_TITLE_MD_LINK = lazy(r"\]\(|<[a-z][a-z0-9+.-]{1,31}:[^<>\s]*>|!\[", re.I)
_CODE = lazy(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)


def _check_untrusted_text(meta, lines, end, sections, section_lines, kline, bad) -> None:
    """kb text is shown in terminals, Slack and HTML: no control characters or escape
    sequences anywhere, no markup that could make a link or break rich markup, and links in
    bodies only to http(s) URLs."""
    from raybot.sanitize import find_unsafe

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from strings(k)
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    # Front matter after YAML decoding: a "\e]8;;..." escape in a quoted string is an ESC here.
    for key, value in meta.items():
        for text in strings(value):
            for what in find_unsafe(text)[:1]:
                bad(kline(str(key)), f"'{key}' contains a {what.split(' at offset')[0]}; remove it")
    issue = meta.get("issue")
    issue_title = issue.get("title") if isinstance(issue, dict) else None  # a wrong shape is reported elsewhere
    for key, text in [("title", meta.get("title")), ("issue", issue_title)]:
        if not isinstance(text, str):
            continue
        if _RICH_LINK_OR_CLOSE.search(text):
            bad(kline(key), f"'{key}' title contains markup that would break or add a link: {text[:60]!r}")
        if _TITLE_MD_LINK.search(text):
            bad(kline(key), f"'{key}' title contains Markdown link or image syntax: {text[:60]!r}")
        if text.count("`") % 2:
            bad(kline(key), f"'{key}' title has an unpaired backtick: {text[:60]!r}")
    # The body, line by line (raw text, so line numbers are exact).
    for i in range(end + 1, len(lines)):
        for what in find_unsafe(lines[i])[:1]:
            bad(i + 1, f"body contains a {what.split(' at offset')[0]}; remove it")
    if not sections:
        return
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # see every link, including those markdown-it would drop
    for name, body in sections.items():
        line = section_lines.get(name, end + 2)
        if _RICH_LINK_OR_CLOSE.search(_CODE.sub("", body)):
            bad(line, f"section '{name}' contains rich markup that would break or add a link ([/...], [link=...])")
        stack = list(md.parse(body))
        while stack:
            tok = stack.pop()
            stack.extend(tok.children or [])
            where = line + (tok.map[0] if tok.map else 0)
            if tok.type in ("link_open", "image"):
                url = str(tok.attrs.get("href") or tok.attrs.get("src") or "")
                if not re.match(r"^https?://[^\s]+$", url, re.I):
                    bad(where, f"section '{name}' links to {url[:60]!r}: only http(s) links are allowed")
            elif tok.type in ("html_inline", "html_block") and re.search(r"=|//", tok.content):
                bad(where, f"section '{name}' contains raw HTML {tok.content.strip()[:40]!r}: write it as `code`")


def entry_paths(kb_dir: Path, skipped: list[Problem] | None = None) -> list[Path]:
    """All entry files, sorted; README-like files starting with an upper-case letter are skipped.

    Only regular files (or symlinks to one) count: a dangling symlink (an editor's lock file), a
    directory or a FIFO named ``*.md`` is skipped (reading a FIFO would wait forever), and
    reported in ``skipped`` as a warning.
    """
    import stat

    out = []
    for p in kb_dir.glob("*.md"):
        if p.name[0].isupper():
            continue
        try:
            mode = p.stat().st_mode
            what = None if stat.S_ISREG(mode) else ("a directory" if stat.S_ISDIR(mode) else "not a regular file")
        except OSError:
            what = "a dangling symlink" if p.is_symlink() else "unreadable"
        if what is None:
            out.append(p)
        elif skipped is not None:
            skipped.append(Problem(p, 0, f"skipped: {what}"))
    return sorted(out)


def load_kb(kb_dir: Path, warnings: list[Problem] | None = None) -> tuple[list[Entry], list[Problem]]:
    """Parse every entry and check the whole corpus (ids, links).

    Problems make the kb unusable; ``warnings`` (if given) receives what was only skipped.
    """
    entries: list[Entry] = []
    problems: list[Problem] = []
    if not kb_dir.is_dir():
        return [], [Problem(kb_dir, 0, "knowledge-base directory does not exist")]
    seen: dict[str, Path] = {}
    for path in entry_paths(kb_dir, warnings):
        entry, probs = parse_entry(path)
        problems.extend(probs)
        if entry is None:
            continue
        if entry.id in seen:
            problems.append(Problem(path, 2, f"duplicate id '{entry.id}' (also in {seen[entry.id]})"))
            continue
        seen[entry.id] = path
        entries.append(entry)
    for entry in entries:
        for rel in entry.related:
            if rel not in seen:
                problems.append(Problem(entry.path, _related_line(entry.path), f"related id '{rel}' does not exist"))
            elif rel == entry.id:
                problems.append(Problem(entry.path, _related_line(entry.path), "entry relates to itself"))
    if not entries and not problems:
        problems.append(Problem(kb_dir, 0, "knowledge base has no entries"))
    return entries, problems


def _related_line(path: Path) -> int:
    try:
        for i, line in enumerate(path.read_text("utf-8").splitlines()):
            if line.startswith("related"):
                return i + 1
    except OSError:
        pass
    return 1


def lint(kb_dir: Path) -> list[Problem]:
    return load_kb(kb_dir)[1]


def main(argv: list[str] | None = None) -> int:
    """``python -m raybot.kb lint [KB_DIR]``: a dependency-light lint for writers."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "lint":
        print("usage: python -m raybot.kb lint [KB_DIR]", file=sys.stderr)
        return 2
    kb_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "kb"
    entries, problems = load_kb(kb_dir)
    for p in problems:
        print(p)
    print(f"{len(entries)} entries, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
