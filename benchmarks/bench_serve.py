"""Benchmark: `raybot serve` under load on loopback (issue 12), in two bounded runs.

1. Open loop: requests start on a fixed schedule (``--rate`` per second for ``--duration`` s),
   whether or not earlier ones have finished, spread round-robin over ``--threads`` conversation
   threads. Each thread's first request starts it (POST /v1/threads); later ones are follow-ups
   (POST /v1/threads/ID/messages). Reports p50/p95/max latency per turn and errors.
   Target: no errors, p95 <= 150 ms on the project's 2-core machine.
2. Closed loop: ``--clients`` clients each send their next request as soon as the previous answer
   arrives, for ``--duration`` s. Reports answers/s and errors, beside the single-process warm
   rate (the same question mix answered one after another by an in-process Assistant).

The server is a real `raybot serve` process on a free 127.0.0.1 port with its own RAYBOT_HOME.

    python benchmarks/bench_serve.py                    # 20 req/s, 20 threads, 30 s; 20 clients
    python benchmarks/bench_serve.py --duration 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FOLLOW_UPS = ["yes, please", "why?", "show me a code example", "thanks", "and how do I set it on a running cluster?"]


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "dev_questions.jsonl").read_text().splitlines()]
    return [r["question"] for r in rows if r.get("question") and len(r["question"]) < 2000]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, RAYBOT_HOME=home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "raybot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"raybot serve exited: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("raybot serve did not start")


class Conversations:
    """Turn i of the mix: a new thread's first question, or a follow-up in that thread."""

    def __init__(self, n_threads: int, qs: list[str]):
        self.n = n_threads
        self.qs = qs
        self.ids: dict[int, str] = {}
        self.turn: dict[int, int] = {}
        self.locks = [asyncio.Lock() for _ in range(n_threads)]

    async def one(self, client: httpx.AsyncClient, url: str, i: int) -> tuple[float, str | None]:
        slot = i % self.n
        async with self.locks[slot]:  # a thread's turns arrive in order, as a user types them
            k = self.turn.get(slot, 0)
            self.turn[slot] = k + 1
            t0 = time.perf_counter()
            try:
                if slot not in self.ids or k % 6 == 0:  # every 6th turn: a new question, new thread
                    r = await client.post(url + "/v1/threads", json={"question": self.qs[(i * 7) % len(self.qs)]})
                    if r.status_code == 201:
                        self.ids[slot] = r.json()["thread_id"]
                else:
                    q = FOLLOW_UPS[k % len(FOLLOW_UPS)]
                    r = await client.post(f"{url}/v1/threads/{self.ids[slot]}/messages", json={"question": q})
                elapsed = time.perf_counter() - t0
                return elapsed, None if r.status_code in (200, 201) else f"{r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p * (len(values) - 1))))]


async def open_loop(url: str, rate: float, duration: float, n_threads: int, qs: list[str]) -> dict:
    conv = Conversations(n_threads, qs)
    limits = httpx.Limits(max_connections=n_threads * 2, max_keepalive_connections=n_threads * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        total = int(rate * duration)
        start = time.perf_counter() + 0.2
        tasks = []
        late = 0.0
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            tasks.append(asyncio.create_task(conv.one(client, url, i)))
        results = await asyncio.gather(*tasks)
    lat = [r[0] * 1000 for r in results]
    errors = [r[1] for r in results if r[1]]
    return {
        "requests": len(results),
        "rate_per_s": rate,
        "threads": n_threads,
        "duration_s": duration,
        "p50_ms": round(pct(lat, 0.50), 1),
        "p95_ms": round(pct(lat, 0.95), 1),
        "max_ms": round(max(lat), 1),
        "errors": len(errors),
        "error_examples": errors[:3],
        "schedule_slip_ms": round(late * 1000, 1),
    }


async def closed_loop(url: str, clients: int, duration: float, qs: list[str]) -> dict:
    conv = Conversations(clients, qs)
    counter = iter(range(10**9))
    lat: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        end = time.perf_counter() + duration

        async def worker(c: int) -> None:
            k = 0
            while time.perf_counter() < end:
                # each client owns one conversation slot, so its turns stay in order
                i = c + clients * k
                k += 1
                next(counter)
                elapsed, err = await conv.one(client, url, i)
                lat.append(elapsed * 1000)
                if err:
                    errors.append(err)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "duration_s": round(wall, 1),
        "answers": len(lat),
        "answers_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(pct(lat, 0.5), 1),
        "p95_ms": round(pct(lat, 0.95), 1),
        "errors": len(errors),
        "error_examples": errors[:3],
    }


def single_process_rate(qs: list[str], seconds: float, n_slots: int) -> dict:
    """The closed loop's request mix (round-robin over ``n_slots`` conversations, a new question
    every 6th turn of each) answered one after another by an in-process Assistant, warm."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from raybot.assistant import Assistant
    from raybot.service import enable_wal
    from raybot.threads import ThreadStore

    with tempfile.TemporaryDirectory() as tmp:
        store = ThreadStore(Path(tmp) / "threads.db")
        enable_wal(store)  # the server's store settings, so only the serving overhead differs
        assistant = Assistant(store=store)
        assistant.ask("warm up: what is ray::IDLE?")
        ids: dict[int, str] = {}
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            slot, k = n % n_slots, n // n_slots
            if slot not in ids or k % 6 == 0:
                ids[slot] = assistant.ask(qs[(n * 7) % len(qs)]).thread_id
            else:
                assistant.ask(FOLLOW_UPS[k % len(FOLLOW_UPS)], thread_id=ids[slot])
            n += 1
        wall = time.perf_counter() - t0
    return {"answers": n, "answers_per_s": round(n / wall, 1), "mean_ms": round(wall / n * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=20)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    qs = questions()
    with tempfile.TemporaryDirectory() as home:
        proc, url = start_server(home)
        try:
            asyncio.run(open_loop(url, args.rate, 2.0, args.threads, qs))  # warm the connections
            opened = asyncio.run(open_loop(url, args.rate, args.duration, args.threads, qs))
            closed = asyncio.run(closed_loop(url, args.clients, args.duration, qs))
        finally:
            proc.terminate()
            proc.wait(15)
    single = single_process_rate(qs, min(args.duration, 15.0), args.clients)
    result = {"open_loop": opened, "closed_loop": closed, "single_process_warm": single, "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    o, c = opened, closed
    print(
        f"open loop  {o['rate_per_s']:g} req/s over {o['threads']} threads for {o['duration_s']:g} s: "
        f"{o['requests']} requests, p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, max {o['max_ms']} ms, "
        f"errors {o['errors']}"
    )
    print(
        f"closed loop {c['clients']} clients for {c['duration_s']} s: {c['answers_per_s']} answers/s "
        f"(p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms), errors {c['errors']}; "
        f"single process warm: {single['answers_per_s']} answers/s ({single['mean_ms']} ms each)"
    )
    target = "met" if o["p95_ms"] <= 150 and not o["errors"] and not c["errors"] else "NOT met"
    print(f"target (no errors, open-loop p95 <= 150 ms): {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
