"""One turn of a conversation: thread state + intent + retrieval -> a composed, cited answer.

The flow is kb -> index -> retrieve -> answer -> thread: :class:`Assistant` loads the index
once (lazily), reads the thread's state (current topic, sections shown, last offer), decides
what the message asks for (:mod:`raybot.intents`), composes the answer from entries
(:mod:`raybot.answer`) and appends the turn to the thread store.
"""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from raybot import addresses, intents, language, signatures, tuning
from raybot import answer as compose
from raybot.answer import Answer, Composed, Offer
from raybot.errors import StoreError, ThreadNotFound, UsageError
from raybot.lazyre import lazy
from raybot.retrieve import FILLER, Hit, Query, prepare_query, tokenize
from raybot.threads import Thread, ThreadStore, Turn, check_thread_id, new_thread_id
from raybot.tokens import covered, term_keys

if TYPE_CHECKING:
    from collections.abc import Callable

    from raybot.kb import Entry, ShortAnswer

IN_SCOPE_MIN = tuning.IN_SCOPE_MIN  # kept for importers; the value lives in raybot.tuning
DENSE_LOW, DENSE_HIGH = tuning.DENSE_LOW, tuning.DENSE_HIGH


def confidence(hit: Hit | None, unknown: list[str] | None = None, scope_sim: float = 0.0) -> float:
    """A similarity score of the best entry, 0..1, NOT a probability (see :class:`Judgement` for
    that). Used where only closeness matters: a follow-up switching topics, an issue list.

    Dense similarity DENSE_LOW..DENSE_HIGH maps linearly to 0..1; an exact identifier match
    (a config name, error class, issue number) lifts it; each salient word the knowledge base
    never uses (``unknown``, at most two) lowers it; a question at least as close to an
    out-of-scope area (``kb/SCOPE.yaml``) as to the best entry is capped below the bar.
    """
    if hit is None:
        return 0.0
    conf = (hit.dense - tuning.DENSE_LOW) / (tuning.DENSE_HIGH - tuning.DENSE_LOW)
    conf = min(max(conf, 0.0), 1.0)
    if hit.exact:
        conf = max(conf, 0.55 + 0.1 * min(len(hit.exact), 3))
    else:
        if unknown:
            conf -= tuning.UNKNOWN_PENALTY * min(len(unknown), 2)
        if scope_sim >= hit.dense - tuning.SCOPE_MARGIN:
            conf = min(conf, tuning.OUT_OF_SCOPE_CAP)
    return float(min(max(conf, 0.0), 1.0))


@dataclass
class Judgement:
    """Why raybot trusts (or not) the best entry for this question: the ranking features, the
    raw score the fitted model makes of them (``raybot.tuning``) and its calibrated confidence
    (the measured accuracy of its bin)."""

    entry: str | None
    dense: float = 0.0
    exact: int = 0
    unknown: int = 0
    missing: list[str] = field(default_factory=list)  #: key terms of the question the entry does not address
    missing_identifiers: list[str] = field(default_factory=list)
    scope_close: bool = False
    margin: float = 0.0
    coverage: float = 1.0  #: share of the question's content words the entry uses
    lexical: float = 0.0  #: best BM25 chunk score of the entry
    library: int = 0  #: markers of Ray's libraries (Tune, RLlib, ...) in the question or its paste
    raw: float = 0.0  #: the model's score
    raw_covered: float = 0.0  #: the score had the entry addressed every key term (partial answers)
    confidence: float = 0.0  #: calibrated
    signature: bool = False
    signature_bin: str = ""  #: for a signature match: its calibration bin (tuning.SIGNATURE_CALIBRATION)
    scope_area: str | None = None  #: the nearest out-of-scope area of kb/SCOPE.yaml (for --explain)
    scope_sim: float = 0.0  #: the question's similarity to that area

    def features(self, *, covered: bool = False) -> dict[str, float]:
        return {
            "bias": 1.0,
            "dense": min(max((self.dense - tuning.DENSE_CENTER) / tuning.DENSE_SCALE, -3.0), 4.0),
            "exact": float(min(self.exact, 3)),
            "unknown": float(min(self.unknown, 3)),
            "missing": 0.0 if covered else float(min(len(self.missing), 3)),
            "missing_identifiers": 0.0 if covered else float(bool(self.missing_identifiers)),
            "scope_close": float(self.scope_close),
            "margin": min(max(self.margin * 100, 0.0), 3.0),
            "coverage": self.coverage,
            "lexical": min(self.lexical / 10.0, 3.0),
            "library": float(min(self.library, 3)),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "entry": self.entry,
            "features": {k: round(v, 3) for k, v in self.features().items()},
            "missing": self.missing,
            "missing_identifiers": self.missing_identifiers,
            "raw": round(self.raw, 4),
            "confidence": round(self.confidence, 4),
            "signature": self.signature,
            **({"signature_bin": self.signature_bin} if self.signature else {}),
            **({"scope_area": self.scope_area, "scope_sim": round(self.scope_sim, 4)} if self.scope_area else {}),
        }


_YES_NO = lazy(
    # A bracketed subject line before the question ("[Resources] Is it ...?") ends a sentence too.
    # Not after "that": "make a task run only on nodes that have it?" is a relative clause.
    r"(?:^|[.?!,;:\])]\s*|\b(?:and|but|so|if|then|also|whether)\s+)"
    r"(?:is|are|does|do|did|can|could|will|would|should|shall|has|have|was|were|isn't|aren't|doesn't|don't|"
    # A dot inside a name ("ray.get", "2.60") does not end the question.
    r"won't|can't|must)\s+(?:it|there|this|that|i|we|you|they|ray|the|a|an|my|our|these|those|\w+)\b"
    r"(?:[^.?!]|\.(?=\w))*\?",
    re.I,
)
_DEFAULT_Q = lazy(r"\bdefaults?\b|\bby default\b", re.I)


#: "does ray retry failed tasks by default": a yes/no question typed without its question mark.
#: Only a short text with no "?" anywhere that starts with the verb counts, so a pasted log line or
#: a statement ("is set to 0 in my config.") is not read as one.
_BARE_YES_NO = lazy(
    r"^\s*(?:is|are|does|do|did|can|could|will|would|should|has|have|was|were|isn't|aren't|doesn't|"
    r"don't|won't|can't)\s+(?:it|there|this|that|i|we|you|they|ray|the|a|an|my|our|these|those|\w+)\b"
    r"[^?\n]*$",
    re.I,
)
_BARE_YES_NO_MAX_WORDS = 25

#: "my actor constructor fails, does ray retry it": the yes/no part after a comma, still without
#: its question mark. The subject must be a pronoun, "ray" or a determiner so that a statement
#: ("..., is set to 0 in my config") is not read as a question.
_BARE_YES_NO_CLAUSE = lazy(
    r"[,;]\s*(?:and\s+|but\s+|so\s+)?(?:is|are|does|do|did|can|could|will|would|should|has|have|was|were|"
    r"isn't|aren't|doesn't|don't|won't|can't)\s+(?:it|there|this|that|i|we|you|they|ray|the|a|an|my|our|"
    r"these|those|its|their|all|any)\b[^?,;\n]*$",
    re.I,
)


#: "Can you show me an example of exit_actor()?": a request, whatever its grammar.
_REQUEST = lazy(
    r"^\W*(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|pls\s+)?(?:show|give|explain|tell|provide|write|"
    r"help|list|share|describe|point|generate|create|make|suggest|recommend|summari[sz]e|elaborate|walk)\b",
    re.I,
)


#: "if the head restarts do workers rejoin?": a condition first, then the yes/no question, no comma.
_CONDITION_THEN_YES_NO = lazy(
    r"^\W*(?:if|when|after|once)\s+(?!(?:is|are|does|do|did|can|could|will|would|should|must)\b)"
    r"(?![^?]*\b(?:how|what|why|which|where|who|whom|whose)\b)\S+\s+\S+[^?]*?"
    r"\s(?:is|are|does|do|did|can|could|will|would|should|must)\s+\w+[^?]*\?",
    re.I,
)


#: The same without a question mark; only an auxiliary that cannot start a statement's predicate
#: ("after a few hours the object store is full" is a statement).
_BARE_CONDITION_THEN_YES_NO = lazy(
    r"^\W*(?:if|when|after|once)\s+(?!(?:is|are|does|do|did|can|could|will|would|should|must)\b)"
    r"(?!.*\b(?:how|what|why|which|where|who|whom|whose)\b)\S+\s+\S+.*?"
    r"\s(?:do|does|did|will|would|can|could|should)\s+\w+.*$",
    re.I,
)


#: A statement typed with a question mark asks whether it is true ("head pod restart loses all my
#: jobs?", "ray.get blocking?"): a short one, with no question word, no choice and no default.
_DECLARATIVE_QUESTION = lazy(
    r"(?!.*\b(?:what|whats|how|why|which|where|who|whom|whose|when|default|defaults|or|vs|versus)\b)"
    r"(?:\S+\s+){1,11}\S+\?$",
    re.I,
)


#: ... and it says something: a verb form, not just a topic ("ray.cancel force=True on an actor
#: task?" asks what happens, not whether).
_HAS_VERB = lazy(
    r"\b[a-z]{2,}(?:es|ed|ing)\b|\b[a-z]{3,}[^s\W]s\b"
    r"|\b(?:run|work|fail|die|hang|block|leak|crash|need|keep|stay|survive|free|kill|retry|restart|support|"
    r"share|reuse|copy|scale|start|stop|wait|return|get)\b",
    re.I,
)


def _asks_yes_no(sentence: str, text: str) -> bool:
    if _REQUEST.search(sentence):
        return False
    if _YES_NO.search(sentence) or _CONDITION_THEN_YES_NO.search(sentence):
        return True
    one = " ".join(sentence.split())
    if one == " ".join(text.split()) and _DECLARATIVE_QUESTION.match(one) and _HAS_VERB.search(one):
        return True  # "kuberay head pod restart loses all my jobs?"
    flat = " ".join(text.split())
    if "?" in flat or len(flat.split()) > _BARE_YES_NO_MAX_WORDS:
        return False
    bare = " ".join(sentence.split()).rstrip(".!")
    if sentence.strip() == _question_sentences(flat)[0].strip() and _BARE_YES_NO.match(bare):
        return True
    # The last sentence may end in the yes/no clause: "my actor constructor fails, does ray retry it",
    # or put a condition first: "if i set it to 0 do idle workers stay forever".
    return sentence.strip() == _question_sentences(flat)[-1].strip() and bool(
        _BARE_YES_NO_CLAUSE.search(bare) or _BARE_CONDITION_THEN_YES_NO.search(bare)
    )


def is_yes_no(text: str) -> bool:
    """Does the question (or one of its sentences) ask for a yes or a no?"""
    return any(_asks_yes_no(s, text) for s in _question_sentences(text.strip()))


def _question_sentences(text: str) -> list[str]:
    """``text`` on one line, cut after each full stop, question or exclamation mark."""
    return re.split(r"(?<=[.?!])\s+", " ".join(text.split()))


def yes_no_clause(text: str) -> str:
    """The sentence of ``text`` that asks for a yes or a no about a fact (for quoting it back);
    failing that, the first that asks for a yes or a no at all."""
    sentences = [s for s in _question_sentences(text) if _asks_yes_no(s, text)]
    for sent in sentences:
        if not _HOW_IN_YES_NO_FORM.search(sent) and not _CHOICE.search(sent):
            return sent.strip()
    return sentences[0].strip() if sentences else " ".join(text.split())[:200]


#: "Is there a way to ...?", "is it possible to ...?", "can I ...?": a how-to question in yes/no
#: form. The entry that explains how answers it; no yes or no has to be settled first.
_HOW_IN_YES_NO_FORM = lazy(
    r"\b(?:is|are)\s+there\s+(?:a|an|any)\s+(?:\w+\s+)?(?:way|option|setting|method|api|command|flag|tool"
    r"|doc|docs|document|documentation|guide|page|tutorial|example|explanation)s?\b"
    r"|\bis\s+it\s+possible\b|\b(?:can|could)\s+(?:i|we|you|one)\b"
    r"|\b(?:does|do|would|will|might)\s+(?:anyone|anybody|someone|you)\s+(?:happen\s+to\s+)?know\b"
    # "Do you have any advice for me?": a request for help, not a yes/no about a fact.
    r"|\b(?:does|do|did)\s+(?:anyone|anybody|someone|you)\s+(?:have|got)\s+(?:any\s+|some\s+|an?\s+)?"
    r"(?:advice|ideas?|suggestions?|tips?|pointers?|thoughts?|recommendations?|experience|examples?)\b"
    # "Can anyone please give me a clue how to do it?": a request for help, not a yes/no.
    r"|\b(?:can|could|would|will)\s+(?:anyone|anybody|someone|somebody|any\s+of\s+you)\s+(?:please\s+)?"
    r"(?:help|give|tell|point|explain|share|suggest|advise|guide|shed|clarify|show|provide|recommend)\b"
    # "Has anyone else seen this before?": asking for company, not about a fact of Ray.
    r"|\b(?:has|have|did)\s+(?:anyone|anybody|someone|somebody|any\s+of\s+you)(?:\s+else)?\s+(?:\w+\s+)?"
    r"(?:seen|had|run|ran|come|encountered|experienced|faced|hit|noticed|met|tried|gotten|got)\b"
    # "... wondering if anyone else has had any luck?": the same, said the other way round.
    r"|\b(?:anyone|anybody|someone|somebody)(?:\s+else)?\s+(?:has|have|had)\s+(?:\w+\s+)?"
    r"(?:seen|had|run|ran|come|encountered|experienced|faced|hit|noticed|met|tried|gotten|got|luck)\b"
    # "Is there a questions channel?", "Is this the right place to ask?": about the chat itself.
    r"|\b(?:is|are)\s+there\s+(?:a|an|any)\s+(?:\w+\s+)?(?:channel|forum|slack|place|group)s?\b"
    r"|\b(?:is|am)\s+(?:this|i|here)\s+(?:in\s+)?(?:the\s+)?(?:right|correct|best|proper)\s+"
    r"(?:place|channel|forum|spot)\b",
    re.I,
)


