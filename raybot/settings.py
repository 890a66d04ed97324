"""Settings given on the command line (``--home``, ``--kb-dir``, ``--index-dir``, ``--model``).

The CLI's root callback puts them here with :func:`use`; :mod:`raybot.paths` and
:func:`raybot.embed.resolve_model` read them before the ``RAYBOT_*`` environment variables.
Nothing is written to ``os.environ``: a library caller or a child process sees only what it
is given. The value lives in a :class:`contextvars.ContextVar`, so a thread or task that sets
its own settings does not change anyone else's.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    home: str | None = None
    kb_dir: str | None = None
    index_dir: str | None = None
    model: str | None = None

    def as_env(self) -> dict[str, str]:
        """The same settings as ``RAYBOT_*`` variables, for a child process's environment."""
        pairs = {
            "RAYBOT_HOME": self.home,
            "RAYBOT_KB": self.kb_dir,
            "RAYBOT_INDEX": self.index_dir,
            "RAYBOT_MODEL": self.model,
        }
        return {k: v for k, v in pairs.items() if v}


_DEFAULT = Settings()  # frozen, so sharing it as the default is safe
_CURRENT: contextvars.ContextVar[Settings] = contextvars.ContextVar("raybot_settings", default=_DEFAULT)


def current() -> Settings:
    return _CURRENT.get()


def use(settings: Settings) -> contextvars.Token[Settings]:
    """Make ``settings`` current (until :func:`reset` with the returned token)."""
    return _CURRENT.set(settings)


def reset(token: contextvars.Token[Settings]) -> None:
    _CURRENT.reset(token)
