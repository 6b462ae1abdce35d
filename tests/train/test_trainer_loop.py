import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from datamill.schedulers import Schedulers
from datamill.train.batches import mix_replay
from datamill.train.config import OptimConfig
from datamill.train.loop import train
from datamill.train.optim import lr_at
from tests.train.trainer_fakes import FakeLoader, loaders, tiny_config

GOLDEN = Path(__file__).parent / "golden_trainer_loss.json"


def _losses(out_dir) -> dict[int, float]:
    rows = [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_golden_loss_curve(tmp_path):
    cfg = tiny_config(tmp_path)
    train(cfg, **loaders(cfg))
    got = _losses(tmp_path)
    assert sorted(got) == list(range(1, 21))
    if os.environ.get("DATAMILL_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps({str(k): round(v, 6) for k, v in got.items()}, indent=1) + "\n")
    want = {int(k): v for k, v in json.loads(GOLDEN.read_text()).items()}
    # fp32 on CPU; the tolerance absorbs BLAS differences between machines, not a changed numeric
    np.testing.assert_allclose([got[s] for s in range(1, 21)], [want[s] for s in range(1, 21)], rtol=0, atol=2e-4)
    assert got[20] < got[1] - 0.1  # and it learns


def test_resume_matches_straight_run_exactly(tmp_path):
    straight = tiny_config(tmp_path / "a", checkpoint_interval=5)
    train(straight, **loaders(straight))
    cfg = tiny_config(tmp_path / "b", checkpoint_interval=5)
    first = train(cfg, **loaders(cfg), stop_at=10)
    assert first["step"] == 10 and (tmp_path / "b" / "checkpoints" / "step-0000010.pt").exists()
    # a fresh process would start from new loaders at their initial state: resume must restore them
    result = train(cfg, **loaders(cfg))
    assert result["step"] == 20
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert a == b  # bit-for-bit, including steps 11..20
    rows = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 21))  # no duplicated rows
    sa = torch.load(tmp_path / "a" / "checkpoints" / "step-0000020.pt", weights_only=False)["model"]
    sb = torch.load(tmp_path / "b" / "checkpoints" / "step-0000020.pt", weights_only=False)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_cooldown_strips_metadata_for_last_fraction(tmp_path):
    cfg = tiny_config(tmp_path, cooldown_fraction=0.25, eval_interval=0)
    ls = loaders(cfg)
    train(cfg, **ls)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert [r["strip_metadata"] for r in rows] == [False] * 15 + [True] * 5
    assert ls["loader"].strip_calls == [False, True]
    assert ls["val_loader"].strip  # validation in the cooldown sees the data as trained on


def test_metrics_and_per_source_validation(tmp_path):
    cfg = tiny_config(tmp_path, log_interval=5)
    result = train(cfg, **loaders(cfg))
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [5, 10, 15, 20]
    assert all(r["tokens_per_s"] > 0 and r["mfu"] > 0 and math.isfinite(r["loss"]) for r in train_rows)
    assert train_rows[-1]["tokens"] == 20 * 4 * 32
    evals = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in evals] == [10, 20]
    assert {"val_loss/a", "val_loss/b"} <= set(evals[-1])
    lo, hi = sorted([evals[-1]["val_loss/a"], evals[-1]["val_loss/b"]])
    assert lo <= evals[-1]["val_loss"] <= hi
    assert result["val_loss"] == evals[-1]["val_loss"]