#: "Has anyone else seen this?", "anyone had luck with ...?": asking whether others met the problem.
_SOCIAL_ASK = lazy(
    r"\b(?:has|have|did)\s+(?:anyone|anybody|someone|somebody|any\s+of\s+you)(?:\s+else)?\s+(?:\w+\s+)?"
    r"(?:seen|had|run|ran|come|encountered|experienced|faced|hit|noticed|met|tried|gotten|got)\b"
    r"|\b(?:anyone|anybody|someone|somebody)(?:\s+else)?\s+(?:has|have|had)\s+(?:\w+\s+)?"
    r"(?:seen|had|run|ran|come|encountered|experienced|faced|hit|noticed|met|tried|gotten|got|luck)\b",
    re.I,
)


#: "Should I put it in the object store, or create it inside a task?": a choice, not a yes/no.
_CHOICE = lazy(r",?\s\bor\b(?!\s+not\b)\s+\w+[^?]*\?", re.I)


def asks_fact_yes_no(text: str) -> bool:
    """Does the question ask for a yes or a no about a fact ("will the tasks be killed?"), rather
    than how to do something in yes/no form ("is there a way to ...?")?"""
    for sent in _question_sentences(text):
        if _asks_yes_no(sent, text) and not _HOW_IN_YES_NO_FORM.search(sent) and not _CHOICE.search(sent):
            return True
    return False


def asks_default(text: str) -> bool:
    if not _DEFAULT_Q.search(text):
        return False
    if re.search(r"\b(what|whats|which|how (?:long|many|much|often)|is it|value)\b", text, re.I):
        return True
    # A few words typed like a search ("min_worker_port max_worker_port defaults") ask for the
    # default too; "by default" in a yes/no question ("does it retry by default") does not.
    return (
        len(text.split()) <= tuning.DEFAULT_KEYWORD_QUERY_MAX_WORDS
        and not re.search(r"\bby default\b", text, re.I)
        and not is_yes_no(text)
    )


def _stems(tokens: list[str]) -> set[str]:
    return set(tokens) | {k for t in tokens for k in term_keys(t)}



_covered = covered


#: A short answer that defines a thing ("What is a Ray actor?") ...
_DEFINITION = lazy(
    r"(?!.*\bdefault)\s*what(?:'s| is| are)\s+"
    r"(?:(?:a|an)\s+[\w .'`-]{1,40}|(?:the\s+)?[\w'`-]+(?:\s+[\w'`-]+){0,2})\?\s*$"
    # "What does ray.shutdown() do?" explains a thing just the same.
    r"|\s*what\s+does\s+[\w.()'`-]+(?:\s+[\w.()'`-]+){0,2}\s+do\?\s*$",
    re.I,
)
#: ... answers only a question that asks what something is ("call another actor from within an
#: actor" is no such question) ...
_ASKS_DEFINITION = lazy(
    r"\bwhat(?:['\u2019]s|\s+is|\s+are|\s+does|\s+do)\b|\bexplain|\bdefin(?:e|ition)\b|\bmeaning\b|\bmeans?\b|\bwhats\b"
    r"|\btell me about\b|\bdescribe\b|\bintroduc|\boverview\b|^\W*[\w.()-]+(?:\s+[\w.()=-]+){0,3}\W*$",
    re.I,
)
#: ... and is no answer to a question asking how to do something with it, or why.
_HOW_OR_WHY = lazy(r"\bhow (?:do|does|can|could|should|would|to)\b|\bwhy\b", re.I)


#: The first words of an answer that settles a yes/no question.
_YES_NO_OPENING = lazy(
    r"\s*(?:yes|no|not necessarily|not by default|not directly|not always|usually not)\b\s*[.,:;]", re.I
)


#: How a yes/no question is framed: "do I have to / need / must ..." asks whether something is needed,
#: "is ... enough" whether it suffices. A "Yes."/"No." that settled one frame says the opposite to the
#: other ("Is opening port 6379 enough?" -> "No." read against "Do I have to open more ports?").
_NEEDED_FRAME = lazy(r"\b(?:need|needs|needed|have to|has to|must|required?|requires|necessary|mandatory)\b", re.I)
_ENOUGH_FRAME = lazy(r"\b(?:enough|sufficient|suffices?)\b", re.I)


def _yes_no_frame(text: str) -> frozenset[str]:
    """The frames (``needed``, ``enough``) of the asking sentences of ``text``."""
    sentences = [x for x in _question_sentences(text) if x.rstrip().endswith("?")] or [text]
    asks = " ".join(sentences)
    return frozenset(
        name for name, pattern in (("needed", _NEEDED_FRAME), ("enough", _ENOUGH_FRAME)) if pattern.search(asks)
    )


#: Words that may stand around a bare exception class name without asking anything else.
_CLASS_QUESTION_WORDS = frozenset(
    "what is a an the does do mean means meaning error exception ray raised got getting i im explain".split()
)


#: A statement that something does not work ("ray.cancel doesnt stop my actor task") reports a
#: how-to already tried: its answer is why, not "How do I cancel a running task?".
_COMPLAINT = lazy(
    r"\b(?:doesn'?t|does not|didn'?t|did not|won'?t|will not|isn'?t|is not|aren'?t|are not)\s+(?:\w+\s+)?"
    r"(?:work|stop|start|run|do|finish|return|exit|die|get|show|connect|scale|release|free|kill)\w*\b"
    r"|\bdoes nothing\b|\bnothing happens\b|\bnot (?:working|loading|responding|opening)\b"
    # "can't open the dashboard from the host": they tried, and it failed.
    r"|\b(?:can'?t|cannot|unable to|couldn'?t|could not)\s+(?:open|reach|access|connect to)\b"
    r"|\b(?:hangs?|freezes|is stuck|gets stuck|crash(?:es|ed))\b|\b(?:blocks|waits|runs) forever\b"
    r"|\bkeeps? (?:on )?(?:restarting|crashing|dying|failing|getting killed)\b"
    r"|\b(?:prints?|shows?|returns?|outputs?) nothing\b|\bnever (?:returns?|finishes|ends|starts|exits)\b"
    r"|\b(?:is|are) empty\b|\b(?:returns?|shows?|gives?) (?:an? )?empty\b"
    # A state already seen ("my job status is FAILED and the message just says exit code 1"): they have
    # it in front of them and want to know why, not how to read it.
    r"|\b(?:status|state) (?:is|was|says|shows)(?: \w+)? (?:failed|dead|pending|stopped|unhealthy)\b"
    r"|\b(?:just|only) (?:says|shows|prints|gives)\b",
    re.I,
)
_HOW_TO_SA = lazy(r"\s*how (?:do|can|should) (?:i|we|you)\b", re.I)


#: Words whose opposite turns a yes into a no: "must the nodes run the same Python version?" ->
#: "Yes." is the wrong first word for "does Ray work with different Python versions?".
_OPPOSITES = (
    (
        lazy(r"\bsame\b|\bmatch(?:es|ing)?\b", re.I),
        lazy(r"\bdiffer(?:ent|s|ing)?\b|\bmismatch|\bmix(?:es|ed|ing)?\b", re.I),
    ),
    (
        lazy(r"\benabl(?:e|ed|es|ing)\b|\bon by default\b|\bturned on\b", re.I),
        lazy(r"\bdisabl(?:e|ed|es|ing)\b|\boff by default\b|\bturned off\b", re.I),
    ),
    # What goes into a task is not what comes out: "can I pass a generator to a task" is not "Can a
    # task return a generator?".
    (lazy(r"\breturn(?:s|ed|ing)?\b", re.I), lazy(r"\bpass(?:es|ed|ing)?\b|\bas an? argument", re.I)),
    # Staying alive is the opposite of being ended: "does a detached actor survive ray stop?" must
    # not get the "Yes." of "Does ray stop kill detached actors?".
    (
        lazy(r"\bsurviv\w*|\boutliv\w*|\bkeeps? (?:on )?running\b|\bstays? (?:alive|up|running)\b", re.I),
        lazy(r"\bkill(?:s|ed|ing)?\b|\bterminat\w*|\bdestroy\w*|\bdies\b|\bdie\b", re.I),
    ),
    # Adding nodes is not removing them: "how do I make it scale down faster" is not answered by
    # raising upscaling_speed (found by h34a).
    (
        lazy(r"\bscal(?:e|es|ed|ing)[ -]?up\b|\bupscal", re.I),
        lazy(r"\bscal(?:e|es|ed|ing)[ -]?down\b|\bdownscal", re.I),
    ),
    # Keeping work away from a node is not sending it there: "can i make tasks avoid a specific node"
    # is not "How do I force a task onto a specific node?".
    (
        lazy(r"\bavoid\w*|\bexclud\w*|\bkeep\s+(?:\w+\s+){0,3}off\b|\bprevent\w*", re.I),
        lazy(r"\bforc(?:e|ed|ing)\b|\bpin(?:s|ned|ning)?\b|\bonto\b", re.I),
    ),
    # Zero-copy is the opposite of a copy: "does ray copy numpy arrays ...?" must not get the "Yes."
    # of "Is ray.get zero-copy for numpy arrays?".
    (
        lazy(r"\bzero[- ]?cop\w*|\bwithout (?:a )?cop\w*|\bno cop(?:y|ies)\b", re.I),
        lazy(r"(?<![\w-])(?<!zero )cop(?:y|ies|ied|ying)\b", re.I),
    ),
    # The constructor is not a method: "my actor method raised, is the actor dead?" is not "What
    # happens if my actor's __init__ raises an exception?" (that one kills the actor for good).
    (
        lazy(r"__init__|\bconstructor\b|\bcreation task\b", re.I),
        lazy(r"\bmethods?\b", re.I),
    ),
    # One node is not several: "can I run cpu and gpu tasks on the same node" is not "Can one task use
    # GPUs on two nodes?".
    (
        lazy(r"\b(?:same|one|single|a) (?:node|machine|host)\b", re.I),
        lazy(
            r"\b(?:two|several|multiple|many|different) (?:nodes|machines|hosts)\b|\bacross (?:nodes|machines)\b", re.I
        ),
    ),
    # Memory is not CPU: "how to see how much cpu each actor uses" is not "How can I see how much memory
    # each task uses?".
    (lazy(r"\bmemory\b|\bram\b|\brss\b", re.I), lazy(r"\bcpus?\b|\bcores?\b", re.I)),
    # A crash is not an exception in your code: "are tasks retried on exceptions by default" is not "Are
    # tasks retried by default when their worker crashes?" (Ray retries the one, not the other).
    (
        lazy(
            r"\bcrash\w*|\b(?:worker|node|process)(?: \w+){0,4} (?:dies|died|fails|failed)\b"
            r"|\bsystem (?:failure|error)s?\b",
            re.I,
        ),
        lazy(r"\bexceptions?\b|\braises?\b|\braised\b|\bthrows?\b|\bthrown\b", re.I),
    ),
    # Sharing one GPU is not using several: "can one actor use several gpus" is not "Can an actor and a
    # task use the same GPU at the same time?".
    (
        lazy(r"\bsame (?:gpu|device)\b|\b(?:one|a single) gpu\b|\bshare (?:a|one|the) gpu\b", re.I),
        lazy(r"\b(?:several|multiple|many|two|2|more than one) gpus\b", re.I),
    ),
    # Below one is not above one: "num_cpus less than one" is not "Can an actor use more than one CPU?".
    (
        lazy(r"\b(?:less|fewer|lower|smaller) than\b|\bbelow\b|\bfraction", re.I),
        lazy(r"\b(?:more|greater|higher|larger|bigger) than\b|\babove\b", re.I),
    ),
    # Looking is not changing: "how can I check how much object store memory is left on a node" is
    # not "How do I set the object store size?" (kb_regress, stop 48). Only the asking forms count:
    # "I checked ..." reports what was done, and "see" opens too many complaints ("I see ...").
    (
        lazy(
            r"\bcheck(?:s|ing)?\b(?! (?:out|in)\b)|\bmonitor(?:s|ing)?\b|\bfind out\b|\binspect\w*|\bview\b"
            r"|\bhow much\b(?: \w+){0,5} (?:left|used|free|available|remaining|in use)\b",
            re.I,
        ),
        lazy(
            r"\bset(?:s|ting)?\b(?! of\b)|\bincreas\w*|\braise\b|\bchang(?:e|es|ing)\b|\bconfigur\w*|\breduc\w*"
            r"|\bdecreas\w*|\boverrid\w*",
            re.I,
        ),
    ),
)

#: Tasks are retried and actors restarted by different rules: "does ray restart tasks killed by
#: oom" is not "Is an actor restarted after the OOM killer kills it?". Only for that ask: elsewhere
#: what is said of an actor's worker often holds for a task's ("how do I find the pid ...").
_TASK_OR_ACTOR = (lazy(r"\btasks?\b", re.I), lazy(r"\bactors?\b", re.I))
_COMES_BACK = lazy(r"\brestart\w*|\bretr(?:y|ies|ied|ying)\b|\bre-?run\w*|\bresubmit\w*", re.I)


#: Which ID: "node id" and "task id" differ in the one word that matters, and both words are so
#: common that their weights cannot tell "How do I get the current task ID?" from the node's.
_ID_KIND = lazy(
    r"\b(node|task|job|actor|worker|object|submission|placement[ _-]?group|session|cluster)[ _-]?ids?\b", re.I
)


def _other_id_kind(sa_question: str, asked: str) -> bool:
    """Do the user and the short answer's question each name a kind of ID, and never the same one?"""

    def kinds(text: str) -> set[str]:
        return {re.sub(r"[ _-]", "", k.lower()) for k in _ID_KIND.findall(text)}

    mine, theirs = kinds(sa_question), kinds(asked)
    return bool(mine and theirs and not mine & theirs)


