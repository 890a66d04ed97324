"""Regular expressions compiled when first used, not when their module is imported.

raybot's modules hold ~160 patterns for question shapes, pastes and opposites; a one-shot
``raybot ask`` uses about a third of them, and compiling the rest cost ~15 ms of every cold
start. :func:`lazy` returns an object that behaves as the compiled pattern: on first use it
compiles once and puts the pattern's own bound methods on itself, so later calls go straight
to the C implementation.
"""

from __future__ import annotations

import re
from typing import Any, cast

_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class LazyPattern:
    """Stands for ``re.compile(pattern, flags)`` until the first use."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def compiled(self) -> re.Pattern[str]:
        done = self.__dict__.get("_compiled")
        if done is not None:
            return done
        p = re.compile(*self._source)
        # Instance attributes win over the class's methods (set by _first_use below; functions are non-data
        # descriptors), so from now on `x.search` is the compiled pattern's own method.
        for name in _METHODS:
            self.__dict__[name] = getattr(p, name)
        self.__dict__["_compiled"] = p
        return p

    @property
    def pattern(self) -> str:
        return self._source[0]

    @property
    def flags(self) -> int:
        return self.compiled().flags

    @property
    def groups(self) -> int:
        return self.compiled().groups

    @property
    def groupindex(self) -> Any:
        return self.compiled().groupindex

    def __repr__(self) -> str:
        return f"lazy({self._source[0]!r}, {self._source[1]!r})"


def _first_use(name: str):
    """The method ``name`` of the class: compile, then call the compiled pattern's own method."""

    def method(self: LazyPattern, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.compiled(), name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name in _METHODS:
    setattr(LazyPattern, _name, _first_use(_name))


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, compiled on first use."""
    return cast("re.Pattern[str]", LazyPattern(pattern, flags))
