"""Building, staleness, corruption and reuse of the FAISS index (real model, small kb)."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import ROOT

from raybot.errors import IndexUnusable, KBError
from raybot.index import build, load, status

pytestmark = pytest.mark.model


def copy_index(small_index, tmp_path):
    kb, idx = small_index
    kb2, idx2 = tmp_path / "kb", tmp_path / "index"
    shutil.copytree(kb, kb2)
    shutil.copytree(idx, idx2)
    return kb2, idx2


def snapshot(idx):
    return {p.name: p.read_bytes() for p in sorted(idx.iterdir())}


def test_fresh_after_build_and_rebuild_is_byte_identical(small_index, tmp_path):
    kb, idx = copy_index(small_index, tmp_path)
    assert status(kb, idx).state == "fresh"
    before = snapshot(idx)
    report = build(kb, idx)
    assert (report.added, report.changed, report.unchanged) == (0, 0, 4)
    assert snapshot(idx) == before
    manifest = json.loads((idx / "manifest.json").read_text())
    assert manifest["model"]["name"] == "all-MiniLM-L6-v2" and manifest["dimension"] == 384
    assert len(manifest["model"]["sha256"]) == 64
    assert {e["id"] for e in manifest["entries"]} == {"soft-limit", "idle-process", "owner-error", "gh-11111"}


def test_edit_makes_index_stale_and_rebuild_reports_change(small_index, tmp_path):
    kb, idx = copy_index(small_index, tmp_path)
    path = kb / "owner-error.md"
    path.write_text(path.read_text().replace("is lost.", "is lost for good."))
    st = status(kb, idx)
    assert st.state == "stale" and st.changed == ["owner-error.md"]
    (kb / "gh-11111.md").unlink()
    assert status(kb, idx).removed == ["gh-11111.md"]
    shutil.copy(kb / "owner-error.md", kb / "owner-error-copy.md")
    (kb / "owner-error-copy.md").write_text(
        (kb / "owner-error-copy.md").read_text().replace("id: owner-error", "id: owner-error-copy")
    )
    report = build(kb, idx)
    assert (report.added, report.changed, report.removed) == (1, 1, 1)
    assert status(kb, idx).state == "fresh"


@pytest.mark.parametrize("damage", ["truncate-vectors", "garbage-manifest", "missing-chunks", "edit-entries"])
def test_corrupt_index_is_a_clear_error(small_index, tmp_path, damage):
    kb, idx = copy_index(small_index, tmp_path)
    if damage == "truncate-vectors":
        data = (idx / "vectors.faiss").read_bytes()
        (idx / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "garbage-manifest":
        (idx / "manifest.json").write_text("{not json")
    elif damage == "missing-chunks":
        (idx / "chunks.json").unlink()
    else:
        (idx / "entries.json").write_text((idx / "entries.json").read_text().replace("fixture", "tampered"))
    assert status(kb, idx).state == "corrupt"
    with pytest.raises(IndexUnusable) as exc:
        load(idx)
    assert "raybot index build" in exc.value.hint


def test_wrong_dimension_is_detected(small_index, tmp_path):
    import numpy as np

    from raybot.index import _serialize_vectors, _sha

    kb, idx = copy_index(small_index, tmp_path)
    n = len(json.loads((idx / "chunks.json").read_text()))
    blob = _serialize_vectors(np.zeros((n, 128), dtype=np.float32))
    (idx / "vectors.faiss").write_bytes(blob)
    manifest = json.loads((idx / "manifest.json").read_text())
    manifest["files"]["vectors.faiss"] = _sha(blob)
    (idx / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexUnusable, match="dimension 128"):
        load(idx)


def test_an_index_of_another_format_is_named_stale_when_loaded(small_index, tmp_path):
    # An index written by an older raybot used to read as "cannot be read (lexical.json does
    # not match chunks.json)"; loading it directly (no rebuild) now says what it is.
    from raybot.index import BUILDER_VERSION

    kb, idx = copy_index(small_index, tmp_path)
    manifest = json.loads((idx / "manifest.json").read_text())
    manifest["builder_version"] = BUILDER_VERSION - 1
    (idx / "manifest.json").write_text(json.dumps(manifest))
    assert status(kb, idx).state == "stale"
    with pytest.raises(IndexUnusable, match=f"index format {BUILDER_VERSION - 1}") as exc:
        load(idx)
    assert exc.value.reference == "index-stale" and "raybot index build" in exc.value.hint


def test_build_refuses_a_broken_kb(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "bad.md").write_text("no front matter\n")
    with pytest.raises(KBError) as exc:
        build(kb, tmp_path / "index")
    assert "raybot kb lint" in exc.value.hint
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_stale_index_is_rebuilt_on_first_question(small_index, tmp_path):
    from raybot.retrieve import open_retriever

    kb, idx = copy_index(small_index, tmp_path)
    (kb / "owner-error.md").write_text((kb / "owner-error.md").read_text() + "\nOne more line.\n")
    notes: list[str] = []
    retriever = open_retriever(kb, idx, notes=notes)
    assert any("stale" in n and "rebuilding" in n for n in notes)
    assert status(kb, idx).state == "fresh"
    assert retriever.search("OwnerDiedError", k=1)[0].entry == "owner-error"


def test_shipped_index_is_fresh():
    """Fails when kb/ changed but index/ was not rebuilt: run `raybot index build`."""
    st = status(ROOT / "kb", ROOT / "index")
    assert st.state == "fresh", st.detail


def test_lexical_tables_that_disagree_with_the_chunks_are_refused(small_index, tmp_path):
    from raybot.index import _sha

    kb, idx = copy_index(small_index, tmp_path)
    lexical = json.loads((idx / "lexical.json").read_text())
    lexical["doc_len"] = lexical["doc_len"][:-1]  # one chunk fewer than chunks.json
    blob = json.dumps(lexical).encode()
    (idx / "lexical.json").write_bytes(blob)
    manifest = json.loads((idx / "manifest.json").read_text())
    manifest["files"]["lexical.json"] = _sha(blob)  # a consistent hash: only the content check can tell
    (idx / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexUnusable, match="cannot be read") as exc:
        load(idx)
    assert "raybot index build" in exc.value.hint


def test_stored_lexical_tables_are_what_the_chunks_and_entries_give(small_index):
    from collections import Counter

    from raybot.index import posting_count, posting_pairs
    from raybot.tokens import tokenize, topic_words

    loaded = load(small_index[1])
    post, doc_len = loaded.lexical["postings"], loaded.lexical["doc_len"]
    for i, chunk in enumerate(loaded.chunks):
        counts = Counter(tokenize(chunk["text"]))
        assert doc_len[i] == sum(counts.values())
        for term, n in counts.items():
            pairs = posting_pairs(post[term])
            assert n == dict(zip(pairs[::2], pairs[1::2], strict=True))[i]
            assert posting_count(post[term]) == len(pairs) // 2
    df = Counter(t for e in loaded.entries.values() for t in set(tokenize(e.text())))
    assert loaded.lexical["entry_df"] == dict(df)
    topic = Counter(w for e in loaded.entries.values() for w in topic_words(" ".join([e.title, " ".join(e.tags)])))
    assert loaded.lexical["topic"] == dict(topic) and topic


def test_the_questions_of_short_answers_are_question_chunks():
    # An entry answers the questions of its `answers:` as much as its `questions:` lines; both are
    # embedded as "question" chunks (each once).
    from raybot.index import chunk_entry
    from raybot.kb import load_kb

    entries, _ = load_kb(ROOT / "kb")
    [entry] = [e for e in entries if e.id == "task-exceptions-raytaskerror"]
    asked = [c.text for c in chunk_entry(entry) if c.section == "question"]
    assert entry.answers and all(a.question in asked for a in entry.answers)
    assert all(q in asked for q in entry.questions) and len(asked) == len(set(asked))


def _same_size_edit(path):
    """Change one word of ``path`` keeping its size, and set its mtime back to what it was."""
    import os

    before = path.stat()
    text = path.read_text()
    assert "is lost." in text
    path.write_text(text.replace("is lost.", "is gone."))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_remembered_digests_still_see_an_edit_that_keeps_size_and_mtime(small_index, tmp_path, monkeypatch):
    from raybot import digests

    monkeypatch.setattr(digests, "SETTLED_NS", 0)  # remember files at once (normally: after 2 s)
    kb, idx = copy_index(small_index, tmp_path)
    cache = tmp_path / "cache" / "digests.json"
    d = digests.Digests(cache)
    assert status(kb, idx, verify_files=False, digests=d).state == "fresh"
    d.save()
    d = digests.Digests(cache)
    assert d.digest(kb / "soft-limit.md", only_known=True) == digests.sha256((kb / "soft-limit.md").read_bytes())
    _same_size_edit(kb / "owner-error.md")
    st = status(kb, idx, verify_files=False, digests=d)
    assert st.state == "stale" and st.changed == ["owner-error.md"]


def test_remembered_vectors_are_read_by_faiss_and_damage_is_still_seen(small_index, tmp_path, monkeypatch):
    from raybot import digests

    monkeypatch.setattr(digests, "SETTLED_NS", 0)
    kb, idx = copy_index(small_index, tmp_path)
    cache = tmp_path / "cache" / "digests.json"
    d = digests.Digests(cache)
    first = load(idx, d)
    d.save()
    d = digests.Digests(cache)
    assert d.digest(idx / "vectors.faiss", only_known=True) is not None
    again = load(idx, d)  # the path where FAISS opens the file itself
    a, b = again.faiss_index, first.faiss_index
    assert (a.ntotal, a.d) == (b.ntotal, b.d)
    assert (a.reconstruct_n(0, a.ntotal) == b.reconstruct_n(0, b.ntotal)).all()
    data = (idx / "vectors.faiss").read_bytes()
    (idx / "vectors.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexUnusable, match="hash mismatch"):
        load(idx, digests.Digests(cache))


def test_a_damaged_or_unwritable_digest_cache_is_ignored(small_index, tmp_path, monkeypatch):
    from raybot import digests

    monkeypatch.setattr(digests, "SETTLED_NS", 0)
    kb, _ = copy_index(small_index, tmp_path)
    path = kb / "soft-limit.md"
    cache = tmp_path / "digests.json"
    for garbage in (b"{not json", b"[]", b'{"version": 1, "files": {"x": 1}}', b"\xff\xfe"):
        cache.write_bytes(garbage)
        d = digests.Digests(cache)
        assert d.digest(path) == digests.sha256(path.read_bytes())
        d.save()
        assert json.loads(cache.read_bytes())["version"] == digests.CACHE_VERSION
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory would go")
    d = digests.Digests(blocker / "cache" / "digests.json")
    assert d.digest(path) == digests.sha256(path.read_bytes())
    d.save()  # cannot be written: no error, nothing lost


def test_the_answer_path_remembers_digests_in_the_cache_dir(small_index, tmp_path, monkeypatch):
    from raybot import digests
    from raybot.retrieve import open_retriever

    monkeypatch.setattr(digests, "SETTLED_NS", 0)
    monkeypatch.setenv("RAYBOT_CACHE", str(tmp_path / "cache"))
    kb, idx = copy_index(small_index, tmp_path)
    open_retriever(kb, idx)
    remembered = json.loads((tmp_path / "cache" / digests.CACHE_FILE).read_bytes())["files"]
    assert str(idx / "vectors.faiss") in remembered and str(kb / "owner-error.md") in remembered
    _same_size_edit(kb / "owner-error.md")
    notes: list[str] = []
    retriever = open_retriever(kb, idx, notes=notes)
    assert any("stale" in n and "rebuilding" in n for n in notes)
    assert retriever.search("OwnerDiedError", k=1)[0].entry == "owner-error"
