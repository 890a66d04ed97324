"""Hybrid retrieval: dense (FAISS) + lexical (BM25 with exact identifiers), fused per entry.

``prepare_query`` turns a forum-style question (mentions, pasted tracebacks, code, typos,
10k characters) into a short text for the embedding model plus the identifiers worth
matching exactly. ``Retriever.search`` ranks *entries*: each entry gets its best dense and
best lexical chunk score, the two rankings are fused with reciprocal rank fusion, and exact
identifier hits in an entry's title, tags or questions add a bonus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raybot import tuning, typos
from raybot.lazyre import lazy
from raybot.tokens import STOPWORDS, covered, entry_terms, stem_keys, term_counts, tokenize, topic_words  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from collections.abc import Callable

    from raybot.kb import Entry

MAX_QUESTION_CHARS = 10_000
DENSE_WORDS = 128

_MENTION_RE = lazy(r"(?<![\w.])@[A-Za-z][\w-]*")
_FENCE_RE = lazy(r"```.*?(?:```|$)", re.S)
_SIGNAL_RES = (
    lazy(r"\b[A-Z][A-Za-z]+(?:Error|Exception)\b"),
    lazy(r"\bRAY_[A-Za-z0-9_]+\b"),
    lazy(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+){2,}\b"),
    lazy(r"\b(?:max_calls|_owner|_system_config|num_gpus|max_restarts|max_retries)\b"),
    lazy(r"ray::[A-Za-z_]+"),
    lazy(r"\bray\.(?:put|get|kill|shutdown|init)\b"),
    lazy(r"(?:#|\bissues?\s*#?\s*|\bpr\s*#?\s*|/issues/|/pull/)(\d{4,5})\b", re.I),
    # CLI commands (the cluster launcher's too: "what does ray up do?" has no other word to go by)
    lazy(
        r"\bray (?:status|memory|list|summary|stack|stop|start|up|down|attach|exec|rsync-(?:up|down)|monitor)\b"
    ),
    lazy(r"(?<![\w-])--[a-z][a-z0-9]+(?:-[a-z0-9]+)+"),  # CLI flags: --dashboard-host, --system-config
)
#: Flags nearly every `ray start` line carries: naming them says nothing about the question.
COMMON_FLAGS = frozenset({"--num-cpus", "--num-gpus", "--dashboard-port", "--node-ip-address", "--redis-password"})
#: Chat emoji codes (":slightly_smiling_face:"): never the user's words, never an identifier.
_EMOJI = lazy(r"(?<![\w:]):[a-z0-9_+-]+:(?![\w:])")
#: Not the user's words: links, and chat emoji codes.
_URL = lazy(r"\bhttps?://\S+|" + _EMOJI.pattern)
_SLACK_LINK = lazy(r"<(https?://[^|>\s]+)\|([^>]*)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"), ("&quot;", '"'), ("&#39;", "'"))


def clean_markup(text: str) -> str:
    """Undo chat markup that hides what was pasted: Slack's ``<url|label>`` links (a log line
    ``core_worker.cc:179`` arrives as ``<http://core_worker.cc:179|core_worker.cc:179>``) and
    HTML entities."""
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    for a, b in _ENTITIES:
        text = text.replace(a, b)
    return text


@dataclass
class Query:
    raw: str
    text: str  #: cleaned question (mentions removed, trimmed)
    dense_text: str  #: what is embedded
    signals: list[str]  #: identifiers to match exactly (lower case)
    notes: list[str] = field(default_factory=list)
    has_code: bool = False
    asks_issue: bool = False  #: mentions issues, bugs, PRs or an issue number
    ask_text: str = ""  #: the user's own words: pasted messages, logs and code left out
    message: str = ""  #: a pasted error or log line, if any (see raybot.signatures)
    defined: frozenset[str] = frozenset()  #: names the question's own code defines (lower case)
    typos: dict[str, str] = field(default_factory=dict)  #: misspelt word -> kb word (Retriever.correct_typos)


#: Names a pasted snippet defines: ``def f``, ``class C``, ``x = ...`` (not ``==``, not a keyword
#: argument inside a call, which is preceded by "(" or ",").
#: (An assignment may open an inline code span: "`big_array3 = ray.put(...)`".)
_DEFINED_RE = lazy(r"\b(?:def|class)\s+(\w+)|(?:^|[;\s`])(\w+)\s*=(?!=)", re.M)
#: Names that are the user's own even when the snippet does not define them: a remote function or
#: actor class it calls (``step.remote(...)``, ``Worker.options(...)``) and a string it passes as a
#: value (``conda="my_env"``, ``name = 'trainer'``).
_USER_NAME_RE = lazy(
    r"\b(?!ray\.)(\w+)\.(?:remote|options)\s*\(|\w\s*=\s*[\"']([\w.\-]+)[\"']"
    # A loop's variable and the name it iterates over, in code only (the loop header's ":" or a
    # comprehension's "]" / ")"): prose such as "for users in Django" names what is asked about.
    r"|\bfor\s+(\w+)\s+in\s+(\w+)(?=\s*[:\])])"
    # The functions (and class) around a nested one in a pickle error's qualified name:
    # "Can't pickle local object 'Trainer.fill_mode.<locals>.<lambda>'".
    r"|\b(?:(\w+)\.)?(\w+)\.<locals>"
)


def defined_names(text: str) -> frozenset[str]:
    """The identifiers that the question's own code defines (its functions, classes, variables),
    calls as remote functions or actors, passes as string values or loops over."""
    names = {(m.group(1) or m.group(2)).lower() for m in _DEFINED_RE.finditer(text)}
    names.update(g.lower() for m in _USER_NAME_RE.finditer(text) for g in m.groups() if g)
    return frozenset(names)


#: Ray API calls a question names to ask about them ("what does ray.nodes() return?"). Unlike the
#: calls of _SIGNAL_RES, they count only outside an aside in brackets: "8 tasks with num_cpus=2 on 16
#: CPUs (ray.cluster_resources()["CPU"] == 16) leave 8 idle, why?" asks about idle CPUs.
_NAMED_API = lazy(
    r"\bray\.(?:wait|nodes|cluster_resources|available_resources|get_actor|get_runtime_context|cancel"
    r"|timeline|get_gpu_ids|is_initialized|method)\b"
)
#: A bracketed aside in prose (after a space, so not a call's arguments: "len(ray.nodes())"), which
#: may hold calls with empty brackets of their own.
_ASIDE = lazy(r"(?:^|(?<=\s))\((?:[^()]|\(\))+\)")


#: Ray doing something, not the CLI command: "when does ray start spilling", "will ray stop the
#: workers", "does ray start a new worker for each task". (After "does", "ray start" followed by a
#: noun of its own, "why does ray start fail", is still the command.)
_RAY_DOES = lazy(
    r"\b(?:does|did|do|will|would|can|could|should|may|might|when|then|makes?)\s+ray\s+(?:start|stop)\s+"
    r"(?=(?:to|the|a|an|new|more|any|all|automatically|[a-z]+ing)\b)",
    re.I,
)


def extract_signals(text: str) -> list[str]:
    text = _RAY_DOES.sub(" ", text)
    found = list(dict.fromkeys(m.group(0).lower() for m in _NAMED_API.finditer(_ASIDE.sub(" ", text))))
    for rx in _SIGNAL_RES:
        for m in rx.finditer(text):
            val = (m.group(1) if m.groups() else m.group(0)).lower()
            for v in (val, val[4:] if val.startswith("ray_") else None):
                if v and v not in found:
                    found.append(v)
    return found


#: Four plain words in a row: prose, even on a line that starts like code.
_PROSE_RUN = lazy(r"(?:^|\s)[A-Za-z']+(?:\s+[A-Za-z']+){3}(?=$|[\s.,;:?!])")


def prepare_query(question: str) -> Query:
    notes: list[str] = []
    text = question.replace("\r\n", "\n").replace("\x00", "")
    if len(text) > MAX_QUESTION_CHARS:
        notes.append(f"The question was {len(text):,} characters; only the first {MAX_QUESTION_CHARS:,} were used.")
        text = text[:MAX_QUESTION_CHARS]
    text = _EMOJI.sub(" ", _MENTION_RE.sub(" ", clean_markup(text)))
    text = re.sub(r"[ \t]+", " ", text).strip()
    signals = extract_signals(text)
    has_code = "```" in text or bool(re.search(r"^\s*(?:@ray\.remote|def |class |import |Traceback)", text, re.M))

    # Prose for the embedding: drop fenced code, traceback frames and code-looking lines.
    prose_lines = []
    for line in _FENCE_RE.sub(" ", text).splitlines():
        s = line.strip()
        if not s:
            continue
        if re.match(r"^(File \"|Traceback|at |\s*\^|@|def |class |import |from \w+ import|return |self\.|#)", s):
            continue
        if not _PROSE_RUN.search(s):
            # A line that starts like code is code unless it goes on in words
            # ("log_to_driver=False yet worker logs still pile up" is a question).
            if s.endswith((":", ")")) and "(" in s and " " not in s.split("(")[0].strip():
                continue  # a call or def line
            if re.match(r"^[\w.\[\]]+\s*=", s):
                continue  # an assignment
        prose_lines.append(s)
    prose = " ".join(prose_lines)
    words = prose.split()
    if len(words) > DENSE_WORDS:
        # A long message: the sentences that ask something say more than the greeting and the
        # story before them, so they go first into what is embedded.
        sentences = re.split(r"(?<=[.?!])\s+", prose)
        asks = [x for x in sentences if x.rstrip().endswith("?")]
        prose = " ".join(asks + [x for x in sentences if x not in asks])
        prose = " ".join(prose.split()[:DENSE_WORDS])
    error_names = [s for s in signals if s.endswith(("error", "exception"))]
    extras = [s for s in signals if s not in prose.lower()]
    # Identifiers from dropped code/traceback lines still say what the question is about.
    dense_text = (prose + " " + " ".join(extras[:8])).strip()
    if not dense_text:
        dense_text = " ".join(error_names or signals) or text[:400]
    asks_issue = bool(
        re.search(
            r"\b(issues?|bugs?|prs?|pull requests?|tickets?|regression|upstream|github|"
            r"reported|fixed in|known problem)\b",
            text,
            re.I,
        )
    ) or any(s.isdigit() for s in signals)
    from raybot.signatures import pasted_message

    message = pasted_message(text)
    own = [ln for ln in prose_lines if not (message and ln.strip("`") in message)]
    ask_text = " ".join(own)
    for quoted in message.splitlines():
        ask_text = ask_text.replace(quoted, " ")
    if len(ask_text.split()) > DENSE_WORDS:
        # A long message: what is asked is in its question sentences, not in the story.
        asks = [x for x in re.split(r"(?<=[.?!])\s+", ask_text) if x.rstrip().endswith("?")]
        if asks and len(" ".join(asks).split()) >= 4:
            ask_text = " ".join(asks)
    return Query(
        question, text, dense_text, signals, notes, has_code, asks_issue, ask_text.strip(), message, defined_names(text)
    )


FILLER = frozenset(
    """anyone anybody everyone possible possibly specific specifically trying tried problem problems
    question questions issue issues help helps helping thing things able basically actually currently
    happen happening happens seem seems seemed getting give gives make makes made work works working
    worked best good better wrong right correct example examples case cases time times find found
    look looking see seen try new old sure kind lot lots following follow way ways different
    understand wondering wonder guy guys team folks hey glad idea ideas error errors fix fixed
    cause caused causes reason reasons mean means meaning explain difference default defaults
    option options set setting settings setup config configure configured value values without
    instead told say says said recommend recommended suggest approach another multiple several
    other others first second last many much number numbers one two three happened possible github
    now around gone go goe going away come comes coming already consuming consume named name applied
    apply removed remove changed change nothing function functions variable variables minute minutes
    fail fails failing failed wait waiting waited still keep keeps kept start started stop stopped
    call called calling show shows showing run ran say tell think thought hang hanging survive
    ray::idle idle add adds added parameter parameters due leave result results until sample sort clean
    update updated information info inside outside across reach reached instead real though although
    eat eats eating hog hogging sit sits sitting take takes taking took lot like bunch tons super
    write writes writing written off don doesn didn isn aren wasn won wouldn shouldn couldn
    maybe doing during seeing bit unable versu elaborate exactly execute executed executing""".split()
)
_GENERIC_ERROR_SIGNALS = frozenset(
    """valueerror runtimeerror typeerror keyerror assertionerror exception oserror ioerror
    connectionerror timeouterror importerror modulenotfounderror attributeerror raytaskerror
    raysystemerror rayerror""".split()
)


@dataclass
class Hit:
    entry: str
    title: str
    kind: str
    score: float  #: fused score used for ranking
    dense: float  #: best chunk cosine similarity
    lexical: float  #: best chunk BM25 score
    exact: list[str]  #: query identifiers found in the entry's title/tags/questions
    section: str  #: section of the best dense chunk

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry,
            "title": self.title,
            "kind": self.kind,
            "score": round(self.score, 4),
            "dense": round(self.dense, 4),
            "lexical": round(self.lexical, 3),
            "exact": self.exact,
            "section": self.section,
        }


def swapped_letters(a: str, b: str) -> bool:
    """``a`` is ``b`` with two neighbouring letters swapped ("ndoe" for "node"). In a short word
    that slip leaves too few letters in place for a similarity ratio to call it a typo."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


