"""The FAISS index of the knowledge base and its manifest.

An index directory holds:

* ``vectors.faiss``: an inner-product FAISS index of normalised chunk embeddings;
* ``entries.json``: every entry's metadata and sections, so answering never parses YAML;
* ``chunks.json``: for each vector, the entry id, section and text it was built from;
* ``lexical.json``: the BM25 postings of the chunks, each term's entry frequency, the kb's
  topic words and the word tables of the typo check (``raybot.typos``), so that answering does
  not tokenize the whole corpus at start-up;
* ``scope.json``: the out-of-scope areas of ``kb/SCOPE.yaml`` and their embeddings;
* ``manifest.json``: builder version, model name and weights hash, dimension, and the
  sha256 of every entry file and of each data file, so a stale, foreign or damaged
  index is detected before it is used.

Files are written with sorted keys and no timestamps: building twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raybot.digests import Digests
from raybot.errors import IndexUnusable, KBError

if TYPE_CHECKING:
    from raybot.embed import ModelSpec
    from raybot.kb import Entry

BUILDER_VERSION = 9  # 9: postings stored as strings, topic words stored
#: The oldest builder version whose vectors embed a chunk's text as this one does (same text and
#: model weights, same vector): a rebuild after a format change reuses them instead of embedding
#: every chunk again (minutes, and last-bit differences from another batching).
VECTORS_SINCE = 8
FILES = ("vectors.faiss", "entries.json", "chunks.json", "lexical.json", "scope.json")
SCOPE_FILE = "SCOPE.yaml"
CHUNK_WORDS = 110


@dataclass(frozen=True)
class Chunk:
    entry: str
    section: str  #: "title", "question" or an entry section name
    text: str


@dataclass
class IndexStatus:
    state: str  #: fresh | stale | missing | corrupt
    index_dir: Path
    kb_dir: Path
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    detail: str = ""
    model: str = ""
    entries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "index_dir": str(self.index_dir),
            "kb_dir": str(self.kb_dir),
            "model": self.model,
            "entries": self.entries,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "detail": self.detail,
        }


def _strip_markdown(text: str) -> str:
    text = re.sub(r"```[^\n]*\n", "", text)
    text = text.replace("```", "")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return re.sub(r"[*`>#|]", " ", text)


def _split_words(text: str, size: int) -> list[str]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    current: list[str] = []
    for para in paragraphs:
        words = para.split()
        while len(words) > size:  # a huge paragraph is cut into pieces of `size` words
            if current:
                chunks.append(" ".join(current))
                current = []
            chunks.append(" ".join(words[:size]))
            words = words[size:]
        if len(current) + len(words) > size and current:
            chunks.append(" ".join(current))
            current = []
        current.extend(words)
    if current:
        chunks.append(" ".join(current))
    return chunks


def chunk_entry(entry: Entry) -> list[Chunk]:
    """Section-level chunks that keep their entry id and section name."""
    head = f"{entry.title}. Tags: {', '.join(entry.tags)}."
    if entry.issue:
        head = f"GitHub issue #{entry.issue.number}: {entry.issue.title} ({entry.issue.state}). {head}"
    chunks = [Chunk(entry.id, "title", head)]
    # The questions an entry answers: its `questions:` lines and the questions of its `answers:`.
    asked = list(dict.fromkeys([*entry.questions, *(a.question for a in entry.answers)]))
    chunks += [Chunk(entry.id, "question", q) for q in asked]
    for name, text in entry.sections.items():
        if name == "Example":
            # Code embeds poorly; keep the prose around it and the comments.
            text = re.sub(r"```.*?```", " ", text, flags=re.S)
        for piece in _split_words(_strip_markdown(text), CHUNK_WORDS):
            if len(piece.split()) >= 4:
                chunks.append(Chunk(entry.id, name, f"{entry.title}. {piece}"))
    return chunks


def entry_record(entry: Entry) -> dict[str, Any]:
    return entry.to_record()


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kb_hashes(kb_dir: Path, digests: Digests | None = None) -> dict[str, str]:
    """``{file name: sha256}`` for every entry file; run on every question, so files whose stat
    is unchanged take their digest from ``digests`` (:mod:`raybot.digests`)."""
    from raybot.kb import entry_paths

    d = digests or Digests(None)
    hashes = {p.name: d.digest(p) for p in entry_paths(kb_dir)}
    scope = kb_dir / SCOPE_FILE
    if scope.is_file():
        hashes[SCOPE_FILE] = d.digest(scope)
    return hashes


def read_scope(kb_dir: Path) -> list[str]:
    """The out-of-scope area descriptions in ``kb/SCOPE.yaml`` (empty if there is none)."""
    import yaml

    path = kb_dir / SCOPE_FILE
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
        items = data.get("out_of_scope", [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError("out_of_scope must be a list of strings")
    except (yaml.YAMLError, ValueError, AttributeError) as exc:
        raise KBError(
            f"{path} is invalid: {str(exc).splitlines()[0]}",
            hint="it needs `out_of_scope:` followed by a list of strings",
        ) from exc
    return [i.strip() for i in items if i.strip()]


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = index_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnusable(
            f"the index manifest {path} is not valid JSON ({exc})",
            hint="run `raybot index build` to rebuild it",
            reference="index-corrupt",
        ) from exc
    problem = manifest_problem(manifest)
    if problem:
        raise IndexUnusable(
            f"the index manifest {path} is malformed: {problem}",
            hint="run `raybot index build` to rebuild it",
            reference="index-corrupt",
        )
    return manifest


def manifest_problem(manifest: Any) -> str | None:
    """What is wrong with a parsed manifest's shape (None if it has every field code relies on)."""
    if not isinstance(manifest, dict):
        return "it is not a JSON object"
    if not isinstance(manifest.get("builder_version"), int):
        return "'builder_version' is not an integer"
    model = manifest.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return "'model' is not an object with a 'name'"
    if not isinstance(model.get("sha256"), str) or not isinstance(model.get("source", ""), (str, type(None))):
        return "'model' lacks a 'sha256' string"
    dim = manifest.get("dimension")
    if not isinstance(dim, int) or isinstance(dim, bool) or not 0 < dim <= 65536:
        return "'dimension' is not a positive integer"
    entries = manifest.get("entries")
    if not isinstance(entries, list):
        return "'entries' is not a list"
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) for k in ("id", "path", "sha256")):
            return f"entry {i} is not an object with 'id', 'path' and 'sha256' strings"
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(files.get(n), str) for n in FILES):
        return f"'files' does not map each of {', '.join(FILES)} to a hash"
    if not isinstance(manifest.get("scope_sha256"), (str, type(None))):
        return "'scope_sha256' is neither a string nor null"
    return None


