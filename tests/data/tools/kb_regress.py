"""Ask every question the kb itself names and record what raybot answers: a regression set.

Each entry's ``questions:`` lines and its ``answers:`` questions are phrasings of asks that the
entry is written to answer. A kb change (a new short answer, a new question line) or a change to
the answer path can make one of them answered from another entry or with another entry's short
answer; this tool makes such moves visible.

Usage (from the repository root):

    python tests/data/tools/kb_regress.py scan OUT.json      # ~5-8 minutes on 2 cores
    python tests/data/tools/kb_regress.py diff BEFORE.json AFTER.json

``scan`` writes ``{question: {owner, kind, entry, lead}}`` where ``owner`` is the entry that
names the question and ``lead`` the answer's first 100 characters after its title. ``diff`` lists the questions
whose kind, entry or lead changed, and counts the ones answered from an entry other than
their owner in each file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def asks(kb_dir: Path) -> dict[str, str]:
    """``question -> owner entry id`` (a question named by two entries keeps the first owner)."""
    from raybot.kb import load_kb

    entries, _ = load_kb(kb_dir)
    out: dict[str, str] = {}
    for e in sorted(entries, key=lambda e: e.id):
        for q in [*e.questions, *(a.question for a in e.answers)]:
            out.setdefault(q, e.id)
    return out


def scan(kb_dir: Path) -> dict[str, dict]:
    from raybot.assistant import Assistant

    assistant = Assistant(store=None)
    out: dict[str, dict] = {}
    for q, owner in asks(kb_dir).items():
        ans = assistant.ask(q)
        j = ans.judgement
        out[q] = {
            "owner": owner,
            "kind": ans.kind,
            "entry": j.entry if j is not None else None,
            "lead": _lead(ans.answer),
        }
    return out


def _lead(answer: str) -> str:
    """The answer's first 100 characters after its title line (an answer from an entry opens
    with the entry's title, which says nothing about which short answer, if any, leads)."""
    lines = answer.strip().splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    return " ".join(" ".join(lines).split())[:100]


def diff(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    lines = []
    for q, now in after.items():
        was = before.get(q)
        if was is None:
            lines.append(f"NEW   [{now['owner']}] {q}\n      -> {now['kind']} {now['entry']}: {now['lead']}")
            continue
        if (was["kind"], was["entry"], was["lead"]) != (now["kind"], now["entry"], now["lead"]):
            lines.append(
                f"MOVED [{now['owner']}] {q}\n"
                f"      was {was['kind']} {was['entry']}: {was['lead']}\n"
                f"      now {now['kind']} {now['entry']}: {now['lead']}"
            )
    return lines


def _other(scan_: dict[str, dict]) -> int:
    return sum(1 for r in scan_.values() if r["entry"] != r["owner"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan", help="ask every kb question; JSON to OUT")
    s.add_argument("out", type=Path)
    s.add_argument("--kb", type=Path, default=REPO / "kb")
    d = sub.add_parser("diff", help="questions answered differently")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    args = ap.parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if args.cmd == "scan":
        result = scan(args.kb)
        args.out.write_text(json.dumps(result, ensure_ascii=False), "utf-8")
        print(f"{len(result)} questions, {_other(result)} answered from another entry or declined", file=sys.stderr)
        return 0
    try:
        before = json.loads(args.before.read_text("utf-8"))
        after = json.loads(args.after.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read a scan file ({exc})", file=sys.stderr)
        return 2
    for line in diff(before, after):
        print(line)
    print(f"other-entry answers: {_other(before)} -> {_other(after)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
