"""Curriculum pacing: the competence c(t) in (0, 1], the fraction of the easiest documents (by
difficulty CDF) a curriculum admits at step t (docs/METHODS.md §5.3).

Competence-based pacing (Platanios et al. 2019), with T the curriculum length and c0 the start:
    linear         c = c0 + (1 - c0) t/T
    root (p)       c = (t (1 - c0^p)/T + c0^p)^(1/p)          (p = 2: "sqrt")
    quadratic      c = c0 + (1 - c0) (t/T)^2                  (Zhang et al. 2025, arXiv 2506.11300)
    inv_quadratic  c = c0 + (1 - c0) (1 - (1 - t/T)^2)
Hacohen & Weinshall 2019 pacing, fitted to end at T:
    step           ``stairs`` equal stairs from c0 to 1 (stairs = 1: c0 until T, then everything)
    exp            c = c0 inc^floor(t/L), L = T / ceil(log_inc(1/c0)): the pool grows ``inc``-fold
All are clipped to [c0, 1] and reach 1 at t = T. ``cyclical`` repeats the ramp every T steps
(easy->hard, easy->hard, ...: Zhang et al.'s interleaved curricula) instead of ending at T.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

PACINGS = ("linear", "root", "quadratic", "inv_quadratic", "step", "exp")


@dataclass(frozen=True)
class Pacing:
    kind: str = "linear"  # linear | root | quadratic | inv_quadratic | step | exp
    length: int = 1000  # T: steps until everything is admitted (loader micro-batches)
    start: float = 0.01  # c0: Platanios et al. 2019 use about 0.01
    p: float = 2.0  # root: the p-th root (2 = sqrt, Platanios et al.'s best)
    stairs: int = 1  # step: number of equal stairs (1 = Hacohen & Weinshall's single step)
    inc: float = 2.0  # exp: growth factor of the pool per stair (Hacohen & Weinshall's "fixed exponential")
    cyclical: bool = False  # repeat the ramp every `length` steps instead of staying at 1

    def __post_init__(self):
        if self.kind not in PACINGS:
            raise ValueError(f"curriculum.pacing: expected one of {', '.join(PACINGS)}, got {self.kind!r}")
        if self.length < 1:
            raise ValueError(f"curriculum.length: must be a positive number of steps, got {self.length}")
        if not 0 < self.start <= 1:
            raise ValueError(f"curriculum.start: expected a competence in (0, 1], got {self.start}")
        if self.p <= 0:
            raise ValueError(f"curriculum.p: must be positive, got {self.p}")
        if self.stairs < 1:
            raise ValueError(f"curriculum.stairs: must be at least 1, got {self.stairs}")
        if self.inc <= 1:
            raise ValueError(f"curriculum.inc: must be > 1, got {self.inc}")

    def __call__(self, step: int) -> float:
        """Competence at ``step`` (>= 0)."""
        if step < 0:
            raise ValueError(f"curriculum: step must be >= 0, got {step}")
        T, c0 = self.length, self.start
        t = step % T if self.cyclical else min(step, T)
        x = t / T  # progress in [0, 1]
        if self.kind == "linear":
            c = c0 + (1 - c0) * x
        elif self.kind == "root":
            c = (x * (1 - c0**self.p) + c0**self.p) ** (1 / self.p)
        elif self.kind == "quadratic":
            c = c0 + (1 - c0) * x * x
        elif self.kind == "inv_quadratic":
            c = c0 + (1 - c0) * (1 - (1 - x) ** 2)
        elif self.kind == "step":
            c = c0 + (1 - c0) * math.floor(x * self.stairs) / self.stairs
        else:  # exp
            stairs = max(1, math.ceil(math.log(1 / c0) / math.log(self.inc) - 1e-12))
            c = c0 * self.inc ** math.floor(x * stairs)
        return float(min(1.0, max(c0, c)))

    def done(self, step: int) -> bool:
        """True once the curriculum admits everything for good."""
        return not self.cyclical and step >= self.length

    def config(self) -> dict:
        return asdict(self)