def status(kb_dir: Path, index_dir: Path, *, verify_files: bool = True, digests: Digests | None = None) -> IndexStatus:
    """Compare the index with the kb: fresh, stale (with what changed), missing or corrupt."""
    st = IndexStatus("missing", index_dir, kb_dir)
    try:
        manifest = read_manifest(index_dir)
    except IndexUnusable as exc:
        st.state, st.detail = "corrupt", exc.message
        return st
    if manifest is None:
        st.detail = f"no index at {index_dir}"
        return st
    st.model = str(manifest.get("model", {}).get("name", ""))
    st.entries = len(manifest.get("entries", []))
    if manifest.get("builder_version") != BUILDER_VERSION:
        st.state = "stale"
        st.detail = f"built by index format {manifest.get('builder_version')}, need {BUILDER_VERSION}"
        return st
    from raybot.tokens import TOKENIZER_VERSION

    if manifest.get("tokenizer_version") != TOKENIZER_VERSION:
        # The stored term counts were made by another tokenizer: BM25 would disagree with queries.
        st.state = "stale"
        st.detail = f"built with tokenizer {manifest.get('tokenizer_version')}, need {TOKENIZER_VERSION}"
        return st
    if verify_files:
        for name in FILES:
            path = index_dir / name
            if not path.is_file():
                st.state, st.detail = "corrupt", f"{path} is missing"
                return st
            if (digests or Digests(None)).digest(path) != manifest.get("files", {}).get(name):
                st.state, st.detail = "corrupt", f"{path} does not match its manifest hash"
                return st
    built = {e["path"]: e["sha256"] for e in manifest["entries"]}
    if manifest.get("scope_sha256"):
        built[SCOPE_FILE] = manifest["scope_sha256"]
    current = kb_hashes(kb_dir, digests) if kb_dir.is_dir() else {}
    st.added = sorted(set(current) - set(built))
    st.removed = sorted(set(built) - set(current))
    st.changed = sorted(p for p in set(current) & set(built) if current[p] != built[p])
    if st.added or st.removed or st.changed:
        st.state = "stale"
        st.detail = f"{len(st.added)} added, {len(st.changed)} changed, {len(st.removed)} removed"
    else:
        st.state = "fresh"
    return st


