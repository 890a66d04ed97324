"""Misspelt words in a question: "cluter" for "cluster", "enviornment" for "environment".

A word of a question is taken for a typo of a kb word when the kb never uses it, it is one typing
slip from a word the kb does use (:func:`one_slip`), and it is not an English word itself: real
words the kb does not use ("masking", "reward", "sharded") say what the question is about, and
reading them as a kb word would answer another question.

The English word list (pyspellchecker's) is only read when the index is built: the index keeps
``surface`` (the kb's words and how many entries use each) and ``english_near`` (the English
words one slip from a kb word), which is all :func:`fixes` needs to tell a slip from a word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from raybot.lazyre import lazy

#: A plain word as the typo check sees it: letters only, not part of a name.with.dots or a-flag.
WORD = lazy(r"(?<![\w.-])[A-Za-z]+(?![\w-])")
MIN_LETTERS = 5  #: shorter words are left alone ("logz", "appo"): too many real words are one slip apart
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Endings whose removal turns a word into an English word: such a word is English too ("sharded").
_ENDINGS = (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("er", ""), ("er", "e"))


#: Slips in the short words that say what kind of question it is ("whta is the default num_cpus"):
#: too short for the kb-word check, and read wrong they turn a default question into a topic.
QUESTION_WORD_SLIPS = {
    "whta": "what",
    "waht": "what",
    "wht": "what",
    "hwo": "how",
    "hw": "how",
    "whay": "why",
    "wich": "which",
    "deos": "does",
    "dose": "does",
    "cna": "can",
    "shoud": "should",
}


def one_slip(word: str) -> set[str]:
    """Every string one typing slip from ``word`` that keeps its first letter: a letter deleted,
    inserted or replaced, or two neighbouring letters swapped. Slips in the first letter are rare,
    and allowing them turns names raybot does not know into words it does ("knative" into
    "native", "RLock" into "block")."""
    splits = [(word[:i], word[i:]) for i in range(1, len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


def _swaps(word: str) -> set[str]:
    """The strings made from ``word`` by swapping two neighbouring letters."""
    return {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)} - {word}


def surface_words(texts: Iterable[str]) -> dict[str, int]:
    """Plain lower-case words of four letters or more -> how many of ``texts`` use each."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({w for w in (m.group(0).lower() for m in WORD.finditer(text)) if len(w) >= 4})
    return dict(sorted(counts.items()))


def _english_words() -> Mapping[str, int]:
    from spellchecker import SpellChecker

    return SpellChecker(distance=1).word_frequency.dictionary


#: The last letters an inflected ending of ``_ENDINGS`` can end with: a word that ends otherwise is
#: English only as it stands (this check saves most of the index build's typo-table time).
_ENDING_LAST = frozenset(end[-1] for end, _ in _ENDINGS)


def _is_english(word: str, english: Mapping[str, int]) -> bool:
    if word in english:
        return True
    if word[-1:] not in _ENDING_LAST:
        return False
    return any(
        word.endswith(end) and len(word) - len(end) >= 3 and word[: -len(end)] + back in english
        for end, back in _ENDINGS
    )


def english_near(surface: Mapping[str, int], english: Mapping[str, int] | None = None) -> list[str]:
    """The English words (an inflected form counts: "sharded") of ``MIN_LETTERS`` or more that are
    one slip from a word of ``surface`` and not in it, sorted. A slip is symmetric, so these are
    exactly the English words :func:`fixes` could otherwise take for a typo."""
    english = _english_words() if english is None else english
    near: set[str] = set()
    for word in surface:
        for variant in one_slip(word):
            if len(variant) >= MIN_LETTERS and variant not in surface and _is_english(variant, english):
                near.add(variant)
    return sorted(near)


def fixes(text: str, surface: Mapping[str, int], english_near: set[str] | frozenset[str]) -> dict[str, str]:
    """Misspelt words of ``text`` (lower case) -> the kb word each stands for. Where several kb words
    are one slip away, the one most entries use wins (then the first alphabetically). Words written
    with capitals after the first letter ("RLock", "NodeState") are names and are left alone."""
    out: dict[str, str] = {}
    for typed in dict.fromkeys(m.group(0) for m in WORD.finditer(text)):
        word = typed.lower()
        if word in QUESTION_WORD_SLIPS:
            out[word] = QUESTION_WORD_SLIPS[word]
            continue
        if len(word) < MIN_LETTERS or word in surface or word in out or word in english_near:
            continue
        if typed[1:] != typed[1:].lower():
            continue
        near = [w for w in one_slip(word) if w in surface]
        # Two neighbouring letters swapped is the commonest slip: "stauts" is "status", although
        # "starts" (one letter replaced) is used by more entries.
        swapped = [w for w in near if w in _swaps(word)] or near
        if near:
            out[word] = max(swapped, key=lambda w: (surface[w], w))
    return out


def fix_text(text: str, found: Mapping[str, str]) -> str:
    """``text`` with each misspelt word of ``found`` replaced by its kb word."""
    if not found:
        return text
    return WORD.sub(lambda m: found.get(m.group(0).lower(), m.group(0)), text)
