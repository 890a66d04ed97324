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


def _json_lines(path: Path, what: str, notes: list[str] | None = None):
    """``(line number, parsed object)`` for each non-blank line of a JSONL file; bytes that are not
    UTF-8 are replaced (with a note). A line that is not JSON is a usage error naming ``what``."""
    from raybot.textin import read_file

    try:
        lines = read_file(path, notes=notes).splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", reference="bad-input") from exc
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield i, json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{i}: not {what} ({exc})", reference="bad-input") from exc


def load_cases(path: Path, notes: list[str] | None = None) -> list[EvalCase]:
    """The questions of a JSONL file; bytes that are not UTF-8 are replaced (with a note)."""
    what = "a {question, expected} JSON object"
    cases = []
    for i, obj in _json_lines(path, what, notes):
        try:
            cases.append(EvalCase(str(obj["question"]), [str(x) for x in obj["expected"]], i))
        except (KeyError, TypeError) as exc:
            raise UsageError(f"{path}:{i}: not {what} ({exc})", reference="bad-input") from exc
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


# -- real-question sets (tests/data/real_questions.jsonl) --------------------------------------
CONF_BINS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
#: The splits of a real-question set, in report order (tests/data/README.md). ``dev``: read and
#: tuned on freely; ``calib``: fresh questions for fitting the confidence model only; ``heldout``:
#: frozen, reported as numbers only.
REAL_SPLITS = ("dev", "calib", "heldout")
#: Splits whose questions may be listed one by one (``raybot eval --misses``).
LISTABLE_SPLITS = ("dev", "calib")


@dataclass
class RealCase:
    """One labelled real question (format in tests/data/README.md)."""

    id: str
    split: str  #: dev | calib | heldout
    question: str
    theme: str
    label: str  #: answer | decline
    expected: list[str]
    facts: list[list[str]]  #: groups of alternatives; every group must appear in the answer
    line: int
    source: str = ""
    note: str = ""
    batch: int = 1  #: sampling batch within the split (held-out batch 2 was drawn at stop 16)

    @property
    def answerable(self) -> bool:
        return self.label == "answer" and bool(self.expected)


@dataclass
class Graded:
    case: RealCase
    outcome: str  #: correct | declined | wrong
    in_scope: bool
    entry: str | None
    confidence: float
    raw: float  #: uncalibrated score (what calibration is fitted on)
    top_right: bool  #: the best-ranked entry is one of the expected ones (before the bar)
    facts_missing: list[list[str]]
    kind: str
    hedged: bool = False  #: the answer opened with the not-sure line (confidence < tuning.HEDGE_BELOW)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "line": self.case.line,
            "split": self.case.split,
            "theme": self.case.theme,
            "label": self.case.label,
            "expected": self.case.expected,
            "outcome": self.outcome,
            "in_scope": self.in_scope,
            "entry": self.entry,
            "answer_kind": self.kind,
            "hedged": self.hedged,
            "confidence": round(self.confidence, 3),
            "raw": round(self.raw, 3),
            "facts_missing": self.facts_missing,
            "question": self.case.question[:160],
        }


@dataclass
class SplitReport:
    split: str
    n: int
    answerable: int  #: label answer with at least one expected entry
    no_entry: int  #: label answer, but the kb has no entry for it yet (declining is right)
    out_of_scope: int  #: label decline
    correct: int
    wrong: int  #: answered, but wrong entry or missing facts ("confidently wrong")
    declined_answerable: int
    declined_no_entry: int
    declined_out_of_scope: int
    hit_at_1: float  #: over answerable rows: the entry shown is an expected one
    top_right: int = 0  #: answerable rows whose would-be entry (before the decline bar) is expected
    #: of ``wrong`` and ``correct``: the answers that opened with the not-sure line (the hedge). Every
    #: wrong answer counts as confidently wrong, hedged or not; this says how many were flagged.
    wrong_hedged: int = 0
    correct_hedged: int = 0
    themes: dict[str, dict[str, int]] = field(default_factory=dict)
    calibration: list[dict[str, Any]] = field(default_factory=list)
    #: per sampling batch, when the split has more than one: n, answerable, correct, wrong,
    #: declined_answerable, top_right (so a later batch never hides how the first one moves)
    batches: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def wrong_rate(self) -> float:
        return self.wrong / self.n if self.n else 0.0

    @property
    def correct_rate(self) -> float:
        return self.correct / self.answerable if self.answerable else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["confidently_wrong_rate"] = round(self.wrong_rate, 4)
        d["correct_of_answerable"] = round(self.correct_rate, 4)
        d["hit_at_1"] = round(self.hit_at_1, 4)
        return d


