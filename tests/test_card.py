"""``datamill card`` writes a dataset card the Hub's parser and ``datasets`` read; ``datamill
export-hf`` writes a dataset ``load_from_disk`` opens at the path it prints."""

import json

import pytest

from datamill.card import size_category
from datamill.cli import main
from datamill.filters.length_filter import LengthFilter
from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline

datasets = pytest.importorskip("datasets")
huggingface_hub = pytest.importorskip("huggingface_hub")


def web_config(shared_data, out, stages=None) -> dict:
    return {"name": "card-web", "output": str(out),
            "sources": {"cc": {"format": "jsonl",
                               "path": str(shared_data / "web-dolma-fixtures" / "multiple_files__cc_en_head-*.jsonl.gz")}},
            "stages": stages or [{"use": "clean_text"}, {"use": "language_filter", "languages": ["en"], "min_score": 0.3},
                                 {"use": "length_filter", "min_words": 300}, {"use": "exact_dedup"},
                                 {"use": "token_shards", "tokenizer": {"train_vocab": 600}, "seq_len": 64}]}


@pytest.fixture(scope="module")
def web_run(client, shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("card") / "run"
    run_pipeline(web_config(shared_data, out), client=client, progress=False)
    return out


def stage_stats(run, name) -> dict:
    return json.loads((run / name / ".datamill" / "stats.json").read_text())


def test_card_loads_with_the_hub_parser_and_datasets(web_run, tmp_path, capsys):
    assert main(["card", str(web_run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {web_run / 'README.md'}"
    card = huggingface_hub.DatasetCard.load(web_run / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["task_categories"] == ["text-generation"]
    assert data["size_categories"] == ["n<1K"] and data["language"] == ["en"] and "datamill" in data["tags"]
    assert data["configs"] == [{"config_name": "exact_dedup", "default": True,
                                "data_files": [{"split": "train", "path": "exact_dedup/part-*.parquet"}]}]
    dedup, length = stage_stats(web_run, "exact_dedup"), stage_stats(web_run, "length_filter")
    ds = datasets.load_dataset(str(web_run), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == dedup["rows_out"] == read_stage(str(web_run), "exact_dedup").num_rows
    assert 0 < length["removed"]["too_few_words"] < 20  # the card's stage is not simply the input
    assert "text" in ds.column_names and "language" in ds.column_names
    body = card.text
    assert "placeholder" in body and f"too_few_words: {length['removed']['too_few_words']:,}" in body
    manifest = json.loads((web_run / "token_shards" / "manifest.json").read_text())
    assert f"{manifest['totals']['tokens']:,} tokens in {manifest['totals']['docs']:,} documents" in body
    assert f"| cc | {manifest['sources']['cc']['docs']:,} | {manifest['sources']['cc']['tokens']:,} | 100.0% |" in body
    assert "min_words: 300" in body and "did not finish" not in body


def test_card_for_a_chosen_stage_written_in_its_dir(web_run, tmp_path, capsys):
    stage_dir = web_run / "clean_text"
    assert main(["card", str(web_run), "clean_text", "-o", str(stage_dir) + "/"]) == 0
    data = huggingface_hub.DatasetCard.load(stage_dir / "README.md").data.to_dict()
    assert data["configs"][0]["data_files"][0]["path"] == "part-*.parquet" and data["pretty_name"] == "card-web: clean_text"
    ds = datasets.load_dataset(str(stage_dir), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == stage_stats(web_run, "clean_text")["rows_out"] == 20
    capsys.readouterr()
    assert main(["card", str(web_run), "clean_text", "-o", str(tmp_path / "elsewhere.md")]) == 2
    assert "a folder above it" in capsys.readouterr().err and not (tmp_path / "elsewhere.md").exists()
    assert main(["card", str(web_run), "token_shards"]) == 2
    assert "export-hf" in capsys.readouterr().err


def test_export_hf_output_opens_at_the_printed_path(web_run, tmp_path, capsys):
    from datamill.shards import ShardSet

    assert main(["export-hf", str(web_run / "token_shards"), "-o", str(tmp_path / "hf")]) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("wrote ")
    ds = datasets.load_from_disk(path)
    shards = ShardSet(web_run / "token_shards")
    assert len(ds) == shards.manifest["totals"]["docs"] == stage_stats(web_run, "exact_dedup")["rows_out"]
    index = {r["id"]: r for r in shards.index().to_pylist()}
    row = ds[0]
    r = index[row["id"]]
    assert row["input_ids"] == shards.doc_tokens(r["shard"], r["offset"], r["length"]).tolist()
    assert main(["export-hf", str(web_run), "-o", str(tmp_path / "no")]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_card_of_a_failed_run_names_the_missing_stages(client, shared_data, tmp_path, monkeypatch, capsys):
    def boom(self, table):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(LengthFilter, "annotate", boom)
    stages = [{"use": "clean_text"}, {"use": "exact_dedup"}, {"use": "length_filter", "min_words": 2}]
    with pytest.raises(RuntimeError, match="planted failure"):
        run_pipeline(web_config(shared_data, tmp_path / "run", stages), client=client, progress=False)
    assert main(["card", str(tmp_path / "run")]) == 0
    card = huggingface_hub.DatasetCard.load(tmp_path / "run" / "README.md")
    assert card.data.configs[0]["config_name"] == "exact_dedup" and card.data.size_categories == ["n<1K"]
    assert "did not finish" in card.text and "not finished: length_filter" in card.text
    assert main(["card", str(tmp_path / "run"), "length_filter"]) == 2
    assert "'length_filter' has not finished" in capsys.readouterr().err


@pytest.mark.parametrize("rows, label", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (54_321, "10K<n<100K"),
                                         (5 * 10**6, "1M<n<10M"), (10**12 - 1, "100B<n<1T"), (10**12, "n>1T")])
def test_size_category_uses_the_hubs_buckets(rows, label):
    assert size_category(rows) == label
