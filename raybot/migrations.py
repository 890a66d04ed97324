"""Append-only, named schema migrations for the thread store.

A shipped migration is never edited: change the schema by appending a new function.
``migrate(db)`` records each applied function's name in ``_raybot_migrations``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []
migration = MIGRATIONS.append


@migration
def m001_threads(db: sqlite3.Connection) -> None:
    db.execute(
        """create table threads (
            id text primary key,
            title text not null,
            created_at real not null,
            updated_at real not null
        )"""
    )


@migration
def m002_turns(db: sqlite3.Connection) -> None:
    db.execute(
        """create table turns (
            id integer primary key autoincrement,
            thread_id text not null references threads(id) on delete cascade,
            seq integer not null,
            created_at real not null,
            question text not null,
            answer text not null,
            intent text not null,
            in_scope integer not null,
            confidence real not null,
            topic text,
            entries text not null,         -- JSON list of entry ids shown
            sections text not null,        -- JSON {entry id: [sections shown]}
            offer text,                    -- JSON {entry, section, text} offered at the end, or null
            unique (thread_id, seq)
        )"""
    )
    db.execute("create index turns_thread on turns(thread_id, seq)")


@migration
def m003_turns_fts(db: sqlite3.Connection) -> None:
    db.execute("create virtual table turns_fts using fts5(question, answer, content='turns', content_rowid='id')")
    db.execute(
        """create trigger turns_ai after insert on turns begin
            insert into turns_fts(rowid, question, answer) values (new.id, new.question, new.answer);
        end"""
    )
    db.execute(
        """create trigger turns_ad after delete on turns begin
            insert into turns_fts(turns_fts, rowid, question, answer)
                values ('delete', old.id, old.question, old.answer);
        end"""
    )


@migration
def m004_feedback_gaps_slack(db: sqlite3.Connection) -> None:
    """Feedback on turns, recorded knowledge gaps, and the Slack bot's bookkeeping."""
    db.execute(
        """create table feedback (
            id integer primary key autoincrement,
            thread_id text not null,
            seq integer not null,
            created_at real not null,
            rating text not null check (rating in ('up', 'down')),
            source text not null,          -- 'slack-button', 'slack-reaction', 'http', ...
            voter text not null,           -- a one-way hash of who voted, never a name or token
            comment text,
            unique (thread_id, seq, voter)
        )"""
    )
    db.execute("create index feedback_turn on feedback(thread_id, seq)")
    db.execute(
        """create table gaps (
            id integer primary key autoincrement,
            created_at real not null,
            kind text not null,            -- 'declined', 'low-confidence', 'thumbs-down'
            thread_id text not null,
            seq integer not null,
            question text not null,        -- redacted: no tokens or secrets
            confidence real not null,
            entries text not null,         -- JSON [[entry id, score], ...] of the nearest entries
            unique (thread_id, seq, kind)
        )"""
    )
    db.execute("create index gaps_created on gaps(created_at)")
    db.execute(
        """create table slack_threads (
            team text not null,
            channel text not null,
            thread_ts text not null,
            thread_id text not null,
            created_at real not null,
            primary key (team, channel, thread_ts)
        )"""
    )
    db.execute(
        """create table slack_posts (
            channel text not null,
            ts text not null,
            thread_id text not null,
            seq integer not null,
            primary key (channel, ts)
        )"""
    )
    db.execute("create table slack_events (key text primary key, received_at real not null)")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order; returns the names applied now.

    Runs inside the caller's transaction: the thread store calls it under ``begin immediate``
    so that two processes opening a new store do not both create the tables.
    """
    db.execute("create table if not exists _raybot_migrations (name text primary key, applied_at real not null)")
    done = {row[0] for row in db.execute("select name from _raybot_migrations")}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        fn(db)
        db.execute("insert into _raybot_migrations (name, applied_at) values (?, ?)", (fn.__name__, time.time()))
        applied.append(fn.__name__)
    return applied
