#!/usr/bin/env python3
"""Tables of docs/nm_unit.md "CPU speed" from the bench_nm_gemm JSON runs given as arguments.

Per line: the median (over runs) of each run's median dense-equivalent GMAC/s, and the ratio
to the faster oneDNN int8 line of the same shape (median and range over runs; CPU time).
"""
import json
import statistics
import sys


def medians(path):
    run = json.load(open(path))
    return {b["run_name"]: (b["cpu_time"], b["dense_eq_GMAC/s"])
            for b in run["benchmarks"] if b.get("aggregate_name") == "median"}


runs = [medians(p) for p in sys.argv[1:]]
INT8, FP32 = ["onednn_u8s8s32", "onednn_s8s8s32"], ["onednn_f32", "openblas_sgemm"]


def rate(name):
    return statistics.median(r[name][1] for r in runs)


def ratio(name, shape, libs):
    rs = []
    for r in runs:
        dense = [r[f"dense/{lib}/{shape}"][0] for lib in libs if f"dense/{lib}/{shape}" in r]
        if dense:
            rs.append(min(dense) / r[name][0])
    return (statistics.median(rs), min(rs), max(rs)) if rs else None


shapes = sorted({n.rsplit("/", 1)[1] for n in runs[0]}, key=lambda s: -len(s))
for shape in shapes:
    print(f"\n## {shape}\n\n| line | dense-eq GMAC/s | x oneDNN int8 (range) | x best fp32 |\n|---|---|---|---|")
    for name in sorted(n for n in runs[0] if n.endswith("/" + shape)):
        i8, f32 = ratio(name, shape, INT8), ratio(name, shape, FP32)
        cell = lambda r: "-" if r is None else f"{r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})"
        print(f"| {name.rsplit('/', 1)[0]} | {rate(name):.0f} | {cell(i8)} | {cell(f32)} |")
