"""Tokenizing, in one place: the index stores term counts made here and retrieval tokenizes
questions here, so the two always agree.

``TOKENIZER_VERSION`` is recorded in the index manifest: change it whenever ``tokenize``
changes what it returns, and the committed index becomes stale (rebuilt on next use).
"""

from __future__ import annotations

import re
from collections import Counter

from raybot.lazyre import lazy

TOKENIZER_VERSION = 8  # 3: "auth" -> "authentication"; 4: "c++" -> "cpp", "monitor.out" -> "monitor_out"; 5: ".log" too
# 6: a CLI flag "--min-worker-port" is also the identifier "min_worker_port"; 7: "param(s)" -> "parameter"
# 8: "ulimit -n" -> "ulimit_n" (and "ulimit"), so the one letter that says which limit is kept

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
    "auth": "authentication",
    "param": "parameter",
}

_TOKEN_RE = lazy(r"[a-z_][a-z0-9_]*(?:::[a-z_]+)?|\d+")

#: Spellings the token pattern would lose, rewritten first: "C++" (the "c" is too short to keep)
#: and a log file's name ("monitor.out" vs "monitor.err" vs "monitor.log"; "out" is a stop word), which becomes one
#: identifier that also yields its stem ("monitor_out" and "monitor").
#: A CLI flag of several words ("--object-store-memory") names the same setting as the Python
#: keyword ("object_store_memory"): it becomes that identifier, which also yields its parts.
#: ``ulimit -n`` (open files) and ``ulimit -u`` (processes) differ only in a letter too short to be
#: a token: the pair becomes ``ulimit_n`` (a soft/hard ``-S``/``-H`` before the letter is dropped).
_BEFORE_TOKENS = lazy(
    r"\bc\+\+|\b([a-z][a-z0-9_]*)\.(out|err|log)\b|(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\b"
    r"|\bulimit\s+-[hs]?([a-z])\b"
)


def _rewrite(m: re.Match[str]) -> str:
    if m.group(4) is not None:
        return f" ulimit_{m.group(4)} "
    if m.group(3) is not None:
        return f" {m.group(3).replace('-', '_')} "
    return " cpp " if m.group(1) is None else f" {m.group(1)}_{m.group(2)} "


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
    for tok in _TOKEN_RE.findall(_BEFORE_TOKENS.sub(_rewrite, text.lower().replace("#", " "))):
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


def light_stem(word: str) -> str:
    """``word`` without a plural, -ing, -ed or final -e ending: "fills", "filling" and "filled"
    all give "fill", "reduce" and "reducing" "reduc". Crude on purpose: it only has to make the
    forms of one word meet, for telling whether an entry speaks of a word the user used."""
    if not word.isalpha() or len(word) < 4:
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("ing") and len(w) >= 6:
        w = w[:-3]
    elif w.endswith("ed") and len(w) >= 5:
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w != word and len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouylsz":
        w = w[:-1]  # "running" -> "runn" -> "run"; "filling" keeps its "ll"
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    return w


def stem_keys(tok: str) -> tuple[str, ...]:
    """The keys under which a word's other forms are found in :func:`entry_terms`: its 5-letter
    prefix ("~sched" for "scheduler" and "scheduling") and its :func:`light_stem` ("^fill")."""
    if not tok.isalpha() or len(tok) < 3:
        return ()
    stem = "^" + light_stem(tok)
    # Words that begin with a common prefix share their first five letters with unrelated words
    # ("multithreads" / "multiple", "interval" / "internal", "reconnect" / "reconstruction"):
    # their prefix key is two letters longer.
    n = 7 if tok[:5] in _SHARED_PREFIXES else 5
    if tok in _OWN_WORDS:
        return (stem,)
    return ("~" + tok[:n], stem) if len(tok) >= 5 else (stem,)


#: Five-letter word beginnings that many unrelated words share (see :func:`stem_keys`).
_SHARED_PREFIXES = frozenset({"multi", "inter", "recon", "conte", "trans", "under"})

#: Words that are not another form of the word their prefix spells: "asyncio" (the library) is not
#: "async" (an async actor), so "Can I call asyncio.run ...?" does not answer "can actors have async
#: methods"; "ObjectRefGenerator" is not "objects"; "collective" (ray.util.collective) is not "collects"
#: (the usage-stats entry: "Ray collects usage stats" answered a question about collective send).
_OWN_WORDS = frozenset({"asyncio", "objectrefgenerator", "collective"})


def identifier_prefixes(tok: str) -> tuple[str, ...]:
    """Keys for the first words of an identifier, two words at least: "<idle_timeout" for
    "idle_timeout_minutes". Users shorten setting names; :func:`covered` looks a shortened name up
    under these keys (a set lookup, not a scan of every term)."""
    core = tok.strip("_")
    if core.count("_") < 2:
        return ()
    start = len(tok) - len(tok.lstrip("_"))
    cuts = [i for i, ch in enumerate(tok) if ch == "_" and i > start and "_" in tok[start:i]]
    return tuple("<" + tok[:i] for i in cuts if i < len(tok.rstrip("_")))


def covered(tok: str, terms: set[str]) -> bool:
    """Does an entry whose :func:`entry_terms` are ``terms`` use ``tok`` in some form? A setting
    named by its first words ("idle_timeout") is covered by the entry that spells it out
    ("idle_timeout_minutes")."""
    if tok in terms or any(k in terms for k in stem_keys(tok)):
        return True
    return "_" in tok.strip("_") and "<" + tok in terms


def term_keys(tok: str) -> tuple[str, ...]:
    """What a word of a text adds to its term set besides itself (:func:`entry_terms`)."""
    return stem_keys(tok) + identifier_prefixes(tok)


def entry_terms(text: str) -> set[str]:
    """What an entry's text addresses: its tokens plus the :func:`term_keys` of each word."""
    toks = set(tokenize(text))
    return toks | {k for t in toks for k in term_keys(t)}


def term_counts(text: str) -> list[list]:
    """``[[term, count], ...]`` sorted by term: what the index stores for BM25."""
    return [[t, n] for t, n in sorted(Counter(tokenize(text)).items())]
