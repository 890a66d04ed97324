"""``raybot slack``: the assistant as a Slack bot (slack-bolt, Socket Mode).

* ``app_mention`` in a channel: answer in the Slack thread (``thread_ts``). The Slack thread is
  bound to a raybot thread, keyed on (team, channel, thread_ts): later mentions *and* plain
  replies in a thread the bot has answered continue the same raybot thread, so "@raybot yes,
  please" delivers what the previous answer offered.
* Direct messages: one long raybot thread per DM conversation, or one per Slack thread when the
  user replies in a thread.
* Retries and double deliveries (``app_mention`` and ``message`` for the same message) are
  answered once: the event id and the message id are claimed in the store before answering.
* The ack never waits for an answer: bolt acknowledges events before it runs listeners, and
  answers run on the service's worker thread.
* 👍 / 👎 buttons under each answer, and 👍 / 👎 reactions on it, are stored with the turn.
* ``@raybot diagnose`` diagnoses the cluster the bot runs on, only with ``--allow-diagnose``.
"""

from __future__ import annotations

import logging
from typing import Any

from raybot import slack_format as fmt
from raybot.errors import RaybotError, UsageError

DEFAULT_API_URL = "https://slack.com/api/"
DM_THREAD = "dm"  #: the thread_ts key of a DM conversation outside Slack threads
UP_REACTIONS = {"+1", "thumbsup"}
DOWN_REACTIONS = {"-1", "thumbsdown"}

HELP = (
    "I answer questions about Ray's idle worker processes (`ray::IDLE`), worker-pool settings, "
    "memory held by workers, the OOM killer, ownership and reference-counting errors and autoscaler "
    "idleness, with sources. Mention me with a question, e.g. `@raybot why are my ray::IDLE processes "
    "not releasing memory?`, and reply in the thread to follow up."
)
DIAGNOSE_OFF = (
    "Diagnosing the cluster is turned off for this bot. The operator can enable it by starting the "
    "bot with `raybot slack --allow-diagnose` on a machine that can reach the Ray cluster. Meanwhile, "
    "run `raybot diagnose` yourself, or paste the output of `ray status` here."
)


def reaction_rating(name: str) -> str | None:
    base = name.split("::")[0]  # "+1::skin-tone-3"
    if base in UP_REACTIONS:
        return "up"
    if base in DOWN_REACTIONS:
        return "down"
    return None


