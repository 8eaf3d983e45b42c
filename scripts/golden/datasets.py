#!/usr/bin/env python3
"""Generate deterministic input datasets for the Mann-Whitney / Hodges-Lehmann goldens.

Writes fixtures/golden/datasets.json:

    {"generator": "scripts/golden/datasets.py",
     "cases": [{"name": str, "description": str, "ties": bool, "x": [...], "y": [...]}]}

x is the CANARY (experiment) sample, y is the BASELINE (control).

Every generated value is rounded to a small number of decimals (or is an integer),
so its shortest decimal representation is short and the JSON text parses to the
same IEEE-754 double in Python, R (jsonlite/yajl -> C strtod) and Rust (serde_json).
Python's json module writes floats with repr(), which round-trips exactly anyway.

Usage (from the repository root):
    python3 scripts/golden/datasets.py            # writes fixtures/golden/datasets.json
    python3 scripts/golden/datasets.py --out PATH
"""

import argparse
import json
import math
import os
import sys

import numpy as np

GENERATOR = "scripts/golden/datasets.py"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "fixtures", "golden", "datasets.json")

CASES = []


def rnd(a, decimals):
    """Round to `decimals` and return plain Python floats (exact JSON round-trip)."""
    return [float(v) for v in np.round(np.asarray(a, dtype=float), decimals)]


def has_ties(x, y):
    z = list(x) + list(y)
    return len(set(z)) != len(z)


def add(name, x, y, description, expect_ties=None):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    assert len(x) >= 1 and len(y) >= 1, name
    assert all(math.isfinite(v) for v in x + y), name
    assert name not in {c["name"] for c in CASES}, f"duplicate case name {name}"
    ties = has_ties(x, y)
    if expect_ties is not None and ties != expect_ties:
        raise SystemExit(
            f"case {name}: expected ties={expect_ties} but got ties={ties}; change the seed"
        )
    CASES.append({"name": name, "description": description, "ties": ties, "x": x, "y": y})


def normal_pair(seed, n, m, shift=0.0, decimals=6):
    rng = np.random.default_rng(seed)
    y = rnd(rng.normal(0.0, 1.0, m), decimals)
    x = rnd(rng.normal(shift, 1.0, n), decimals)
    return x, y


