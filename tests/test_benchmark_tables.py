"""BENCHMARKS.md is generated from benchmarks/results/*.json: the two must agree, every raw
file a row cites must exist, and every raw file
must carry machine, load, versions and every repeat."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from benchmarks import tables

RESULTS = tables.RESULTS


# Detail outputs in their own formats, which no row of BENCHMARKS.md cites; every other JSON file
# under results/ is a record.py raw file.
OTHER_FORMATS = {
    "meco_ablation.json": "an ablation.json of `datamill ablate` (docs/ABLATIONS.md); meco.json is its record",
    "rule_sets_reference.json": "per-rule-set agreement with datatrove on the fixture's pages",
    "entigraph_probe.json": "the closed-book probe's per-question losses",
}


def raw_files() -> list[Path]:
    return sorted(p for p in RESULTS.glob("*.json") if p.name not in OTHER_FORMATS)


def test_detail_files_in_other_formats_exist_and_are_not_cited():
    assert all((RESULTS / name).exists() for name in OTHER_FORMATS)
    cited = {f"{f}.json" for row in tables.CPU_ROWS + tables.GPU_ROWS for f in row.files()}
    assert not cited & set(OTHER_FORMATS)


def test_committed_table_matches_the_raw_files():
    assert tables.OUTPUT.read_text() == tables.render(), "run: python benchmarks/tables.py"


def test_every_cited_raw_file_exists():
    cited = {f for row in tables.CPU_ROWS + tables.GPU_ROWS for f in row.files()}
    assert {f for f in cited if not (RESULTS / f"{f}.json").exists()} == set()


@pytest.mark.parametrize("path", raw_files(), ids=lambda p: p.name)
def test_raw_file_has_machine_load_versions_repeats(path):
    raw = json.loads(path.read_text())
    assert tables.problems(raw) == []
    source = raw.get("source", {})
    for name, digest in source.get("files", {}).items():  # an imported older output stays pinned
        assert hashlib.sha256((tables.HERE.parent / source["folder"] / name).read_bytes()).hexdigest() == digest


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """The raw files and BENCHMARKS.md copied, and tables pointed at the copies."""
    shutil.copytree(RESULTS, tmp_path / "results", ignore=shutil.ignore_patterns("*.md", "figures"))
    shutil.copy(tables.OUTPUT, tmp_path / "BENCHMARKS.md")
    monkeypatch.setattr(tables, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(tables, "OUTPUT", tmp_path / "BENCHMARKS.md")
    return tmp_path / "results"


def edit(path: Path, change) -> None:
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def test_check_fails_when_a_repeat_changes(copy):
    assert tables.main(["--check"]) == 0

    def slower(raw):
        fig = raw["figures"][0]
        fig["repeats"] = [x / 2 for x in fig["repeats"]]
        fig.update(median=fig["median"] / 2, min=fig["min"] / 2, max=fig["max"] / 2)

    edit(copy / "decontaminate_speed.json", slower)
    assert tables.main(["--check"]) == 1


def test_render_refuses_a_missing_or_incomplete_raw_file(copy):
    (copy / "loader_throughput.json").unlink()
    with pytest.raises(FileNotFoundError, match="loader_throughput"):
        tables.render()
    shutil.copy(RESULTS / "loader_throughput.json", copy / "loader_throughput.json")
    edit(copy / "loader_throughput.json", lambda raw: raw.pop("load"))
    with pytest.raises(ValueError, match="no load"):
        tables.render()


@pytest.mark.parametrize("drop", ["machine", "versions", "repeats", "summary"])
def test_problems_names_what_is_missing(drop):
    raw = json.loads((RESULTS / "decontaminate_speed.json").read_text())
    assert tables.problems(raw) == []
    if drop == "repeats":
        raw["figures"][0]["repeats"] = []
    elif drop == "summary":
        raw["figures"][0]["median"] += 1
    else:
        raw.pop(drop)
    assert tables.problems(raw)


def test_gpu_parsers_reproduce_the_committed_gpu_records(tmp_path):
    """benchmarks/gpu/records.py (which run_all.py uses) turns the committed H200 outputs into
    exactly the committed gpu_*.json figures."""
    from benchmarks.gpu import import_2026_11_26

    import_2026_11_26.main(tmp_path)
    made = sorted(p.name for p in tmp_path.glob("*.json"))
    assert made == ["gpu_embeddings.json", "gpu_minhash.json", "gpu_schedulers.json", "gpu_train_loop.json",
                    "gpu_trainer.json"]
    for name in made:
        fresh, committed = (json.loads(p.read_text()) for p in (tmp_path / name, RESULTS / name))
        assert fresh["figures"] == committed["figures"] and fresh["source"] == committed["source"]


def test_the_recorded_sha_says_when_tracked_code_differs_from_it(tmp_path):
    import subprocess

    from benchmarks.record import git_sha

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results" / "a.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "c")
    sha = git_sha(tmp_path)
    assert sha and "+" not in sha
    (tmp_path / "notes.txt").write_text("untracked\n")
    (tmp_path / "benchmarks" / "results" / "a.json").write_text('{"rewritten": 1}\n')  # a benchmark's own output
    assert git_sha(tmp_path) == sha
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_sha(tmp_path) == sha + "+dirty"


def test_raw_files_name_paths_inside_the_checkout_relative_to_its_root():
    from benchmarks.record import ROOT, repo_relative

    raw = {"arms": {"a": {"shards": [f"{ROOT}/runs/x/data/token_shards", "/elsewhere/shards"]}}, "n": 3,
           "command": f"python {ROOT}/benchmarks/x.py"}
    assert repo_relative(raw) == {"arms": {"a": {"shards": ["runs/x/data/token_shards", "/elsewhere/shards"]}},
                                  "n": 3, "command": f"python {ROOT}/benchmarks/x.py"}  # whole values only
    shards = [p for arm in json.loads((RESULTS / "meco_ablation.json").read_text())["arms"].values()
              for p in arm["shards"]]
    assert shards and not any(p.startswith("/") for p in shards), shards
