"""Retrieval-quality and speed measurements (library side of ``raybot eval`` / ``raybot bench``).

Metrics, in the spirit of ray-project/llm-applications' retrieval_score:

* hit@1: the entry the answer is built on is one of the expected ids;
* hit@3: an expected id is among the first three ranked entries;
* MRR: mean of 1/rank of the first expected id (0 if not in the top 10);
* abstention accuracy: ``in_scope`` is false exactly for questions whose ``expected`` is [].
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raybot.errors import UsageError


@dataclass
class EvalCase:
    question: str
    expected: list[str]
    line: int


@dataclass
class EvalResult:
    n: int
    in_scope_n: int
    out_scope_n: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    abstention_accuracy: float
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_cases(path: Path, notes: list[str] | None = None) -> list[EvalCase]:
    """The questions of a JSONL file; bytes that are not UTF-8 are replaced (with a note)."""
    from raybot.textin import read_file

    try:
        lines = read_file(path, notes=notes).splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", reference="bad-input") from exc
    cases = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cases.append(EvalCase(str(obj["question"]), [str(x) for x in obj["expected"]], i))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{path}:{i}: not a {{question, expected}} JSON object ({exc})", reference="bad-input"
            ) from exc
    if not cases:
        raise UsageError(f"{path} has no questions", reference="bad-input")
    return cases


def ranking(answer) -> list[str]:
    ranked = [answer.topic] if answer.topic else []
    ranked += [h["id"] for h in answer.hits]
    return list(dict.fromkeys(ranked))


def evaluate(cases: list[EvalCase], assistant) -> EvalResult:
    hit1 = hit3 = rr = 0.0
    abst_ok = 0
    n_in = 0
    misses = []
    for case in cases:
        ans = assistant.ask(case.question)
        ranked = ranking(ans)
        if case.expected:
            n_in += 1
            first = ans.topic if ans.in_scope else None
            h1 = first in case.expected
            h3 = any(e in case.expected for e in ranked[:3])
            rank = next((i + 1 for i, e in enumerate(ranked[:10]) if e in case.expected), None)
            hit1 += h1
            hit3 += h3
            rr += 1.0 / rank if rank else 0.0
            abst_ok += ans.in_scope
            if not (h1 and ans.in_scope):
                misses.append(
                    {
                        "line": case.line,
                        "question": case.question[:120],
                        "expected": case.expected,
                        "got": ranked[:3],
                        "in_scope": ans.in_scope,
                        "confidence": round(ans.confidence, 3),
                    }
                )
        else:
            abst_ok += not ans.in_scope
            if ans.in_scope:
                misses.append(
                    {
                        "line": case.line,
                        "question": case.question[:120],
                        "expected": [],
                        "got": ranked[:3],
                        "in_scope": True,
                        "confidence": round(ans.confidence, 3),
                    }
                )
    n = len(cases)
    return EvalResult(
        n=n,
        in_scope_n=n_in,
        out_scope_n=n - n_in,
        hit_at_1=hit1 / n_in if n_in else 0.0,
        hit_at_3=hit3 / n_in if n_in else 0.0,
        mrr=rr / n_in if n_in else 0.0,
        abstention_accuracy=abst_ok / n,
        misses=misses,
    )


def _run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in MB and exit code of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, int(usage.ru_maxrss / 1024), proc.returncode


def bench(
    cases: list[EvalCase],
    assistant,
    *,
    cold_runs: int = 5,
    question: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Cold one-shot ``raybot ask`` vs ``python -c 'import numpy, faiss'``, and warm latency.

    ``env`` is the child processes' environment (the caller gives them a temporary
    ``RAYBOT_HOME``, so benchmark questions never land in the user's threads)."""
    env = dict(os.environ) if env is None else env
    q = question or "Why are my ray::IDLE processes not releasing memory?"
    baseline, cold, rss = [], [], []
    for _ in range(cold_runs):
        t, _, _ = _run_measured([sys.executable, "-c", "import numpy, faiss"], env)
        baseline.append(t)
        t, mb, code = _run_measured([sys.executable, "-m", "raybot", "ask", "--json", q], env)
        if code != 0:
            raise UsageError(f"`raybot ask` exited {code} during the benchmark", reference="bench-failed")
        cold.append(t)
        rss.append(mb)
    assistant.ask(q)  # load the index and the model once
    lat = []
    for case in cases:
        start = time.perf_counter()
        assistant.ask(case.question)
        lat.append((time.perf_counter() - start) * 1000)
    lat.sort()
    base = statistics.median(baseline)
    return {
        "baseline_import_numpy_faiss_s": round(base, 3),
        "cold_ask_s": round(statistics.median(cold), 3),
        "cold_ask_ratio": round(statistics.median(cold) / base, 2),
        "cold_ask_peak_rss_mb": max(rss),
        "warm_p50_ms": round(lat[len(lat) // 2], 1),
        "warm_p95_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 1),
        "warm_questions": len(lat),
        "cold_runs": cold_runs,
    }
