"""A long chat costs the same per turn: only the turns stored since the last one are read, and
the topic state is folded incrementally (it must equal the state computed from all turns)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raybot.answer import Offer
from raybot.assistant import TopicState, advance, topic_state
from raybot.retrieve import prepare_query
from raybot.threads import Thread, ThreadStore, Turn


def reference_state(thread: Thread) -> TopicState:
    """The topic state computed from the whole thread at once (the definition)."""
    st_ = TopicState()
    if not thread.turns:
        return st_
    last = thread.turns[-1]
    # Turns store the offer as a dict; the topic state holds the typed Offer.
    st_.offer, st_.in_scope, st_.confidence, st_.entry = (
        Offer.from_dict(last.offer),
        last.in_scope,
        last.confidence,
        last.topic,
    )
    st_.last_code = next((t.question for t in reversed(thread.turns) if prepare_query(t.question).has_code), None)
    for turn in thread.turns:
        for entry_id, names in turn.sections.items():
            st_.seen.setdefault(entry_id, set()).update(names)
    for turn in reversed(thread.turns):
        if turn.topic != st_.entry:
            break
        if st_.entry:
            st_.shown.update(turn.sections.get(st_.entry, []))
    return st_


entries = st.sampled_from(["a", "b", None])
turns = st.builds(
    lambda q, topic, secs, offer: Turn(
        question=q,
        answer="x",
        topic=topic,
        sections=dict(secs),
        offer={"entry": "a", "section": offer, "text": "?"} if offer else None,
    ),
    q=st.sampled_from(["why?", "yes please", "```python\n@ray.remote\ndef f(): pass\n```", "show me code"]),
    topic=entries,
    secs=st.dictionaries(st.sampled_from(["a", "b"]), st.lists(st.sampled_from(["Answer", "Details", "Steps"]))),
    offer=st.sampled_from([None, "Steps", "Example"]),
)


@settings(max_examples=200, deadline=None)
@given(history=st.lists(turns, max_size=12), split=st.integers(min_value=0, max_value=12))
def test_incremental_state_equals_the_whole_thread_state(history, split):
    thread = Thread("t", "t", 0.0, 0.0, turns=history)
    folded = advance(topic_state(Thread("t", "t", 0.0, 0.0, turns=history[:split])), history[split:])
    assert folded == reference_state(thread)


@pytest.mark.model
def test_chat_reads_only_new_turns(assistant, raybot_home, monkeypatch):
    store: ThreadStore = assistant._store
    for i in range(300):
        store.add_turn("long", Turn(f"old question {i}", "old answer", topic="num-workers-soft-limit"))
    loaded: list[int] = []
    real_load = ThreadStore.load

    def counting_load(self, thread_id, *, after_seq=0):
        thread = real_load(self, thread_id, after_seq=after_seq)
        loaded.append(len(thread.turns))
        return thread

    monkeypatch.setattr(ThreadStore, "load", counting_load)
    for question in ("why is ray::IDLE using memory?", "yes please", "show me code", "thanks"):
        answer = assistant.ask(question, thread_id="long")
        assert answer.saved
    assert loaded[0] == 300  # the first turn of the session reads the thread once
    assert all(n <= 1 for n in loaded[1:]), loaded  # later turns read only the turn saved since
    assert len(real_load(store, "long").turns) == 304