#: Endings of English inflections: a word that is a known word plus one of them is known.
_INFLECTIONS = ("ing", "ed", "es", "s", "ly", "er", "ers")


def _inflection_known(tok: str, vocab) -> bool:
    """Is ``tok`` an inflected form ("avoiding", "spilled", "nodes") of a word the kb uses?"""
    for end in _INFLECTIONS:
        if tok.endswith(end) and len(tok) - len(end) >= 3:
            base = tok[: -len(end)]
            if base in vocab or base + "e" in vocab or (len(base) > 3 and base[-1] == base[-2] and base[:-1] in vocab):
                return True
    return False


def _content_words(text: str) -> list[str]:
    """The distinct words of ``text`` that carry content: no filler, numbers or words under 3 letters."""
    return [t for t in dict.fromkeys(tokenize(text)) if t not in FILLER and not t.isdigit() and len(t) >= 3]


def _word_keys(tok: str) -> tuple[str, ...]:
    """A word and the keys its other forms share (tokens.stem_keys)."""
    return (tok, *stem_keys(tok))


class Retriever:
    """Loads the index once; ``search`` is then a few milliseconds."""

    def __init__(self, loaded, encoder=None):
        self.loaded = loaded
        self.entries: dict[str, Entry] = loaded.entries
        self.chunks: list[dict[str, Any]] = loaded.chunks
        self._encoder = encoder
        self._vocab: dict[str, list[str]] | None = None
        self._identifiers: tuple[str, ...] | None = None
        self._english_near: frozenset[str] | None = None  #: see raybot.typos
        self._token_cache: dict[str, list[str]] = {}
        self._vec_cache: dict[str, Any] = {}
        self._terms_cache: dict[str, set[str]] = {}
        self._df: dict[str, int] = {}
        self._text_cache: dict[str, str] = {}
        self._question_chunks: dict[tuple[str, str], int] | None = None
        self._bm25_norm: Any = None  #: float64 array, one value per chunk
        self._posting_arrays: dict[str, tuple[Any, Any]] = {}  #: term -> (chunks, counts) arrays
        self._chunk_codes: tuple[Any, list[str]] | None = None
        self._build_lexical()

    # -- lexical ------------------------------------------------------------------------
    def _build_lexical(self) -> None:
        # Postings and entry frequencies were computed when the index was built
        # (raybot.index.lexical_tables); only the idf is derived here.
        from raybot.index import posting_count

        lexical = self.loaded.lexical
        self.postings: dict[str, str] = lexical["postings"]  # term -> "chunk count chunk count ..."
        self.doc_len: list[int] = lexical["doc_len"]
        self._df = lexical["entry_df"]
        n = max(len(self.chunks), 1)
        self.idf = {}
        for t, p in self.postings.items():
            df = posting_count(p)
            self.idf[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        self.avg_len = (sum(self.doc_len) / n) if self.doc_len else 1.0
        # Exact-identifier surface of each entry: title, tags, questions, issue number.
        self.entry_surface: dict[str, str] = {}
        for eid, e in self.entries.items():
            parts = [e.title, " ".join(e.tags), " ".join(e.questions)]
            if e.issue:
                parts.append(f"#{e.issue.number} {e.issue.number}")
            parts.append(e.sections.get("Answer", ""))
            self.entry_surface[eid] = " ".join(parts).lower()

    # -- key-ask coverage ---------------------------------------------------------------
    def _entry_terms(self, entry_id: str) -> set[str]:
        terms = self._terms_cache.get(entry_id)
        if terms is None:
            terms = self._terms_cache[entry_id] = entry_terms(self.entries[entry_id].text())
        return terms

    def _entry_df(self) -> dict[str, int]:
        return self._df

    def _topical(self) -> dict[str, int]:
        """Words of the kb's titles and tags (what its entries are *about*, identifier parts left
        out: see :func:`raybot.tokens.topic_words`), with the number of entries that use them
        (counted when the index was built: :func:`raybot.index.lexical_tables`)."""
        return self.loaded.lexical["topic"]

    def term_weight(self, tok: str) -> float:
        """How much a word tells one entry from another: log((N + 1) / (n + 1)) over the N
        entries, n of which use it (a word no entry uses weighs the most)."""
        n = len(self.entries)
        return math.log((n + 1) / (self._df.get(tok, 0) + 1))

    def key_terms(self, query: Query) -> list[str]:
        """The distinctive words of what is asked: components, API and setting names, error
        names. Identifiers always count; other words count when the kb's entries are about
        them (titles, tags) but most entries are not (``tuning.BACKGROUND_DF``).
        Question filler, numbers, and pasted messages and code are left out."""
        df = self._entry_df()
        topical = self._topical()
        limit = max(2, int(len(self.entries) * tuning.BACKGROUND_DF))
        out: list[str] = []
        for tok in tokenize(_URL.sub(" ", query.ask_text)):
            if tok in out or tok in FILLER or tok.isdigit() or len(tok) < 3:
                continue
            ident = "_" in tok or "::" in tok
            if not ident and (tok not in topical or df.get(tok, 0) > limit):
                continue
            if not ident and topical[tok] < tuning.KEY_TOPICALITY * df.get(tok, 0):
                continue  # a word many entries use in passing and few are about ("file", "back")
            if ident and any(tok != o and tok in o for o in out):
                continue  # a part of an identifier already listed
            out.append(tok)
        return out

    def missing_terms(self, query: Query, entry_id: str) -> tuple[list[str], list[str]]:
        """Key terms of the question that the entry does not address, and the identifiers
        (config names, error classes, API calls) the question names and the entry never does."""
        terms = self._entry_terms(entry_id)
        text = self._entry_text(entry_id)
        missing: list[str] = []
        # A name the user's own code defines and the kb never uses ("execute_flow_1") is theirs,
        # not something asked about; a Ray name the kb knows always counts.
        own = {n for n in query.defined if n not in self.idf}
        for tok in self.key_terms(query):
            if covered(tok, terms):
                continue
            if "_" in tok and (tok in text or tok.startswith("ray_") and tok[4:] in text):
                continue
            if tok in own:
                continue
            missing.append(tok)
        # An identifier seen only inside a link (a forum user name in "?u=jane_doe") is not asked about.
        outside_links = _URL.sub(" ", query.text).lower()
        ident = [
            s
            for s in query.signals
            if s not in own
            and s in outside_links
            and not s.isdigit()
            and " " not in s
            and s != "ray::idle"
            and s not in COMMON_FLAGS
            and s.lower() not in _GENERIC_ERROR_SIGNALS
            and s not in text
            and not (s.startswith("ray_") and s[4:] in text)
        ]
        return missing, ident

    def coverage(self, query: Query, entry_id: str) -> float:
        """Share of the question's own content words (filler, numbers and pastes left out) that
        the entry uses: 1.0 when it speaks of everything asked."""
        terms = self._entry_terms(entry_id)
        words = _content_words(_URL.sub(" ", query.ask_text or query.text))
        if not words:
            return 1.0
        hit = sum(1 for t in words if covered(t, terms))
        return hit / len(words)

    def question_similarity(self, query: Query, entry_id: str, questions: list[str]) -> list[float]:
        """Cosine between the question and each of ``questions`` of an entry, read from their
        indexed vectors (an entry's ``questions:`` lines and short-answer questions are chunks of
        their own); 0.0 for a question the index does not hold."""
        import numpy as np

        where = self._question_chunks
        if where is None:
            where = self._question_chunks = {
                (c["entry"], c["text"]): i for i, c in enumerate(self.chunks) if c["section"] == "question"
            }
        vec = self.embed(query.dense_text).astype(np.float32)
        index = self.loaded.faiss_index
        out = []
        for q in questions:
            i = where.get((entry_id, q))
            out.append(float(index.reconstruct(i) @ vec) if i is not None else 0.0)
        return out

    def message_share(self, message: str, entry_id: str) -> float:
        """Share of a quoted message's words that the entry uses, each word weighted by
        :meth:`term_weight`: "Exception iterating requests!" shares only its common words with an
        entry on TLS settings, and its rare word ("iterating") weighs the most."""
        terms = self._entry_terms(entry_id)
        words = _content_words(message)
        total = sum(self.term_weight(t) for t in words)
        if not words or total <= 0:
            return 1.0
        return sum(self.term_weight(t) for t in words if covered(t, terms)) / total

    def message_words_together(self, message: str, entry_id: str) -> bool:
        """Does the entry use a quoted message's rarest word next to (within a few tokens of) the
        words that stand next to it in the message? "Exception iterating requests!" is not the
        message an entry quotes as "Exception iterating responses: ..." even though that entry
        uses all three words somewhere."""
        words = _content_words(message)
        if len(words) < 2:
            return True
        rare = max(words, key=self.term_weight)
        i = words.index(rare)
        neighbours = [set(_word_keys(w)) for w in words[max(0, i - 1) : i] + words[i + 1 : i + 2]]
        want = set(_word_keys(rare))
        toks = self._entry_tokens(entry_id)
        n = tuning.MESSAGE_NEIGHBOUR_TOKENS
        for j, tok in enumerate(toks):
            if want.intersection(_word_keys(tok)):
                around = [t for t in toks[max(0, j - n) : j + n + 1] if t != tok]
                if all(any(keys.intersection(_word_keys(t)) for t in around) for keys in neighbours):
                    return True
        return False

    def _entry_tokens(self, entry_id: str) -> list[str]:
        toks = self._token_cache.get(entry_id)
        if toks is None:
            toks = self._token_cache[entry_id] = tokenize(self._entry_text(entry_id))
        return toks

    def _entry_text(self, entry_id: str) -> str:
        text = self._text_cache.get(entry_id)
        if text is None:
            text = self._text_cache[entry_id] = self.entries[entry_id].text().lower()
        return text

    def _chunk_entries(self):
        """Each chunk's entry as a small integer (an array), and the entry ids by that number."""
        if self._chunk_codes is None:
            import numpy as np

            numbers: dict[str, int] = {}
            codes = [numbers.setdefault(c["entry"], len(numbers)) for c in self.chunks]
            self._chunk_codes = (np.asarray(codes, dtype=np.intp), list(numbers))
        return self._chunk_codes

    def _bm25(self, q_tokens: list[str]):
        """BM25 score of every chunk (a float64 array). Each term's postings are kept as arrays,
        and its contributions are added with the same float64 operations, in the same order, as
        term by term in Python: the same scores, bit for bit."""
        import numpy as np

        k1, b = 1.2, 0.75
        scores = np.zeros(len(self.chunks))
        qtf = Counter(q_tokens)
        # k1 * (1 - b + b * len / avg_len) per chunk: the same expression, computed once.
        norm = self._bm25_norm
        if norm is None:
            norm = self._bm25_norm = np.array([k1 * (1 - b + b * dl / self.avg_len) for dl in self.doc_len])
        for term, qn in qtf.items():
            idf = self.idf.get(term)
            if idf is None:
                continue
            weight = idf * (1 + 0.5 * math.log(qn))
            post = self._posting_arrays.get(term)
            if post is None:
                from raybot.index import posting_pairs

                flat = posting_pairs(self.postings[term])
                post = self._posting_arrays[term] = (
                    np.asarray(flat[0::2], dtype=np.intp),
                    np.asarray(flat[1::2], dtype=np.float64),
                )
            rows, f = post
            # A chunk appears once in a term's postings, so the fancy-indexed add is exact.
            scores[rows] += weight * f * (k1 + 1) / (f + norm[rows])
        return scores

    def unknown_terms(self, query: Query) -> list[str]:
        """Salient words of the question that the knowledge base never uses (typos excluded).

        A question about Optuna, Windows or ``map_batches`` names things no entry mentions:
        that is strong evidence it is out of scope, whatever the embedding similarity says.
        """
        import difflib

        if self._vocab is None:
            self._vocab = {}
            for t in self.idf:
                if t.isalpha():
                    self._vocab.setdefault(t[0], []).append(t)
        out = []
        for tok in dict.fromkeys(tokenize((query.ask_text or query.text)[:2000])):
            if tok in self.idf or not tok.replace("_", "").isalpha() or len(tok) < 4:
                continue
            if _inflection_known(tok, self.idf):
                continue  # "avoiding" when the kb says "avoid": not a word from outside Ray
            if "_" in tok.strip("_") and self._shortened_identifier(tok):
                continue  # "idle_timeout" for the kb's idle_timeout_minutes: a setting named short
            # Typos keep their first letter nearly always; comparing within it is 20x cheaper.
            same_start = [w for w in self._vocab.get(tok[0], ()) if abs(len(w) - len(tok)) <= 2]
            if difflib.get_close_matches(tok, same_start, n=1, cutoff=0.8):
                continue  # a typo of a word the kb knows
            if any(swapped_letters(tok, w) for w in same_start):
                continue  # "ndoe": a short word's swapped letters, which the ratio above misses
            out.append(tok)
        return out

    def _shortened_identifier(self, tok: str) -> bool:
        """``tok`` is the first words of an identifier the kb uses ("idle_timeout" of
        "idle_timeout_minutes"): users shorten setting names, and such a name is no sign of a
        question from outside Ray."""
        if self._identifiers is None:
            self._identifiers = tuple(t for t in self.idf if "_" in t.strip("_"))
        return any(t.startswith(tok + "_") for t in self._identifiers)

    def typo_fixes(self, text: str) -> dict[str, str]:
        """Misspelt words of ``text`` and the kb word each stands for (:mod:`raybot.typos`), read
        against the word tables the index keeps (none in an index built before them: no fixes)."""
        if self._english_near is None:
            self._english_near = frozenset(self.loaded.lexical.get("english_near", ()))
        return typos.fixes(text, self.loaded.lexical.get("surface", {}), self._english_near)

    def correct_typos(self, query: Query) -> Query:
        """``query`` with misspelt words replaced in what is embedded and in the user's own words.
        The cleaned text, pasted messages and identifiers stay as typed, so an error message still
        matches its signature letter for letter."""
        # Only the user's own words are read (a paste is Ray's text, spelt as Ray spells it), and only
        # their start, as for unknown_terms: a 10,000-character ramble would cost ~0.1 s here.
        found = self.typo_fixes(query.ask_text[:2000])
        if not found:
            return query
        return replace(
            query,
            dense_text=typos.fix_text(query.dense_text, found),
            ask_text=typos.fix_text(query.ask_text, found),
            typos=found,
        )

    # -- dense --------------------------------------------------------------------------
    @property
    def encoder(self):
        if self._encoder is None:
            from raybot.embed import NumpyEncoder, configured_model, resolve_model
            from raybot.errors import IndexUnusable

            wanted = configured_model()
            spec = resolve_model(wanted or self.loaded.model_source)
            if spec.name != self.loaded.model_name:
                raise IndexUnusable(
                    f"the index was built with the model {self.loaded.model_name!r}, but "
                    f"RAYBOT_MODEL asks for {spec.name!r}",
                    hint="rebuild with `raybot index build --model ...`, or unset RAYBOT_MODEL",
                    reference="model-mismatch",
                )
            self._encoder = NumpyEncoder(spec)
            if self._encoder.dim != self.loaded.dimension:
                from raybot.errors import IndexUnusable

                raise IndexUnusable(
                    f"the index was built with {self.loaded.dimension}-dimensional vectors but the "
                    f"model {spec.name} makes {self._encoder.dim}",
                    hint="run `raybot index build` with the model you query with",
                    reference="model-mismatch",
                )
        return self._encoder

    def embed(self, text: str):
        """Embed once per text (a turn asks for the same vector for ranking and for scope)."""
        vec = self._vec_cache.get(text)
        if vec is None:
            vec = self.encoder.encode_one(text)
            if len(self._vec_cache) > 64:
                self._vec_cache.clear()
            self._vec_cache[text] = vec
        return vec

    def scope_similarity(self, query: Query) -> tuple[float, str | None]:
        """How close the question is to the nearest *out-of-scope* area of ``kb/SCOPE.yaml``."""
        vecs = self.loaded.scope_vectors
        if vecs is None or len(vecs) == 0:
            return 0.0, None
        sims = vecs @ self.embed(query.dense_text)
        best = int(sims.argmax())
        return float(sims[best]), self.loaded.scope[best]

    def search(
        self,
        query: Query | str,
        k: int = 5,
        *,
        boost: dict[str, float] | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> list[Hit]:
        import numpy as np

        if isinstance(query, str):
            query = prepare_query(query)
        n = len(self.chunks)
        if n == 0:
            return []
        vec = self.embed(query.dense_text).reshape(1, -1).astype(np.float32)
        sims, idx = self.loaded.faiss_index.search(vec, n)
        chunks = self.chunks
        codes, code_entry = self._chunk_entries()
        sim_row, idx_row = sims[0], idx[0]
        if idx_row.min() < 0:
            keep = idx_row >= 0
            sim_row, idx_row = sim_row[keep], idx_row[keep]
        # Each entry's best chunk is its first in FAISS's order (np.unique gives first indices).
        row_codes = codes[idx_row]
        _, first = np.unique(row_codes, return_index=True)
        dense_best: dict[str, tuple[float, str]] = {
            code_entry[c]: (sim, chunks[i]["section"])  # Python floats: the same values as FAISS's
            for c, sim, i in zip(
                row_codes[first].tolist(), sim_row[first].tolist(), idx_row[first].tolist(), strict=True
            )
        }
        # An entry that several chunks match ranks above one that a single chunk matches as well.
        strength = entry_strength(row_codes, sim_row, len(code_entry), 1, tuning.SECOND_CHUNK_WEIGHT).tolist()
        dense_key = {e: strength[c] for c, e in enumerate(code_entry)}
        q_tokens = tokenize(query.text if len(query.text) < 4000 else query.dense_text + " " + " ".join(query.signals))
        q_tokens += [t for s in query.signals for t in tokenize(s)]
        q_tokens += tokenize(" ".join(query.typos.values()))  # the misspelt words themselves match nothing
        lexical = self._bm25(q_tokens)
        scored = np.flatnonzero(lexical > 0)
        best = np.zeros(len(code_entry))
        np.maximum.at(best, codes[scored], lexical[scored])
        lex_best: dict[str, float] = {code_entry[c]: v for c, v in enumerate(best.tolist()) if v > 0}
        lex_strength = entry_strength(
            codes[scored], lexical[scored], len(code_entry), 2, tuning.LEXICAL_MORE_CHUNKS_WEIGHT
        ).tolist()
        lex_key = {code_entry[c]: v for c, v in enumerate(lex_strength) if v > 0}

        ids = [e for e in self.entries if kinds is None or self.entries[e].kind in kinds]
        has_error = any(s.endswith(("error", "exception")) for s in query.signals)
        dense_rank = {e: r for r, e in enumerate(sorted(ids, key=lambda e: -dense_key.get(e, -1.0)))}
        lex_sorted = sorted((e for e in ids if e in lex_key), key=lambda e: -lex_key[e])
        lex_rank = {e: r for r, e in enumerate(lex_sorted)}
        matchers = [(sig, _identifier_matcher(sig)) for sig in query.signals]
        surfaces = self.entry_surface
        rrf_k, lexical_weight, dense_weight = tuning.RRF_K, tuning.LEXICAL_RRF_WEIGHT, tuning.DENSE_SCORE_WEIGHT
        demote = 0.0 if query.asks_issue else tuning.ISSUE_DEMOTION
        exact_bonus = tuning.EXACT_BONUS_WITH_ERROR if has_error else tuning.EXACT_BONUS
        hits = []
        for e in ids:
            meta = self.entries[e]
            dense, section = dense_best.get(e, (0.0, "title"))
            score = 1.0 / (rrf_k + dense_rank[e] + 1)
            lex_r = lex_rank.get(e)
            if lex_r is not None:
                score += lexical_weight / (rrf_k + lex_r + 1)
            exact = [s for s, found in matchers if found(surfaces[e])] if matchers else []
            if exact:
                # An error class named in the question says more than a setting mentioned in
                # passing (e.g. the RAY_record_ref_creation_sites hint inside a pasted error),
                # and RAY_x / x are one identifier, not two.
                distinct = [s for s in exact if not (s.startswith("ray_") and s[4:] in exact)]
                score += sum(
                    tuning.EXACT_ERROR_BONUS if s.endswith(("error", "exception")) else exact_bonus for s in distinct
                )
            if boost and e in boost:
                score += boost[e]
            if meta.kind == "issue" and demote:
                score -= demote  # how/why questions want the explanation, not the ticket
            # Absolute similarity matters too: keep weak matches from floating up on rank alone.
            score += dense_weight * max(dense, 0.0)
            if dense >= tuning.VERBATIM_DENSE:
                score += tuning.VERBATIM_BONUS  # the kb asks this very question (tuning.VERBATIM_DENSE)
            hits.append(Hit(e, meta.title, meta.kind, score, dense, lex_best.get(e, 0.0), exact, section))
        hits.sort(key=lambda h: (-h.score, h.entry))
        return hits[:k]


def entry_strength(codes, scores, n_entries: int, more: int, weight: float):
    """What ranks an entry: its best chunk's score plus ``weight`` times the sum of its next
    ``more`` best chunk scores (negative ones count as 0). ``codes[i]`` is chunk i's entry number,
    ``scores[i]`` its score; entries with no chunk get -inf. An entry that several chunks match
    thus ranks above one with a single chunk as good as its best (see tuning.SECOND_CHUNK_WEIGHT)."""
    import numpy as np

    codes = np.asarray(codes, dtype=np.intp)
    scores = np.asarray(scores, dtype=np.float64)
    out = np.full(n_entries, -np.inf)
    if not len(codes):
        return out
    order = np.lexsort((-scores, codes))  # by entry, then best chunk first
    codes, scores = codes[order], scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1]
    rank = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    out[codes[starts]] = scores[starts]
    extra = (rank >= 1) & (rank <= more)
    np.add.at(out, codes[extra], weight * np.maximum(scores[extra], 0.0))
    return out


def _identifier_matcher(signal: str) -> Callable[[str], bool]:
    """``surface -> bool``: does the entry surface name ``signal`` (built once per search)."""
    if signal.isdigit():
        pattern = re.compile(rf"(?<!\d){signal}(?!\d)")
    elif " " in signal:  # a command such as "ray memory": as a command, not "ray memory monitor"
        cmd = re.escape(signal)
        pattern = re.compile(rf"`{cmd}\b|{cmd}(?=\s*(?:-|$|[.,;:)`'\"]))")
    else:
        return lambda surface: signal in surface
    # Both patterns match the signal literally: a surface without it needs no regex search.
    return lambda surface: signal in surface and pattern.search(surface) is not None


def open_retriever(kb_dir: Path | None = None, index_dir: Path | None = None, *, notes: list[str] | None = None):
    """Load (and if needed rebuild) the index, then return a :class:`Retriever`.

    A stale or missing index is rebuilt with a note appended to ``notes``; an index that
    cannot be rebuilt or read raises :class:`raybot.errors.IndexUnusable`.
    """
    from raybot import paths
    from raybot.digests import open_digests
    from raybot.index import load, status

    kb = kb_dir or paths.kb_dir()
    idx = index_dir or paths.index_dir()
    digests = open_digests()
    st = status(kb, idx, verify_files=False, digests=digests)
    if st.state in ("stale", "missing"):
        idx = _rebuild(kb, idx, st, notes)
    loaded = load(idx, digests)
    digests.save()
    return Retriever(loaded)


def _rebuild(kb: Path, idx: Path, st, notes: list[str] | None) -> Path:
    from raybot import paths
    from raybot.errors import IndexUnusable
    from raybot.index import build, status

    target = idx
    if not _writable(idx):
        target = paths.fallback_index_dir()
        if status(kb, target, verify_files=False).state == "fresh":
            return target
    if notes is not None:
        why = st.detail or st.state
        notes.append(f"The index is {st.state} ({why}); rebuilding it in {target} (one-off, ~10 s).")
    try:
        build(kb, target)
    except IndexUnusable:
        fallback = paths.fallback_index_dir()
        if target == fallback:
            raise
        if notes is not None:
            notes.append(f"{target} is not writable; rebuilding in {fallback} instead.")
        build(kb, fallback)
        return fallback
    return target


def _writable(path: Path) -> bool:
    import os

    probe = path if path.exists() else path.parent
    return os.access(probe, os.W_OK)
