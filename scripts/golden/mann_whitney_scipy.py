#!/usr/bin/env python3
"""Golden Mann-Whitney U values from scipy.stats.mannwhitneyu.

Reads  fixtures/golden/datasets.json        (scripts/golden/datasets.py)
Writes fixtures/golden/mann_whitney_scipy.json

For every case and alternative in {two-sided, less, greater}:
  * method='asymptotic' (normal approximation, tie-corrected, continuity-corrected)
  * method='exact'      only when there are no ties and n*m <= 2500
  * method='auto'       with the method scipy picked recorded in `method_used`
All calls use use_continuity=True.  `u` is scipy's statistic, U for x
(= rank sum of x - n(n+1)/2, the same number as R's W).

If fixtures/golden/mann_whitney_r.json exists, the script also cross-checks
U == W and the normal-approximation p-values against R and prints a summary
(use --no-check to skip).

Usage (from the repository root):
    python3 scripts/golden/mann_whitney_scipy.py [--datasets PATH] [--out PATH]
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import scipy
import scipy.stats

GENERATOR = "scripts/golden/mann_whitney_scipy.py"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(REPO_ROOT, "fixtures", "golden")

ALTERNATIVES = ["two-sided", "less", "greater"]
EXACT_MAX_PAIRS = 2500
R_ALT = {"two-sided": "two.sided", "less": "less", "greater": "greater"}


def scipy_auto_choice(n, m, ties):
    """scipy's rule for method='auto' (scipy.stats._mannwhitneyu._mwu_choose_method).

    'exact' iff min(n, m) <= 8 and there are no ties in the pooled sample, else
    'asymptotic'.  Checked against scipy's private helper below when available.
    """
    if n > 8 and m > 8:
        return "asymptotic"
    if ties:
        return "asymptotic"
    return "exact"


def clean(v):
    v = float(v)
    return v if math.isfinite(v) else None  # NaN / inf -> null


def run(x, y, alternative, method):
    res = scipy.stats.mannwhitneyu(x, y, alternative=alternative, use_continuity=True,
                                   method=method)
    return float(res.statistic), float(res.pvalue)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=os.path.join(GOLDEN, "datasets.json"))
    ap.add_argument("--out", default=os.path.join(GOLDEN, "mann_whitney_scipy.json"))
    ap.add_argument("--r-json", default=os.path.join(GOLDEN, "mann_whitney_r.json"))
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()

    try:
        from scipy.stats._mannwhitneyu import _mwu_choose_method as private_choose
    except Exception:  # private helper moved/renamed: rely on our copy of the rule
        private_choose = None

    with open(args.datasets) as f:
        cases = json.load(f)["cases"]

    results = []
    for case in cases:
        x = np.asarray(case["x"], dtype=np.float64)
        y = np.asarray(case["y"], dtype=np.float64)
        n, m = len(x), len(y)
        pooled = np.concatenate([x, y])
        ties = bool(len(np.unique(pooled)) != len(pooled))
        auto_choice = scipy_auto_choice(n, m, ties)
        if private_choose is not None:
            assert private_choose(n, m, ties) == auto_choice, (case["name"], auto_choice)
        methods = ["asymptotic"]
        if not ties and n * m <= EXACT_MAX_PAIRS:
            methods.append("exact")
        methods.append("auto")
        for alt in ALTERNATIVES:
            for method in methods:
                u, p = run(x, y, alt, method)
                used = auto_choice if method == "auto" else method
                if method == "auto":
                    # confirm the recorded choice reproduces scipy's 'auto' result bit-for-bit
                    u2, p2 = run(x, y, alt, used)
                    assert (u2, p2) == (u, p) or (math.isnan(p) and math.isnan(p2)), \
                        (case["name"], alt, used, p, p2)
                results.append({
                    "name": case["name"], "n": n, "m": m, "ties": ties,
                    "alternative": alt, "method": method, "method_used": used,
                    "u": clean(u), "p_value": clean(p),
                })

    doc = {
        "generator": GENERATOR,
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "use_continuity": True,
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"wrote {len(results)} results for {len(cases)} cases to {args.out}")

    if not args.no_check and os.path.exists(args.r_json):
        return cross_check(results, args.r_json)
    return 0


def rel_err(a, b):
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def cross_check(results, r_json):
    with open(r_json) as f:
        rdoc = json.load(f)
    rres = {}
    for r in rdoc["results"]:
        if r["conf_level"] == 0.98 or r["alternative"] == "two.sided":
            # u and p do not depend on conf_level; keep one record per (name, alternative)
            rres[(r["name"], r["alternative"])] = r
    u_bad, p_checked, p_bad, ex_checked, ex_bad = [], 0, [], 0, []
    worst_p, worst_ex = (0.0, None), (0.0, None)
    for s in results:
        r = rres[(s["name"], R_ALT[s["alternative"]])]
        if s["method"] == "auto":
            continue
        if s["method"] == "asymptotic" and r["u"] != s["u"]:
            u_bad.append((s["name"], s["alternative"], r["u"], s["u"]))
        same_path = (s["method"] == "asymptotic") == (not r["exact_used"])
        if not same_path:
            continue
        if r["p_value"] is None or s["p_value"] is None:
            if r["p_value"] != s["p_value"]:
                (p_bad if s["method"] == "asymptotic" else ex_bad).append(
                    (s["name"], s["alternative"], r["p_value"], s["p_value"]))
            continue
        e = rel_err(r["p_value"], s["p_value"])
        if s["method"] == "asymptotic":
            p_checked += 1
            if e > worst_p[0]:
                worst_p = (e, (s["name"], s["alternative"], r["p_value"], s["p_value"]))
            if e > 1e-12:
                p_bad.append((s["name"], s["alternative"], r["p_value"], s["p_value"], e))
        else:
            ex_checked += 1
            if e > worst_ex[0]:
                worst_ex = (e, (s["name"], s["alternative"], r["p_value"], s["p_value"]))
            if e > 1e-12:
                ex_bad.append((s["name"], s["alternative"], r["p_value"], s["p_value"], e))
    print(f"cross-check vs {os.path.relpath(r_json, REPO_ROOT)}:")
    print(f"  U (scipy) == W (R): {len(u_bad)} disagreements")
    for b in u_bad:
        print("    ", b)
    print(f"  normal-approx p-values (R exact_used=false vs scipy asymptotic): {p_checked} compared, "
          f"{len(p_bad)} beyond 1e-12 relative (or null vs non-null); worst {worst_p[0]:.3g} {worst_p[1]}")
    for b in p_bad:
        print("    ", b)
    print(f"  exact p-values (R exact_used=true vs scipy exact): {ex_checked} compared, "
          f"{len(ex_bad)} beyond 1e-12 relative; worst {worst_ex[0]:.3g} {worst_ex[1]}")
    for b in ex_bad:
        print("    ", b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
