"""What a message in a thread asks for, decided from its words alone (pure functions).

``classify(text, has_topic)`` returns an :class:`Intent`:

* ``affirm``: "yes", "Yes, do please…", "sure, go on": deliver what was offered.
* ``section``: "show me code", "step by step", "more detail", "why?": a form of the topic.
* ``issues``: "search for issues where X is mentioned", "which issues discuss X".
* ``versions``: "does that work on 2.60?": the topic's version notes and caveats.
* ``new_topic``: "different question: …": answer without the thread's context.
* ``contextual``: a short question leaning on the thread ("how do I fix this?").
* ``compare``: pasted code with "my implementation does the same, or no?".
* ``thanks``: "thanks!", "great, that helps": acknowledged, the topic stays open.
* ``sources``: "more sources", "all sources?": every source of the topic's entry.
* ``nothing_pending``: "yes please" / "thanks" / "hi" with no topic yet: say what raybot covers.
* ``question``: anything else: a fresh retrieval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from raybot.lazyre import lazy

_MENTION = lazy(r"(?<![\w.])@[A-Za-z][\w-]*")
_AFFIRM_CORE = {
    "yes",
    "yeah",
    "yep",
    "yup",
    "ya",
    "y",
    "sure",
    "ok",
    "okay",
    "please",
    "pls",
    "plz",
    "go",
    "continue",
    "absolutely",
    "definitely",
    "certainly",
    "proceed",
    "more",
    "ahead",
}
_AFFIRM_FILLER = {
    "do",
    "on",
    "thanks",
    "thank",
    "you",
    "that",
    "would",
    "be",
    "great",
    "nice",
    "i",
    "it",
    "id",
    "like",
    "love",
    "to",
    "kindly",
    "and",
    "a",
    "the",
    "please",
    "sounds",
    "good",
    "why",
    "not",
    "that'd",
    "lovely",
    "perfect",
    "awesome",
    "cool",
    "let's",
    "lets",
    "show",
    "me",
    "with",
    "of",
    "course",
    "want",
    "need",
    "so",
    "much",
    "bot",
    "raybot",
    "runllm",
}

SECTION_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "Example",
        lazy(
            r"\b(code|example|snippet|sample|revised pattern|corrected pattern|pattern|show me how|"
            r"working version|full version|implementation of (?:it|that|this))\b"
        ),
    ),
    ("Steps", lazy(r"\b(step[- ]by[- ]step|steps|walk me through|how (?:do|can|should) i apply|instructions)\b")),
    ("Caveats", lazy(r"\b(caveats?|pitfalls?|gotchas?|risks?|downsides?|limitations?)\b")),
    (
        "Details",
        lazy(
            r"\b(more detail|details?|explain|elaborate|breakdown|break it down|tell me more|deeper|"
            r"in depth|how come|what do you mean)\b|^(?:but |and |so )?why(?: (?:is|does|did|would) (?:that|this|it))?"
            r"(?: (?:so|the case|happen|matter))?\W*$"
        ),
    ),
]
_ISSUES = lazy(
    r"\b(search|find|look(?:ing)? (?:up|for)|list|show|which|what|any|are there|is there|known)\b.{0,40}?"
    # "reports" only as a plural noun: "what does Ray report" uses the verb ("bug report" has "bug").
    r"\b(issues?|bugs?|prs?|pull requests?|tickets?|reports)\b|"
    r"\bissues? (?:about|on|for|where|mentioning|that mention)\b|"
    r"^(?:and |what about |how about )?(?:issues?|bugs?|prs?)\b",
    re.I,
)
_ISSUE_TERM = lazy(
    r"\b(?:mention(?:s|ed|ing)?|about|discuss(?:es|ed|ing)?|regarding|related to|concerning|on|for|"
    r"with|involving|where|that cover|referencing)\b\s+(.+)$",
    re.I,
)
_NEW_TOPIC = lazy(
    r"^(?:different|another|new|unrelated|separate|other|switching|change of)\s+(?:question|topic|subject|thing)"
    r"|^(?:on )?(?:a )?(?:different|separate|unrelated) (?:note|question|topic)|^/new\b|^new topic\b",
    re.I,
)
_VERSIONS = lazy(
    r"\b(?:work|works|apply|applies|valid|true|hold|same|change[sd]?)\b.{0,30}\b(?:on|in|for|with|to)\s+"
    r"(?:ray\s*)?(?:v?\d+\.\d+|latest|current|newer|older|recent)|\bwhich (?:ray )?versions?\b|"
    r"\b(?:since|before|after) (?:ray )?\d+\.\d+|\bversion\b",
    re.I,
)
_LEANING = lazy(
    r"\b(this|that|it|these|those|them|the error|the issue|the problem|the fix|the setting|"
    r"the same|this error|my case|our case|here)\b",
    re.I,
)
_COMPARE = lazy(
    r"\b(my (?:implementation|code|version|class|function|approach|store|pattern)|does the same|"
    r"or no|or not|is (?:this|it|that) (?:right|correct|ok|okay|fine|the same)|what(?:'s| is) wrong|"
    r"review|look at (?:my|this) code|am i doing)\b",
    re.I,
)


_THANKS = lazy(
    r"^\W*(?:(?:ok(?:ay)?|great|cool|perfect|awesome|nice|got it|perfect)\W+)*"
    r"(?:thanks?(?: you)?(?: (?:a lot|so much|very much))?|thx|ty|cheers|got it|that helps?|that (?:did|does) it)"
    r"\W*$"
)
_SOURCES = lazy(
    r"^\W*(?:(?:and|ok|please|can you|could you|show|list|give me|what are|where are)\W+)*"
    r"(?:the\s+)?(?:more|all|other|remaining|rest of the|full|your)?\s*(?:sources?|references|citations)"
    r"(?:\s+(?:please|too|as well|for (?:this|that|it)))?\W*$"
)
_GREETING = lazy(r"^\W*(?:hi|hello|hey|yo|good (?:morning|afternoon|evening)|hiya)(?: there)?\W*$")
_FILLER = lazy(r"^\W*(?:(?:ok(?:ay)?|cool|great|right|hmm+|alright|i see|sure)\W+)+")


@dataclass(frozen=True)
class Intent:
    kind: str
    section: str | None = None  #: for ``section``: which entry section is wanted
    term: str | None = None  #: for ``issues``: what to search for
    text: str = ""  #: the message with mentions and topic-switch prefixes removed


def is_leaning(text: str) -> bool:
    """Does the message refer back to the thread ("this", "that error", "it")?"""
    return bool(_LEANING.search(text))


def clean(text: str) -> str:
    text = _MENTION.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def is_affirmation(text: str) -> bool:
    words = _words(text)
    if not words or len(words) > 9:
        return False
    if not any(w in _AFFIRM_CORE for w in words):
        return False
    return all(w in _AFFIRM_CORE or w in _AFFIRM_FILLER for w in words)


def wanted_section(text: str) -> str | None:
    low = text.lower()
    for section, rx in SECTION_PATTERNS:
        if rx.search(low):
            return section
    return None


def issue_term(text: str) -> str | None:
    noun = re.search(r"\b(?:issues?|bugs?|prs?|pull requests?|tickets?|reports)\b", text, re.I)
    rest = text[noun.end() :] if noun else text
    m = _ISSUE_TERM.search(rest)
    term = m.group(1) if m else ""
    term = re.sub(r"^(?:the|a|an)\s+", "", term.strip(" ?.!`'\""), flags=re.I)
    term = re.sub(r"\s+(?:is|are|was|were)?\s*(?:mentioned|discussed|named|referenced)\W*$", "", term, flags=re.I)
    term = term.strip(" ?.!`'\"")
    # "is there an issue for this?" points back at the conversation; it names nothing to search for.
    if term.lower() in {"this", "that", "it", "these", "those", "them", "this one", "that one", "this problem",
                        "this error", "this bug", "that error", "that problem"}:
        return None
    return term or None


def without_issue_ask(text: str) -> str:
    """The message without its sentences that ask about issues ("... Is this a known bug?"): what
    is left describes the symptom. Empty when nothing else is said."""
    parts = re.split(r"(?<=[.?!])\s+|[,;]\s+(?=(?:is|are|any|was|has|have|do|does|or)\b)", text.strip(), flags=re.I)
    kept = [p for p in parts if not _ISSUES.search(p.lower())]
    return " ".join(kept) if len(_words(" ".join(kept))) >= 3 else ""


def classify(
    message: str, *, has_topic: bool, has_code: bool = False, strong_signals: int = 0, thread_has_code: bool = False
) -> Intent:
    text = clean(message)
    low = text.lower()
    if _NEW_TOPIC.search(low):
        rest = re.sub(r"^[^:]*:\s*", "", text, count=1) if ":" in text[:60] else text
        rest = re.sub(r"^/new\b\s*", "", rest)
        return Intent("new_topic", text=rest.strip())
    if _ISSUES.search(low) and len(_words(low)) <= 30 and not has_code:
        return Intent("issues", term=issue_term(text), text=text)
    if not has_topic:
        if is_affirmation(low) or _THANKS.match(low) or _GREETING.match(low):
            return Intent("nothing_pending", text=text)
        return Intent("question", text=text)
    if (has_code or thread_has_code) and _COMPARE.search(low):
        return Intent("compare", text=text)
    if is_affirmation(low):
        return Intent("affirm", text=text)
    if _THANKS.match(low):
        return Intent("thanks", text=text)
    if _SOURCES.match(low):
        return Intent("sources", text=text)
    # "ok and on kuberay?" -> "and on kuberay?": fillers say nothing about the question.
    low = _FILLER.sub("", low)
    words = _words(low)
    if has_code or strong_signals >= 2:
        return Intent("question", text=text)
    section = wanted_section(low)
    if section and len(words) <= 14 and (strong_signals == 0 or _LEANING.search(low)):
        return Intent("section", section=section, text=text)
    if _VERSIONS.search(low) and len(words) <= 16 and (_LEANING.search(low) or strong_signals == 0):
        return Intent("versions", text=text)
    if len(words) <= 16 and (_LEANING.search(low) or words[:1] in (["and"], ["but"], ["also"], ["so"])):
        return Intent("contextual", text=text)
    if len(words) <= 12 and strong_signals == 0:
        # "what about GPUs?", "why did the owner die tho?": short and naming nothing new, so the
        # thread's topic shapes the search (out-of-scope evidence still wins, see Assistant).
        return Intent("contextual", text=text)
    return Intent("question", text=text)
