"""The house rules that keep the package livable: layered imports without circles, small files,
every stage in the catalog under its file's name, and every path the docs and comments cite."""

import ast
import dataclasses
import graphlib
import re
from pathlib import Path

import pytest

from datamill.catalog import STAGES
from datamill.stage_docs import field_comments

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "datamill"
# lower number = lower layer; a module may import its own layer (without circles) or lower ones
LAYERS = [
    (0, ("datamill", "datamill.stage", "datamill.partitions", "datamill.order_statistic", "datamill.shards",
         "datamill.fileio", "datamill.typed_config")),
    (1, ("datamill.stages", "datamill.filters", "datamill.synth", "datamill.schedulers", "datamill.train")),
    (2, ("datamill.catalog",)),
    (3, ("datamill.pipeline",)),
    (4, ("datamill.cli", "datamill.inspection", "datamill.report", "datamill.card", "datamill.stage_docs",
         "datamill.train_command", "datamill.worker_preload", "datamill.ablate")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    best = None
    for rank, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > len(best[1])):
                best = (rank, p)
    assert best is not None, f"{module} is in no layer of tests/test_layout.py"
    return best[0]


def imports() -> dict[str, set[str]]:
    """Every datamill import of every module, including those inside functions."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + is_pkg]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        graph[name] = {m for m in out if m in modules and m != name}
    return graph


def test_imports_have_no_circles():
    graph = imports()
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        pytest.fail(f"import circle: {' -> '.join(e.args[1])}")


def test_imports_only_go_down_the_layers():
    upward = [f"{m} -> {d}" for m, deps in imports().items() for d in deps
              if d != "datamill" and layer(d) > layer(m)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_the_trainer_ties_to_the_data_side_only_through_the_shard_format():
    data_side = ("datamill.pipeline", "datamill.stages", "datamill.filters", "datamill.synth", "datamill.catalog")
    bad = [f"{m} -> {d}" for m, deps in imports().items() if m.startswith(("datamill.train", "datamill.schedulers"))
           and not m.startswith("datamill.train_command") for d in deps if d.startswith(data_side)]
    assert not bad, bad


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_every_stage_is_in_the_catalog_under_its_file_name():
    for name, cls in STAGES.items():
        assert cls.use == name
        assert cls.__module__.rsplit(".", 1)[1] == name, f"use: {name} lives in {cls.__module__}"
    assert sorted(STAGES) == sorted({c.use for c in STAGES.values()})


def test_every_stage_parameter_is_documented():
    undocumented = [f"{name}.{f.name}" for name, cls in STAGES.items() for f in dataclasses.fields(cls)
                    if f.name not in field_comments(cls) and f.name != "mode"]
    assert not undocumented, "fields without an explaining comment: " + ", ".join(undocumented)


CITED = re.compile(r"(?<![\w./])((?:docs|benchmarks|configs|scripts|datamill|tests)/[\w./-]*\.(?:md|py|yaml|json|jsonl|sh|txt))\b")


def test_every_path_cited_in_code_comments_and_the_readme_exists():
    texts = {ROOT / "README.md": (ROOT / "README.md").read_text()}
    texts.update({p: p.read_text() for p in PACKAGE.rglob("*.py")})
    texts.update({p: p.read_text() for p in (ROOT / "docs").glob("*.md")})
    missing = sorted({f"{path.relative_to(ROOT)}: {cited}" for path, text in texts.items()
                      for cited in CITED.findall(text)
                      if "*" not in cited and not (ROOT / cited).exists() and not (ROOT / cited).with_suffix("").exists()})
    assert not missing, "cited paths that do not exist:\n" + "\n".join(missing)


def test_nothing_points_at_the_team_folder():
    texts = [(p, p.read_text()) for p in [*PACKAGE.rglob("*.py"), ROOT / "README.md", *(ROOT / "docs").glob("*.md")]]
    bad = [str(p.relative_to(ROOT)) for p, t in texts
           if re.search(r"(?<!docs/)\b(DESIGN|METHODS|PERF)\.md|\.\./shared/docs", t)]
    assert not bad, bad
