"""One turn of a conversation: thread state + intent + retrieval -> a composed, cited answer.

The flow is kb -> index -> retrieve -> answer -> thread: :class:`Assistant` loads the index
once (lazily), reads the thread's state (current topic, sections shown, last offer), decides
what the message asks for (:mod:`raybot.intents`), composes the answer from entries
(:mod:`raybot.answer`) and appends the turn to the thread store.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from raybot import answer as compose
from raybot import intents
from raybot.answer import Answer, Composed
from raybot.errors import StoreError, ThreadNotFound, UsageError
from raybot.retrieve import Hit, Query, prepare_query, tokenize
from raybot.threads import Thread, ThreadStore, Turn, check_thread_id, new_thread_id

#: Calibrated on tests/data/dev_questions.jsonl (see README "Quality"): below this
#: confidence raybot says the knowledge base does not cover the question.
IN_SCOPE_MIN = 0.5
DENSE_LOW, DENSE_HIGH = 0.40, 0.62
UNKNOWN_PENALTY = 0.25
SCOPE_MARGIN = 0.02
SWITCH_MARGIN = 0.02  #: a follow-up is its own question when another entry beats the topic by this much
OUT_OF_SCOPE_CAP = 0.3


def confidence(hit: Hit | None, unknown: list[str] | None = None, scope_sim: float = 0.0) -> float:
    """Map the best entry's similarity, exact identifier hits and out-of-scope evidence to 0..1.

    Dense similarity DENSE_LOW..DENSE_HIGH maps linearly to 0..1; an exact identifier match
    (a config name, error class, issue number) lifts it; each salient word the knowledge base
    never uses (``unknown``, at most two) lowers it; a question at least as close to an
    out-of-scope area (``kb/SCOPE.yaml``) as to the best entry is capped below the bar.
    """
    if hit is None:
        return 0.0
    conf = (hit.dense - DENSE_LOW) / (DENSE_HIGH - DENSE_LOW)
    conf = min(max(conf, 0.0), 1.0)
    if hit.exact:
        conf = max(conf, 0.55 + 0.1 * min(len(hit.exact), 3))
    else:
        if unknown:
            conf -= UNKNOWN_PENALTY * min(len(unknown), 2)
        if scope_sim >= hit.dense - SCOPE_MARGIN:
            conf = min(conf, OUT_OF_SCOPE_CAP)
    return float(min(max(conf, 0.0), 1.0))


_HOW_TO_SET = re.compile(
    r"\bhow (?:do|can|should|would) (?:i|we|you) (?:set|configure|change|enable|disable|apply|lower|raise|"
    r"increase|decrease|turn (?:on|off)|tune)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(not|never|no|doesn't|does not|don't|isn't|without|neither|nor)\b", re.I)


def mention_kind(text: str, needle: str) -> str | None:
    """Does an issue entry say the issue mentions ``needle`` ("mentions"), say it does *not*
    ("denies": every sentence naming it is negated, as in "the issue does not mention X"),
    or not name it at all (None)?"""
    if not needle:
        return None
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n", text) if needle in s.lower()]
    if not sentences:
        return None
    # Called only for issues whose own text does not list the term: an explicit denial in our
    # notes ("the issue does not mention X") wins over sentences that merely discuss X.
    if any(_NEGATION.search(s) and re.search(r"mention|name|contain|talk", s, re.I) for s in sentences):
        return "denies"
    return "mentions"


@dataclass
class TopicState:
    entry: str | None = None
    shown: set[str] = field(default_factory=set)
    offer: dict[str, str] | None = None
    in_scope: bool = True
    confidence: float = 0.0
    last_code: str | None = None  #: the most recent question in the thread that pasted code
    seen: dict[str, set[str]] = field(default_factory=dict)  #: every section shown in the thread, per entry


def topic_state(thread: Thread | None) -> TopicState:
    st = TopicState()
    if thread:
        advance(st, thread.turns)
    return st


def advance(st: TopicState, turns: list[Turn]) -> TopicState:
    """Fold more turns (in order) into ``st``; O(new turns), so a long chat costs the same per turn."""
    for turn in turns:
        if turn.topic != st.entry or not turn.topic:
            st.shown = set()
        st.offer = turn.offer
        st.in_scope = turn.in_scope
        st.confidence = turn.confidence
        st.entry = turn.topic
        if st.entry:
            st.shown.update(turn.sections.get(st.entry, []))
        if prepare_query(turn.question).has_code:
            st.last_code = turn.question
        for entry_id, names in turn.sections.items():
            st.seen.setdefault(entry_id, set()).update(names)
    return st


class Assistant:
    def __init__(self, retriever=None, store: ThreadStore | None = None, *, kb_dir=None, index_dir=None):
        self._retriever = retriever
        self._store = store
        self._kb_dir = kb_dir
        self._index_dir = index_dir
        self.notes: list[str] = []
        self._topic_for_issues: str | None = None
        self._state_cache: tuple[str, int, TopicState] | None = None

    @property
    def retriever(self):
        if self._retriever is None:
            from raybot.retrieve import open_retriever

            self._retriever = open_retriever(self._kb_dir, self._index_dir, notes=self.notes)
        return self._retriever

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.retriever.entries

    # -- threads --------------------------------------------------------------------
    def _load_state(self, thread_id: str | None, continue_: bool) -> tuple[str, TopicState]:
        """The thread id and its topic state. The state of the last thread used is kept and
        only the turns stored since are read, so each turn of a chat costs the same."""
        if thread_id is not None:
            check_thread_id(thread_id)
        if self._store is None:
            return thread_id or new_thread_id(), TopicState()
        try:
            if continue_ and thread_id is None:
                thread_id = self._store.latest_thread_id()
                if thread_id is None:
                    raise ThreadNotFound("there is no thread to continue yet", hint='start one with `raybot ask "..."`')
            if thread_id is None:
                return new_thread_id(), TopicState()
            cached = self._state_cache
            if cached is not None and cached[0] == thread_id:
                _, last_seq, state = cached
            elif self._store.exists(thread_id):
                last_seq, state = 0, TopicState()
            else:
                return thread_id, TopicState()
            try:
                new_turns = self._store.load(thread_id, after_seq=last_seq).turns
            except ThreadNotFound:  # deleted by someone else since the last turn
                self._state_cache = None
                return thread_id, TopicState()
            advance(state, new_turns)
            if new_turns:
                last_seq = new_turns[-1].seq
            self._state_cache = (thread_id, last_seq, state)
            return thread_id, copy.deepcopy(state)
        except StoreError as exc:
            self._store_failed(exc)
            return thread_id or new_thread_id(), TopicState()
        finally:
            self._collect_store_notes()

    def _collect_store_notes(self) -> None:
        if self._store is not None:
            self.notes.extend(self._store.notes)
            self._store.notes.clear()

    def _store_failed(self, exc: StoreError) -> None:
        self._collect_store_notes()
        self.notes.append(f"{exc.message} — answering without thread history; this turn is not saved.")
        self._store = None

    def _save(self, thread_id: str, ans: Answer) -> None:
        ans.saved = False
        if self._store is None:
            return
        turn = Turn(
            question=ans.question,
            answer=ans.answer,
            intent=ans.intent,
            in_scope=ans.in_scope,
            confidence=ans.confidence,
            topic=ans.topic,
            entries=ans.entries,
            sections=ans.sections,
            offer=ans.offer,
        )
        try:
            self._store.add_turn(thread_id, turn)
            ans.saved = True
            self._collect_store_notes()
            self._record_gap(thread_id, turn, ans)
        except StoreError as exc:
            self._store_failed(exc)
        except Exception as exc:  # sqlite3.Error and friends: never lose the answer itself
            import sqlite3

            if not isinstance(exc, sqlite3.Error):
                raise
            self.notes.append(f"The turn could not be saved to the thread store ({exc}).")

    def _record_gap(self, thread_id: str, turn: Turn, ans: Answer) -> None:
        """Declined and low-confidence turns are kept for `raybot gaps` (best effort)."""
        import sqlite3

        from raybot.records import record_turn_gap

        if self._store is None:
            return
        try:
            record_turn_gap(self._store, thread_id, turn, ans.hits)
        except sqlite3.Error:
            pass

    # -- the turn -------------------------------------------------------------------
    def ask(self, question: str, *, thread_id: str | None = None, continue_: bool = False) -> Answer:
        if question is None or not question.strip():
            raise UsageError(
                "the question is empty",
                hint='ask something, e.g. raybot ask "why is ray::IDLE using memory?"',
                reference="empty-question",
            )
        self.notes = []
        query = prepare_query(question)
        if not re.search(r"\w", query.text):
            raise UsageError(
                "the question has no words in it", hint="ask a question in words", reference="empty-question"
            )
        self.notes.extend(query.notes)
        tid, state = self._load_state(thread_id, continue_)
        intent = intents.classify(
            query.text,
            has_topic=state.entry is not None or state.offer is not None,
            has_code=query.has_code,
            thread_has_code=state.last_code is not None,
            strong_signals=len([s for s in query.signals if "_" in s or s.endswith("error") or s.isdigit()]),
        )
        ans = self._dispatch(tid, query, intent, state)
        ans.notes = list(self.notes)
        self._save(tid, ans)
        ans.notes = list(self.notes)
        return ans

    def _dispatch(self, tid: str, query: Query, intent: intents.Intent, state: TopicState) -> Answer:
        kind = intent.kind
        if kind == "affirm":
            return self._affirm(tid, query, state)
        if kind == "thanks":
            return self._thanks(tid, query, state)
        if kind == "nothing_pending" or (kind == "question" and not tokenize(query.text) and not query.signals):
            return self._nothing_to_answer(tid, query, kind)
        if kind == "section" and state.entry:
            return self._deliver(tid, query, state, state.entry, intent.section or "Details", kind)
        if kind == "versions" and state.entry:
            return self._versions(tid, query, state)
        if kind == "issues":
            self._topic_for_issues = state.entry if intents.is_leaning(query.text) else None
            return self._issues(tid, query, intent)
        if kind == "compare":
            return self._compare(tid, query, state)
        if kind == "contextual" and state.entry:
            return self._retrieve(tid, query, state, contextual=True, intent="contextual")
        if kind == "new_topic" and intent.text:
            query = prepare_query(intent.text)
        return self._retrieve(tid, query, TopicState(), contextual=False, intent=kind)

    def _answer(
        self,
        tid: str,
        query: Query,
        composed: Composed,
        *,
        intent: str,
        in_scope: bool,
        conf: float,
        topic: str | None,
        hits: list[Hit] | None = None,
    ) -> Answer:
        return Answer(
            thread_id=tid,
            question=query.raw,
            answer=composed.markdown,
            in_scope=in_scope,
            confidence=conf,
            entries=composed.entries,
            sources=composed.sources,
            follow_ups=[composed.offer["text"]] if composed.offer else [],
            intent=intent,
            topic=topic,
            sections=composed.sections,
            offer=composed.offer,
            hits=[h.to_dict() for h in hits or []],
        )

    def _code_findings_md(self, query: Query) -> tuple[str, list[str]]:
        from raybot.codecheck import check

        findings = check(query.raw)
        if not findings:
            return "", []
        lines = ["**In the code you pasted:**"]
        for f in findings:
            lines.append(f"- line {f.line}: {f.message} *Fix:* {f.fix} (see `{f.entry}`)")
        return "\n".join(lines), [f.entry for f in findings if f.entry in self.entries]

    def _retrieve(
        self, tid: str, query: Query, state: TopicState, *, contextual: bool, intent: str = "question"
    ) -> Answer:
        boost: dict[str, float] = {}
        search_query = query
        # Confidence is judged on the question alone, never on the thread's boost.
        unknown = self.retriever.unknown_terms(query) if not query.has_code else []
        alone = self.retriever.search(query, k=len(self.entries))
        alone_top = alone[0] if alone else None
        own_scope = self.retriever.scope_similarity(query)[0]
        alone_conf = confidence(alone_top, unknown, own_scope)
        if contextual and alone_top is not None:
            off_topic = bool(unknown) or own_scope >= alone_top.dense - SCOPE_MARGIN
            topic_alone = next((h.score for h in alone if h.entry == state.entry), 0.0)
            switch = (
                alone_conf >= 0.6 and alone_top.entry != state.entry and alone_top.score >= topic_alone + SWITCH_MARGIN
            )
            if off_topic or switch:
                # Either it names things outside the kb ("ok and ray data map_batches?") or it
                # is clearly about another entry ("how do I set the soft limit?"): answer it as
                # a question of its own.
                contextual = False
        if contextual and state.entry in self.entries:
            topic = self.entries[state.entry]
            boost[state.entry] = 0.03
            for rel in topic["related"]:
                boost[rel] = boost.get(rel, 0) + 0.02
            if re.search(r"\b(fix|workaround|avoid|solve|prevent|resolve)\b", query.text, re.I):
                for rel in topic["related"]:
                    if self.entries.get(rel, {}).get("kind") == "fix":
                        boost[rel] += 0.03
            search_query = Query(
                query.raw,
                query.text + " " + " ".join(query.signals),
                f"{query.dense_text} ({topic['title']})",
                query.signals,
                query.notes,
                query.has_code,
                query.asks_issue,
            )
        hits = self.retriever.search(search_query, k=5, boost=boost) if contextual else alone[:5]
        top = hits[0] if hits else None
        conf = alone_conf
        if contextual:
            conf = max(conf, min(state.confidence, 0.9))  # the thread vouches for a short follow-up
        findings_md, finding_entries = self._code_findings_md(query)
        if finding_entries and conf < IN_SCOPE_MIN:
            conf = max(conf, 0.6)
        if top is None or conf < IN_SCOPE_MIN:
            closest = [self.entries[h.entry] for h in hits[:3] if h.dense >= DENSE_LOW + 0.05]
            composed = compose.compose_out_of_scope(query.text, closest)
            return self._answer(tid, query, composed, intent=intent, in_scope=False, conf=conf, topic=None, hits=hits)

        entry_id = top.entry
        if finding_entries and top.entry not in finding_entries and not top.exact:
            entry_id = finding_entries[0]
        entry = self.entries[entry_id]
        shown = state.shown if (contextual and entry_id == state.entry) else set()
        sections = ["Answer", "Details"]
        if contextual and entry_id == state.entry:
            want = intents.wanted_section(query.text) or next(
                (s for s in ("Steps", "Details", "Example", "Caveats") if s in entry["sections"] and s not in shown),
                "Answer",
            )
            sections = [want]
        elif query.has_code and "Example" in entry["sections"] and entry["kind"] == "fix":
            sections = ["Answer", "Example"]
        elif _HOW_TO_SET.search(query.text) and "Steps" in entry["sections"]:
            sections = ["Answer", "Steps"]  # "how do I set X?" wants the steps, not the background
        see_also = []
        for h in hits[1:3]:
            if h.entry != entry_id and h.score >= hits[0].score * 0.92 and h.dense >= DENSE_HIGH - 0.05:
                see_also.append(self.entries[h.entry])
                break
        related = [self.entries[r] for r in entry["related"] if r in self.entries]
        composed = compose.compose_entry(
            entry,
            sections=sections,
            shown_before=shown,
            see_also=see_also,
            related=related,
            lead=findings_md or None,
        )
        return self._answer(tid, query, composed, intent=intent, in_scope=True, conf=conf, topic=entry_id, hits=hits)

    def _deliver(
        self,
        tid: str,
        query: Query,
        state: TopicState,
        entry_id: str,
        section: str,
        intent: str,
        lead: str | None = None,
    ) -> Answer:
        entry = self.entries.get(entry_id)
        if entry is None:  # the entry vanished from the kb since the offer was made
            return self._retrieve(tid, query, TopicState(), contextual=False)
        if intent == "section" and section != "Answer" and section in state.seen.get(entry_id, set()):
            offer = compose.next_offer(entry, state.seen.get(entry_id, set()) | state.shown)
            text = (
                f"I showed the {compose.SECTION_TITLES[section].lower()} of *{entry['title']}* earlier in "
                f"this thread (scroll up, or `raybot kb show {entry_id}`)."
            )
            if offer:
                text += f"\n\n{offer['text']}"
            composed = Composed(text, [entry_id], {entry_id: []}, compose.sources_of([entry]), offer)
            return self._answer(
                tid, query, composed, intent=intent, in_scope=state.in_scope, conf=state.confidence, topic=entry_id
            )
        if section == "Answer":  # an offered related topic: start it
            composed = compose.compose_entry(
                entry,
                sections=["Answer", "Details"],
                related=[self.entries[r] for r in entry["related"] if r in self.entries],
            )
            return self._answer(
                tid, query, composed, intent=intent, in_scope=True, conf=max(state.confidence, 0.6), topic=entry_id
            )
        target = entry
        if section not in entry["sections"]:
            # The topic has no such section: use the closest related entry that has one.
            alt = next(
                (
                    self.entries[r]
                    for r in entry["related"]
                    if r in self.entries and section in self.entries[r]["sections"]
                ),
                None,
            )
            if alt is None:
                text = (
                    f"The entry *{entry['title']}* has no {compose.SECTION_TITLES[section].lower()} "
                    "section, and none of its related entries has one."
                )
                offer = compose.next_offer(entry, state.shown)
                composed = Composed(
                    text + (f"\n\n{offer['text']}" if offer else ""),
                    [entry_id],
                    {entry_id: []},
                    compose.sources_of([entry]),
                    offer,
                )
                return self._answer(
                    tid, query, composed, intent=intent, in_scope=True, conf=state.confidence, topic=entry_id
                )
            lead = (
                lead or ""
            ) + f"*{entry['title']}* has no {compose.SECTION_TITLES[section].lower()}; this related entry does:"
            target = alt
        composed = compose.compose_entry(
            target,
            sections=[section],
            shown_before=state.shown if target is entry else set(),
            related=[self.entries[r] for r in target["related"] if r in self.entries],
            lead=lead,
            trim_details=False,
        )
        return self._answer(
            tid, query, composed, intent=intent, in_scope=state.in_scope, conf=state.confidence, topic=target["id"]
        )

    def _affirm(self, tid: str, query: Query, state: TopicState) -> Answer:
        if not state.in_scope or (state.offer is None and state.entry is None):
            composed = Composed(
                "There is nothing pending in this thread for me to continue. "
                + compose.SCOPE
                + "\n\nAsk a question, or `raybot search TEXT` to browse the entries.",
                [],
                {},
                [],
                None,
            )
            return self._answer(tid, query, composed, intent="affirm", in_scope=False, conf=0.0, topic=None)
        if state.offer:
            return self._deliver(tid, query, state, state.offer["entry"], state.offer["section"], "affirm")
        assert state.entry is not None  # no offer and no entry was answered above
        entry = self.entries[state.entry]
        offer = compose.next_offer(entry, state.shown)
        section = offer["section"] if offer else "Details"
        return self._deliver(tid, query, state, state.entry, section, "affirm")

    def _nothing_to_answer(self, tid: str, query: Query, kind: str) -> Answer:
        lead = (
            "There is nothing in this thread for me to continue yet."
            if kind == "nothing_pending"
            else "Could you say a bit more? That is too short for me to know what you are after."
        )
        text = (
            f"{lead} {compose.SCOPE}\n\nFor example:\n\n"
            '- "Why are my ray::IDLE processes not releasing memory?"\n'
            '- "What does kill_idle_workers_interval_ms=0 do?"\n'
            "- a pasted `ReferenceCountingAssertionError` or `OwnerDiedError`\n"
            "- `raybot diagnose` to check a running cluster"
        )
        return self._answer(
            tid, query, Composed(text, [], {}, [], None), intent=kind, in_scope=False, conf=0.0, topic=None
        )

    def _thanks(self, tid: str, query: Query, state: TopicState) -> Answer:
        text = "Glad it helped."
        if state.offer:
            text += f" {state.offer['text']}"
        else:
            text += " Ask a follow-up any time, or `raybot diagnose` to check a running cluster."
        composed = Composed(text, [], {}, [], state.offer)
        # Nothing was looked up: the turn keeps the thread's topic and pending offer.
        return self._answer(
            tid, query, composed, intent="thanks", in_scope=state.in_scope, conf=state.confidence, topic=state.entry
        )

    def _versions(self, tid: str, query: Query, state: TopicState) -> Answer:
        assert state.entry is not None  # dispatched only with a topic
        entry = self.entries[state.entry]
        lead_parts = []
        if entry.get("ray_versions"):
            lead_parts.append(f"**Versions:** {entry['ray_versions']}")
        else:
            lead_parts.append("This entry states no version differences; its facts were checked against Ray 2.60.0.")
        if "Caveats" in entry["sections"]:
            return self._deliver(tid, query, state, entry["id"], "Caveats", "versions", lead="\n\n".join(lead_parts))
        composed = Composed(
            "\n\n".join(lead_parts),
            [entry["id"]],
            {entry["id"]: []},
            compose.sources_of([entry]),
            compose.next_offer(entry, state.shown),
        )
        return self._answer(
            tid, query, composed, intent="versions", in_scope=True, conf=state.confidence, topic=entry["id"]
        )

    def _issues(self, tid: str, query: Query, intent: intents.Intent) -> Answer:
        term = intent.term
        issues = {k: v for k, v in self.entries.items() if v["kind"] == "issue" and v.get("issue")}
        exact: set[str] = set()
        denied: set[str] = set()
        if term:
            needle = term.lower().strip("`'\" ")
            for eid, e in issues.items():
                # What the issue itself says: its title and the verified `mentions` list. Our
                # own notes are not evidence that the issue mentions a term.
                own = [e["issue"]["title"].lower(), *(m.lower() for m in e.get("mentions", []))]
                if any(needle in text or text in needle.split() for text in own if text):
                    exact.add(eid)
                elif mention_kind(" ".join(e["sections"].values()), needle) == "denies":
                    denied.add(eid)
        # Exact matching uses the term; ranking by meaning uses the whole question, so that
        # "is there an upstream issue tracking this" still knows what "this" is about.
        topic_hint = self.entries[state_entry]["title"] if (state_entry := self._topic_for_issues) else ""
        hits = self.retriever.search(prepare_query(f"{query.text} {topic_hint}".strip()), k=12, kinds=("issue",))
        order = {h.entry: i for i, h in enumerate(hits)}
        ranked = [issues[e] for e in sorted(exact, key=lambda e: (order.get(e, 99), e))]
        extra = 3 if exact else 6
        for h in hits:
            if h.entry not in exact and h.entry not in denied and h.dense >= DENSE_HIGH - 0.05 and extra > 0:
                ranked.append(issues[h.entry])
                extra -= 1
        unknown = self.retriever.unknown_terms(prepare_query(term)) if term else []
        conf = 0.9 if exact else (confidence(hits[0], unknown) if ranked else 0.0)
        if not exact and conf < IN_SCOPE_MIN:
            ranked = []
        shown_term = term
        if not term and self._topic_for_issues in self.entries:
            shown_term = self.entries[self._topic_for_issues]["title"]
        composed = compose.compose_issue_list(shown_term, ranked, exact, [issues[d] for d in sorted(denied)])
        return self._answer(
            tid,
            query,
            composed,
            intent="issues",
            in_scope=bool(ranked),
            conf=conf,
            topic=self._topic_for_issues or (ranked[0]["id"] if ranked else None),
            hits=hits,
        )

    def _compare(self, tid: str, query: Query, state: TopicState) -> Answer:
        code_query = query if query.has_code or not state.last_code else prepare_query(state.last_code)
        findings_md, finding_entries = self._code_findings_md(code_query)
        if code_query is not query and findings_md:
            findings_md = findings_md.replace(
                "In the code you pasted", "In the code you pasted earlier in this thread", 1
            )
        topic = self.entries.get(state.entry or "")
        candidates = [e for e in finding_entries if self.entries[e]["kind"] == "fix"]
        if topic:
            candidates += [r for r in topic["related"] if self.entries.get(r, {}).get("kind") == "fix"]
            if topic["kind"] == "fix":
                candidates.insert(0, topic["id"])
        if not candidates:
            for e in finding_entries:
                candidates += [r for r in self.entries[e]["related"] if self.entries.get(r, {}).get("kind") == "fix"]
        pattern = next((self.entries[c] for c in candidates if "Example" in self.entries[c]["sections"]), None)
        if not findings_md:
            findings_md = (
                "I found none of the known problems in the code you pasted (the `_owner` argument, "
                "`max_calls` on tasks that `ray.put`, disabled reaping, worker-node system config). "
                "That does not prove it is right."
            )
        if pattern is None:
            return self._retrieve(tid, query, state, contextual=True, intent="compare")
        if "Example" in state.seen.get(pattern["id"], set()):
            text = (
                findings_md + f"\n\nCompare your code with the working pattern shown earlier in this thread "
                f"(*{pattern['title']}*, `raybot kb show {pattern['id']}`): the difference is in the lines above."
            )
            offer = compose.next_offer(pattern, state.seen.get(pattern["id"], set()))
            composed = Composed(
                text + (f"\n\n{offer['text']}" if offer else ""),
                list(dict.fromkeys([pattern["id"], *finding_entries])),
                {pattern["id"]: []},
                compose.sources_of([pattern]),
                offer,
            )
            return self._answer(
                tid,
                query,
                composed,
                intent="compare",
                in_scope=True,
                conf=max(state.confidence, 0.7),
                topic=pattern["id"],
            )
        lead = findings_md + "\n\n**The pattern that works, for comparison:**"
        composed = compose.compose_entry(
            pattern,
            sections=["Answer", "Example"],
            lead=lead,
            related=[self.entries[r] for r in pattern["related"] if r in self.entries],
        )
        composed.entries = list(dict.fromkeys(composed.entries + finding_entries))
        return self._answer(
            tid, query, composed, intent="compare", in_scope=True, conf=max(state.confidence, 0.7), topic=pattern["id"]
        )


def diagnosis_label(snapshot) -> str:
    """What a diagnosis analysed: a live cluster (its address), a pasted ray status or a logs folder."""
    if snapshot.origin == "logs":
        return "a logs folder"
    if snapshot.origin == "status-text":
        return "a pasted ray status"
    return f"live cluster {snapshot.address}" if snapshot.address else "the live local cluster"


def record_diagnosis(diagnosis, store: ThreadStore, *, thread_id: str | None = None) -> str | None:
    """Start a thread whose first turn is a diagnosis, so ``raybot ask -c "why?"`` continues it.

    The topic is the knowledge-base entry of the worst finding; the offer is its Details.
    Returns the thread id, or None when the store cannot be used (the diagnosis still stands).
    """
    findings = [r for r in diagnosis.findings if r.status in ("fail", "warn")] or diagnosis.findings
    entries = list(dict.fromkeys(e for r in findings for e in r.entries))
    topic = entries[0] if entries else None
    offer = None
    if topic and findings:
        offer = {
            "entry": topic,
            "section": "Details",
            "text": f"Would you like to know why this matters ({findings[0].title})?",
        }
    address = diagnosis_label(diagnosis.snapshot)
    turn = Turn(
        question=f"raybot diagnose ({address})",
        answer=diagnosis.summary_markdown() + (f"\n{offer['text']}" if offer else ""),
        intent="diagnose",
        in_scope=bool(topic),
        confidence=1.0 if topic else 0.0,
        topic=topic,
        entries=entries,
        sections={topic: []} if topic else {},
        offer=offer,
    )
    tid = thread_id or new_thread_id()
    try:
        store.add_turn(tid, turn, title=f"diagnose {address}")
    except StoreError:
        return None
    return tid
