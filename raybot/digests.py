"""sha256 of files, remembered by their stat so that unchanged files are not hashed again.

Every answer checks that the index matches the kb (the sha256 of each of the ~300 entry files)
and that the index files are whole (the sha256 of ~16 MB). Hashing all of that cost ~20 ms of
each cold ``raybot ask``. Like git's index, :class:`Digests` keeps, per file, its size, mtime,
ctime and inode with the digest they were hashed at; a file whose stat is unchanged is not read
again. A file changed within the last two seconds is never remembered (its timestamps may not
have moved yet, the "racily clean" case), and ctime cannot be set back by a user, so an edit
that keeps size and mtime is still seen. The cache lives in :func:`raybot.paths.cache_dir`;
a cache that cannot be read or written is ignored: everything is then hashed, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import overload

CACHE_FILE = "digests.json"
CACHE_VERSION = 1
#: A file whose mtime or ctime is younger than this is hashed every time.
SETTLED_NS = 2_000_000_000
#: Files remembered at most (the oldest are dropped): test runs make many kb copies.
MAX_FILES = 4000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


class Digests:
    """Digests of files, read through a stat-keyed cache; call :meth:`save` when done."""

    def __init__(self, cache: Path | None) -> None:
        self.cache = cache
        self.files: dict[str, list] = {}
        self.changed = False
        if cache is None:
            return
        try:
            data = json.loads(cache.read_bytes())
            if data.get("version") == CACHE_VERSION and isinstance(data.get("files"), dict):
                self.files = data["files"]
        except (OSError, ValueError, AttributeError):
            pass  # no cache yet, or a damaged one: it is rewritten on save

    def _known(self, key: str, stamp: list[int]) -> str | None:
        rec = self.files.get(key)
        if isinstance(rec, list) and len(rec) == 6 and rec[:5] == stamp and isinstance(rec[5], str):
            return rec[5]
        return None

    def _remember(self, key: str, stamp: list[int], digest: str) -> None:
        if time.time_ns() - max(stamp[1], stamp[2]) < SETTLED_NS:
            return
        self.files[key] = [*stamp, digest]
        self.changed = True

    @overload
    def digest(self, path: Path) -> str: ...
    @overload
    def digest(self, path: Path, *, only_known: bool) -> str | None: ...

    def digest(self, path: Path, *, only_known: bool = False) -> str | None:
        """The sha256 of the file at ``path`` (``OSError`` if it cannot be read); with
        ``only_known``, the remembered digest or None, without reading the file."""
        key = os.path.abspath(path)
        known = self._known(key, _stamp(os.stat(key)))
        if known is not None or only_known:
            return known
        return self.read(path)[1]

    def read(self, path: Path) -> tuple[bytes, str]:
        """The bytes of the file at ``path`` and their sha256."""
        key = os.path.abspath(path)
        with open(key, "rb") as fh:
            stamp = _stamp(os.fstat(fh.fileno()))
            data = fh.read()
        known = self._known(key, stamp)
        if known is not None:
            return data, known
        digest = sha256(data)
        self._remember(key, stamp, digest)
        return data, digest

    def save(self) -> None:
        """Write the cache if a file was hashed and remembered; failures are ignored."""
        if self.cache is None or not self.changed:
            return
        files = self.files
        if len(files) > MAX_FILES:
            files = dict(list(files.items())[-MAX_FILES:])
        payload = json.dumps({"version": CACHE_VERSION, "files": files}, separators=(",", ":")).encode()
        tmp = self.cache.with_name(f".{self.cache.name}.{os.getpid()}")
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(payload)
            os.replace(tmp, self.cache)
            self.changed = False
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


def open_digests() -> Digests:
    """The digest cache of this user (none when the cache directory cannot be named)."""
    from raybot import paths
    from raybot.errors import UsageError

    try:
        return Digests(paths.cache_dir() / CACHE_FILE)
    except UsageError:
        return Digests(None)
