import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datamill.cli import main
from datamill.pipeline.io import read_rejected
from datamill.pipeline.runner import run_pipeline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from distributed import Client, LocalCluster

    cfg = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    cfg["output"] = str(tmp_path_factory.mktemp("q") / "run")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            Client(cl) as c:
        return run_pipeline(cfg, client=c, progress=False)


def test_stats_json_lists_every_stage(quick_run, capsys):
    assert main(["stats", quick_run.output, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    names = [s["name"] for s in stats["stages"]]
    assert names[0] == "pydocs" and "exact_dedup" in names
    for s in stats["stages"]:
        assert {"name", "use", "rows_in", "rows_out", "removed", "seconds"} <= set(s)
    dedup = next(s for s in stats["stages"] if s["name"] == "exact_dedup")
    assert dedup["removed"]["exact_duplicate"] == dedup["rows_in"] - dedup["rows_out"] > 0


def test_stats_table_and_show(quick_run, capsys):
    assert main(["stats", quick_run.output]) == 0
    assert "exact_duplicate=" in capsys.readouterr().out
    assert main(["show", quick_run.output, "exact_dedup", "--removed", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("[removed: exact_duplicate]") == 2 and "exact_duplicate_of=" in out
    assert main(["show", quick_run.output, "length_filter", "-n", "3"]) == 0
    assert capsys.readouterr().out.count("── ") == 3


def test_report_is_self_contained_html(quick_run, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", quick_run.output, "-o", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and 'data-chart="waterfall-rows"' in page
    assert "exact_duplicate" in page
    assert_self_contained(page)


def assert_self_contained(page: str) -> None:
    """Nothing the browser would fetch: no external src/href, stylesheet, import or CSS url()."""
    fetched = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*""", page, flags=re.I)
    assert not fetched, fetched
    assert not re.search(r"<link\b|@import|url\(\s*[\"']?\s*(?:https?:)?//", page, flags=re.I)
    assert "<script src" not in page.lower()


def test_config_error_is_a_clean_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"sources": {"d": {"format": "python_docs"}},
                                   "stages": [{"use": "length_filter", "min_wordz": 3}]}))
    proc = subprocess.run([sys.executable, "-m", "datamill.cli", "run", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "min_wordz" in proc.stderr and "length_filter" in proc.stderr and "Traceback" not in proc.stderr


def test_show_cluster_lists_keeper_then_removed_members(quick_run, capsys):
    removed = read_rejected(quick_run.output, "minhash_dedup")
    cluster = removed.column("minhash_cluster")[0].as_py()
    assert main(["show", quick_run.output, "minhash_dedup", "--cluster", cluster]) == 0
    blocks = capsys.readouterr().out.split("── ")[1:]
    assert len(blocks) >= 2 and "[removed" not in blocks[0] and all("[removed" in b for b in blocks[1:])