#: A short answer about several machines ("on two nodes", "across nodes") ...
_MULTI_NODE = lazy(
    r"\b(?:two|several|multiple|many|different) (?:nodes|machines|hosts)\b|\bacross (?:nodes|machines)\b", re.I
)
#: ... answers only a question that speaks of nodes or machines at all.
_NAMES_NODES = lazy(r"\b(?:nodes?|machines?|hosts?|head|workers?|cluster|multi-?node|distributed)\b", re.I)
_THAN = lazy(r"\bthan\s+(?:the\s+|a\s+|an\s+|my\s+|its\s+|one\s+)?([\w-]+(?:\s+[\w-]+)?)", re.I)


def _compared_to_other(sa_question: str, asked: str) -> bool:
    """Both compare with "than", but with different things: "Can ray.put store an object bigger
    than the object store?" is no answer to "better to store fewer larger objects than lots of
    smaller objects?". A question without "than" is not judged here."""
    theirs = [set(m.group(1).lower().split()) for m in _THAN.finditer(asked)]
    ours = [set(m.group(1).lower().split()) for m in _THAN.finditer(sa_question)]
    if not theirs or not ours:
        return False
    return not any(o & t for o in ours for t in theirs)


_KNOWN_MODULES = frozenset(sys.stdlib_module_names) | {"numpy", "np", "torch", "pandas", "pd", "cloudpickle"}
_DOTTED_CALL = lazy(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b")


def _other_call_of_module(sa_question: str, asked: str) -> bool:
    """The short answer's question names a call of a module ("asyncio.run") and the user names
    that module alone: its answer is about that one call, not the module. (The tokenizer keeps
    only the module's word of "asyncio.run", so the word share alone cannot tell them apart.)"""
    low = asked.lower()
    for module, attr in _DOTTED_CALL.findall(sa_question.lower()):
        # Modules only (the standard library's and a few common ones), not variables ("pg.ready()").
        if module not in _KNOWN_MODULES or f"{module}.{attr}" in low:
            continue
        if re.search(rf"\b{re.escape(module)}\b", low):
            return True
    return False


_RAY_CALL = lazy(r"\bray\.([a-z_][a-z0-9_]*)\b", re.I)
#: Ray's top-level calls that behave differently from one another (modules such as ray.util or
#: ray.experimental, and ray._private paths, name no call of their own).
_RAY_CALLS = frozenset(
    "get wait put kill cancel get_actor shutdown available_resources cluster_resources nodes timeline get_gpu_ids"
    " get_runtime_context is_initialized remote init method".split()
)
#: Calls nearly every Ray program makes; naming them says nothing about which call is asked about.
_SCAFFOLD_CALLS = frozenset({"remote", "init"})


def _other_ray_call(sa_question: str, asked: str, sa_answer: str = "") -> bool:
    """The short answer's question is about one Ray call ("What does ray.wait do with a task that
    failed?") and the user names another one and not that one ("partial results from ray.get"):
    the two calls behave differently, and the shared words (task, fail) do not make it the same ask.
    A call the answer's first sentence names counts as the short answer's too ("How do I use
    try/except with ray.wait?" opens "Put the try around ray.get, not ray.wait")."""
    first = re.split(r"(?<=[.!?])\s", sa_answer, maxsplit=1)[0]
    ours = {m.lower() for m in _RAY_CALL.findall(f"{sa_question} {first}")} & _RAY_CALLS
    theirs = {m.lower() for m in _RAY_CALL.findall(asked)} & _RAY_CALLS - _SCAFFOLD_CALLS
    return bool(ours and theirs and not ours & theirs)


def _opposite_asked(sa_question: str, asked: str) -> bool:
    """Does the user's question use one side of a pair of opposites where the short answer's
    question uses only the other side?"""
    pairs: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = _OPPOSITES
    if _COMES_BACK.search(sa_question) and _COMES_BACK.search(asked):
        pairs = (*pairs, _TASK_OR_ACTOR)
    for one, other in pairs:
        for a, b in ((one, other), (other, one)):
            if a.search(sa_question) and not b.search(sa_question) and b.search(asked) and not a.search(asked):
                return True
    return False


#: ``name=number``; a CLI flag's name keeps its dashes ("--num-cpus=0" names num_cpus, not "cpus").
_SETTING_VALUE = lazy(r"(?<![\w-])-{0,2}([A-Za-z_][\w-]*)\s*=\s*(-?\d+(?:\.\d+)?)")


def _value_kind(value: float) -> str:
    """Values whose meaning differs: 0 (none), negative (-1: no limit), a fraction below 1 (a share),
    more than 1 but not whole (1.5 GPUs: refused), and ordinary whole counts."""
    if value == 0:
        return "zero"
    if value < 0:
        return "negative"
    if value < 1:
        return "fraction"
    return "whole" if value == int(value) else "mixed"


def _setting_kinds(text: str) -> dict[str, str]:
    """``name -> kind of value`` for each ``name=number`` in ``text`` (``--num-cpus`` read as ``num_cpus``)."""
    return {name.lower().replace("-", "_"): _value_kind(float(value)) for name, value in _SETTING_VALUE.findall(text)}


def _zero_mismatch(sa_question: str, asked: str) -> bool:
    """Special values are not just other numbers: "what happens if I set num_cpus=0" is not the
    question of someone who set num_cpus=2 (or named no value), "What does max_task_retries=-1
    mean?" does not answer a question naming no value, and "num_gpus=1.5" is not "num_gpus=0.5"."""
    sa_vals, asked_vals = _setting_kinds(sa_question), _setting_kinds(asked)
    # Numbers the user writes on their own ("num_gpus greater than 1, like 1.5").
    loose = {_value_kind(float(v)) for v in re.findall(r"(?<![\w.=-])(-?\d+(?:\.\d+)?)(?![\w.])", asked)}
    for name, kind in sa_vals.items():
        if name in asked_vals:
            if asked_vals[name] != kind:
                return True
        elif kind != "whole" and not (name in asked.lower().replace("-", "_") and kind in loose):
            return True
    return False


#: API names and settings a question names: ``ray.wait``, ``max_concurrency``, ``RAY_memory_usage_threshold``.
_NAMED_API = lazy(
    r"\bray\.[a-z_]+(?:\.[a-z_]+)*|\b[a-zA-Z][a-zA-Z0-9]*(?:_[a-zA-Z0-9]+)+\b"
    # A CLI command names an API too: "does a detached actor survive ray stop" is not "Does
    # ray.shutdown() kill detached actors?". ("ray get" and "ray memory" are also plain words.)
    r"|\b[Rr]ay (?:stop|start|up|down|status|submit|job|list|logs|exec|attach|summary|timeline|stack)\b"
)
_USER_MAY = lazy(r"^\W*(?:can|could|may|should|must)\s+(?:i|we)\b", re.I)
_RAY_DOES = lazy(
    r"\b(?:does|do|did|will|would)\s+(?:ray|the\s+(?:raylet|gcs|autoscaler|cluster|head))\s+"
    r"(?!support|allow|let|have|has|provide|offer|need|require|work|run)\w+",
    re.I,
)
#: "Out of the box" says "by default" in other words ("is spilling turned on out of the box?").
_BY_DEFAULT = lazy(r"\b(?:by default|default|automatic(?:ally)?|out[ -]of[ -]the[ -]box)\b", re.I)


#: A yes/no question about failing: its yes and no are the other way round from a "can I / does it
#: work" short answer's.
#: Only a sentence that opens with "will/would" and asks whether it errors or fails counts ("does ray
#: retry ... or only if the worker crashes" asks about retries, not about crashing), or one that opens
#: with "can/could" and asks whether it hangs ("can calling ray.get in a task make my app hang?").
_FAILURE_ASK = lazy(
    r"(?:^|[.?!]\s+)(?:will|would)\b(?:[^.?!]|\.(?=\w)){0,100}?\b(?:errors?|fail(?:s|ed|ing|ure)?|break(?:s|ing)?|crash(?:es|ing)?"
    r"|hang(?:s|ing)?|deadlock(?:s|ed)?|freez(?:e|es|ing))\b"
    # "Can calling ray.get inside a remote function make my application hang?" asks whether it fails,
    # which the "Yes." of "Can I call ray.get inside a task?" does not settle.
    r"|(?:^|[.?!]\s+)(?:can|could)\b(?:[^.?!]|\.(?=\w)){0,100}?\b(?:hang(?:s|ing)?|deadlock(?:s|ed)?|freez(?:e|es|ing))\b",
    re.I,
)
_FAILURE_WORD = lazy(
    r"\b(?:errors?|fail(?:s|ed|ing|ure)?|break(?:s|ing)?|crash(?:es|ing)?|hang(?:s|ing)?|deadlock(?:s|ed)?"
    r"|freez(?:e|es|ing)|stuck)\b",
    re.I,
)


def _yes_no_other_ask(sa_question: str, asked: str, sa_answer: str = "") -> bool:
    """A yes/no short answer settles only its own proposition. It does not answer a question that
    names other APIs or settings than its question ("is ray.wait blocking?" is not "Is ray.get
    blocking?"), nor one that differs in asking about the default ("are actor calls retried by
    default?" is not "Can an actor method be retried?")."""
    sa_names = {n.lower() for n in _NAMED_API.findall(sa_question)}
    asked_names = {n.lower() for n in _NAMED_API.findall(asked)}
    if sa_names and asked_names and not sa_names & asked_names:
        return True
    # "Does ray job submit work without the dashboard?" settles that command, not "does ray work
    # without the dashboard?": a command the user does not name, not even by its own word, is
    # another ask. (API names such as ray.remote are often implied, so only commands count.)
    commands = {n for n in sa_names if n.startswith("ray ")}
    asked_words = set(tokenize(asked))
    if commands and not asked_names and all(not set(tokenize(n)) & asked_words for n in commands):
        return True
    # "Can I delete old session directories?" is about what the user may do; "does ray delete old
    # session directories?" asks what Ray does by itself.
    if _USER_MAY.match(sa_question) and _RAY_DOES.search(asked):
        return True
    # "Will Ray have errors when two nodes run different Pythons?" asks whether something fails; the
    # "No." of "Can different nodes run different Ray versions?" would read as "no errors".
    if _FAILURE_ASK.search(asked.strip()) and not _FAILURE_WORD.search(sa_question):
        return True
    # ... and the other way round: the "Yes." of "Will Ray have errors with different Python versions?"
    # is a "no" to "does ray client work with different python versions".
    if _FAILURE_ASK.search(sa_question.strip()) and not _FAILURE_WORD.search(asked):
        return True
    if bool(_BY_DEFAULT.search(sa_question)) == bool(_BY_DEFAULT.search(asked)):
        return False
    # "Are refs inside a list resolved automatically?" is still answered by "No." to "Are refs inside
    # a list resolved?": what Ray never does it does not do by itself either. A "Yes." may need a setting.
    only_automatic = not _BY_DEFAULT.search(sa_question) and not re.search(r"\bdefault\b", asked, re.I)
    return not (only_automatic and sa_answer.lstrip().lower().startswith("no"))


#: A short answer comparing two things ("What is the difference between ray.get and ray.wait?") answers
#: only a question that compares, not every question naming one of the two.
_COMPARES = lazy(
    # "different from/than" compares; "different requesting tasks" does not (pool full:3578). "or"
    # compares only inside a question ("task or actor?"): "not enough memory or cpu, ..." in the
    # story before a question about something else does not (dev row 77).
    r"\bdif+e+ren(?:ces?|t\s+(?:from|than|to)\b)|\bdif+e+rs?\b|\bdistinguish|\bvs\.?\b|\bversus\b|\bcompar|\bbetween\b|\bprefer|\binstead\b|\bor\b[^.!?\n]*\?|\bbetter\b",
    re.I,
)
#: "How do I stop worker output from being printed?" is a switch-off question as much as "disable".
_TURN_OFF = lazy(
    r"\bdisabl|\bturn\w*\s+(?:\w+\s+){0,3}off\b|\bswitch\w*\s+(?:\w+\s+){0,3}off\b"
    r"|\bstop\s+(?:\w+\s+){1,4}from\b|\bsuppress|\bsilenc",
    re.I,
)
_TURN_OFF_ASKED = lazy(
    r"\bdisabl|\boff\b|\bstop|\bprevent|\bwithout\b|\bno longer\b|\bnever\b|\bsuppress|\bsilenc|\bhide\b|\bquiet",
    re.I,
)


_WITHOUT = lazy(r"\bwithout\b", re.I)


def _without_it(sa_question: str, asked: str) -> bool:
    """Does the user ask to do without a thing that the short answer's question is about (and that
    question does not say "without")? When both say "without", they must do without the same thing
    ("without ray remote" is not "without the ray job CLI")."""

    def done_without(text: str) -> list[str]:
        # The thing done without: the first word after "without" ("using", "the" and "ray" skipped), so
        # "without modifying logging" is about modifying, not about logging.
        found = []
        for m in re.finditer(r"\bwithout\s+((?:\S+\s*){1,4})", text, re.I):
            skip = ("ray", "using", "use", "any", "job")
            words = [t for t in tokenize(m.group(1)) if t not in FILLER and t not in skip]
            if words:
                found.append(words[0])
        return found

    if _WITHOUT.search(sa_question):
        # Things, not actions: "without stopping the loop" and "without crashing my loop" say the same.
        theirs = [t for t in done_without(sa_question) if not t.endswith("ing")]
        mine = [t for t in done_without(asked) if not t.endswith("ing")]
        # "num_gpus=1 on an actor but ..." sets what "... started without num_gpus?" leaves out.
        given = {name.lower().replace("-", "_") for name, value in _SETTING_VALUE.findall(asked) if float(value) > 0}
        if any(t in given for t in theirs):
            return True
        return bool(theirs and mine) and not any(_covered(t, _stems(theirs)) for t in mine)
    sa_stems = _stems(tokenize(sa_question))
    return any(_covered(w, sa_stems) for w in done_without(asked))


_COMPARISON_SA = lazy(r"\bdifference\b|\bvs\.?\b|\bversus\b|\bcompar", re.I)
#: Words that frame a short answer's question rather than name its subject: "What is the difference
#: between the head node and a worker node?" is about head and worker nodes, and "difference between"
#: alone must not make it the answer to "difference between Kubernetes and Ray".
_FRAME_WORDS = frozenset({"default", "difference", "between", "versus", "compare", "comparison"})
#: "Will it wait forever or error out?", "Do the calls to my actor wait while it restarts, or fail?": the
#: user names two outcomes; a "Yes." or "No." picks neither. (Not "... or not?", and not a list of
#: things inside one ask: "pip or conda".)
_OUTCOME_CHOICE = lazy(
    r"(?:^|[.?!]\s+)(?:will|would|does|do|is|are|should)\s+(?:it|they|ray|this|that|calls|tasks|jobs|requests|(?:my|the|our|these|those)\s+\w+)"
    r"(?:\s+(?:to|of|on|in)\s+(?:my|the|an?|our|its)?\s*\w+)?\s+\w+[^.?!]*"
    r"\bor\b(?!\s+not\b)\s+\w+[^.?!]*\?\s*$",
    re.I,
)
#: Shared words that say nothing about which of an entry's short answers was asked: "what happens
#: ... when it is removed?" is not "what happens with STRICT_SPREAD and too few nodes?".
#: A question that asks for a place: only it is answered by a "Where ...?" short answer.
_ASKS_PLACE = lazy(
    r"\bwhere\b|\bwhich (?:dir\w*|folder|path|file|node|machine|host|disk)\b"
    r"|\b(?:path|location|director(?:y|ies)|folder|stored|saved|written|located|find|dir)\b"
    r"|\b(?:see|view|read|get|access|open|check)\b.*\blogs?\b",
    re.I,
)
#: A question that asks how two things differ ("X vs Y", "the difference between X and Y").
#: "what should I do", "how do I fix ...": the user wants a remedy, not a figure or a cause.
_ASKS_REMEDY = lazy(
    r"\bwhat (?:should|can|do|must) (?:i|we) do\b"
    r"|\bhow (?:do|can|should) (?:i|we) (?:fix|solve|resolve|avoid|get rid of)\b"
    r"|\bhow to (?:fix|solve|resolve|avoid|get rid of)\b",
    re.I,
)
_ASKS_DIFFERENCE = lazy(r"\bdif+e+rences?\b|\bvs\.?\s|\bversus\b|\bcompared? (?:to|with)\b", re.I)
#: A short answer giving a count or an amount ("How many nodes can a Ray cluster have?") answers a
#: question that asks for one, not every question that says "many" ("how to schedule actors to many nodes").
_HOW_MANY_SA = lazy(r"\s*how (?:many|much)\b", re.I)
_ASKS_AMOUNT = lazy(
    r"\bhow (?:many|much|big|large|far|high|fast|often|long)\b|\bnumber of\b|\bmax(?:imum)?\b|\bmin(?:imum)?\b"
    r"|\blimit|\bcount\b|\bupper bound\b|\bscales?\b|\bper second\b",
    re.I,
)
#: A short answer about "only one worker node" answers someone who names that kind of thing (its last
#: word: "shut down a node"), not the whole ("how do I shut down a ray cluster").
_ONLY_ONE = lazy(r"\b(?:only|just) (?:one|a single) (\w+(?: \w+)?)", re.I)
#: A short answer about an ID ("Is the job ID the same as the submission ID?") answers a question about
#: IDs ("which node" asks for a node ID too); its other words ("job", "submission") are shared by every
#: question on submitting jobs.
_NAMES_ID = lazy(r"\bIDs?\b|\bid\b")
_ASKS_ID = lazy(r"\b(?:ids?|identifiers?|uuids?|hex|\w+_ids?)\b|\bwhich (?:node|gpu)s?\b", re.I)
#: "Does the OOM killer kill actors or only tasks?": a choice between two answers, which "Yes." does not make.
_OR_ONLY = lazy(r"\bor (?:only|just)\b[^?]*\?", re.I)
_NO_EVIDENCE = frozenset({"happen"})


_TOPIC_WORDS: dict[int, tuple[Entry, frozenset[str]]] = {}


def _topic_words(entry: Entry) -> frozenset[str]:
    """Words most of an entry's short-answer questions share ("placement" and "group" in an entry
    with a dozen placement-group questions): they say what the entry is about, not which of its
    questions was asked, so a match on them alone chooses none."""
    cached = _TOPIC_WORDS.get(id(entry))
    if cached is not None and cached[0] is entry:
        return cached[1]
    n = len(entry.answers)
    words: frozenset[str] = frozenset()
    if n >= tuning.SHORT_ANSWER_TOPIC_MIN_ANSWERS:
        df: dict[str, int] = {}
        for sa in entry.answers:
            for t in set(tokenize(sa.question)) - _FRAME_WORDS:
                df[t] = df.get(t, 0) + 1
        words = frozenset(t for t, c in df.items() if c / n > tuning.SHORT_ANSWER_TOPIC_SHARE)
    _TOPIC_WORDS[id(entry)] = (entry, words)
    return words


#: Words in double quotes inside a one-line question: a message typed from memory or a phrase the
#: user insists on ('have this grpc "Exception iterating requests!" error').
_QUOTED = lazy(r"[\"“]([^\"“”\n]{3,200})[\"”]")
_MESSAGE_CUE = lazy(
    r"\b(?:errors?|exceptions?|messages?|warnings?|failed|fails|says|saying|said|prints?|printed|raised?|raises"
    r"|throws?|thrown|logs?|logged)\b|!",
    re.I,
)


def _quoted_words(query: Query) -> str:
    """The quoted message of a question, when it is short (at most tuning.RETYPED_MESSAGE_MAX_WORDS
    words, two at least) and not a paste: the words an answering entry must speak of."""
    if "\n" in query.raw.strip():
        return ""
    if query.message:
        return query.message.strip() if _retyped(query) and len(query.message.split()) >= 2 else ""
    spans = []
    for m in _QUOTED.finditer(query.raw):
        text = m.group(1).strip()
        if not 2 <= len(text.split()) <= tuning.RETYPED_MESSAGE_MAX_WORDS:
            continue
        # Only a message: the quote reads like one or is called one around it ('this "..." error',
        # 'it says "..."'), not a phrase quoted from the docs ('in the statement "..."').
        around = f"{query.raw[max(0, m.start() - 40) : m.start()]} {text} {query.raw[m.end() : m.end() + 25]}"
        if _MESSAGE_CUE.search(around):
            spans.append(text)
    return " ".join(spans)


def _retyped(query: Query) -> bool:
    """A short message in quotes inside the user's sentence ('what does "the actor died because
    its owner has died" mean'): typed from memory, not pasted, so its words need not be Ray's.
    One line, no error class, no log prefix, at most tuning.RETYPED_MESSAGE_MAX_WORDS words."""
    msg = query.message.strip()
    if "\n" in msg or len(msg.split()) > tuning.RETYPED_MESSAGE_MAX_WORDS:
        return False
    if signatures.ERROR_NAME.search(msg) or re.search(r"\.(?:cc|h|py):\d+|\d{2}:\d{2}:\d{2}", msg):
        return False
    return bool(re.search(r"[\"“'‘`]\s*" + re.escape(msg[:20]), query.raw))


#: Two ways to say one action, made one word before short-answer questions and the user's are
#: compared: "can I disable the OOM killer" asks "Can I turn off Ray's OOM killer?".
_ACTION_PHRASES = (
    # "turn Ray token authentication off": up to three words between, kept after the verb.
    (lazy(r"\b(?:turn|switch|shut)(?:s|ed|ing)?\s+((?:\w+\s+){0,3}?)off\b", re.I), r"disable \1"),
    (lazy(r"\b(?:turn|switch)(?:s|ed|ing)?\s+((?:\w+\s+){0,3}?)on\b", re.I), r"enable \1"),
    # "shut down the cluster" is "stop the cluster" (not ray.shutdown(), which is one word).
    (lazy(r"\bshut(?:s|ting)?\s+down\b", re.I), "stop"),
    (lazy(r"\bon by default\b", re.I), "enabled by default"),
    (lazy(r"\boff by default\b", re.I), "disabled by default"),
    (lazy(r"\bbigger\b", re.I), "larger"),  # "an object bigger than the store" is "larger than"
    (lazy(r"\bconstructors?\b", re.I), "__init__ constructor"),  # an actor's constructor is its __init__
    # To rotate a token is to replace it: "rotate the auth token" asks "How do I replace the auth token?".
    (lazy(r"\brotat(?:e|es|ed|ing)\b(?=(?:\s+\w+){0,3}?\s+(?:auth|token)\b)", re.I), "replace"),
    # "my job stays in PENDING for a long time" is "Why is my Ray job stuck in PENDING?"
    (
        lazy(r"\b(?:stays?|staying|stayed|remains?|remaining|remained)\s+in\s+(?:the\s+)?pending\b", re.I),
        "stuck in pending",
    ),
)


def _same_action(text: str) -> str:
    for pattern, word in _ACTION_PHRASES:
        text = pattern.sub(word, text)
    return text


#: A lowercased exception class name ("gettimeouterror", "objectstorefullerror").
_CLASS_NAME_TOKEN = lazy(r"[a-z]{4,}(?:error|exception)")


def _mostly_identifiers(asked: str, identifiers: list[str]) -> bool:
    """Do the missing identifiers make up most of the question's words (beyond the call's own
    punctuation)? "ray.get_runtime_context().get_runtime_env_string()" is one; "how do I use
    get_runtime_env_string in a task when the job has a working_dir" is not."""
    words = re.findall(r"[A-Za-z_][\w.]*", asked)
    if not words or len(words) > tuning.IDENTIFIER_ASK_MAX_WORDS:
        return False
    named = sum(1 for w in words if any(i in w.lower() for i in identifiers))
    return named > 0 and named * 2 >= len(words)


def _name_only(toks: list[str], hit: list[str]) -> bool:
    """Are the shared words one identifier of the question and its parts, nothing else?"""
    for ident in (t for t in toks if "_" in t or "::" in t or _CLASS_NAME_TOKEN.fullmatch(t)):
        # An exception class lowercased ("gettimeouterror") also covers its tail ("timeouterror").
        group = {ident, *tokenize(ident), *(t for t in toks if len(t) > 5 and ident.endswith(t))}
        if hit and set(hit) <= group and ident in hit:
            return True
    return False


def match_short_answer(
    entry: Entry, query: Query, weight: Callable[[str], float], dense: list[float] | None = None
) -> ShortAnswer | None:
    """The entry's short answer whose question is the user's: most of its words are used, a
    "what is the default" answer only for a default question, a yes/no one only for a yes/no
    question. "Most" is weighted by ``weight``, a word's distinctiveness
    (:meth:`Retriever.term_weight`): "What is the minimum object store size?" is not the question "how do I
    increase the object store" although half of its words are there, because "minimum" is the
    one that tells it from the other object store questions."""
    asked = query.ask_text or query.text
    # The words that may match a short answer's question: what is asked (a long story's question
    # sentences only, see retrieve.prepare_query) and the pasted message, not the whole story.
    q_stems = _stems(tokenize(_same_action(f"{asked} {query.message}")))
    default_q, yes_no = asks_default(asked), is_yes_no(asked)
    best, best_score = None, (0.0, 0)
    how_why = bool(_HOW_OR_WHY.search(asked))
    # "Why ...?" opening the ask, or a sentence of its own after the story ("... still end up on
    # the head. Why? They are ..."): they did what a how-to would say and ask why it failed.
    why_asked = bool(re.match(r"\s*why\b", asked, re.I) or re.search(r"[.!?]\s+why\b[^.!]*\?", asked, re.I))
    # "How to ...?" / "how do I ...?" asks for a way, not for a reason.
    how_asked = bool(re.search(r"(?:^|[.?!]\s+)how (?:to|do|can|should|would)\b", asked.strip(), re.I))
    how_asked = how_asked and not re.search(r"\bwhy\b", asked, re.I)
    complaint = bool(_COMPLAINT.search(asked)) and not re.search(r"\bhow\b", asked, re.I) and not yes_no
    definition = bool(_DEFINITION.match(asked.strip().rstrip("?") + "?"))  # users drop the "?"
    fact_yes_no = yes_no and asks_fact_yes_no(asked)
    # "Is there a way to tell ray that this actor needs 8 GB?" asks for a way, which a "No." about
    # another fact ("Can setting memory= keep it from being OOM killed?") denies by mistake.
    capability = yes_no and bool(
        re.search(
            r"\bis there (?:a|an|any)(?: \w+)? (?:way|api|method|function|command|tool"
            r"|doc|docs|document|documentation|guide|page|tutorial|example|explanation)s?\b"
            r"|\bis it possible\b",
            asked,
            re.I,
        )
    )
    # "Has anyone run into this?" asks for company (and, really, for a fix): a "Yes."/"No." that
    # settles a fact of the entry answers a question nobody asked.
    social = yes_no and not fact_yes_no and bool(_SOCIAL_ASK.search(asked))
    # "Should I better run my own cluster or use Kubernetes?" asks for a recommendation between two
    # ways; "Are attributes added to the object store or kept in the process?" can still take a "No.".
    choice = bool(
        re.search(r"\bor\b[^?]*\?\s*$", asked.strip(), re.I)
        and re.search(r"\b(?:better|rather|instead|which|prefer\w*|recommend\w*)\b", asked, re.I)
    ) or bool(_OUTCOME_CHOICE.search(asked.strip()) or _OR_ONLY.search(asked))
    topic = _topic_words(entry)
    asks_difference = bool(_ASKS_DIFFERENCE.search(asked))
    asks_remedy = bool(_ASKS_REMEDY.search(asked))
    # In a short question the topic words are the ask ("default num_cpus for an actor"); a long one
    # names its topic on the way to asking something else.
    asked_words = [t for t in tokenize(asked) if t not in FILLER]
    asked_toks = list(dict.fromkeys(asked_words))
    long_ask = len(asked_words) >= tuning.SHORT_ANSWER_TOPIC_LONG_ASK
    # Beside a pasted message, a short ask in the user's own words ("is this harmful?"): a short
    # answer that only shares the message's words ("What does '...' mean?") answers the message,
    # not them. (A longer story around the paste usually asks what the message means.)
    message_words = set(tokenize(query.message)) if query.message and query.ask_text else set()
    own_ask = [t for t in asked_toks if t not in _FRAME_WORDS and t not in message_words] if message_words else []
    if len(own_ask) > tuning.SHORT_ANSWER_OWN_ASK_MAX:
        own_ask = []
    near: list[tuple[float, ShortAnswer]] = []
    for i, sa in enumerate(entry.answers):
        if asks_default(sa.question) != default_q or (
            dense is None and (is_yes_no(sa.question) or _YES_NO_OPENING.match(sa.answer)) and not yes_no
        ):
            # An answer that opens with a yes or a no answers a yes/no question, whatever the form
            # of its question ("Does '...' mean the pod ran out of memory?" -> "Not necessarily.").
            continue
        if _zero_mismatch(sa.question, query.raw):
            continue
        if re.search(r"\bby default\b", sa.question, re.I) and _SETTING_VALUE.search(asked) and not default_q:
            continue  # "with max_restarts=3 ..., does ray recreate it?" is not "Are actors restarted by default?"
        if _COMPARISON_SA.search(sa.question) and not _COMPARES.search(asked):
            continue
        if _without_it(sa.question, asked):
            continue  # "how do I submit a job" is no answer to "can I run my code without ray job submit?"
        if is_yes_no(sa.question) and _WITHOUT.search(sa.question) and not _WITHOUT.search(asked):
            continue  # "Does X work without Y?" -> "No." would say the opposite to "does X need Y?"
        if _MULTI_NODE.search(sa.question) and not _NAMES_NODES.search(asked):
            continue  # "can a task request 2 gpus" is not "Can one task use GPUs on two nodes?"
        if _compared_to_other(sa.question, asked):
            continue  # "fewer larger objects than lots of smaller ones" is not "bigger than the object store"
        if _HOW_MANY_SA.match(sa.question) and not _ASKS_AMOUNT.search(asked):
            continue  # "how to schedule actors to many nodes" asks for no count of nodes
        if _NAMES_ID.search(sa.question) and not _ASKS_ID.search(f"{asked} {query.message}"):
            continue  # "can I use ray job submit in local mode" is not "Is the job ID the same as the submission ID?"
        narrowed = _ONLY_ONE.search(sa.question)
        if narrowed and not _covered(tokenize(narrowed.group(1))[-1], q_stems):
            continue  # "How do I shut down only one worker node?" is not "how do I shut down the cluster"
        if _other_call_of_module(sa.question, asked):
            continue  # "can I use asyncio with actors?" is not "Can I call asyncio.run inside an actor method?"
        if _other_ray_call(sa.question, asked, sa.answer):
            continue  # "ray.get on a list when one task fails" is not "What does ray.wait do with a task that failed?"
        if _opposite_asked(sa.question, asked):
            continue  # opposite words ("disable" for "enable") would answer the other question
        if _other_id_kind(sa.question, asked):
            continue  # the task ID is no answer to "how do I get the node id"
        if capability and is_yes_no(sa.question) and asks_fact_yes_no(sa.question):
            continue  # "is there a way to reserve memory?" is not settled by "No." about another fact
        if social and _YES_NO_OPENING.match(sa.answer):
            continue  # "has anyone run into slow scale-up?" is not settled by "Yes, the schema accepts 0"
        if is_yes_no(sa.question) and choice and not _OUTCOME_CHOICE.search(sa.question):
            continue  # "Yes." or "No." is no answer to "A or B?" (a short answer to "A or B?" is)
        if is_yes_no(sa.question) and _yes_no_other_ask(sa.question, asked, sa.answer):
            continue  # its "Yes."/"No." settles another proposition
        if _TURN_OFF.search(sa.question) and not _TURN_OFF_ASKED.search(asked) and len(asked.split()) > 3:
            continue  # how to switch a thing off answers only someone who wants it off
        if complaint and _HOW_TO_SA.match(sa.question):
            continue  # "ray.cancel doesn't stop my actor task": they did what "How do I cancel ...?" says
        if why_asked and _HOW_TO_SA.match(sa.question):
            continue  # "why did ray kill my task ...?" is not "How do I set memory for a task?"
        if re.match(r"\s*how long\b", asked, re.I) and re.match(r"\s*why\b", sa.question, re.I):
            continue  # "how long can a job stay in pending" asks for a time, not for a cause
        if how_asked and re.match(r"\s*why\b", sa.question, re.I):
            continue  # "how to submit source code with ray job?" is not "Why does ray job submit keep running?"
        if yes_no and re.match(r"\s*(?:where|who)\b", sa.question, re.I):
            continue  # "can I set the job's entrypoint resources?" is not told where the entrypoint runs
        if re.match(r"\s*where\b", sa.question, re.I) and not _ASKS_PLACE.search(asked):
            continue  # "what does 'Spilled 2048 MiB' mean?" is not told where spilled objects go
        if yes_no and re.match(r"\s*why\b", sa.question, re.I) and _FAILURE_ASK.search(asked.strip()):
            continue  # "can ray.get in a task make my app hang?" wants a yes or no, not why an actor hangs
        if capability and re.match(r"\s*why\b", sa.question, re.I):
            continue  # "is there an api to check the nodes joined?" asks for a way, not why ray status says X
        if fact_yes_no and re.match(r"\s*why\b", sa.question, re.I):
            continue  # "does ray serialize numpy arrays zero-copy?" wants a yes or no, not "Because ..." or a place
        if definition and _HOW_OR_WHY.search(sa.question):
            continue  # "what is a placement group bundle" is not asking how to do something with one
        if _DEFINITION.match(sa.question) and (
            how_why
            or yes_no
            or not _ASKS_DEFINITION.search(asked)
            or _COMPARES.search(asked)
            or (_COMPLAINT.search(asked) and not re.search(r"\bwhat\b", asked, re.I))
        ):
            # "how to pass an actor to a task" and "can an actor call another actor" are not
            # answered with what an actor is, nor "the difference between ray job submit and python
            # script.py" with what a job is.
            continue
        if dense is not None:
            # Matching by meaning, with one word test: the rarest word of the short answer's question
            # must be the user's too. MiniLM puts "Can I subclass a Ray actor class?" at 0.86 from
            # "can I create an actor from a classmethod?", which never says "subclass". (Either of the
            # two rarest let 3 wrong "Yes."/"No." leads of 45 back in, stop 34.)
            words = [t for t in dict.fromkeys(tokenize(_same_action(sa.question))) if t not in _FRAME_WORDS]
            rarest = max(words, key=weight, default=None)
            if dense[i] >= tuning.SHORT_ANSWER_DENSE_MIN and (rarest is None or _covered(rarest, q_stems)):
                near.append((dense[i], sa))
            continue
        toks = [t for t in dict.fromkeys(tokenize(_same_action(sa.question))) if t not in _FRAME_WORDS]
        if not toks:
            continue
        hit = [t for t in toks if _covered(t, q_stems)]
        sa_stems = _stems(toks)
        if len(toks) == 1 and sum(1 for t in asked_toks if t not in _FRAME_WORDS and not _covered(t, sa_stems)) >= 2:
            # A one-word short answer ("Does Ray use pickle?") answers a question about that word
            # alone, not every question that names it ("does ray pickle my function every time I call
            # .remote()?").
            continue
        if own_ask and not any(_covered(t, sa_stems) for t in own_ask):
            continue
        if topic and all(t in topic or t in _NO_EVIDENCE for t in hit) and any(t not in topic for t in toks):
            # Only the entry's topic words are shared. In a long question nothing says this one was
            # asked; in a short one the topic words are usually the ask, unless the user names a rare
            # word the short answer's question lacks ("how do I rotate the auth token").
            # Nor does a how-to answer a yes/no about a fact on the same topic ("is a placement
            # group released when the driver exits?" is not "How do I list all placement groups?").
            if fact_yes_no and re.match(r"\s*how (?:do|can|should) (?:i|we|you)\b", sa.question, re.I):
                continue
            if long_ask or any(
                weight(t) >= tuning.SHORT_ANSWER_TOPIC_RARE_WORD and t not in topic and not _covered(t, sa_stems)
                for t in asked_toks
            ):
                continue
        if is_yes_no(sa.question) and _name_only(toks, hit):
            # A yes/no short answer that shares only the setting's name ("Can idle_timeout_minutes be
            # a fraction such as 0.5?" for "will lowering idle_timeout_minutes free the memory of idle
            # workers"): the name and its parts count four times, so the share looks high. Anything
            # else the user asks must be in the short answer's question. (For every short answer,
            # this lost 7 right leads of ~840 judged questions, stop 29; for yes/no ones none.)
            if any(not _covered(t, sa_stems) for t in asked_toks if t not in _FRAME_WORDS):
                continue
        covered = len(hit)
        total = sum(weight(t) for t in toks)
        share = sum(weight(t) for t in hit) / total if total > 0 else covered / len(toks)
        # Two words of its question at least: one shared word ("node") is no sign it was asked.
        # A yes/no question is best led by a short answer that settles a yes/no ("Do I need to call
        # ray.shutdown()?"), when one is close enough, before one that explains ("What does it do?").
        # Near-equal shares (within SHORT_ANSWER_YES_NO_TIE) go to the yes/no one; a clearly better
        # match wins whatever its form.
        settles = fact_yes_no and is_yes_no(sa.question)
        # At an equal share, the question that has more of the user's words is the more specific
        # one: "Can I call ray.get inside an async actor method?" over "Can calls to a Ray actor be
        # asynchronous?", whose three words are all in the first as well.
        # Likewise "X vs Y?" is best led by a short answer that compares, when one is about as close.
        compares = asks_difference and bool(_COMPARISON_SA.search(sa.question))
        # "..., what should I do?" is best led by the short answer that gives the remedy, when one
        # is about as close as one that gives a figure ("At what size does Ray warn ...?").
        remedy = asks_remedy and bool(_ASKS_REMEDY.search(sa.question))
        score = (share + (tuning.SHORT_ANSWER_YES_NO_TIE if settles or compares or remedy else 0.0), covered)
        if covered >= min(2, len(toks)) and share >= tuning.SHORT_ANSWER_MIN and score > best_score:
            best, best_score = sa, score
    if dense is not None and near:
        sim, sa = max(near, key=lambda x: x[0])
        # Clearly closer than every other short answer of the entry, allowed or not.
        others = [d for d, other in zip(dense, entry.answers, strict=True) if other is not sa]
        if sim - max(others, default=0.0) >= tuning.SHORT_ANSWER_DENSE_MARGIN:
            return sa
    return best


_SENTENCE = lazy(r"(?<=[.!?])\s+(?=[A-Z`*(])")


#: A value a default can take: a number, or a boolean / None ("retry_exceptions defaults to False").
_DEFAULT_VALUE = lazy(r"\d|\b(?:True|False|None)\b")


def default_sentence(entry: Entry, query: Query, retriever) -> str | None:
    """For "what is the default ...": the entry sentence that states a default value for what
    was asked, if it is not already the answer's first sentence."""
    key = set(retriever.key_terms(query)) | {t for t in query.signals if "_" in t}
    best, best_score = None, 0
    for name in ("Answer", "Details"):
        # Bullets and paragraphs are units of their own, so a sentence never runs into the next bullet.
        blocks = re.split(r"\n\s*\n|\n\s*[-*]\s+|^\s*[-*]\s+", entry.sections.get(name, ""))
        sentences = [s for b in blocks for s in _SENTENCE.split(re.sub(r"\s+", " ", b).strip()) if s]
        for i, sent in enumerate(sentences):
            # "default_worker.py" is a file name, not a default.
            if not re.search(r"\bdefault(?:s|ed)?\b", sent, re.I) or not _DEFAULT_VALUE.search(sent):
                continue
            stems = _stems(tokenize(sent))
            score = sum(1 for t in key if _covered(t, stems)) + (1 if name == "Answer" else 0)
            if score > best_score:
                best, best_score = (name, i, sent.strip()), score
    if best is None or (best[0] == "Answer" and best[1] == 0):
        return None
    return best[2].replace("**", "")


def _hit_for(entry: Entry) -> Hit:
    return Hit(entry.id, entry.title, entry.kind, 0.0, 0.0, 0.0, [], "Answer")


_HOW_TO_SET = lazy(
    r"\bhow (?:do|can|should|would) (?:i|we|you) (?:set|configure|change|enable|disable|apply|lower|raise|"
    r"increase|decrease|turn (?:on|off)|tune)\b",
    re.I,
)
_NEGATION = lazy(r"\b(not|never|no|doesn't|does not|don't|isn't|without|neither|nor)\b", re.I)


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
    offer: Offer | None = None
    in_scope: bool = True
    confidence: float = 0.0
    last_code: str | None = None  #: the most recent question in the thread that pasted code
    seen: dict[str, set[str]] = field(default_factory=dict)  #: every section shown in the thread, per entry
    asked_head: str | None = None  #: the latest question in the thread that said where its head node runs


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
        st.offer = Offer.from_dict(turn.offer)
        st.in_scope = turn.in_scope
        st.confidence = turn.confidence
        st.entry = turn.topic
        if st.entry:
            st.shown.update(turn.sections.get(st.entry, []))
        if prepare_query(turn.question).has_code:
            st.last_code = turn.question
        if addresses.head_address(turn.question):
            st.asked_head = turn.question
        for entry_id, names in turn.sections.items():
            st.seen.setdefault(entry_id, set()).update(names)
    return st


#: Letters outside the Latin script that make a question with no readable token a question in another
#: language rather than a too-short one (two CJK characters already make a word).
_OTHER_SCRIPT_MIN = 2


def _other_script_letters(text: str) -> int:
    """How many letters of ``text`` lie beyond the Latin blocks (past U+024F: CJK, Hangul, Cyrillic, ...)."""
    return sum(1 for ch in text if ch.isalpha() and ord(ch) > 0x24F)


def _mostly_other_script(query: Query) -> bool:
    """A question written mostly in another script ("如何获取已存在的actor"): its few Latin words
    ("actor") are all ranking can read, and the answer they pick is a guess about the rest. A pasted
    message or a Ray identifier ("worker.get_objects", "RAY_IGNORE_UNHANDLED_ERRORS") is still
    something to look up, so those questions are answered as usual."""
    other = _other_script_letters(query.raw)
    if other < _OTHER_SCRIPT_MIN or query.message:
        return False
    latin = sum(1 for ch in query.raw if ch.isascii() and ch.isalpha())
    named = [s for s in query.signals if "_" in s or "." in s or s.endswith("error")]
    return other >= latin and not named


class Assistant:
    def __init__(self, retriever=None, store: ThreadStore | None = None, *, kb_dir=None, index_dir=None):
        self._retriever = retriever
        self._store = store
        self._kb_dir = kb_dir
        self._index_dir = index_dir
        self.notes: list[str] = []
        self._topic_for_issues: str | None = None
        self._state_cache: tuple[str, int, TopicState] | None = None
        self._entry_text: dict[str, str] = {}  #: an entry's words, for _library_not_covered

    @property
    def retriever(self):
        if self._retriever is None:
            from raybot.retrieve import open_retriever

            self._retriever = open_retriever(self._kb_dir, self._index_dir, notes=self.notes)
        return self._retriever

    @property
    def entries(self) -> dict[str, Entry]:
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
            offer=ans.offer.to_dict() if ans.offer else None,
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
        query = self.retriever.correct_typos(prepare_query(question))
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
        if ans.in_scope:
            # The user's head address in the commands shown, also in a follow-up ("yes, please").
            said = query.raw if addresses.head_address(query.raw) else state.asked_head
            ans.answer = addresses.personalize(ans.answer, said or "")
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
        if kind == "sources" and state.entry in self.entries:
            composed = compose.compose_sources(self.entries[state.entry])
            composed.offer = state.offer
            if state.offer:
                composed.markdown += f"\n\n{state.offer.text}"
            return self._answer(
                tid, query, composed, intent="sources", in_scope=True, conf=state.confidence, topic=state.entry
            )
        if kind == "nothing_pending" or (kind == "question" and not tokenize(query.text) and not query.signals):
            return self._nothing_to_answer(tid, query, kind)
        if kind == "question" and _mostly_other_script(query):
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
            query = self.retriever.correct_typos(prepare_query(intent.text))
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
            sources=[{"title": s.title, "url": s.url} for s in composed.sources],
            follow_ups=[composed.offer.text] if composed.offer else [],
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
        if query.has_code or "\n" in query.raw.strip():
            lines = ["**In the code you pasted:**"]
            lines += [f"- line {f.line}: {f.message} *Fix:* {f.fix} (see `{f.entry}`)" for f in findings]
        else:
            # A setting written into a one-line question ("does kill_idle_workers_interval_ms=0 kill
            # idle workers immediately"): no code was pasted and there are no lines to point at.
            lines = ["**About the setting in your question:**"]
            lines += [f"- {f.message} *Fix:* {f.fix} (see `{f.entry}`)" for f in findings]
        return "\n".join(lines), [f.entry for f in findings if f.entry in self.entries]

    def judge(self, query: Query, hits: list[Hit], unknown: list[str], scope: tuple[float, str | None]) -> Judgement:
        """Features, raw score and calibrated confidence of ``hits[0]`` as the answer to ``query``;
        ``scope`` is the question's nearest out-of-scope area and its similarity."""
        scope_sim, area = scope
        if not hits:
            return Judgement(None, scope_area=area, scope_sim=scope_sim)
        hit = hits[0]
        missing, ident = self.retriever.missing_terms(query, hit.entry)
        j = Judgement(
            hit.entry,
            dense=hit.dense,
            exact=len(hit.exact),
            unknown=len(unknown),
            missing=missing,
            missing_identifiers=ident,
            scope_close=scope_sim >= hit.dense - tuning.SCOPE_MARGIN,
            margin=hit.score - self._runner_up_score(hit, hits[1:]),
            coverage=self.retriever.coverage(query, hit.entry),
            lexical=hit.lexical,
            library=len(signatures.library_context(query.text)),
            scope_area=area,
            scope_sim=scope_sim,
        )
        j.raw = tuning.raw_score(j.features())
        j.raw_covered = tuning.raw_score(j.features(covered=True))
        j.confidence = tuning.calibrate(j.raw)
        if not hit.exact and scope_sim >= hit.dense + tuning.SCOPE_CLEARLY_CLOSER:
            # Clearly closer to an area raybot does not cover than to its best entry: decline.
            j.confidence = min(j.confidence, tuning.IN_SCOPE_MIN - 0.01)
        elif (lib := self._library_not_covered(query, hit.entry)) is not None:
            # "how do I set runtime_env in Ray Serve?": the ask names a library raybot declines and
            # the entry never speaks of it, so its Core answer would answer a different question.
            j.confidence = min(j.confidence, tuning.IN_SCOPE_MIN - 0.01)
            j.scope_area = lib
        elif (
            (quoted := _quoted_words(query))
            and not hit.exact
            and (
                self.retriever.message_share(quoted, hit.entry) < tuning.RETYPED_MESSAGE_MIN_SHARE
                or not self.retriever.message_words_together(quoted, hit.entry)
            )
        ):
            # A message quoted from memory that no signature matched: ranking may answer it, but
            # only from an entry that speaks of the message's own words, not one that shares the
            # rest of the question ("grpc ... through a proxy"), and uses its rarest word beside the
            # words the message puts next to it (not "Exception iterating responses" for
            # "Exception iterating requests!").
            j.confidence = min(j.confidence, tuning.IN_SCOPE_MIN - 0.01)
        elif ident and _mostly_identifiers(query.ask_text or query.text, ident):
            # The ask is little more than an API the entry never names ("ray.get_runtime_context()
            # .get_runtime_env_string()"): what the entry says of its neighbours is not what that
            # call does, so the answer is a partial that names it (issue #8: the key ask covered).
            j.confidence = min(j.confidence, tuning.IN_SCOPE_MIN - 0.01)
        elif self._names_only_its_class(query, hit.entry):
            # "ObjectFetchTimedOutError" alone, or "what is X?": a class name embeds poorly, but the
            # entry that names it in its title or tags is the lookup's answer, as for a pasted message.
            j.confidence = max(j.confidence, tuning.SIGNATURE_CALIBRATION["clean"])
        return j

    def _library_not_covered(self, query: Query, entry_id: str) -> str | None:
        """The library (Serve, Tune, RLlib, ...) that the user's own words ask about when
        ``entry_id`` never names it, else None. Pasted messages and code are left out: a Tune
        traceback around a Core error is the Core error's question."""
        sentences = _question_sentences(query.ask_text or query.text)
        asks = [x for x in sentences if x.rstrip().endswith("?")] or sentences
        named = signatures.libraries_named(" ".join(asks))
        if not named:
            return None
        e = self.entries[entry_id]
        text = self._entry_text.get(entry_id)
        if text is None:
            # What the entry is about (its title, tags and the questions it answers), not a library
            # named in passing in its text ("Ray's docs point ML workloads (Ray Train, Tune) to the
            # Jobs API" does not make a notebook entry answer "how do I run a ray train job").
            text = self._entry_text[entry_id] = "\n".join([e.title, " ".join(e.tags), *e.questions])
        if any(pattern.search(text) for _, pattern in named):
            return None
        # A library named only by one of the entry's short answers ("Why does the Serve CLI fail with
        # ... 52365?") is covered for the question that short answer answers, not for every question
        # about that library that lands on the entry ("ray serve http requests on a worker").
        library_answers = [a for a in e.answers if any(pattern.search(a.question) for _, pattern in named)]
        if library_answers and match_short_answer(e, query, self.retriever.term_weight) in library_answers:
            return None
        return named[0][0]

    def _closest_short_answer(self, entry: Entry, query: Query) -> ShortAnswer | None:
        """The short answer whose question means what the user asked, in other words ("how do get
        ray to use the gpu on a m1 mac?" / "Can Ray use the GPU of an Apple M1 or M2 Mac?"): the
        closest by embedding, if it is close (``tuning.SHORT_ANSWER_DENSE_MIN``) and clearly closer
        than the next one. The rules on the form of the question hold as for a match by words
        (a "turn off" answer needs someone who wants it off, ...), except that a yes/no answer does
        not need a yes/no form: the meanings, not the words, match. A bare "Yes."/"No." opening is
        then dropped, since it answered the entry's question, not the user's."""
        if not entry.answers or query.message:
            return None
        sims = self.retriever.question_similarity(query, entry.id, [sa.question for sa in entry.answers])
        sa = match_short_answer(entry, query, self.retriever.term_weight, dense=sims)
        if sa is None:
            return None
        asked = query.ask_text or query.text
        if not is_yes_no(asked) and re.match(r"\s*(?:yes|no)\s*(?:[.:;]|,(?!\s*but\b))\s", sa.answer, re.I):
            # "How many times ...?" -> "3 attempts ...", not "Yes, 3 attempts ...". ("Yes, but use the
            # head's IP" still reads right and stays whole.)
            return replace(sa, answer=compose.strip_yes_no(sa.answer))
        return sa

    def _names_only_its_class(self, query: Query, entry_id: str) -> bool:
        """Is the question only a Ray exception class name (with at most a "what is" / "what does
        ... mean" around it) that ``entry_id`` names in its title or tags, and no other entry does?"""
        names = signatures.error_names(query.text)
        if len(names) != 1:
            return False
        rest = re.sub(re.escape(names[0]), " ", query.text, flags=re.I)
        rest = re.sub(r"\bray\.exceptions\.|[?.:!`'\"]", " ", rest)
        words = [w for w in rest.lower().split() if w not in _CLASS_QUESTION_WORDS]
        if words:
            return False
        name = names[0].lower()

        def names_it(e: Entry) -> bool:
            return e.title.lower().startswith(name) or name in (t.lower() for t in e.tags)

        owners = [e.id for e in self.entries.values() if names_it(e)]
        return owners == [entry_id]

    def _runner_up_score(self, hit: Hit, others: list[Hit]) -> float:
        """The best score among the other entries that are not linked to ``hit``'s (``related:``
        either way). Two linked entries that both fit ("the soft limit" and "the killing policy"
        of idle workers) are not a doubt about the topic."""
        linked = set(self.entries[hit.entry].related) if hit.entry in self.entries else set()
        for other in others:
            if other.entry in linked:
                continue
            if other.entry in self.entries and hit.entry in self.entries[other.entry].related:
                continue
            return other.score
        return hit.score - 0.03 if not others else min(o.score for o in others)

    def signature_judgement(self, query: Query) -> tuple[signatures.SignatureHit, Judgement] | None:
        """The signature a pasted message matches, and how far its entry is to be trusted as the
        answer: a calibrated confidence by bin (``tuning.SIGNATURE_CALIBRATION``), lower when the
        paste comes from one of Ray's libraries or the user asks something the entry does not
        address. None when the question pastes no message raybot knows."""
        hits = signatures.find(self.entries, query.text)
        if not hits:
            return None
        names = signatures.error_names(query.text)
        by_class = [e for e in self.entries.values() if any(e.title.lower().startswith(n.lower()) for n in names)]
        hit = hits[0]
        # A class named in the paste is more specific than a text all its subclasses share.
        for e in by_class:
            if e.id != hit.entry and not any(h.entry == e.id and h.exact for h in hits):
                hit = next((h for h in hits if h.entry == e.id), None) or signatures.SignatureHit(
                    e.id, hit.signature, False, hit.score
                )
                break
        library = signatures.library_context(query.text)
        # What the user asks besides the message: their own words, the message left out.
        own = replace(query, ask_text=signatures.words_around(query.ask_text, hit.signature))
        missing, ident = self.retriever.missing_terms(own, hit.entry)
        # Only identifiers of the user's own words count: a traceback names many.
        ident = [i for i in ident if i in own.ask_text.lower()]
        if library:
            sig_bin = "library"
        elif missing or ident:
            sig_bin = "other-ask"
        else:
            sig_bin = "clean"
        judgement = Judgement(
            hit.entry,
            missing=missing,
            missing_identifiers=ident,
            library=len(library),
            raw=1.0,
            confidence=tuning.SIGNATURE_CALIBRATION[sig_bin],
            signature=True,
            signature_bin=sig_bin,
        )
        return hit, judgement

    def _signature_answer(
        self, tid: str, query: Query, intent: str, matched: tuple[signatures.SignatureHit, Judgement]
    ) -> Answer:
        hit, judgement = matched
        entry = self.entries[hit.entry]
        sig = hit.signature
        if not any(s is sig for s in entry.signatures):
            # The entry of an exception class the paste names, chosen over the text its message
            # shares with other classes (signature_judgement): say so, not "matches a message".
            name = next(
                (n for n in signatures.error_names(query.text) if entry.title.lower().startswith(n.lower())), ""
            )
            lead = f"Your paste names `{name}`, which I know; the rest of the message is shared by many errors."
            return self._compose_answer(tid, query, entry, judgement, intent=intent, hits=[], lead=lead)
        how = "matches" if hit.exact else "is part of" if hit.part else "looks like a cut-off copy of"
        where = f" ({sig.where})" if sig.where else ""
        shown = (signatures.shared_opening(entry, sig) if not hit.exact else None) or sig.text
        if shown != sig.text:
            shown += " …"  # the paste stops where two of the entry's messages part
        lead = f"Your paste {how} a message I know{where}: “{shown}” ([source]({sig.source}))."
        return self._compose_answer(
            tid, query, entry, judgement, intent=intent, hits=[], lead=lead, first_urls=[sig.source]
        )

    def _unknown_message(self, tid: str, query: Query, intent: str) -> Answer | None:
        """A pasted message that matches no signature: an honest "I don't recognise this
        message" (never the entry of a different message), unless the kb knows what it names or
        the user asks a question of their own around it (then ranking answers)."""
        names = signatures.error_names(query.text)
        if not query.message:
            return None
        own = [t for t in tokenize(query.ask_text) if t not in FILLER]
        if self._knows_paste(query, names) or len(own) >= tuning.MESSAGE_PROSE_WORDS:
            return None  # a class raybot knows, or a question of its own around the paste
        if _retyped(query):
            return None  # a few words in quotes, from memory: ranking answers, or declines
        near = signatures.near(self.entries, query.message)
        recognised = sorted({signatures.short_name(g) for e in self.entries.values() for g in e.signatures})
        checks = [
            "`raybot diagnose` checks a running cluster (worker pool, idle workers, memory, autoscaler) "
            "and scans its session logs for the messages I know (`--logs DIR` for a copy of the logs).",
            "Paste the complete message (the full exception with its class name, or the whole log line) "
            "if this was only part of it.",
        ]
        naming = self._entries_naming_class(query.message)
        if naming:
            cls, found = naming
            checks.append(
                f"My entries that name `{cls}` (they may or may not be about your case): "
                + ", ".join(f"`{e.id}` ({e.title})" for e in found)
                + "."
            )
        elif recognised:
            names = [r if r.startswith("“") else f"`{r}`" for r in recognised]
            checks.append("Messages I do recognise include: " + ", ".join(names[:10]) + ".")
        composed = compose.compose_unknown_message(query.message.splitlines()[0], near, checks)
        ans = self._answer(tid, query, composed, intent=intent, in_scope=False, conf=0.0, topic=None)
        ans.kind = "unknown-message"
        ans.judgement = Judgement(None)
        return ans

    def _entries_naming_class(self, message: str) -> tuple[str, list[Entry]] | None:
        """The exception class a paste opens with and the few entries (1-3) whose title, tags or
        question lines name it: ``ModuleNotFoundError`` points to the entry on workers that cannot
        import the driver's modules, without claiming that the paste is that case."""
        m = signatures.ERROR_NAME.search(message)
        if m is None:
            return None
        cls = m.group(1)
        pat = re.compile(rf"\b{re.escape(cls)}\b")
        found = [
            e
            for e in self.entries.values()
            if pat.search(" ".join([e.title, *e.tags, *e.questions])) and e.kind != "issue"
        ]
        return (cls, found) if 1 <= len(found) <= 3 else None

    def _knows_paste(self, query: Query, names: list[str]) -> bool:
        """Does the kb know something the paste names: an error class or identifier its entries
        use, or a message an entry's questions quote (users paste it as it came)?"""
        idents = [n.lower() for n in names] + [
            s
            for s in query.signals
            if ("_" in s or s.endswith(("error", "exception")))
            and s in query.message.lower()
            and s not in signatures.GENERIC_ERRORS
        ]
        texts = [self.retriever._entry_text(eid) for eid in self.entries]
        if any(i in t for i in idents for t in texts):
            return True
        seq = re.findall(r"[a-z]+", query.message.lower())
        words = set(seq)
        # The message's opening words in order (its exception class left out): a question line that
        # quotes them quotes the message, whatever the user typed after it on the same line
        # ("... object when passing my db client"). Only the opening: five common words in a row
        # ("has already been deleted by") occur anywhere.
        n = tuning.PASTE_QUOTED_RUN
        opening = seq[1:] if seq and seq[0].endswith(("error", "exception")) else seq
        runs = {" ".join(opening[:n])} if len(opening) >= n else set()
        for e in self.entries.values():
            for q in e.questions:
                qw = re.findall(r"[a-z]+", q.lower())
                if runs and any(r in " ".join(qw) for r in runs):
                    return True
                if len(qw) >= 6 and sum(w in words for w in qw) / len(qw) >= tuning.SIGNATURE_NEAR_COPY:
                    return True
                # A short paste that a question line quotes inside a longer message ("TypeError:
                # cannot pickle '_thread.lock' object" in "Could not serialize the function f:
                # cannot pickle '_thread.lock' object"): every one of its words is there.
                if len(words) >= 5 and words <= set(qw):
                    return True
        return False

    def _retrieve(
        self, tid: str, query: Query, state: TopicState, *, contextual: bool, intent: str = "question"
    ) -> Answer:
        matched = None
        if not contextual or query.message:
            matched = self.signature_judgement(query)
            if matched is None:
                unknown_message = self._unknown_message(tid, query, intent)
                if unknown_message is not None:
                    return unknown_message
            elif (
                matched[1].signature_bin == "clean"
                and matched[1].confidence >= tuning.IN_SCOPE_MIN
                and not matched[0].part
            ):
                return self._signature_answer(tid, query, intent, matched)
        boost: dict[str, float] = {}
        search_query = query
        vouched = False
        # Confidence is judged on the question alone, never on the thread's boost.
        unknown = [t for t in self.retriever.unknown_terms(query) if t not in FILLER] if not query.has_code else []
        alone = self.retriever.search(query, k=len(self.entries))
        alone_top = alone[0] if alone else None
        scope = self.retriever.scope_similarity(query)
        own_scope = scope[0]
        alone_judgement = self.judge(query, alone, unknown, scope)
        # Of the first few entries, answer from the one most likely to be right: a runner-up
        # that addresses every key term beats a leader that misses what was asked.
        for i in range(1, min(tuning.RERANK_DEPTH, len(alone))):
            cand = self.judge(query, [alone[i], *alone[:i], *alone[i + 1 :]], unknown, scope)
            if cand.raw >= alone_judgement.raw + tuning.RERANK_MIN_GAIN:
                alone_judgement = cand
        if alone and alone_judgement.entry != alone[0].entry:
            alone = sorted(alone, key=lambda h: h.entry != alone_judgement.entry)
            alone_top = alone[0]
        if contextual and alone_top is not None:
            off_topic = bool(unknown) or own_scope >= alone_top.dense - tuning.SCOPE_MARGIN
            topic_alone = next((h.score for h in alone if h.entry == state.entry), 0.0)
            switch = (
                confidence(alone_top, unknown, own_scope) >= tuning.SWITCH_MIN_SIMILARITY
                and alone_top.entry != state.entry
                and alone_top.score >= topic_alone + tuning.SWITCH_MARGIN
            )
            if off_topic or switch:
                # Either it names things outside the kb ("ok and ray data map_batches?") or it
                # is clearly about another entry ("how do I set the soft limit?"): answer it as
                # a question of its own.
                contextual = False
                topic_entry = self.entries.get(state.entry or "")
                if switch and not off_topic and topic_entry and alone_top.entry in topic_entry.related:
                    # A short follow-up that moves to an entry the topic links to: the thread
                    # still vouches for it ("how do I set the soft limit?" after idle memory).
                    vouched = True
        if contextual and state.entry in self.entries:
            topic = self.entries[state.entry]
            boost[state.entry] = 0.03
            for rel in topic.related:
                boost[rel] = boost.get(rel, 0) + 0.02
            if re.search(r"\b(fix|workaround|avoid|solve|prevent|resolve)\b", query.text, re.I):
                for rel in topic.related:
                    if rel in self.entries and self.entries[rel].kind == "fix":
                        boost[rel] += 0.03
            search_query = replace(
                query,
                text=query.text + " " + " ".join(query.signals),
                dense_text=f"{query.dense_text} ({topic.title})",
            )
        hits = self.retriever.search(search_query, k=5, boost=boost) if contextual else alone[:5]
        top = hits[0] if hits else None
        judgement = alone_judgement
        if (contextual or vouched) and top is not None:
            # The thread vouches for a short follow-up: its words need not cover the entry.
            judgement = Judgement(
                top.entry,
                dense=top.dense,
                raw=alone_judgement.raw,
                scope_area=alone_judgement.scope_area,
                scope_sim=alone_judgement.scope_sim,
            )
            judgement.confidence = max(alone_judgement.confidence, min(state.confidence, 0.9))
        numbers = {s for s in query.signals if s.isdigit()}
        top_issue = self.entries[top.entry].issue if top is not None else None
        if top_issue is not None and str(top_issue.number) in numbers:
            # "what's #18456 about": a lookup by number, not a guess by similarity.
            judgement.confidence = max(judgement.confidence, tuning.SIGNATURE_CONFIDENCE)
        findings_md, finding_entries = self._code_findings_md(query)
        if finding_entries and judgement.confidence < tuning.IN_SCOPE_MIN:
            judgement.confidence = max(judgement.confidence, 0.6)
        if matched is not None and matched[1].confidence >= tuning.IN_SCOPE_MIN:
            # A known message in a paste that also asks something else (or comes from a
            # library): its entry answers when ranking finds nothing more likely to be right.
            same = top is not None and top.entry == matched[1].entry
            # A piece of a message only (its start cut off) is weaker evidence: it answers when
            # nothing else is asked and ranking finds nothing more likely (a hint line several
            # messages end with, such as the RAY_record_ref_creation_sites one, is also quoted
            # by the entry that explains the hint), never beside another ask.
            part_ok = not matched[0].part or matched[1].signature_bin == "clean"
            # The whole first sentence of one entry's message, and nothing else asked ("The actor
            # died because its node has died."): that message, whatever the ranking's nearest topic.
            # (Not against a lookup that named its entry outright, such as an issue by its number.)
            opening = (
                matched[0].opening
                and matched[1].signature_bin == "clean"
                and judgement.confidence < tuning.SIGNATURE_CONFIDENCE
            )
            if (same or opening or judgement.confidence < matched[1].confidence) and part_ok:
                if same:
                    matched[1].confidence = max(matched[1].confidence, judgement.confidence)
                return self._signature_answer(tid, query, intent, matched)
        if top is None or judgement.confidence < tuning.IN_SCOPE_MIN:
            return self._decline(tid, query, hits, judgement, intent)

        entry_id = top.entry
        if finding_entries and top.entry not in finding_entries and not top.exact:
            entry_id = finding_entries[0]
        entry = self.entries[entry_id]
        see_also = []
        for h in hits[1:3]:
            if h.entry != entry_id and h.score >= hits[0].score * 0.92 and h.dense >= tuning.DENSE_HIGH - 0.05:
                see_also.append(self.entries[h.entry])
                break
        return self._compose_answer(
            tid,
            query,
            entry,
            judgement,
            intent=intent,
            hits=hits,
            lead=findings_md or None,
            state=state if (contextual and entry_id == state.entry) else None,
            see_also=see_also,
            code_fix=bool(finding_entries),
        )

    def _decline(
        self, tid: str, query: Query, hits: list[Hit], judgement: Judgement, intent: str, *, yes_no: bool = False
    ) -> Answer:
        """Below the bar: an explicit partial when a close entry misses what was asked (or does
        not settle a yes/no question), else "not in my knowledge base" with the closest entries."""
        top = hits[0] if hits else None
        kind = "decline"
        asked = query.ask_text or query.text
        missing_any = bool(judgement.missing or judgement.missing_identifiers)
        docs = signatures.LIBRARY_DOCS.get(judgement.scope_area or "")
        if (
            docs is None
            and top is not None
            and judgement.entry == top.entry
            and (yes_no or missing_any)
            and tuning.calibrate(judgement.raw_covered) >= tuning.IN_SCOPE_MIN
        ):
            ident = judgement.missing_identifiers
            missing = ident + [m for m in judgement.missing if m not in ident]
            words = list(dict.fromkeys(self._original_word(query, m) for m in missing))
            composed = compose.compose_partial(self.entries[top.entry], words, yes_no_clause(asked) if yes_no else None)
            kind = "partial"
        else:
            closest = [self.entries[h.entry] for h in hits[:3] if h.dense >= tuning.DENSE_LOW + 0.05]
            lead = (
                f"**That is not in my knowledge base**: it asks about {judgement.scope_area}, which raybot "
                f"does not cover, so I won't answer it with a Ray Core entry. {judgement.scope_area}'s "
                f"documentation: {docs}"
                if docs
                else None
            )
            if lead is None and language.looks_non_english(query.raw):
                # Nothing matched, maybe only because the kb and the embedding model are English.
                lead = (
                    "**That is not in my knowledge base, as far as I can tell**: my entries and the way I "
                    "match questions are in English, and your question seems not to be. Asking it in "
                    "English may find an answer."
                )
            composed = compose.compose_out_of_scope(query.text, closest, lead=lead)
        ans = self._answer(
            tid, query, composed, intent=intent, in_scope=False, conf=judgement.confidence, topic=None, hits=hits
        )
        ans.kind = kind
        ans.judgement = judgement
        return ans

    @staticmethod
    def _original_word(query: Query, token: str) -> str:
        """The question's own spelling of a (normalised) term, for quoting it back."""
        m = re.search(rf"\b{re.escape(token[:5])}[\w.:-]*", query.text, re.I) if token.isalpha() else None
        if m is None:
            m = re.search(re.escape(token), query.text, re.I)
        # "[\w.:-]*" keeps dotted names (ray.get) whole but also takes a sentence's full stop.
        return m.group(0).rstrip(".:-") if m else token

    def _compose_answer(
        self,
        tid: str,
        query: Query,
        entry: Entry,
        judgement: Judgement,
        *,
        intent: str,
        hits: list[Hit],
        lead: str | None = None,
        first_urls: list[str] | None = None,
        state: TopicState | None = None,
        see_also: list[Entry] | None = None,
        code_fix: bool = False,
    ) -> Answer:
        """The answer from ``entry``: a matching short answer or the sentence that answers a
        "what is the default" question first, then the sections the question wants."""
        asked = query.ask_text or query.text
        yes_no = asks_fact_yes_no(asked)
        short = match_short_answer(entry, query, self.retriever.term_weight) if state is None else None
        if short is None and state is None and not judgement.signature:
            short = self._closest_short_answer(entry, query)
        if short is not None and _yes_no_frame(asked) != _yes_no_frame(short.question):
            # The answer's "Yes."/"No." settled a question framed the other way round ("Is 6379
            # enough?" for "do I have to open more ports?", "Can I pass a ref?" for "do I have to
            # ray.get it first?"): keep what it says, drop the verdict.
            short = replace(short, answer=compose.strip_yes_no(short.answer))
        if (
            yes_no
            and short is None
            and state is None
            and not judgement.signature
            and (judgement.missing or judgement.confidence < tuning.YES_NO_MIN)
        ):
            # A yes/no question the entry does not settle: say what is missing, do not guess.
            judgement.confidence = min(judgement.confidence, tuning.IN_SCOPE_MIN - 0.01)
            return self._decline(tid, query, hits or [_hit_for(entry)], judgement, intent, yes_no=True)
        direct = None
        if short is None and state is None and asks_default(asked):
            direct = default_sentence(entry, query, self.retriever)
        shown = state.shown if state is not None else set()
        sections = ["Answer", "Details"]
        prefer = None
        if state is not None:
            want = intents.wanted_section(query.text) or next(
                (s for s in ("Steps", "Details", "Example", "Caveats") if s in entry.sections and s not in shown),
                "Answer",
            )
            sections = [want]
        elif query.has_code and code_fix and "Example" in entry.sections and entry.kind == "fix":
            sections = ["Answer", "Example"]
        elif query.has_code and "Example" in entry.sections and entry.kind == "fix":
            sections = ["Answer", "Example"]
        elif _HOW_TO_SET.search(query.text) and "Steps" in entry.sections:
            sections = ["Answer", "Steps"]  # "how do I set X?" wants the steps, not the background
        elif _HOW_TO_SET.search(query.text) or re.search(r"\b(how (?:do|can) i|steps?)\b", query.text, re.I):
            prefer = "Steps"
        elif re.search(r"\b(example|code|snippet|script)\b", query.text, re.I):
            prefer = "Example"
        related = [self.entries[r] for r in entry.related if r in self.entries]
        composed = compose.compose_entry(
            entry,
            sections=sections,
            shown_before=shown,
            see_also=see_also,
            related=related,
            lead=lead,
            short=short,
            direct=direct,
            keep_yes_no=short is not None and short.answer.lower().startswith(("yes", "no")),
            prefer_offer=prefer,
            first_urls=first_urls,
        )
        ans = self._answer(
            tid, query, composed, intent=intent, in_scope=True, conf=judgement.confidence, topic=entry.id, hits=hits
        )
        ans.kind = "signature" if judgement.signature else ("short-answer" if short else "entry")
        ans.judgement = judgement
        return ans

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
                f"I showed the {compose.SECTION_TITLES[section].lower()} of "
                f"*{compose.code_words(entry.title)}* earlier in this thread "
                f"(scroll up, or `raybot kb show {entry_id}`)."
            )
            if offer:
                text += f"\n\n{offer.text}"
            composed = Composed(text, [entry_id], {entry_id: []}, compose.sources_of([entry]), offer)
            return self._answer(
                tid, query, composed, intent=intent, in_scope=state.in_scope, conf=state.confidence, topic=entry_id
            )
        if section == "Answer":  # an offered related topic: start it
            composed = compose.compose_entry(
                entry,
                sections=["Answer", "Details"],
                related=[self.entries[r] for r in entry.related if r in self.entries],
            )
            return self._answer(
                tid, query, composed, intent=intent, in_scope=True, conf=max(state.confidence, 0.6), topic=entry_id
            )
        target = entry
        if section not in entry.sections:
            # The topic has no such section: use the closest related entry that has one.
            alt = next(
                (self.entries[r] for r in entry.related if r in self.entries and section in self.entries[r].sections),
                None,
            )
            if alt is None:
                text = (
                    f"The entry *{compose.code_words(entry.title)}* has no {compose.SECTION_TITLES[section].lower()} "
                    "section, and none of its related entries has one."
                )
                offer = compose.next_offer(entry, state.shown)
                composed = Composed(
                    text + (f"\n\n{offer.text}" if offer else ""),
                    [entry_id],
                    {entry_id: []},
                    compose.sources_of([entry]),
                    offer,
                )
                return self._answer(
                    tid, query, composed, intent=intent, in_scope=True, conf=state.confidence, topic=entry_id
                )
            lead = (lead or "") + (
                f"*{compose.code_words(entry.title)}* has no {compose.SECTION_TITLES[section].lower()}; "
                "this related entry does:"
            )
            target = alt
        composed = compose.compose_entry(
            target,
            sections=[section],
            shown_before=state.shown if target is entry else set(),
            related=[self.entries[r] for r in target.related if r in self.entries],
            lead=lead,
            trim_details=False,
        )
        return self._answer(
            tid, query, composed, intent=intent, in_scope=state.in_scope, conf=state.confidence, topic=target.id
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
            ans = self._answer(tid, query, composed, intent="affirm", in_scope=False, conf=0.0, topic=None)
            ans.kind = "nothing-pending"
            return ans
        if state.offer:
            return self._deliver(tid, query, state, state.offer.entry, state.offer.section, "affirm")
        assert state.entry is not None  # no offer and no entry was answered above
        entry = self.entries[state.entry]
        offer = compose.next_offer(entry, state.shown)
        section = offer.section if offer else "Details"
        return self._deliver(tid, query, state, state.entry, section, "affirm")

    def _nothing_to_answer(self, tid: str, query: Query, kind: str) -> Answer:
        if kind == "nothing_pending":
            lead = "There is nothing in this thread for me to continue yet."
        elif _other_script_letters(query.raw) >= _OTHER_SCRIPT_MIN:
            # Not "too short": the question has words, in a script the English-only model and kb
            # cannot read (a question in Chinese or Korean has no token raybot can look up).
            what = (
                "most of this question is in another language"
                if tokenize(query.text) or query.signals
                else "this question has no English words or Ray names I could look up"
            )
            lead = (
                f"I can only read questions in English: my search model and knowledge base are English, and "
                f"{what}. Could you ask it in English (pasted error messages and code can stay as they are)?"
            )
        else:
            lead = "Could you say a bit more? That is too short for me to know what you are after."
        text = (
            f"{lead} {compose.SCOPE}\n\nFor example:\n\n"
            '- "Why are my ray::IDLE processes not releasing memory?"\n'
            '- "What does kill_idle_workers_interval_ms=0 do?"\n'
            "- a pasted `ReferenceCountingAssertionError` or `OwnerDiedError`\n"
            "- `raybot diagnose` to check a running cluster"
        )
        ans = self._answer(
            tid, query, Composed(text, [], {}, [], None), intent=kind, in_scope=False, conf=0.0, topic=None
        )
        ans.kind = "nothing-pending" if kind == "nothing_pending" else "clarify"
        return ans

    def _thanks(self, tid: str, query: Query, state: TopicState) -> Answer:
        text = "Glad it helped."
        if state.offer:
            text += f" {state.offer.text}"
        else:
            text += " Ask a follow-up any time, or `raybot diagnose` to check a running cluster."
        composed = Composed(text, [], {}, [], state.offer)
        # Nothing was looked up: the turn keeps the thread's topic and pending offer.
        ans = self._answer(
            tid, query, composed, intent="thanks", in_scope=state.in_scope, conf=state.confidence, topic=state.entry
        )
        ans.kind = "thanks"
        return ans

    def _versions(self, tid: str, query: Query, state: TopicState) -> Answer:
        assert state.entry is not None  # dispatched only with a topic
        entry = self.entries[state.entry]
        lead_parts = []
        if entry.ray_versions:
            lead_parts.append(f"**Versions:** {entry.ray_versions}")
        else:
            lead_parts.append("This entry states no version differences; its facts were checked against Ray 2.60.0.")
        if "Caveats" in entry.sections:
            return self._deliver(tid, query, state, entry.id, "Caveats", "versions", lead="\n\n".join(lead_parts))
        composed = Composed(
            "\n\n".join(lead_parts),
            [entry.id],
            {entry.id: []},
            compose.sources_of([entry]),
            compose.next_offer(entry, state.shown),
        )
        return self._answer(
            tid, query, composed, intent="versions", in_scope=True, conf=state.confidence, topic=entry.id
        )

    def _issues(self, tid: str, query: Query, intent: intents.Intent) -> Answer:
        term = intent.term
        issues = {k: v for k, v in self.entries.items() if v.kind == "issue" and v.issue}
        titles = {k: v.issue.title.lower() for k, v in issues.items() if v.issue}
        exact: set[str] = set()
        denied: set[str] = set()
        if term:
            needle = term.lower().strip("`'\" ")
            # A one- or two-word term may name a mention ("ray::IDLE memory" names IDLE); a longer
            # one describes a topic ("idle workers using more than 1GB and causing OOM"): one
            # shared word does not make an issue about it, so it is ranked by meaning instead.
            words = needle.split() if len(needle.split()) <= 2 else []
            for eid, e in issues.items():
                # What the issue itself says: its title and the verified `mentions` list. Our
                # own notes are not evidence that the issue mentions a term.
                own = [titles[eid], *(m.lower() for m in e.mentions)]
                if any(needle in text or text in words for text in own if text):
                    exact.add(eid)
                elif mention_kind(" ".join(e.sections.values()), needle) == "denies":
                    denied.add(eid)
        # Exact matching uses the term; ranking by meaning uses the whole question, so that
        # "is there an upstream issue tracking this" still knows what "this" is about.
        topic_hint = self.entries[state_entry].title if (state_entry := self._topic_for_issues) else ""
        hits = self.retriever.search(prepare_query(f"{query.text} {topic_hint}".strip()), k=12, kinds=("issue",))
        order = {h.entry: i for i, h in enumerate(hits)}
        ranked = [issues[e] for e in sorted(exact, key=lambda e: (order.get(e, 99), e))]
        extra = 3 if exact else 6
        for h in hits:
            if h.entry not in exact and h.entry not in denied and h.dense >= DENSE_HIGH - 0.05 and extra > 0:
                ranked.append(issues[h.entry])
                extra -= 1
        unknown = self.retriever.unknown_terms(prepare_query(term)) if term else []
        judgement = None
        if exact:
            conf = tuning.SIGNATURE_CONFIDENCE  # issues whose own text names the term: a lookup
        elif self._topic_for_issues and ranked:
            conf = confidence(hits[0], unknown)  # "which issues discuss this?": the thread's topic
        elif ranked:
            # Issues by meaning for a fresh question: as trustworthy as any other answer.
            own = [t for t in self.retriever.unknown_terms(query) if t not in FILLER]
            judgement = self.judge(query, hits, own, self.retriever.scope_similarity(query))
            conf = judgement.confidence
        else:
            conf = 0.0
        if not exact and conf < tuning.IN_SCOPE_MIN:
            ranked = []
        symptom = intents.without_issue_ask(query.text) if not ranked and not term and not denied else ""
        if symptom and not self._topic_for_issues:
            # "X happens. Is this a known issue?" with no issue entry about X: the user still
            # describes a symptom, so answer that (without the issue ask, whose words would pull
            # any issue entry up) rather than report an empty list.
            symptom_query = self.retriever.correct_typos(prepare_query(symptom))
            return self._retrieve(tid, symptom_query, TopicState(), contextual=False, intent="question")
        shown_term = term
        if not term and self._topic_for_issues in self.entries:
            shown_term = self.entries[self._topic_for_issues].title
        about_nothing = not ranked and not term and not self._topic_for_issues and not symptom and not denied
        composed = compose.compose_issue_list(
            shown_term, ranked, exact, [issues[d] for d in sorted(denied)], about_nothing=about_nothing
        )
        ans = self._answer(
            tid,
            query,
            composed,
            intent="issues",
            in_scope=bool(ranked),
            conf=conf,
            topic=self._topic_for_issues or (ranked[0].id if ranked else None),
            hits=hits,
        )
        # A question back ("Which problem do you mean?") is no list of issues.
        ans.kind = "clarify" if about_nothing else "issue-list"
        ans.judgement = judgement
        return ans

    def _compare(self, tid: str, query: Query, state: TopicState) -> Answer:
        code_query = query if query.has_code or not state.last_code else prepare_query(state.last_code)
        findings_md, finding_entries = self._code_findings_md(code_query)
        if code_query is not query and findings_md:
            findings_md = findings_md.replace(
                "In the code you pasted", "In the code you pasted earlier in this thread", 1
            )
        topic = self.entries.get(state.entry or "")
        candidates = [e for e in finding_entries if self.entries[e].kind == "fix"]
        if topic:
            candidates += [r for r in topic.related if (r in self.entries and self.entries[r].kind == "fix")]
            if topic.kind == "fix":
                candidates.insert(0, topic.id)
        if not candidates:
            for e in finding_entries:
                fixes = [r for r in self.entries[e].related if r in self.entries and self.entries[r].kind == "fix"]
                candidates += fixes
        pattern = next((self.entries[c] for c in candidates if "Example" in self.entries[c].sections), None)
        if not findings_md:
            findings_md = (
                "I found none of the known problems in the code you pasted (the `_owner` argument, "
                "`max_calls` on tasks that `ray.put`, disabled reaping, worker-node system config). "
                "That does not prove it is right."
            )
        if pattern is None:
            return self._retrieve(tid, query, state, contextual=True, intent="compare")
        if "Example" in state.seen.get(pattern.id, set()):
            text = (
                findings_md + f"\n\nCompare your code with the working pattern shown earlier in this thread "
                f"(*{compose.code_words(pattern.title)}*, `raybot kb show {pattern.id}`): "
                "the difference is in the lines above."
            )
            offer = compose.next_offer(pattern, state.seen.get(pattern.id, set()))
            composed = Composed(
                text + (f"\n\n{offer.text}" if offer else ""),
                list(dict.fromkeys([pattern.id, *finding_entries])),
                {pattern.id: []},
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
                topic=pattern.id,
            )
        lead = findings_md + "\n\n**The pattern that works, for comparison:**"
        composed = compose.compose_entry(
            pattern,
            sections=["Answer", "Example"],
            lead=lead,
            related=[self.entries[r] for r in pattern.related if r in self.entries],
        )
        composed.entries = list(dict.fromkeys(composed.entries + finding_entries))
        return self._answer(
            tid, query, composed, intent="compare", in_scope=True, conf=max(state.confidence, 0.7), topic=pattern.id
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
        offer = Offer(topic, "Details", f"Would you like to know why this matters ({findings[0].title})?")
    address = diagnosis_label(diagnosis.snapshot)
    turn = Turn(
        question=f"raybot diagnose ({address})",
        answer=diagnosis.summary_markdown() + (f"\n{offer.text}" if offer else ""),
        intent="diagnose",
        in_scope=bool(topic),
        confidence=1.0 if topic else 0.0,
        topic=topic,
        entries=entries,
        sections={topic: []} if topic else {},
        offer=offer.to_dict() if offer else None,
    )
    tid = thread_id or new_thread_id()
    try:
        store.add_turn(tid, turn, title=f"diagnose {address}")
    except StoreError:
        return None
    return tid
