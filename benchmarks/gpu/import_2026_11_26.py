"""Record-format JSON of the GPU outputs committed in ``results/gpu-2026-11-26/``.

The H200 runs of 2026-11-26 printed their own JSON (no load average, no package list beyond
torch). This reads those files, pins each by sha256, and writes ``results/gpu_*.json`` with
``benchmarks/gpu/records.py``, the same parsers ``run_all.py`` uses on a fresh run.

    PYTHONPATH=. python benchmarks/gpu/import_2026_11_26.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmarks.gpu import records
from benchmarks.record import RESULTS, Record

RAW = RESULTS / "gpu-2026-11-26"
MACHINE = {"gpu": "NVIDIA H200", "description": "the lent H200 machine (one GPU, 16 CPU cores, 128 GiB)"}
VERSIONS = {"torch": "2.11.0+cu130", "datamill": None}
LOAD_NOTE = "not recorded by the 2026-11-26 GPU scripts (one GPU, lent to this run alone)"


def record(name: str, command: str, files: list[str], note: str = "") -> Record:
    source = {"files": {f: hashlib.sha256((RAW / f).read_bytes()).hexdigest() for f in files},
              "folder": "benchmarks/results/gpu-2026-11-26"}
    return Record(name, command=command, note=note, imported={
        "recorded": "2026-11-26", "machine": MACHINE, "versions": VERSIONS, "load_note": LOAD_NOTE,
        "source": source})


def lines(name: str) -> list[dict]:
    return records.json_lines((RAW / name).read_text())


def main(out: Path = RESULTS) -> None:
    rec = record("gpu_minhash", "PYTHONPATH=. python benchmarks/gpu/minhash.py", ["minhash.txt"])
    records.minhash(rec, lines("minhash.txt")[0])
    rec.write(out / f"{rec.name}.json")

    rec = record("gpu_embeddings", "PYTHONPATH=. python benchmarks/gpu/embeddings.py bench-data/minilm-fp16",
                 ["embeddings.txt"], note="each figure is the median of the script's 3 repeats; only medians printed")
    records.embeddings(rec, lines("embeddings.txt")[0])
    rec.write(out / f"{rec.name}.json")

    # Pairs of the current model (after the q/k/v, gate/up and RoPE changes) against nanoGPT: the
    # trainer.py run, the two back-to-back pairs after it, and the earlier machine start's run of
    # the same model (named rope_bthd+mlp_separate there).
    rec = record("gpu_trainer", "PYTHONPATH=. python benchmarks/gpu/trainer.py; PYTHONPATH=. python "
                 "benchmarks/gpu/trainer_profile.py --variants base,nanogpt,base --profile none",
                 ["trainer_2.json", "trainer_profile_5.jsonl", "trainer_profile_4.jsonl", "trainer.txt",
                  "trainer_profile_1.jsonl", "trainer_profile_2.jsonl", "trainer_profile_3.jsonl"],
                 note="nanoGPT's model.py was fetched from karpathy/nanoGPT; its hash was not recorded in 2026-11-26")
    t2 = json.loads((RAW / "trainer_2.json").read_text())
    p4 = [{**r, "run": "base" if r.get("run") == "rope_bthd+mlp_separate" else r.get("run")}
          for r in lines("trainer_profile_4.jsonl") if r.get("run") in ("nanogpt", "rope_bthd+mlp_separate")]
    runs = [{"run": "nanogpt", **t2["nanogpt"]}, {"run": "base", **t2["datamill"]}, *lines("trainer_profile_5.jsonl"), *p4]
    records.trainer_pairs(rec, runs)
    every_nanogpt = [r["tokens_per_s"] for f in ("trainer.txt", "trainer_2.json", *(f"trainer_profile_{i}.jsonl"
                     for i in range(1, 6))) for r in _nanogpt_runs(f)]
    rec.figure("tokens_per_s", every_nanogpt, unit="tokens/s", impl="nanogpt", runs="every-run")
    rec.write(out / f"{rec.name}.json")

    rec = record("gpu_train_loop", "PYTHONPATH=. python3 -m datamill.train configs/train-124m.yaml --set steps=40 "
                 "--set model.doc_attention={flex,sdpa_mask}", ["loop_flex.txt", "loop_sdpa_mask.txt"],
                 note="quickstart shards (vocab 4096, 88M params, packed docs, MeCo); one interval of 5 steps a repeat, "
                      "the first (compile) left out; the two runs one after the other")
    records.train_loop(rec, (RAW / "loop_flex.txt").read_text(), "flex")
    records.train_loop(rec, (RAW / "loop_sdpa_mask.txt").read_text(), "sdpa_mask")
    rec.write(out / f"{rec.name}.json")

    rec = record("gpu_schedulers", "PYTHONPATH=. python benchmarks/gpu/schedulers.py", ["schedulers.txt"],
                 note="step times are the script's medians; only medians printed")
    records.schedulers(rec, lines("schedulers.txt")[0])
    rec.write(out / f"{rec.name}.json")


def _nanogpt_runs(name: str) -> list[dict]:
    if name.endswith(".json") or name == "trainer.txt":
        return [{"tokens_per_s": o["nanogpt"]["tokens_per_s"]} for o in lines(name) if "nanogpt" in o]
    return [r for r in lines(name) if r.get("run") == "nanogpt"]


if __name__ == "__main__":
    main()
