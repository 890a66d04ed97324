"""Is a question written in a language other than English?

raybot's entries, their question lines and the embedding model (all-MiniLM-L6-v2 was trained on
English text) are English: a question in German or Chinese is usually declined because nothing
matches, not because the kb lacks the answer. The decline then says so, so the user knows that
asking in English may help. A rough test is enough for that hint: the share of letters outside
the Latin alphabets, or, for Latin-script text, whether common words of other languages
outnumber the English ones.
"""

from __future__ import annotations

import re

#: Letters up to U+024F are Latin (ASCII, Latin-1 and the Latin Extended blocks).
_LATIN_END = 0x024F
#: Above this share of non-Latin letters (CJK, Hangul, Cyrillic, Arabic, ...) the text is not English.
NON_LATIN_SHARE = 0.3

#: Short, frequent English words that no other common language uses the same way.
_ENGLISH = frozenset(
    "the is are was how what why when where which who do does did can could should would will my i "
    "you it this that with for of and not to from have has get run my me there".split()
)
#: Frequent words of German, French, Spanish, Portuguese and Italian that are not English words
#: ("die", "as", "a", "on", "son", "non" left out: English uses them too, "non-blocking").
_OTHER = frozenset(
    "der das ist wie warum nicht und ich ein eine mein meine wird werden kann können viele welche "
    "le la les est comment pourquoi je une des avec pour dans sur mon ne pas "
    "el los las es cómo como por qué porque para con una mi muy puedo "
    "não uma meu minha você são isso "
    "il di che sono perché della".split()
)
_CODE = re.compile(r"```.*?```|`[^`]*`|https?://\S+", re.S)
_WORD = re.compile(r"[^\W\d_]+", re.U)


def looks_non_english(text: str) -> bool:
    """True when ``text`` (code and URLs left out) is most likely not written in English."""
    prose = _CODE.sub(" ", text)
    letters = [c for c in prose if c.isalpha()]
    if len(letters) < 4:
        return False
    if sum(ord(c) > _LATIN_END for c in letters) / len(letters) > NON_LATIN_SHARE:
        return True
    words = [w.lower() for w in _WORD.findall(prose)]
    other = sum(w in _OTHER for w in words)
    return other >= 2 and other > sum(w in _ENGLISH for w in words)
