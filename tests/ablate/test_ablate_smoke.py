"""``datamill ablate configs/ablate-smoke.yaml`` end to end on CPU (the issue's acceptance test):
equal tokens in every run, the same held-out windows for every arm and never trained on, shared
stages built once, a re-run that trains nothing, and the report page."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from datamill.ablate.cli import main
from datamill.ablate.evalsets import id_hashes
from datamill.ablate.report import render
from datamill.train.config import load_config as load_trainer
from datamill.train.data import ShardLoader, val_mask

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "ablate-smoke.yaml"


def test_smoke_ablation_runs_once_with_equal_tokens_on_held_out_windows(tmp_path, torch_one_thread):
    out = tmp_path / "abl"
    # a held-out fraction unlike the trainer config's own val_fraction (0.05): if the ablation did not
    # set it on every arm, held-out documents would be trained on and the check below would fail
    args = [str(CONFIG), "--set", f"out_dir={out}", "--set", "tokens=20480", "--set", "eval.held_out_fraction=0.1",
            "--workers", "2", "--no-progress"]
    assert main(args) == 0
    result = json.loads((out / "ablation.json").read_text())
    assert result["trained_now"] == 4
    arms = result["arms"]
    assert set(arms) == {"plain", "meco"}
    for rec in arms.values():
        assert set(rec["runs"]) == {"0", "1"}
        for run in rec["runs"].values():
            assert run["tokens"] == 20480 and run["steps"] == 20
            assert [p["step"] for p in run["curve"]] == [5, 10, 15, 20]
            # far below the loss of a uniform guess over the 4,096-token vocabulary (ln 4096 = 8.32)
            assert run["final"]["pydocs"] < 7.5
    assert len(arms["meco"]["paired"]["pydocs"]["seeds"]) == 2 and "paired" not in arms["plain"]

    # shared stages ran once; the MeCo arm's own stages got its name; one tokenizer for both
    data = out / "data"
    assert {p.name for p in data.iterdir() if p.is_dir()} == {
        "pydocs", "clean_text", "length_filter", "exact_dedup", "metadata_prefix", "token_shards", "token_shards-meco"}
    shas = {json.loads((data / d / "manifest.json").read_text())["tokenizer"]["sha256"]
            for d in ("token_shards", "token_shards-meco")}
    assert len(shas) == 1

    # the eval windows are the held-out source documents, and no arm's training loader serves them
    source = pq.read_table(data / "pydocs", columns=["id"]).column("id").to_pylist()
    held = {i for i, h in zip(source, val_mask(id_hashes(source), 0.1)) if h}
    assert held and result["eval_sets"]["pydocs"]["documents"] == len(held)
    for arm, rec in arms.items():
        tcfg = load_trainer(out / "runs" / arm / "seed0" / "config.json")
        assert tcfg.data.val_fraction == 0.1
        loader = ShardLoader(rec["shards"], seq_len=128, batch_size=8, split="train", val_fraction=0.1)
        trained_ids = {i for t in loader._docs.values() for i in t.column("id").to_pylist()}
        assert trained_ids and not trained_ids & held
        assert rec["train_tokens"]["pydocs"]["held_out_docs"] > 0  # present in the shards, excluded
    windows = np.load(out / "eval" / "pydocs.npy")
    assert windows.shape == (16, 129)

    # a re-run trains nothing and changes no run
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/result.json")}
    assert main(args) == 0
    again = json.loads((out / "ablation.json").read_text())
    assert again["trained_now"] == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/result.json")} == stamps
    assert again["arms"]["meco"]["final"] == arms["meco"]["final"]

    page = render(str(out))
    assert "meco" in page and "plain" in page and page.count("<svg") == 2
    assert (out / "figures" / "curves-pydocs.svg").read_text().count("<polyline") == 4

    # arms that mix existing shard sets (no pipeline): the baseline's shards give the held-out windows
    mix = tmp_path / "mix.yaml"
    mix.write_text(json.dumps({
        "trainer": str(ROOT / "configs" / "train-smoke.yaml"), "out_dir": str(tmp_path / "mix"), "tokens": 10240,
        "seeds": [0], "baseline": "plain", "trainer_set": ["checkpoint_interval=0"],
        "arms": {"plain": {"shards": arms["plain"]["shards"]},
                 "both": {"shards": arms["plain"]["shards"] + arms["meco"]["shards"]}},
        "eval": {"held_out_fraction": 0.1, "windows": 8, "points": 2}}))
    assert main([str(mix), "--no-progress"]) == 0
    mixed = json.loads((tmp_path / "mix" / "ablation.json").read_text())
    assert mixed["eval_sets"]["pydocs"]["windows"] == 8 and mixed["trained_now"] == 2
    assert mixed["arms"]["both"]["train_tokens"]["pydocs"]["tokens"] > mixed["arms"]["plain"]["train_tokens"]["pydocs"]["tokens"]
    assert {r["tokens"] for a in mixed["arms"].values() for r in a["runs"].values()} == {10240}
