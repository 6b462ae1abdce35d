import os
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.partitions import Partitions, PlanContext
from tests.proc_cluster import proc_cluster  # noqa: F401  (registers the multi-process cluster fixture for every test)

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    path = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or $DATAMILL_SHARED_DATA). Missing data skips locally, fails under CI."""
    path = shared_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("shared data not found under CI: set DATAMILL_SHARED_DATA or check out ../shared")
        pytest.skip("../shared/data not found (set DATAMILL_SHARED_DATA)")
    return path


@pytest.fixture
def torch_one_thread():
    """Fixed intra-op threads for torch tests: golden numbers must not depend on how many cores
    are free, and tiny matmuls on a busy 2-core machine are faster without OpenMP barriers."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def client():
    """One in-process Dask cluster for the session (threads: fast to start)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def run_plan(client, stage, *inputs: list[pa.Table], tmp_path=None) -> list[pa.Table]:
    """Run a global stage's plan on lists of in-memory partitions; return its output partitions
    (with any removal-reason column still attached, so tests see what the engine would act on)."""
    parts = [Partitions(client, client.scatter(tables, hash=False), name=f"in{k}") for k, tables in enumerate(inputs)]
    ctx = PlanContext(stage_name="test", stage_dir=str(tmp_path or "."), client=client)
    return stage.plan(ctx, Partitions.concat(parts)).gather()


@pytest.fixture(scope="session")
def web_pages(shared_data, tmp_path_factory) -> Path:
    """The 990 trafilatura evaluation pages as jsonl.gz: {"id", "url", "html"} per line."""
    import gzip
    import json
    import tarfile

    src = shared_data / "web-trafilatura"
    out_dir = tmp_path_factory.mktemp("web-pages")
    with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
        tar.extractall(out_dir / "html", filter="data")
    index = json.loads((src / "evaldata.json").read_text())
    out = out_dir / "pages.jsonl.gz"
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for url, entry in sorted(index.items()):
            matches = list((out_dir / "html").rglob(entry["file"]))
            if not matches:
                continue
            html = matches[0].read_bytes().decode("utf-8", errors="replace")
            f.write(json.dumps({"id": url, "url": url, "html": html}) + "\n")
    return out


@pytest.fixture(scope="session")
def web_text(web_pages) -> pa.Table:
    """Main text of the trafilatura pages (id, url, text); pages with no text are left out."""
    import gzip
    import json

    from datamill.pipeline.io.html import html_to_text

    rows = []
    with gzip.open(web_pages, "rt", encoding="utf-8") as f:
        for line in f:
            page = json.loads(line)
            text = html_to_text(page["html"], url=page["url"])
            if text:
                rows.append({"id": page["id"], "url": page["url"], "text": text})
    return pa.Table.from_pylist(rows)


def configured(cls, **fields):
    """A stage built the way a config builds it (type-checked), for tests of config errors."""
    from datamill.typed_config import build

    return build(cls, fields, f"stage (use: {cls.use})")
