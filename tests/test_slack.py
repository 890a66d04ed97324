"""`raybot slack` end to end: the real slack-bolt app and slack-sdk Socket Mode client against local
stand-ins for Slack's Web API (HTTP) and Socket Mode (WebSocket), all on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
import slack_standin as sl

pytestmark = pytest.mark.model

CHANNEL = "C0HELP01"
USER = "U0ASKER1"


@pytest.fixture
def slack(shipped_retriever, tmp_path):
    from raybot.service import Service
    from raybot.slack_bot import SlackBot
    from raybot.threads import ThreadStore

    ws = sl.SocketModeServer()
    api = sl.WebAPI(ws.url)
    service = Service(retriever=shipped_retriever, store=ThreadStore(tmp_path / "threads.db"))
    service.call(service.warm)
    bot = SlackBot(service, bot_token=sl.BOT_TOKEN, api_url=api.url)
    handler = bot.socket_mode_handler(sl.APP_TOKEN)
    handler.connect()
    assert ws.connected.wait(15)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.ws, ctx.api, ctx.service, ctx.bot = ws, api, service, bot
    yield ctx
    handler.close()
    ws.close()
    api.close()
    service.close()


_ts = iter(range(100, 100000))


def new_ts() -> str:
    return f"1700000000.{next(_ts):06d}"


def mention(text: str, *, ts: str | None = None, thread_ts: str | None = None) -> dict:
    ev = {
        "type": "app_mention",
        "user": USER,
        "text": f"<@{sl.BOT_USER}> {text}",
        "ts": ts or new_ts(),
        "channel": CHANNEL,
    }
    if thread_ts:
        ev["thread_ts"] = thread_ts
    ev["event_ts"] = ev["ts"]
    return ev


def message(text: str, *, channel: str = CHANNEL, thread_ts: str | None = None, channel_type: str = "channel") -> dict:
    ts = new_ts()
    ev = {"type": "message", "user": USER, "text": text, "ts": ts, "channel": channel, "channel_type": channel_type}
    if thread_ts:
        ev["thread_ts"] = thread_ts
    ev["event_ts"] = ts
    return ev


def wait_posts(api: sl.WebAPI, n: int, timeout: float = 30) -> list[dict]:
    end = time.time() + timeout
    while time.time() < end:
        posts = api.posts()
        if len(posts) >= n:
            return posts
        time.sleep(0.02)
    raise AssertionError(f"expected {n} chat.postMessage calls, got {len(api.posts())}")


def raybot_thread(service, thread_ts: str) -> str:
    from raybot import records

    return service.call(records.slack_thread, service.store, sl.TEAM, CHANNEL, thread_ts)


def test_mention_answers_in_thread_retry_once_follow_up_continues(slack):
    ws, api, service = slack.ws, slack.api, slack.service
    first = mention("Why are my ray::IDLE processes not releasing memory?")
    env = sl.event_envelope(first)
    ws.push(env)
    assert ws.wait_ack(env["envelope_id"]) < 2
    (post,) = wait_posts(api, 1)
    args = post["args"]
    assert post["token"] == sl.BOT_TOKEN
    assert args["channel"] == CHANNEL and args["thread_ts"] == first["ts"]  # in the thread of the mention
    blocks = args["blocks"]
    assert blocks[0]["type"] == "section" and "num_workers_soft_limit" in blocks[0]["text"]["text"]
    assert [b["type"] for b in blocks[-2:]] == ["context", "actions"]
    offer = service.call(service.thread, raybot_thread(service, first["ts"])).turns[0].offer
    assert offer and offer["text"] in blocks[-3]["text"]["text"]  # the offer, which "yes, please" accepts

    # Slack retries the same event (same event_id): it is acknowledged but answered only once.
    retry = sl.event_envelope(first, event_id=env["payload"]["event_id"], retry_attempt=1)
    ws.push(retry)
    ws.wait_ack(retry["envelope_id"])
    # The same message also arrives as a `message` event (a second delivery): no second answer.
    dup = message(first["text"])
    dup["ts"] = first["ts"]
    ws.push(sl.event_envelope(dup))

    # A later mention in the thread continues the same raybot thread.
    follow = mention("yes, please", thread_ts=first["ts"])
    ws.push(sl.event_envelope(follow))
    posts = wait_posts(api, 2)
    time.sleep(0.5)
    posts = api.posts()
    assert len(posts) == 2, [p["args"].get("text") for p in posts]
    assert posts[1]["args"]["thread_ts"] == first["ts"]
    tid = raybot_thread(service, first["ts"])
    thread = service.call(service.thread, tid)
    assert [t.question for t in thread.turns] == ["Why are my ray::IDLE processes not releasing memory?", "yes, please"]
    assert thread.turns[1].intent == "affirm"
    assert thread.turns[1].topic == thread.turns[0].offer["entry"]

    # A plain reply (no mention) in the answered thread continues it as well...
    ws.push(sl.event_envelope(message("thanks, and how do I set it on a running cluster?", thread_ts=first["ts"])))
    posts = wait_posts(api, 3)
    assert posts[2]["args"]["thread_ts"] == first["ts"]
    assert len(service.call(service.thread, tid).turns) == 3
    # ...but a reply in a Slack thread raybot never answered is none of its business.
    ws.push(sl.event_envelope(message("unrelated chatter", thread_ts="1600000000.000001")))
    time.sleep(1.0)
    assert len(api.posts()) == 3


def test_thumbs_down_button_and_reaction_are_stored(slack):
    from raybot import records

    ws, api, service = slack.ws, slack.api, slack.service
    first = mention("what does kill_idle_workers_interval_ms=0 do?")
    ws.push(sl.event_envelope(first))
    (post,) = wait_posts(api, 1)
    buttons = post["args"]["blocks"][-1]["elements"]
    down = next(b for b in buttons if b["action_id"] == "raybot_down")
    tid = raybot_thread(service, first["ts"])
    assert down["value"] == f"{tid}:1"
    reply_ts = f"1800000000.{1:06d}"  # the stand-in's ts of the bot's reply
    act = sl.action_envelope(
        "raybot_down", down["value"], user=USER, channel=CHANNEL, message_ts=reply_ts, thread_ts=first["ts"]
    )
    ws.push(act)
    ws.wait_ack(act["envelope_id"])
    end = time.time() + 10
    while time.time() < end and not service.call(records.list_feedback, service.store):
        time.sleep(0.05)
    (fb,) = service.call(records.list_feedback, service.store)
    assert (fb.thread_id, fb.seq, fb.rating, fb.source) == (tid, 1, "down", "slack-button")
    gaps = service.call(records.list_gaps, service.store)
    assert [(g.kind, g.thread_id) for g in gaps] == [("thumbs-down", tid)]
    assert any(c["method"] == "chat.postEphemeral" for c in api.calls)

    # A 👍 reaction from another user on the bot's reply is stored with the same turn.
    react = {
        "type": "reaction_added",
        "user": "U0OTHER2",
        "reaction": "+1::skin-tone-2",
        "item": {"type": "message", "channel": CHANNEL, "ts": post_ts(api, 0)},
        "item_user": sl.BOT_USER,
        "event_ts": new_ts(),
    }
    ws.push(sl.event_envelope(react))
    end = time.time() + 10
    while time.time() < end and len(service.call(records.list_feedback, service.store)) < 2:
        time.sleep(0.05)
    ratings = sorted((f.rating, f.source) for f in service.call(records.list_feedback, service.store))
    assert ratings == [("down", "slack-button"), ("up", "slack-reaction")]


def post_ts(api: sl.WebAPI, i: int) -> str:
    # the stand-in numbers every posted message 1, 2, ...; find the i-th chat.postMessage's ts
    n = 0
    for c in api.calls:
        if c["method"] in ("chat.postMessage", "chat.postEphemeral"):
            n += 1
            if c["method"] == "chat.postMessage" and i == 0:
                return f"1800000000.{n:06d}"
            if c["method"] == "chat.postMessage":
                i -= 1
    raise AssertionError("no such post")


def test_ack_is_not_blocked_by_a_slow_answer(slack):
    ws, api, service = slack.ws, slack.api, slack.service
    service.submit(time.sleep, 3.0)  # the answering thread is busy, as with a slow answer
    env = sl.event_envelope(mention("what is OwnerDiedError?"))
    t0 = time.time()
    ws.push(env)
    assert ws.wait_ack(env["envelope_id"]) < 1.0
    wait_posts(api, 1)
    assert time.time() - t0 >= 2.5  # the answer came after the busy period, the ack long before


def test_direct_messages_are_one_thread_and_untrusted_text_is_escaped(slack):
    ws, api, service = slack.ws, slack.api, slack.service
    dm = "D0DIRECT1"
    ws.push(
        sl.event_envelope(
            message("Why are my ray::IDLE processes not releasing memory?", channel=dm, channel_type="im")
        )
    )
    (p1,) = wait_posts(api, 1)
    assert p1["args"]["channel"] == dm and p1["args"].get("thread_ts") is None  # top level in the DM
    ws.push(sl.event_envelope(message("yes, please", channel=dm, channel_type="im")))
    wait_posts(api, 2)
    from raybot import records

    tid = service.call(records.slack_thread, service.store, sl.TEAM, dm, "dm")
    turns = service.call(service.thread, tid).turns
    assert [t.intent for t in turns][1] == "affirm"

    # Text from Slack is cleaned (escape sequences, Slack markup) before the assistant reads it,
    # and anything echoed back is escaped: no @channel ping, no injected link.
    evil = mention("\x1b[31m<!channel> how do I run spark &amp; kubernetes jobs? <https://evil.example|click here>")
    ws.push(sl.event_envelope(evil))
    posts = wait_posts(api, 3)
    tid = raybot_thread(service, evil["ts"])
    q = service.call(service.thread, tid).turns[0].question
    assert "\x1b" not in q and "<!channel>" not in q and "&amp;" not in q
    assert "@channel" in q and "spark & kubernetes" in q and "click here (https://evil.example)" in q
    out = str(posts[2]["args"]["blocks"])
    assert "<!channel>" not in out and "<https://evil.example" not in out


def test_diagnose_needs_allow_diagnose(slack):
    ws, api = slack.ws, slack.api
    ws.push(sl.event_envelope(mention("diagnose")))
    (post,) = wait_posts(api, 1)
    text = str(post["args"]["blocks"])
    assert "turned off" in text and "--allow-diagnose" in text


#: Real-style questions answered from the kb with a confidence under tuning.HEDGE_BELOW (measured on
#: the shipped kb): the first one still below the bar is used, so a kb change that makes one of them
#: sure does not hide the check; all of them rising above it fails loudly, naming the reason.
UNSURE_QUESTIONS = (
    "how do I get callbacks for OOM events",
    "how can I know the source of an OOM",
    "ray fault tolerance strategy",
)


def test_an_unsure_answer_opens_with_the_not_sure_line_in_slack(slack):
    from raybot import tuning

    ws, api, service = slack.ws, slack.api, slack.service
    picked = None
    for q in UNSURE_QUESTIONS:
        doc = service.call(service.ask, q, None).to_dict()
        if doc["in_scope"] and doc["hedge"]:
            picked, expected = q, doc
            break
    assert picked, f"none of {UNSURE_QUESTIONS} is answered below {tuning.HEDGE_BELOW} any more: pick new ones"
    ev = mention(picked)
    ws.push(sl.event_envelope(ev))
    (post,) = wait_posts(api, 1)
    blocks = post["args"]["blocks"]
    assert blocks[0]["type"] == "context" and blocks[1]["type"] == "section"
    assert blocks[0]["elements"][0]["text"].startswith("Not sure this answers your question: confidence ")
    assert f"{expected['confidence']:.2f}" in blocks[0]["elements"][0]["text"]
    assert post["args"]["text"] != blocks[0]["elements"][0]["text"]  # the notification is the answer
    # A sure answer has no such line.
    sure = mention("Why are my ray::IDLE processes not releasing memory?")
    ws.push(sl.event_envelope(sure))
    posts = wait_posts(api, 2)
    assert "Not sure this answers" not in str(posts[1]["args"]["blocks"])
