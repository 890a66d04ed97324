"""Draw a later held-out batch of real user questions (issue #8: batch 2 at stop 16, batch 3 at stop 17).

The first held-out batch (104 rows, 2026-12-01) has only 46 answerable rows, 1 to 7 per theme, too
few to read a per-theme figure from. This draws a second batch from questions nobody has used:

- candidates are the FRESH pool questions (tools/fresh_pool.py: in no sampled split and no near
  duplicate of a sampled row), judged against the rows sampled before this batch;
- minus every pool question named in tools/fresh_pool_log.md (the questions kb passes were
  written from) -- pass the log as it was when the batch was drawn (``--log``);
- for each of the 16 keyword themes of the earlier draws (sample_calib.THEMES), a few Slack and
  as many docs-assistant questions, then some of each source with no keyword filter (BATCHES);
- near-duplicate keys are skipped as in the earlier draws;
- every row gets ``split: "heldout"`` and its ``batch`` number.

Batch 3 (stop 17) was drawn the same way, before that stop's kb passes started, from what was left:
fewer rows per theme and fewer random ones (a themed pick takes what the pool still has).

Batch 4 (stop 36) was drawn from a third file of the same repository, reranker-corrections.csv at
b59aceb (``--rerank``): 2,906 docs-assistant questions that file holds besides the two pools. Its
candidates are fresh against every row sampled before and against every question of the two pool files
(kb passes were written from those), 5 per theme and 40 at random.

Batch 5 (stop 39) is not held-out: it is a second **calib** batch (``split: "calib"``), drawn from the same
third file for the confidence tables alone (181 calib rows left one row moving a bin by ~0.07). Its
candidates are fresh as for batch 4 and, in addition, not named in tools/fresh_pool_log.md (kb passes read
that file's rows from stop 36 on), 6 per theme and 60 at random.

Usage (the two files of ray-project/llm-applications named in tests/data/README.md):

    python tests/data/tools/sample_heldout_b.py SLACK.jsonl FULL.jsonl --cache DIR [--batch N] [--log LOG]
    ... --append      # append the rows to real_questions_unlabeled.jsonl
    ... --check       # exit 1 unless the batch-N rows in the file are this draw

To check a committed draw, give ``--log`` the log as of the commit that appended it
(``git show COMMIT:tests/data/tools/fresh_pool_log.md > /tmp/log.md``): the log grows afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fresh_pool  # noqa: E402
from pool_scan import logged_rows  # noqa: E402
from sample_calib import SOURCE_SUFFIX, dedup_key, pick, row_id  # noqa: E402

#: batch -> (seed, rows per source and theme, random rows per source with no keyword filter)
BATCHES = {2: (20261216, 4, 20), 3: (20261217, 3, 12), 4: (20261206, 5, 40), 5: (20261218, 6, 60)}
#: Batches 4 and 5 come from a third file of the same repository (tests/data/README.md), not the two pools.
RERANK_BATCHES = (4, 5)
#: Batch 5 is calib rows (the confidence tables), not held-out ones.
SPLITS = {5: "calib"}
RERANK_SUFFIX = " (ray-project/llm-applications@b59aceb, CC BY 4.0)"
LOG = Path(__file__).resolve().parent / "fresh_pool_log.md"


def draw(
    slack: Path,
    full: Path,
    existing: list[dict],
    log: Path,
    cache: Path | None,
    batch: int = 2,
    rerank: Path | None = None,
) -> list[dict]:
    seed, per_theme, random_each = BATCHES[batch]
    pool = fresh_pool.load_pool(slack, "slack-general-questions.jsonl") + fresh_pool.load_pool(
        full, "full-questions.jsonl"
    )
    earlier = [r for r in existing if int(r.get("batch", 1)) < batch]
    suffix = SOURCE_SUFFIX
    if batch in RERANK_BATCHES:
        # Fresh against every row sampled before AND every question of the two older pool files: kb
        # passes were written from those, so a near copy of one would not be a fresh question.
        if rerank is None:
            raise SystemExit(f"batch {batch} needs --rerank {fresh_pool.RERANK_NAME}")
        cands_all = fresh_pool.load_csv_pool(rerank)
        keep, _ = fresh_pool.fresh(cands_all, cache, [r["question"] for r in earlier] + [q for _, q in pool])
        cands = [cands_all[i] for i in keep]
        if batch > RERANK_BATCHES[0]:  # kb passes read this file from stop 36 on (after batch 4's draw)
            used = logged_rows(log)
            cands = [c for c in cands if c[0] not in used]
        suffix = RERANK_SUFFIX
    else:
        keep, _ = fresh_pool.fresh(pool, cache, [r["question"] for r in earlier])
        used = logged_rows(log)  # the log names rows in full (FILE.jsonl:N) or short (slack:N)
        cands = [pool[i] for i in keep if pool[i][0] not in used]
    by_source = {
        "slack": [{"src": s, "q": q} for s, q in cands if s.startswith("slack")],
        "docs": [{"src": s, "q": q} for s, q in cands if not s.startswith("slack")],
    }
    chosen = pick(by_source, {dedup_key(r["question"]) for r in earlier}, seed, per_theme, random_each)
    taken_ids = {r["id"] for r in earlier}
    return [
        {
            "id": row_id(c["src"], taken_ids),
            "split": SPLITS.get(batch, "heldout"),
            "batch": batch,
            "source": c["src"] + suffix,
            "theme_hint": c["theme_hint"],
            "question": fresh_pool.clean(c["q"]),
        }
        for c in chosen
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("slack", type=Path, help="datasets/slack-general-questions.jsonl at a7d8a96")
    ap.add_argument("full", type=Path, help="datasets/full-questions.jsonl at baede4a")
    ap.add_argument("--unlabeled", type=Path, default=fresh_pool.UNLABELED, help="the sampled-rows file")
    ap.add_argument("--log", type=Path, default=LOG, help="fresh_pool_log.md as of the draw")
    ap.add_argument("--cache", type=Path, help="directory for cached embeddings")
    ap.add_argument("--batch", type=int, choices=sorted(BATCHES), default=2, help="which batch to draw")
    ap.add_argument("--rerank", type=Path, help=f"{fresh_pool.RERANK_NAME} at b59aceb (batches 4 and 5)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="append the rows to --unlabeled")
    mode.add_argument("--check", action="store_true", help="check the batch's rows in --unlabeled")
    args = ap.parse_args(argv)

    existing = [json.loads(line) for line in args.unlabeled.read_text("utf-8").splitlines() if line.strip()]
    batch = args.batch
    present = [r for r in existing if int(r.get("batch", 1)) == batch]
    rows = draw(args.slack, args.full, existing, args.log, args.cache, batch, args.rerank)
    split = SPLITS.get(batch, "heldout")
    print(f"{len(rows)} {split} batch-{batch} rows drawn (seed {BATCHES[batch][0]})", file=sys.stderr)
    if args.check:
        ok = present == rows
        print("batch rows match the draw" if ok else "batch rows differ from the draw", file=sys.stderr)
        return 0 if ok else 1
    if args.append:
        if present:
            print(f"{args.unlabeled} already has {len(present)} batch-{batch} rows; not appending", file=sys.stderr)
            return 1
        with args.unlabeled.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return 0
    sys.stdout.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
