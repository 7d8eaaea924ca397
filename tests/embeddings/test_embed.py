"""The real bundled model, through the cache."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import Embedder

pytestmark = pytest.mark.slow

DRIFT = "When the supplier changed, the images drifted and the model missed defects until we retrained it."
LABELS = "Operators disagreed on borderline scratches, so we wrote a labelling guide with example images."


@pytest.fixture(scope="module")
def shared_model():
    return Embedder(show_progress=False).model


def embedder(tmp_path, shared_model, **kwargs):
    e = Embedder(cache_dir=tmp_path / "cache", show_progress=False, **kwargs)
    e.__dict__["model"] = shared_model  # one load of the real model for the module
    return e


def test_vectors_are_unit_length_and_meaningful(tmp_path, shared_model):
    e = embedder(tmp_path, shared_model)
    v = e.embed([DRIFT, LABELS, "Our model drifted after the supplier change and we had to retrain."])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[2] > v[1] @ v[2]


def test_second_run_embeds_nothing_and_gives_the_same_vectors(tmp_path, shared_model):
    first = embedder(tmp_path, shared_model)
    a = first.embed([DRIFT, LABELS])
    again = Embedder(cache_dir=tmp_path / "cache", show_progress=False)  # a new process would look like this
    b = again.embed([DRIFT, LABELS])
    assert again.stats.embedded == 0 and again.stats.from_cache == 2
    assert "model" not in again.__dict__  # the model was never loaded
    assert np.array_equal(a, b)
    changed = again.embed([DRIFT, LABELS + " It helped."])
    assert again.stats.embedded == 1
    assert np.array_equal(changed[0], a[0])


def test_cache_is_keyed_by_model_identity(tmp_path, shared_model):
    e = embedder(tmp_path, shared_model)
    e.embed([DRIFT])
    other = embedder(tmp_path, shared_model)
    other.__dict__["model_id"] = e.model_id + "|another-model"
    other.embed([DRIFT])
    assert other.stats.embedded == 1


def test_long_answer_is_chunked_not_truncated(tmp_path, shared_model):
    e = embedder(tmp_path, shared_model)
    head = " ".join(["We spent weeks cleaning missing values in the claims data from three legacy systems."] * 25)
    tail = "Finally, deployment failed because the serving container had another library version than training."
    text = f"{head} {tail}"
    pieces = e.chunks(text)
    assert len(pieces) >= 2
    # counted with the model's own tokenizer: each piece fits the model
    assert all(len(e.model.tokenizer(p, add_special_tokens=False)["input_ids"]) <= e.max_tokens for p in pieces)
    assert " ".join(pieces).split() == text.split()  # nothing lost between pieces
    suite = e.embed([text])[0]
    plain = e.encode_plain([text])[0]  # the model's own encode truncates at its limit
    about_tail = e.encode_plain([tail])[0]
    assert suite @ about_tail > plain @ about_tail
    assert e.stats.chunked_texts == 1
