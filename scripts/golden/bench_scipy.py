#!/usr/bin/env python3
"""Time scipy.stats.mannwhitneyu on seeded latency-like data (reference for Serin benchmarks).

For each size n (n = m) it generates
    baseline = numpy.random.default_rng(42).lognormal(mean=log(100), sigma=0.5, size=n)
    canary   = numpy.random.default_rng(43).lognormal(mean=log(100), sigma=0.5, size=n) * 1.05
(fresh generators per size), times
    scipy.stats.mannwhitneyu(canary, baseline, method='asymptotic')
(use_continuity=True, alternative='two-sided', the scipy defaults) with timeit, and prints one
JSON line per size:
    {"n": ..., "scipy_mwu_seconds": <best seconds per call>, "repeats": ..., "number": ...,
     "u": ..., "p_value": ..., "scipy_version": ..., "numpy_version": ...}

With --write-inputs DIR it also writes the exact inputs as raw little-endian float64 files
DIR/baseline_<n>.f64 and DIR/canary_<n>.f64 (no header; length = file size / 8), so a Rust
benchmark can load bit-identical inputs and compare u / p_value.

Usage:
    python3 scripts/golden/bench_scipy.py
    python3 scripts/golden/bench_scipy.py --sizes 100 10000 --write-inputs /tmp/mwu_inputs
    python3 scripts/golden/bench_scipy.py --write-inputs DIR --no-time   # only dump inputs
"""

import argparse
import json
import math
import os
import sys
import timeit

import numpy as np
import scipy
import scipy.stats

DEFAULT_SIZES = [100, 10_000, 1_000_000]
BASELINE_SEED = 42
CANARY_SEED = 43
SHIFT = 1.05
LOG_MEDIAN = math.log(100.0)
SIGMA = 0.5


def make_inputs(n):
    baseline = np.random.default_rng(BASELINE_SEED).lognormal(LOG_MEDIAN, SIGMA, n)
    canary = np.random.default_rng(CANARY_SEED).lognormal(LOG_MEDIAN, SIGMA, n) * SHIFT
    return baseline.astype(np.float64), canary.astype(np.float64)


def plan(n):
    """(repeats, calls per repeat): fewer repeats for the big sizes."""
    if n >= 1_000_000:
        return 3, 1
    if n >= 10_000:
        return 7, 10
    return 7, 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    ap.add_argument("--write-inputs", metavar="DIR",
                    help="write baseline_<n>.f64 / canary_<n>.f64 (little-endian float64)")
    ap.add_argument("--no-time", action="store_true", help="skip timing (use with --write-inputs)")
    args = ap.parse_args()

    if args.write_inputs:
        os.makedirs(args.write_inputs, exist_ok=True)

    for n in args.sizes:
        baseline, canary = make_inputs(n)
        if args.write_inputs:
            for label, arr in (("baseline", baseline), ("canary", canary)):
                path = os.path.join(args.write_inputs, f"{label}_{n}.f64")
                arr.astype("<f8").tofile(path)
                print(f"wrote {path}", file=sys.stderr)
        if args.no_time:
            continue

        def call():
            return scipy.stats.mannwhitneyu(canary, baseline, method="asymptotic")

        res = call()  # warm-up, and the values a Rust port should reproduce
        repeats, number = plan(n)
        times = timeit.repeat(call, repeat=repeats, number=number)
        best = min(times) / number
        print(json.dumps({
            "n": n,
            "scipy_mwu_seconds": best,
            "repeats": repeats,
            "number": number,
            "u": float(res.statistic),
            "p_value": float(res.pvalue),
            "scipy_version": scipy.__version__,
            "numpy_version": np.__version__,
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
