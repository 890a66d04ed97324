"""Markdown -> Slack mrkdwn / Block Kit, Slack's escaping, and splitting within Slack's limits."""

from __future__ import annotations

import json

from raybot import slack_format as fmt


def test_escape_order_and_markup_cannot_be_injected():
    assert fmt.escape("a & b < c > d &amp;") == "a &amp; b &lt; c &gt; d &amp;amp;"
    out = fmt.markdown_to_mrkdwn("I read: <!channel> <@U123> & <https://evil.example|click>")
    assert "<!channel>" not in out and "<@U123>" not in out
    assert "&lt;!channel&gt;" in out and "&amp;" in out


def test_inline_spans_headings_lists_code_and_tables():
    md = (
        "### A *title*\n\n"
        "Set **`num_workers_soft_limit`** to 0, see [the docs](https://docs.ray.io/x?a=1&b=2) or "
        "<https://github.com/ray-project/ray/pull/36766>. It is *not* reaped.\n\n"
        "- one `a<b`\n  - nested\n\n"
        "```python runnable\nif a < b and c > d:\n    pass\n```\n\n"
        "| setting | default |\n|---|---|\n| interval | 200 |\n"
    )
    out = fmt.markdown_to_mrkdwn(md)
    assert out.startswith("*A _title_*")
    assert "*`num_workers_soft_limit`*" in out
    assert "<https://docs.ray.io/x?a=1&b=2|the docs>" in out
    assert "<https://github.com/ray-project/ray/pull/36766>" in out
    assert "_not_" in out
    assert "• one `a&lt;b`" in out and "  • nested" in out
    assert "```\nif a &lt; b and c &gt; d:\n    pass\n```" in out  # the language tag is dropped
    assert "```\n| setting | default |\n| interval | 200 |\n```" in out


def test_split_respects_limits_and_keeps_code_blocks_closed():
    paragraphs = [f"Paragraph {i}: " + "word " * 120 for i in range(30)]
    code = "```\n" + "\n".join(f"line {i} = {i} * 2" for i in range(400)) + "\n```"
    text = "\n\n".join(paragraphs[:15]) + "\n\n" + code + "\n\n" + "\n\n".join(paragraphs[15:])
    pieces = fmt.split_mrkdwn(text)
    assert len(pieces) > 5
    assert all(len(p) <= fmt.SECTION_LIMIT for p in pieces)
    for p in pieces:
        assert p.count("```") % 2 == 0, p[:80]  # every piece opens and closes its own code block
    joined = "\n".join(pieces)
    for i in range(400):
        assert f"line {i} = {i} * 2" in joined
    for i in range(30):
        assert f"Paragraph {i}:" in joined
    long_line = "x" * 7000
    assert all(len(p) <= fmt.SECTION_LIMIT for p in fmt.split_mrkdwn(long_line))
    assert "".join(fmt.split_mrkdwn(long_line)) == long_line


def test_answer_messages_sources_context_and_buttons():
    doc = {
        "thread_id": "01abc",
        "answer": "The answer.\n\n**Sources:**\n- Ray docs: <https://docs.ray.io/a>\n- PR: <https://github.com/x/y/pull/1>\n\n"
        "Would you like step-by-step instructions?",
        "in_scope": True,
        "sources": [
            {"title": "Ray docs", "url": "https://docs.ray.io/a"},
            {"title": "PR <1>", "url": "https://github.com/x/y/pull/1"},
        ],
    }
    (msg,) = fmt.answer_messages(doc, 3)
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds == ["section", "context", "actions"]
    body = msg["blocks"][0]["text"]["text"]
    assert "Sources" not in body and "Would you like step-by-step instructions?" in body
    ctx = msg["blocks"][1]["elements"][0]["text"]
    assert ctx.startswith("Sources: <https://docs.ray.io/a|Ray docs>") and "PR &lt;1&gt;" in ctx
    buttons = msg["blocks"][2]["elements"]
    assert [b["action_id"] for b in buttons] == [fmt.ACTION_UP, fmt.ACTION_DOWN]
    assert {b["value"] for b in buttons} == {"01abc:3"}
    assert msg["text"].startswith("The answer.")


def test_long_answers_split_into_messages_within_slack_limits():
    md = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 200 for i in range(40))  # ~100 kB
    doc = {"thread_id": "t", "answer": md, "in_scope": True, "sources": [{"title": "s", "url": "https://x.y"}]}
    msgs = fmt.answer_messages(doc, 1)
    assert len(msgs) > 1
    for m in msgs:
        assert len(m["blocks"]) <= fmt.MAX_BLOCKS
        text_size = sum(len(b["text"]["text"]) for b in m["blocks"] if b["type"] == "section")
        assert text_size <= fmt.MESSAGE_TEXT_BUDGET
        assert all(len(b["text"]["text"]) <= fmt.SECTION_LIMIT for b in m["blocks"] if b["type"] == "section")
        assert len(m["text"]) <= fmt.FALLBACK_CHARS
    assert [b["type"] for b in msgs[-1]["blocks"]][-2:] == ["context", "actions"]
    assert all(b["type"] == "section" for m in msgs[:-1] for b in m["blocks"])
    everything = json.dumps(msgs)
    for i in range(40):
        assert f"Paragraph {i}:" in everything


def test_declined_answer_is_marked_and_has_buttons():
    doc = {"thread_id": "t", "answer": "Not covered.", "in_scope": False, "sources": []}
    (msg,) = fmt.answer_messages(doc, 1)
    assert msg["blocks"][0]["text"]["text"].startswith("_(not covered by my knowledge base)_")
    assert [b["type"] for b in msg["blocks"]] == ["section", "actions"]


def test_manifest_subscribes_to_what_the_bot_handles():
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parent.parent / "slack" / "manifest.yaml").read_text())
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"] is True
    events = set(settings["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.channels", "message.im", "reaction_added", "reaction_removed"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "channels:history", "im:history", "reactions:read"} <= scopes
    assert "request_url" not in settings["event_subscriptions"]  # Socket Mode: no public URL


def test_a_hedged_answer_says_how_sure_it_is_in_a_context_line_above_the_answer():
    doc = {
        "thread_id": "01abc",
        "answer": "The answer.",
        "in_scope": True,
        "hedge": "Not sure this answers your question: confidence 0.62, about 6 in 10 <were> right.",
        "sources": [{"title": "Ray docs", "url": "https://docs.ray.io/a"}],
    }
    (msg,) = fmt.answer_messages(doc, 3)
    assert [b["type"] for b in msg["blocks"]] == ["context", "section", "context", "actions"]
    hedge = msg["blocks"][0]["elements"][0]["text"]
    assert hedge.startswith("Not sure this answers") and "&lt;were&gt;" in hedge
    assert msg["text"] == "The answer."  # the notification shows the answer, not the warning
    # A long answer split over several messages: the warning opens the first one only.
    long_doc = dict(doc, answer="\n\n".join(f"Paragraph {i}. " + "word " * 400 for i in range(12)))
    msgs = fmt.answer_messages(long_doc, 3)
    assert len(msgs) > 1 and msgs[0]["blocks"][0]["type"] == "context"
    assert all(b["type"] != "context" or "Ray docs" in str(b) for m in msgs[1:] for b in m["blocks"])
    (plain,) = fmt.answer_messages(dict(doc, hedge=None), 3)
    assert [b["type"] for b in plain["blocks"]] == ["section", "context", "actions"]
