"""Batch-size schedules, realised as gradient-accumulation steps (docs/METHODS.md §5.4): the optimizer
always sees the mean gradient of the whole batch, however many micro-batches it took.

``LinearRamp`` — GPT-3's batch-size warmup (Brown et al. 2020, App. B): the batch grows linearly
in tokens seen, from ``start`` to ``end`` micro-batches over ``ramp_tokens``. A pure function of
the step (it replays the token count), so it needs no state to resume.

``NormTest`` — the adaptive norm test of Byrd et al. 2012 as used by AdAdaGrad-Norm and
DDP-Norm (Lau et al. 2024, arXiv 2402.11215 and 2412.21124). With micro-batch gradients g_i
standing in for per-example ones (as DDP-Norm does with per-worker gradients), n micro-batches
per step and their mean G:
    Var = (1/(n-1)) sum_i ||g_i - G||^2
    keep n while Var / n <= eta^2 ||G||^2, else n <- ceil(Var / (eta^2 ||G||^2))   (never shrinks)
which is the per-example test exactly, since a micro-batch of b rows has 1/b of the per-example
variance. The gradients are read by ``attach(model)``'s post-accumulate-grad hooks while the
trainer accumulates: after micro-batch i the accumulated gradient is sum_{j<=i} g_j / n, so its
increment is g_i / n and the hooks need one extra copy of the gradients. The test runs on the
pre-clipping gradients, at the start of the next step (``grad_accum``), on every ``every``-th
step. Single-process only (with DDP the last micro-batch's gradient arrives all-reduced).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

HISTORY = 1000  # norm-test results kept (and checkpointed)


@dataclass
class LinearRampConfig:
    """``data.sampler.batch_size`` with ``kind: linear_ramp``."""

    end: int  # micro-batches per step at the full batch size
    ramp_tokens: int  # GPT-3: the full batch after 4-12B tokens, by model size
    micro_tokens: int  # tokens per micro-batch over all ranks: batch_size * seq_len * world_size
    start: int = 1  # GPT-3 starts at 32k tokens
    kind: Literal["linear_ramp"] = "linear_ramp"

    def __post_init__(self):
        if not 1 <= self.start <= self.end:
            raise ValueError(f"batch_size: need 1 <= start <= end micro-batches, got start={self.start}, "
                             f"end={self.end}")
        if self.ramp_tokens < 0 or self.micro_tokens < 1:
            raise ValueError(f"batch_size: ramp_tokens must be >= 0 and micro_tokens >= 1, got "
                             f"{self.ramp_tokens}, {self.micro_tokens}")


@dataclass
class LinearRamp(LinearRampConfig):
    _cum: list[int] = field(init=False, repr=False, default_factory=lambda: [0])  # tokens before step s

    def _at(self, tokens: int) -> int:
        frac = 1.0 if self.ramp_tokens == 0 else min(1.0, tokens / self.ramp_tokens)
        return self.start + int(math.floor((self.end - self.start) * frac + 1e-9))

    def grad_accum(self, step: int) -> int:
        while len(self._cum) <= step:
            s = len(self._cum) - 1
            self._cum.append(self._cum[s] + self._at(self._cum[s]) * self.micro_tokens)
        return self._at(self._cum[step])

    def tokens_before(self, step: int) -> int:
        self.grad_accum(step)
        return self._cum[step]

    def metrics(self, step: int) -> dict:
        return {"batch/accum": self.grad_accum(step)}

    def state_dict(self) -> dict:
        return {"config": [self.start, self.end, self.ramp_tokens, self.micro_tokens]}

    def load_state_dict(self, state: dict) -> None:
        if state.get("config") != [self.start, self.end, self.ramp_tokens, self.micro_tokens]:
            raise ValueError(f"batch_size: the checkpoint's ramp {state.get('config')} differs from the config's "
                             f"{[self.start, self.end, self.ramp_tokens, self.micro_tokens]} (start, end, "
                             f"ramp_tokens, micro_tokens): the token count could not be replayed")


def norm_test(increment_sq: float, grad_sq: float, n: int, eta: float) -> tuple[int, float]:
    """(micro-batches the test asks for, Var) from sum_i ||g_i/n||^2, ||G||^2 and n >= 2."""
    if n < 2:
        raise ValueError(f"norm test: needs at least 2 micro-batches per step to estimate the variance, got {n}")
    var = max(0.0, (n * n * increment_sq - n * grad_sq) / (n - 1))
    if grad_sq <= 0:
        return n, var
    return max(n, math.ceil(var / (eta * eta * grad_sq) - 1e-9)), var


@dataclass
class NormTestConfig:
    """``data.sampler.batch_size`` with ``kind: norm_test``."""

    eta: float = 0.1  # AdAdaGrad repo (timlautk/AdAdaGrad expt.sh): eta = 0.1 for AdaGrad runs
    start: int = 2  # micro-batches per step at first (>= 2: the variance needs two)
    max_accum: int = 64  # upper bound on micro-batches per step
    every: int = 1  # test after every `every`-th step; the hooks cost nothing on other steps
    kind: Literal["norm_test"] = "norm_test"

    def __post_init__(self):
        if self.eta <= 0:
            raise ValueError(f"batch_size.eta: must be positive, got {self.eta}")
        if not 2 <= self.start <= self.max_accum:
            raise ValueError(f"batch_size: need 2 <= start <= max_accum, got start={self.start}, "
                             f"max_accum={self.max_accum}")
        if self.every < 1:
            raise ValueError(f"batch_size.every: must be >= 1, got {self.every}")


@dataclass
class NormTest(NormTestConfig):
    accum: int = field(init=False)
    history: list = field(init=False, repr=False, default_factory=list)

    def __post_init__(self):
        super().__post_init__()
        self.accum = self.start
        self._attached = False
        self._hooked: set[int] = set()
        self._measuring: int | None = None  # step whose gradients the hooks are recording
        self._prev: dict = {}  # parameter -> accumulated gradient after the last micro-batch
        self._inc_sq = None  # device scalar: sum over micro-batches of ||increment||^2
        self._pending: tuple | None = None  # (step, n, increment_sq, grad_sq) not yet tested

    # -- gradients --------------------------------------------------------------------------------
    def attach(self, model) -> None:
        """Register the hooks on ``model``'s parameters (call once per model, after building it)."""
        import torch

        if torch.distributed.is_available() and torch.distributed.is_initialized() and \
                torch.distributed.get_world_size() > 1:
            raise RuntimeError("batch_size: the norm test supports single-process training only")
        for p in model.parameters():
            if p.requires_grad and id(p) not in self._hooked:  # attaching twice must not count twice
                p.register_post_accumulate_grad_hook(self._hook)
                self._hooked.add(id(p))
        self._attached = True

    def _hook(self, p) -> None:
        if self._measuring is None:
            return
        g = p.grad.detach()
        prev = self._prev.get(p)
        if prev is None:
            d2 = g.float().pow(2).sum()
            self._prev[p] = g.clone()
        else:
            d2 = (g - prev).float().pow(2).sum()
            prev.copy_(g)
        self._inc_sq = d2 if self._inc_sq is None else self._inc_sq + d2

    def _collect(self) -> None:
        """Turn the hooks' device sums for the measured step into floats (one host sync)."""
        if self._measuring is None:
            return
        if self._prev:
            grad_sq = float(sum(g.float().pow(2).sum() for g in self._prev.values()))
            self._pending = (self._measuring, self.accum, float(self._inc_sq), grad_sq)
        self._measuring, self._prev, self._inc_sq = None, {}, None

    # -- the schedule -------------------------------------------------------------------------
    def grad_accum(self, step: int) -> int:
        self._collect()
        if self._pending is not None:
            at, n, inc_sq, grad_sq = self._pending
            needed, var = norm_test(inc_sq, grad_sq, n, self.eta)
            self.accum = min(self.max_accum, max(self.accum, needed))
            self.history.append({"step": at, "n": n, "var": var, "grad_sq": grad_sq, "needed": needed,
                                 "accum": self.accum})
            del self.history[:-HISTORY]
            self._pending = None
        if step % self.every == 0:
            if not self._attached and step > 0:
                raise RuntimeError("batch_size: the norm test has seen no gradients; the trainer must call "
                                   "sampler.attach(model) once after building the model")
            self._measuring = step
        return self.accum

    def metrics(self, step: int) -> dict:
        return {"batch/accum": self.accum}

    def state_dict(self) -> dict:
        self._collect()
        return {"accum": self.accum, "pending": list(self._pending) if self._pending else None,
                "history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.accum = int(state["accum"])
        self._pending = tuple(state["pending"]) if state["pending"] else None
        self.history = list(state["history"])
        self._measuring, self._prev, self._inc_sq = None, {}, None
