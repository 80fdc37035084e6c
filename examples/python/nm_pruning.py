#!/usr/bin/env python3
"""N:M pruning of a NumPy weight matrix, checked on the simulated N:M unit.

A float32 matrix (a layer's weights) is projected onto 2:4 with tessel.nm_project (the
reference of models/sparse), the result is checked with NumPy alone (every group of four
keeps its two largest magnitudes), compressed and decompressed, and then multiplied on the
cycle-level N:M unit (sim/nm_unit) through tessel.run: the unit's functional check compares
every output with the reference GEMM, and its cycles and energy are compared with the same
matrix run dense.

    PYTHONPATH=build/python python3 examples/python/nm_pruning.py [--small]

Writes results/python_examples/nm_pruning.png and prints the numbers.
"""

import argparse
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")  # headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tessel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIGURES = os.path.join(ROOT, "results", "python_examples")
EXPERIMENT = os.path.join(ROOT, "configs", "experiments", "nm_unit_small.yaml")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a 64x128 layer (CI); default 256x512")
    args = ap.parse_args()
    m, k, n = (64, 128, 48) if args.small else (256, 512, 128)

    rng = np.random.default_rng(2026)
    w = rng.standard_normal((m, k)).astype(np.float32)

    pruned = tessel.nm_project(w, "2:4")
    # Independent check in NumPy: each group of 4 keeps exactly its 2 largest magnitudes.
    groups = np.abs(w).reshape(m, k // 4, 4)
    kept = (pruned != 0).reshape(m, k // 4, 4)
    assert (kept.sum(axis=2) == 2).all()
    smallest_kept = np.where(kept, groups, np.inf).min(axis=2)
    largest_dropped = np.where(kept, -np.inf, groups).max(axis=2)
    assert (smallest_kept >= largest_dropped).all()
    assert tessel.nm_check(pruned, "2:4") is None
    values, indices, packed = tessel.nm_compress(pruned, "2:4")
    assert np.array_equal(tessel.nm_decompress(values, indices, "2:4", k), pruned)
    kept_energy = float((pruned.astype(np.float64) ** 2).sum() / (w.astype(np.float64) ** 2).sum())

    with tempfile.TemporaryDirectory() as tmp:
        dense_path, sparse_path = os.path.join(tmp, "dense.npy"), os.path.join(tmp, "pruned.npy")
        np.save(dense_path, w)
        np.save(sparse_path, pruned)
        shape = {"workload.m": m, "workload.k": k, "workload.n": n}
        sparse_cfg = tessel.load_config(EXPERIMENT, {**shape, "workload.weights": sparse_path})
        dense_cfg = tessel.load_config(
            EXPERIMENT, {**shape, "workload.weights": dense_path, "workload.pattern": "dense"})
        sparse_run, dense_run = tessel.run(sparse_cfg), tessel.run(dense_cfg)

    for name, r in (("2:4", sparse_run), ("dense", dense_run)):
        for c in r.checks:
            print(f"{name:6s} check {c.name}: {'pass' if c.passed else 'FAIL'} "
                  f"(max error {c.max_error:g})")
    if not (sparse_run.checks_passed and dense_run.checks_passed):
        return 1
    speedup = dense_run.cycles / sparse_run.cycles
    energy_ratio = dense_run.total_energy_pj / sparse_run.total_energy_pj
    print(f"{m}x{k} weights, {n} tokens: 2:4 keeps {kept_energy:.1%} of the squared weight mass")
    print(f"cycles dense {dense_run.cycles}, 2:4 {sparse_run.cycles} (speedup {speedup:.2f}x); "
          f"energy ratio dense/2:4 {energy_ratio:.2f}x")
    print(f"compressed storage: {values.nbytes} B values + {packed.nbytes} B indices "
          f"vs {w.nbytes} B dense float32")

    os.makedirs(FIGURES, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].imshow(np.abs(pruned[:32, :64]) > 0, cmap="Greys", interpolation="nearest")
    axes[0].set_title("2:4 mask (first 32x64)")
    axes[0].set_xlabel("k")
    axes[0].set_ylabel("output row")
    axes[1].hist([np.abs(w).ravel(), np.abs(pruned[pruned != 0]).ravel()], bins=40,
                 label=["all weights", "kept"])
    axes[1].set_xlabel("|w|")
    axes[1].legend()
    axes[1].set_title(f"kept {kept_energy:.0%} of the squared mass")
    names = ["dense", "2:4"]
    axes[2].bar(names, [dense_run.cycles, sparse_run.cycles], color=["grey", "tab:blue"])
    axes[2].set_ylabel("cycles on the N:M unit (sim/nm_unit)")
    axes[2].set_title(f"{speedup:.2f}x fewer cycles, {energy_ratio:.2f}x less energy")
    fig.tight_layout()
    png = os.path.join(FIGURES, "nm_pruning" + ("_small" if args.small else "") + ".png")
    fig.savefig(png, dpi=120)
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
