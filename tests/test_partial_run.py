"""A failed or killed run can be inspected: stats, show and report list what finished and name
what did not (docs/RELIABILITY.md)."""

import json

import pytest

from datamill.cli import main
from datamill.filters.length_filter import LengthFilter
from datamill.pipeline.runner import run_pipeline


@pytest.fixture
def failed_run(client, tmp_path, monkeypatch):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": f"some words here {i}"}) + "\n"
                                              for i in range(20)))
    cfg = {"name": "partial", "output": str(tmp_path / "run"),
           "sources": {"a": {"format": "jsonl", "path": str(tmp_path / "a.jsonl")}},
           "stages": [{"use": "clean_text"}, {"use": "exact_dedup"}, {"use": "length_filter", "min_words": 2}]}

    def boom(self, table):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(LengthFilter, "annotate", boom)
    with pytest.raises(RuntimeError, match="planted failure"):
        run_pipeline(cfg, client=client, progress=False)
    return tmp_path / "run"


def test_stats_show_report_work_on_a_failed_run(failed_run, tmp_path, capsys):
    assert json.loads((failed_run / "run.json").read_text())["status"] == "failed"
    assert main(["stats", str(failed_run), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in stats["stages"]] == ["a", "clean_text", "exact_dedup"]
    assert stats["missing"] == ["length_filter"] and stats["status"] == "failed"
    assert main(["stats", str(failed_run)]) == 0
    assert "not finished: length_filter" in capsys.readouterr().out
    assert main(["show", str(failed_run), "exact_dedup", "-n", "1"]) == 0
    assert "── d" in capsys.readouterr().out
    assert main(["show", str(failed_run), "length_filter"]) == 0
    assert "'length_filter' has not finished" in capsys.readouterr().out
    assert main(["report", str(failed_run), "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "not finished: length_filter" in page and "stage-exact_dedup" in page


def test_stats_without_run_json_lists_finished_stages_in_event_order(failed_run, capsys):
    (failed_run / "run.json").unlink(missing_ok=True)  # killed before run.json existed (or a run from before it was written first)
    assert main(["stats", str(failed_run), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in stats["stages"]] == ["a", "clean_text", "exact_dedup"]
