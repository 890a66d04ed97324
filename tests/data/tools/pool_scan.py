"""What a kb change does to the fresh pool questions nobody looked at.

A kb pass is written from a few dozen fresh pool questions (tests/data/tools/fresh_pool.py). Its new
`questions:` lines and short answers can also pull *other* questions to an entry, rightly or not, and
those are the answers nobody judged. This tool answers every fresh pool question with the current
kb and index (``scan``), and compares two scans (``diff``): it lists the questions answered now
that were declined before or answered from another entry, leaving out the rows a pass already
logged in tests/data/tools/fresh_pool_log.md. Read that list before merging a pass.

Usage (from the repository root, with the pool files named in tests/data/README.md):

    python tests/data/tools/fresh_pool.py SLACK FULL --json --cache DIR > fresh.jsonl
    python tests/data/tools/pool_scan.py scan fresh.jsonl > before.json   # on main
    python tests/data/tools/pool_scan.py scan fresh.jsonl > after.json    # on the branch, index rebuilt
    python tests/data/tools/pool_scan.py diff before.json after.json [--log LOG] [--json]

Only fresh pool questions are read (the file fresh_pool.py writes), never the labelled rows.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

LOG = Path(__file__).resolve().parent / "fresh_pool_log.md"
#: The checkout this script is in. Its raybot (and so its kb/ and index/) is the one scanned: run as
#: a file, the script's own folder comes first on sys.path, and an editable install of raybot from
#: another checkout (a worktree's main) would be imported instead.
REPO = Path(__file__).resolve().parents[3]
ANSWERED = ("entry", "short-answer", "signature")
_FILES = {
    "slack": "slack-general-questions.jsonl",
    "full": "full-questions.jsonl",
    "rerank": "reranker-corrections.csv",
}
#: A pool row as the log names it: the file name in full or shortened ("slack:309", "full:1598",
#: "rerank:77" for record 77 of reranker-corrections.csv).
_LOGGED = re.compile(
    r"\b(slack-general-questions\.jsonl|full-questions\.jsonl|reranker-corrections\.csv|slack|full|rerank):(\d+)\b"
)


def logged_rows(log: Path) -> set[str]:
    """Every ``FILE:LINE`` the log names, with shortened file names spelled out."""
    if not log.is_file():
        return set()
    text = log.read_text("utf-8")
    return {f"{_FILES.get(name, name)}:{line}" for name, line in _LOGGED.findall(text)}


def scan(fresh_file: Path) -> dict[str, dict]:
    """``source -> {kind, entry, confidence, question}`` for every question of ``fresh_file``."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from raybot.assistant import Assistant

    assistant = Assistant(store=None)
    out: dict[str, dict] = {}
    for line in fresh_file.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        ans = assistant.ask(row["question"])
        j = ans.judgement
        out[row["source"]] = {
            "kind": ans.kind,
            "entry": j.entry if j is not None else None,
            "confidence": round(j.confidence, 3) if j is not None else 0.0,
            "question": row["question"],
        }
    return out


def diff(
    before: dict[str, dict], after: dict[str, dict], logged: set[str], with_logged: bool = False
) -> list[dict]:
    """Questions answered in ``after`` that ``before`` declined or answered from another entry,
    except the logged ones (kept, marked ``logged``, with ``with_logged``: a row an earlier pass
    logged can still be moved to a wrong entry by this one)."""
    changed = []
    for src, now in after.items():
        was = before.get(src)
        if now["kind"] not in ANSWERED or (src in logged and not with_logged):
            continue
        if was is not None and was["kind"] in ANSWERED and was["entry"] == now["entry"]:
            continue
        changed.append(
            {
                "source": src,
                "before": f"{was['kind']} {was['entry']}" if was else "not scanned",
                "after": f"{now['kind']} {now['entry']} {now['confidence']}",
                "question": now["question"],
                "logged": src in logged,
            }
        )
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan", help="answer every fresh pool question; JSON on stdout")
    s.add_argument("fresh", type=Path, help="JSON lines {source, question} from fresh_pool.py --json")
    d = sub.add_parser("diff", help="questions answered differently, not in the log")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    d.add_argument("--log", type=Path, default=LOG)
    d.add_argument("--json", action="store_true")
    d.add_argument(
        "--with-logged",
        action="store_true",
        help="also list rows an earlier pass logged (marked [logged])",
    )
    args = ap.parse_args(argv)
    paths = [args.fresh] if args.cmd == "scan" else [args.before, args.after]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.cmd == "scan":
        json.dump(scan(args.fresh), sys.stdout, ensure_ascii=False)
        print()
        return 0
    try:
        before = json.loads(args.before.read_text("utf-8"))
        after = json.loads(args.after.read_text("utf-8"))
    except ValueError as exc:
        print(f"error: a scan file is not JSON ({exc})", file=sys.stderr)
        return 2
    rows = diff(before, after, logged_rows(args.log), with_logged=args.with_logged)
    try:
        for r in rows:
            if args.json:
                print(json.dumps(r, ensure_ascii=False))
            else:
                mark = " [logged]" if r["logged"] else ""
                question = " ".join(r["question"].split())[:200]
                print(f"{r['source']}{mark}\t{r['before']} -> {r['after']}\t{question}")
    except BrokenPipeError:  # piped into head
        return 0
    what = "(logged rows included)" if args.with_logged else "and not in the log"
    print(f"{len(rows)} questions answered differently {what}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
