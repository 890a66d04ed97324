"""Local stand-ins for Slack, on 127.0.0.1 only: the Web API over HTTP and the Socket Mode WebSocket.

``WebAPI`` answers ``auth.test``, ``apps.connections.open`` (returning the ``ws://`` URL of a
``SocketModeServer``), ``chat.postMessage`` and ``chat.postEphemeral``, and records every call with
the token it carried. ``SocketModeServer`` accepts the bot's WebSocket connection, says ``hello``,
pushes envelopes the test hands it, and records the acks (``{"envelope_id": ...}``) it receives.
This is how the real slack-bolt / slack-sdk client code is exercised without any network.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
TEAM, BOT_USER, BOT_ID = "T0TEST", "UBOT0001", "BBOT0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebAPI:
    def __init__(self, ws_url: str):
        self.ws_url = ws_url
        self.calls: list[dict] = []
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if "json" in (self.headers.get("content-type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                auth = self.headers.get("authorization", "")
                method = self.path.rsplit("/", 1)[-1].split("?")[0]
                body = api.handle(method, args, auth.removeprefix("Bearer "))
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, method: str, args: dict, token: str) -> dict:
        with self._lock:
            self.calls.append({"method": method, "args": args, "token": token, "at": time.time()})
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.ws_url}
        if token != BOT_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {
                "ok": True,
                "team": "test",
                "team_id": TEAM,
                "user": "raybot",
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            }
        if method == "chat.postMessage":
            ts = f"1800000000.{next(self._ts):06d}"
            return {
                "ok": True,
                "channel": args.get("channel"),
                "ts": ts,
                "message": {"ts": ts, "text": args.get("text")},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1800000000.{next(self._ts):06d}"}
        return {"ok": False, "error": "unknown_method"}

    def posts(self) -> list[dict]:
        with self._lock:
            return [c for c in self.calls if c["method"] == "chat.postMessage"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SocketModeServer:
    def __init__(self):
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/link"
        self.acks: dict[str, float] = {}
        self.sent_at: dict[str, float] = {}
        self.connected = threading.Event()
        self._conn = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        import websockets

        self._stop = self._loop.create_future()
        async with websockets.serve(self._handler, "127.0.0.1", self.port):
            self._ready.set()
            await self._stop

    async def _handler(self, ws) -> None:
        self._conn = ws
        await ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "standin"}}))
        self.connected.set()
        try:
            async for message in ws:
                data = json.loads(message)
                if "envelope_id" in data:
                    self.acks.setdefault(data["envelope_id"], time.time())
        except Exception:
            pass

    def push(self, envelope: dict) -> None:
        """Send one Socket Mode envelope to the connected bot."""
        assert self.connected.wait(15), "the bot never connected"
        self.sent_at[envelope["envelope_id"]] = time.time()
        fut = asyncio.run_coroutine_threadsafe(self._conn.send(json.dumps(envelope)), self._loop)
        fut.result(5)

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> float:
        end = time.time() + timeout
        while time.time() < end:
            if envelope_id in self.acks:
                return self.acks[envelope_id] - self.sent_at[envelope_id]
            time.sleep(0.01)
        raise AssertionError(f"no ack for {envelope_id}")

    def close(self) -> None:
        def stop():
            if self._stop and not self._stop.done():
                self._stop.set_result(None)

        self._loop.call_soon_threadsafe(stop)
        self.thread.join(5)


_counter = itertools.count(1)


def event_envelope(event: dict, *, event_id: str | None = None, retry_attempt: int = 0) -> dict:
    n = next(_counter)
    event_id = event_id or f"Ev{n:06d}"
    return {
        "envelope_id": f"env-{n}-{retry_attempt}",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry_attempt,
        "retry_reason": "timeout" if retry_attempt else "",
        "payload": {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0TEST",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
        },
    }


def action_envelope(action_id: str, value: str, *, user: str, channel: str, message_ts: str, thread_ts: str) -> dict:
    n = next(_counter)
    return {
        "envelope_id": f"env-act-{n}",
        "type": "interactive",
        "accepts_response_payload": False,
        "payload": {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "test"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0TEST",
            "token": "legacy-verification-token",
            "trigger_id": f"trigger-{n}",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel, "name": "help"},
            "message": {"type": "message", "ts": message_ts, "thread_ts": thread_ts, "text": "answer"},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "raybot_feedback",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        },
    }
