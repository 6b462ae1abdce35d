"""The trainer's only tie to the data side is the shard format: datamill.train and
datamill.schedulers never import the pipeline or the stages, and no import cycle runs through
them (imports inside functions included), read from the source with ``ast``."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("datamill.train", "datamill.schedulers", "datamill.shards", "datamill.typed_config", "datamill.train_command")


def _graph() -> dict[str, set[str]]:
    files = {}
    for path in (ROOT / "datamill").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for mod, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                assert not isinstance(node, ast.ImportFrom), f"{path}: relative import"
                continue
            for name in names:
                target = known(name)
                if target and target != mod:
                    deps.add(target)
                    # importing a.b.c runs a/__init__ and a/b/__init__ first (but not our own packages')
                    parts = target.split(".")
                    deps.update(p for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                                if p in files and p != mod and not mod.startswith(p + "."))
        graph[mod] = deps
    return graph


def _ours(mod: str) -> bool:
    return any(mod == o or mod.startswith(o + ".") for o in OURS)


def test_trainer_and_schedulers_do_not_import_the_pipeline():
    graph = _graph()
    for mod, deps in graph.items():
        if _ours(mod) and mod != "datamill.train_command":
            bad = sorted(d for d in deps if d.startswith(("datamill.pipeline", "datamill.stages")))
            assert not bad, f"{mod} imports {bad}"
    assert "datamill.pipeline.runner" in graph["datamill.train_command"]  # the one place they meet


def test_no_import_cycle_through_the_trainer():
    graph = _graph()
    for start in filter(_ours, graph):
        seen, stack = set(), [(start, (start,))]
        while stack:
            mod, path = stack.pop()
            for dep in graph[mod]:
                assert dep != start, "import cycle: " + " -> ".join(path + (dep,))
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, path + (dep,)))
