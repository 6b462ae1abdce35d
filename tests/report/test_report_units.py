"""The report's pieces without a browser: numeric bin order, bin labels, the DAG layout, the
engine's removed-row histograms and source counts, and a page for a run that never finished."""

import json
import re

import pyarrow as pa

from datamill.pipeline.stats import histogram, merge, partition_stats
from datamill.report import render
from datamill.report.charts import bin_label, histogram_svg, sorted_bins
from datamill.report.dag import NODE_H, NODE_W, dag_svg, layers, positions


def test_bins_sort_as_numbers_not_strings():
    # json.dump(sort_keys=True) stores "1024.0" before "128.0" before "16.0"
    hist = {repr(e): 1 for e in (1024.0, 128.0, 16.0, 2.0, 0.5, -4.0)}
    bins = sorted_bins(hist)
    assert bins == sorted(bins) and bins[0] == -4.0 and bins[-1] == 1024.0
    assert {2.0, 4.0, 8.0, 32.0, 64.0, 256.0, 512.0} <= set(bins)  # empty bins between shown as gaps
    svg = histogram_svg("h", hist)
    los = [float(x) for x in re.findall(r'data-lo="([^"]+)"', svg)]
    assert los == sorted(los) and len(los) == len(set(los))


def test_bin_labels_are_ranges():
    assert bin_label(0.35) == "0.35–0.40"
    assert bin_label(128.0) == "128–256"
    assert bin_label(16384.0) == "16.4k–32.8k"
    assert bin_label(-2.0) == "-2–-1"


def test_engine_histogram_round_trips_through_sorted_bins():
    hist = histogram(pa.array([0.01, 0.99, 1.0, 3.0, 700.0, -0.3]))
    assert sorted_bins(hist)[0] == -0.5 and sorted_bins(hist)[-1] == 512.0


def test_threshold_line_sits_in_its_bin():
    svg = histogram_svg("h", {"16.0": 5, "32.0": 7}, {"16.0": 3}, {"min_words": 20.0, "max_words": 1e9})
    x = float(re.search(r'data-threshold="20.0" x1="([^"]+)"', svg).group(1))
    assert 4 < x < 4 + (340 - 8) / 2  # inside the first of two bins, [16, 32)
    assert "max_words" not in svg  # off the axis: not drawn


def test_dag_layers_left_to_right():
    order = ["a", "b", "clean", "mix", "dedup", "side"]
    inputs = {"clean": ["a"], "mix": ["clean", "b"], "dedup": ["mix"], "side": ["a"]}
    assert layers(order, inputs) == {"a": 0, "b": 0, "clean": 1, "mix": 2, "dedup": 3, "side": 1}
    pos = positions(order, inputs)
    assert pos["a"][0] < pos["clean"][0] < pos["mix"][0] < pos["dedup"][0]
    assert pos["a"][1] < pos["b"][1] and pos["clean"][1] < pos["side"][1]  # one column, no overlap


def test_artifact_references_are_dashed_edges_and_place_the_reader_after_the_producer():
    # FineWeb-Edu's recipe: `keep` reads the corpus, and the model `train` fits on the graded sample
    order = ["sample", "corpus", "grade", "train", "keep"]
    inputs = {"grade": ["sample"], "train": ["grade"], "keep": ["corpus"]}
    artifacts = {"keep": {"model": "train"}}
    assert layers(order, inputs, artifacts)["keep"] == 3  # without the reference: 1, left of its model
    svg = dag_svg(order, inputs, {}, artifacts)
    dashed = re.findall(r'<path class="edge artifact" data-from="(\w+)" data-to="(\w+)" data-field="(\w+)"', svg)
    assert dashed == [("train", "keep", "model")]
    solid = re.findall(r'<path class="edge" data-from="(\w+)" data-to="(\w+)"', svg)
    assert sorted(solid) == [("corpus", "keep"), ("grade", "train"), ("sample", "grade")]


def _path_points(d: str, steps: int = 50) -> list[tuple[float, float]]:
    """Points along an SVG path of M, L and C commands."""
    points, here = [], None
    for cmd, args in re.findall(r"([MLC])([^MLC]+)", d):
        xy = [tuple(map(float, p.split(","))) for p in args.split()]
        if cmd == "C":
            p0, (p1, p2, p3) = here, xy
            points += [tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * e
                             for a, b, c, e in zip(p0, p1, p2, p3)) for t in (k / steps for k in range(steps + 1))]
        elif cmd == "L":
            points += [tuple(a + (b - a) * k / steps for a, b in zip(here, xy[0])) for k in range(steps + 1)]
        here = xy[-1]
    return points


def test_an_edge_that_skips_layers_passes_no_box():
    order = ["sample", "corpus", "grade", "train", "keep", "side", "late"]
    inputs = {"grade": ["sample"], "train": ["grade"], "keep": ["corpus"], "side": ["corpus"],
              "late": ["keep", "sample"]}
    artifacts = {"keep": {"model": "train"}}
    pos = positions(order, inputs, artifacts)
    svg = dag_svg(order, inputs, {}, artifacts)
    edges = re.findall(r'data-from="(\w+)" data-to="(\w+)"(?: data-field="\w+")? d="([^"]+)"', svg)
    assert len(edges) == 7
    for src, dst, d in edges:
        for name, (x, y) in pos.items():
            if name in (src, dst):
                continue
            inside = [(px, py) for px, py in _path_points(d) if x < px < x + NODE_W and y < py < y + NODE_H]
            assert not inside, (src, dst, name)


def test_removed_histograms_and_sources_merge():
    t_in = pa.table({"text": ["a b", "c"], "source": ["x", "y"]})
    parts = [partition_stats(t_in, t_in, {}, {}, 0.0, 0.0, histograms_removed={"score": {"0.5": 2}}),
             partition_stats(t_in, t_in.slice(0, 1), {}, {}, 0.0, 0.0, histograms_removed={"score": {"0.5": 1, "0.1": 4}})]
    total = merge(parts)
    assert total["histograms_removed"] == {"score": {"0.1": 4, "0.5": 3}}
    assert total["sources"] == {"x": 2, "y": 1}


def test_a_run_that_never_finished_still_renders(tmp_path):
    run = tmp_path / "run"
    (run / "src" / ".datamill").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"name": "p", "status": "running", "order": ["src", "f", "g"],
                                              "inputs": {"f": ["src"], "g": ["f"]}, "config": {}}))
    stats = merge([partition_stats(None, pa.table({"text": ["one two"], "source": ["s"]}), {}, {}, 0.0, 0.0)])
    stats.update(name="src", use="read", inputs=[])
    (run / "src" / ".datamill" / "stats.json").write_text(json.dumps(stats))
    (run / "src" / ".datamill" / "success.json").write_text(json.dumps({"key": "k", "parts": 1}))
    page = render(str(run))
    assert "not finished: f, g" in page
    assert page.count('class="node missing"') == 2 and page.count('class="node"') == 1
    assert 'data-chart="hist-src-text_chars"' in page
