#!/usr/bin/env python3
"""Markdown tables for results/sentinel/README.md from the three sweeps' summary.csv files.
Usage: python3 results/sentinel/tables.py  (run from the repository root)."""
import csv
import os

ROOT = os.path.dirname(os.path.abspath(__file__))


def rows(sweep):
    with open(os.path.join(ROOT, sweep, "summary.csv")) as f:
        return [r for r in csv.DictReader(f) if r["status"] == "ok"]


def name(w):
    return os.path.basename(w).replace(".yaml", "")


def slowdown_table(rs, policies, fractions):
    wl = lambda r: r.get("workload") or "gpt2_medium_gen"
    work = []
    for r in rs:
        if wl(r) not in work:
            work.append(wl(r))
    out = []
    for w in work:
        sub = [r for r in rs if wl(r) == w]
        dram = float([r for r in sub if r["hw.policy"] == "all_dram"][0]["step_time_ms"])
        fp = float(sub[0]["footprint_mib"])
        out.append(f"\n**{name(w)}** (footprint {fp:.0f} MiB, all-DRAM step {dram:.1f} ms; step time / all-DRAM)\n")
        out.append("| policy | " + " | ".join(f"{int(float(f) * 100)}%" for f in fractions) + " |")
        out.append("|---|" + "---:|" * len(fractions))
        for p in policies:
            cells = []
            for f in fractions:
                m = [r for r in sub if r["hw.policy"] == p and float(r["hw.fast_fraction"]) == float(f)]
                if not m:
                    cells.append("—")
                elif m[0]["feasible"] in ("0", "0.0", ""):
                    cells.append("infeasible")
                else:
                    cells.append(f"{float(m[0]['step_time_ms']) / dram:.3f}")
            out.append(f"| {p} | " + " | ".join(cells) + " |")
        # The lower bound of any placement at that fast-memory size (policies.h).
        cells = []
        for f in fractions:
            m = [r for r in sub if r["hw.policy"] == "first_touch" and float(r["hw.fast_fraction"]) == float(f)]
            cells.append(f"{float(m[0]['bound_ms']) / dram:.3f}" if m else "—")
        out.append("| *lower bound* | " + " | ".join(cells) + " |")
        # At 20%: hit rate, migration traffic, stalls.
        out.append("\nAt 20%: " + "; ".join(
            f"{p} hit {float(m['fast_hit_rate']):.2f}, migrated {float(m['migrated_mib']):.0f} MiB, stalls {float(m['stall_ms']):.2f} ms"
            for p in ("sentinel", "first_touch", "os_hotness")
            for m in [r for r in sub if r["hw.policy"] == p and float(r["hw.fast_fraction"]) == 0.2]))
    return "\n".join(out)


def headline(rs):
    out = ["| workload | all-DRAM ms | lower bound @20% / DRAM | Sentinel @20% / DRAM | best baseline @20% | Sentinel vs best baseline | Sentinel over the bound |",
           "|---|---:|---:|---:|---|---:|---:|"]
    work = []
    for r in rs:
        if r["workload"] not in work:
            work.append(r["workload"])
    for w in work:
        sub = [r for r in rs if r["workload"] == w]
        dram = float([r for r in sub if r["hw.policy"] == "all_dram"][0]["step_time_ms"])
        at = {r["hw.policy"]: float(r["step_time_ms"]) for r in sub if float(r["hw.fast_fraction"]) == 0.2}
        bound = [float(r["bound_ms"]) for r in sub if r["hw.policy"] == "first_touch" and float(r["hw.fast_fraction"]) == 0.2][0]
        best = min(("first_touch", "os_hotness", "all_nvm"), key=lambda p: at[p])
        out.append(f"| {name(w)} | {dram:.1f} | {bound / dram:.3f} | {at['sentinel'] / dram:.3f} | {best} {at[best] / dram:.3f} | "
                   f"{(at[best] / at['sentinel'] - 1) * 100:+.1f}% | {(at['sentinel'] / bound - 1) * 100:+.1f}% |")
    return "\n".join(out)


def ablation(rs):
    labels = ["all on", "no grouped allocation", "no short-lived pool", "no layer-order migration", "no bandwidth bound"]
    out = ["| workload | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    work = []
    for r in rs:
        if r["workload"] not in work:
            work.append(r["workload"])
    for w in work:
        sub = [r for r in rs if r["workload"] == w]
        cells = []
        for g, s, l, b in [("true", "true", "true", "true"), ("false", "true", "true", "true"),
                           ("true", "false", "true", "true"), ("true", "true", "false", "true"),
                           ("true", "true", "true", "false")]:
            m = [r for r in sub if r["hw.sentinel.group_allocation"].lower() == g and r["hw.sentinel.short_pool"].lower() == s
                 and r["hw.sentinel.layer_migration"].lower() == l and r["hw.sentinel.bandwidth_bound"].lower() == b][0]
            cells.append(f"{float(m['step_time_ms']):.2f} ({float(m['fast_hit_rate']):.2f})")
        out.append(f"| {name(w)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    fr = rows("fraction")
    print("## Headline (20% fast memory)\n")
    print(headline(fr))
    print("\n## Step time over fast-memory fraction\n")
    print(slowdown_table(fr, ["sentinel", "first_touch", "os_hotness", "all_nvm"], ["0.05", "0.1", "0.2", "0.3", "0.5", "0.75", "1.0"]))
    print("\n## Ablation at 20% (step ms, fast hit rate)\n")
    print(ablation(rows("ablation")))
    print("\n## GPT-2 medium generated from shapes (2 MiB pages)\n")
    print(slowdown_table(rows("large"), ["sentinel", "first_touch", "os_hotness", "all_nvm"], ["0.05", "0.1", "0.2", "0.5"]))