class SlackBot:
    def __init__(
        self,
        service,
        *,
        bot_token: str,
        api_url: str | None = None,
        allow_diagnose: bool = False,
        logger: logging.Logger | None = None,
    ):
        from slack_bolt import App
        from slack_sdk import WebClient

        self.service = service
        self.allow_diagnose = allow_diagnose
        self.service.allow_diagnose = allow_diagnose
        base = (api_url or DEFAULT_API_URL).rstrip("/") + "/"
        self.logger = logger or logging.getLogger("raybot.slack")
        self.client = WebClient(token=bot_token, base_url=base, logger=self.logger)
        self.app = App(client=self.client, logger=self.logger, process_before_response=False)
        self._register()

    # -- wiring ------------------------------------------------------------------------------------
    def _register(self) -> None:
        app = self.app

        @app.event("app_mention")
        def on_mention(body, event, context):
            self.handle_message(body, event, context.get("bot_user_id"), mention=True)

        @app.event("message")
        def on_message(body, event, context):
            bot = context.get("bot_user_id")
            if event.get("subtype") or event.get("bot_id") or (bot and event.get("user") == bot):
                return  # edits, joins, bot posts (ours included)
            is_dm = event.get("channel_type") == "im"
            if not is_dm and bot and f"<@{bot}" in (event.get("text") or ""):
                return  # a mention: the app_mention event answers it
            self.handle_message(body, event, bot, mention=False)

        @app.event("reaction_added")
        def on_reaction_added(body, event):
            self.handle_reaction(body, event, added=True)

        @app.event("reaction_removed")
        def on_reaction_removed(body, event):
            self.handle_reaction(body, event, added=False)

        @app.action(fmt.ACTION_UP)
        def on_up(ack, body, action):
            ack()
            self.handle_button(body, action, "up")

        @app.action(fmt.ACTION_DOWN)
        def on_down(ack, body, action):
            ack()
            self.handle_button(body, action, "down")

    def socket_mode_handler(self, app_token: str):
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        return SocketModeHandler(self.app, app_token, logger=self.logger)

    # -- messages ----------------------------------------------------------------------------------
    def handle_message(self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None, *, mention: bool):
        team = body.get("team_id") or event.get("team") or ""
        channel = event.get("channel") or ""
        ts = event.get("ts") or ""
        if not channel or not ts:
            return
        thread_ts = event.get("thread_ts")
        is_dm = event.get("channel_type") == "im" or channel.startswith("D")
        key_ts = thread_ts or (DM_THREAD if is_dm else ts)
        reply_ts = thread_ts or (None if is_dm else ts)
        text = fmt.clean_incoming(event.get("text") or "", bot_user_id)
        event_id = body.get("event_id") or f"{channel}:{ts}"
        decision = self.service.call(self._claim, team, channel, key_ts, ts, event_id, start=mention or is_dm)
        if decision is None:
            return
        thread_id = decision
        words = text.lower().split()
        if words[:1] == ["diagnose"]:
            if self.allow_diagnose:
                self._diagnose(team, channel, key_ts, reply_ts)
            else:
                self._post(channel, reply_ts, fmt.text_messages(DIAGNOSE_OFF), thread_id=None, seq=None)
            return
        if not text.strip() or words in (["help"], ["hi"], ["hello"]):
            self._post(channel, reply_ts, fmt.text_messages(HELP), thread_id=None, seq=None)
            return
        try:
            doc, seq = self.service.call(self._answer, text, thread_id)
        except RaybotError as exc:
            msg = f"*{fmt.escape(exc.reference)}*: {exc.message}" + (f"\n{exc.hint}" if exc.hint else "")
            self._post(channel, reply_ts, fmt.text_messages(msg), thread_id=None, seq=None)
            return
        self._post(channel, reply_ts, fmt.answer_messages(doc, seq), thread_id=thread_id, seq=seq)

    def _claim(self, team, channel, key_ts, ts, event_id, *, start: bool) -> str | None:
        """On the worker thread: the raybot thread to answer in, or None (not ours, or a retry)."""
        from raybot import records
        from raybot.threads import new_thread_id

        store = self.service.store
        existing = records.slack_thread(store, team, channel, key_ts)
        if existing is None and not start:
            return None  # a plain reply in a Slack thread raybot never answered
        if not records.claim_slack_event(store, f"event:{event_id}", f"msg:{team}:{channel}:{ts}"):
            return None
        return existing or records.bind_slack_thread(store, team, channel, key_ts, new_thread_id())

    def _answer(self, text: str, thread_id: str) -> tuple[dict[str, Any], int | None]:
        """On the worker thread: one turn, as the ``raybot ask --json`` document, and its seq."""
        answer = self.service.ask(text, thread_id)
        store = self.service.store
        row = store.db().execute("select max(seq) from turns where thread_id = ?", (thread_id,)).fetchone()
        seq = row[0] if row and row[0] is not None else None
        doc = answer.to_dict()
        if not doc.get("saved", True):
            seq = None  # the turn is not in the store: no buttons, nothing to attach votes to
        return doc, seq

    def _post(self, channel: str, thread_ts: str | None, messages, *, thread_id: str | None, seq: int | None):
        if not messages:
            return
        posted = []
        for m in messages:
            resp = self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=m["text"],
                blocks=m["blocks"],
                unfurl_links=False,
                unfurl_media=False,
            )
            if resp.get("ts"):
                posted.append(resp["ts"])
        if thread_id and seq is not None and posted:
            from raybot import records

            def remember():
                for ts in posted:
                    records.record_slack_post(self.service.store, channel, ts, thread_id, seq)

            self.service.call(remember)

    def _diagnose(self, team: str, channel: str, key_ts: str, reply_ts: str | None) -> None:

        try:
            doc = self.service.diagnose_doc()
        except RaybotError as exc:
            msg = f"I could not diagnose the cluster ({exc.reference}): {exc.message}"
            self._post(channel, reply_ts, fmt.text_messages(msg), thread_id=None, seq=None)
            return
        tid = doc.get("thread_id")

        def rebind():
            if tid:  # "why?" in this Slack thread continues from the findings
                store = self.service.store
                store.db().execute(
                    "insert or replace into slack_threads (team, channel, thread_ts, thread_id, created_at)"
                    " values (?, ?, ?, ?, strftime('%s','now'))",
                    (team, channel, key_ts, tid),
                )
                return store.load(tid).turns[0].answer
            return None

        summary = self.service.call(rebind) or "The diagnosis finished; see `raybot diagnose` for details."
        self._post(channel, reply_ts, fmt.text_messages(summary), thread_id=tid, seq=1 if tid else None)

    # -- feedback ----------------------------------------------------------------------------------
    def handle_reaction(self, body: dict[str, Any], event: dict[str, Any], *, added: bool) -> None:
        from raybot import records

        rating = reaction_rating(event.get("reaction", ""))
        item = event.get("item") or {}
        if rating is None or item.get("type") != "message":
            return
        team = body.get("team_id") or ""
        voter = records.voter_hash(team, event.get("user", ""))

        def store_it():
            found = records.slack_post_turn(self.service.store, item.get("channel", ""), item.get("ts", ""))
            if found is None:
                return None  # a reaction on some other message
            if added:
                return self.service.feedback(found[0], found[1], rating, source="slack-reaction", voter=voter)
            return records.remove_feedback(self.service.store, found[0], found[1], voter=voter, rating=rating)

        self.service.call(store_it)

    def handle_button(self, body: dict[str, Any], action: dict[str, Any], rating: str) -> None:
        from raybot import records

        value = action.get("value") or ""
        thread_id, _, seq = value.rpartition(":")
        team = (body.get("team") or {}).get("id", "")
        user = (body.get("user") or {}).get("id", "")
        try:
            if not seq.isdigit():
                raise UsageError(f"bad feedback value {value!r}", reference="bad-feedback")
            self.service.call(
                self.service.feedback,
                thread_id,
                int(seq),
                rating,
                source="slack-button",
                voter=records.voter_hash(team, user),
            )
        except RaybotError as exc:
            self.logger.warning("feedback not stored: %s", exc.message)
            return
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        if channel and user:
            thanks = "Thanks, noted." if rating == "up" else "Thanks, noted: this goes on the list of gaps to fix."
            try:
                self.client.chat_postEphemeral(
                    channel=channel, user=user, text=thanks, thread_ts=message.get("thread_ts") or message.get("ts")
                )
            except Exception as exc:  # the vote is stored; a failed courtesy message changes nothing
                self.logger.info("could not confirm feedback: %s", exc)


def run(*, bot_token: str, app_token: str, api_url: str | None, allow_diagnose: bool) -> None:
    """``raybot slack``: connect with Socket Mode and answer until interrupted."""
    from raybot.service import get_service

    service = get_service(allow_diagnose=allow_diagnose)
    service.call(service.warm)
    bot = SlackBot(service, bot_token=bot_token, api_url=api_url, allow_diagnose=allow_diagnose)
    bot.socket_mode_handler(app_token).start()
