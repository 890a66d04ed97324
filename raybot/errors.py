"""Typed errors raised by the core and translated once, at the CLI boundary.

Each error carries a kebab-case ``reference`` (shown as ``error: <reference>``), a one-line
message, an optional hint, and the exit code the CLI should use.
"""

from __future__ import annotations

from raybot import exit_codes


class RaybotError(Exception):
    """Base class for every error a user can cause or fix."""

    reference = "raybot-error"
    exit_code = exit_codes.USAGE

    def __init__(self, message: str, hint: str | None = None, *, reference: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if reference is not None:
            self.reference = reference

    def to_dict(self) -> dict:
        """The ``error`` document of ``--json`` output and of the HTTP API's 4xx/5xx bodies."""
        return {"reference": self.reference, "message": self.message, "hint": self.hint, "exit_code": self.exit_code}


class UsageError(RaybotError):
    reference = "bad-input"
    exit_code = exit_codes.USAGE


class KBError(RaybotError):
    reference = "kb-invalid"
    exit_code = exit_codes.KB


class EntryNotFound(RaybotError):
    reference = "entry-not-found"
    exit_code = exit_codes.USAGE


class IndexUnusable(RaybotError):
    """The index is missing, corrupt, or built with another model."""

    reference = "index-unusable"
    exit_code = exit_codes.INDEX


class ModelError(RaybotError):
    reference = "model-unavailable"
    exit_code = exit_codes.INDEX


class ThreadNotFound(RaybotError):
    reference = "thread-not-found"
    exit_code = exit_codes.USAGE


class StoreError(RaybotError):
    reference = "thread-store-unusable"
    exit_code = exit_codes.STORE


class ClusterUnreachable(RaybotError):
    reference = "cluster-unreachable"
    exit_code = exit_codes.UNREACHABLE


class InternalError(RaybotError):
    """A bug in raybot: an exception no code path expected."""

    reference = "internal-error"
    exit_code = exit_codes.INTERNAL

    @classmethod
    def wrap(cls, exc: BaseException) -> InternalError:
        text = str(exc).splitlines()[0][:300] if str(exc) else ""
        return cls(
            f"raybot failed unexpectedly: {type(exc).__name__}" + (f": {text}" if text else ""),
            hint="this is a bug in raybot; run again with RAYBOT_DEBUG=1 for the traceback and report it",
        )
