"""Tokenizing, in one place: the index stores term counts made here and retrieval tokenizes
questions here, so the two always agree.

``TOKENIZER_VERSION`` is recorded in the index manifest: change it whenever ``tokenize``
changes what it returns, and the committed index becomes stale (rebuilt on next use).
"""

from __future__ import annotations

import re
from collections import Counter

TOKENIZER_VERSION = 2

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
    it its this that these those there here i me my we our you your he she they them their what
    which who whom how why when where do does did done can could should would will shall may
    might must have has had not no yes so than then too very just also into about over under
    again out up down any some such only own same other more most all each both few nor
    please thanks thank hi hello get got use using used run running ray dont doesnt isnt isn
    shouldnt wont cant didnt whats im ive theres thats aren wasn hasn haven couldnt wouldnt
    someone something anything everything like really still even way want need know tell""".split()
)

#: Chat shorthand -> the word the knowledge base uses (applied after singularising).
SYNONYMS = {
    "proc": "process",
    "procs": "process",
    "ram": "memory",
    "mem": "memory",
    "k8s": "kubernetes",
    "gb": "gib",
}

_TOKEN_RE = re.compile(r"[a-z_][a-z0-9_]*(?:::[a-z_]+)?|\d+")


def norm_token(tok: str) -> str:
    """A crude singular: "workers" -> "worker", "policies" -> "policy"; identifiers unchanged."""
    if "_" in tok or "::" in tok or tok.isdigit():
        return tok
    if len(tok) > 4 and tok.endswith("ies"):
        return tok[:-3] + "y"
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        return tok[:-1]
    return tok


def tokenize(text: str) -> list[str]:
    """Lower-case tokens; identifiers are kept whole *and* split into their parts."""
    out: list[str] = []
    cache = _TERMS_OF
    for tok in _TOKEN_RE.findall(text.lower().replace("#", " ")):
        terms = cache.get(tok)
        if terms is None:
            if len(cache) >= _TERMS_OF_MAX:
                cache.clear()
            terms = cache[tok] = _terms_of(tok)
        out.extend(terms)
    return out


#: What each raw token contributes, remembered: questions and entries repeat the same words, and
#: a token's terms depend on the token alone.
_TERMS_OF: dict[str, tuple[str, ...]] = {}
_TERMS_OF_MAX = 50_000


def _terms_of(tok: str) -> tuple[str, ...]:
    tok = tok.strip("_")
    if not tok:
        return ()
    out: list[str] = []
    if tok.startswith("ray_") and len(tok) > 8:
        out.append(tok[4:])  # RAY_num_workers_soft_limit also matches num_workers_soft_limit
    if "_" in tok or "::" in tok:
        out.append(tok)
        parts = [p for p in re.split(r"_|::", tok) if p]
        out.extend(norm_token(p) for p in parts if p not in STOPWORDS and len(p) > 1)
        return tuple(out)
    if tok in STOPWORDS or len(tok) < 2:
        return tuple(out)
    tok = norm_token(tok)
    tok = SYNONYMS.get(tok, tok)
    if tok not in STOPWORDS:
        out.append(tok)
    return tuple(out)


def topic_words(text: str) -> set[str]:
    """The words a title or tag list is about: its words and whole identifiers, not the parts of
    an identifier (a tag ``RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL`` does not make "match" a topic)."""
    out: set[str] = set()
    for tok in _TOKEN_RE.findall(text.lower().replace("#", " ")):
        terms = tokenize(tok)
        if "_" in tok.strip("_") or "::" in tok:
            out.update(t for t in terms if "_" in t or "::" in t)
        else:
            out.update(terms)
    return out


def entry_terms(text: str) -> set[str]:
    """What an entry's text addresses: its tokens plus a ``~`` 5-letter stem of each longer word
    ("~sched" covers "scheduler" and "scheduling")."""
    toks = set(tokenize(text))
    return toks | {"~" + t[:5] for t in toks if t.isalpha() and len(t) >= 5}


def term_counts(text: str) -> list[list]:
    """``[[term, count], ...]`` sorted by term: what the index stores for BM25."""
    return [[t, n] for t, n in sorted(Counter(tokenize(text)).items())]
