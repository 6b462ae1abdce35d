"""The training loop, in nanoGPT's shape: micro-batches with gradient accumulation under bf16
autocast, clipping, fused AdamW, a step-indexed LR schedule; logging, per-source validation,
checkpoints, the MeCo cooldown switch, generic-data replay, DDP under torchrun, HF export."""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from datamill.train.batches import ensure_shards, make_sampler, mix_replay, open_loader, to_device
from datamill.train.checkpoint import (checkpoint_path, latest_checkpoint, load_checkpoint, save_checkpoint,
                                       set_rng_state)
from datamill.train.config import ModelConfig, TrainConfig
from datamill.train.model import Transformer
from datamill.train.optim import configure_optimizer, flops_per_token, lr_at, mfu

log = logging.getLogger(__name__)


@dataclass
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def setup_distributed(device: str) -> Dist:
    """One process, or one per GPU under torchrun (RANK/WORLD_SIZE/LOCAL_RANK set)."""
    kind = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(0, 1, 0, torch.device(kind))
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if kind == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if kind == "cuda" else "gloo")
    return Dist(rank, world, local, torch.device(kind, local) if kind == "cuda" else torch.device(kind))


def autocast(device: torch.device, precision: str):
    """A context-manager factory: bf16 autocast on GPU, nothing on CPU (fp32 there)."""
    if device.type == "cuda" and precision == "bf16":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision: expected bf16 | fp32, got {precision!r}")
    return nullcontext


def build_model(cfg: TrainConfig, vocab_size: int) -> Transformer:
    if not cfg.model.init_from:
        return Transformer(cfg.model.resolved(vocab_size, cfg.data.seq_len))
    from datamill.train.hf_export import load_hf

    model = load_hf(cfg.model.init_from, doc_attention=cfg.model.doc_attention,
                    min_seq_len=cfg.data.seq_len)
    if model.cfg.vocab_size < vocab_size:
        raise ValueError(f"model.init_from: {cfg.model.init_from} has vocab {model.cfg.vocab_size} < the shards' "
                         f"{vocab_size}: the shards must use the checkpoint's tokenizer")
    return model


def train_step(model, optimizer, micros, *, grad_clip: float, amp, ddp: bool = False):
    """One optimizer step over ``micros`` (gradient accumulation). Returns the mean loss and the
    pre-clip gradient norm as device tensors (no host sync)."""
    total, n = None, len(micros)
    for i, m in enumerate(micros):
        sync = nullcontext() if not ddp or i == n - 1 else model.no_sync()  # all-reduce once per step
        with sync:
            with amp():
                loss = model(m.input_ids, m.targets, m.loss_mask, m.attn_mask) / n
            loss.backward()
        total = loss.detach() if total is None else total + loss.detach()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip > 0 else None
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total, gnorm


