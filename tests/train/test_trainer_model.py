import pytest
import torch

from datamill.train.config import ModelConfig
from datamill.train.model import Transformer, doc_mask


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny(**kw) -> Transformer:
    torch.manual_seed(0)
    base = dict(vocab_size=101, pad_vocab_multiple=1, n_layer=2, n_head=4, n_kv_head=2, d_model=32, max_seq_len=64)
    return Transformer(ModelConfig(**{**base, **kw}).resolved(101, 64)).eval()


def test_resolved_config_derives_sizes():
    cfg = ModelConfig(d_model=768, n_head=12).resolved(vocab_size=50257, seq_len=1024)
    assert cfg.vocab_size == 50304 and cfg.n_kv_head == 12 and cfg.max_seq_len == 1024
    assert cfg.ffn_hidden == 2048  # 8/3 * 768: the same MLP parameters as GPT-2's 4x GELU MLP


def test_124m_parameter_count():
    cfg = ModelConfig().resolved(vocab_size=50304, seq_len=1024)
    with torch.device("meta"):
        n = Transformer(cfg).num_params()
    assert 123e6 < n < 125e6  # GPT-2 small without its 0.8M learned positions


@torch.no_grad()
def test_causal_without_doc_ids():
    m = tiny()
    x = torch.randint(0, 101, (2, 20))
    y = x.clone()
    y[:, 10:] = torch.randint(0, 101, (2, 10))
    assert torch.allclose(m(x)[:, :10], m(y)[:, :10], atol=1e-6)  # the future does not leak
    assert not torch.allclose(m(x)[:, 10:], m(y)[:, 10:])


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("kind", ["sdpa_mask", "flex"])
@torch.no_grad()
def test_packed_documents_do_not_attend_across(kind):
    m = tiny()
    x = torch.randint(0, 101, (2, 24))
    doc = torch.tensor([[0] * 7 + [1] * 9 + [2] * 8, [0] * 24], dtype=torch.int32)
    packed = m(x, attn_mask=doc_mask(doc, kind))
    # each document alone gives the same logits (RoPE is relative, so offsets do not matter)
    for a, b in [(0, 7), (7, 16), (16, 24)]:
        alone = m(x[:1, a:b])
        torch.testing.assert_close(packed[0, a:b], alone[0], atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(packed[1], m(x[1:])[0], atol=2e-5, rtol=1e-4)  # one doc: plain causal
    leaky = m(x)  # without the mask, the second document sees the first
    assert not torch.allclose(leaky[0, 7:16], packed[0, 7:16], atol=1e-4)


def test_loss_mask_ignores_masked_targets():
    m = tiny()
    x = torch.randint(0, 101, (2, 16))
    t = torch.randint(0, 101, (2, 16))
    mask = torch.ones(2, 16)
    mask[:, :4] = 0
    t2 = t.clone()
    t2[:, :4] = (t[:, :4] + 1) % 101  # change only masked targets
    assert torch.equal(m(x, t, mask), m(x, t2, mask))
    assert m(x, t, torch.zeros(2, 16)).item() == 0.0  # all-prefix block: no NaN
    full = m(x, t, torch.ones(2, 16))
    torch.testing.assert_close(full, m(x, t))  # all ones == plain mean


def test_gqa_and_tied_weights():
    m = tiny(n_head=4, n_kv_head=1)
    attn = m.layers[0].attn
    assert attn.q_proj.weight.shape == (4 * 8, 32) and attn.k_proj.weight.shape == attn.v_proj.weight.shape == (8, 32)
    assert m.lm_head.weight is m.embed.weight
    untied = tiny(tie_embeddings=False)
    assert untied.lm_head.weight is not untied.embed.weight
    assert untied.num_params() == tiny().num_params() + 101 * 32  # only the output head adds
    with pytest.raises(ValueError, match="n_kv_head"):
        tiny(n_head=4, n_kv_head=3)
