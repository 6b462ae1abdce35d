"""configs/release-safety.yaml end to end: the four release-safety stages on real web pages and
Gutenberg stories, each doing its job on the data it was given."""

import json
import re
from pathlib import Path

import pyarrow.compute as pc

from datamill.pipeline.io import read_rejected, read_stage
from datamill.pipeline.runner import run_pipeline

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "release-safety.yaml"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}\b")


def test_release_safety_config(client, tmp_path, shared_data):
    out = run_pipeline(CONFIG, client=client, progress=False, overrides=[f"output={tmp_path / 'run'}"]).output
    stats = {name: json.loads((Path(out) / name / ".datamill" / "stats.json").read_text())
             for name in ("urls", "boilerplate", "pii", "decon")}

    # url_filter: exactly the pages on the listed domains (and their subdomains) are gone
    before = read_stage(out, "exact")
    listed = ("bookmarktoday.info", "busineserviceny.info", "blogspot.com")
    hosts = [re.sub(r"^[a-z]+://([^/:]+).*", r"\1", u or "") for u in before.column("url").to_pylist()]
    blocked = {i for i, h in zip(before.column("id").to_pylist(), hosts) if h.endswith(listed)}
    after_urls = set(read_stage(out, "urls").column("id").to_pylist())
    assert blocked and stats["urls"]["removed"] == {"url_blocklist": len(blocked)}
    assert after_urls == set(before.column("id").to_pylist()) - blocked

    # paragraph_dedup: recurring lines removed from the documents that carried them
    boiler = read_stage(out, "boilerplate")
    assert pc.sum(boiler.column("boilerplate_removed")).as_py() > 0

    # pii: addresses found before are replaced by placeholders after
    pii = read_stage(out, "pii")
    emails_before = sum(len(EMAIL.findall(t)) for t in boiler.column("text").to_pylist())
    assert emails_before > 0 and pc.sum(pii.column("pii_email")).as_py() >= emails_before
    assert not any(EMAIL.search(t) for t in pii.column("text").to_pylist())
    assert any("<EMAIL>" in t for t in pii.column("text").to_pylist())

    # decontaminate: the test-split stories whose summaries quote them, and nothing else
    def fold(text: str) -> str:  # whitespace folded, as clean_text folds it
        return " ".join(text.split())

    test_docs = [fold(json.loads(line)["document"]) for line in
                 (shared_data / "squality" / "v1-3_txt_test.jsonl").read_text().splitlines() if line.strip()]
    removed = read_rejected(out, "decon")
    assert removed.num_rows == stats["decon"]["removed"]["contaminated:squality"] > 0
    # (a passage from the middle: boilerplate removal changed the stories' first lines)
    assert all(any(fold(t)[5000:5300] in d for d in test_docs) for t in removed.column("text").to_pylist())
    assert stats["decon"]["extra"]["references"]["squality"]["documents"] == removed.num_rows
