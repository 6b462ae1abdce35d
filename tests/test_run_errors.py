"""A failing run, as a user sees it: one line on stderr naming the stage (and partition or
file), exit code 2, no traceback; deterministic errors are not retried; Ctrl-C stops cleanly."""

import json
import os
import signal
import subprocess
import sys
import time

import yaml

DOCS = [{"id": f"d{i}", "text": f"document number {i} with a few words"} for i in range(6)]


def datamill_run(tmp_path, stages, *args, docs=DOCS, extra_lines="", verbose=False):
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs) + extra_lines)
    cfg = {"name": "t", "sources": {"docs": {"format": "jsonl", "path": "docs.jsonl"}},
           "stages": stages, "output": "run"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return subprocess.run([sys.executable, "-m", "datamill.cli", *["-v"] * verbose, "run", str(tmp_path / "c.yaml"),
                           "--workers", "1", "--no-progress", *args], capture_output=True, text=True, timeout=300)


def test_a_failing_stage_is_one_line_naming_stage_and_partition_and_is_not_retried(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a fastText model")
    proc = datamill_run(tmp_path, [{"use": "toxicity_filter", "name": "toxic", "model": "model.bin"}])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("datamill run: error: stage 'toxic' partition 0: ")


def test_verbose_shows_the_traceback(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a fastText model")
    proc = datamill_run(tmp_path, [{"use": "toxicity_filter", "name": "toxic", "model": "model.bin"}], verbose=True)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_bad_input_under_on_error_fail_is_reported_once(tmp_path):
    cfg_stages = [{"use": "length_filter"}]
    proc = datamill_run(tmp_path, cfg_stages, "--set", "sources.docs.on_error=fail", extra_lines="{not json\n")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("docs.jsonl") == 1, proc.stderr


def test_token_shards_on_empty_input_says_upstream_removed_everything(tmp_path):
    proc = datamill_run(tmp_path, [{"use": "length_filter", "min_words": 1000},
                                   {"use": "token_shards", "name": "shards"}])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no rows reached token_shards 'shards'" in proc.stderr and "datamill stats" in proc.stderr


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    docs = [{"id": f"d{i}", "text": "word " * 50 + str(i)} for i in range(400)]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = {"name": "t", "sources": {"docs": {"format": "jsonl", "path": "docs.jsonl"}},
           "stages": [{"use": "gopher_repetition"}], "output": "run", "execution": {"partition_rows": 2}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "datamill.cli", "run", str(tmp_path / "c.yaml"), "--workers", "1",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = tmp_path / "run" / "events.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not any((tmp_path / "run" / "docs").glob(".datamill/stats/part-*.json")):
        time.sleep(0.05)
    assert events.exists(), "the run never started"
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr and "run the same command again" in stderr


def test_a_stage_that_removes_everything_is_flagged_under_the_table(tmp_path):
    proc = datamill_run(tmp_path, [{"use": "length_filter", "name": "length", "min_words": 1000}])
    assert proc.returncode == 0, proc.stderr
    assert "warning: stage 'length' removed all 6 rows it was given" in proc.stdout