@torch.no_grad()
def evaluate(model, val_loader, start_state: dict, n_batches: int, *, device, amp, doc_attention: str,
             strip: bool, world_size: int = 1) -> dict[str, float]:
    """Mean loss over the same held-out windows every time, overall and per source."""
    val_loader.load_state_dict(start_state)
    val_loader.set_strip_metadata(strip)
    sources = sorted(val_loader.sources)
    sums = torch.zeros(len(sources), 2, dtype=torch.float64)  # (loss sum, token count) per source
    model.eval()
    for _ in range(n_batches):
        m = to_device(val_loader.next_batch(), device, doc_attention)
        with amp():
            logits = model(m.input_ids, attn_mask=m.attn_mask)
        ce = F.cross_entropy(logits.float().flatten(0, 1), m.targets.flatten(), reduction="none")
        row_loss = (ce.view_as(m.loss_mask) * m.loss_mask).sum(1).double().cpu()
        row_n = m.loss_mask.sum(1).double().cpu()
        for r, src in enumerate(m.sources):
            sums[sources.index(src)] += torch.stack([row_loss[r], row_n[r]])
    model.train()
    if world_size > 1:
        import torch.distributed as dist

        sums = sums.to(device)
        dist.all_reduce(sums)
        sums = sums.cpu()
    out = {"val_loss": float(sums[:, 0].sum() / sums[:, 1].sum().clamp(min=1))}
    out.update({f"val_loss/{s}": float(sums[k, 0] / sums[k, 1]) for k, s in enumerate(sources) if sums[k, 1] > 0})
    return out


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, forget rows logged after the checkpoint (they will be logged again)."""
    if path.exists():
        rows = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(r + "\n" for r in rows))


def train(cfg: TrainConfig, *, loader=None, val_loader=None, replay_loader=None, cooldown_loader=None,
          sampler=None, stop_at: int | None = None) -> dict:
    """Train per ``cfg``; loaders are opened from ``cfg.data`` unless given (tests pass fakes).
    ``stop_at`` ends early after that step with a checkpoint, as a preempted job would."""
    dist_ = setup_distributed(cfg.device)
    device, main, world = dist_.device, dist_.rank == 0, dist_.world_size
    out = Path(cfg.out_dir)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if loader is None:
        if main:
            ensure_shards(cfg)
        _barrier(world)
        sampler = sampler or make_sampler(cfg.data.sampler)
        kw = dict(rank=dist_.rank, world_size=world)
        loader = open_loader(cfg, cfg.data.shards, "train", seed=cfg.seed, sampler=sampler, **kw)
        val_loader = open_loader(cfg, cfg.data.shards, "val", seed=cfg.seed, **kw) if cfg.data.val_batches else None
        if cfg.data.replay.shards:
            replay_loader = open_loader(cfg, cfg.data.replay.shards, "train", seed=cfg.seed + 1, **kw)
        if cfg.data.cooldown_shards:
            cooldown_loader = open_loader(cfg, cfg.data.cooldown_shards, "train", seed=cfg.seed + 2, **kw)
    if cooldown_loader is not None and cooldown_loader.vocab_size != loader.vocab_size:
        raise ValueError("data.cooldown_shards: their tokenizer differs from data.shards'")

    torch.manual_seed(cfg.seed)
    if cfg.model.doc_attention == "flex" and device.type != "cuda":
        raise ValueError("model.doc_attention: flex needs a CUDA device (FlexAttention has no CPU backward); "
                         "use sdpa_mask on CPU")
    model = build_model(cfg, loader.vocab_size).to(device)
    mcfg: ModelConfig = model.cfg
    optimizer = configure_optimizer(model, cfg.optim, device)
    replay_rng = np.random.default_rng([cfg.seed, dist_.rank])
    step, tokens, metrics_path = 0, 0, out / "metrics.jsonl"
    ckpt = latest_checkpoint(out / "checkpoints") if cfg.resume else None
    if ckpt is not None:
        payload = load_checkpoint(ckpt, model=model, optimizer=optimizer, map_location=device)
        step, tokens = payload["trainer"]["step"], payload["trainer"]["tokens"]
        if len(payload["loaders"]) != world:
            raise ValueError(f"{ckpt}: saved by {len(payload['loaders'])} ranks; resume with the same world size")
        mine = payload["loaders"][dist_.rank]
        loader.load_state_dict(mine["loader"])
        if replay_loader is not None:
            replay_loader.load_state_dict(mine["replay"])
        if cooldown_loader is not None:
            cooldown_loader.load_state_dict(mine["cooldown"])
        replay_rng.bit_generator.state = mine["replay_rng"]
        if sampler is not None and "sampler" in mine:
            sampler.load_state_dict(mine["sampler"])
        set_rng_state(payload["rng"])
        log.info("resumed from %s at step %d", ckpt, step)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "model": asdict(mcfg)}, indent=2))
        _truncate_metrics(metrics_path, step)

    if hasattr(sampler, "attach"):  # e.g. the norm test's gradient hooks (datamill.schedulers)
        sampler.attach(model)
    run_model = torch.compile(model, options=cfg.compile_options or None) if cfg.compile else model
    eval_model = run_model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        run_model = DDP(run_model, device_ids=[dist_.local_rank] if device.type == "cuda" else None)
    amp = autocast(device, cfg.precision)
    total = cfg.steps
    cooldown_start = total - round(cfg.cooldown_fraction * total) if cfg.cooldown_fraction > 0 else total
    fpt = flops_per_token(model.num_params(), mcfg.n_layer, mcfg.d_model, cfg.data.seq_len)
    val_start = val_loader.state_dict() if val_loader is not None else None
    log.info("model: %.2fM parameters, %s; %d steps on %s x%d", model.num_params() / 1e6, mcfg, total, device, world)

    def emit(row: dict) -> None:
        if main:
            with metrics_path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    def loader_states() -> list[dict]:
        mine = {"loader": loader.state_dict(), "replay_rng": replay_rng.bit_generator.state,
                "replay": replay_loader.state_dict() if replay_loader is not None else None,
                "cooldown": cooldown_loader.state_dict() if cooldown_loader is not None else None}
        if sampler is not None and hasattr(sampler, "state_dict"):
            mine["sampler"] = sampler.state_dict()
        if world == 1:
            return [mine]
        import torch.distributed as dist

        gathered = [None] * world
        dist.all_gather_object(gathered, mine)
        return gathered

    strip, last = None, {}
    t0, tokens0 = time.perf_counter(), tokens
    end = total if stop_at is None else min(total, stop_at)
    while step < end:
        if (step >= cooldown_start) != strip:  # MeCo: metadata prefixes left out in the cooldown
            strip = step >= cooldown_start
            (cooldown_loader or loader).set_strip_metadata(strip)
            active = cooldown_loader if strip and cooldown_loader is not None else loader
            if strip:
                log.info("step %d: cooldown, metadata prefixes off%s", step,
                         ", on the cooldown shards" if cooldown_loader is not None else "")
        lr = lr_at(step, total, cfg.optim)
        for group in optimizer.param_groups:
            group["lr"] = lr
        accum = sampler.grad_accum(step) if hasattr(sampler, "grad_accum") else cfg.data.grad_accum
        micros = []
        for _ in range(accum):
            batch = active.next_batch()
            if replay_loader is not None:
                batch = mix_replay(batch, replay_loader, replay_rng, cfg.data.replay.rate)
            micros.append(to_device(batch, device, mcfg.doc_attention))
        loss, gnorm = train_step(run_model, optimizer, micros, grad_clip=cfg.optim.grad_clip, amp=amp, ddp=world > 1)
        step += 1
        tokens += sum(m.input_ids.numel() for m in micros) * world

        if step % cfg.log_interval == 0 or step == end:
            if world > 1:
                import torch.distributed as dist

                dist.all_reduce(loss)  # SUM: gloo has no AVG
                loss = loss / world
            loss_v = loss.item()  # the only host sync of a step, once per interval
            dt = time.perf_counter() - t0
            tps = (tokens - tokens0) / max(dt, 1e-9)
            row = {"step": step, "loss": loss_v, "lr": lr, "tokens": tokens, "tokens_per_s": tps,
                   "mfu": mfu(tps, fpt, cfg.peak_tflops, world), "grad_norm": float(gnorm) if gnorm is not None else None,
                   "strip_metadata": strip}
            if hasattr(sampler, "metrics"):
                row.update(sampler.metrics(step - 1))  # the 0-based index of the step just taken
            log.info("step %d/%d | loss %.4f | lr %.2e | %.0f tok/s | MFU %.1f%%", step, total, loss_v, lr, tps,
                     100 * row["mfu"])
            emit(row)
            last.update(row)
            t0, tokens0 = time.perf_counter(), tokens
        if val_loader is not None and ((cfg.eval_interval and step % cfg.eval_interval == 0) or step == total):
            vals = evaluate(eval_model, val_loader, val_start, cfg.data.val_batches, device=device, amp=amp,
                            doc_attention=mcfg.doc_attention, strip=strip, world_size=world)
            if sampler is not None and hasattr(sampler, "on_eval"):
                sampler.on_eval(step, {k.split("/", 1)[1]: v for k, v in vals.items() if "/" in k})
            log.info("step %d | val loss %.4f | %s", step, vals["val_loss"],
                     " ".join(f"{k[9:]}={v:.3f}" for k, v in vals.items() if "/" in k))
            emit({"step": step, **vals})
            last.update(vals)
            t0, tokens0 = time.perf_counter(), tokens
        if (cfg.checkpoint_interval and step % cfg.checkpoint_interval == 0) or step == end:
            states = loader_states()
            if main:
                save_checkpoint(checkpoint_path(out / "checkpoints", step), model=model, optimizer=optimizer,
                                trainer_state={"step": step, "tokens": tokens}, loader_states=states,
                                config=cfg.to_dict())
            _barrier(world)
            t0, tokens0 = time.perf_counter(), tokens

    result = {"step": step, "tokens": tokens, "out_dir": str(out), **last}
    if step == total and cfg.export_hf and main:
        from datamill.train.hf_export import export_hf

        result["hf_dir"] = str(export_hf(model, out / "hf", tokenizer_path=getattr(loader, "tokenizer_path", None),
                                         eos_id=getattr(loader, "eos_id", None)))
    return result


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