@dataclass
class BuildReport:
    index_dir: Path
    entries: int
    chunks: int
    added: int
    changed: int
    unchanged: int
    removed: int
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile  # only a build writes: answering never imports it

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; index files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build(kb_dir: Path, index_dir: Path, *, model: str | None = None, progress=None) -> BuildReport:
    """Embed every entry and write the index. Reuses vectors of unchanged chunks.

    ``progress(done, total)`` is called while embedding, if given.
    """
    import numpy as np

    from raybot.embed import build_encoder, compare_encoders, resolve_model, weights_sha256
    from raybot.kb import load_kb

    entries, problems = load_kb(kb_dir)
    if problems:
        shown = "; ".join(str(p) for p in problems[:3])
        raise KBError(
            f"the knowledge base has {len(problems)} problem(s): {shown}",
            hint="run `raybot kb lint` and fix the entries",
        )
    spec: ModelSpec = resolve_model(model)
    weights = weights_sha256(spec)
    chunks = [c for e in entries for c in chunk_entry(e)]
    scope = read_scope(kb_dir)

    # Reuse vectors from a previous build with the same model for identical chunk texts.
    old: dict[tuple[str, str, str], Any] = {}
    old_manifest = None
    try:
        old_manifest = read_manifest(index_dir)
    except IndexUnusable:
        old_manifest = None
    if (
        old_manifest
        and old_manifest.get("model", {}).get("sha256") == weights
        and VECTORS_SINCE <= old_manifest.get("builder_version", 0) <= BUILDER_VERSION
    ):
        try:
            old_chunks = json.loads((index_dir / "chunks.json").read_text("utf-8"))
            old_vecs = _read_vectors(index_dir / "vectors.faiss")
            if len(old_chunks) == old_vecs.shape[0]:
                for c, v in zip(old_chunks, old_vecs, strict=True):
                    old[(c["entry"], c["section"], c["text"])] = v
        except (OSError, ValueError, RuntimeError, KeyError, TypeError):
            old = {}

    todo = [i for i, c in enumerate(chunks) if (c.entry, c.section, c.text) not in old]
    vectors: list[Any] = [old.get((c.entry, c.section, c.text)) for c in chunks]
    encoder = build_encoder(spec)
    # Queries are embedded by the NumPy encoder: refuse a model it would embed differently.
    compare_encoders(spec, encoder)
    scope_vecs = (
        encoder.encode(scope, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        if scope
        else np.zeros((0, 384), np.float32)
    )
    if todo:
        batch = 32
        for start in range(0, len(todo), batch):
            ids = todo[start : start + batch]
            embs = encoder.encode(
                [chunks[i].text for i in ids],
                batch_size=batch,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for i, v in zip(ids, embs, strict=True):
                vectors[i] = v
            if progress:
                progress(min(start + batch, len(todo)), len(todo))
    dim = int(vectors[0].shape[0]) if vectors else 384
    matrix = np.ascontiguousarray(np.stack(vectors).astype(np.float32)) if vectors else np.zeros((0, dim), np.float32)

    vec_bytes = _serialize_vectors(matrix)
    entries_bytes = _dump({e.id: entry_record(e) for e in entries})
    from raybot.tokens import TOKENIZER_VERSION

    chunks_bytes = _dump([{"entry": c.entry, "section": c.section, "text": c.text} for c in chunks])
    lexical_bytes = _dump_lexical(lexical_tables(entries, [c.text for c in chunks]))
    scope_bytes = _dump({"out_of_scope": scope, "vectors": [[round(float(x), 6) for x in v] for v in scope_vecs]})
    old_by_path = {e["path"]: e["sha256"] for e in (old_manifest or {}).get("entries", [])}
    manifest = {
        "builder_version": BUILDER_VERSION,
        "tokenizer_version": TOKENIZER_VERSION,
        "model": {"name": spec.name, "source": spec.source, "sha256": weights},
        "dimension": dim,
        "count": int(matrix.shape[0]),
        "entries": [{"id": e.id, "path": e.path.name, "sha256": e.sha256} for e in entries],
        "files": {
            "vectors.faiss": _sha(vec_bytes),
            "entries.json": _sha(entries_bytes),
            "chunks.json": _sha(chunks_bytes),
            "lexical.json": _sha(lexical_bytes),
            "scope.json": _sha(scope_bytes),
        },
        "scope_sha256": _sha((kb_dir / SCOPE_FILE).read_bytes()) if (kb_dir / SCOPE_FILE).is_file() else None,
    }
    # Data files first, manifest last: a crash in between leaves a detectably stale index.
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(index_dir / "vectors.faiss", vec_bytes)
        _atomic_write(index_dir / "entries.json", entries_bytes)
        _atomic_write(index_dir / "chunks.json", chunks_bytes)
        _atomic_write(index_dir / "lexical.json", lexical_bytes)
        _atomic_write(index_dir / "scope.json", scope_bytes)
        _atomic_write(index_dir / "manifest.json", _dump(manifest))
    except OSError as exc:
        raise IndexUnusable(
            f"cannot write the index to {index_dir}: {exc.strerror or exc}",
            hint="set RAYBOT_INDEX (or --index-dir) to a writable directory",
            reference="index-unwritable",
        ) from exc
    paths_now = {e.path.name: e.sha256 for e in entries}
    return BuildReport(
        index_dir=index_dir,
        entries=len(entries),
        chunks=len(chunks),
        added=sum(1 for p in paths_now if p not in old_by_path),
        changed=sum(1 for p, h in paths_now.items() if p in old_by_path and old_by_path[p] != h),
        unchanged=sum(1 for p, h in paths_now.items() if old_by_path.get(p) == h),
        removed=sum(1 for p in old_by_path if p not in paths_now),
        model=spec.name,
    )


def lexical_tables(entries: list[Entry], chunk_texts: list[str]) -> dict[str, Any]:
    """What BM25 and key-ask coverage need, computed once at build time:

    * ``postings``: term -> ``"chunk count chunk count ..."`` (chunks in order; a string, which
      JSON parses ~10x faster than a list of numbers: only the question's terms are split, see
      :func:`posting_pairs`);
    * ``doc_len``: number of terms of each chunk;
    * ``entry_df``: term -> number of entries whose text uses it (stems left out);
    * ``topic``: word -> number of entries whose title and tags are about it
      (:func:`raybot.tokens.topic_words`);
    * ``surface``: each plain word of four letters or more, as written -> number of entries using it,
      and ``english_near``: the English words one typing slip from one of them (see
      :func:`raybot.typos.english_near`), so that a misspelt word of a question is recognised
      without loading an English word list when answering.
    """
    from collections import Counter

    from raybot.tokens import tokenize, topic_words

    postings: dict[str, list[int]] = {}
    doc_len: list[int] = []
    for i, text in enumerate(chunk_texts):
        counts = Counter(tokenize(text))
        doc_len.append(sum(counts.values()))
        for term, n in sorted(counts.items()):
            postings.setdefault(term, []).extend((i, n))
    df: Counter[str] = Counter()
    for e in entries:
        df.update(set(tokenize(e.text())))  # each entry counts once per word it uses
    topic: Counter[str] = Counter()
    for e in entries:
        topic.update(topic_words(" ".join([e.title, " ".join(e.tags)])))
    from raybot import typos

    surface = typos.surface_words(e.text() for e in entries)
    return {
        "postings": {t: " ".join(map(str, flat)) for t, flat in postings.items()},
        "doc_len": doc_len,
        "entry_df": dict(df),
        "topic": dict(topic),
        "surface": surface,
        "english_near": typos.english_near(surface),
    }


def posting_pairs(encoded: str) -> list[int]:
    """A stored posting string as the flat ``[chunk, count, chunk, count, ...]`` list."""
    return [int(x) for x in encoded.split()]


def posting_count(encoded: str) -> int:
    """How many chunks a stored posting string lists (without splitting it)."""
    return (encoded.count(" ") + 1) // 2


def _dump_lexical(tables: dict[str, Any]) -> bytes:
    """Compact JSON with one term per line: small to load, readable as a diff."""
    lines = []
    for key in sorted(tables):
        value = tables[key]
        if isinstance(value, dict):
            body = ",\n".join(
                f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, separators=(',', ':'))}"
                for k, v in sorted(value.items())
            )
            lines.append(f"{json.dumps(key)}:{{\n{body}\n}}")
        else:
            lines.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def _serialize_vectors(matrix) -> bytes:
    import faiss

    index = faiss.IndexFlatIP(matrix.shape[1])
    if matrix.shape[0]:
        index.add(matrix)
    return faiss.serialize_index(index).tobytes()


