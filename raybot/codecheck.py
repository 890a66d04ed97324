"""Static checks of code and config a user pastes into a question (pure functions).

Each rule looks for one pattern the knowledge base explains, and returns a
:class:`CodeFinding` that points at the entry with the fix. Python is read with ``ast``
when it parses; shell, YAML and JSON snippets are read with regular expressions.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import asdict, dataclass

from raybot import ray_defaults
from raybot.lazyre import lazy

DEFAULT_INTERVAL_MS = ray_defaults.KILL_IDLE_WORKERS_INTERVAL_MS
DEFAULT_THRESHOLD_MS = ray_defaults.IDLE_WORKER_KILLING_TIME_THRESHOLD_MS


@dataclass(frozen=True)
class CodeFinding:
    rule: str
    line: int
    message: str
    fix: str
    entry: str

    def to_dict(self) -> dict:
        return asdict(self)


def extract_code(text: str) -> str:
    """Fenced blocks if any, else the lines that look like code."""
    fenced = re.findall(r"```[^\n]*\n(.*?)(?:```|$)", text, re.S)
    if fenced:
        return "\n".join(fenced)
    return text


MAX_CODE_CHARS = 50_000  #: longer pastes are checked up to here (a forum paste is far shorter)
MAX_CODE_LINES = 2_000
MAX_NESTING = 100  #: brackets/operators nested deeper than this are not parsed (the parser recurses)


class CodeTooComplex(ValueError):
    """The snippet is too large or too deeply nested to parse safely."""


def parse_bounded(code: str) -> ast.AST:
    """``ast.parse`` that never raises anything but ``SyntaxError`` or :class:`CodeTooComplex`.

    CPython's parser recurses: a 3,000-level attribute chain raises ``RecursionError``, a long
    run of unary minus signs ``MemoryError``, a NUL byte ``ValueError``. Input beyond the size
    and nesting bounds is refused before parsing; what the parser still raises is caught.
    """
    if len(code) > MAX_CODE_CHARS or code.count("\n") >= MAX_CODE_LINES:
        raise CodeTooComplex("the snippet is too long to parse")
    if _nesting(code) > MAX_NESTING:
        raise CodeTooComplex("the snippet is nested too deeply to parse")
    try:
        # A user's snippet must not print the parser's own warnings ("<unknown>:1: SyntaxWarning:
        # invalid decimal literal") to the user's terminal.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except SyntaxError:
        raise
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise CodeTooComplex(f"the parser gave up ({type(exc).__name__})") from exc


_RUN_RE = lazy(r"(?:[-+~]\s*){2,}|(?:\.\s*\w+\s*){2,}|(?:\bnot\s+){2,}|(?:\*\*\s*\w+\s*){2,}")


def _nesting(code: str) -> int:
    """A cheap upper bound on parser recursion: open brackets, and runs of prefix operators,
    attribute accesses or powers (each level is a parser frame)."""
    depth = worst = 0
    for ch in code:
        if ch in "([{":
            depth += 1
            worst = max(worst, depth)
        elif ch in ")]}":
            depth = max(0, depth - 1)
    runs = max((len(m.group(0)) // 2 for m in _RUN_RE.finditer(code)), default=0)
    return max(worst, runs)


def _parse_python(code: str) -> ast.AST | None:
    """Parse a forum paste: decorators that lost their '@', prose lines between the code.

    On a syntax error at an unindented line, that line is treated as prose and dropped
    (blanked, so line numbers stay right), then parsing is tried again.
    """
    code = re.sub(r"^(\s*)(ray\.remote|serve\.deployment)\b", r"\1@\2", code, flags=re.M)
    lines = code.splitlines()
    for _ in range(40):
        try:
            return parse_bounded("\n".join(lines))
        except CodeTooComplex:
            return None
        except SyntaxError as exc:
            n = (exc.lineno or 0) - 1
            if not 0 <= n < len(lines):
                return None
            if lines[n][:1].isspace() or not lines[n].strip():
                # An indented line: the prose is probably the line that opened the block.
                prev = next((k for k in range(n - 1, -1, -1) if lines[k].strip()), None)
                if prev is None or lines[prev][:1].isspace():
                    return None
                n = prev
            lines[n] = ""
    return None


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _remote_options(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.AST] | None:
    for dec in fn.decorator_list:
        if _call_name(dec) in ("ray.remote", "remote") and isinstance(dec, ast.Call):
            return {kw.arg: kw.value for kw in dec.keywords if kw.arg}
        if _call_name(dec) in ("ray.remote", "remote"):
            return {}
    return None


def check_python(code: str) -> list[CodeFinding]:
    tree = _parse_python(code)
    findings: list[CodeFinding] = []
    if tree is None:
        return findings
    classes_with_put: set[str] = set()
    owner_puts: set[str] = set()  # functions/classes whose ray.put passes _owner=
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(
                isinstance(n, ast.Call) and _call_name(n) == "ray.put" and any(kw.arg == "_owner" for kw in n.keywords)
                for n in ast.walk(node)
            ):
                owner_puts.add(node.name)
        if isinstance(node, ast.Call) and _call_name(node) == "ray.put":
            if any(kw.arg == "_owner" for kw in node.keywords):
                findings.append(
                    CodeFinding(
                        "put-owner",
                        node.lineno,
                        "`ray.put(..., _owner=...)` was an experimental argument and was removed in Ray 2.56: "
                        "on Ray 2.56 and later this line raises ValueError.",
                        "Let a long-lived actor create the object itself (its `ray.put` makes it the owner), "
                        "or return the value from the task so the caller owns it.",
                        "ray-put-owner-argument",
                    )
                )
        if isinstance(node, ast.ClassDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and _call_name(sub) == "ray.put":
                    classes_with_put.add(node.name)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        opts = _remote_options(node)
        if opts is None:
            continue
        max_calls = opts.get("max_calls")
        calls = {_call_name(n) for n in ast.walk(node) if isinstance(n, ast.Call)}
        puts_here = "ray.put" in calls or bool(calls & classes_with_put)
        if isinstance(max_calls, ast.Constant) and isinstance(max_calls.value, int) and max_calls.value > 0:
            uses_owner = node.name in owner_puts or bool(calls & owner_puts)
            if puts_here and uses_owner:
                findings.append(
                    CodeFinding(
                        "max-calls-put-owner",
                        node.lineno,
                        f"`{node.name}` has max_calls={max_calls.value} and builds objects with "
                        "`ray.put(..., _owner=actor)`. Before Ray 2.56 the owner actor had to receive the "
                        "reference before the creating worker exited, or the object could be lost; this "
                        f"worker exits after {max_calls.value} calls. On Ray 2.56 and later the call raises "
                        "ValueError instead.",
                        "Let the actor call `ray.put` itself and hand out the refs, or return the array from the task.",
                        "max-calls-ray-put-scenario",
                    )
                )
            elif puts_here:
                findings.append(
                    CodeFinding(
                        "max-calls-put",
                        node.lineno,
                        f"`{node.name}` has max_calls={max_calls.value} and creates objects with `ray.put` "
                        "(directly or through a class it builds). The worker that calls `ray.put` owns the "
                        "object; when it reaches max_calls it cannot exit until every reference is gone, so it "
                        "lingers as `ray::IDLE` holding memory, and if it is killed instead, readers get "
                        "OwnerDiedError.",
                        "Return the array from the task instead of `ray.put`-ing it, or create and hold the "
                        "objects in a long-lived actor.",
                        "max-calls-ray-put-scenario",
                    )
                )
        elif puts_here:
            returns_ref = any(isinstance(n, ast.Return) for n in ast.walk(node))
            if returns_ref:
                findings.append(
                    CodeFinding(
                        "task-put-return",
                        node.lineno,
                        f"`{node.name}` is a task that creates objects with `ray.put`: its worker process owns "
                        "them, so they live only as long as that worker, and the worker will not exit on its own "
                        "(idle reaping, max_calls) while they are referenced.",
                        "Return values from tasks (the caller then owns them) or let an actor own the data.",
                        "ray-put-objects-worker-exit",
                    )
                )
    return findings


_CONFIG_RES = {
    "kill_idle_workers_interval_ms": lazy(
        r"[\"']?(?:RAY_)?kill_idle_workers_interval_ms[\"']?\s*[:=]\s*[\"']?(\d{1,18})(?!\d)"
    ),
    "idle_worker_killing_time_threshold_ms": lazy(
        r"[\"']?(?:RAY_)?idle_worker_killing_time_threshold_ms[\"']?\s*[:=]\s*[\"']?(\d{1,18})(?!\d)"
    ),
}


def check_config(text: str) -> list[CodeFinding]:
    findings: list[CodeFinding] = []
    lines = text.splitlines()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    for m in _CONFIG_RES["kill_idle_workers_interval_ms"].finditer(text):
        value = int(m.group(1))
        if value == 0:
            findings.append(
                CodeFinding(
                    "reaping-disabled",
                    line_of(m.start()),
                    'kill_idle_workers_interval_ms = 0 does not mean "kill at once": it switches the '
                    "periodic idle-worker reaper off, so idle `ray::IDLE` workers are never killed on a timer.",
                    f"Remove it (the default is {DEFAULT_INTERVAL_MS} ms) or set a positive value.",
                    "kill-idle-workers-interval-ms",
                )
            )
        elif value > DEFAULT_INTERVAL_MS:
            findings.append(
                CodeFinding(
                    "slow-reaping",
                    line_of(m.start()),
                    f"kill_idle_workers_interval_ms = {value} makes the reaper run less often than the "
                    f"default ({DEFAULT_INTERVAL_MS} ms): cleanup gets slower, not more aggressive.",
                    "Leave it at the default unless the reaper's own cost matters.",
                    "faster-idle-worker-cleanup",
                )
            )
    for m in _CONFIG_RES["idle_worker_killing_time_threshold_ms"].finditer(text):
        value = int(m.group(1))
        if value > DEFAULT_THRESHOLD_MS:
            findings.append(
                CodeFinding(
                    "slow-threshold",
                    line_of(m.start()),
                    f"idle_worker_killing_time_threshold_ms = {value} keeps idle workers longer than the "
                    f"default ({DEFAULT_THRESHOLD_MS} ms): that is slower cleanup, not faster.",
                    "To clean up sooner, lower num_workers_soft_limit instead; the threshold is already 1 s.",
                    "faster-idle-worker-cleanup",
                )
            )
    about_processes = re.search(r"ray::IDLE|idle[ -]workers?\b|worker process", text, re.I) is not None
    yaml_key = ""  # the cluster-YAML list a line belongs to (head_start_ray_commands, ...)
    for i, line in enumerate(lines, 1):
        key = re.match(r"^(\w+):\s*$", line)
        if key:
            yaml_key = key.group(1)
        if (
            re.search(r"ray start\b", line)
            and "--system-config" in line
            and "--head" not in line
            and "--address" in line
            and not yaml_key.startswith("head")
        ):
            findings.append(
                CodeFinding(
                    "system-config-worker",
                    i,
                    '`--system-config` on a non-head `ray start` fails with "System config parameters can '
                    'only be set on the head node."',
                    "Pass --system-config only in the head's start command; the GCS hands it to every node.",
                    "system-config-worker-node-error",
                )
            )
        # Only worth saying when the user is after worker *processes*, not idle nodes.
        if re.search(r"^\s*idle_timeout_minutes\s*:", line) and about_processes:
            findings.append(
                CodeFinding(
                    "node-idle-timeout",
                    i,
                    "idle_timeout_minutes is the autoscaler's timeout for idle *nodes*; it does not kill idle "
                    "worker processes (`ray::IDLE`) on a node that stays up.",
                    "For worker processes look at num_workers_soft_limit and the idle-worker reaper.",
                    "autoscaler-idle-timeout-minutes",
                )
            )
    return findings


def check(text: str) -> list[CodeFinding]:
    """All findings for a pasted snippet, in line order, without duplicates.

    Any text gives a (possibly empty) list: input past :data:`MAX_CODE_CHARS` is not read."""
    code = extract_code(text[:MAX_CODE_CHARS])
    findings = check_python(code) + check_config(code)
    seen, out = set(), []
    for f in sorted(findings, key=lambda f: (f.line, f.rule)):
        if (f.rule, f.line) not in seen:
            seen.add((f.rule, f.line))
            out.append(f)
    return out
