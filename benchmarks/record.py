"""One raw-result format for every benchmark: what ran, where, under what load, and every repeat.

A benchmark script builds a ``Record``, adds one ``figure`` per measured quantity (all repeats, in
the order they ran), and writes ``benchmarks/results/<name>.json``. ``benchmarks/tables.py``
renders the summary tables of ``BENCHMARKS.md`` from these files only; nothing is typed by hand.

    rec = Record("minhash_speed", command="python benchmarks/minhash_speed.py --repeats 5",
                 params={"docs": 20000}, packages=["numpy", "datasketch"])
    rec.figure("signatures", [21000.0, 21300.0], unit="docs/s/core", corpus="debian", impl="datamill")
    rec.write()

Each figure carries its repeats and their median, min and max; labels (``corpus``, ``impl`` …)
say which row of a side-by-side comparison it is. Load is the 1-minute load average sampled at
start and at ``write()``; side-by-side repeats must be interleaved by the script itself.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    """The machine a figure was measured on."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gb = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": mem_gb, "python": platform.python_version()}


def load() -> list[float]:
    """1-, 5- and 15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def git_sha(root: Path = ROOT) -> str | None:
    """HEAD's short sha, with ``+dirty`` when a tracked file outside ``benchmarks/results`` differs
    from it (the code that ran is then not the commit's). Untracked files and the results that
    benchmarks write do not count."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10)
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  ":(exclude)benchmarks/results"], cwd=root, capture_output=True, text=True,
                                 timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = head.stdout.strip()
    return (sha + ("+dirty" if changed.returncode == 0 and changed.stdout.strip() else "")) or None


def versions(packages: list[str]) -> dict:
    found = {"datamill": git_sha()}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def repo_relative(value):
    """``value`` (JSON-like) with every absolute path inside this checkout made relative to its
    root, so a committed raw file names no machine's or worktree's directory."""
    if isinstance(value, dict):
        return {k: repo_relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repo_relative(v) for v in value]
    if isinstance(value, str) and value.startswith(f"{ROOT}/"):
        return value[len(f"{ROOT}/"):]
    return value


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


class Record:
    def __init__(self, name: str, *, command: str, params: dict | None = None,
                 packages: list[str] = (), note: str = "", imported: dict | None = None):
        """``imported`` ({recorded, machine, load_note, versions, source}) makes a record of an older
        raw output: its own date, machine and versions, the file pinned by ``source``, and a load
        marked as not recorded instead of this machine's."""
        self.name = name
        live = imported is None
        self.data = {
            "benchmark": name,
            "command": command.strip(),
            "recorded": (_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds") if live
                         else imported["recorded"]),
            "machine": machine() if live else imported["machine"],
            "load": {"start": load()} if live else {"start": None, "end": None, "note": imported["load_note"]},
            "versions": versions(list(packages)) if live else imported["versions"],
            "params": params or {},
            "note": note,
            "figures": [],
            "details": {},
        }
        if not live:
            self.data["source"] = imported["source"]

    def figure(self, name: str, repeats: list[float], *, unit: str, **labels) -> dict:
        """Add one measured quantity with every repeat; labels say which side/corpus it is."""
        if not repeats:
            raise ValueError(f"figure {name!r} has no repeats")
        fig = {"name": name, "unit": unit, **labels, "repeats": [float(x) for x in repeats],
               **summary([float(x) for x in repeats])}
        self.data["figures"].append(fig)
        return fig

    def details(self, **values) -> None:
        """Context that is not a timed figure (counts, agreement checks, per-kind tables)."""
        self.data["details"].update(values)

    def write(self, path: Path | None = None) -> Path:
        if self.data["load"]["start"] is not None:
            self.data["load"]["end"] = load()
        path = Path(path) if path else RESULTS / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, indent=1) + "\n")
        print(f"wrote {path}", file=sys.stderr)
        return path


def read(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def find(result: dict, name: str, **labels) -> dict:
    """The one figure of a raw result with this name and labels."""
    hits = [f for f in result["figures"]
            if f["name"] == name and all(f.get(k) == v for k, v in labels.items())]
    if len(hits) != 1:
        raise KeyError(f"{result['benchmark']}: {len(hits)} figures named {name!r} with {labels}")
    return hits[0]
