"""The training loop, in nanoGPT's shape: micro-batches with gradient accumulation under bf16
autocast, clipping, fused AdamW, a step-indexed LR schedule; logging, per-source validation,
checkpoints and the MeCo cooldown switch. ``train`` reads as: where it runs (``setup``), the data
(``batches.open_data``), the model and optimizer, ``checkpoint.resume``, then the loop."""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from datamill.schedulers import Schedulers
from datamill.train.batches import TrainData, open_data, to_device
from datamill.train.checkpoint import checkpoint_path, rank_states, resume, save_checkpoint
from datamill.train.config import TrainConfig
from datamill.train.optim import configure_optimizer, flops_per_token, lr_at, mfu
from datamill.train.setup import autocast, barrier, build_model, setup_distributed

log = logging.getLogger(__name__)


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
def evaluate(model, data: TrainData, n_batches: int, *, amp, world_size: int = 1) -> dict[str, float]:
    """Mean loss over the same held-out windows every time, overall and per source."""
    device, val_loader = data.device, data.val
    val_loader.load_state_dict(data.val_start)
    val_loader.set_strip_metadata(data.strip)  # validation in the cooldown sees the data as trained on
    sources = sorted(val_loader.sources)
    sums = torch.zeros(len(sources), 2, dtype=torch.float64)  # (loss sum, token count) per source
    model.eval()
    for _ in range(n_batches):
        m = to_device(val_loader.next_batch(), device, data.doc_attention)
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


class MetricsLog:
    """``out_dir/metrics.jsonl``, written by rank 0; on resume, rows logged after the checkpoint
    are forgotten (they will be logged again)."""

    def __init__(self, path: Path, step: int, enabled: bool):
        self.path, self.enabled = path, enabled
        if enabled and path.exists():
            rows = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
            path.write_text("".join(r + "\n" for r in rows))

    def emit(self, row: dict) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")


def train(cfg: TrainConfig, *, loader=None, val_loader=None, replay_loader=None, cooldown_loader=None,
          sampler: Schedulers | None = None, stop_at: int | None = None) -> dict:
    """Train per ``cfg`` on its shards (they must exist: ``batches.missing_shards``). Tests pass
    fake loaders instead, and a sampler (default: the one ``cfg.data.sampler`` describes, which
    loaders opened here consult). ``stop_at`` ends early after that step with a checkpoint, as a
    preempted job would."""
    dist_ = setup_distributed(cfg.device)
    device, main, world = dist_.device, dist_.rank == 0, dist_.world_size
    out = Path(cfg.out_dir)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if sampler is None:
        sampler = Schedulers.from_config(cfg.data.sampler, grad_accum=cfg.data.grad_accum)
    data = open_data(cfg, sampler, rank=dist_.rank, world_size=world, device=device, loader=loader,
                     val_loader=val_loader, replay_loader=replay_loader, cooldown_loader=cooldown_loader)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.loader.vocab_size, device)
    mcfg = model.cfg
    optimizer = configure_optimizer(model, cfg.optim, device)
    step, tokens = 0, 0
    if cfg.resume:
        step, tokens = resume(out / "checkpoints", model=model, optimizer=optimizer, data=data, sampler=sampler,
                              rank=dist_.rank, world_size=world, device=device)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "model": asdict(mcfg)}, indent=2))
    metrics = MetricsLog(out / "metrics.jsonl", step, enabled=main)

    sampler.attach(model)  # e.g. the norm test's gradient hooks
    run_model = torch.compile(model, options=cfg.compile_options or None) if cfg.compile else model
    eval_model = run_model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        run_model = DDP(run_model, device_ids=[dist_.local_rank] if device.type == "cuda" else None)
    amp = autocast(device, cfg.precision)
    total = cfg.steps
    cooldown_start = total - round(cfg.cooldown_fraction * total) if cfg.cooldown_fraction > 0 else total
    fpt = flops_per_token(model.num_params(), mcfg.n_layer, mcfg.d_model, cfg.data.seq_len)
    log.info("model: %.2fM parameters, %s; %d steps on %s x%d", model.num_params() / 1e6, mcfg, total, device, world)

    last = {}
    t0, tokens0 = time.perf_counter(), tokens
    end = total if stop_at is None else min(total, stop_at)
    while step < end:
        data.set_cooldown(step >= cooldown_start, step)  # MeCo: metadata prefixes left out in the cooldown
        lr = lr_at(step, total, cfg.optim)
        for group in optimizer.param_groups:
            group["lr"] = lr
        micros = [data.next_micro() for _ in range(sampler.grad_accum(step))]
        loss, gnorm = train_step(run_model, optimizer, micros, grad_clip=cfg.optim.grad_clip, amp=amp, ddp=world > 1)
        step += 1
        tokens += sum(m.input_ids.numel() for m in micros) * world

        if step % cfg.log_interval == 0 or step == end:
            loss_v = _mean_over_ranks(loss, world).item()  # the only host sync of a step, once per interval
            tps = (tokens - tokens0) / max(time.perf_counter() - t0, 1e-9)
            row = {"step": step, "loss": loss_v, "lr": lr, "tokens": tokens, "tokens_per_s": tps,
                   "mfu": mfu(tps, fpt, cfg.peak_tflops, world), "grad_norm": float(gnorm) if gnorm is not None else None,
                   "strip_metadata": data.strip, **sampler.metrics(step - 1)}  # the 0-based step just taken
            log.info("step %d/%d | loss %.4f | lr %.2e | %.0f tok/s | MFU %.1f%%", step, total, loss_v, lr, tps,
                     100 * row["mfu"])
            metrics.emit(row)
            last.update(row)
            t0, tokens0 = time.perf_counter(), tokens
        if data.val is not None and ((cfg.eval_interval and step % cfg.eval_interval == 0) or step == total):
            vals = evaluate(eval_model, data, cfg.data.val_batches, amp=amp, world_size=world)
            sampler.on_eval(step, {k.split("/", 1)[1]: v for k, v in vals.items() if "/" in k})
            log.info("step %d | val loss %.4f | %s", step, vals["val_loss"],
                     " ".join(f"{k[9:]}={v:.3f}" for k, v in vals.items() if "/" in k))
            metrics.emit({"step": step, **vals})
            last.update(vals)
            t0, tokens0 = time.perf_counter(), tokens
        if (cfg.checkpoint_interval and step % cfg.checkpoint_interval == 0) or step == end:
            states = rank_states(data, sampler, world)
            if main:
                save_checkpoint(checkpoint_path(out / "checkpoints", step), model=model, optimizer=optimizer,
                                trainer_state={"step": step, "tokens": tokens}, loader_states=states,
                                config=cfg.to_dict())
            barrier(world)
            t0, tokens0 = time.perf_counter(), tokens

    result = {"step": step, "tokens": tokens, "out_dir": str(out), **last}
    if step == total and cfg.export_hf and main:
        from datamill.train.hf_export import export_hf

        tokenizer, eos_id = getattr(data.loader, "tokenizer_path", None), getattr(data.loader, "eos_id", None)
        result["hf_dir"] = str(export_hf(model, out / "hf", tokenizer_path=tokenizer, eos_id=eos_id))
    return result


def _mean_over_ranks(loss: torch.Tensor, world: int) -> torch.Tensor:
    if world == 1:
        return loss
    import torch.distributed as dist

    dist.all_reduce(loss)  # SUM: gloo has no AVG
    return loss / world
