"""DDP under torchrun's environment variables, on CPU with gloo: two ranks train together, rank 0
writes metrics and a checkpoint holding both ranks' loader states, and a resumed job continues."""

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from datamill.train.loop import train
    from tests.train.trainer_fakes import loaders, tiny_config

    cfg = tiny_config(out_dir, steps=6, eval_interval=3, checkpoint_interval=3)
    try:
        train(cfg, **loaders(cfg, seed=rank), stop_at=3)  # a preempted job ...
        fresh = loaders(cfg, seed=rank)
        train(cfg, **fresh)  # ... restarted with fresh loaders
        if rank == 0:
            (Path(out_dir) / "served.txt").write_text(str(fresh["loader"].batches_served))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_ranks_train_checkpoint_and_resume(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ckpt = torch.load(tmp_path / "checkpoints" / "step-0000003.pt", weights_only=False)
    assert (tmp_path / "served.txt").read_text() == "3"  # the restart resumed at step 3
    assert len(ckpt["loaders"]) == 2
    assert ckpt["loaders"][0]["loader"]["rng"] != ckpt["loaders"][1]["loader"]["rng"]  # each rank's own
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4, 5, 6]  # rank 0 only, no duplicates
    assert train_rows[-1]["tokens"] == 6 * 2 * 4 * 32  # both ranks' tokens
    assert [r["step"] for r in rows if "val_loss" in r] == [3, 6]
