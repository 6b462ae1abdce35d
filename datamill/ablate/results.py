"""From runs to findings: per arm and eval set the final loss over seeds, the paired difference
against the baseline (the same seed's baseline run: same init and data order where the data
allow), its seed-to-seed spread, and the tokens the baseline needed to reach the arm's final loss."""

from __future__ import annotations

import statistics

from datamill.ablate.evalsets import bits_per_byte


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (0 for one value), min, max and n."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def mean_curve(runs: list[dict], eval_set: str) -> list[tuple[int, float]]:
    """(tokens, loss averaged over the runs) at the evaluation points every run has."""
    points = [{r["tokens"]: r[eval_set] for r in run["curve"] if eval_set in r} for run in runs]
    common = sorted(set.intersection(*(set(p) for p in points))) if points else []
    return [(t, statistics.fmean(p[t] for p in points)) for t in common]


def tokens_to_reach(curve: list[tuple[int, float]], target: float) -> float | None:
    """The first token count at which a (tokens, loss) curve reaches ``target``, by linear
    interpolation between evaluations; None when it never does."""
    prev = None
    for t, loss in curve:
        if loss <= target:
            if prev is None or prev[1] == loss:
                return float(t)
            (t0, l0) = prev
            return t0 + (t - t0) * (l0 - target) / (l0 - loss)
        prev = (t, loss)
    return None


def summarize(arms: dict[str, dict], baseline: str, eval_sets: dict[str, dict]) -> dict:
    """``arms``: arm -> {"runs": {seed: run record}}. Adds per arm ``final`` (spread of the final loss
    and bits per byte per eval set), and for other arms ``paired`` (arm - baseline, seed by seed) and
    ``baseline_tokens_to_match`` (tokens the baseline's mean curve needs to reach the arm's final loss)."""
    base_runs = arms[baseline]["runs"]
    for arm, rec in arms.items():
        runs = rec["runs"]
        rec["final"] = {s: spread([r["final"][s] for r in runs.values()]) for s in eval_sets}
        rec["final_bpb"] = {s: spread([bits_per_byte(r["final"][s], eval_sets[s]) for r in runs.values()])
                            for s in eval_sets}
        rec["tokens"] = sorted({r["tokens"] for r in runs.values()})
        if arm == baseline:
            continue
        seeds = [s for s in runs if s in base_runs]
        rec["paired"] = {s: {**spread([runs[k]["final"][s] - base_runs[k]["final"][s] for k in seeds]),
                             "seeds": seeds} for s in eval_sets}
        base_curves = {s: mean_curve(list(base_runs.values()), s) for s in eval_sets}
        rec["baseline_tokens_to_match"] = {s: tokens_to_reach(base_curves[s], rec["final"][s]["mean"])
                                           for s in eval_sets}
    return arms


def markdown_table(result: dict) -> str:
    """Final loss per arm and eval set (mean ± sd over seeds) and the paired difference against the
    baseline (mean ± sd, min..max), nats per token; then bits per byte and epochs."""
    sets, arms, base = list(result["eval_sets"]), result["arms"], result["baseline"]
    n = len(result["seeds"])
    head = "| arm | " + " | ".join(f"{s} loss | Δ {s} vs {base}" for s in sets) + " | epochs | wall s |"
    lines = [f"Final validation loss, nats/token, mean ± sd over {n} seed(s) {result['seeds']}; "
             f"Δ = arm − baseline with the same seed (mean ± sd [min, max]); "
             f"{result['tokens']:,} training tokens per run.", "", head,
             "|" + "---|" * (2 * len(sets) + 3)]
    for arm, rec in arms.items():
        cells = []
        for s in sets:
            f = rec["final"][s]
            cells.append(f"{f['mean']:.4f} ± {f['std']:.4f}")
            if arm == base:
                cells.append("—")
            else:
                p = rec["paired"][s]
                cells.append(f"{p['mean']:+.4f} ± {p['std']:.4f} [{p['min']:+.4f}, {p['max']:+.4f}]")
        wall = statistics.fmean(r["wall_seconds"] for r in rec["runs"].values())
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {rec['epochs']:.2f} | {wall:.0f} |")
    lines += ["", "Bits per byte (final, mean over seeds): " + "; ".join(
        f"{arm}: " + ", ".join(f"{s} {rec['final_bpb'][s]['mean']:.4f}" for s in sets) for arm, rec in arms.items())]
    match = [f"{arm}: " + ", ".join(f"{s} {_tokens(v)}" for s, v in rec["baseline_tokens_to_match"].items())
             for arm, rec in arms.items() if arm != base]
    lines += ["", f"Tokens {base} needs to reach each arm's final loss (its mean curve, interpolated): "
              + "; ".join(match)]
    if result.get("warnings"):
        lines += ["", *(f"- warning: {w}" for w in result["warnings"])]
    return "\n".join(lines) + "\n"


def _tokens(v: float | None) -> str:
    return "not reached" if v is None else f"{v:,.0f}"
