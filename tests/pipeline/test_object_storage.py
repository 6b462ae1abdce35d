"""Sources, word list, run dir and token shards on a real S3 API (moto's server on 127.0.0.1).

No mock of fsspec or boto: the runs are `datamill run` subprocesses that find the endpoint and the
credentials in their environment, as a user's would, and their Dask workers inherit it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import yaml

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "datamill-test"
SECRET = "s3cr3t-never-written-anywhere"  # distinctive, so a leak into any output is found
CORPUS = ("multiple_files__cc_en_head-0091.jsonl.gz", "multiple_files__cc_en_head-0174.jsonl.gz")


@pytest.fixture(scope="module")
def s3_env():
    """A fresh S3 server; the environment a client needs to reach it (set here too)."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "datamill-test-key", "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    fs.mkdir(BUCKET)
    try:
        yield env, fs
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def write_config(tmp_path: Path, name: str, corpus: str, wordlist: str, output: str) -> Path:
    cfg = {"name": "s3", "sources": {"web": {"format": "jsonl", "path": corpus}},
           "stages": [{"use": "clean_text"},
                      {"use": "toxicity_filter", "wordlist_path": wordlist, "sentences": False},
                      {"use": "exact_dedup"},
                      {"use": "token_shards", "tokenizer": {"train_vocab": 600, "sample_bytes": 200_000},
                       "seq_len": 64}],
           "execution": {"partition_rows": 2},
           "output": output}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def datamill(*args: str, env: dict, **kw) -> subprocess.Popen:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", "from datamill.cli import main; raise SystemExit(main())", *args],
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


@pytest.fixture(scope="module")
def runs(s3_env, shared_data, tmp_path_factory):
    """An uninterrupted local run, and an s3:// run SIGKILLed partway then resumed."""
    env, fs = s3_env
    tmp = tmp_path_factory.mktemp("s3")
    local_corpus, lists = tmp / "corpus", tmp / "lists"
    local_corpus.mkdir()
    lists.mkdir()
    words = (shared_data / "badwords-ldnoobw" / "en").read_text() + "invoice\n"  # a word one document has
    (lists / "bad.txt").write_text(words)
    for name in CORPUS:
        (local_corpus / name).write_bytes((shared_data / "web-dolma-fixtures" / name).read_bytes())
        fs.put_file(str(local_corpus / name), f"{BUCKET}/corpus/{name}")
    fs.pipe_file(f"{BUCKET}/lists/bad.txt", words.encode())

    local_cfg = write_config(tmp, "local", str(local_corpus / "*.jsonl.gz"), str(lists / "bad.txt"), str(tmp / "run"))
    outputs = [finish(datamill("run", str(local_cfg), "--workers", "2", "--no-progress", env=env))]

    s3_cfg = write_config(tmp, "remote", f"s3://{BUCKET}/corpus/*.jsonl.gz", f"s3://{BUCKET}/lists/bad.txt",
                          f"s3://{BUCKET}/run")
    proc = datamill("run", str(s3_cfg), "--workers", "2", "--no-progress", env=env)
    deadline = time.time() + 240
    while not fs.glob(f"{BUCKET}/run/*/.datamill/stats/part-*.json", refresh=True):
        assert proc.poll() is None and time.time() < deadline, "the run ended before writing any partition"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes
    proc.communicate()
    fs.invalidate_cache()
    killed_with = {p.split("/")[2] for p in fs.glob(f"{BUCKET}/run/*/.datamill/success.json")}
    assert "token_shards" not in killed_with, "killed too late: the run had finished"
    outputs.append(finish(datamill("run", str(s3_cfg), "--workers", "2", "--no-progress", env=env)))
    fs.invalidate_cache()
    return {"tmp": tmp, "fs": fs, "outputs": outputs, "env": env}


def test_killed_s3_run_resumes_to_the_rows_of_a_local_run(runs):
    import pandas as pd
    import s3fs

    local = ds.dataset(str(runs["tmp"] / "run" / "exact_dedup")).to_table().sort_by("id")
    remote_fs = s3fs.S3FileSystem(endpoint_url=runs["env"]["AWS_ENDPOINT_URL"])
    remote = ds.dataset(f"{BUCKET}/run/exact_dedup", filesystem=remote_fs).to_table().sort_by("id")
    assert 0 < remote.num_rows < 20  # the word list (read from S3) removed the "invoice" page
    assert remote.equals(local)
    frame = pd.read_parquet(f"s3://{BUCKET}/run/exact_dedup",
                            storage_options={"endpoint_url": runs["env"]["AWS_ENDPOINT_URL"]})
    assert sorted(frame["id"]) == local.column("id").to_pylist()
    fs = runs["fs"]
    assert not [p for p in fs.find(f"{BUCKET}/run") if ".tmp-" in p]  # the killed run's debris is gone


def test_credentials_are_never_written_or_logged(runs):
    fs = runs["fs"]
    for path in fs.find(f"{BUCKET}/run"):
        assert SECRET.encode() not in fs.cat_file(path), path
    for out in runs["outputs"]:
        assert SECRET not in out
    assert fs.cat_file(f"{BUCKET}/run/run.json").count(b'"status": "done"') == 1


def test_stats_and_show_read_an_s3_run_dir(runs, capsys):
    from datamill.inspection import load_run_stats, show_documents

    stats = load_run_stats(f"s3://{BUCKET}/run")
    assert [s["name"] for s in stats["stages"]] == ["web", "clean_text", "toxicity_filter", "exact_dedup",
                                                    "token_shards"]
    assert stats["stages"][2]["removed"]
    assert stats["status"] == "done" and not stats["missing"]
    show_documents(f"s3://{BUCKET}/run", "toxicity_filter", removed=True, n=1)
    assert "invoice" in capsys.readouterr().out.lower()


def test_trainer_reads_s3_token_shards_through_a_verified_local_cache(runs, tmp_path, monkeypatch):
    from datamill.shards import ShardError, local_copy
    from datamill.train.data import ShardLoader

    monkeypatch.setenv("DATAMILL_CACHE", str(tmp_path / "cache"))
    url = f"s3://{BUCKET}/run/token_shards"
    kw = dict(seq_len=32, batch_size=4, seed=3, val_fraction=0.0)
    remote, local = ShardLoader([url], **kw), ShardLoader([str(runs["tmp"] / "run" / "token_shards")], **kw)
    for _ in range(5):
        a, b = remote.next_batch(), local.next_batch()
        assert np.array_equal(a.input_ids, b.input_ids) and a.sources == b.sources
    assert local_copy(url).startswith(str(tmp_path / "cache"))

    # a corrupted object is refused by name, and no copy of it is left to be trusted
    fs = runs["fs"]
    manifest = yaml.safe_load(fs.cat_file(f"{BUCKET}/run/token_shards/manifest.json"))
    first = manifest["shards"][0]["tokens_file"]
    good = fs.cat_file(f"{BUCKET}/run/token_shards/{first}")
    fs.pipe_file(f"{BUCKET}/run/token_shards/{first}", bytes(len(good)))
    try:
        monkeypatch.setenv("DATAMILL_CACHE", str(tmp_path / "cache2"))
        with pytest.raises(ShardError, match="corrupted"):
            local_copy(url)
        assert not list((tmp_path / "cache2" / "shards").glob("*/manifest.json"))
    finally:
        fs.pipe_file(f"{BUCKET}/run/token_shards/{first}", good)
