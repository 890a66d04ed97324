"""Pasted errors and log lines, matched against the ``signatures:`` of knowledge-base entries.

A signature is a message exactly as Ray emits it (see ``docs/kb-format.md``). A question that
pastes a message is matched against every signature *before* retrieval: a match names the
entry that explains that message; a pasted message that matches none is not answered with the
entry of a different message (see :func:`near`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from raybot import tuning
from raybot.lazyre import lazy

if TYPE_CHECKING:
    from raybot.kb import Entry, Signature

#: Exception classes that say nothing about which Ray problem it is.
GENERIC_ERRORS = frozenset(
    """valueerror runtimeerror typeerror keyerror assertionerror exception oserror ioerror
    connectionerror timeouterror importerror modulenotfounderror attributeerror indexerror
    raytaskerror raysystemerror rayerror notimplementederror permissionerror filenotfounderror
    memoryerror systemexit baseexception error rpcerror""".split()
)

_LOG_LINE = lazy(
    r"""^\s*(?:
        \[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d            # 2023-07-21 23:57:06 ...
      | \[\d{4}-\d\d-\d\d                          # [2023-08-01 ...
      | \(\w[\w:.-]*\s+pid=\d+                     # (raylet, pid=123) / (BaseWorkerMixin pid=1)
      | [EWIF]\d{4}\s                              # glog: E1201 12:00:00 ...
      | (?:\[\w+\]\s*)?[\w/.-]+\.(?:cc|h|cpp|py):\d+   # reference_count.cc:1413:
      | (?:\w+\.)*[A-Z]\w*(?:Error|Exception)\b\s*[:(]  # ray.exceptions.OwnerDiedError: ...
      | (?:WARNING|ERROR|FATAL|CRITICAL|Warning|Error):?\s
      | Traceback\b
    )""",
    re.X,
)
_TRAILING_ASK = lazy(
    r"(?<=[.!)\]])\s+(?=(?:how|why|what|when|where|which|can|could|should|would|will|is|are|does|do|did|"
    r"any|anyone)\b[^.!]*$)",
    re.I,
)
#: (Single quotes too, when no letter or apostrophe touches them: "logging 'Objects ... hung.' What" but
#: not the apostrophes of "don't ... it's".)
_QUOTED = lazy(r'"([^"\n]{30,600})"|“([^”\n]{30,600})”|(?<![\w\'])\'([^\'\n]{30,600})\'(?![\w\'])')
#: Backtick spans, taken in pairs from the left: in "`ray.wait()` does not raise while `ray.get()`
#: does", the text between two spans is the user's own words, not a quoted message.
_BACKTICKED = lazy(r"(?<!`)`([^`\n]+)`(?!`)")
_WORD = lazy(r"[a-z][a-z0-9_']*")
#: An exception class name ("OwnerDiedError", "ModuleNotFoundError"); also used by the assistant.
ERROR_NAME = lazy(r"\b([A-Z][A-Za-z0-9]+(?:Error|Exception))\b")

#: What names one of Ray's libraries (outside raybot's scope, kb/SCOPE.yaml) in a question or in
#: a pasted traceback: module paths and imports, the library's own names, its classes and the
#: text its errors start with (a Tune trial's "Failure # 1 (occurred at ...)").
_LIBRARY = lazy(
    r"""(?x)
      \bray[./](?:tune|rllib|train|data|serve|air|workflow)\b
    | \bfrom\ ray\ import\ (?:tune|serve|train|data|air|workflow)\b
    | (?i:\b(?:rllib|(?:xgboost|lightgbm)\s*[_-]\s*ray|ray\ (?:tune|serve|data(?:sets?)?|train|workflows?))\b)
    | \bFailure\ \#\ ?\d | \bTrials?\b | \bTuner\b | (?<![\w-])tune\.(?!py\b)\w+
    | (?i:\bserve\ (?:deploy|run|build|status|start|shutdown|config)\b)
    | @serve\.deployment | (?<![\w-])serve\.(?!py\b)\w+
    | (?i:\bserve\ (?:apps?|applications?|models?|deployments?)\b) | (?i:\b(?:run|start|deploy)\ serve\b(?!\.py))
    | \b(?:RolloutWorker|AIRRLTrainer|\w+Trainer|ScalingConfig|RunConfig|TuneConfig)\b
    | \bWorkflows?\ API\b | \bmap_batches\b | \btake_all\b | \bExecutionResources\b
    | (?i:\bdeployment\ ?handles?\b | \bray\ deployments?\b | \bdeployments?\ per\ (?:cluster\ )?node\b)
    | (?i:\bworkflow\ (?:tasks?|functions?|steps?|storage)\b)
    | \b(?:DD-?)?PPO\b | (?i:\bray\ trainers?\b)
    """
)


@dataclass(frozen=True)
class SignatureHit:
    entry: str
    signature: Signature
    exact: bool  #: the whole signature matched; False: the paste is a cut-off or re-wrapped copy
    score: float  #: share of the signature's words present in the paste
    position: int = 0  #: where an exact match starts in the paste
    end: int = 0  #: where an exact match ends in the paste
    part: bool = False  #: only a run of the message's words was pasted (its start cut off, say)
    #: the paste holds the message's whole first sentence, a fixed one (no placeholder) that no other
    #: entry's message opens with
    opening: bool = False


def pasted_message(text: str) -> str:
    """The parts of a question that look like a pasted error or log line ("" if none).

    Log-looking lines (timestamps, ``file.cc:123:``, ``SomeError:``, ``WARNING``) and quoted
    messages of 30+ characters count; prose and code around them do not.
    """
    found: list[str] = []
    for line in text.splitlines():
        s = line.strip().strip("`")
        if s and _LOG_LINE.match(s):
            # "WARNING: ... (2). how do I cap them": the question typed after the message on the
            # same line is the user's own words, not part of the message.
            ask = _TRAILING_ASK.search(s)
            found.append(s[: ask.start()] if ask else s)
    quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text)]
    quoted += [m.group(1) for m in _BACKTICKED.finditer(text) if 30 <= len(m.group(1)) <= 600]
    for inner in (q.strip() for q in quoted):
        if len(inner.split()) >= 5 and not any(inner in f for f in found) and _message_like(inner):
            found.append(inner)
    return "\n".join(found)


#: A quoted text is a message someone pasted when it reads like one: it names a failure or a
#: warning, an error class, or a log prefix. A quoted sentence of the docs ("Numpy arrays in the
#: object store are shared ...") or a line of code in backticks is the user's context, not a paste.
_MESSAGE_WORDS = lazy(
    r"\b(?:errors?|exceptions?|fail(?:s|ed|ure)?|cannot|can't|could not|couldn't|unable|warn(?:ing)?|"
    r"timed? ?out|timeout|died|dead|dying|kill(?:ed|ing)?|lost|refused|denied|invalid|unexpected(?:ly)?|"
    r"exceed(?:s|ed)?|missing|no such|not (?:found|registered|ready|exist|supported|available)|"
    r"exit(?:s|ed)?|crash(?:ed)?|oom|out of memory|hanging|hung|deprecated|aborted?|segmentation)\b",
    re.I,
)
_CODE_LIKE = lazy(
    r"^[\w.\[\]]+\s*=[^=]|\.remote\(|\bfor \w+ in\b|^\s*(?:def|class|import|from|return|await)\b|\blambda\b|"
    r"^\s*ray\.\w+\(|^\s*@",
)


def _message_like(text: str) -> bool:
    if _CODE_LIKE.search(text):
        return False
    return bool(_MESSAGE_WORDS.search(text) or ERROR_NAME.search(text) or _LOG_LINE.match(text))


def library_context(text: str) -> list[str]:
    """The distinct markers of Ray's libraries (Tune, RLlib, Train, Data, Serve, Workflows) in
    ``text``, lower-cased: a question or paste that comes from one of them is about that library
    even when the message at the bottom of its traceback is a Ray Core one."""
    return list(dict.fromkeys(m.group(0).lower() for m in _LIBRARY.finditer(text)))


#: Which library a marker of ``library_context`` belongs to, and how an entry's own text names
#: that library (an entry that speaks about Tune trials may answer a Tune question's Core part).
_LIBRARY_OF: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("Ray Tune", lazy(r"tune|trial|failure #", re.I), lazy(r"\btune\b|\btuner\b|\btrials?\b", re.I)),
    ("RLlib", lazy(r"rllib|rollout|airrl|ppo", re.I), lazy(r"\brllib\b", re.I)),
    ("Ray Serve", lazy(r"serve|deployment", re.I), lazy(r"\bserve\b", re.I)),
    ("Ray Workflows", lazy(r"workflow", re.I), lazy(r"\bworkflows?\b", re.I)),
    (
        "Ray Data",
        lazy(r"data|map_batches|take_all|executionresources", re.I),
        lazy(r"\bray data\b|\bray\.data\b|\bdatasets?\b", re.I),
    ),
    ("xgboost-ray / lightgbm-ray", lazy(r"xgboost|lightgbm", re.I), lazy(r"xgboost|lightgbm", re.I)),
    ("Ray Train", lazy(r"train|config", re.I), lazy(r"\bray train\b|\btrainers?\b", re.I)),
)


#: Where each library's own documentation is (the decline points there).
LIBRARY_DOCS: dict[str, str] = {
    "Ray Tune": "https://docs.ray.io/en/latest/tune/",
    "RLlib": "https://docs.ray.io/en/latest/rllib/",
    "Ray Serve": "https://docs.ray.io/en/latest/serve/",
    "Ray Workflows": "https://docs.ray.io/en/latest/workflows/",
    "Ray Data": "https://docs.ray.io/en/latest/data/",
    "xgboost-ray / lightgbm-ray": "https://github.com/ray-project/xgboost_ray",
    "Ray Train": "https://docs.ray.io/en/latest/train/",
}


def libraries_named(text: str) -> list[tuple[str, re.Pattern[str]]]:
    """The libraries ``text`` names (see ``library_context``), each with the pattern by which an
    entry's text would name it too."""
    out: dict[str, re.Pattern[str]] = {}
    for marker in library_context(text):
        for name, of, named in _LIBRARY_OF:
            if of.search(marker):
                out.setdefault(name, named)
                break
    return list(out.items())


_ASK_SENTENCE = lazy(
    r"^(?:how|why|what|when|where|which|who|can|could|should|would|will|is|are|does|do|did|any|anyone)\b", re.I
)


def words_around(text: str, sig: Signature) -> str:
    """``text`` without the signature's message: what comes before it, and the sentences after
    it that ask something (the rest of the message's line is ids, pids and the user's task
    names, not a question)."""
    m = sig.pattern().search(text)
    if m is None:
        return text
    after = [
        x
        for x in re.split(r"(?<=[.?!])\s+", text[m.end() :])
        if x.rstrip().endswith("?") or _ASK_SENTENCE.match(x.strip())
    ]
    return " ".join([text[: m.start()], *after]).strip()


#: A task that raised ModuleNotFoundError is a worker that cannot import what the driver can (a
#: Ray deployment problem), unlike the other generic classes a RayTaskError wraps, which are the
#: user's own code failing.
#: ... and RaySystemError's "System error: No module named 'x'", the same import failure met while
#: deserializing an object (serialization.py L601-L603, 2.60.0).
_WRAPPED_IMPORT_ERROR = lazy(
    r"\bRayTaskError\((ModuleNotFoundError)\)|\bRaySystemError: System error: No (module) named\b"
)


def error_names(text: str) -> list[str]:
    """Exception class names in ``text``, generic ones (ValueError, ...) left out, except a
    ModuleNotFoundError that a RayTaskError or RaySystemError wraps."""
    names = []
    for n in ERROR_NAME.findall(text):
        if n.lower() not in GENERIC_ERRORS and n not in names:
            names.append(n)
    wrapped = ["ModuleNotFoundError" for _ in _WRAPPED_IMPORT_ERROR.findall(text)[:1]]
    return names + [n for n in wrapped if n not in names]


def short_name(sig: Signature) -> str:
    """How to name a signature in a list: its exception class, else its first words."""
    m = ERROR_NAME.search(sig.where)
    if m and m.group(1).lower() not in GENERIC_ERRORS:
        return m.group(1)
    from raybot.kb import PLACEHOLDER_RE

    words = PLACEHOLDER_RE.sub("…", sig.text).replace("`", "").split()
    while words and words[0] == "…":
        words = words[1:]
    cut = words[: next((i for i, w in enumerate(words) if "…" in w), len(words))][:7]
    return "“" + " ".join(cut) + (" …”" if len(cut) < len(words) else "”")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=4096)
def literal_words(sig: Signature) -> tuple[str, ...]:
    from raybot.kb import PLACEHOLDER_RE

    return tuple(_words(PLACEHOLDER_RE.sub(" ", sig.text)))


@functools.lru_cache(maxsize=4096)
def _needles(sig: Signature) -> tuple[str, ...]:
    return sig.needles()


#: A signature of at least this many literal words may be matched with a distinctive word missing
#: (a long message re-wrapped or cut by a chat client); a shorter one only with filler missing.
NEAR_COPY_LONG = 12
#: A paste holding this many consecutive words of one piece of a message (between placeholders),
#: PART_COPY_DISTINCT of them not filler, is that message with its start or end cut off: users
#: paste "IOError: [RayletClient] Unable to register worker with raylet. ..." without the
#: "Failed to register worker ... to Raylet." that opens it.
PART_COPY_RUN = 8
PART_COPY_DISTINCT = 5


_URL = lazy(r"https?://\S+")


@functools.lru_cache(maxsize=4096)
def _runs(sig: Signature) -> frozenset[tuple[str, ...]]:
    """Every PART_COPY_RUN consecutive literal words inside one placeholder-free piece."""
    from raybot.kb import PLACEHOLDER_RE

    out = set()
    for piece in PLACEHOLDER_RE.split(sig.text)[::2]:  # split() interleaves the placeholder names
        ws = _words(_URL.sub(" ", piece))  # a docs link is shared by many messages and many pastes
        distinct = [0]  # distinct[i]: words among ws[:i] that are not filler
        for w in ws:
            distinct.append(distinct[-1] + (w not in _COMMON))
        for i in range(len(ws) - PART_COPY_RUN + 1):
            if distinct[i + PART_COPY_RUN] - distinct[i] >= PART_COPY_DISTINCT:
                out.add(tuple(ws[i : i + PART_COPY_RUN]))
    return frozenset(out)


_RUN_INDEX: dict[int, tuple[dict[str, Entry], dict[tuple[str, ...], list[Signature]]]] = {}


def _run_index(entries: dict[str, Entry]) -> dict[tuple[str, ...], list[Signature]]:
    """Every signature's runs (``_runs``) -> the signatures that have it, built once per kb."""
    cached = _RUN_INDEX.get(id(entries))
    if cached is not None and cached[0] is entries:
        return cached[1]
    index: dict[tuple[str, ...], list[Signature]] = {}
    for entry in entries.values():
        for sig in entry.signatures:
            for run in _runs(sig):
                index.setdefault(run, []).append(sig)
    _RUN_INDEX.clear()
    _RUN_INDEX[id(entries)] = (entries, index)
    return index


_OPENINGS: dict[int, tuple[dict[str, Entry], dict[int, Signature]]] = {}


def _openings(entries: dict[str, Entry]) -> dict[int, Signature]:
    """``id(signature) -> its first sentence`` for messages of several sentences whose first one
    has tuning.SIGNATURE_OPENING_MIN_WORDS literal words and belongs to that one entry only: a paste that stops
    after it ("The remote function f is very large (150 MiB)." without the advice that follows)
    is that message. Openings that several entries' messages share name no message."""
    cached = _OPENINGS.get(id(entries))
    if cached is not None and cached[0] is entries:
        return cached[1]
    from raybot.kb import PLACEHOLDER_RE, Signature

    found: dict[int, tuple[str, Signature]] = {}
    owners: dict[str, set[str]] = {}
    for entry in entries.values():
        for sig in entry.signatures:
            parts = re.split(r"(?<=[.!?])\s+(?=\S)", sig.text.strip(), maxsplit=1)
            if len(parts) < 2:
                continue
            first = parts[0].rstrip(".!?")  # a paste may stop before the full stop
            words = _words(PLACEHOLDER_RE.sub(" ", first))
            if len(words) < tuning.SIGNATURE_OPENING_MIN_WORDS:
                continue
            key = " ".join(words)
            owners.setdefault(key, set()).add(entry.id)
            found[id(sig)] = (key, Signature(first, sig.source, sig.where))
    table = {k: sig for k, (key, sig) in found.items() if len(owners[key]) == 1}
    _OPENINGS.clear()
    _OPENINGS[id(entries)] = (entries, table)
    return table


def shared_opening(entry: Entry, sig: Signature) -> str | None:
    """The first sentence of ``sig`` when another signature of the same entry opens with it too
    ("Some workers of the worker process({pid}) have not registered within the timeout." goes on
    "The process is still alive ..." or "The process is dead ..."): a paste of that sentence alone
    is either message, so only the sentence may be quoted back."""
    first = re.split(r"(?<=[.!?])\s+(?=\S)", sig.text.strip(), maxsplit=1)[0]
    if first == sig.text.strip():
        return None
    others = (o for o in entry.signatures if o is not sig)
    return first if any(o.text.strip().startswith(first) for o in others) else None


def _part_copy(sig: Signature, seq: list[str], grams: set[tuple[str, ...]]) -> int:
    """How many of the signature's literal words the longest pasted run covers (0: none)."""
    from raybot.kb import PLACEHOLDER_RE

    runs = _runs(sig) & grams
    if not runs:
        return 0
    lit = _words(_URL.sub(" ", PLACEHOLDER_RE.sub(" ", sig.text)))
    # Grow the first shared run while the paste and the message go on alike.
    best = 0
    for run in runs:
        for i in range(len(seq) - PART_COPY_RUN + 1):
            if tuple(seq[i : i + PART_COPY_RUN]) != run:
                continue
            j = next((k for k in range(len(lit)) if tuple(lit[k : k + PART_COPY_RUN]) == run), None)
            if j is None:
                continue
            n = PART_COPY_RUN
            while i + n < len(seq) and j + n < len(lit) and seq[i + n] == lit[j + n]:
                n += 1
            best = max(best, n)
    return best


def find(entries: dict[str, Entry], text: str) -> list[SignatureHit]:
    """Signatures found in ``text``: exact matches, then near-complete copies (cut off at the
    end of a line, or missing a word), best first."""
    from raybot.kb import PLACEHOLDER_RE

    hits: list[SignatureHit] = []
    words = set(_words(text))
    seq = _words(_URL.sub(" ", text))
    grams = {tuple(seq[i : i + PART_COPY_RUN]) for i in range(len(seq) - PART_COPY_RUN + 1)}
    runs = _run_index(entries)
    # The signatures a run of the paste belongs to: the only ones a part copy can be of.
    part_candidates = {id(sig) for g in grams for sig in runs.get(g, ())}
    openings = _openings(entries)
    low = text.lower()
    for entry in entries.values():
        for sig in entry.signatures:
            m = sig.pattern().search(text) if all(w in low for w in _needles(sig)) else None
            if m:
                hits.append(SignatureHit(entry.id, sig, True, 1.0, m.start(), m.end()))
                continue
            lit = literal_words(sig)
            if len(lit) < 6:
                continue
            share = sum(1 for w in lit if w in words) / len(lit)
            # In a short message one missing word is a large part of it: only a filler word may
            # be missing ("Run cmd[{n}] failed with the following details." is not found in a
            # traceback that has every word of it but "cmd").
            whole_enough = len(lit) >= NEAR_COPY_LONG or all(w in words or w in _COMMON for w in lit)
            if whole_enough and share >= tuning.SIGNATURE_NEAR_COPY and _in_order(lit, text):
                start = re.search(r"\W+".join(map(re.escape, lit[:3])), text, re.I)
                hits.append(SignatureHit(entry.id, sig, False, share, start.start() if start else 0))
                continue
            opening = openings.get(id(sig))
            m = (
                opening.pattern().search(text)
                if opening is not None and all(w in low for w in _needles(opening))
                else None
            )
            # A fixed first sentence (no placeholder) found whole names this one message.
            fixed = m is not None and opening is not None and PLACEHOLDER_RE.search(opening.text) is None
            covered = _part_copy(sig, seq, grams) if id(sig) in part_candidates else 0
            if covered:
                hits.append(SignatureHit(entry.id, sig, False, covered / len(lit), 0, part=True, opening=fixed))
                continue
            if m:
                share = len(literal_words(opening)) / len(lit)
                hits.append(
                    SignatureHit(entry.id, sig, False, share, m.start(), part=True, opening=fixed)
                )
    # Ray's messages open with a line their variants share ("Failed to retrieve object ...")
    # and say what happened after it: the match that starts later is the more specific one.
    # At the same place, a signature with a placeholder filled in ("Could not read
    # 'session_name' from GCS" beside "Could not read '{key}' from GCS") is the more specific.
    # A match that lies inside a longer exact match is part of that message, not a message of
    # its own: a gRPC status such as "failed to connect to all addresses" quoted in the
    # "Status: ..." part of the message that reports it. The enclosing message comes first.
    spans = [(h.position, h.end) for h in hits if h.exact]
    hits.sort(
        key=lambda h: (
            h.exact and any(a <= h.position and h.end <= b and b - a > h.end - h.position for a, b in spans),
            h.part,  # a pasted piece of a message only when no message is there whole or nearly
            -h.position,
            not h.exact,
            -h.score,
            -h.signature.literal_chars(),
        )
    )
    return _prefer_cut_specific(hits)


def _prefer_cut_specific(hits: list[SignatureHit]) -> list[SignatureHit]:
    """A general message whose last placeholder takes the rest of the line ("Failed to register
    worker to Raylet: {error}") matches any paste that opens like it, also one cut off inside a
    more specific message that opens the same way ("... to Raylet: Invalid: Invalid: No available
    ports", without its last sentence). When the paste goes on with that specific message's words
    past where the general one's fixed text ends, the specific one is what was pasted."""
    from raybot.kb import PLACEHOLDER_RE

    if not hits or not hits[0].exact:
        return hits
    general = hits[0].signature
    if not re.search(r"\}\W*$", general.text) or PLACEHOLDER_RE.search(general.text) is None:
        return hits
    opening = literal_words(general)
    for i, h in enumerate(hits[1:], start=1):
        lit = literal_words(h.signature)
        if not h.part or lit[: len(opening)] != opening:
            continue
        covered = round(h.score * len(lit))
        # Three words past the shared opening: more than a status code ("Invalid: Invalid:").
        if covered >= len(opening) + 3:
            return [h, *hits[:i], *hits[i + 1 :]]
    return hits


def _in_order(lit: tuple[str, ...], text: str) -> bool:
    """Most of the signature's words appear in the paste in the signature's order."""
    seq = _words(text)
    pos, found = 0, 0
    for w in lit:
        try:
            pos = seq.index(w, pos) + 1
            found += 1
        except ValueError:
            continue
    return found / len(lit) >= tuning.SIGNATURE_NEAR_COPY


#: A word in this share of all signatures or more ("failed", "because", "worker", "node") says
#: little about which message a paste is close to.
NEAR_FREQUENT_SHARE = 0.06


@functools.lru_cache(maxsize=8)
def _frequent_words(sigs: tuple[Signature, ...]) -> frozenset[str]:
    df: dict[str, int] = {}
    for sig in sigs:
        for w in set(literal_words(sig)):
            df[w] = df.get(w, 0) + 1
    return frozenset(w for w, n in df.items() if n >= NEAR_FREQUENT_SHARE * len(sigs))


def near(entries: dict[str, Entry], message: str) -> list[tuple[str, str, Entry]]:
    """Signatures that share distinctive words with ``message`` but are not it:
    ``(name, signature text, entry)``, closest first. The name is the exception class when the
    signature belongs to one, else the signature's first words."""
    frequent = _frequent_words(tuple(sig for e in entries.values() for sig in e.signatures))
    words = set(_words(message)) - _COMMON - frequent
    scored = []
    for entry in entries.values():
        for sig in entry.signatures:
            lit = set(literal_words(sig)) - _COMMON - frequent
            if not lit:
                continue
            shared = len(lit & words)
            share = shared / len(lit)
            if shared >= 3 and share >= tuning.SIGNATURE_NEAR_SHARE:
                m = ERROR_NAME.search(sig.where) or ERROR_NAME.search(entry.title)
                name = m.group(1) if m else " ".join(sig.text.split()[:4]) + " …"
                scored.append((share, name, sig.text, entry))
    scored.sort(key=lambda t: -t[0])
    out, seen = [], set()
    for _, name, text, entry in scored:
        if name not in seen:
            seen.add(name)
            out.append((name, text, entry))
    return out


_COMMON = frozenset(
    """the a an of to in on at by for with from as is are was were be been this that it its not no
    should may can has have had and or but if via set see more information check""".split()
)
