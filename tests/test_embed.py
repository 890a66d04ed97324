"""The NumPy query encoder computes what sentence-transformers computes (real model)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import DATA

from raybot.embed import NumpyEncoder, build_encoder, resolve_model
from raybot.errors import ModelError

pytestmark = pytest.mark.model


def test_numpy_encoder_matches_sentence_transformers_on_dev_set():
    questions = [
        json.loads(line)["question"] for line in (DATA / "dev_questions.jsonl").read_text().splitlines() if line.strip()
    ]
    questions += ["x" * 3000, "ray::IDLE", "ReferenceCountingAssertionError('00f7ac668d3063a5ffff')"]
    spec = resolve_model()
    fast = NumpyEncoder(spec).encode(questions)
    ref = build_encoder(spec).encode(questions, normalize_embeddings=True, convert_to_numpy=True)
    cos = (fast * ref).sum(axis=1)
    assert fast.shape == ref.shape == (len(questions), 384)
    assert cos.min() >= 0.999, (cos.min(), questions[int(cos.argmin())])
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError) as exc:
        resolve_model(str(tmp_path / "no-model-here"))
    assert "RAYBOT_MODEL" in exc.value.hint


def _model_copy(tmp_path, name: str):
    """A copy of the bundled model (big files linked, configs copied so they can be edited)."""
    import shutil

    src = resolve_model().path
    dst = tmp_path / name
    shutil.copytree(src, dst, copy_function=os.link if _same_fs(src, tmp_path) else shutil.copy2)
    for cfg in dst.rglob("*.json"):
        data = cfg.read_bytes()
        cfg.unlink()
        cfg.write_bytes(data)
    return dst


def _same_fs(a, b) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def test_cls_pooled_model_is_refused(tmp_path):
    model = _model_copy(tmp_path, "cls-model")
    cfg = model / "1_Pooling" / "config.json"
    pooling = json.loads(cfg.read_text())
    pooling.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    cfg.write_text(json.dumps(pooling))
    with pytest.raises(ModelError) as exc:
        NumpyEncoder(resolve_model(str(model)))
    assert exc.value.reference == "model-unsupported" and "cls_token" in exc.value.message


def test_model_with_only_pytorch_bin_fails_at_build_not_at_first_query(tmp_path):
    import torch
    from helpers import SMALL_KB
    from safetensors.numpy import load_file

    from raybot.index import build

    model = _model_copy(tmp_path, "bin-model")
    weights = load_file(str(model / "model.safetensors"))
    torch.save({k: torch.from_numpy(v.copy()) for k, v in weights.items()}, model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    index = tmp_path / "index"
    with pytest.raises(ModelError) as exc:
        build(SMALL_KB, index, model=str(model))
    assert exc.value.reference == "model-unsupported" and "safetensors" in exc.value.message
    assert not (index / "manifest.json").exists()


def test_encoders_that_disagree_on_probes_are_refused():
    from raybot.embed import MIN_PROBE_COSINE, compare_encoders

    spec = resolve_model()
    real = build_encoder(spec)
    assert compare_encoders(spec, real) >= MIN_PROBE_COSINE

    class FirstTokenPooling:  # what a CLS-pooled model would give: real vectors, other pooling
        def encode(self, texts, **kwargs):
            out = real.encode(texts, output_value="token_embeddings", convert_to_numpy=False)
            return np.stack([t[0].cpu().numpy() for t in out])

    with pytest.raises(ModelError) as exc:
        compare_encoders(spec, FirstTokenPooling())
    assert exc.value.reference == "model-unsupported"


def test_prepared_weights_cache_gives_the_same_vectors(tmp_path, monkeypatch):
    # The transposed matmul weights are kept in RAYBOT_CACHE and mapped from there on the next
    # start (README "Quality and speed"); the vectors must be the same bits as when built.
    from raybot.embed import PROBES

    texts = [*PROBES, "why do ray::IDLE workers keep memory", "x" * 3000]
    monkeypatch.setenv("RAYBOT_CACHE", str(tmp_path / "cache"))
    built = NumpyEncoder(resolve_model())
    files = list((tmp_path / "cache").glob("encoder-*.f32"))
    assert len(files) == 1 and files[0].stat().st_size > 40_000_000
    mapped = NumpyEncoder(resolve_model())
    assert isinstance(mapped.layers[0][0], np.memmap) and isinstance(mapped.layers[-1][7], np.memmap)
    assert mapped.encode(texts).tobytes() == built.encode(texts).tobytes()
    # A cache file of the wrong size (a crash mid-write elsewhere) is not used, and is replaced.
    files[0].write_bytes(b"\0" * 1024)
    again = NumpyEncoder(resolve_model())
    assert not isinstance(again.layers[0][0], np.memmap)
    assert again.encode(texts).tobytes() == built.encode(texts).tobytes()
    assert files[0].stat().st_size > 40_000_000
    # A cache directory that cannot be made (a file is in the way): built in memory, same vectors.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("RAYBOT_CACHE", str(blocker / "cache"))
    assert NumpyEncoder(resolve_model()).encode(texts).tobytes() == built.encode(texts).tobytes()


def _rust_ids(encoder: NumpyEncoder, text: str) -> list[int]:
    return list(encoder._rust_tokenizer().encode(text).ids)


def test_python_wordpiece_gives_the_rust_tokenizers_ids(tmp_path, monkeypatch):
    # Plain-ASCII text is tokenized in Python (README "Quality and speed"); the ids must be the
    # `tokenizers` library's, for questions, the whole kb, edge cases and random ASCII.
    import random

    monkeypatch.setenv("RAYBOT_CACHE", str(tmp_path / "cache"))
    encoder = NumpyEncoder(resolve_model())
    assert encoder._wordpiece is not None and encoder._tokenizer is None
    rust = encoder._rust_tokenizer()
    texts = [
        json.loads(line)["question"] for line in (DATA / "dev_questions.jsonl").read_text().splitlines() if line.strip()
    ]
    from raybot import paths
    from raybot.index import chunk_entry
    from raybot.kb import load_kb

    entries, _ = load_kb(paths.kb_dir())
    texts += [c.text for e in entries for c in chunk_entry(e)] + [e.text() for e in entries]
    texts += ["", " ", "[CLS]", "a [MASK] b", "[mask] x", "[SEP", "x" * 3000, "a" * 100, "a" * 101, "##", "## ab"]
    texts += ["\t\n\r", "zzqqxxvv", "ray::IDLE", "RAY_kill_idle_workers_interval_ms=0", "1234567890123", "a.b,c;d"]
    texts += [" ".join(["memory"] * 400), "don't", "x@y.z ~/.ray/session_latest/logs/raylet.out"]
    rng = random.Random(9)
    alphabet = [chr(c) for c in range(32, 127)] + ["\t", "\n", "\r"]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(0, 60))) for _ in range(2000)]
    vocab = sorted(encoder._wordpiece.vocab)
    for _ in range(300):
        texts.append(" ".join(w.removeprefix("##") + rng.choice(["", "s", "ing"]) for w in rng.choices(vocab, k=30)))
    fast = 0
    for text in texts:
        ids = encoder.token_ids(text)
        assert ids == list(rust.encode(text).ids), text
        fast += encoder._wordpiece.ids(text) is not None
    assert fast > 0.8 * len(texts)  # the kb has some non-ASCII punctuation (dashes, arrows)
    # Anything else goes to the Rust tokenizer: non-ASCII, control characters, added tokens.
    for text in ["café naïve", "ＲＡＹ", "a\x0bb", "\x00", "what is [MASK]?", "日本語 ray"]:
        assert encoder._wordpiece.ids(text) is None
        assert encoder.token_ids(text) == _rust_ids(encoder, text)
    # The checked vocabulary is remembered: the next encoder reads it from the cache, same ids.
    assert len(list((tmp_path / "cache").glob("wordpiece-*.txt"))) == 1
    again = NumpyEncoder(resolve_model())
    assert again._wordpiece is not None and again._wordpiece.vocab == encoder._wordpiece.vocab
    assert again.token_ids(texts[0]) == encoder.token_ids(texts[0])


def test_python_wordpiece_is_used_only_for_the_pipeline_it_implements(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYBOT_CACHE", str(tmp_path / "cache"))
    model = _model_copy(tmp_path, "cased-model")
    cfg_path = model / "tokenizer.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["normalizer"]["lowercase"] = False  # another pipeline: the Rust tokenizer for every text
    cfg_path.write_text(json.dumps(cfg))
    encoder = NumpyEncoder(resolve_model(str(model)))
    assert encoder._wordpiece is None and encoder._tokenizer is not None
    assert encoder.token_ids("Ray Worker") == _rust_ids(encoder, "Ray Worker")
    # A damaged cache file is not trusted: the tokenizer.json is checked again.
    bundled = resolve_model().path / "tokenizer.json"
    first = NumpyEncoder(resolve_model())
    for cached in (tmp_path / "cache").glob("wordpiece-*.txt"):
        cached.write_text('{"unk": "[UNK]", "size": 3}\nonly\ntwo')
    damaged = NumpyEncoder(resolve_model())
    assert damaged._wordpiece is not None and damaged._wordpiece.vocab == first._wordpiece.vocab
    assert bundled.is_file()


def test_cache_keeps_only_the_newest_files_of_each_kind(tmp_path, monkeypatch):
    # Each virtualenv has its own model path, so its own cache key: without pruning, a machine
    # that makes a fresh virtualenv per CI run gains a 42 MB encoder file per run.
    from raybot.embed import CACHE_KEEP, prune_cache

    cache = tmp_path / "cache"
    cache.mkdir()
    for i in range(5):  # older files first
        for kind, suffix in (("encoder", "f32"), ("wordpiece", "txt")):
            f = cache / f"{kind}-{i:024d}.{suffix}"
            f.write_bytes(b"x")
            os.utime(f, (0, 1_000_000 + i * 3600))
    stale_temp = cache / ".encoder-abc.f32.tmp123"
    stale_temp.write_bytes(b"x")
    os.utime(stale_temp, (0, 1_000_000))
    young_temp = cache / ".encoder-def.f32.tmp456"  # another process may be writing it now
    young_temp.write_bytes(b"x")
    other = cache / "notes.txt"
    other.write_text("not ours to remove")

    written = cache / f"encoder-{'n' * 24}.f32"
    written.write_bytes(b"new")
    removed = prune_cache(written, "encoder-*.f32")
    left = sorted(f.name for f in cache.glob("encoder-*.f32"))
    # The new file and the CACHE_KEEP - 1 most recent others stay; nothing else is touched.
    assert CACHE_KEEP == 3
    assert left == sorted([written.name, f"encoder-{4:024d}.f32", f"encoder-{3:024d}.f32"])
    assert stale_temp in removed and not stale_temp.exists() and young_temp.exists() and other.exists()
    assert len(list(cache.glob("wordpiece-*.txt"))) == 5

    # The real write path prunes too: building an encoder with this cache directory leaves at most
    # CACHE_KEEP files of each kind, the ones it wrote among them.
    monkeypatch.setenv("RAYBOT_CACHE", str(cache))
    NumpyEncoder(resolve_model())
    encoders = list(cache.glob("encoder-*.f32"))
    wordpieces = list(cache.glob("wordpiece-*.txt"))
    assert len(encoders) == CACHE_KEEP and len(wordpieces) == CACHE_KEEP
    assert max(f.stat().st_size for f in encoders) > 40_000_000
    assert any(f.stat().st_size > 100_000 for f in wordpieces)
    # A cache directory that disappeared in between: nothing to prune, no error.
    assert prune_cache(tmp_path / "gone" / "encoder-x.f32", "encoder-*.f32") == []
