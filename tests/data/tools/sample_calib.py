"""Draw the `calib` split of real user questions (issue #8).

The `calib` rows are fresh questions that nobody wrote kb entries or `answers:` from; they are
for fitting the confidence model. The draw follows the procedure of the original sample
(tests/data/README.md, "How rows were sampled") with smaller quotas and its own seed:

- questions of 12 to 6,000 characters from both source files;
- for each of the same 16 keyword themes, 5 Slack and 5 docs-assistant questions;
- then 32 + 32 questions at random, with no keyword filter (see RANDOM_EACH);
- a question is skipped when its near-duplicate key (lower-cased, punctuation dropped, first
  200 characters) equals that of a question already sampled, either earlier in this draw or in
  the dev/heldout rows of real_questions_unlabeled.jsonl;
- every row gets ``split: "calib"`` (no hash split).

Usage (the two files of ray-project/llm-applications named in tests/data/README.md):

    python tests/data/tools/sample_calib.py SLACK.jsonl FULL.jsonl            # print the rows
    python tests/data/tools/sample_calib.py SLACK.jsonl FULL.jsonl --append   # append them
    python tests/data/tools/sample_calib.py SLACK.jsonl FULL.jsonl --check    # compare

``--append`` refuses when the file already has calib rows; ``--check`` exits 1 unless the calib
rows in the file are exactly the ones this script draws.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path

SEED = 20261215  # the original dev/heldout draw used 20261201
PER_THEME = 5  # per source and theme (the original draw took 7)
# Per source, no keyword filter (the original draw took 40). The plan was 20 + 20, but several
# themes have fewer than 5 unused matches left (the themed part gives 137 rows, not 160), so the
# random part is 32 + 32 to bring the sample to about 200. The shuffle does not depend on the
# quota, so the 20 + 20 of the plan are the first 20 of each source here.
RANDOM_EACH = 32
MIN_LEN, MAX_LEN = 12, 6000
SPLIT = "calib"
UNLABELED = Path(__file__).resolve().parents[1] / "real_questions_unlabeled.jsonl"
SOURCE_SUFFIX = " (ray-project/llm-applications@a7d8a96/baede4a, CC BY 4.0)"

# The keyword themes of the original draw, unchanged (the guess is stored as `theme_hint`).
THEMES = {
    "object-store": r"object.?store|spill|plasma|ray\.put|\bdel\b.*ref|internal\.free|ray memory|objectref",
    "oom": r"\boom\b|out of memory|memory monitor|memory_usage_threshold|killed.*memory",
    "scheduling": r"pending|infeasible|placement.?group|schedul|num_cpus\s*=\s*0",
    "autoscaler": r"autoscal|min_workers|max_workers|request_resources|idle_timeout|scale.?down|scale.?up",
    "worker-startup": r"not registered|register|worker_register_timeout|startup|start.?up",
    "connecting": r"ray\.init\(.*address|ray://|--address|node-ip-address|gcs|connect|\bport",
    "node-failure": r"raylet.*(died|dead|crash)|node.*(died|dead)|marked dead|fault.?toleran|head node.*(fail|restart)",
    "actor-task-failures": r"actordied|actor died|max_restarts|max_task_retries|rayactorerror|raytaskerror"
    r"|worker died|system_error",
    "runtime-env": r"runtime.?env|working_dir|py_modules|conda|\bpip\b",
    "gpu": r"\bgpus?\b|cuda|num_gpus",
    "logs-dashboard": r"\blogs?\b|dashboard|log_to_driver",
    "hangs": r"\bhang|stuck|never returns|ray stack|py-spy|deadlock|freez",
    "serialization": r"pickl|serializ",
    "log-warnings": r"reference_count\.cc|core_worker|worker processes have been started|warning:",
    "idle-workers": r"ray::idle|idle worker|\bidle\b",
    "refcount": r"referencecounting|ownerdied|objectlost|\bowner\b|reference count",
}


def dedup_key(question: str) -> str:
    """Near-duplicate key: the same text after lower-casing and dropping punctuation."""
    return re.sub(r"\W+", " ", question.lower()).strip()[:200]


def load(path: Path, name: str) -> list[dict[str, str]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            q = json.loads(line)["question"].strip()
            if MIN_LEN <= len(q) <= MAX_LEN:
                out.append({"q": q, "src": f"{name}:{i}"})
    return out


def pick(pools: dict[str, list[dict]], seen: set[str], seed: int, per_theme: int, random_each: int) -> list[dict]:
    """The themed-then-random draw every sample uses: per theme (THEMES) ``per_theme`` questions of
    each source, then ``random_each`` of each source with no filter, skipping near-duplicate keys
    (``seen`` is updated). ``pools``: source name -> [{"q", "src"}]."""
    rng = random.Random(seed)
    chosen: list[dict] = []

    def fill(cands: list[dict], n: int, theme: str) -> None:
        rng.shuffle(cands)
        k = 0
        for c in cands:
            if k >= n:
                break
            key = dedup_key(c["q"])
            if key in seen:
                continue
            seen.add(key)
            chosen.append({**c, "theme_hint": theme})
            k += 1

    for theme, pattern in THEMES.items():
        rx = re.compile(pattern, re.I)
        for name in ("slack", "docs"):
            fill([x for x in pools[name] if rx.search(x["q"])], per_theme, theme)
    for name in ("slack", "docs"):
        fill(list(pools[name]), random_each, "random")
    return chosen


def row_id(src: str, taken_ids: set[str]) -> str:
    """``rq-`` + 8 hex digits of the source line's hash; refuses a collision."""
    rid = "rq-" + hashlib.sha256(src.encode()).hexdigest()[:8]
    if rid in taken_ids:
        raise SystemExit(f"id collision: {rid} ({src})")
    taken_ids.add(rid)
    return rid


