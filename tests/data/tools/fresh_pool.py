"""List the FRESH real questions: pool questions that are in no split of the real-question set.

The kb's `questions:` phrasings may be written from real user questions only when those
questions are in no split (dev, heldout or calib) and are not near-duplicates of a sampled one.
This script loads the two pool files of ray-project/llm-applications named in
tests/data/README.md and drops every pool question that

1. has the same near-duplicate key (lower-cased, runs of non-word characters -> one space,
   stripped, first 200 characters) as any row of real_questions_unlabeled.jsonl (the key is
   taken of the raw pool text and of the text cleaned of chat markup the way the rows were);
2. has an all-MiniLM-L6-v2 embedding (raybot's own encoder, raybot/embed.py) with cosine
   >= 0.85 to any sampled row; or
3. has a word-set Jaccard >= 0.5 with any sampled row.

Any one of the three is enough to drop a question. The sampled rows are read only to compute
these three tests: the script never prints a sampled question, its id or its split. It prints
the fresh questions only, one per line as ``FILE:LINE<TAB>question`` (newlines shown as " | "),
or JSON lines with ``--json``.

Usage:

    python tests/data/tools/fresh_pool.py SLACK.jsonl FULL.jsonl [--rerank CSV] [--grep REGEX]
        [--json] [--cache DIR] [--count]

``--rerank`` adds the third pool file (reranker-corrections.csv, tests/data/README.md).

``--grep`` keeps fresh questions matching a case-insensitive regular expression; ``--count``
prints only how many questions were dropped by each test and how many are fresh. ``--cache``
keeps the pool embeddings in DIR (keyed by the files' sha256) so a second run is fast.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import re
import sys
from pathlib import Path

UNLABELED = Path(__file__).resolve().parents[1] / "real_questions_unlabeled.jsonl"
MIN_LEN, MAX_LEN = 12, 6000  # as in the sampling (tests/data/README.md)
COSINE_MAX = 0.85
JACCARD_MAX = 0.5


def dedup_key(question: str) -> str:
    return re.sub(r"\W+", " ", question.lower()).strip()[:200]


def clean(question: str) -> str:
    """The chat-markup cleaning the labelled rows had (README, "How rows were labelled")."""
    q = re.sub(r"<@U[A-Z0-9]+>", "@user", question)
    q = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", q)
    q = re.sub(r"<(https?://[^>]+)>", r"\1", q)
    q = re.sub(r"`{4,}", "```", q)
    return html.unescape(q)


def words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.lower()))


def load_pool(path: Path, name: str) -> list[tuple[str, str]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            q = json.loads(line)["question"].strip()
            if MIN_LEN <= len(q) <= MAX_LEN:
                out.append((f"{name}:{i}", q))
    return out


#: The third pool file (held-out batch 4, stop 36): component-tagged docs-assistant questions.
RERANK_NAME = "reranker-corrections.csv"


def load_csv_pool(path: Path, name: str = RERANK_NAME) -> list[tuple[str, str]]:
    """The ``question`` column of a CSV pool file, as ``(NAME:ROW, question)``: ROW counts records
    from 1 after the header (a quoted question may span lines, so it is not the file's line)."""
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for i, rec in enumerate(csv.DictReader(fh), 1):
            q = (rec.get("question") or "").strip()
            if MIN_LEN <= len(q) <= MAX_LEN:
                out.append((f"{name}:{i}", q))
    return out


def load_sampled(before_batch: int | None = None) -> list[str]:
    """The sampled questions; with ``before_batch`` N, only rows of earlier sampling batches (a row
    without a ``batch`` field is batch 1), which is what a later draw was made against."""
    with UNLABELED.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if before_batch is not None:
        rows = [r for r in rows if int(r.get("batch", 1)) < before_batch]
    return [r["question"] for r in rows]


def embed(texts: list[str], cache: Path | None, tag: str):
    import numpy as np

    from raybot.embed import build_encoder, resolve_model

    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    if cache is not None:
        hit = cache / f"{tag}-{digest}.npy"
        if hit.is_file():
            return np.load(hit)
    model = build_encoder(resolve_model())
    vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    vecs = np.asarray(vecs, dtype=np.float32)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{tag}-{digest}.npy", vecs)
    return vecs


def fresh(
    pool: list[tuple[str, str]], cache: Path | None, sampled: list[str] | None = None
) -> tuple[list[int], dict[str, int]]:
    """Indices of fresh pool questions, and how many each test dropped (first test wins).
    ``sampled``: the questions to be fresh against (default: every sampled row)."""
    if sampled is None:
        sampled = load_sampled()
    keys = {dedup_key(s) for s in sampled}
    sampled_words = [words(s) for s in sampled]
    texts = [q for _, q in pool]
    pool_vecs = embed(texts, cache, "pool")
    sampled_vecs = embed(sampled, cache, "sampled")
    max_cos = (pool_vecs @ sampled_vecs.T).max(axis=1)
    dropped = {"key": 0, "cosine": 0, "jaccard": 0}
    keep = []
    for i, q in enumerate(texts):
        if dedup_key(q) in keys or dedup_key(clean(q)) in keys:
            dropped["key"] += 1
            continue
        if max_cos[i] >= COSINE_MAX:
            dropped["cosine"] += 1
            continue
        w = words(clean(q))
        if any(len(w & s) >= JACCARD_MAX * len(w | s) for s in sampled_words if s or w):
            dropped["jaccard"] += 1
            continue
        keep.append(i)
    return keep, dropped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("slack", type=Path)
    ap.add_argument("full", type=Path)
    ap.add_argument("--grep", help="keep fresh questions matching this regex (case-insensitive)")
    ap.add_argument("--json", action="store_true", help="JSON lines {source, question}")
    ap.add_argument("--count", action="store_true", help="print only the counts")
    ap.add_argument("--cache", type=Path, help="directory for cached pool embeddings")
    ap.add_argument("--rerank", type=Path, help=f"also {RERANK_NAME} (tests/data/README.md, batch 4)")
    args = ap.parse_args(argv)
    for p in (args.slack, args.full, *([args.rerank] if args.rerank else [])):
        if not p.is_file():
            print(f"error: no such file: {p}", file=sys.stderr)
            return 2
    pool = load_pool(args.slack, "slack-general-questions.jsonl") + load_pool(
        args.full, "full-questions.jsonl"
    )
    if args.rerank:
        pool += load_csv_pool(args.rerank)
    keep, dropped = fresh(pool, args.cache)
    if args.count:
        print(json.dumps({"pool": len(pool), "dropped": dropped, "fresh": len(keep)}))
        return 0
    pattern = re.compile(args.grep, re.I) if args.grep else None
    for i in keep:
        src, q = pool[i]
        if pattern and not pattern.search(q):
            continue
        if args.json:
            print(json.dumps({"source": src, "question": q}, ensure_ascii=False))
        else:
            print(f"{src}\t{q.replace(chr(10), ' | ')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