def build():
    # ------------------------------------------------------------------
    # 1. Small samples without ties (R uses the exact path when n<50 && m<50).
    # ------------------------------------------------------------------
    seed = 1000
    for n, m in [(1, 1), (2, 2), (3, 3), (5, 5), (8, 8), (9, 9), (10, 10),
                 (20, 20), (30, 30), (49, 49)]:
        seed += 1
        x, y = normal_pair(seed, n, m, shift=0.3)
        add(f"noties_n{n}_m{m}", x, y,
            f"normal(0.3,1) vs normal(0,1), 6 decimals, seed {seed}; no ties",
            expect_ties=False)

    # Mixed / unequal sizes, around the R exact/asymptotic switch (n<50 && m<50)
    # and the scipy 'auto' switch (min(n,m) <= 8).
    seed = 2000
    for n, m in [(1, 10), (10, 1), (2, 9), (3, 20), (8, 30), (30, 8), (9, 49),
                 (49, 9), (49, 50), (50, 49), (50, 10), (10, 50), (50, 50)]:
        seed += 1
        x, y = normal_pair(seed, n, m, shift=-0.2)
        add(f"noties_n{n}_m{m}", x, y,
            f"normal(-0.2,1) vs normal(0,1), 6 decimals, seed {seed}; no ties",
            expect_ties=False)

    # ------------------------------------------------------------------
    # 2. Ties.
    # ------------------------------------------------------------------
    rng = np.random.default_rng(3001)
    y = rng.integers(0, 6, 12)
    x = rng.integers(1, 7, 10)
    add("ties_int_n10_m12", x, y,
        "integers: x ~ U{1..6}, y ~ U{0..5}, seed 3001 (exact-path sizes but ties -> normal approx)",
        expect_ties=True)

    rng = np.random.default_rng(3002)
    y = rng.poisson(4.0, 35)
    x = rng.poisson(5.0, 40)
    add("ties_poisson_n40_m35", x, y, "poisson(5) vs poisson(4), seed 3002", expect_ties=True)

    rng = np.random.default_rng(3003)
    y = rng.poisson(3.0, 400)
    x = rng.poisson(3.2, 500)
    add("ties_poisson_n500_m400", x, y, "poisson(3.2) vs poisson(3), seed 3003",
        expect_ties=True)

    rng = np.random.default_rng(3004)
    y = rng.poisson(0.05, 20)
    x = rng.poisson(0.15, 20)
    add("heavy_ties_errors_n20_m20", x, y,
        "error counts, mostly 0: poisson(0.15) vs poisson(0.05), seed 3004", expect_ties=True)

    rng = np.random.default_rng(3005)
    y = rng.poisson(0.02, 300)
    x = rng.poisson(0.06, 300)
    add("heavy_ties_errors_n300_m300", x, y,
        "error counts, mostly 0: poisson(0.06) vs poisson(0.02), seed 3005", expect_ties=True)

    rng = np.random.default_rng(3006)
    y = np.round(rng.normal(10.0, 1.0, 60), 1)
    x = np.round(rng.normal(10.2, 1.0, 45), 1)
    add("ties_rounded_1dp_n45_m60", x, y,
        "normal rounded to 1 decimal (moderate ties): N(10.2,1) vs N(10,1), seed 3006",
        expect_ties=True)

    # All identical / constant samples.
    add("all_identical_n10_m10", [7.0] * 10, [7.0] * 10,
        "x == y == 7 everywhere (zero variance; R errors on conf.int)", expect_ties=True)
    add("all_identical_n1_m1", [2.0], [2.0],
        "single tied pair x = y = 2", expect_ties=True)
    add("const_vs_const_n8_m6", [5.0] * 8, [3.0] * 6,
        "x constant 5, y constant 3 (complete separation with zero within-sample spread)",
        expect_ties=True)
    add("const_vs_const_n1_m1", [5.0], [3.0], "x = 5, y = 3 (1 x 1, no ties)",
        expect_ties=False)

    rng = np.random.default_rng(3007)
    y = rnd(rng.normal(1.0, 0.5, 15), 6)
    add("x_constant_n15_m15", [1.25] * 15, y,
        "x constant 1.25, y ~ N(1,0.5) 6 decimals, seed 3007", expect_ties=True)

    rng = np.random.default_rng(3008)
    x = rnd(rng.normal(0.0, 2.0, 30), 6)
    add("y_constant_n30_m25", x, [0.0] * 25,
        "x ~ N(0,2) 6 decimals, y constant 0, seed 3008", expect_ties=True)

    rng = np.random.default_rng(3009)
    y = rnd(rng.normal(100.0, 10.0, 100), 4)
    add("x_constant_n100_m100", [103.0] * 100, y,
        "x constant 103, y ~ N(100,10) 4 decimals, seed 3009", expect_ties=True)

    # ------------------------------------------------------------------
    # 3. Large samples.
    # ------------------------------------------------------------------
    x, y = normal_pair(4001, 1000, 1000, shift=0.1)
    add("large_normal_n1000_m1000", x, y, "N(0.1,1) vs N(0,1), 6 decimals, seed 4001")

    rng = np.random.default_rng(4002)
    y = rnd(rng.lognormal(math.log(100.0), 0.6, 3000), 4)
    x = rnd(rng.lognormal(math.log(100.0) + math.log(1.02), 0.6, 3000), 4)
    add("large_lognormal_n3000_m3000", x, y,
        "latency-like lognormal(log 100, 0.6), canary x1.02, 4 decimals, seed 4002")

    rng = np.random.default_rng(4003)
    y = rnd(rng.lognormal(math.log(50.0), 0.8, 500), 4)
    x = rnd(rng.lognormal(math.log(50.0) + math.log(1.1), 0.8, 2000), 4)
    add("large_lognormal_n2000_m500", x, y,
        "lognormal(log 50, 0.8), canary x1.10, 4 decimals, seed 4003")

    # ------------------------------------------------------------------
    # 4. Realistic latency data (ms, microsecond resolution -> 3 decimals).
    # ------------------------------------------------------------------
    for pct, seed in [(0, 5001), (5, 5002), (30, 5003)]:
        rng = np.random.default_rng(seed)
        y = rnd(rng.lognormal(math.log(120.0), 0.5, 500), 3)
        x = rnd(rng.lognormal(math.log(120.0), 0.5, 500) * (1 + pct / 100.0), 3)
        add(f"latency_shift{pct}pct_n500_m500", x, y,
            f"latency ms: lognormal(log 120, 0.5), canary multiplied by {1 + pct / 100.0}, "
            f"3 decimals, seed {seed}")

    rng = np.random.default_rng(5004)
    y = rnd(rng.lognormal(math.log(80.0), 0.4, 30), 3)
    x = rnd(rng.lognormal(math.log(80.0), 0.4, 30) * 1.05, 3)
    add("latency_shift5pct_n30_m30", x, y,
        "latency ms: lognormal(log 80, 0.4), canary x1.05, 3 decimals, seed 5004 (exact path)",
        expect_ties=False)

    # ------------------------------------------------------------------
    # 5. Constant shift, negative values, (non-)overlap.
    # ------------------------------------------------------------------
    rng = np.random.default_rng(6001)
    y = rnd(rng.normal(20.0, 3.0, 40), 4)
    x = rnd(np.asarray(y) + 2.5, 4)
    add("shift_const_same_values_n40_m40", x, y,
        "x = y + 2.5 element-wise (same values shifted; diffs x_i - y_i ~= 2.5 up to rounding), "
        "seed 6001", expect_ties=False)

    rng = np.random.default_rng(6002)
    y = rnd(rng.normal(20.0, 3.0, 200), 4)
    x = rnd(rng.normal(20.0, 3.0, 200) + 1.5, 4)
    add("shift_const_indep_n200_m200", x, y,
        "independent draws, canary shifted by +1.5, 4 decimals, seed 6002")

    rng = np.random.default_rng(6003)
    y = rnd(rng.normal(-50.0, 5.0, 30), 5)
    x = rnd(rng.normal(-52.0, 5.0, 25), 5)
    add("negative_n25_m30", x, y, "all negative: N(-52,5) vs N(-50,5), 5 decimals, seed 6003",
        expect_ties=False)

    rng = np.random.default_rng(6004)
    y = rnd(rng.normal(0.0, 3.0, 120), 5)
    x = rnd(rng.normal(-0.7, 3.0, 100), 5)
    add("mixed_sign_n100_m120", x, y, "mixed signs: N(-0.7,3) vs N(0,3), 5 decimals, seed 6004")

    rng = np.random.default_rng(6005)
    y = rnd(rng.uniform(0.0, 1.0, 20), 6)
    x = rnd(rng.uniform(0.9, 1.9, 20), 6)
    add("barely_overlap_n20_m20", x, y,
        "y ~ U(0,1), x ~ U(0.9,1.9): ~10% range overlap, seed 6005 (exact path)",
        expect_ties=False)

    rng = np.random.default_rng(6006)
    y = rnd(rng.uniform(0.0, 1.0, 80), 6)
    x = rnd(rng.uniform(0.95, 1.95, 70), 6)
    add("barely_overlap_n70_m80", x, y, "y ~ U(0,1), x ~ U(0.95,1.95), seed 6006",
        expect_ties=False)

    rng = np.random.default_rng(6007)
    y = rnd(rng.uniform(0.0, 1.0, 30), 6)
    x = rnd(rng.uniform(2.0, 3.0, 30), 6)
    add("no_overlap_above_n30_m30", x, y,
        "all x > all y: U(2,3) vs U(0,1), seed 6007 (exact path, extreme p)", expect_ties=False)

    rng = np.random.default_rng(6008)
    y = rnd(rng.uniform(10.0, 11.0, 45), 6)
    x = rnd(rng.uniform(0.0, 1.0, 40), 6)
    add("no_overlap_below_n40_m45", x, y,
        "all x < all y: U(0,1) vs U(10,11), seed 6008 (exact path, extreme p)",
        expect_ties=False)

    rng = np.random.default_rng(6009)
    y = rnd(rng.uniform(0.0, 1.0, 200), 6)
    x = rnd(rng.uniform(5.0, 6.0, 200), 6)
    add("no_overlap_above_n200_m200", x, y,
        "all x > all y: U(5,6) vs U(0,1), seed 6009 (normal approx, p ~ 1e-67)")

    rng = np.random.default_rng(6010)
    y = rnd(rng.uniform(0.0, 1.0, 1000), 6)
    x = rnd(rng.uniform(5.0, 6.0, 1000), 6)
    add("no_overlap_above_n1000_m1000", x, y,
        "all x > all y: U(5,6) vs U(0,1), seed 6010 (normal approx, p underflows to 0)")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    build()
    doc = {"generator": GENERATOR, "cases": CASES}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    # Verify the exact round-trip of every value.
    with open(args.out) as f:
        back = json.load(f)
    for a, b in zip(CASES, back["cases"]):
        assert a["x"] == b["x"] and a["y"] == b["y"], a["name"]
    print(f"wrote {len(CASES)} cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