def draw(slack: Path, full: Path, earlier: list[dict]) -> list[dict]:
    """The calib rows, in draw order. ``earlier``: the dev/heldout rows already sampled."""
    pools = {
        "slack": load(slack, "slack-general-questions.jsonl"),
        "docs": load(full, "full-questions.jsonl"),
    }
    chosen = pick(pools, {dedup_key(r["question"]) for r in earlier}, SEED, PER_THEME, RANDOM_EACH)
    taken_ids = {r["id"] for r in earlier}
    return [
        {
            "id": row_id(c["src"], taken_ids),
            "split": SPLIT,
            "source": c["src"] + SOURCE_SUFFIX,
            "theme_hint": c["theme_hint"],
            "question": c["q"],
        }
        for c in chosen
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("slack", type=Path, help="datasets/slack-general-questions.jsonl at a7d8a96")
    ap.add_argument("full", type=Path, help="datasets/full-questions.jsonl at baede4a")
    ap.add_argument("--unlabeled", type=Path, default=UNLABELED, help="the sampled-rows file")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="append the calib rows to --unlabeled")
    mode.add_argument("--check", action="store_true", help="check the calib rows in --unlabeled")
    args = ap.parse_args(argv)

    existing = [json.loads(line) for line in args.unlabeled.read_text("utf-8").splitlines() if line.strip()]
    # Rows of later batches (held-out batch 2, stop 16) were drawn after calib and are not "earlier".
    earlier = [r for r in existing if r["split"] != SPLIT and int(r.get("batch", 1)) == 1]
    present = [r for r in existing if r["split"] == SPLIT]
    rows = draw(args.slack, args.full, earlier)
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
    print(f"{len(rows)} calib rows drawn (seed {SEED})", file=sys.stderr)
    if args.check:
        ok = present == rows
        print("calib rows match the draw" if ok else "calib rows differ from the draw", file=sys.stderr)
        return 0 if ok else 1
    if args.append:
        if present:
            print(f"{args.unlabeled} already has {len(present)} calib rows; not appending", file=sys.stderr)
            return 1
        with args.unlabeled.open("a", encoding="utf-8") as fh:
            fh.writelines(lines)
        return 0
    sys.stdout.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
