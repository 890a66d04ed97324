"""``raybot serve``: the HTTP API over the assistant (an ASGI app built with FastAPI).

One schema with the CLI: an answer is exactly the ``raybot ask --json`` document and a thread
exactly the ``raybot threads show ID --json`` document, built by the same functions
(:mod:`raybot.service`). Errors are ``{"error": {reference, message, hint, exit_code}}`` with the
CLI's references. The OpenAPI document is served at ``/openapi.json``.

The same app runs under uvicorn (``raybot serve``) and as a Ray Serve deployment
(:mod:`raybot.serve`). Importing this module imports FastAPI: the CLI imports it only for
``raybot serve``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from raybot import __version__
from raybot.errors import ClusterUnreachable, IndexUnusable, RaybotError, StoreError, ThreadNotFound

#: Request bodies larger than this are refused with 413 before they are parsed.
MAX_BODY_BYTES = 64 * 1024
MAX_QUESTION_CHARS = 20_000


# -- the documented schema (for /openapi.json; responses are the CLI's own documents) ----------
class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="The question or follow-up.")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str = Field(description="The thread the answer belongs to.")
    seq: int = Field(ge=1, description="The turn number (`seq` in the thread document).")
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)
    voter: str | None = Field(
        default=None, max_length=200, description="Who votes (hashed before it is stored; one vote per voter and turn)."
    )


class Source(BaseModel):
    title: str
    url: str


class AnswerDoc(BaseModel):
    """Exactly what `raybot ask --json` prints."""

    thread_id: str | None = Field(description="null when the turn could not be saved (`saved` is false).")
    saved: bool
    question: str
    answer: str = Field(description="Markdown.")
    in_scope: bool
    confidence: float
    entries: list[str]
    sources: list[Source]
    follow_ups: list[str]
    intent: str
    answer_kind: str = Field(
        description="How the answer was made: entry, short-answer, signature, partial, decline, unknown-message, "
        "issue-list; clarify, nothing-pending or thanks for a reply that looked nothing up"
    )
    notes: list[str]
    hedge: str | None = Field(
        default=None,
        description="null, or the one line an answer less sure than 0.7 (tuning.HEDGE_BELOW) carries: "
        "how often answers that sure were right on real questions",
    )


class TurnDoc(BaseModel):
    question: str
    answer: str
    intent: str
    in_scope: bool
    confidence: float
    topic: str | None
    entries: list[str]
    sections: dict[str, list[str]]
    offer: dict[str, str] | None
    seq: int
    created_at: float


class ThreadDoc(BaseModel):
    """Exactly what `raybot threads show ID --json` prints."""

    id: str
    title: str
    created_at: float
    updated_at: float
    turns: list[TurnDoc]


class ThreadSummaryDoc(BaseModel):
    """One element of `raybot threads list --json` (`turns` is the number of turns)."""

    id: str
    title: str
    created_at: float
    updated_at: float
    turns: int


class SearchHitDoc(BaseModel):
    """One element of `raybot threads search TEXT --json`."""

    thread_id: str
    seq: int
    snippet: str


class ErrorBody(BaseModel):
    reference: str = Field(description="The same kebab-case reference the CLI prints as `error: <reference>`.")
    message: str
    hint: str | None
    exit_code: int = Field(description="The exit code the CLI would use.")


class ErrorDoc(BaseModel):
    error: ErrorBody


class FeedbackDoc(BaseModel):
    thread_id: str
    seq: int
    rating: str
    source: str
    created_at: float
    question: str
    answer: str
    comment: str | None


# -- errors -------------------------------------------------------------------------------------
def error_response(status: int, reference: str, message: str, hint: str | None = None, exit_code: int = 2):
    body = {"error": {"reference": reference, "message": message, "hint": hint, "exit_code": exit_code}}
    return JSONResponse(body, status_code=status)


def status_of(exc: RaybotError) -> int:
    if isinstance(exc, ThreadNotFound) or exc.reference in ("turn-not-found",):
        return 404
    if exc.reference == "diagnose-disabled":
        return 403
    if isinstance(exc, (StoreError, IndexUnusable, ClusterUnreachable)):
        return 503
    return 400


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDoc, "description": "Bad input (the CLI's error reference)."}
}
_ERRORS_404: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"model": ErrorDoc, "description": "No such thread or turn."},
}


class BodyLimit:
    """ASGI middleware: read at most ``limit`` bytes of a request body, else answer 413.

    The body is read here (Content-Length is checked first, then the bytes actually received)
    and replayed to the app, so no route ever sees an oversized body.
    """

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        too_big = False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
        chunks: list[bytes] = []
        size = 0
        if not too_big:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    too_big = True
                    break
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if too_big:
            resp = error_response(
                413,
                "body-too-large",
                f"the request body is larger than {self.limit} bytes",
                hint="send one question at a time; paste only the relevant part of a log or traceback",
            )
            return await resp(scope, receive, send)
        body = b"".join(chunks)
        sent = False
        # Every body this API accepts is JSON: read it as JSON whatever the Content-Type says, so
        # that a plain `curl -d '{...}'` (form-encoded by default) works.
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
        scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def create_app(*, allow_diagnose: bool | None = None, max_body: int = MAX_BODY_BYTES, service=None) -> FastAPI:
    """Build the ASGI app. ``service`` defaults to this process's :func:`raybot.service.get_service`."""
    import os
    from contextlib import asynccontextmanager

    from raybot.service import get_service

    if allow_diagnose is None:
        allow_diagnose = os.environ.get("RAYBOT_ALLOW_DIAGNOSE", "") in ("1", "true", "yes")

    def svc():
        s = service or get_service()
        s.allow_diagnose = allow_diagnose
        return s

    @asynccontextmanager
    async def lifespan(_app):
        await svc().acall(svc().warm)  # index and model load once, before the first request
        yield

    app = FastAPI(
        title="raybot",
        version=__version__,
        summary="Offline, cited answers to Ray troubleshooting questions, in threads.",
        description=(
            "Answers are the documents `raybot ask --json` prints; threads are `raybot threads show ID --json`. "
            "Errors carry the CLI's error references."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=max_body)

    @app.exception_handler(RaybotError)
    async def _raybot_error(_request: Request, exc: RaybotError):
        return JSONResponse({"error": exc.to_dict()}, status_code=status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return error_response(
                400, "bad-json", "the request body is not valid JSON", hint='send e.g. {"question": "..."}'
            )
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        if where == "question" and first.get("type") == "string_too_short":
            # The same reference as the CLI's and as a question of spaces only.
            return error_response(
                400,
                "empty-question",
                "the question is empty",
                hint='send e.g. {"question": "why is ray::IDLE using memory?"}',
            )
        return error_response(
            400,
            "bad-request-body",
            f"{where}: {first.get('msg', 'invalid')}",
            hint='send a JSON object such as {"question": "why is ray::IDLE using memory?"}',
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        ref = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return error_response(exc.status_code, ref, str(exc.detail), hint="see /openapi.json for the endpoints")

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception):
        return error_response(500, "internal-error", f"{type(exc).__name__} while answering", exit_code=1)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Liveness and what this process loaded (the index and model load once per process)."""
        return await svc().acall(svc().health)

    @app.post(
        "/v1/threads",
        status_code=201,
        response_model=None,
        responses={201: {"model": AnswerDoc, "description": "The `raybot ask --json` document."}, **_ERRORS},
        tags=["threads"],
    )
    async def new_thread(body: QuestionIn) -> JSONResponse:
        """Start a thread with its first question."""
        doc = await svc().acall(svc().ask_doc, body.question)
        return JSONResponse(doc, status_code=201)

    @app.post(
        "/v1/threads/{thread_id}/messages",
        response_model=None,
        responses={200: {"model": AnswerDoc, "description": "The `raybot ask --json` document."}, **_ERRORS_404},
        tags=["threads"],
    )
    async def add_message(thread_id: str, body: QuestionIn) -> JSONResponse:
        """Continue a thread: follow-ups such as "yes, please" use what the thread offered."""
        return JSONResponse(await svc().acall(svc().ask_doc, body.question, thread_id, must_exist=True))

    @app.get(
        "/v1/threads/{thread_id}",
        response_model=None,
        responses={200: {"model": ThreadDoc, "description": "`raybot threads show ID --json`."}, **_ERRORS_404},
        tags=["threads"],
    )
    async def get_thread(thread_id: str) -> JSONResponse:
        """Every turn of a thread."""
        return JSONResponse(await svc().acall(svc().thread_doc, thread_id))

    @app.get(
        "/v1/threads",
        response_model=None,
        responses={
            200: {
                "model": list[ThreadSummaryDoc] | list[SearchHitDoc],
                "description": "`raybot threads list --json`, or with `q` `raybot threads search TEXT --json`.",
            },
            **_ERRORS,
        },
        tags=["threads"],
    )
    async def list_threads(
        q: str | None = Query(default=None, max_length=500, description="Full-text search over questions and answers."),
        limit: int = Query(default=20, ge=1, le=200),
    ) -> JSONResponse:
        """Recent threads, newest first, or a full-text search of them."""
        if q is not None:
            return JSONResponse(await svc().acall(svc().search_doc, q, limit))
        return JSONResponse(await svc().acall(svc().list_doc, limit))

    @app.post(
        "/v1/feedback",
        status_code=201,
        response_model=None,
        responses={201: {"model": FeedbackDoc}, **_ERRORS_404},
        tags=["feedback"],
    )
    async def feedback(body: FeedbackIn, request: Request) -> JSONResponse:
        """👍 / 👎 on one answer; a 👎 is also recorded for `raybot gaps`."""
        from raybot.records import voter_hash

        who = body.voter or (request.client.host if request.client else "anonymous")
        fb = await svc().acall(
            svc().feedback,
            body.thread_id,
            body.seq,
            body.rating,
            source="http",
            voter=voter_hash("http", who),
            comment=body.comment,
        )
        return JSONResponse(fb.to_dict(), status_code=201)

    @app.post(
        "/v1/diagnose",
        response_model=None,
        responses={
            200: {"description": "`raybot diagnose --json` of the server's own cluster, with `thread_id`."},
            403: {"model": ErrorDoc, "description": "Not enabled (`raybot serve --allow-diagnose`)."},
            503: {"model": ErrorDoc, "description": "The cluster could not be inspected."},
        },
        tags=["diagnose"],
    )
    async def diagnose() -> JSONResponse:
        """Diagnose the Ray cluster the server runs on (off unless the operator enabled it)."""
        import asyncio

        return JSONResponse(await asyncio.to_thread(svc().diagnose_doc))

    return app


def openapi_json(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2)
