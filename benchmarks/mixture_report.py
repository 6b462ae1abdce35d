"""Tables, figures and the raw JSON of benchmarks/mixture_search.py (from its runs only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from record import RESULTS, ROOT, Record, repo_relative

FIGS = ROOT / "benchmarks" / "figures"


def _simplex_xy(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric -> plane: the first source at (0, 0), the second at (1, 0), the third at (0.5, 0.87)."""
    w = np.atleast_2d(w)
    return w[:, 1] + 0.5 * w[:, 2], np.sqrt(3) / 2 * w[:, 2]


def _figures(proxies: list[dict], regression: dict, checks: dict, seeds: list[int], name: str) -> None:
    SOURCES = list(proxies[0]["weights"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGS.mkdir(parents=True, exist_ok=True)
    W = np.array([[p["weights"][s] for s in SOURCES] for p in proxies])
    y = np.array([np.mean([p["losses"][s] for s in SOURCES]) for p in proxies])
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    x0, y0 = _simplex_xy(W)
    sc = ax[0].scatter(x0, y0, c=y, cmap="viridis_r", s=70)
    bx, by = _simplex_xy(np.array([[regression["best"][s] for s in SOURCES]]))
    ax[0].scatter(bx, by, marker="*", s=250, c="red", label="predicted best")
    ax[0].scatter(*_simplex_xy(np.full((1, 3), 1 / 3)), marker="x", s=90, c="k", label="uniform")
    ax[0].plot([0, 1, 0.5, 0], [0, 0, np.sqrt(3) / 2, 0], c="gray", lw=0.8)
    for src, (px, py) in zip(SOURCES, [(0, 0), (1, 0), (0.5, np.sqrt(3) / 2)]):
        ax[0].annotate(src, (px, py), textcoords="offset points", xytext=(-10, -14 if py == 0 else 6))
    fig.colorbar(sc, ax=ax[0], label="proxy mean val loss")
    ax[0].set_title("proxy mixtures (Dirichlet(1))")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[0].set_axis_off()
    for kind, marker in (("loglinear", "o"), ("linear", "s")):
        ax[1].scatter(y, regression["loo"][kind]["predictions"], marker=marker, label=kind)
    lo, hi = float(y.min()) - 0.05, float(y.max()) + 0.05
    ax[1].plot([lo, hi], [lo, hi], c="gray", lw=0.8)
    ax[1].set_xlabel("proxy mean val loss (measured)")
    ax[1].set_ylabel("leave-one-out prediction")
    ax[1].set_title("regression, leave-one-out")
    ax[1].legend()
    arms = [("proxy", "uniform"), ("proxy", "predicted"), ("target", "uniform"), ("target", "predicted"),
            ("target", "dynamic")]
    for k, seed in enumerate(seeds):
        vals = [np.mean(list(checks[f"{sc_}/{a}/{seed}"].values())) for sc_, a in arms if f"{sc_}/{a}/{seed}" in checks]
        w = 0.8 / len(seeds)
        ax[2].bar(np.arange(len(vals)) + w * k, vals, width=w, label=f"seed {seed}")
    ax[2].set_xticks(np.arange(len(arms)) + 0.4 - 0.4 / len(seeds), [f"{s}\n{a}" for s, a in arms], fontsize=8)
    ax[2].set_ylabel("mean of per-source val loss")
    vals = [np.mean(list(v.values())) for v in checks.values()]
    ax[2].set_ylim(min(vals) - 0.15, max(vals) + 0.1)
    ax[2].set_title("check runs")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(FIGS / f"{name}.png", dpi=110)


def report(work: Path, args, seeds: list[int], proxies: list[dict], regression: dict, checks: dict) -> None:
    SOURCES = list(proxies[0]["weights"])
    cmd = (f"nice -n 10 .venv/bin/python benchmarks/mixture_search.py --proxies {args.proxies} "
           f"--proxy-steps {args.proxy_steps} --proxy-d-model {args.proxy_d_model} --steps {args.steps} "
           f"--d-model {args.d_model} --batch-size {args.batch_size} --seeds {args.seeds}")
    rec = Record(args.name, command=cmd, packages=["torch", "numpy", "scipy"],
                 params=repo_relative({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}),
                 note="CPU only. Validation loss in nats/token on each run's held-out windows (5% of documents "
                      "by id hash, the same documents in every run; an equal number of windows per source).")
    for i, p in enumerate(proxies):
        for s in SOURCES:
            rec.figure("proxy_val_loss", [p["losses"][s]], unit="nats/token", proxy=i, source=s,
                       **{f"w_{k}": round(v, 4) for k, v in p["weights"].items()})
    for key, losses in checks.items():
        scale, arm, seed = key.split("/")
        for s in SOURCES:
            rec.figure("check_val_loss", [losses[s]], unit="nats/token", scale=scale, arm=arm, seed=int(seed), source=s)
    for scale, arm in {tuple(k.split("/")[:2]) for k in checks}:
        means = [float(np.mean(list(checks[f"{scale}/{arm}/{s}"].values()))) for s in seeds]
        rec.figure("check_mean_val_loss", means, unit="nats/token", scale=scale, arm=arm, seeds=seeds)
    for kind, v in regression["loo"].items():
        rec.figure("loo_mae", [v["mae"]], unit="nats/token", model=kind, trivial=v["trivial_mae"])
        rec.figure("loo_spearman", [v["spearman"]], unit="rho", model=kind)
    rec.data["regression"] = regression
    rec.data["proxies"] = proxies
    rec.data["checks"] = checks
    rec.data["curves"] = {run.name: [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()
                                     if "val_loss" in x] for run in sorted((work / "runs").iterdir())
                          if (run / "metrics.jsonl").exists()}
    rec.write()
    _figures(proxies, regression, checks, seeds, args.name)

    lines = ["# Mixture search (generated by benchmarks/mixture_search.py)", "", f"Command: `{cmd}`", "",
             "Proxy runs (seed %d): weights and final validation loss (nats/token)" % args.proxy_seed, "",
             "| proxy | " + " | ".join(f"w {s}" for s in SOURCES) + " | " + " | ".join(SOURCES) +
             " | mean | LOO pred (loglinear) |", "|---|" + "---|" * (2 * len(SOURCES) + 2)]
    for i, p in enumerate(proxies):
        ls = [p["losses"][s] for s in SOURCES]
        lines.append(f"| {i} | " + " | ".join(f"{p['weights'][s]:.3f}" for s in SOURCES) + " | " +
                     " | ".join(f"{v:.4f}" for v in ls) + f" | {np.mean(ls):.4f} | "
                     f"{regression['loo']['loglinear']['predictions'][i]:.4f} |")
    lines += ["", "Leave-one-out (objective = mean of per-source losses):", "",
              "| model | MAE | trivial MAE (mean of the others) | Spearman |", "|---|---|---|---|"]
    for kind, v in regression["loo"].items():
        lines.append(f"| {kind} | {v['mae']:.4f} | {v['trivial_mae']:.4f} | {v['spearman']:.3f} |")
    lines += ["", "Predicted best mix (loglinear, weights >= 0.05): " +
              ", ".join(f"{s} {regression['best'][s]:.2f}" for s in SOURCES) +
              f"; predicted mean loss {regression['predicted_best']:.4f} vs uniform {regression['predicted_uniform']:.4f}"
              " (proxy scale).", "", "Check runs, final validation loss:", "",
              "| scale | arm | seed | " + " | ".join(SOURCES) + " | mean | Δ mean vs uniform |",
              "|---|---|---|" + "---|" * (len(SOURCES) + 2)]
    for key in sorted(checks):
        scale, arm, seed = key.split("/")
        ls = [checks[key][s] for s in SOURCES]
        base = np.mean(list(checks[f"{scale}/uniform/{seed}"].values()))
        lines.append(f"| {scale} | {arm} | {seed} | " + " | ".join(f"{v:.4f}" for v in ls) +
                     f" | {np.mean(ls):.4f} | {np.mean(ls) - base:+.4f} |")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    (work / "regression.json").write_text(json.dumps(regression, indent=1))