def _read_faiss(data: bytes):
    """The FAISS index serialized in ``data`` (the very bytes whose hash was checked).

    Read with ``faiss.deserialize_index``. FAISS's Python callback reader was ~5 ms faster for a
    4 MB index, but a CI rehearsal with it ended in a segmentation fault as pytest exited (cause
    not found; the callback reader holds a Python callable in C++), so the plain copy it is.
    """
    import faiss
    import numpy as np

    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))


def _read_faiss_file(path: Path):
    """The FAISS index in the file at ``path``, read by FAISS's own file reader."""
    import faiss

    return faiss.read_index(str(path))


def _read_vectors(path: Path):
    import faiss
    import numpy as np

    index = faiss.deserialize_index(np.frombuffer(path.read_bytes(), dtype=np.uint8))
    return index.reconstruct_n(0, index.ntotal)


@dataclass
class LoadedIndex:
    """What answering needs, loaded once per process."""

    index_dir: Path
    manifest: dict[str, Any]
    faiss_index: Any
    entries: dict[str, Entry]  #: typed entries, rebuilt from entries.json
    chunks: list[dict[str, Any]]
    scope: list[str] = field(default_factory=list)  #: out-of-scope area descriptions
    scope_vectors: Any = None
    lexical: dict[str, Any] = field(default_factory=dict)  #: see :func:`lexical_tables`

    @property
    def model_name(self) -> str:
        return str(self.manifest["model"]["name"])

    @property
    def model_source(self) -> str:
        return str(self.manifest["model"].get("source") or self.model_name)

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])


