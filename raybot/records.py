"""What the thread store keeps besides turns: feedback, knowledge gaps, and Slack bookkeeping.

The tables come from migration ``m004_feedback_gaps_slack``. Every function takes the
:class:`raybot.threads.ThreadStore` it works on and uses its SQLite connection, so these records
live (and are deleted, backed up, moved) together with the threads they refer to.

Nothing secret is stored: questions recorded as gaps pass through :func:`redact` first (tokens,
keys, passwords, credentials in URLs), and voters are kept only as a one-way hash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from raybot import tuning
from raybot.errors import UsageError

if TYPE_CHECKING:
    from raybot.threads import ThreadStore, Turn

#: An in-scope answer below this confidence is recorded as a "low-confidence" gap: the same bar
#: under which the answer itself opens with the not-sure line (``tuning.HEDGE_BELOW``), so every
#: answer raybot tells the user it is unsure of is on the kb's to-do list. (A fixed 0.65 left out
#: the 0.7-0.9 model-score bins once the re-measured table put them at 0.653-0.695.)
LOW_CONFIDENCE = tuning.HEDGE_BELOW
#: Turns that look nothing up (a thank-you, "yes please" with nothing pending, a diagnosis)
#: say nothing about what the knowledge base is missing.
_NOT_LOOKUPS = {"thanks", "affirm", "nothing_pending", "diagnose"}
RATINGS = ("up", "down")


# -- redaction ---------------------------------------------------------------------------------
# Compiled on first use: most turns record nothing (only declined and low-confidence ones do),
# and `raybot ask` should not pay for these patterns at start-up.
@functools.cache
def _patterns() -> tuple[list[re.Pattern[str]], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    secret_patterns = [
        re.compile(r"\bxox[a-z]-[A-Za-z0-9-]{8,}"),  # Slack bot/user/app tokens
        re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),  # Slack app-level tokens
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"),
        re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
        re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # API keys in the common sk-... form
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"),  # JWTs
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
    ]
    assigned_secret = re.compile(
        r"(?i)\b((?:[A-Za-z_]*_)?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth)"
        r"[A-Za-z_]*\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
    )
    bearer = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
    url_credentials = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
    return secret_patterns, assigned_secret, bearer, url_credentials


def redact(text: str) -> str:
    """``text`` with tokens, keys, passwords and URL credentials replaced by ``[redacted]``."""
    secret_patterns, assigned_secret, bearer, url_credentials = _patterns()
    for pat in secret_patterns:
        text = pat.sub("[redacted]", text)
    text = bearer.sub(lambda m: m.group(1) + " [redacted]", text)
    text = assigned_secret.sub(lambda m: m.group(1) + ("" if m.group(2) == "[redacted]" else "[redacted]"), text)
    return url_credentials.sub(lambda m: m.group(1) + "[redacted]@", text)


def voter_hash(*parts: str) -> str:
    """A stable, one-way name for a voter (e.g. Slack team + user id)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


# -- gaps -------------------------------------------------------------------------------------
@dataclass
class Gap:
    id: int
    created_at: float
    kind: str
    thread_id: str
    seq: int
    question: str
    confidence: float
    entries: list[list[Any]]  #: [[entry id, score], ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gap_kind(turn: Turn, hits: list[dict[str, Any]]) -> str | None:
    """ "declined", "low-confidence" or None for a freshly answered turn."""
    if turn.intent in _NOT_LOOKUPS or not hits:
        return None
    if not turn.in_scope:
        return "declined"
    if turn.confidence < LOW_CONFIDENCE:
        return "low-confidence"
    return None


def record_gap(
    store: ThreadStore,
    *,
    kind: str,
    thread_id: str,
    seq: int,
    question: str,
    confidence: float,
    entries: list[list[Any]],
) -> None:
    db = store.db()
    db.execute(
        "insert or ignore into gaps (created_at, kind, thread_id, seq, question, confidence, entries)"
        " values (?, ?, ?, ?, ?, ?, ?)",
        (time.time(), kind, thread_id, seq, redact(question)[:4000], float(confidence), json.dumps(entries[:5])),
    )


def record_turn_gap(store: ThreadStore, thread_id: str, turn: Turn, hits: list[dict[str, Any]]) -> str | None:
    """Record ``turn`` as a gap if it was declined or answered with low confidence."""
    kind = gap_kind(turn, hits)
    if kind is None:
        return None
    entries = [[h["id"], round(float(h.get("score", 0.0)), 4)] for h in hits[:5]]
    record_gap(
        store,
        kind=kind,
        thread_id=thread_id,
        seq=turn.seq,
        question=turn.question,
        confidence=turn.confidence,
        entries=entries,
    )
    return kind


