"""Checkpoints that resume a run exactly: model, optimizer, step/tokens (the LR schedule is a pure
function of the step), every rank's loader and sampler state, the replay RNG and torch's RNG states.

Files are ``OUT/checkpoints/step-NNNNNNN.pt``, written to a temporary name and renamed, so a run
killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

log = logging.getLogger(__name__)
PREFIX = "step-"


def checkpoint_path(ckpt_dir: str | Path, step: int) -> Path:
    return Path(ckpt_dir) / f"{PREFIX}{step:07d}.pt"


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    d = Path(ckpt_dir)
    found = sorted(d.glob(f"{PREFIX}*.pt")) if d.is_dir() else []
    return found[-1] if found else None


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    trainer_state: dict, loader_states: list[dict], config: dict, keep: int = 2) -> Path:
    """Write one checkpoint (call on rank 0; ``loader_states`` holds one entry per rank, each with
    the loader, replay loader and replay RNG state of that rank). Keeps the newest ``keep`` files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "trainer": trainer_state,  # step, tokens, strip_metadata, ...
        "loaders": loader_states,
        "rng": rng_state(),
        "config": config,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    if keep > 0:
        for old in sorted(path.parent.glob(f"{PREFIX}*.pt"))[:-keep]:
            old.unlink()
    return path


def load_checkpoint(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    map_location: str | torch.device = "cpu") -> dict:
    """Restore model (and optimizer) in place; return the payload for the caller to restore the
    trainer state, its loaders and the RNG (``set_rng_state``) in the right order."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated file, wrong format
        raise RuntimeError(f"checkpoint {path}: cannot be read ({e})") from e
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    return payload


def rank_states(data, sampler, world_size: int) -> list[dict]:
    """Every rank's loader, replay RNG and sampler state (``TrainData`` and ``Schedulers``), gathered
    on all ranks: the ``loader_states`` of ``save_checkpoint``. The sampler's is saved here only."""
    mine = {**data.state_dict(), "sampler": sampler.state_dict()}
    if world_size == 1:
        return [mine]
    import torch.distributed as dist

    gathered = [None] * world_size
    dist.all_gather_object(gathered, mine)
    return gathered


def resume(ckpt_dir: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, data, sampler,
           rank: int, world_size: int, device: torch.device) -> tuple[int, int]:
    """Load the newest checkpoint in ``ckpt_dir`` into the model, optimizer, this rank's loaders
    and sampler, and torch's RNG; return (step, tokens), (0, 0) when there is none."""
    ckpt = latest_checkpoint(ckpt_dir)
    if ckpt is None:
        return 0, 0
    payload = load_checkpoint(ckpt, model=model, optimizer=optimizer, map_location=device)
    if len(payload["loaders"]) != world_size:
        raise ValueError(f"{ckpt}: saved by {len(payload['loaders'])} ranks; resume with the same world size")
    mine = payload["loaders"][rank]
    data.load_state_dict(mine)
    sampler.load_state_dict(mine.get("sampler", {}))  # checkpoints of runs without a sampler have none
    set_rng_state(payload["rng"])
    step, tokens = payload["trainer"]["step"], payload["trainer"]["tokens"]
    log.info("resumed from %s at step %d", ckpt, step)
    return step, tokens
