"""``raybot gaps``: what the knowledge base is missing, grouped by meaning.

Declined questions, low-confidence answers and 👎 are recorded in the thread store
(:mod:`raybot.records`). Here they are embedded with the same model that answers questions and
grouped by average-linkage agglomerative clustering on cosine similarity: two groups merge while
the mean similarity between their questions is at least ``threshold``. Groups are listed by size,
with example questions and the entries the questions came nearest to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raybot.records import Gap
    from raybot.threads import ThreadStore

DEFAULT_THRESHOLD = 0.55
MAX_GAPS = 2000  #: the most recent ones; clustering is quadratic in memory


@dataclass
class GapGroup:
    size: int  #: distinct questions in the group
    kinds: dict[str, int]  #: how many were declined / low-confidence / thumbs-down
    examples: list[str]
    nearest_entries: list[dict[str, Any]]  #: [{"id", "title", "count"}]
    first_seen: float
    last_seen: float
    turns: list[dict[str, Any]] = field(default_factory=list)  #: [{"thread_id", "seq"}]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def agglomerate(vectors, threshold: float = DEFAULT_THRESHOLD) -> list[list[int]]:
    """Average-linkage clustering of L2-normalised rows; returns groups of row indices.

    Starts from singletons and repeatedly merges the two groups with the highest mean pairwise
    cosine similarity until no pair reaches ``threshold``.
    """
    import numpy as np

    n = len(vectors)
    if n == 0:
        return []
    sims = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    # Sum of pairwise similarities between groups, and sizes; linkage = sum / (size_a * size_b).
    total = sims.copy()
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    while True:
        link = total / np.outer(sizes, sizes)
        mask = np.outer(alive, alive)
        np.fill_diagonal(mask, False)
        link = np.where(mask, link, -np.inf)
        flat = int(np.argmax(link))
        a, b = divmod(flat, n)
        if not np.isfinite(link[a, b]) or link[a, b] < threshold:
            break
        # merge b into a
        total[a, :] += total[b, :]
        total[:, a] += total[:, b]
        sizes[a] += sizes[b]
        alive[b] = False
        members[a].extend(members[b])
        members[b] = []
    return [sorted(m) for m, keep in zip(members, alive, strict=False) if keep]


def group_gaps(
    gaps: list[Gap], vectors, titles: dict[str, str], *, threshold: float = DEFAULT_THRESHOLD
) -> list[GapGroup]:
    """Group ``gaps`` (one row per distinct turn, aligned with ``vectors``) by meaning."""
    groups = []
    for idx in agglomerate(vectors, threshold):
        items = [gaps[i] for i in idx]
        kinds = Counter(k for g in items for k in g.kind.split(","))
        entry_counts: Counter[str] = Counter()
        for g in items:
            for e in g.entries[:3]:
                entry_counts[e[0]] += 1
        examples: list[str] = []
        for g in sorted(items, key=lambda g: -g.created_at):
            text = " ".join(g.question.split())
            if len(text) > 200:
                text = text[:199] + "…"
            if text.lower() not in (x.lower() for x in examples):
                examples.append(text)
            if len(examples) == 3:
                break
        groups.append(
            GapGroup(
                size=len(items),
                kinds=dict(sorted(kinds.items())),
                examples=examples,
                nearest_entries=[
                    {"id": e, "title": titles.get(e, ""), "count": c} for e, c in entry_counts.most_common(3)
                ],
                first_seen=min(g.created_at for g in items),
                last_seen=max(g.created_at for g in items),
                turns=[{"thread_id": g.thread_id, "seq": g.seq} for g in items],
            )
        )
    groups.sort(key=lambda g: (-g.size, -g.last_seen))
    return groups


def merge_turns(gaps: list[Gap]) -> list[Gap]:
    """One record per turn: a declined question that also got a 👎 counts once, with both kinds."""
    from raybot.records import Gap

    by_turn: dict[tuple[str, int], Gap] = {}
    for g in gaps:
        key = (g.thread_id, g.seq)
        if key in by_turn:
            old = by_turn[key]
            kinds = sorted(set(old.kind.split(",")) | {g.kind})
            by_turn[key] = Gap(
                old.id,
                old.created_at,
                ",".join(kinds),
                old.thread_id,
                old.seq,
                old.question,
                old.confidence,
                old.entries or g.entries,
            )
        else:
            by_turn[key] = g
    return list(by_turn.values())


def find_gaps(
    store: ThreadStore, *, since: float = 0.0, threshold: float = DEFAULT_THRESHOLD, retriever=None
) -> list[GapGroup]:
    """Load the recorded gaps since ``since`` and group them (loads the model if there are any)."""
    import numpy as np

    from raybot.records import list_gaps

    gaps = merge_turns(list_gaps(store, since=since))[-MAX_GAPS:]
    if not gaps:
        return []
    if retriever is None:
        from raybot.retrieve import open_retriever

        retriever = open_retriever()
    vectors = np.stack([retriever.encoder.encode_one(g.question) for g in gaps])
    titles = {k: v["title"] for k, v in retriever.entries.items()}
    return group_gaps(gaps, vectors, titles, threshold=threshold)