def load(index_dir: Path, digests: Digests | None = None) -> LoadedIndex:
    """Load and validate an index; every failure becomes an :class:`IndexUnusable`."""
    import numpy as np

    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexUnusable(f"no index at {index_dir}", hint="run `raybot index build`", reference="index-missing")
    if manifest.get("builder_version") != BUILDER_VERSION:
        # Another format reads as damaged further down; say what it is instead.
        raise IndexUnusable(
            f"the index in {index_dir} was built by index format {manifest.get('builder_version')};"
            f" this raybot reads format {BUILDER_VERSION}",
            hint="run `raybot index build` to rebuild it (vectors of format 8 on are reused)",
            reference="index-stale",
        )
    blobs: dict[str, bytes] = {}
    vectors: bytes | None = None
    d = digests or Digests(None)
    for name in FILES:
        path = index_dir / name
        try:
            known = d.digest(path, only_known=True) if name == "vectors.faiss" else None
            if known is not None:
                # Hashed before with this very stat: FAISS reads the file itself (no copy
                # through Python), ~8 ms less per start. Otherwise its bytes are read, hashed
                # and parsed, so what was checked is what is used.
                digest = known
            else:
                blobs[name], digest = d.read(path)
                if name == "vectors.faiss":
                    vectors = blobs.pop(name)
        except OSError as exc:
            raise IndexUnusable(
                f"cannot read {path}: {exc.strerror or exc}", hint="run `raybot index build`", reference="index-corrupt"
            ) from exc
        if digest != manifest.get("files", {}).get(name):
            raise IndexUnusable(
                f"{path} is damaged or was changed after the index was built (hash mismatch)",
                hint="run `raybot index build` to rebuild the index",
                reference="index-corrupt",
            )
    try:
        index = _read_faiss(vectors) if vectors is not None else _read_faiss_file(index_dir / "vectors.faiss")
        # orjson parses the ~6 MB of records in half the time of the json module (~10 ms a start).
        import orjson

        from raybot.kb import Entry

        entries = {k: Entry.from_record(v) for k, v in orjson.loads(blobs["entries.json"]).items()}
        chunks = orjson.loads(blobs["chunks.json"])
        scope = orjson.loads(blobs["scope.json"])
        lexical = orjson.loads(blobs["lexical.json"])
        if (
            not isinstance(lexical.get("postings"), dict)
            or not isinstance(lexical.get("topic"), dict)
            or len(lexical.get("doc_len", ())) != len(chunks)
        ):
            raise ValueError("lexical.json does not match chunks.json")
        scope_vectors = np.asarray(scope["vectors"], dtype=np.float32).reshape(-1, index.d)
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexUnusable(
            f"the index in {index_dir} cannot be read ({str(exc).splitlines()[0]})",
            hint="run `raybot index build`",
            reference="index-corrupt",
        ) from exc
    if index.d != manifest.get("dimension") or index.ntotal != len(chunks):
        raise IndexUnusable(
            f"the index in {index_dir} has dimension {index.d} and {index.ntotal} vectors, but its "
            f"manifest says {manifest.get('dimension')} and {len(chunks)} chunks",
            hint="run `raybot index build`",
            reference="index-corrupt",
        )
    return LoadedIndex(index_dir, manifest, index, entries, chunks, scope["out_of_scope"], scope_vectors, lexical)
