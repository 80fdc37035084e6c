#!/usr/bin/env python3
"""Python front end overhead (issue 29), baselines measured in the same run:

1. tessel.run(config) against the CLI's per-point cost: `tessel run --json` as a process
   (what a script pays per point calling the tool) and a point of `tessel sweep -j 1` (the
   sweep's forked points), on the same experiment. Goal: tessel.run adds < 5 ms.
2. NumPy round trips: which arrays cross without a copy (same data pointer / a view of
   C++ memory).
3. Kernel inputs: each kernel called on a C-contiguous float32 input (read in place) and on
   the same data in Fortran order (converted once), with the inputs the binding copied
   (tessel._conversions()) and np.copy of the input for scale. Run it against a module
   built before the kernels took views (no _conversions()) for the before numbers.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [--tool build/tessel] [--reps 15]

Timings are wall-clock medians; run on an idle machine for stable numbers.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import tessel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times)


def run_overhead(tool, reps, experiment):
    path = os.path.join(ROOT, experiment)
    cfg = tessel.load_config(path)
    tessel.run(cfg)  # warm caches
    cli = lambda: subprocess.run([tool, "run", path, "--json"], check=True,  # noqa: E731
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli_ms, cli_min = median_ms(cli, reps)
    py_ms, py_min = median_ms(lambda: tessel.run(cfg), reps)
    load_ms, _ = median_ms(lambda: tessel.load_config(path), reps)
    # Sweep: `reps` identical points (a zip over the experiment's name) in one `tessel sweep`.
    with tempfile.TemporaryDirectory() as tmp:
        sweep = os.path.join(tmp, "s.yaml")
        with open(sweep, "w") as f:
            json.dump({"name": "bench", "experiment": path,
                       "zip": {"name": [f"p{i}" for i in range(reps)]}}, f)
        t = time.perf_counter()
        subprocess.run([tool, "sweep", sweep, "-j", "1", "--out", os.path.join(tmp, "o"),
                        "--no-report"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        sweep_ms = (time.perf_counter() - t) * 1e3 / reps
        t = time.perf_counter()
        tessel.sweep(sweep, jobs=1, out=os.path.join(tmp, "p"), report=False, progress=False)
        py_sweep_ms = (time.perf_counter() - t) * 1e3 / reps
    print(f"\n== tessel.run overhead: {experiment} (median of {reps}, ms)")
    print(f"  CLI `tessel run --json` process   {cli_ms:8.2f}  (min {cli_min:.2f})")
    print(f"  CLI `tessel sweep -j 1` per point {sweep_ms:8.2f}")
    print(f"  tessel.run(config)                {py_ms:8.2f}  (min {py_min:.2f})")
    print(f"  tessel.load_config(path)          {load_ms:8.2f}")
    print(f"  tessel.sweep per point            {py_sweep_ms:8.2f}")
    print(f"  overhead vs CLI run:   {py_ms - cli_ms:+8.2f} ms (goal < 5)")
    print(f"  overhead vs sweep pt:  {py_ms - sweep_ms:+8.2f} ms")
    return py_ms - cli_ms, py_ms - sweep_ms


def pointer(a):
    return a.__array_interface__["data"][0]


def round_trips(reps):
    print("\n== NumPy round trips (float32, C-contiguous)")
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2048, 2048)).astype(np.float32)
    out = tessel.nm_project(w, "2:4")
    print(f"  nm_project output adopts the C++ matrix: owndata={out.flags.owndata}, "
          f"base={type(out.base).__name__}, pointer stable={pointer(out) == pointer(np.asarray(out))}")
    sd = tessel.LstmWeights.random(256, 256, 1, False, 1)
    a, b = sd.state_dict()["weight_ih_l0"], sd.state_dict()["weight_ih_l0"]
    print(f"  LstmWeights.state_dict() views: same pointer twice={pointer(a) == pointer(b)}, "
          f"owndata={a.flags.owndata}")
    # ANN search reads C-contiguous queries in place and writes into the arrays it returns.
    base = rng.standard_normal((5000, 32)).astype(np.float32)
    queries = rng.standard_normal((2000, 32)).astype(np.float32)
    index = tessel.AnnIndex(base, R=24, L=40, C=200)
    strided = np.asfortranarray(queries)  # forces a conversion copy
    in_place, _ = median_ms(lambda: index.search(queries, 10, 32), reps)
    converted, _ = median_ms(lambda: index.search(strided, 10, 32), reps)
    ids, _, _ = index.search(queries, 10, 32)
    print(f"  ann search 2000 queries: contiguous {in_place:.2f} ms, Fortran-order (copied) "
          f"{converted:.2f} ms; result owndata={ids.flags.owndata} (allocated by NumPy, "
          f"written in place by C++)")


def input_costs(reps):
    conversions = getattr(tessel, "_conversions", None)  # absent before the kernels took views
    print("\n== Kernel inputs (median of %d, ms): C-contiguous float32 read in place vs the same "
          "data in Fortran order (converted once)" % reps)
    print(f"  {'kernel':<50}{'contiguous':>11}{'Fortran':>10}{'np.copy':>9}  copies (contiguous)")
    rng = np.random.default_rng(1)
    w = rng.standard_normal((2048, 2048)).astype(np.float32)
    base = rng.standard_normal((100000, 64)).astype(np.float32)
    queries = rng.standard_normal((100, 64)).astype(np.float32)
    x = rng.standard_normal((100, 64, 256)).astype(np.float32)
    lstm = tessel.LstmWeights.random(256, 256, 1, False, 1)
    cases = [
        ("nm_project 2048x2048 2:4", w, lambda a: tessel.nm_project(a, "2:4")),
        ("nm_check 2048x2048 2:4", w, lambda a: tessel.nm_check(a, "2:4")),
        ("knn base 100000x64, 100 queries, k 10, 1 thread", base,
         lambda a: tessel.knn(a, queries, 10, threads=1)),
        ("lstm_forward 256->256, x (100, 64, 256)", x, lambda a: tessel.lstm_forward(lstm, a)),
    ]
    for name, a, call in cases:
        call(a)  # warm
        before = conversions() if conversions else 0
        contiguous, _ = median_ms(lambda: call(a), reps)
        copies = (conversions() - before) / reps if conversions else float("nan")
        fortran_a = np.asfortranarray(a)
        fortran, _ = median_ms(lambda: call(fortran_a), reps)
        copy, _ = median_ms(lambda: np.copy(a), reps)
        print(f"  {name:<50}{contiguous:11.2f}{fortran:10.2f}{copy:9.2f}  {copies:g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", default=os.path.join(ROOT, "build", "tessel"))
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--kernels-only", action="store_true",
                    help="only the kernel input costs (section 3)")
    args = ap.parse_args()
    os.chdir(ROOT)
    print(f"tessel {tessel.__version__}, python {sys.version.split()[0]}, numpy {np.__version__}")
    if args.kernels_only:
        input_costs(args.reps)
        return
    for exp in ("configs/experiments/lstm_sharp_tiny.yaml", "configs/experiments/nm_unit_small.yaml"):
        run_overhead(args.tool, args.reps, exp)
    round_trips(args.reps)
    input_costs(args.reps)


if __name__ == "__main__":
    main()