def test_grad_accumulation_matches_one_big_batch(tmp_path):
    # no masked targets, so the mean over micro-batch means equals the mean over the big batch
    big = tiny_config(tmp_path / "big", steps=3, eval_interval=0, checkpoint_interval=1)
    train(big, **loaders(big, prefix_len=0))
    acc = tiny_config(tmp_path / "acc", steps=3, eval_interval=0, checkpoint_interval=1)
    acc.data.batch_size, acc.data.grad_accum = 2, 2
    train(acc, **loaders(acc, prefix_len=0))
    # two fake micro-batches of 2 rows are the same rows as one batch of 4 (same RNG stream)
    np.testing.assert_allclose(list(_losses(tmp_path / "big").values()), list(_losses(tmp_path / "acc").values()),
                               rtol=1e-5)
    a = torch.load(tmp_path / "big" / "checkpoints" / "step-0000003.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "acc" / "checkpoints" / "step-0000003.pt", weights_only=False)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_schedules():
    o = OptimConfig(lr=1.0, min_lr_ratio=0.1, warmup_steps=10, schedule="cosine")
    lrs = [lr_at(s, 100, o) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0  # linear warmup
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then monotone decay
    assert lrs[10] == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.1, abs=1e-3)
    w = OptimConfig(lr=1.0, min_lr_ratio=0.0, warmup_steps=10, schedule="wsd", decay_fraction=0.2)
    wl = [lr_at(s, 100, w) for s in range(101)]
    assert all(x == 1.0 for x in wl[10:80])  # stable phase
    assert wl[80] == 1.0 and wl[90] == pytest.approx(1 - math.sqrt(0.5)) and wl[100] == 0.0
    with pytest.raises(ValueError, match="optim.schedule"):
        lr_at(50, 100, OptimConfig(schedule="linear"))


def test_replay_mixes_rows_at_rate():
    main, replay = FakeLoader(sources=("main",)), FakeLoader(sources=("generic",), seed=1)
    main.batch_size = replay.batch_size = 50
    rng = np.random.default_rng(0)
    picked = 0
    for _ in range(40):
        b = mix_replay(main.next_batch(), replay, rng, 0.1)
        picked += sum(s == "generic" for s in b.sources)
        rows = np.flatnonzero([s == "generic" for s in b.sources])
        assert np.all(b.targets[rows, :-1] == b.input_ids[rows, 1:])  # whole rows move together
    assert 0.08 < picked / 2000 < 0.12


def test_replay_in_training_is_resumable(tmp_path):
    cfg = tiny_config(tmp_path / "a", eval_interval=0)
    cfg.data.replay.shards, cfg.data.replay.rate = ["unused-when-a-loader-is-given"], 0.5
    ra = FakeLoader(sources=("generic",), seed=5)
    train(cfg, **loaders(cfg), replay_loader=ra)
    assert ra.batches_served > 5
    cfg_b = tiny_config(tmp_path / "b", eval_interval=0)
    cfg_b.data.replay.shards, cfg_b.data.replay.rate = cfg.data.replay.shards, 0.5
    train(cfg_b, **loaders(cfg_b), replay_loader=FakeLoader(sources=("generic",), seed=5), stop_at=7)
    train(cfg_b, **loaders(cfg_b), replay_loader=FakeLoader(sources=("generic",), seed=5))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


class RecordingSampler(Schedulers):
    """The trainer-side scheduler hooks, recorded."""

    def __init__(self):
        super().__init__()
        self.attached, self.evals, self.restored = None, [], None

    def attach(self, model):
        self.attached = model

    def grad_accum(self, step: int) -> int:
        return 1 if step < 3 else 2

    def on_eval(self, step, losses):
        self.evals.append((step, losses))

    def metrics(self, step):
        return {"batch/accum": self.grad_accum(step)}

    def state_dict(self):
        return {"evals": len(self.evals)}

    def load_state_dict(self, state):
        self.restored = state


def test_scheduler_hooks(tmp_path):
    cfg = tiny_config(tmp_path, steps=6, eval_interval=3)
    sampler = RecordingSampler()
    ls = loaders(cfg)
    result = train(cfg, **ls, sampler=sampler, stop_at=4)
    assert sampler.attached is not None
    assert [s for s, _ in sampler.evals] == [3] and set(sampler.evals[0][1]) == {"a", "b"}
    assert ls["loader"].batches_served == 3 * 1 + 1 * 2  # accumulation from the schedule
    assert result["tokens"] == 5 * 4 * 32
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert [r["batch/accum"] for r in rows] == [1, 1, 1, 2]
    again = RecordingSampler()
    train(cfg, **loaders(cfg), sampler=again)
    assert again.restored == {"evals": 1}  # sampler state travels with the checkpoint
    ckpt = torch.load(tmp_path / "checkpoints" / "step-0000006.pt", weights_only=False)
    assert ckpt["loaders"][0]["sampler"] == again.state_dict()  # saved once per rank, beside the loader states
    assert "sampler" not in ckpt["loaders"][0]["loader"]


def test_cooldown_on_separate_unseen_shards(tmp_path):
    cfg = tiny_config(tmp_path / "a", cooldown_fraction=0.25, eval_interval=0)
    ls = loaders(cfg)
    fresh = FakeLoader(sources=("cool",), seed=9)
    train(cfg, **ls, cooldown_loader=fresh)
    assert ls["loader"].batches_served == 15 and fresh.batches_served == 5  # MeCo's reference recipe
    assert fresh.strip and not ls["loader"].strip
    # resuming inside the cooldown continues both loaders exactly
    cfg_b = tiny_config(tmp_path / "b", cooldown_fraction=0.25, eval_interval=0)
    train(cfg_b, **loaders(cfg_b), cooldown_loader=FakeLoader(sources=("cool",), seed=9), stop_at=17)
    train(cfg_b, **loaders(cfg_b), cooldown_loader=FakeLoader(sources=("cool",), seed=9))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


def test_compile_options_reach_torch_compile(tmp_path, monkeypatch):
    seen = []

    def fake_compile(model, **kwargs):  # compiling for real is minutes on CPU; the options are the point
        seen.append(kwargs)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    cfg = tiny_config(tmp_path, steps=2, compile=True, compile_options={"triton.prefer_nd_tiling": True})
    train(cfg, **loaders(cfg))
    assert seen == [{"options": {"triton.prefer_nd_tiling": True}}]
