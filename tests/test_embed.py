"""The NumPy query encoder computes what sentence-transformers computes (real model)."""

from __future__ import annotations

import json

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
