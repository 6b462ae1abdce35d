"""datamill's ``c4_quality`` against TFDS ``c4_utils`` (the original C4 code), on real pages.

    PYTHONPATH=. .venv/bin/python benchmarks/rule_sets_tfds.py \\
        --tfds-wheel tensorflow_datasets-4.9.10-py3-none-any.whl \\
        --punkt-wheel llama_index_core-0.14.25-py3-none-any.whl [--nltk-python /tmp/dtvenv/bin/python]

The wheels come from ``pip download --no-deps tensorflow-datasets llama-index-core``: the first
holds ``tensorflow_datasets/text/c4_utils.py``, the second vendors NLTK's ``punkt_tab`` English
model (``clean_page`` counts sentences with NLTK's Punkt; ``nltk.download`` needs the network).
``c4_utils.py`` runs as it is, in a Python that has ``nltk`` (no dependency of datamill; the
datatrove virtualenv of rule_sets_reference.py has it), with stand-ins for the imports it only
uses for I/O and Beam counters (absl logging, ``tf.compat.as_text``, ``tfds.core.lazy_imports``)
and one substitution: its ``_load_sentence_tokenizer`` (``nltk.download("punkt")`` and the
``punkt/english.pickle``) becomes ``PunktTokenizer("english")`` over ``punkt_tab``, the same
parameters without the pickle. The pages are rule_sets_reference.py's 1,020. It writes

- ``tests/filters/tfds_c4_decisions.json``: per page, keyed by the sha256 of its text (never the
  text), ``clean_page``'s decision ("keep" or its counter's reason) at TFDS's constants and at
  datatrove's thresholds, its Punkt sentence count, and the bad-words filter's decision on the
  cleaned page (C4's ``en`` config; the LDNOOBW ``en`` list of ../shared/data), with versions
  and sha256s of every input;
- ``benchmarks/results/rule_sets_reference_tfds.{json,md}``: agreement of each datamill setting,
  and of datatrove (from rule_sets_reference.py's fixture), with each variant of TFDS's code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "filters" / "tfds_c4_decisions.json"
RESULTS = ROOT / "benchmarks" / "results" / "rule_sets_reference_tfds"
C4_UTILS = "tensorflow_datasets/text/c4_utils.py"
PUNKT = "llama_index/core/_static/nltk_cache/"  # an NLTK_DATA root holding tokenizers/punkt_tab/
BADWORDS = "badwords-ldnoobw/en"
# TFDS's clean_page as it is, and with constants set to datatrove's (its thresholds are datamill's
# defaults) one at a time and together: name: (clean_page keyword arguments, marks added to
# _END_MARKS, as datatrove also ends lines in "'"). The fixture keeps the first two.
VARIANTS = {
    "clean_page": ({}, ()),
    "clean_page_3w_5s": ({"min_words_per_line": 3, "min_num_sentences": 5}, ()),
    "clean_page_3w": ({"min_words_per_line": 3}, ()),
    "clean_page_5s": ({"min_num_sentences": 5}, ()),
    "clean_page_3w_5s_apostrophe": ({"min_words_per_line": 3, "min_num_sentences": 5}, ("'",)),
}
IN_FIXTURE = ("clean_page", "clean_page_3w_5s", "sentences", "badwords")
# datamill settings compared: its defaults, and TFDS's two thresholds (c4_utils's constants)
SETTINGS = {"defaults": {}, "tfds_thresholds": {"min_words_per_line": 5, "min_sentences": 3}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_c4_utils(path: str):
    """(nltk's venv) c4_utils.py as a module, its TF/TFDS/absl imports replaced by stand-ins."""
    import importlib.util
    import types

    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    def module(name: str, **attrs) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class Counter:  # beam.metrics.Metrics.counter(namespace, name).inc(n): counted nowhere
        def inc(self, amount=1):
            pass

    def as_text(text):  # tf.compat.as_text
        return text.decode("utf-8") if isinstance(text, bytes) else text

    metrics = types.SimpleNamespace(Metrics=types.SimpleNamespace(counter=lambda *a: Counter()))
    lazy = types.SimpleNamespace(nltk=nltk, apache_beam=types.SimpleNamespace(metrics=metrics))
    module("absl", logging=module("absl.logging", info=lambda *a, **k: None))
    module("tensorflow_datasets")
    module("tensorflow_datasets.core")
    module("tensorflow_datasets.core.utils")
    module("tensorflow_datasets.core.utils.lazy_imports_utils",
           tensorflow=types.SimpleNamespace(compat=types.SimpleNamespace(as_text=as_text)))
    module("tensorflow_datasets.public_api", core=types.SimpleNamespace(lazy_imports=lazy))
    spec = importlib.util.spec_from_file_location("c4_utils", path)
    c4 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(c4)
    c4._load_sentence_tokenizer = lambda: PunktTokenizer("english")  # punkt_tab, not the pickle
    return c4


def run_reference(src: str, out: str, c4_utils: str, badwords: str) -> None:
    """(nltk's venv) Per page and variant: clean_page's decision; for TFDS's own constants also
    its sentence count and the bad-words filter's decision on the cleaned page."""
    from importlib.metadata import version

    c4 = load_c4_utils(c4_utils)
    sentences = [0]
    split = c4._get_sentences

    def counted(text):  # clean_page's per-line sentence count, summed over the kept lines
        found = split(text)
        sentences[0] += len(found)
        return found

    c4._get_sentences = counted
    clean = c4.get_clean_page_fn()
    end_marks = c4._END_MARKS
    with open(badwords, encoding="utf-8") as f:  # as TFDS's c4.py reads the list
        words = {line.strip() for line in f}
    no_badwords = c4.get_badwords_filter_fn({"en": words}, filter_fraction=1.0)  # C4 `en` config
    decisions = {}
    for line in Path(src).read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        row = decisions[doc["id"]] = {}
        for name, (arguments, more_marks) in VARIANTS.items():
            c4._END_MARKS = end_marks + more_marks
            events, sentences[0] = [], 0
            kept = list(clean(c4.PageFeatures(url=doc["id"], text=doc["text"], language="en"),
                              counter_inc_fn=lambda name, amount=1: events.append(name), **arguments))
            reason = next((e.split(":", 1)[1] for e in events if e.startswith("filtered:")), "keep")
            row[name] = "keep" if kept else reason
            if name == "clean_page":
                row["sentences"] = sentences[0]
                row["badwords"] = ("keep" if no_badwords(kept[0]) else "badwords") if kept else None
    c4._END_MARKS = end_marks
    meta = {"nltk": version("nltk"), "python": sys.version.split()[0],
            "c4_utils_constants": {k: getattr(c4, k) for k in (
                "_MIN_WORDS_PER_LINE", "_MIN_NUM_SENTENCES", "_MAX_WORD_LENGTH", "_END_MARKS",
                "_ELLIPSIS", "_POLICY_SUBSTRINGS")},
            "badwords_entries": len(words), "in_fixture": list(IN_FIXTURE),
            "variants": {k: {"arguments": a, "more_end_marks": m} for k, (a, m) in VARIANTS.items()}}
    Path(out).write_text(json.dumps({"meta": meta, "decisions": decisions}))


def unpack(wheel: Path, member: str, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.startswith(member)]
        z.extractall(into, names)
    return into / member


def run_tfds(texts: list[str], ids: list[str], args, data: Path) -> dict:
    """Every variant's decisions (run in ``--nltk-python``); writes the fixture's part of them."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        c4_utils = unpack(Path(args.tfds_wheel), C4_UTILS, tmp)
        nltk_data = unpack(Path(args.punkt_wheel), PUNKT, tmp)
        english = sorted((nltk_data / "tokenizers" / "punkt_tab" / "english").iterdir())
        src, out = tmp / "in.jsonl", tmp / "out.json"
        src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, texts)))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run([args.nltk_python, __file__, "reference", str(src), str(out), str(c4_utils),
                        str(data / BADWORDS)], check=True, env={**env, "NLTK_DATA": str(nltk_data)})
        ref = json.loads(out.read_text())
        ref["meta"].update({
            "tfds_wheel": Path(args.tfds_wheel).name, "tfds_wheel_sha256": sha256(Path(args.tfds_wheel)),
            "c4_utils_sha256": sha256(c4_utils),
            "punkt_wheel": Path(args.punkt_wheel).name, "punkt_wheel_sha256": sha256(Path(args.punkt_wheel)),
            "punkt_tab_english_sha256": {p.name: sha256(p) for p in english},
            "badwords_list": f"shared data {BADWORDS}", "badwords_sha256": sha256(data / BADWORDS),
            "pages": "rule_sets_reference.py's pages; key: sha256(text)[:16]",
            "substituted": "_load_sentence_tokenizer -> nltk PunktTokenizer('english') (punkt_tab)"})
    fixture = {"meta": ref["meta"], "decisions": {
        i: {k: row[k] for k in IN_FIXTURE} for i, row in ref["decisions"].items()}}
    FIXTURE.write_text(json.dumps(fixture, indent=0, sort_keys=True) + "\n")
    return ref


def datamill_kept(texts: list[str], badwords: str) -> dict[str, list[bool]]:
    """{setting: kept?, per text}: datamill's c4_quality without and with the bad-words list."""
    import pyarrow as pa

    from datamill.filters.c4_quality import C4QualityFilter

    table = pa.table({"text": texts})
    out = {}
    for name, fields in SETTINGS.items():
        for suffix, path in (("", ""), ("+badwords", badwords)):
            stage = C4QualityFilter(badwords_path=path, **fields)
            out[name + suffix] = [r is None for r in stage.reasons(stage.annotate(table)).to_pylist()]
    return out


def agreement(ours: list[bool], theirs: list[bool]) -> float:
    return sum(a == b for a, b in zip(ours, theirs)) / len(ours)


def main(argv: list[str]) -> int:
    if argv[:1] == ["reference"]:
        run_reference(*argv[1:5])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tfds-wheel", required=True, help="tensorflow_datasets-*.whl")
    p.add_argument("--punkt-wheel", required=True, help="llama_index_core-*.whl (punkt_tab inside)")
    p.add_argument("--nltk-python", default="/tmp/dtvenv/bin/python", help="a Python with nltk")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))  # script-only: the page list beside this file
    from record import Record
    from rule_sets_reference import FIXTURE as DATATROVE, corpus, page_id

    data = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    texts = corpus(data)
    ids = [page_id(t) for t in texts]
    ref = run_tfds(texts, ids, args, data)
    tfds = {name: [ref["decisions"][i][name] == "keep" for i in ids] for name in VARIANTS}
    tfds["clean_page+badwords"] = [ref["decisions"][i]["badwords"] == "keep" for i in ids]
    datatrove = json.loads(DATATROVE.read_text())
    ours = datamill_kept(texts, str(data / BADWORDS))
    ours["datatrove"] = [datatrove["decisions"][i]["c4_quality"] == "keep" for i in ids]
    pairs = [("defaults", "clean_page"), ("tfds_thresholds", "clean_page"),
             ("defaults", "clean_page_3w_5s"), ("defaults+badwords", "clean_page+badwords"),
             ("tfds_thresholds+badwords", "clean_page+badwords")]
    pairs += [("datatrove", v) for v in VARIANTS]  # which constants make datatrove depart
    rec = Record("rule_sets_reference_tfds", command="python benchmarks/rule_sets_tfds.py "
                 + " ".join(argv), params={"pages": len(texts), "settings": SETTINGS},
                 packages=["pyarrow"], note="agreement = share of pages with the same keep/drop "
                 "decision; one repeat (deterministic)")
    for who, variant in pairs:
        rec.figure("agreement", [agreement(ours[who], tfds[variant])], unit="share of pages",
                   side=who, reference=variant)
    for variant, kept in tfds.items():
        rec.figure("keep_all_baseline", [agreement([True] * len(kept), kept)], unit="share of pages",
                   reference=variant)
    rec.details(
        reference=ref["meta"], kept={**{k: sum(v) for k, v in ours.items()},
                                     **{k: sum(v) for k, v in tfds.items()}},
        departures={f"{who} vs {variant}": [i for i, a, b in zip(ids, ours[who], tfds[variant])
                                            if a != b] for who, variant in pairs})
    rec.write()
    write_md(rec.data)
    return 0


def write_md(raw: dict) -> None:
    base = {f["reference"]: f["median"] for f in raw["figures"] if f["name"] == "keep_all_baseline"}
    meta = raw["details"]["reference"]
    md = ["# C4 rules against TFDS c4_utils (generated by benchmarks/rule_sets_tfds.py)", "",
          f"{raw['params']['pages']} real pages (those of rule_sets_reference.md); TFDS "
          f"{meta['tfds_wheel']} `c4_utils.clean_page`, Punkt from `punkt_tab` (nltk {meta['nltk']}); "
          "`+badwords` adds C4's `en` bad-words filter with the LDNOOBW `en` list. "
          "`clean_page_3w_5s` is TFDS's code at 3 words per line and 5 sentences "
          "(datatrove's and datamill's defaults); `_apostrophe` also ends lines in `'`.", "",
          "| datamill setting (or datatrove 0.10.1 at its defaults) | TFDS reference | agreement "
          "| keep-all baseline |",
          "|---|---|---|---|"]
    for f in raw["figures"]:
        if f["name"] == "agreement":
            md.append(f"| {f['side']} | {f['reference']} | {f['median']:.2%} "
                      f"| {base[f['reference']]:.2%} |")
    RESULTS.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