def list_gaps(store: ThreadStore, *, since: float = 0.0) -> list[Gap]:
    rows = store.db().execute(
        "select id, created_at, kind, thread_id, seq, question, confidence, entries from gaps"
        " where created_at >= ? order by created_at",
        (since,),
    )
    return [Gap(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows]


# -- feedback ---------------------------------------------------------------------------------
@dataclass
class Feedback:
    thread_id: str
    seq: int
    rating: str
    source: str
    created_at: float
    question: str
    answer: str
    comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _turn_row(store: ThreadStore, thread_id: str, seq: int):
    return (
        store.db()
        .execute(
            "select u.question, u.confidence, u.entries, u.in_scope, u.intent, t.title from turns u"
            " join threads t on t.id = u.thread_id where u.thread_id = ? and u.seq = ?",
            (thread_id, seq),
        )
        .fetchone()
    )


def record_feedback(
    store: ThreadStore,
    thread_id: str,
    seq: int,
    rating: str,
    *,
    source: str,
    voter: str,
    comment: str | None = None,
) -> Feedback:
    """Store (or change) one voter's 👍/👎 on a turn; a 👎 is also recorded as a gap."""
    if rating not in RATINGS:
        raise UsageError(f"unknown rating {rating!r}", hint="use 'up' or 'down'", reference="bad-rating")
    row = _turn_row(store, thread_id, seq)
    if row is None:
        raise UsageError(
            f"thread {thread_id!r} has no turn {seq}",
            hint="`raybot threads show ID --json` lists the turns and their seq numbers",
            reference="turn-not-found",
        )
    comment = redact(comment)[:2000] if comment else None
    db = store.db()
    now = time.time()
    db.execute("begin immediate")
    try:
        db.execute(
            "insert into feedback (thread_id, seq, created_at, rating, source, voter, comment)"
            " values (?, ?, ?, ?, ?, ?, ?) on conflict(thread_id, seq, voter) do update set"
            " rating = excluded.rating, source = excluded.source, created_at = excluded.created_at,"
            " comment = coalesce(excluded.comment, feedback.comment)",
            (thread_id, seq, now, rating, source, voter, comment),
        )
        if rating == "down":
            entries = [[e, None] for e in json.loads(row[2])]
            question = row[0]
            if row[4] not in ("question", "new_topic") and seq > 1:
                # A follow-up ("yes, please") means little alone: keep what the thread was about.
                question = f"{row[5]} → {question}"
            db.execute(
                "insert or ignore into gaps (created_at, kind, thread_id, seq, question, confidence, entries)"
                " values (?, 'thumbs-down', ?, ?, ?, ?, ?)",
                (now, thread_id, seq, redact(question)[:4000], float(row[1]), json.dumps(entries[:5])),
            )
        db.execute("commit")
    except BaseException:
        db.execute("rollback")
        raise
    answer = store.db().execute("select answer from turns where thread_id = ? and seq = ?", (thread_id, seq))
    return Feedback(thread_id, seq, rating, source, now, row[0], answer.fetchone()[0], comment)


def remove_feedback(store: ThreadStore, thread_id: str, seq: int, *, voter: str, rating: str | None = None) -> bool:
    """Withdraw a vote (a removed reaction). The 👎 gap stays: it was a signal when it was given."""
    sql = "delete from feedback where thread_id = ? and seq = ? and voter = ?"
    args: tuple = (thread_id, seq, voter)
    if rating:
        sql += " and rating = ?"
        args += (rating,)
    return store.db().execute(sql, args).rowcount > 0


def list_feedback(store: ThreadStore, *, since: float = 0.0, rating: str | None = None) -> list[Feedback]:
    sql = (
        "select f.thread_id, f.seq, f.rating, f.source, f.created_at, t.question, t.answer, f.comment"
        " from feedback f join turns t on t.thread_id = f.thread_id and t.seq = f.seq where f.created_at >= ?"
    )
    args: list[Any] = [since]
    if rating:
        sql += " and f.rating = ?"
        args.append(rating)
    sql += " order by f.created_at desc"
    return [Feedback(*r) for r in store.db().execute(sql, args)]


# -- Slack bookkeeping ------------------------------------------------------------------------
def slack_thread(store: ThreadStore, team: str, channel: str, thread_ts: str) -> str | None:
    """The raybot thread behind a Slack thread, if the bot has answered in it."""
    row = (
        store.db()
        .execute(
            "select thread_id from slack_threads where team = ? and channel = ? and thread_ts = ?",
            (team, channel, thread_ts),
        )
        .fetchone()
    )
    return row[0] if row else None


def bind_slack_thread(store: ThreadStore, team: str, channel: str, thread_ts: str, thread_id: str) -> str:
    """Map a Slack thread to a raybot thread; returns the id that won if another process was first."""
    db = store.db()
    db.execute(
        "insert or ignore into slack_threads (team, channel, thread_ts, thread_id, created_at) values (?, ?, ?, ?, ?)",
        (team, channel, thread_ts, thread_id, time.time()),
    )
    return slack_thread(store, team, channel, thread_ts) or thread_id


def record_slack_post(store: ThreadStore, channel: str, ts: str, thread_id: str, seq: int) -> None:
    store.db().execute(
        "insert or replace into slack_posts (channel, ts, thread_id, seq) values (?, ?, ?, ?)",
        (channel, ts, thread_id, seq),
    )


def slack_post_turn(store: ThreadStore, channel: str, ts: str) -> tuple[str, int] | None:
    row = store.db().execute("select thread_id, seq from slack_posts where channel = ? and ts = ?", (channel, ts))
    found = row.fetchone()
    return (found[0], found[1]) if found else None


def claim_slack_event(store: ThreadStore, *keys: str) -> bool:
    """True the first time any of ``keys`` is seen (event ids, message ids); False for a retry
    or a second delivery of the same message. Claims are kept for a week."""
    db = store.db()
    now = time.time()
    db.execute("begin immediate")
    try:
        db.execute("delete from slack_events where received_at < ?", (now - 7 * 86400,))
        seen = any(db.execute("select 1 from slack_events where key = ?", (k,)).fetchone() for k in keys)
        if not seen:
            db.executemany("insert into slack_events (key, received_at) values (?, ?)", [(k, now) for k in keys])
        db.execute("commit")
    except BaseException:
        db.execute("rollback")
        raise
    return not seen


def parse_since(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w`` or an ISO date -> a UNIX time (0 for ``all``)."""
    text = (text or "").strip().lower()
    if text in ("", "all"):
        return 0.0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhdw])", text)
    if m:
        unit = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[m.group(2)]
        return time.time() - float(m.group(1)) * unit
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise UsageError(
            f"cannot read --since {text!r}",
            hint="use a duration such as 30d, 12h, 2w, an ISO date such as 2026-11-01, or 'all'",
            reference="bad-since",
        ) from None
