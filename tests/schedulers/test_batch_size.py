from contextlib import nullcontext

import numpy as np
import pytest
import torch

from datamill.schedulers.batch_size import LinearRamp, NormTest, norm_test
from datamill.train.batches import Micro
from datamill.train.loop import train_step


class Regression(torch.nn.Module):
    """A linear model with the trainer's forward signature: (inputs, targets, mask, attn) -> loss."""

    def __init__(self, dim: int, init: float):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((dim,), init))

    def forward(self, x, y, loss_mask=None, attn_mask=None):
        return ((x @ self.w - y) ** 2).mean()


def _micros(n, rows, dim, noise, rng, same=False):
    w_true = torch.ones(dim)
    out = []
    for i in range(n):
        g = torch.Generator().manual_seed(int(rng.integers(1 << 30)) if not same else 7)
        x = torch.randn(rows, dim, generator=g)
        y = x @ w_true + noise * torch.randn(rows, generator=g)
        out.append(Micro(x, y, None))
    return out


def _run(test: NormTest, steps, *, noise, init, same=False, rows=64, dim=4, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Regression(dim, init)
    test.attach(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sizes = []
    for step in range(steps):
        n = test.grad_accum(step)
        sizes.append(n)
        train_step(model, opt, _micros(n, rows, dim, noise, rng, same), grad_clip=1.0, amp=nullcontext)
    return sizes


def test_norm_test_grows_the_batch_when_variance_dominates():
    sizes = _run(NormTest(eta=0.5, start=2, max_accum=64), 12, noise=2.0, init=1.0)  # at the optimum: all noise
    assert sizes[0] == 2 and sizes[-1] > 8
    assert all(b >= a for a, b in zip(sizes, sizes[1:]))  # never shrinks


def test_norm_test_keeps_the_batch_when_variance_is_low():
    assert _run(NormTest(eta=0.5), 12, noise=0.0, init=5.0, same=True) == [2] * 12  # identical micro-batches
    assert _run(NormTest(eta=0.5), 12, noise=0.0, init=-20.0, rows=512) == [2] * 12  # far from the optimum


def test_norm_test_statistics_match_per_micro_batch_gradients():
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    model = Regression(6, 0.5)
    micros = _micros(4, 16, 6, 1.0, rng)
    grads = []  # brute force: each micro-batch's gradient on its own
    for m in micros:
        model.zero_grad()
        model(m.input_ids, m.targets).backward()
        grads.append(model.w.grad.clone())
    model.zero_grad(set_to_none=True)
    g = torch.stack(grads).double()
    mean = g.mean(0)
    var = float(((g - mean) ** 2).sum() / 3)
    test = NormTest(eta=0.1, start=4)
    test.attach(model)
    assert test.grad_accum(0) == 4
    train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), micros, grad_clip=0.0, amp=nullcontext)
    test.grad_accum(1)
    rec = test.history[-1]
    assert rec["step"] == 0 and rec["n"] == 4
    assert rec["var"] == pytest.approx(var, rel=1e-4)
    assert rec["grad_sq"] == pytest.approx(float((mean ** 2).sum()), rel=1e-5)
    assert rec["needed"] == max(4, int(np.ceil(var / (0.01 * float((mean ** 2).sum())))))


def test_norm_test_formula():
    # two micro-batch gradients 1 and 3 (scalars): G = 2, Var = 2, increments (1/2)^2 + (3/2)^2
    needed, var = norm_test(0.25 + 2.25, 4.0, 2, eta=0.5)
    assert var == pytest.approx(2.0) and needed == 2  # Var/n = 1 <= 0.25 * 4
    needed, var = norm_test(0.25 + 2.25, 4.0, 2, eta=0.25)
    assert needed == 8  # ceil(2 / (0.0625 * 4))
    with pytest.raises(ValueError, match="at least 2"):
        norm_test(1.0, 1.0, 1, eta=0.1)


def test_norm_test_needs_the_gradient_hooks():
    test = NormTest()
    assert test.grad_accum(0) == 2
    with pytest.raises(RuntimeError, match="attach"):
        test.grad_accum(1)


def test_norm_test_resume_reproduces_batch_sizes():
    straight = _run(NormTest(eta=0.5, max_accum=64), 10, noise=2.0, init=1.0)
    # the same run, checkpointed after step 5: the sampler's state goes through a fresh object
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Regression(4, 1.0)
    a = NormTest(eta=0.5, max_accum=64)
    a.attach(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sizes = []
    for step in range(10):
        if step == 5:
            state = a.state_dict()
            a = NormTest(eta=0.5, max_accum=64)
            a.load_state_dict(state)
            a.attach(model)
        n = a.grad_accum(step)
        sizes.append(n)
        train_step(model, opt, _micros(n, 64, 4, 2.0, rng), grad_clip=1.0, amp=nullcontext)
    assert sizes == straight


def test_linear_ramp_grows_linearly_in_tokens():
    ramp = LinearRamp(start=1, end=8, ramp_tokens=100_000, micro_tokens=1000)
    sizes = [ramp.grad_accum(s) for s in range(60)]
    assert sizes[0] == 1 and sizes[-1] == 8
    assert all(b >= a for a, b in zip(sizes, sizes[1:]))
    for s in range(60):  # the size at each step is the linear function of the tokens seen before it
        tokens = ramp.tokens_before(s)
        assert sizes[s] == 1 + int(np.floor(7 * min(1.0, tokens / 100_000) + 1e-9))
    first_full = sizes.index(8)
    assert ramp.tokens_before(first_full) >= 100_000 > ramp.tokens_before(first_full - 1)
    fresh = LinearRamp(start=1, end=8, ramp_tokens=100_000, micro_tokens=1000)
    fresh.load_state_dict(ramp.state_dict())
    assert fresh.grad_accum(37) == sizes[37]  # a pure function of the step: resume needs no replay
    with pytest.raises(ValueError, match="start <= end"):
        LinearRamp(start=4, end=2, ramp_tokens=10, micro_tokens=1)


def test_norm_test_through_the_composed_sampler():
    from datamill.schedulers import Schedulers

    sampler = Schedulers(batch_size=NormTest(eta=0.5, max_accum=16), grad_accum=5)
    sizes = _run(sampler, 6, noise=2.0, init=1.0)  # attach() and grad_accum() reach the norm test
    assert sizes[0] == 2 and sizes[-1] > 2
    assert sampler.metrics(6) == {"batch/accum": sizes[-1]}
    assert Schedulers(grad_accum=3).grad_accum(7) == 3  # without a schedule: the fixed data.grad_accum
