"""``datamill report``'s page in a real browser (headless Chromium): no console or JavaScript
error, every chart the run's statistics call for is drawn, the sample panels open, and a
screenshot is kept in test-artifacts/report.png."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from datamill.inspection import load_run_stats
from datamill.pipeline import rundir
from datamill.pipeline.runner import run_pipeline
from datamill.report.data import own_columns
from tests.reliability.browser import Browser, find_chromium
from tests.proc_cluster import ROOT, worker_env
from tests.reliability.figures import ARTIFACTS, record
from tests.reliability.runs import docs_config

CHART_CHECK = """
[...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('rect')].filter(r => r.getBoundingClientRect().width > 0
                                                             && r.getBoundingClientRect().height > 0);
  return {chart: svg.dataset.chart, width: box.width, height: box.height, marks: marks.length};
})
"""

# a waterfall row is a name, an input bar, an output bar and the count: the count must sit
# to the right of both bars, where it can be read
LABEL_OVERLAP = """
[...document.querySelectorAll('svg.chart[data-chart^=waterfall]')].flatMap(svg => {
  const bars = [...svg.querySelectorAll('rect')], counts = [...svg.querySelectorAll('text.muted')];
  return counts.map((t, i) => {
    const right = Math.max(bars[2 * i].getBoundingClientRect().right, bars[2 * i + 1].getBoundingClientRect().right);
    return t.getBoundingClientRect().left < right ? svg.dataset.chart + ': ' + t.textContent : null;
  }).filter(x => x);
})
"""


# every histogram's bins (g.bin[data-lo]) must increase left to right, in the DOM and on screen
BIN_ORDER = """
[...document.querySelectorAll('svg.chart.hist')].map(svg => {
  const bins = [...svg.querySelectorAll('g.bin')];
  const lo = bins.map(g => parseFloat(g.dataset.lo)), x = bins.map(g => g.getBoundingClientRect().left);
  const ordered = lo.every((v, i) => i === 0 || (v > lo[i - 1] && x[i] > x[i - 1]));
  return {chart: svg.dataset.chart, bins: bins.length, ordered: ordered};
})
"""

THRESHOLDS = """
[...document.querySelectorAll('line.threshold')].map(l => {
  const svg = l.closest('svg').getBoundingClientRect(), box = l.getBoundingClientRect();
  return {chart: l.closest('svg').dataset.chart, value: parseFloat(l.dataset.threshold),
          inside: box.left >= svg.left && box.right <= svg.right && box.height > 10};
})
"""


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found under CI: .ci/run installs Debian's chromium")
        pytest.skip("chromium not installed (apt-get install chromium); CI installs it")
    b = Browser(binary)
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(client, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    run_pipeline(docs_config(out, 200), client=client, progress=False)
    page = out.parent / "report.html"
    done = subprocess.run([sys.executable, "-m", "datamill.cli", "report", str(out), "-o", str(page)],
                          env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out, page


def expected_charts(run_dir) -> set[str]:
    """The DAG, the waterfalls, each stage's own columns and each dedup stage's cluster sizes."""
    stats = load_run_stats(str(run_dir))
    run = rundir.read_json(f"{run_dir}/run.json")
    charts = {"dag", "waterfall-rows", "waterfall-words"}
    for name, cols in own_columns(stats["stages"], run["inputs"]).items():
        charts |= {f"hist-{name}-{col}" for col in cols}
    charts |= {f"clusters-{s['name']}" for s in stats["stages"] if (s.get("extra") or {}).get("clusters")}
    return charts


def test_report_loads_without_errors_and_draws_every_chart(browser, report):
    run_dir, page = report
    errors = browser.load(page.as_uri())
    ARTIFACTS.mkdir(exist_ok=True)
    browser.screenshot(ARTIFACTS / "report.png")
    assert errors == [], errors
    drawn = {c["chart"]: c for c in browser.evaluate(CHART_CHECK)}
    expected = expected_charts(run_dir)
    assert len(expected) >= 10  # the DAG, waterfalls, the stages' histograms, cluster sizes
    assert "clusters-exact_dedup" in expected and "hist-long-num_words" in expected
    assert expected <= set(drawn), f"charts missing from the page: {sorted(expected - set(drawn))}"
    empty = [c for c in drawn.values() if c["width"] < 50 or c["height"] < 20 or c["marks"] == 0]
    assert not empty, f"charts drawn empty: {empty}"
    bins = browser.evaluate(BIN_ORDER)
    assert {b["chart"] for b in bins} == {c for c in expected if c.startswith("hist-")}
    assert all(b["bins"] >= 1 and b["ordered"] for b in bins), [b for b in bins if not b["ordered"]]
    lines = {(t["chart"], t["value"]): t["inside"] for t in browser.evaluate(THRESHOLDS)}
    # min_words of the two length filters (20 and 60), each on its own num_words histogram
    assert lines.get(("hist-length_filter-num_words", 20.0)) and lines.get(("hist-long-num_words", 60.0)), lines
    dag = browser.evaluate("""[document.querySelectorAll('svg.dag g.node').length,
        document.querySelectorAll('svg.dag path.edge').length]""")
    assert dag == [5, 4], dag  # docs -> clean_text -> length_filter -> exact_dedup -> long
    assert browser.evaluate("document.querySelectorAll('table.sources td').length") >= 6
    assert browser.evaluate("document.querySelectorAll('#stage-exact_dedup ~ .pair').length") >= 1
    overlaps = browser.evaluate(LABEL_OVERLAP)
    assert not overlaps, f"waterfall counts drawn over their bars: {overlaps}"
    # the one script: a removed-samples button shows its panel
    opened = browser.evaluate("""(() => { const b = document.querySelector('button[data-toggle]');
        const panel = document.getElementById(b.dataset.toggle); const before = panel.hidden;
        b.click(); return [before, panel.hidden, panel.querySelectorAll('.sample').length]; })()""")
    assert opened[0] is True and opened[1] is False and opened[2] >= 1
    assert browser.errors() == []
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    record("report_charts_checked_in_chromium", len(expected))


def test_the_browser_check_catches_errors_and_missing_charts(browser, report, tmp_path):
    """The harness itself: a page with a script error, a console error or a chart gone fails."""
    run_dir, page = report
    html = page.read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("</body>", "<script>console.error('boom'); notDefined();</script></body>"))
    errors = browser.load(broken.as_uri())
    assert any("boom" in e for e in errors) and any("notDefined" in e for e in errors), errors
    missing = tmp_path / "missing.html"
    missing.write_text(html.replace('data-chart="waterfall-words"', 'data-chart="gone"'))
    assert browser.load(missing.as_uri()) == []
    drawn = {c["chart"] for c in browser.evaluate(CHART_CHECK)}
    assert "waterfall-words" in expected_charts(run_dir) - drawn
    # bins drawn out of order (the old string sort put "1024" before "128") are caught
    assert browser.load(page.as_uri()) == []
    browser.evaluate("""(() => { const svg = document.querySelector('svg[data-chart="hist-length_filter-num_words"]');
        const bins = svg.querySelectorAll('g.bin'); svg.insertBefore(bins[bins.length - 1], bins[0]); })()""")
    unordered = [b["chart"] for b in browser.evaluate(BIN_ORDER) if not b["ordered"]]
    assert unordered == ["hist-length_filter-num_words"], unordered
