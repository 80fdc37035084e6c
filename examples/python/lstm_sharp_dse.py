#!/usr/bin/env python3
"""Design-space study of LSTM-Sharp from Python: a sweep over MAC budgets and machine
variants (SHARP with and without reconfiguration, the E-PUR-style ASIC, the Brainwave-style
FPGA), its results as a pandas DataFrame, and the latency/energy Pareto front plotted.

    PYTHONPATH=build/python python3 examples/python/lstm_sharp_dse.py [--small]

Writes results/python_examples/lstm_sharp_pareto.png and lstm_sharp_pareto.csv (the sweep's
own results folder goes to --out, default results/python_examples/lstm_sharp_dse).
"""

import argparse
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")  # headless: CI and terminals without a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import tessel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIGURES = os.path.join(ROOT, "results", "python_examples")

# The machine variants of configs/sweeps/quickstart.yaml: (hw file, schedule, reconfigurable).
VARIANTS = {
    "SHARP": ("base.yaml", "sharp", True),
    "SHARP, no reconfiguration": ("base.yaml", "sharp", False),
    "ASIC (E-PUR style)": ("epur_asic.yaml", "unfolded", False),
    "FPGA (Brainwave style)": ("fpga_brainwave.yaml", "inter_gate", False),
}


def study(small: bool) -> dict:
    workloads = ["char_rnn.yaml"] if small else ["char_rnn.yaml", "ptb_medium.yaml", "show_tell.yaml"]
    budgets = [1024, 4096] if small else [1024, 4096, 16384, 65536]
    cfg = os.path.join(ROOT, "configs")
    return {
        "name": "python_lstm_sharp_dse",
        "title": "LSTM-Sharp DSE from Python",
        "experiment": os.path.join(cfg, "experiments", "lstm_sharp_eesen.yaml"),
        "seed": 1,
        "grid": {
            "workload": [os.path.join(cfg, "workloads", "lstm", w) for w in workloads],
            "hw.mac_budget": budgets,
        },
        "zip": {
            "hw": [os.path.join(cfg, "hw", "lstm_sharp", v[0]) for v in VARIANTS.values()],
            "hw.schedule": [v[1] for v in VARIANTS.values()],
            "hw.reconfigurable": [v[2] for v in VARIANTS.values()],
        },
    }


def pareto(df):
    """Rows not dominated in (seconds, energy): no other row is at least as fast and as
    frugal and strictly better in one."""
    front = []
    for i, r in df.iterrows():
        dominated = ((df["seconds"] <= r["seconds"]) & (df["energy_pj.total"] <= r["energy_pj.total"])
                     & ((df["seconds"] < r["seconds"]) | (df["energy_pj.total"] < r["energy_pj.total"])))
        if not dominated.any():
            front.append(i)
    return df.loc[front].sort_values("seconds")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="8 points (CI); default 48")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", help="sweep results folder (default: results/python_examples/"
                    "lstm_sharp_dse; with --small a temporary folder)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or (tmp if args.small else os.path.join(FIGURES, "lstm_sharp_dse"))
        summary = tessel.sweep(study(args.small), jobs=args.jobs, out=out, overwrite=True,
                               report=not args.small)
        if summary.failed:
            print(f"{summary.failed} points failed", file=sys.stderr)
            return 1
        df = tessel.load_results(summary.out_dir)
    return plot(df, summary, args.small)


def plot(df, summary, small: bool) -> int:
    names = {(os.path.basename(v[0]), v[1], v[2]): k for k, v in VARIANTS.items()}
    df["variant"] = [names[(os.path.basename(h), s, r)]
                     for h, s, r in zip(df["hw"], df["hw.schedule"], df["hw.reconfigurable"])]
    df["workload_name"] = [os.path.basename(w).removesuffix(".yaml") for w in df["workload"]]

    os.makedirs(FIGURES, exist_ok=True)
    fig, axes = plt.subplots(1, df["workload_name"].nunique(), figsize=(5.5 * df["workload_name"].nunique(), 4.2),
                             squeeze=False)
    fronts = []
    for ax, (wl, part) in zip(axes[0], df.groupby("workload_name", sort=True)):
        for variant, pts in part.groupby("variant", sort=False):
            ax.scatter(pts["seconds"] * 1e6, pts["energy_pj.total"] * 1e-6, label=variant, s=28)
            for _, p in pts.iterrows():
                ax.annotate(f"{p['hw.mac_budget'] // 1024}K", (p["seconds"] * 1e6, p["energy_pj.total"] * 1e-6),
                            fontsize=6, xytext=(3, 2), textcoords="offset points")
        front = pareto(part)
        fronts.append(front)
        ax.plot(front["seconds"] * 1e6, front["energy_pj.total"] * 1e-6, "k--", lw=1, label="Pareto front")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("latency (µs, simulated)")
        ax.set_ylabel("energy (µJ)")
        ax.set_title(wl)
        ax.grid(True, which="both", lw=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("LSTM-Sharp design space: latency vs energy (labels: MAC budget)")
    fig.tight_layout()
    png = os.path.join(FIGURES, "lstm_sharp_pareto" + ("_small" if small else "") + ".png")
    fig.savefig(png, dpi=120)
    cols = ["workload_name", "variant", "hw.mac_budget", "seconds", "energy_pj.total",
            "metrics.gflops_per_w", "metrics.utilization"]
    cols = [c for c in cols if c in df.columns]
    csv = png.removesuffix(".png") + ".csv"
    pd.concat(fronts)[cols].to_csv(csv, index=False)
    print(f"{len(df)} points, Pareto front {sum(len(f) for f in fronts)} points")
    print(f"wrote {png}\n      {csv}")
    # Each variant's points must all be on the plot: a sanity check that the frame is whole.
    assert len(df) == summary.points and df["energy_pj.total"].gt(0).all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