def is_real_set(path: Path) -> bool:
    """A labelled real-question file has ``label`` fields; the curated sets do not."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    data = json.loads(line)
                    return isinstance(data, dict) and "label" in data
    except (OSError, ValueError):
        return False
    return False


def load_real(path: Path, notes: list[str] | None = None) -> list[RealCase]:
    what = "a labelled real question {id, split, question, label, expected, facts}"
    cases = []
    for i, o in _json_lines(path, what, notes):
        try:
            case = RealCase(
                id=str(o["id"]),
                split=str(o["split"]),
                question=str(o["question"]),
                theme=str(o.get("theme") or o.get("theme_hint") or "-"),
                label=str(o["label"]),
                expected=[str(x) for x in o.get("expected") or []],
                facts=[[str(a) for a in g] for g in o.get("facts") or []],
                line=i,
                source=str(o.get("source", "")),
                note=str(o.get("note", "")),
                batch=int(o.get("batch", 1)),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise UsageError(f"{path}:{i}: not {what} ({exc})", reference="bad-input") from exc
        if case.split not in REAL_SPLITS or case.label not in ("answer", "decline"):
            raise UsageError(
                f"{path}:{i}: split must be {'|'.join(REAL_SPLITS)} and label answer|decline", reference="bad-input"
            )
        cases.append(case)
    if not cases:
        raise UsageError(f"{path} has no questions", reference="bad-input")
    return cases


def grade(case: RealCase, ans) -> Graded:
    """correct: an answerable question, answered from an expected entry, with every key fact;
    declined: raybot said it does not cover it; wrong: anything else it answered."""
    judgement = getattr(ans, "judgement", None)
    raw = float(getattr(judgement, "raw", 0.0) or 0.0)
    # The entry raybot would answer from if there were no decline bar: the judged one, else the
    # best-ranked hit.
    first = getattr(judgement, "entry", None) or (ans.hits[0]["id"] if ans.hits else ans.topic)
    text = ans.answer.lower()
    missing = [g for g in case.facts if not any(alt.lower() in text for alt in g)]
    if not ans.in_scope:
        outcome = "declined"
    elif case.answerable and ans.topic in case.expected and not missing:
        outcome = "correct"
    else:
        outcome = "wrong"
    return Graded(
        case,
        outcome,
        ans.in_scope,
        ans.topic if ans.in_scope else None,
        float(ans.confidence),
        raw,
        bool(first and first in case.expected),
        missing if ans.in_scope else [],
        getattr(ans, "kind", "entry"),
        bool(ans.hedge()) if hasattr(ans, "hedge") else False,
    )


def run_real(cases: list[RealCase], assistant) -> list[Graded]:
    return [grade(c, assistant.ask(c.question)) for c in cases]


def calibration_table(graded: list[Graded], bins: tuple[float, ...] = CONF_BINS) -> list[dict[str, Any]]:
    """Confidence bins -> how many questions and how many of them were answered correctly."""
    rows = []
    for lo, hi in zip(bins, bins[1:], strict=False):
        inside = [g for g in graded if lo <= g.confidence < hi]
        if not inside:
            continue
        ok = sum(g.outcome == "correct" for g in inside)
        rows.append(
            {
                "bin": f"{lo:.1f}-{min(hi, 1.0):.1f}",
                "n": len(inside),
                "answered": sum(g.in_scope for g in inside),
                "correct": ok,
                "accuracy": round(ok / len(inside), 3),
                "mean_confidence": round(sum(g.confidence for g in inside) / len(inside), 3),
            }
        )
    return rows


def misses(graded: list[Graded]) -> list[dict[str, Any]]:
    """The graded questions that were not answered correctly, from the listable splits only:
    held-out questions are never listed one by one."""
    return [g.to_dict() for g in graded if g.case.split in LISTABLE_SPLITS and g.outcome != "correct"]


def report(graded: list[Graded], split: str) -> SplitReport:
    gs = [g for g in graded if g.case.split == split] if split != "all" else list(graded)
    ans = [g for g in gs if g.case.answerable]
    themes: dict[str, dict[str, int]] = {}
    for g in gs:
        t = themes.setdefault(g.case.theme, {"n": 0, "answerable": 0, "correct": 0, "declined": 0, "wrong": 0})
        t["n"] += 1
        t["answerable"] += g.case.answerable
        t[g.outcome] += 1
    batches: dict[str, dict[str, int]] = {}
    if len({g.case.batch for g in gs}) > 1:
        for g in gs:
            b = batches.setdefault(
                str(g.case.batch),
                {"n": 0, "answerable": 0, "correct": 0, "wrong": 0, "declined_answerable": 0, "top_right": 0},
            )
            b["n"] += 1
            b["answerable"] += g.case.answerable
            b["correct"] += g.outcome == "correct"
            b["wrong"] += g.outcome == "wrong"
            b["declined_answerable"] += g.outcome == "declined" and g.case.answerable
            b["top_right"] += g.case.answerable and g.top_right
    return SplitReport(
        split=split,
        batches=dict(sorted(batches.items())),
        n=len(gs),
        answerable=len(ans),
        no_entry=sum(1 for g in gs if g.case.label == "answer" and not g.case.expected),
        out_of_scope=sum(1 for g in gs if g.case.label == "decline"),
        correct=sum(g.outcome == "correct" for g in gs),
        wrong=sum(g.outcome == "wrong" for g in gs),
        declined_answerable=sum(g.outcome == "declined" and g.case.answerable for g in gs),
        declined_no_entry=sum(g.outcome == "declined" and g.case.label == "answer" and not g.case.expected for g in gs),
        declined_out_of_scope=sum(g.outcome == "declined" and g.case.label == "decline" for g in gs),
        hit_at_1=(sum(1 for g in ans if g.in_scope and g.entry in g.case.expected) / len(ans)) if ans else 0.0,
        top_right=sum(g.top_right for g in ans),
        wrong_hedged=sum(g.outcome == "wrong" and g.hedged for g in gs),
        correct_hedged=sum(g.outcome == "correct" and g.hedged for g in gs),
        themes=dict(sorted(themes.items())),
        calibration=calibration_table(gs),
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

    The cold pair is measured twice: as installed (bytecode cached, ``cold_ask_*``) and in this
    process's own environment (``environment_*``; without bytecode when it sets
    ``PYTHONDONTWRITEBYTECODE``, as CI does).

    ``env`` is the child processes' environment (the caller gives them a temporary
    ``RAYBOT_HOME``, so benchmark questions never land in the user's threads)."""
    env = dict(os.environ) if env is None else env
    q = question or "Why are my ray::IDLE processes not releasing memory?"
    base_cmd = [sys.executable, "-c", "import numpy, faiss"]
    ask_cmd = [sys.executable, "-m", "raybot", "ask", "--json", q]

    def pairs(child_env: dict[str, str]) -> tuple[list[float], list[float], list[int]]:
        baseline, cold, rss = [], [], []
        for _ in range(cold_runs):
            t, _, _ = _run_measured(base_cmd, child_env)
            baseline.append(t)
            t, mb, code = _run_measured(ask_cmd, child_env)
            if code != 0:
                raise UsageError(f"`raybot ask` exited {code} during the benchmark", reference="bench-failed")
            cold.append(t)
            rss.append(mb)
        return baseline, cold, rss

    # As installed: pip writes bytecode for every module it installs, and Python caches it for a
    # source checkout on first use. The children keep theirs under a prefix in the benchmark's
    # home (one untimed run each writes it), so nothing is written into the install or the repo.
    installed = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    installed["PYTHONPYCACHEPREFIX"] = os.path.join(env.get("RAYBOT_HOME") or ".", "pycache")
    for cmd in (base_cmd, ask_cmd):
        _run_measured(cmd, installed)
    baseline, cold, rss = pairs(installed)
    # As this environment runs it (CI sets PYTHONDONTWRITEBYTECODE=1, so raybot's own modules
    # are compiled from source by every process while numpy's and faiss's come from bytecode).
    plain_base, plain_cold, plain_rss = pairs(env)
    assistant.ask(q)  # load the index and the model once
    lat = []
    for case in cases:
        start = time.perf_counter()
        assistant.ask(case.question)
        lat.append((time.perf_counter() - start) * 1000)
    lat.sort()
    base, plain = statistics.median(baseline), statistics.median(plain_base)
    return {
        "baseline_import_numpy_faiss_s": round(base, 3),
        "cold_ask_s": round(statistics.median(cold), 3),
        "cold_ask_ratio": round(statistics.median(cold) / base, 2),
        "cold_ask_peak_rss_mb": max(rss + plain_rss),
        "environment_bytecode": "off" if env.get("PYTHONDONTWRITEBYTECODE") else "on",
        "environment_baseline_s": round(plain, 3),
        "environment_cold_ask_s": round(statistics.median(plain_cold), 3),
        "environment_cold_ask_ratio": round(statistics.median(plain_cold) / plain, 2),
        "warm_p50_ms": round(lat[len(lat) // 2], 1),
        "warm_p95_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 1),
        "warm_questions": len(lat),
        "cold_runs": cold_runs,
    }
